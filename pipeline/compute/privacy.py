"""Desensitisation (脱敏) of personal data in text that leaves the pipeline.

Masks Chinese mobile and landline numbers, resident ID numbers, bank card
numbers, WeChat/QQ ids, e-mail addresses and street addresses.  Masking keeps
just enough to be useful to a moderator (a phone's first 3 and last 4 digits,
the city of an address) and nothing that identifies a person.  Patterns are
ordered: longer numeric identifiers first, so an ID number is never half
masked as a phone number.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_NOT_DIGIT_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_DIGIT_AFTER = r"(?![0-9A-Za-z])"

_ID_NUMBER = re.compile(
    _NOT_DIGIT_BEFORE + r"([1-9]\d{5})(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])\d{2}\d{3}[\dXx]"
    + _NOT_DIGIT_AFTER
    + r"|" + _NOT_DIGIT_BEFORE + r"[1-9]\d{5}\d{2}(?:0[1-9]|1[0-2])\d{5}" + _NOT_DIGIT_AFTER
)
_BANK_CARD = re.compile(
    _NOT_DIGIT_BEFORE + r"(?:[3-9]\d{3}[ -]?)(?:\d{4}[ -]?){2,3}\d{1,4}" + _NOT_DIGIT_AFTER
)
_MOBILE = re.compile(
    r"(?<![0-9])(?:\+?86[ -]?)?(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?![0-9])"
)
_LANDLINE = re.compile(r"(?<![0-9])0\d{2,3}-?\d{7,8}(?![0-9])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_WECHAT_ID = re.compile(
    r"(?i)(wxid_[a-z0-9]{4,30})"
    r"|((?:微信号?|v信|薇信|威信|vx|wx|weixin|wechat|qq号?|扣扣)\s*[:：是为]?\s*)"
    r"([A-Za-z0-9][-_A-Za-z0-9]{4,29})"
)
# A Chinese character that can be part of a place name: not a verb or particle that
# usually precedes an address ("寄到", "住在", "改成"), so the mask does not eat them.
_PLACE_CHAR = r"(?:(?![到送寄在住是的了改成给往从我你他她家址和与])[\u4e00-\u9fa5])"
_ADDRESS = re.compile(
    rf"((?:{_PLACE_CHAR}{{2,7}}(?:省|自治区))?(?:{_PLACE_CHAR}{{2,7}}(?:市|自治州|盟))?"
    rf"(?:{_PLACE_CHAR}{{1,8}}(?:区|县|旗|镇|乡))?)"
    rf"({_PLACE_CHAR}{{1,10}}(?:路|街|大道|道|巷|弄|胡同|村|里)"
    r"(?:\d{1,5}(?:号|弄|巷))+"
    r"(?:\d{1,4}(?:栋|幢|座|号楼|单元|楼|层|室|号))*)"
)

PLACEHOLDER = "***"


def _mask_mobile(match: re.Match[str]) -> str:
    return f"{match.group(1)}****{match.group(3)}"


def _mask_id(match: re.Match[str]) -> str:
    value = match.group(0)
    return f"{value[:3]}{'*' * (len(value) - 5)}{value[-2:]}"


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return f"****{digits[-4:]}"


def _mask_wechat(match: re.Match[str]) -> str:
    if match.group(1):
        return "wxid_" + PLACEHOLDER
    return f"{match.group(2)}{PLACEHOLDER}"


def _mask_address(match: re.Match[str]) -> str:
    return f"{match.group(1) or ''}{PLACEHOLDER}"


def _mask_email(match: re.Match[str]) -> str:
    domain = match.group(0).rsplit("@", 1)[1]
    return f"{PLACEHOLDER}@{domain}"


_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (_EMAIL, _mask_email),
    (_WECHAT_ID, _mask_wechat),
    (_ID_NUMBER, _mask_id),
    (_BANK_CARD, _mask_card),
    (_MOBILE, _mask_mobile),
    (_LANDLINE, lambda _m: "0" + PLACEHOLDER),
    (_ADDRESS, _mask_address),
)

_QUICK_CHECK = re.compile(
    r"\d{4}"  # every numeric identifier (ID, card, mobile, landline) has four digits in a row
    r"|[A-Za-z0-9._%+-]@[A-Za-z0-9.-]+\.[A-Za-z]"  # an e-mail address, not any "@mention"
    r"|wx|vx|weixin|wechat|微信|v信|薇信|威信|qq|扣扣"  # every WeChat/QQ id keyword
    r"|(?:路|街|道|巷|弄|胡同|村|里)\d{1,5}(?:号|弄|巷)",  # a street and its number
    re.IGNORECASE,
)
"""What each rule needs at the least: text without any of it goes through unchanged
without running the rules (most chat; an @mention, 哪里 or 知道 alone no longer count)."""


def mask_pii(text: str) -> str:
    """Return ``text`` with personal data replaced by masks."""
    if not text or not _QUICK_CHECK.search(text):
        return text
    return apply_rules(text)


def apply_rules(text: str) -> str:
    """Every rule on ``text``, without the quick check (tests compare the two)."""
    for pattern, replace in _RULES:
        text = pattern.sub(replace, text)
    return text
