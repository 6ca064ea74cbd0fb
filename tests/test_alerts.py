"""Due-soon warnings and overdue escalation: the rules on a real calendar, and the watch on a real store."""

from datetime import datetime, timedelta

import pytest

from hotline.alerts import AlertPolicy, AlertPolicyError, alerts_for, next_alert_at
from hotline.timestamps import SHANGHAI


def t(day, hour, minute=0, month=11):
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def setup():
    from cli.services import build_alert_policy, build_calendar
    from cli.settings import load_settings

    settings = load_settings()
    return build_alert_policy(settings), build_calendar(settings)


def ticket(due, status="dispatched"):  # housing: the unit's, or only suggested while pending_review
    return {"ticket_id": "hotline-1", "status": status, "lead_unit": "housing", "reply_due": due}


def kinds(found):
    return sorted((a.kind, a.level, a.due_at) for a in found)


def test_the_warning_comes_at_the_moment_the_watch_looks_for_it(setup):
    """The watch looks at a ticket again at the start of its last working hours (next_alert_at); the warning
    must come then. 12.5 working hours before 2026-05-08 09:20 is 05-06 10:50, and the working hours between
    the two, summed in floating point, come to 12.500000000000002: compared as numbers, that moment was not
    yet "at most 12.5 hours left", and the look found nothing and set the next one at the deadline."""
    from dataclasses import replace

    policy, calendar = setup
    policy = replace(policy, due_soon_working_hours=12.5)
    due = datetime(2026, 5, 8, 9, 20, tzinfo=SHANGHAI)
    look = next_alert_at(ticket(due), datetime(2026, 5, 1, 9, tzinfo=SHANGHAI), policy, calendar)
    assert look == datetime(2026, 5, 6, 10, 50, tzinfo=SHANGHAI)
    assert kinds(alerts_for(ticket(due), look, policy, calendar)) == [("due_soon", 0, look)]
    assert alerts_for(ticket(due), look - timedelta(minutes=1), policy, calendar) == []


def test_warning_then_escalation_levels_at_working_times(setup):
    policy, calendar = setup
    due = t(24, 17, 30)  # a 咨询 ticket received Monday 2026-11-23: close of Tuesday
    assert alerts_for(ticket(due), t(24, 11, 59), policy, calendar) == []
    # four office hours remain from the end of the morning (13:30-17:30; lunch does not count)
    assert kinds(alerts_for(ticket(due), t(24, 12), policy, calendar)) == [("due_soon", 0, t(24, 12))]
    assert kinds(alerts_for(ticket(due), t(24, 13, 30), policy, calendar)) == [("due_soon", 0, t(24, 12))]
    assert kinds(alerts_for(ticket(due), t(24, 17, 30), policy, calendar)) == [("overdue", 1, due)]
    # level 2 two working days after the deadline, level 3 after five (Saturday and Sunday do not count)
    assert kinds(alerts_for(ticket(due), t(26, 17, 29), policy, calendar)) == [("overdue", 1, due)]
    assert kinds(alerts_for(ticket(due), t(26, 17, 30), policy, calendar)) == [("overdue", 1, due), ("overdue", 2, t(26, 17, 30))]
    level3 = t(1, 17, 30, month=12)
    assert [a.level for a in alerts_for(ticket(due), level3, policy, calendar)] == [1, 2, 3]
    assert alerts_for(ticket(due), level3, policy, calendar)[2].to == "市政府办公室"


def test_a_ticket_waiting_for_a_dispatcher_alerts_the_dispatchers_and_each_new_unit_its_own(setup):
    policy, calendar = setup
    due = t(24, 17, 30)
    with_unit = alerts_for(ticket(due), t(26, 17, 30), policy, calendar)
    assert [(a.to, a.unit) for a in with_unit] == [("承办单位", "housing"), ("热线中心督办科", "housing")]
    waiting = alerts_for(ticket(due, "pending_review"), t(26, 17, 30), policy, calendar)
    assert [(a.to, a.unit) for a in waiting] == [("热线中心派单员", "待派单"), ("热线中心督办科", "待派单")]
    assert waiting[0].message.endswith("1 级督办至热线中心派单员")
    # the dispatchers' alert is theirs; once dispatched, the unit gets the one meant for it, the others not again
    assert waiting[0].alert_id != with_unit[0].alert_id and waiting[1].alert_id == with_unit[1].alert_id
    rerouted = alerts_for({**ticket(due), "lead_unit": "urban-management"}, t(26, 17, 30), policy, calendar)
    assert rerouted[0].alert_id not in {with_unit[0].alert_id, waiting[0].alert_id}  # 改派: the new unit is told
    assert rerouted[1].alert_id == with_unit[1].alert_id
    soon = alerts_for(ticket(due, "pending_review"), t(24, 12), policy, calendar)
    assert [(a.kind, a.to) for a in soon] == [("due_soon", "热线中心派单员")]


