"""Records of our own internal topics (commands, alerts, score chunks), read defensively.

They were written by this pipeline, so a record that does not parse is a bug
or a foreign producer, not user input: it is logged with its position and
skipped (never dead-lettered, never fatal), so one bad record cannot stop
the incident owner or the stores.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from faust.types import EventT
from pydantic import ValidationError

log = logging.getLogger(__name__)

T = TypeVar("T")


def readable(event: EventT, parse: Callable[[bytes], list[T]]) -> list[T]:
    """``parse`` of the event's value; an unreadable record gives ``[]`` and a log line."""
    try:
        return parse(event.message.value or b"")
    except (ValidationError, ValueError, KeyError, TypeError):
        message = event.message
        log.error("unreadable internal record at %s/%d@%d", message.topic, message.partition,
                  message.offset)
        return []


def one(model_parse: Callable[[bytes], T]) -> Callable[[bytes], list[T]]:
    """A ``parse`` for topics with one record per message (``Model.model_validate_json``)."""
    return lambda value: [model_parse(value)]
