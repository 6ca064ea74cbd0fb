import csv
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline import pii, text
from hotline.archive import publication_mask


def test_traditional_is_converted_to_simplified():
    assert text.normalise("這個小區的噪音問題長期沒有解決") == "这个小区的噪音问题长期没有解决"


def test_web_page_padding_html_and_excel_escapes_are_removed():
    raw = "\n\t\t\t\t<p>第一段&nbsp;内容</p>_x000D_\n\t\t\t\n\t\t第二段<br>第三段\n\t\t"
    assert text.clean(raw) == "第一段 内容\n第二段\n第三段"


def test_mobile_landline_id_card_plate_and_email_are_masked():
    raw = "电话13812345678，座机0731-84567890，身份证43010219900101123X，车牌湘A12345，邮箱zhang.san@qq.com"
    masked = pii.mask(raw)
    for secret in ("13812345678", "84567890", "43010219900101123X", "湘A12345", "zhang.san@qq.com"):
        assert secret not in masked
    assert "138****5678" in masked
    assert "0731-****7890" in masked
    assert "430102***********X" in masked
    assert "湘A***45" in masked
    assert "z***@qq.com" in masked


def test_mobile_with_country_code_and_spaces_is_masked():
    assert "8888" not in pii.mask("请回电 +86 138 8888 1234")


def test_the_phone_numbers_a_text_gives_for_a_call_back():
    raw = "身份证430102199001011234，座机0731-84567890，手机 +86 139 1111 2222，再说一次13911112222，订单2019123456"
    assert pii.phone_numbers(raw) == ["0731-84567890", "13911112222"]  # in order, once each, not the ID's digits
    assert pii.phone_numbers("水4.23一吨，20万保证金，7号楼") == [] and pii.phone_numbers("") == []
    # every number found is one the masking hides
    assert all(number.split("-")[-1] not in pii.mask(raw) for number in pii.phone_numbers(raw))


def test_ordinary_numbers_are_left_alone():
    raw = "2019年4月以来，水4.23一吨，20万保证金，7号楼"
    assert pii.mask(raw) == raw


def test_names_and_phone_fields():
    assert pii.mask_name("张三") == "张*"
    assert pii.mask_name("欧阳明") == "欧**"
    assert pii.mask_phone("13812345678") == "138****5678"
    assert pii.mask_phone("12345") == "*****"


def test_names_marked_by_a_title_or_a_cue_keep_only_the_family_name():
    assert pii.mask("我叫王小明，住在A3区") == "我叫王**，住在A3区"
    assert pii.mask("联系人：李四，电话13812345678") == "联系人：李*，电话138****5678"
    assert pii.mask("举报人: 赵建国") == "举报人: 赵**"
    assert pii.mask("感谢张建国同志和刘芳老师") == "感谢张**同志和刘*老师"
    assert pii.mask("欧阳明先生来电") == "欧阳*先生来电"
    assert pii.mask("请王局长督促") == "请王局长督促"  # no given name
    assert pii.mask("王先生反映，欧阳女士补充") == "王先生反映，欧阳女士补充"  # a family name alone


def test_words_that_only_look_like_names_are_left_alone():
    for words in ("班主任老师", "学校的老师", "该同志", "高中老师", "姓名及所属房号", "关于安排村长", "任何老师",
                  "林业局长", "我叫了物业", "联系人不接电话"):
        assert pii.mask(words) == words


def _boards_texts(shared_data):
    for name in ("messages_likes.csv", "messages_replies.csv", "messages_unlabelled.csv"):
        with open(shared_data / "tipdm2020c" / name, encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle):
                yield row["留言详情"]
                yield row.get("答复意见") or ""


def _only_given_names_starred(value: str, masked: str) -> None:
    assert len(masked) == len(value)
    for n, (before, after) in enumerate(zip(value, masked)):
        if before != after:  # a star for a character of a name, after its family name or a star
            assert after == "*" and "\u4e00" <= before <= "\u9fff" and n > 0, (value[n - 2:n + 3], masked)
            assert masked[n - 1] == "*" or masked[n - 1] in pii._SURNAMES or masked[n - 2:n] in pii._COMPOUND_SURNAMES


def test_masking_names_in_the_boards_messages_only_replaces_given_names(shared_data):
    changed = 0
    for value in _boards_texts(shared_data):
        masked = pii.mask_names(value)
        if masked != value:
            changed += 1
            _only_given_names_starred(value, masked)
    assert changed > 300  # the board's messages name people: the check above means something