def test_an_overdue_alert_says_how_late_in_working_hours_then_days(setup):
    policy, calendar = setup
    due = t(24, 17, 30)  # Tuesday's close; office hours 9:00-12:00 and 13:30-17:30
    def level(now, n):
        return next(a.message for a in alerts_for(ticket(due), now, policy, calendar) if a.level == n)
    assert level(t(24, 17, 30), 1) == "超期：答复期限 2026-11-24 17:30，已逾期，1 级督办至承办单位"
    assert "已逾期" in level(t(25, 8, 59), 1)  # the night does not count
    assert "已超 1.5 个工作小时，1 级" in level(t(25, 10, 30), 1)
    assert "已超 2.0 个工作日，2 级督办至热线中心督办科" in level(t(26, 17, 30), 2)


def test_the_warning_counts_working_hours_back_over_a_weekend(setup):
    policy, calendar = setup
    due = t(30, 10)  # Monday 10:00: one working hour on Monday, three on Friday afternoon
    assert kinds(alerts_for(ticket(due), t(28, 12), policy, calendar)) == [("due_soon", 0, t(27, 14, 30))]


def test_no_alerts_while_waiting_for_the_citizen_or_when_done(setup):
    policy, calendar = setup
    for status in ("waiting_citizen", "replied", "closed"):
        assert alerts_for(ticket(t(24, 17, 30), status), t(30, 9), policy, calendar) == []


def test_a_dispatched_ticket_not_accepted_in_time_alerts_the_unit_and_the_dispatchers_once_per_dispatch(setup):
    from hotline.alerts import still_applies

    policy, calendar = setup
    accept_due, due = t(23, 13, 30), t(27, 17, 30)  # dispatched Monday 9:30, a 投诉 (four office hours)
    unaccepted = {**ticket(due), "accept_due": accept_due}
    assert alerts_for(unaccepted, t(23, 13, 29), policy, calendar) == []
    late = alerts_for(unaccepted, t(23, 15), policy, calendar)
    assert [(a.kind, a.level, a.to, a.unit, a.due_at, a.reply_due) for a in late] == [
        ("accept_overdue", 0, "承办单位", "housing", accept_due, due),
        ("accept_overdue", 0, "热线中心派单员", "housing", accept_due, due)]
    assert late[0].message == "签收超时：签收时限 2026-11-23 13:30，已超 1.5 个工作小时，承办单位尚未签收"
    assert late[0].alert_id != late[1].alert_id
    # accepted, returned or rerouted: the alert no longer applies, and an acceptance raises none
    stored = [{**a.model_dump(), "reply_due": a.reply_due.isoformat(), "due_at": a.due_at.isoformat()} for a in late]
    assert all(still_applies(a, unaccepted, t(24, 9)) for a in stored)
    for after in ({"status": "accepted"}, {"status": "pending_review", "accept_due": None},
                  {"lead_unit": "urban-management", "accept_due": t(25, 14)}):
        assert not any(still_applies(a, {**unaccepted, **after}, t(24, 9)) for a in stored), after
    assert alerts_for({**unaccepted, "status": "accepted"}, t(23, 15), policy, calendar) == []
    # a new dispatch to the same unit (returned, dispatched again) has a deadline, and alerts, of its own
    again = alerts_for({**unaccepted, "accept_due": t(24, 14)}, t(24, 15), policy, calendar)
    assert {a.alert_id for a in again}.isdisjoint(a.alert_id for a in late)
    # the next look at an unaccepted ticket is its acceptance deadline, before any reply warning
    assert next_alert_at(unaccepted, t(23, 10), policy, calendar) == accept_due
    assert next_alert_at(unaccepted, t(23, 15), policy, calendar) == t(27, 12)  # the due-soon warning (lunch excluded)


