from datetime import datetime

import pytest

from cli.services import build_deadlines
from cli.settings import load_settings
from hotline.deadlines import DeadlinePolicy, DeadlinePolicyError
from hotline.timestamps import SHANGHAI


@pytest.fixture(scope="module")
def configured(tmp_path_factory):
    return build_deadlines(load_settings({"HOTLINE_HOME": str(tmp_path_factory.mktemp("home"))}))


def at(text):
    return datetime.fromisoformat(text).astimezone(SHANGHAI)


def test_a_complaint_gets_five_working_days(configured):
    policy, calendar = configured
    due = policy.deadlines(at("2026-09-30T16:00+08:00"), "投诉", "normal", calendar)
    assert due.reply_due == at("2026-10-13T17:30+08:00")
    assert due.accept_due == at("2026-10-08T11:30+08:00")  # 4 office hours, across National Day
    assert due.policy.startswith(f"{policy.version}: 投诉")


def test_types_urgency_and_the_default(configured):
    policy, calendar = configured
    received = at("2026-11-23T09:00+08:00")
    assert policy.deadlines(received, "咨询", "normal", calendar).reply_due == at("2026-11-24T17:30+08:00")
    assert policy.deadlines(received, "建议", "normal", calendar).reply_due == at("2026-12-07T17:30+08:00")
    urgent = policy.deadlines(received, "咨询", "urgent", calendar)
    assert urgent.reply_due == at("2026-11-23T14:30+08:00") and "urgent" in urgent.policy
    assert "default type" in policy.deadlines(received, None, "normal", calendar).policy


def test_beyond_the_calendar_the_ticket_still_gets_deadlines_with_a_warning(configured):
    policy, calendar = configured
    due = policy.deadlines(at("2026-12-28T10:00+08:00"), "建议", "normal", calendar)
    assert due.reply_due.year == 2027 and due.warnings


@pytest.mark.parametrize("change, message", [
    (lambda c: c["types"].pop("求助"), "no limits for 求助"),
    (lambda c: c.update(default_type="表扬"), "default_type"),
    (lambda c: c["types"]["咨询"].update(reply_hours=3), "exactly one of"),
    (lambda c: c["types"]["咨询"].update(accept_hours=0), "positive"),
    (lambda c: c.pop("urgent"), "missing key 'urgent'"),
    (lambda c: c.update(callback={"working_days": 0}), "callback.working_days: expected a whole number"),
    (lambda c: c.update(callback={"attempts": "3"}), "callback.attempts: expected a whole number"),
    (lambda c: c.update(callback={"days": 3}), "callback: unknown key"),
    (lambda c: c.update(callback=3), "callback: expected a mapping"),
])
def test_policy_errors_are_named(change, message):
    config = {"version": "t", "default_type": "投诉", "urgent": {"accept_hours": 1, "reply_hours": 4},
              "types": {t: {"accept_hours": 2, "reply_days": 3} for t in ("咨询", "求助", "投诉", "举报", "建议")}}
    change(config)
    with pytest.raises(DeadlinePolicyError, match=message):
        DeadlinePolicy.from_config(config)
