from hotline import pii, text


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


def test_ordinary_numbers_are_left_alone():
    raw = "2019年4月以来，水4.23一吨，20万保证金，7号楼"
    assert pii.mask(raw) == raw


def test_names_and_phone_fields():
    assert pii.mask_name("张三") == "张*"
    assert pii.mask_name("欧阳明") == "欧**"
    assert pii.mask_phone("13812345678") == "138****5678"
    assert pii.mask_phone("12345") == "*****"
