"""Masking of personal data: ID-card numbers, mobile and landline numbers, licence plates, e-mail, and
people's names in free text where something marks them as names. For what the centre publishes, also the
names nothing marks, as a part-of-speech tagger finds them (`mask_tagged_names`)."""

from __future__ import annotations

import re
from typing import Callable, Iterable

# Order matters: an 18-digit ID number contains 11 digits that look like a mobile number.
# Speed: a pattern that starts with a character class or a literal lets the regex engine jump to the places
# where it can match instead of trying every position of the text. So a look-behind on the character before
# a match is written after the match's first character, over two characters; the mobile pattern, whose
# optional +86 defeats that, runs only on texts where its digits are found, and the e-mail pattern only on
# texts with an @. Same matches, several times faster on the board's messages (tests/test_text_and_pii.py
# checks them against the plain patterns).
_ID_CARD = re.compile(r"([1-9](?<![0-9A-Za-z][1-9])\d{5})(\d{8})(\d{3})([0-9Xx])(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")
_MOBILE_DIGITS = re.compile(r"1[3-9]\d[- ]?\d{4}[- ]?\d{4}")  # inside every _MOBILE match; found fast
_LANDLINE = re.compile(r"(0(?<!\d0)\d{2,3})[- ]?(\d{3,4})(\d{4})(?!\d)")
_PLATE = re.compile(
    r"([京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼])\s?([A-HJ-NP-Z])[·.]?([A-HJ-NP-Z0-9]{5,6})(?![A-Za-z0-9])"
)
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")

# Names. A name is only recognised where something marks it: a title after it (王小明先生, 李华少同志) or a
# cue before it (我叫, 联系人：). It must start with a common family name and its given name is one or two
# characters that are not function words; the family name stays, as in `mask_name` (王小明先生 -> 王**先生).
# A family name alone (王先生, 欧阳女士) is not a person's name and is left as it is.
_COMPOUND_SURNAMES = "欧阳|司马|诸葛|上官|东方|皇甫|令狐|慕容|司徒|尉迟|长孙|夏侯|公孙|宇文|端木|南宫"
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖萧田董袁潘蒋蔡余杜叶程苏魏吕丁"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫"
    "孔汤欧易伍文颜殷喻聂左蒲粟柳阳凌卿胥甘邬舒符简滕饶谌湛季康翁祝鲁葛乔齐"
)  # not 任 向 关 安 方 于, more often words (任何, 向, 关于, 安排, 方便, 于) than family names in these texts
_NOT_IN_NAMES = ("的了和与及等是在为对把被向给跟个们这那其该此各每某位名之于也都就还又再很请已将所有无"
                 "姓副谢二业局站镇村区县市项目领导负责课排便分校监号楼路街院所科室部厅处组队办委会长场总学右合事州中")
_GIVEN = f"[\u4e00-\u9fff](?<![{_NOT_IN_NAMES}])"  # a character of a given name
_TITLES = ("先生", "女士", "小姐", "同志", "老师", "师傅", "阿姨", "医生", "律师", "经理", "书记", "校长", "局长",
           "科长", "所长", "队长", "站长", "院长", "村长", "镇长")
_CUES = ("我叫", "我名叫", "我的名字叫", "本人叫")
_LABELS = ("姓名", "联系人", "投诉人", "举报人", "反映人", "来电人")  # with a colon after: 姓名：, not 姓名及房号
_SURNAME = f"(?:{_COMPOUND_SURNAMES}|[{_SURNAMES}])"
_TITLED_NAME = re.compile(f"({_SURNAME})((?:{_GIVEN}){{1,2}})(?={'|'.join(_TITLES)})")
_TITLE_HINT = re.compile("|".join(_TITLES))  # a regex of literals finds them faster than `in` one by one
_CUE_HINT = re.compile("|".join(_CUES + _LABELS))
_CUED_NAME = re.compile(f"((?:{'|'.join(_CUES)}|(?:{'|'.join(_LABELS)})[:：])\\s?{_SURNAME})((?:{_GIVEN}){{1,2}})")

KINDS = ("id_card", "mobile", "landline", "plate", "email", "name")

