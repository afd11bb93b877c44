"""Kafka connection options for every client we use, from one set of settings.

Four client libraries talk to the broker: Faust (credentials objects),
aiokafka (an SSL context), kafka-python (admin, tools) and librdkafka
(the bench load generator).  Each spells security differently; this module
is the only place that translates ``PULSE_KAFKA_*`` into their terms.
"""

from __future__ import annotations

import ssl
from typing import Any

import faust
from aiokafka.helpers import create_ssl_context

from pipeline.app.settings import Settings


def _uses_tls(settings: Settings) -> bool:
    return settings.kafka_security_protocol in ("SSL", "SASL_SSL")


def _uses_sasl(settings: Settings) -> bool:
    return settings.kafka_security_protocol.startswith("SASL")


def _password(settings: Settings) -> str | None:
    secret = settings.kafka_sasl_password
    return secret.get_secret_value() if secret is not None else None


def kafka_python_options(settings: Settings) -> dict[str, Any]:
    """Security options in kafka-python's spelling (admin client, tools)."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if settings.kafka_sasl_mechanism:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password is not None:
            options["sasl_plain_password"] = _password(settings)
    if settings.kafka_ssl_cafile:
        options["ssl_cafile"] = str(settings.kafka_ssl_cafile)
    return options


def aiokafka_options(settings: Settings) -> dict[str, Any]:
    """The same options for aiokafka, which wants an SSL context instead of a CA file."""
    options = kafka_python_options(settings)
    cafile = options.pop("ssl_cafile", None)
    if _uses_tls(settings):
        options["ssl_context"] = create_ssl_context(cafile=cafile)
    return options


def faust_credentials(settings: Settings) -> faust.auth.Credentials | None:
    """Faust's credentials object for the worker's own consumer and producer."""
    context = None
    if _uses_tls(settings):
        cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        context = ssl.create_default_context(cafile=cafile)
    if _uses_sasl(settings):
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username or "",
            password=_password(settings) or "",
            mechanism=settings.kafka_sasl_mechanism or "PLAIN",
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def librdkafka_config(settings: Settings) -> dict[str, Any]:
    """Bootstrap servers and security in librdkafka's terms (confluent-kafka)."""
    config: dict[str, Any] = {
        "bootstrap.servers": ",".join(settings.bootstrap_servers),
        "security.protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_sasl_mechanism:
        config["sasl.mechanism"] = settings.kafka_sasl_mechanism
        config["sasl.username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password is not None:
            config["sasl.password"] = _password(settings)
    if settings.kafka_ssl_cafile is not None:
        config["ssl.ca.location"] = str(settings.kafka_ssl_cafile)
    return config
