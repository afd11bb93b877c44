"""Small bridges to Faust internals that batching needs.

Faust routes a table write to the changelog partition of the *current event*
(so state stays co-partitioned with its source).  When we process events in
batches (``stream.take_events``) there is no current event during our table
writes; :func:`acting_for` sets it to an event of the partition whose state we
are writing, exactly as Faust does itself while iterating a stream.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from faust.streams import _current_event
from faust.types import EventT


@contextmanager
def acting_for(event: EventT) -> Iterator[None]:
    """Make ``event`` the current event for table writes inside the block."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)