# Names that nothing marks (邻居黄扬振经常……): a word jieba's tagger calls a person's name (nr) is masked when it
# is a family name and a one- or two-character given name as above, and jieba's dictionary lacks it (its HMM
# found it). The dictionary's nr words are mostly other words here (谢谢, 阳光, 高新区, 许可证) or famous names.
# A place named after a family (陶家河, 白溪镇, 蒋村) is no person: such endings are left alone.
_UNMARKED_NAME = re.compile(f"({_SURNAME})((?:{_GIVEN}){{1,2}})")
_PLACE_ENDINGS = frozenset("镇村乡区县市街路巷河溪湖江港湾洲岛山岭峰坡冲坳垭洞桥塘坝坪垸岗园苑府城庄寨屯堡铺店厂矿人")


def mask(text: str) -> str:
    """Return text with every recognised piece of personal data masked."""
    return mask_names(mask_numbers(text))


def mask_names(text: str) -> str:
    """Mask the given names of people named in free text (see the comment above)."""
    if not text:
        return text
    if _TITLE_HINT.search(text):
        text = _TITLED_NAME.sub(_keep_family_name, text)
    if _CUE_HINT.search(text):
        text = _CUED_NAME.sub(_keep_family_name, text)
    return text


def mask_tagged_names(words: Iterable[tuple[str, str]], in_dictionary: Callable[[str], bool]) -> str:
    """The text of a tagger's (word, part of speech) pairs, with the given names of the people it names masked
    where the rule above holds (the family name stays: 黄扬振 -> 黄**)."""
    out = []
    for word, tag in words:
        if tag == "nr" and 2 <= len(word) <= 4 and word[-1] not in _PLACE_ENDINGS and not in_dictionary(word):
            match = _UNMARKED_NAME.fullmatch(word)
            if match:
                word = _keep_family_name(match)
        out.append(word)
    return "".join(out)


def _keep_family_name(match: re.Match) -> str:
    family, given = match.group(1), match.group(2)
    if family + given in _COMPOUND_SURNAMES.split("|"):  # 欧阳先生: a family name alone
        return match.group(0)
    return family + "*" * len(given)


def mask_numbers(text: str) -> str:
    """Mask ID-card, phone and plate numbers and e-mail addresses."""
    if not text:
        return text
    text = _ID_CARD.sub(lambda m: m.group(1) + "********" + "***" + m.group(4), text)
    if _MOBILE_DIGITS.search(text):
        text = _MOBILE.sub(lambda m: m.group(1) + "****" + m.group(3), text)
    text = _LANDLINE.sub(lambda m: m.group(1) + "-" + "*" * len(m.group(2)) + m.group(3), text)
    text = _PLATE.sub(lambda m: m.group(1) + m.group(2) + "*" * (len(m.group(3)) - 2) + m.group(3)[-2:], text)
    if "@" in text:
        text = _EMAIL.sub(lambda m: m.group(1) + "***@" + m.group(2), text)
    return text


def phone_numbers(text: str) -> list[str]:
    """The mobile and landline numbers written in a text, as digits (a landline as area code-number), in order
    of appearance, each once; the digits inside an ID-card number are none. For whoever calls the citizen back:
    a web message often gives its number in the text only."""
    if not text:
        return []
    text = _ID_CARD.sub(" ", text)
    found = []
    if _MOBILE_DIGITS.search(text):
        found += [(m.start(), m.group(1) + m.group(2) + m.group(3)) for m in _MOBILE.finditer(text)]
        text = _MOBILE.sub(lambda m: " " * len(m.group(0)), text)  # the same places, for the order
    found += [(m.start(), f"{m.group(1)}-{m.group(2)}{m.group(3)}") for m in _LANDLINE.finditer(text)]
    return list(dict.fromkeys(number for _, number in sorted(found)))


def mask_name(name: str | None) -> str | None:
    """Keep the family name only: 张三 -> 张*, 欧阳明 -> 欧**."""
    if not name:
        return name
    name = name.strip()
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def mask_phone(phone: str | None) -> str | None:
    """Mask a phone number field; a value that is not a phone number is masked whole."""
    if not phone:
        return phone
    masked = mask(phone)
    if masked != phone:
        return masked
    digits = re.sub(r"\D", "", phone)
    return "*" * len(digits) if digits else "***"
