"""Member text where people read it: no invisible characters that can deceive.

Control characters (terminal escapes, NUL, backspace) and format characters (bidi
overrides such as U+202E, zero-width spaces and joiners) are dropped from excerpts
shown to moderators: an override can make "退款" read as something else, an escape
sequence can restyle a log line.  Raw storage keeps the text verbatim.
"""

from __future__ import annotations

import unicodedata

_HIDDEN = frozenset(("Cc", "Cf"))


def visible(text: str) -> str:
    """``text`` without control and format characters (whitespace becomes a space)."""
    if text.isprintable():
        return text
    return "".join(" " if ch.isspace() else ch for ch in text
                   if ch.isspace() or unicodedata.category(ch) not in _HIDDEN)