@pytest.fixture(scope="module")
def tagger():
    from classifiers.segment import Segmenter
    from cli.settings import PROJECT_DIR

    return Segmenter(PROJECT_DIR / "config" / "userdict.txt")


def test_what_is_published_masks_names_that_nothing_marks(tagger):
    published = publication_mask(tagger)
    assert published("邻居黄扬振经常在楼下烧烤，电话13812345678") == "邻居黄**经常在楼下烧烤，电话138****5678"
    assert published("经办人黄扬振。") == "经办人黄**。"
    assert published("") == ""
    # places named after a family, words jieba's dictionary has, and a family name with a title stay
    for words in ("陶家河白溪镇的路灯坏了", "我是高新区的业主，谢谢", "王先生和欧阳女士反映", "许可证什么时候办好"):
        assert published(words) == words


def test_what_is_published_of_the_boards_messages_only_masks_given_names(shared_data, tagger):
    published = publication_mask(tagger)
    changed = 0
    for value in _boards_texts(shared_data):
        masked, before = published(value), pii.mask(value)
        if masked != before:
            changed += 1
            _only_given_names_starred(before, masked)
    assert changed > 500  # more than the names a title or a cue marks


# The number patterns written plainly, each look-behind in front and no pre-checks: hotline.pii writes them
# so the regex engine can skip ahead, and must find exactly the same matches.
_PLAIN = [
    (re.compile(r"(?<![0-9A-Za-z])([1-9]\d{5})(\d{8})(\d{3})([0-9Xx])(?![0-9A-Za-z])"),
     lambda m: m.group(1) + "********" + "***" + m.group(4)),
    (re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)"),
     lambda m: m.group(1) + "****" + m.group(3)),
    (re.compile(r"(?<!\d)(0\d{2,3})[- ]?(\d{3,4})(\d{4})(?!\d)"),
     lambda m: m.group(1) + "-" + "*" * len(m.group(2)) + m.group(3)),
    (pii._PLATE, lambda m: m.group(1) + m.group(2) + "*" * (len(m.group(3)) - 2) + m.group(3)[-2:]),
    (re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})"),
     lambda m: m.group(1) + "***@" + m.group(2)),
]


def _plain_mask(value: str) -> str:
    for pattern, replace in _PLAIN:
        value = pattern.sub(replace, value)
    return value


# Pieces of phone, ID-card, plate and e-mail numbers and what borders them, so that random texts come near
# every pattern's edges (look-behinds, separators, lengths).
_PIECES = ["1", "3", "9", "0", "138", "1234", "5678", "86", "+86", "0731", "430102", "19900101", "X", "x", "A",
           "湘", "京", "·", "-", " ", "@", "qq.com", ".", "号", "电话", "\n", "１"]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=20).map("".join))
def test_masking_finds_what_the_plain_patterns_find(value):
    assert pii.mask_numbers(value) == _plain_mask(value)


def test_masking_the_boards_messages_as_the_plain_patterns_do(shared_data):
    texts = []
    for name in ("messages_likes.csv", "messages_replies.csv", "messages_unlabelled.csv"):
        with open(shared_data / "tipdm2020c" / name, encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle):
                texts += [row["留言主题"], row["留言详情"], row.get("答复意见") or ""]
    changed = [value for value in texts if _plain_mask(value) != value]
    assert len(changed) > 100  # the data has personal data to mask, so the comparison means something
    assert [pii.mask_numbers(value) for value in texts] == [_plain_mask(value) for value in texts]


def _every_step_of_clean(value: str) -> str:
    """text.clean without its shortcut for letters and digits: every step on every text."""
    import html

    value = text._EXCEL_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
    value = text._TAG.sub("", text._BLOCK_TAG.sub("\n", value))
    value = text._CONTROL.sub("", html.unescape(value))
    return text._BLANK_LINES.sub("\n", text._SPACES.sub(" ", value)).strip()


_TEXT_PIECES = ["單位", "社保", "A9", "123", "ｑ", "²", "_x0041_", "_", "<br>", "<p>", "&amp;", "&", " ", "\u3000",
                "\t", "\n", "\x07", "abc", "岳麓区"]


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(_TEXT_PIECES), max_size=8).map("".join))
def test_clean_gives_what_every_step_gives(value):
    """clean returns letters and digits (of any script) as they are, without running its steps on them."""
    assert text.clean(value) == _every_step_of_clean(value)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=30))
def test_ascii_is_left_as_opencc_leaves_it(value):
    assert text.to_simplified(value) == text._t2s().convert(value) == value
