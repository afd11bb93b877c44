"""Hot words (热词): the countable words of chat messages, and their top-k.

The streaming side calls :func:`message_terms` once per accepted message and
adds the result to a per-window :class:`collections.Counter`; hour windows are
summed into day windows with :func:`merge_counts` and reported with
:func:`top_terms`.  Everything here is a pure function of its input, so counts
are additive (the terms of a day are the terms of its hours) and deterministic
(a replayed message yields the same terms on every worker).

Privacy comes first: the text is masked with
:func:`pipeline.compute.privacy.mask_pii` *before* segmentation, then every
masked fragment is cut out whole (a phone's kept digits, the city kept in front
of a masked address, a WeChat id's label) and every token holding a digit or
``*`` is dropped, so no piece of a phone, ID number, WeChat id or address can
become a hot word.

Stop words: SnowNLP's shipped list (``snownlp/normal/stopwords.txt``, general
Chinese function words plus English ones) and :data:`CHAT_FILLER`, a short list
of chat acknowledgements and greetings it lacks.  Tokens made only of
interjection characters (哈哈哈哈, 嗯嗯, 哦哦) are dropped whatever their length.

Segmentation is jieba with its bundled dictionary (HMM on, jieba's default,
so unknown words such as 冒痘 are found), in a private
:class:`jieba.Tokenizer` so that words another module adds to jieba's global
tokenizer cannot change our counts.  Building the dictionary costs about half a
second, paid once, lazily, or up front with :func:`warm_up`.
"""

from __future__ import annotations

import heapq
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING

from pipeline.compute.privacy import mask_pii
from pipeline.compute.sentiment.snowmodel import load_stopwords

if TYPE_CHECKING:
    from functools import _CacheInfo

    import jieba

TOP_K = 20
"""Hot words reported per community and day."""

TERM_CAP = 5000
"""A generous size for :func:`trim`, for callers that must bound stored counters."""

CACHE_SIZE = 65536
"""Distinct masked texts remembered; chat repeats texts (收到, 接龙, copy-paste) a lot."""

CACHE_MAX_CHARS = 200
"""Longer texts rarely repeat; they bypass the cache so it cannot hold megabytes of them."""

CHAT_FILLER: frozenset[str] = frozenset({
    # Acknowledgements and mechanical replies.
    "收到", "谢谢", "感谢", "多谢", "好滴", "好哒", "好嘞", "好吧", "明白", "知道了",
    "没事", "没关系", "不客气", "辛苦", "辛苦了", "打卡", "签到",
    # Greetings and ways of addressing the group.
    "大家好", "你好", "您好", "早上好", "早安", "午安", "下午好", "晚上好", "晚安",
    "亲们", "姐妹们", "家人们", "群里", "群友",
    # Fillers and hedges.
    "一个", "真的", "感觉", "好像", "反正", "一点", "有没有", "请问", "问下",
    "这次", "刚刚", "刚才", "昨天", "明天",
})
"""Chat filler missing from SnowNLP's list (which already has 哈哈, 好的, 大家, 什么,
一下, 这个, 那个, 就是, 还是, 可以, 没有, 我们, 你们, 他们, 其实, 了解 ...).
General chat only: never a product, service or complaint word."""

_INTERJECTION_CHARS = frozenset("哈呵嘿嘻嗯哦噢喔啊呀哇嘛啦吧呢额呃唉哎嗷嘤噗咯哟嗨耶")
_LATIN_LAUGH = re.compile(r"h+|(?:ha)+h*|(?:he)+|(?:xi)+|(?:hia)+")

# A place-name prefix kept in front of a masked address ("北京市朝阳区***").  It is
# broader than privacy's (any Han character), so it may also cut a word before the
# place ("寄到"): losing that word is the price of never leaking the place.
_ADMIN = r"(?:[\u4e00-\u9fa5]{1,8}?(?:省|自治区|市|自治州|盟|区|县|旗|镇|乡)){0,3}"
_WECHAT_LABEL = r"(?:微信号?|v信|薇信|威信|vx|wx|weixin|wechat|qq号?|扣扣)\s*[:：是为]?\s*"
_STARS = re.compile(r"[0-9A-Za-z_]*\*+[0-9A-Za-z_*]*")
_MASK_PREFIX = re.compile(rf"(?:{_WECHAT_LABEL}|{_ADMIN})\Z", re.IGNORECASE)
_PREFIX_WINDOW = 40
"""Characters looked back from a mask for its prefix: bounds the regex's backtracking."""
_NOISE = re.compile(
    "|".join((
        # URLs, and bare domains (a masked e-mail keeps its domain).
        r"(?:https?://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+",
        r"(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?:/[A-Za-z0-9\-._~:/?#@!$&'()*+,;=%]*)?",
        r"wxid_\w*",
        # @mentions: a nickname runs to the next space (WeChat puts U+2005 there).
        r"@[^\s@,，。:：!！?？]{1,20}",
        # WeChat sticker codes: [捂脸], [强], [OK].
        r"\[[^\[\]\s]{1,8}\]",
    )),
    re.IGNORECASE,
)