def test_an_urging_alerts_the_unit_once_per_event_while_it_holds_the_ticket():
    from hotline.alerts import still_applies, urge_alert
    from hotline.models import TicketEvent

    due = t(27, 17, 30)
    accepted = {**ticket(due), "status": "accepted"}

    def urged(n):
        return TicketEvent(event_id=f"u{n}", ticket_id="hotline-1", kind="urged", at=t(24, 10 + n), actor="supervisor",
                           data={"reason": "市民多次来电，请今日联系"})
    first, again = urge_alert(accepted, urged(0)), urge_alert(accepted, urged(1))
    assert (first.kind, first.level, first.to, first.unit, first.due_at, first.reply_due) == (
        "urged", 0, "承办单位", "housing", t(24, 10), due)
    assert first.message == "催办：市民多次来电，请今日联系"
    assert first.alert_id == urge_alert(accepted, urged(0)).alert_id != again.alert_id  # one per event
    stored = {**first.model_dump(), "reply_due": due.isoformat(), "due_at": first.due_at.isoformat()}
    assert still_applies(stored, accepted, t(25, 9))
    for after in ({"status": "replied"}, {"status": "pending_review"}, {"lead_unit": "urban-management"},
                  {"reply_due": t(1, 17, 30, month=12)}):  # answered, returned, rerouted, given a new deadline
        assert not still_applies(stored, {**accepted, **after}, t(25, 9)), after
    for gone in ({"status": "replied"}, {"status": "pending_review"}):  # applied again later: nobody to tell
        assert urge_alert({**accepted, **gone}, urged(0)) is None
    # an urging that names the unit urged on alerts it while it holds the ticket, not the unit it moved to since
    named = urged(2).model_copy(update={"data": {"reason": "请今日联系", "unit": "housing"}})
    assert urge_alert(accepted, named).unit == "housing"
    assert urge_alert({**accepted, "status": "dispatched", "lead_unit": "urban-management"}, named) is None


def test_late_acceptances_go_to_whom_the_policy_names():
    base = {"due_soon_working_hours": 4, "escalation": [{"level": 1, "to": "承办单位", "after_working_days": 0}]}
    assert AlertPolicy.from_config(base).accept_overdue_to == ("承办单位",)
    assert AlertPolicy.from_config({**base, "accept_overdue_to": []}).accept_overdue_to == ()
    policy = AlertPolicy.from_config({**base, "accept_overdue_to": ["热线中心派单员", "热线中心督办科"]})
    assert policy.recipients() == ("承办单位", "热线中心派单员", "热线中心督办科")
    with pytest.raises(AlertPolicyError, match="accept_overdue_to must be a list"):
        AlertPolicy.from_config({**base, "accept_overdue_to": "热线中心派单员"})


@pytest.mark.parametrize("change, message", [
    ({"due_soon_working_hours": 0}, "must be positive"),
    ({"escalation": [{"level": 2, "to": "x", "after_working_days": 0}]}, "levels must be 1, 2, 3"),
    ({"escalation": [{"level": 1, "to": "x", "after_working_days": 3}, {"level": 2, "to": "y", "after_working_days": 1}]},
     "must not decrease"),
    ({"escalation": [{"level": 1}]}, "missing key 'to'"),
])
def test_policy_errors_are_named(change, message):
    data = {"due_soon_working_hours": 4, "escalation": [{"level": 1, "to": "u", "after_working_days": 0}], **change}
    with pytest.raises(AlertPolicyError, match=message):
        AlertPolicy.from_config(data)


