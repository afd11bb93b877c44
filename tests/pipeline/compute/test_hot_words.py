"""Hot words: masking before segmentation, filtering, additive counts, deterministic top-k."""

from __future__ import annotations

from collections import Counter

import pytest

from pipeline.compute import hot_words
from pipeline.compute.hot_words import (
    CACHE_MAX_CHARS,
    CHAT_FILLER,
    merge_counts,
    message_terms,
    stop_words,
    top_terms,
    trim,
)
from pipeline.compute.sentiment.snowmodel import load_stopwords


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    hot_words.clear_cache()


def _pieces(secret: str) -> set[str]:
    """Every 2-character piece of a secret: no term may contain one."""
    return {secret[i : i + 2] for i in range(len(secret) - 1)}


def _leaks(terms: list[str], secret: str) -> list[str]:
    return [t for t in terms if any(p.lower() in t for p in _pieces(secret))]


PERSONAL = ("13812345678", "110101199003071234", "wxid_ab12cd34", "北京市朝阳区建国路88号")


def test_personal_data_is_masked_before_segmentation() -> None:
    text = (
        "面霜过敏了，电话13812345678，身份证110101199003071234，"
        "微信wxid_ab12cd34，寄到北京市朝阳区建国路88号，快递别放门口"
    )
    terms = message_terms(text)
    assert {"面霜", "过敏", "快递", "门口"} <= set(terms)  # the message itself still counts
    for secret in PERSONAL:
        assert _leaks(terms, secret) == [], secret
    assert not any(ch.isdigit() or ch == "*" for term in terms for ch in term)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("电话13812345678面霜", "13812345678"),
        ("手机 +86 139 8765 4321 面霜", "13987654321"),
        ("身份证 11010119900307123X 谢谢", "11010119900307123X"),
        ("卡号6222020200001234567", "6222020200001234567"),
        ("加我微信号 wxid_ab12cd34", "wxid_ab12cd34"),
        ("微信号：zhangsan_88 私聊", "zhangsan_88"),
        ("vx: abc_123456", "abc_123456"),
        ("QQ号123456789", "123456789"),
        ("邮箱 zhang.san@example.com谢谢", "zhang.san@example.com"),
        ("座机021-12345678", "021-12345678"),
        ("地址上海市浦东新区张江路123号5栋201室", "上海市浦东新区张江路123号5栋201室"),
        ("广东省深圳市南山区科技园路1号 发货太慢", "广东省深圳市南山区科技园路1号"),
        ("我住在北京市海淀区中关村大街8号", "北京市海淀区中关村大街8号"),
        ("ＷＸＩＤ＿ａｂ１２ｃｄ３４ 私聊", "wxidab12cd34"),
    ],
)
def test_no_part_of_personal_data_becomes_a_term(text: str, secret: str) -> None:
    assert _leaks(message_terms(text), secret) == []


def test_masks_leave_no_label_or_digit_behind() -> None:
    assert message_terms("微信号：zhangsan_88 私聊") == ["私聊"]  # not 信号 from 微信号
    assert message_terms("私聊加 zhangsan88") == ["私聊"]  # an id mask_pii does not know
    assert message_terms("iPhone15 到了") == []


def test_the_cache_is_keyed_by_masked_text() -> None:
    """Two phones with the same mask share an entry: raw numbers are never cache keys."""
    first = message_terms("电话13800005678，面霜过敏")
    second = message_terms("电话13811115678，面霜过敏")
    info = hot_words.cache_info()
    assert first == second
    assert (info.currsize, info.hits, info.misses) == (1, 1, 1)


def test_realistic_complaints_yield_their_content_words() -> None:
    assert message_terms("这次的面霜质地太油了，用了三天脸上冒痘") == [
        "面霜", "质地", "太油", "三天", "脸上", "冒痘",
    ]
    assert message_terms("快递太慢了，等了一个星期还没到，客服也不回消息") == [
        "快递", "太慢", "星期", "没到", "客服", "消息",
    ]


def test_stop_words_and_single_characters_are_removed() -> None:
    terms = message_terms("我们觉得这个面霜真的很好用，就是有点贵")
    assert "面霜" in terms
    assert all(len(term) >= 2 for term in terms)
    assert not set(terms) & stop_words()
    assert not {"我们", "觉得", "这个", "真的", "就是", "有点", "很", "贵"} & set(terms)


def test_stop_list_is_snownlp_plus_chat_filler() -> None:
    shipped = load_stopwords()
    assert {"我们", "什么", "好的", "哈哈", "the"} <= shipped <= stop_words()
    assert stop_words() >= CHAT_FILLER
    assert not CHAT_FILLER & shipped, "filler already in SnowNLP's list"
    assert not {"面霜", "快递", "客服", "过敏", "退款", "质量"} & stop_words()