def _cut_masks(masked: str) -> str:
    """Replace each masked fragment, with its label or place prefix, by a space."""
    pieces: list[str] = []
    done = 0
    for stars in _STARS.finditer(masked):
        start = stars.start()
        prefix = _MASK_PREFIX.search(masked, max(done, start - _PREFIX_WINDOW), start)
        if prefix:
            start = prefix.start()
        pieces += (masked[done:start], " ")
        done = stars.end()
    pieces.append(masked[done:])
    return "".join(pieces)


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """SnowNLP's stop list (read from the installed package, not imported) plus chat filler."""
    return frozenset(word for word in load_stopwords() if word) | CHAT_FILLER


@lru_cache(maxsize=1)
def _tokenizer() -> jieba.Tokenizer:
    """jieba with its bundled dictionary, built once and quietly."""
    import jieba  # deferred: its import alone costs ~0.1 s

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def warm_up() -> None:
    """Build the jieba dictionary and stop list now, not on the first message."""
    stop_words()
    _tokenizer()


def _keep(token: str, stop: frozenset[str]) -> str | None:
    """The token as counted (latin lower-cased), or ``None`` when it is not a word."""
    if len(token) < 2:
        return None
    if any(ch.isdigit() or ch == "*" for ch in token):
        return None  # may be the kept part of a masked number
    if not any(ch.isalpha() for ch in token) or token.isnumeric():
        return None  # punctuation, spaces, emoji, numerals (一百)
    if token.isascii():
        token = token.lower()
        if len(token) < 3 or _LATIN_LAUGH.fullmatch(token):
            return None
    if token in stop or _INTERJECTION_CHARS.issuperset(token):
        return None
    return token


def _terms(masked: str) -> tuple[str, ...]:
    stop = stop_words()
    text = _cut_masks(masked) if "*" in masked else masked
    kept = (_keep(token, stop) for token in _tokenizer().lcut(_NOISE.sub(" ", text)))
    return tuple(token for token in kept if token is not None)


_cached_terms = lru_cache(maxsize=CACHE_SIZE)(_terms)


def message_terms(text: str) -> list[str]:
    """Countable words of one message, in order, repeats kept (used twice, counted twice).

    Full-width characters are folded (NFKC) so ``ＯＫ`` and ``OK`` agree, personal
    data is masked, then mentions, URLs, stickers and masks are cut before jieba.
    """
    if not text:
        return []
    masked = mask_pii(unicodedata.normalize("NFKC", text))
    if len(masked) > CACHE_MAX_CHARS:
        return list(_terms(masked))
    return list(_cached_terms(masked))


def cache_info() -> _CacheInfo:
    """Hits, misses and size of the terms cache, for a hit-rate metric."""
    return _cached_terms.cache_info()


def clear_cache() -> None:
    """Forget cached message terms (tests, or after a dictionary change)."""
    _cached_terms.cache_clear()


def merge_counts(parts: Iterable[Mapping[str, int]]) -> Counter[str]:
    """Sum term counts (hour windows into a day): exact, associative and order-free."""
    total: Counter[str] = Counter()
    for part in parts:
        total.update(part)
    return total


def _rank(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def top_terms(counts: Mapping[str, int], limit: int = TOP_K) -> list[tuple[str, int]]:
    """The ``limit`` most frequent terms, highest count first, ties by term.

    Exact only on full counts: a term can be in no hour's top-k and still top the day.
    """
    if limit <= 0:
        return []
    positive = ((term, n) for term, n in counts.items() if n > 0)
    return heapq.nsmallest(limit, positive, key=_rank)


def trim(counts: Mapping[str, int], keep: int = TERM_CAP) -> Counter[str]:
    """Keep the ``keep`` most frequent terms, to bound a counter's size.

    Lossy: counts summed from trimmed windows miss the tails, so a day's top
    terms built from them are approximate.  Merge untrimmed hour counts when
    the top-k must be exact, and trim only what is stored for display.
    """
    return Counter(dict(top_terms(counts, keep)))
