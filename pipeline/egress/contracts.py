"""The topics' contract for other services: an AsyncAPI 3.0 document from the code.

Every topic (input, output and internal) is a channel with its key, its Kafka
configuration (cleanup policy, retention) and its messages.  A message whose value is
a record points at that record's JSON Schema (``schemas/json/``, written by the same
``pulse schemas``); the dead-letter topic carries the rejected bytes with ``dlq.*``
headers (their schema is the dead-letter record's fields); the internal topics that
carry packed batches say so and point at their encoder instead of a schema: they are
the pipeline's own, not for consumers.  A test fails when the committed document is
stale.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pipeline.egress.catalogue import METRIC_FAMILIES
from pipeline.topics import (
    ALL_TOPICS,
    ANOMALY_ALERTS,
    CHAT_MESSAGES,
    DEAD_LETTER,
    FUNNEL_EVENTS,
    INCIDENT_COMMANDS,
    INPUT_TOPICS,
    INTERNAL_TOPICS,
    MEMBER_EVENTS,
    MEMBERSHIP_SNAPSHOTS,
    SENTIMENT_ALERTS,
    TRANSACTIONS,
    TopicSpec,
)
from schemas.alerts import Alert, IncidentCommand
from schemas.base import Record
from schemas.events import ChatMessage, FunnelEvent, MemberEvent, MembershipSnapshot, Transaction
from schemas.export import JSON_DIR
from schemas.outputs import (
    CommunityAnomaly,
    DeadLetter,
)

ASYNCAPI_PATH = JSON_DIR.parent / "asyncapi.yaml"

TOPIC_RECORDS: dict[str, type[Record]] = {
    CHAT_MESSAGES.name: ChatMessage, MEMBER_EVENTS.name: MemberEvent,
    MEMBERSHIP_SNAPSHOTS.name: MembershipSnapshot, TRANSACTIONS.name: Transaction,
    FUNNEL_EVENTS.name: FunnelEvent,
    **{family.topic.name: family.record for family in METRIC_FAMILIES},
    ANOMALY_ALERTS.name: CommunityAnomaly, SENTIMENT_ALERTS.name: Alert,
    INCIDENT_COMMANDS.name: IncidentCommand,
}
"""Topics whose every value is one JSON record of this model."""

PACKED: dict[str, str] = {
    "pipeline.negative-signals.v1": "pipeline/egress/encoders.py (spread_record)",
    "pipeline.sentiment-scores.v1": "schemas/scores.py (encode_chunks / decode_chunk)",
    "pipeline.journeys-by-member.v1": "pipeline/egress/journeys.py",
    "pipeline.sales-partials.v1": "pipeline/egress/packed.py",
    "pipeline.privacy-erasures.v1": "pipeline/compute/erasure.py (ErasureRequest)",
}
"""Internal topics with the pipeline's own encodings: where the format is defined."""


def _schema_file(model: type[Record]) -> str:
    return f"json/{model.record_name}.v{model.version}.json"


def _channel_id(spec: TopicSpec) -> str:
    return spec.name.replace(".", "_").replace("-", "_")


def _message(spec: TopicSpec) -> tuple[str, dict[str, Any]]:
    if spec.name in TOPIC_RECORDS:
        model = TOPIC_RECORDS[spec.name]
        return model.record_name, {
            "name": model.record_name, "contentType": "application/json",
            "summary": (model.__doc__ or "").strip().splitlines()[0],
            "payload": {"$ref": _schema_file(model)},
        }
    if spec is DEAD_LETTER:
        return "dead_letter", {
            "name": "dead_letter", "contentType": "application/octet-stream",
            "summary": "The rejected record: its original key and bytes (an empty value for "
                       "a tombstone), the reason in dlq.* headers.",
            "payload": {"type": "string", "format": "binary"},
            "headers": {"type": "object", "description": "dlq.schema_version, dlq.reason, "
                        "dlq.detail, dlq.source.topic, dlq.source.partition, "
                        "dlq.source.offset, dlq.rejected_at: the fields of "
                        + _schema_file(DeadLetter) + ", as UTF-8 text."},
        }
    return spec.name.split(".")[1].replace("-", "_"), {
        "name": spec.name, "contentType": "application/octet-stream",
        "summary": "Internal to the pipeline; format defined in " + PACKED[spec.name] + ".",
        "payload": {"type": "string", "format": "binary"},
    }


def asyncapi_document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    inputs = {spec.name for spec in INPUT_TOPICS}
    internal = {spec.name for spec in INTERNAL_TOPICS}
    for spec in ALL_TOPICS:
        channel = _channel_id(spec)
        name, message = _message(spec)
        messages[name] = message
        channels[channel] = {
            "address": spec.name,
            "description": f"{spec.doc} Key: {spec.key}."
                           + (" Internal to the pipeline." if spec.name in internal else ""),
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {"kafka": {"topicConfiguration": {
                "cleanup.policy": ["compact" if spec.compacted else "delete"],
                "retention.ms": spec.retention_ms}, "bindingVersion": "0.5.0"}},
        }
        operations[f"{'send' if spec.name in inputs else 'receive'}_{channel}"] = {
            "action": "send" if spec.name in inputs else "receive",
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": ("Your producers send these; the pipeline validates them at its edge."
                        if spec.name in inputs else "The pipeline publishes these."),
        }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "community-pulse topics", "version": "1",
                 "description": "Topics of the community metrics and sentiment alert "
                                "pipeline. Physical names add PULSE_TOPIC_PREFIX. Generated "
                                "by `pulse schemas` (pipeline/egress/contracts.py)."},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def asyncapi_text() -> str:
    return yaml.safe_dump(asyncapi_document(), allow_unicode=True, sort_keys=False, width=100)


def write_asyncapi(path: Path = ASYNCAPI_PATH) -> Path:
    path.write_text(asyncapi_text(), encoding="utf-8")
    return path
