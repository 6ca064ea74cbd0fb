import json
from datetime import datetime

import pytest

from hotline.records import RecordError, decode, to_ticket
from hotline.timestamps import SHANGHAI

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=SHANGHAI)


def ticket(channel="hotline", **fields):
    record = {"id": "H1", "title": "小区噪音", "text": "楼下工地夜间施工", **fields}
    return to_ticket(channel, record, NOW)


def test_a_hotline_form_becomes_a_masked_simplified_ticket():
    t = ticket(text="樓下工地夜間施工，我的電話13812345678", caller="张三", phone="13812345678",
               district="A1區", type="投訴", urgency="紧急", time="2026/11/20 9:30:00")
    assert t.ticket_id == "hotline-H1"
    assert t.text == "楼下工地夜间施工，我的电话138****5678"
    assert t.personal.text.endswith("13812345678")
    assert (t.caller, t.phone, t.personal.caller) == ("张*", "138****5678", "张三")
    assert (t.district, t.ticket_type, t.urgency) == ("A1区", "投诉", "urgent")
    assert t.received_at == datetime(2026, 11, 20, 9, 30, tzinfo=SHANGHAI)
    assert t.received_at_source == "record"


def test_a_missing_time_means_the_time_of_intake_recorded_as_such():
    t = ticket()
    assert t.received_at == NOW and t.received_at_source == "intake"


def test_content_hash_ignores_key_order_but_not_content():
    a = to_ticket("web", {"id": "1", "title": "a", "text": "b"}, NOW)
    b = to_ticket("web", {"text": "b", "title": "a", "id": "1"}, NOW)
    c = to_ticket("web", {"id": "1", "title": "a", "text": "c"}, NOW)
    assert a.content_hash == b.content_hash != c.content_hash


@pytest.mark.parametrize("fields, reason", [
    ({"text": "", "title": " \n\t "}, "empty text"),
    ({"id": ""}, "missing source id"),
    ({"text": "长" * 60_000}, "text too long"),
    ({"time": "2019/2/30 10:00"}, "impossible date"),
    ({"type": "表扬"}, "unknown ticket type"),
    ({"urgency": "whenever"}, "unknown urgency"),
    ({"likes": "many"}, "likes"),
    ({"likes": 10**30}, "implausibly large"),  # would overflow a store's integer
    ({"likes": 5.6e221}, "implausibly large"),
    ({"likes": "inf"}, "whole number"),
    ({"text": {"nested": 1}}, "must be text"),
])
def test_bad_records_are_refused_with_a_reason(fields, reason):
    with pytest.raises(RecordError, match=reason):
        ticket(**fields)


def test_unknown_channel_is_refused():
    with pytest.raises(RecordError, match="unknown channel"):
        ticket(channel="fax")


@pytest.mark.parametrize("payload, reason", [
    (b"\xff\xfe\x00garbage", "not valid UTF-8"),
    (b"{not json", "not JSON"),
    (b"[1, 2]", "JSON list"),
])
def test_undecodable_payloads_are_refused(payload, reason):
    with pytest.raises(RecordError, match=reason):
        decode(payload)


def test_decode_accepts_an_object():
    assert decode(json.dumps({"id": 1}).encode()) == {"id": 1}
