"""What counts as a real interaction: one rule set for metrics and escalation.

docs/product.md, "Real interaction rate": an interaction is a member's
message (any type but ``system``); it is *real* unless it is

- **mechanical**: sticker-only, or after removing stickers, punctuation and
  whitespace one of :data:`MECHANICAL_TEXTS` (收到, +1, 好的, 打卡 ...) or only
  ``+`` and ``1``;
- **a copy**: the same normalised text as an earlier message of the same
  community-hour (any sender) posted at most ``copy_window_ms`` before it
  (接龙 chains, pasted slogans).  "Earlier" orders by (event time, message
  id), so the decision does not depend on arrival order.

Staff and bot messages are never interactions.  Escalation uses
:func:`is_mechanical` alone: repeating someone's complaint is agreeing with
it, so a copied complaint still counts towards a negative cluster.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

MECHANICAL_TEXTS = frozenset({
    "收到", "收到谢谢", "好的", "好的谢谢", "好滴", "好嘞", "嗯", "嗯嗯", "ok", "okk", "1", "+1",
    "666", "打卡", "已打卡", "今日打卡", "打卡+1", "谢谢", "谢谢老板", "谢谢红包", "恭喜发财",
    "手慢了", "赞", "点赞",
})
"""Replies that carry no opinion, after normalisation."""

COPY_WINDOW_MS = 10 * 60_000
"""Default: a repeat within ten minutes of the first post is a copy."""

STICKER = re.compile(r"\[[^\[\]]{1,8}\]")
MENTION = re.compile(r"(?<![A-Za-z0-9._%+-])@[^\s\u2005@]{1,32}")
URL = re.compile(r"https?://\S+", re.IGNORECASE)
NOT_WORD = re.compile(r"[^\w+]|_")
MIN_COPY_CHARS = 2
"""Normalised texts shorter than this are mechanical or too generic to call copies."""


def is_mechanical(text: str) -> bool:
    """Sticker-only, 收到 / +1 / 好的 / 打卡 and the like."""
    core = NOT_WORD.sub("", STICKER.sub("", text)).lower()
    return not core or core in MECHANICAL_TEXTS or set(core) <= {"+", "1"}


def copy_key(text: str) -> str:
    """Short key of a text up to @names, links, stickers, punctuation and width; '' if too
    short to call a copy.  Kept in window state, so hashed to 12 hex characters."""
    core = STICKER.sub("", URL.sub("", MENTION.sub("", text)))
    core = NOT_WORD.sub("", unicodedata.normalize("NFKC", core)).lower()
    if len(core) < MIN_COPY_CHARS:
        return ""
    return hashlib.blake2b(core.encode(), digest_size=6).hexdigest()