def test_the_watch_raises_each_alert_once_across_restarts(setup, tmp_path):
    """A clock driven in half-hour steps over two weeks; the store is reopened halfway (a restarted worker)."""
    from hotline.lifecycle import Lifecycle
    from hotline.models import TicketEvent
    from stores.sqlite import SQLiteStore
    from streams.watch import DeadlineWatch
    from tests.test_store_contract import make_ticket

    policy, calendar = setup
    path = tmp_path / "store.db"
    store = SQLiteStore(path)
    watch = DeadlineWatch(store, policy, calendar)
    store.write_tickets([make_ticket(1, received_at=t(23, 9), reply_due=t(24, 17, 30)),
                         make_ticket(2, received_at=t(23, 9), reply_due=t(30, 17, 30))])
    raised = []
    now = t(23, 9)
    while now < t(8, 9, month=12):
        if now == t(27, 9):  # restart: a new store object on the same file
            store.close()
            store = SQLiteStore(path)
            watch = DeadlineWatch(store, policy, calendar)
        if now == t(26, 9):  # ticket 2 gets a two-day extension: its new deadline gets its own warning
            rules = Lifecycle(2, calendar)
            for n, (kind, data) in enumerate([("accepted", {}), ("extension_requested", {"days": 2, "reason": "勘查"}),
                                              ("extension_approved", {})]):
                event = TicketEvent(event_id=f"x{n}", ticket_id="web-2", kind=kind, at=now, actor="u", data=data)
                assert store.apply_event(event, rules)[0] == "applied"
        raised += [(a.ticket_id, a.kind, a.level, a.reply_due, a.due_at, a.raised_at)
                   for a in watch.scan(now)]
        now += timedelta(minutes=30)
    one = [r for r in raised if r[0] == "web-1"]
    assert [(r[1], r[2]) for r in one] == [("due_soon", 0), ("overdue", 1), ("overdue", 2), ("overdue", 3)]
    assert all(r[5] - r[4] < timedelta(minutes=30) for r in raised)  # raised at the first scan after it is due
    two = [(r[1], r[2], r[3]) for r in raised if r[0] == "web-2"]
    assert two[0] == ("due_soon", 0, t(2, 17, 30, month=12))  # after the extension: 12-02 instead of 11-30
    assert len(two) == len(set(two)) and len(store.alerts()) == len(raised)
    store.close()


def test_the_watch_alerts_the_unit_a_late_ticket_is_rerouted_to(setup, tmp_path):
    from hotline.lifecycle import Lifecycle
    from hotline.models import TicketEvent
    from stores.sqlite import SQLiteStore
    from streams.watch import DeadlineWatch
    from tests.test_store_contract import make_ticket

    policy, calendar = setup
    store = SQLiteStore(tmp_path / "store.db")
    store.write_tickets([make_ticket(1, received_at=t(23, 9), reply_due=t(24, 17, 30))])  # housing's
    watch = DeadlineWatch(store, policy, calendar)
    assert [(a.level, a.unit) for a in watch.scan(t(25, 9))] == [(1, "housing")]
    assert watch.scan(t(25, 9, 30)) == []
    reroute = TicketEvent(event_id="r", ticket_id="web-1", kind="rerouted", at=t(25, 10), actor="d",
                          data={"lead_unit": "urban-management", "reason": "属城管职责"})
    assert store.apply_event(reroute, Lifecycle(2, calendar))[0] == "applied"
    assert [(a.level, a.to, a.unit) for a in watch.scan(t(25, 10, 30))] == [(1, "承办单位", "urban-management")]
    store.close()


def test_the_watch_alerts_a_late_acceptance_once_and_not_after_the_ticket_is_accepted(setup, tmp_path):
    from hotline.lifecycle import Lifecycle
    from hotline.models import TicketEvent
    from stores.sqlite import SQLiteStore
    from streams.watch import DeadlineWatch
    from tests.test_store_contract import make_ticket

    policy, calendar = setup
    store = SQLiteStore(tmp_path / "store.db")
    # web-1's reply deadline (a 建议 over the Spring Festival) is beyond the watch's horizon; its acceptance is not
    store.write_tickets([make_ticket(1, received_at=t(23, 9), accept_due=t(23, 17), reply_due=t(1, 17, month=12) + timedelta(days=40)),
                         make_ticket(2, received_at=t(23, 9), accept_due=t(23, 17), reply_due=t(30, 17, 30))])
    watch = DeadlineWatch(store, policy, calendar)
    assert watch.scan(t(23, 16, 30)) == []
    assert sorted((a.ticket_id, a.kind, a.to) for a in watch.scan(t(23, 17))) == [
        ("web-1", "accept_overdue", "承办单位"), ("web-1", "accept_overdue", "热线中心派单员"),
        ("web-2", "accept_overdue", "承办单位"), ("web-2", "accept_overdue", "热线中心派单员")]
    assert watch.scan(t(24, 9)) == [] and watch.examined == 0  # raised once; nothing new until a reply warning
    accepted = TicketEvent(event_id="a", ticket_id="web-2", kind="accepted", at=t(24, 9, 30), actor="u", data={})
    assert store.apply_event(accepted, Lifecycle(2, calendar))[0] == "applied"
    assert {a["ticket_id"] for a in store.alerts(open_at=t(24, 10))} == {"web-1"}  # web-2's no longer applies
    assert watch.scan(t(24, 10)) == []
    store.close()


