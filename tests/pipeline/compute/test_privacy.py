"""Masking of personal data in text that leaves the pipeline."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.compute.privacy import apply_rules, mask_pii

PII_CORPUS = [
    ("我的电话13812345678，有事打给我", "13812345678"),
    ("手机 +86 139 8765 4321", "8765"),
    ("联系 186-1234-5678", "1234-5678"),
    ("身份证号110101199003071234", "19900307"),
    ("身份证 11010119900307123X 谢谢", "19900307123"),
    ("旧身份证 110101900307123", "900307"),
    ("卡号6222020200001234567", "62220202000012"),
    ("卡号 6222 0202 0000 1234 567", "0202 0000"),
    ("加我微信号 wxid_ab12cd34", "wxid_ab12cd34"),
    ("vx: abc_123456", "abc_123456"),
    ("微信：zhangsan_88 私聊", "zhangsan_88"),
    ("QQ号123456789", "123456789"),
    ("地址上海市浦东新区张江路123号5栋201室", "张江路123号"),
    ("寄到北京市朝阳区建国路88号", "建国路88号"),
    ("广东省深圳市南山区科技园路1号", "科技园路1号"),
    ("邮箱 zhang.san@example.com", "zhang.san"),
    ("座机021-12345678", "12345678"),
    ("加我wechat: zhangsan88", "zhangsan88"),  # keywords without digits to spare
    ("weixin：lisi_ok", "lisi_ok"),
    ("联系@客服 或者 mail:li.si@example.org", "li.si"),
]


@pytest.mark.parametrize(("text", "secret"), PII_CORPUS)
def test_personal_data_is_masked(text: str, secret: str) -> None:
    masked = mask_pii(text)
    assert secret not in masked
    assert "***" in masked or "****" in masked


def test_masks_keep_what_a_moderator_needs() -> None:
    assert mask_pii("电话13812345678") == "电话138****5678"
    assert mask_pii("寄到北京市朝阳区建国路88号") == "寄到北京市朝阳区***"
    changed = mask_pii("收货地址改成北京市海淀区学院路976号1栋2701室了")
    assert changed == "收货地址改成北京市海淀区***了"
    assert mask_pii("快递送到学院路976号吧") == "快递送到***吧"


@pytest.mark.parametrize(
    "text",
    ["今天天气真好，大家打卡", "订单号202611230001的退款呢", "这个路线不错", "价格 99 元",
     "我在3号楼", "收到", "+1", ""],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert mask_pii(text) == text


def test_no_long_digit_run_survives_in_a_mixed_message() -> None:
    text = "客服电话13912345678，身份证320102198001011234，卡6217000010001234567"
    assert not re.search(r"\d{7,}", mask_pii(text))


def test_every_personal_value_in_a_generated_stream_is_masked() -> None:
    import orjson

    from pipeline.devtools.generator import generate
    from pipeline.topics import CHAT_MESSAGES
    from tests.support import PII_STREAM

    stream = generate(PII_STREAM)
    texts = {}
    for record in stream.records:
        if record.topic == CHAT_MESSAGES.name and record.kind != "malformed":
            value = orjson.loads(record.value)
            texts[value["message_id"]] = value["text"]
    assert len(stream.truth.pii_messages) >= 10
    for pii in stream.truth.pii_messages:
        masked = mask_pii(texts[pii.message_id])
        for kind, value in zip(pii.kinds, pii.values, strict=True):
            assert value not in masked, f"{kind} survived: {masked}"


PIECES = ["@", "@小美", "a@b.cn", "wx", "WeChat", "weixin", "微信", "vx", "QQ", "扣扣", "：", ": ",
          "zhang_88", "哪里", "知道", "路", "街", "里", "村", "12", "1234", "88号", "5栋", "201室",
          "北京市", "朝阳区", "建国", "13812345678", "021-12345678", "110101199003071234",
          " ", "，", "好的", "收到"]


@given(st.lists(st.sampled_from(PIECES), max_size=12).map("".join))
def test_the_quick_check_never_skips_text_a_rule_would_change(text: str) -> None:
    assert mask_pii(text) == apply_rules(text)


def test_the_quick_check_passes_mentions_and_common_words_untouched() -> None:
    for text in ("@小美 你知道哪里能买到吗", "这里的道理大家都知道", "@all 今晚八点直播"):
        assert mask_pii(text) == text == apply_rules(text)
