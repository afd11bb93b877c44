"""Synthetic personal data (手机号, 身份证号, 微信号, 银行卡号, 地址) inside chat texts.

Values are well-formed (valid ID checksum, Luhn-valid card numbers, real
mobile prefixes) so that a masking rule tested against them is tested for
real.  None contains "315" (a crisis keyword when it stands alone), so PII
never makes an ordinary message look like a crisis to a naive matcher.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.devtools.generator.themes import Theme
from pipeline.devtools.generator.vocabulary import fill

MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151",
                   "152", "155", "156", "157", "158", "159", "166", "177", "180", "181", "182",
                   "185", "186", "187", "188", "189", "198", "199")
ID_REGIONS = ("310115", "310104", "110105", "110108", "440106", "440305", "330106", "510107",
              "320102", "420106", "610113", "430104")
CARD_BINS = ("622202", "622848", "621700", "622588", "621226", "622262", "621483")
ADDRESSES = (
    ("上海市", "浦东新区", ("张江路", "世纪大道", "碧波路", "花木路")),
    ("上海市", "徐汇区", ("漕溪北路", "虹桥路", "田林路")),
    ("北京市", "朝阳区", ("建国路", "朝阳北路", "望京街")),
    ("北京市", "海淀区", ("中关村大街", "学院路", "知春路")),
    ("广州市", "天河区", ("天河路", "体育西路", "黄埔大道")),
    ("深圳市", "南山区", ("科技园南路", "深南大道", "南海大道")),
    ("杭州市", "西湖区", ("文三路", "古墩路", "天目山路")),
    ("成都市", "武侯区", ("人民南路", "科华北路", "武侯大道")),
    ("南京市", "鼓楼区", ("中山路", "汉中路", "湖南路")),
    ("武汉市", "洪山区", ("珞喻路", "光谷大道", "雄楚大道")),
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_WX_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


def _without_315(make: Callable[[random.Random], str]) -> Callable[[random.Random], str]:
    @functools.wraps(make)
    def wrapped(rng: random.Random) -> str:
        while True:
            value = make(rng)
            if "315" not in value:
                return value

    return wrapped


@_without_315
def mobile(rng: random.Random) -> str:
    """A Chinese mobile number, sometimes written with separators or +86."""
    digits = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
    style = rng.random()
    if style < 0.75:
        return digits
    if style < 0.85:
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if style < 0.95:
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    return f"+86 {digits}"


@_without_315
def id_number(rng: random.Random) -> str:
    """An 18-character resident ID number with a valid ISO 7064 check character."""
    body = (rng.choice(ID_REGIONS) + f"{rng.randint(1965, 2004)}{rng.randint(1, 12):02d}"
            f"{rng.randint(1, 28):02d}{rng.randrange(1000):03d}")
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + _ID_CHECK[total % 11]


@_without_315
def bank_card(rng: random.Random) -> str:
    """A Luhn-valid UnionPay card number (16 or 19 digits), sometimes grouped by four."""
    length = rng.choice((16, 19))
    body = rng.choice(CARD_BINS) + "".join(str(rng.randrange(10)) for _ in range(length - 7))
    total = 0
    for i, digit in enumerate(reversed(body)):
        value = int(digit) * (2 if i % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    number = body + str((10 - total % 10) % 10)
    if rng.random() < 0.3:
        return " ".join(number[i:i + 4] for i in range(0, len(number), 4))
    return number


@_without_315
def wechat_id(rng: random.Random) -> str:
    """A WeChat id: a system ``wxid_...`` or a self-chosen one like ``abc_123``."""
    if rng.random() < 0.4:
        return "wxid_" + "".join(rng.choice(_WX_CHARS) for _ in range(rng.randint(8, 14)))
    head = rng.choice(("lily", "coco", "mama", "tom", "xiao", "happy", "sun", "a", "zhang", "li"))
    sep = rng.choice(("", "_", "-", ""))
    return head + sep + "".join(rng.choice(_WX_CHARS) for _ in range(rng.randint(5, 9)))


@_without_315
def address(rng: random.Random) -> str:
    """A street address down to the house number, sometimes with building and room."""
    city, district, roads = rng.choice(ADDRESSES)
    text = f"{city}{district}{rng.choice(roads)}{rng.randint(1, 999)}号"
    if rng.random() < 0.35:
        text += f"{rng.randint(1, 20)}栋{rng.randint(1, 32)}{rng.randint(1, 4):02d}室"
    return text


@dataclass(frozen=True, slots=True)
class PiiText:
    text: str
    kinds: tuple[str, ...]
    values: tuple[str, ...]


_MEMBER_TEMPLATES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("我的手机号是{mobile}，有货了麻烦通知我", ("mobile",)),
    ("下单留的电话是{mobile}，麻烦帮忙查下物流", ("mobile",)),
    ("拼单的打我电话{mobile}", ("mobile",)),
    ("实名认证填的身份证号{id_number}，提示格式不对是怎么回事", ("id_number",)),
    ("帮我妈报名，身份证{id_number}，这样填可以吗", ("id_number",)),
    ("加我微信号 {wechat_id} 一起拼单", ("wechat_id",)),
    ("我的vx: {wechat_id}，有问题可以私聊", ("wechat_id",)),
    ("微信：{wechat_id}，加的时候备注群名", ("wechat_id",)),
    ("工资卡{bank_card}可以绑定吗", ("bank_card",)),
    ("返现打到这张卡就行：{bank_card}", ("bank_card",)),
    ("收货地址改成{address}了", ("address",)),
    ("我在{address}附近，有一起拼的吗", ("address",)),
    ("寄到{address}，谢谢", ("address",)),
    ("收件人张女士，电话{mobile}，地址{address}", ("mobile", "address")),
)
_SPAM_TEMPLATES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("【兼职】在家动动手指日赚300+，加微信 {wechat_id} 详聊", ("wechat_id",)),
    ("低价出大牌{product}，有需要的加V信：{wechat_id}", ("wechat_id",)),
    ("免费领取{product}试用装，联系电话 {mobile}", ("mobile",)),
    ("专业代运营，有意向加我vx: {wechat_id}，电话{mobile}", ("wechat_id", "mobile")),
)
_MAKERS = {"mobile": mobile, "id_number": id_number, "wechat_id": wechat_id,
           "bank_card": bank_card, "address": address}


def _render(rng: random.Random, theme: Theme, template: str, kinds: tuple[str, ...]) -> PiiText:
    values = tuple(_MAKERS[kind](rng) for kind in kinds)
    text = fill(rng, theme, template, **dict(zip(kinds, values, strict=True)))
    return PiiText(text, kinds, values)


def member_pii_text(rng: random.Random, theme: Theme) -> PiiText:
    """A member sharing their own data in the group (it happens, and must be masked)."""
    return _render(rng, theme, *rng.choice(_MEMBER_TEMPLATES))


def spam_text(rng: random.Random, theme: Theme) -> PiiText:
    """A spammer's ad (广告), the reason such accounts are removed by staff."""
    return _render(rng, theme, *rng.choice(_SPAM_TEMPLATES))