@pytest.mark.parametrize(
    "text",
    [
        "", "   ", "收到", "收到收到", "+1", "1", "666", "打卡", "好的", "好的好的", "谢谢大家",
        "OK", "ok", "一百二十八", "嗯嗯", "哈哈哈哈哈哈", "hhhh", "hahaha", "[捂脸]",
        "[强][强][强]", "😂😂😂", "[捂脸]哈哈哈", "@小美 收到", "https://m.example-shop.cn/item/MFEqqV5w3a",
    ],
)
def test_mechanical_replies_and_stickers_yield_nothing(text: str) -> None:
    assert message_terms(text) == []


def test_mentions_urls_and_stickers_are_cut_before_segmentation() -> None:
    terms = message_terms(
        "@运营-Tina [捂脸]卸妆油下单后多久能到？链接 https://m.example-shop.cn/item/MFEqqV5w3a"
    )
    assert "卸妆油" in terms
    assert not {"运营", "tina", "捂脸", "example", "shop", "item", "mfeqqv5w3a"} & set(terms)


def test_latin_words_are_folded_and_short_ones_dropped() -> None:
    assert message_terms("iPhone IPHONE ＩＰＨＯＮＥ pk ok OK 的 go") == ["iphone"] * 3


def test_repeated_words_count_every_time_in_order() -> None:
    assert message_terms("面霜好用，面霜不油，客服也好") == ["面霜", "好用", "面霜", "不油", "客服"]


def test_results_are_deterministic_and_the_cache_cannot_be_corrupted() -> None:
    text = "这次的面霜质地太油了，用了三天脸上冒痘"
    first = message_terms(text)
    first.append("被改了")
    assert message_terms(text) == first[:-1]  # a cache hit returns a fresh list
    hot_words.clear_cache()
    assert message_terms(text) == first[:-1]


def test_long_texts_bypass_the_cache_with_the_same_terms() -> None:
    long = "面霜质地太油" + "，" * CACHE_MAX_CHARS
    assert message_terms(long) == message_terms(long) == ["面霜", "质地", "太油"]
    assert hot_words.cache_info().currsize == 0


def test_global_jieba_words_do_not_change_our_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    import jieba

    expected = message_terms("面霜质地太油了")
    hot_words.clear_cache()
    jieba.dt.check_initialized()
    monkeypatch.setattr(jieba.dt, "FREQ", dict(jieba.dt.FREQ))  # restored after the test
    monkeypatch.setattr(jieba.dt, "total", jieba.dt.total)
    jieba.add_word("质地太油了", freq=10**6)
    assert "质地太油了" in jieba.lcut("面霜质地太油了")
    assert message_terms("面霜质地太油了") == expected


MESSAGES = [
    "这次的面霜质地太油了，用了三天脸上冒痘",
    "面霜过敏了，客服不回消息",
    "收到",
    "快递太慢了，面霜还没到",
    "[捂脸]客服态度太差",
]


def _count(texts: list[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(message_terms(text))
    return counts


def test_counts_are_additive_across_messages_and_windows() -> None:
    day = _count(MESSAGES)
    hours = [_count(MESSAGES[:2]), _count(MESSAGES[2:3]), dict(_count(MESSAGES[3:]))]
    assert merge_counts(hours) == day
    assert merge_counts(reversed(hours)) == day
    assert merge_counts(iter(hours)) == day
    assert day["面霜"] == 3 and day["客服"] == 2
    assert merge_counts([]) == Counter()


def test_merge_counts_does_not_mutate_its_parts() -> None:
    part = Counter({"面霜": 2})
    merge_counts([part, {"面霜": 1}])
    assert part == Counter({"面霜": 2})


def test_top_terms_orders_by_count_then_term() -> None:
    counts = {"客服": 3, "包装": 3, "面霜": 5, "过敏": 1, "退款": 0, "快递": -2}
    assert top_terms(counts) == [("面霜", 5), ("包装", 3), ("客服", 3), ("过敏", 1)]
    assert top_terms(dict(reversed(counts.items()))) == top_terms(counts)
    assert top_terms(counts, limit=2) == [("面霜", 5), ("包装", 3)]
    assert top_terms(counts, limit=0) == []


def test_top_terms_defaults_to_twenty() -> None:
    counts = {f"词{chr(0x4E00 + i)}": i + 1 for i in range(30)}
    top = top_terms(counts)
    assert len(top) == 20
    assert top[0][1] == 30 and top[-1][1] == 11


def test_trim_keeps_the_largest_and_is_lossy_when_merged() -> None:
    assert trim({"面霜": 5, "客服": 3, "快递": 3, "过敏": 1}, keep=2) == Counter(
        {"面霜": 5, "客服": 3}
    )
    hours = [{"甲方": 3, "客服": 2, "快递": 2}, {"乙方": 3, "客服": 2, "快递": 2}]
    exact = top_terms(merge_counts(hours), limit=1)
    approximate = top_terms(merge_counts(trim(h, keep=1) for h in hours), limit=1)
    assert exact == [("客服", 4)]
    assert approximate != exact  # why exact top-k needs full counts