def test_a_watch_looks_at_every_ticket_at_its_first_scan_as_its_policy_may_differ_from_the_last_ones(setup, tmp_path):
    from dataclasses import replace

    from stores.sqlite import SQLiteStore
    from streams.watch import DeadlineWatch
    from tests.test_store_contract import make_ticket

    policy, calendar = setup
    store = SQLiteStore(tmp_path / "store.db")
    store.write_tickets([make_ticket(1, received_at=t(23, 9), reply_due=t(30, 17, 30))])  # Monday
    first = DeadlineWatch(store, policy, calendar)
    assert first.scan(t(24, 9)) == [] and first.examined == 1
    assert first.scan(t(27, 9)) == [] and first.examined == 0  # its next look is on Monday
    # a worker started with a policy that warns three working days ahead: warned now, not on Monday
    wider = replace(policy, due_soon_working_hours=3 * calendar.hours_per_day)
    second = DeadlineWatch(store, wider, calendar)
    assert [a.kind for a in second.scan(t(27, 9, 30))] == ["due_soon"] and second.examined == 1
    assert second.scan(t(27, 10)) == [] and second.examined == 0
    store.close()


def test_history_long_overdue_is_not_alerted(setup, tmp_path):
    from stores.sqlite import SQLiteStore
    from streams.watch import DeadlineWatch
    from tests.test_store_contract import make_ticket

    policy, calendar = setup
    store = SQLiteStore(tmp_path / "store.db")
    store.write_tickets([make_ticket(1, received_at=t(1, 9, month=3), reply_due=t(6, 17, 30, month=3)),
                         make_ticket(2, received_at=t(16, 9), reply_due=t(20, 17, 30))])
    raised = DeadlineWatch(store, policy, calendar).scan(t(23, 9))
    assert {a.ticket_id for a in raised} == {"web-2"}  # March is past max_overdue_days (60)
    store.close()


def test_the_watch_looks_again_only_at_tickets_that_may_deserve_something_new(setup, tmp_path):
    """150 tickets with deadlines spread over three weeks (holidays and weekends included), scanned every 30
    minutes: the watch that skips raises exactly what looking at every ticket every time raises, at the same
    scans, and looks at far fewer tickets."""
    import random

    from hotline.alerts import alerts_for
    from stores.base import TicketQuery
    from stores.sqlite import SQLiteStore
    from streams.watch import DeadlineWatch
    from tests.test_store_contract import make_ticket

    policy, calendar = setup
    rng = random.Random(4)
    dues = [t(20, 9) + timedelta(minutes=rng.randrange(0, 21 * 24 * 60, 7)) for _ in range(150)]
    store = SQLiteStore(tmp_path / "store.db")
    store.write_tickets([make_ticket(i, received_at=t(19, 9), reply_due=due) for i, due in enumerate(dues)])
    watch = DeadlineWatch(store, policy, calendar)
    everything = list(store.iter_tickets(TicketQuery(), fields=("ticket_id", "status", "lead_unit", "reply_due",
                                                                 "accept_due")))
    kept: set[str] = set()
    now, looked, scans = t(20, 9), 0, 0
    while now < t(18, 9, month=12):
        expected = {a.alert_id for ticket in everything for a in alerts_for(ticket, now, policy, calendar)} - kept
        raised = {a.alert_id for a in watch.scan(now)}
        assert raised == expected, now
        kept |= raised
        looked, scans = looked + watch.examined, scans + 1
        now += timedelta(minutes=30)
    assert len(kept) > 300  # warnings and three escalation levels for most of them
    assert watch.scan(now) == [] and watch.examined == 0  # nothing changed: nobody looked at again
    assert looked < 0.02 * scans * len(dues), (looked, scans)
    store.close()


def test_the_recipients_are_the_unit_the_dispatchers_and_each_levels_once_in_escalation_order():
    policy = AlertPolicy.from_config({"due_soon_working_hours": 4, "escalation": [
        {"level": 1, "to": "承办单位", "after_working_days": 0}, {"level": 2, "to": "热线中心督办科", "after_working_days": 2},
        {"level": 3, "to": "热线中心督办科", "after_working_days": 4}, {"level": 4, "to": "市政府办公室", "after_working_days": 5}]})
    assert policy.recipients() == ("承办单位", "热线中心派单员", "热线中心督办科", "市政府办公室")
