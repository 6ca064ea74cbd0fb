"""The store contract, run against every store implementation.

SQLite always runs. Elasticsearch runs when HOTLINE_ES_URL names a server (e.g. the one docker-compose.yml
starts: HOTLINE_ES_URL=http://localhost:9200); each test writes under its own index prefix and deletes it
after. No Elasticsearch server can be installed on the development machines, so there it is skipped, and
nothing stands in for it.
"""

import os
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from hotline.deadletters import make_rejection
from hotline.lifecycle import AWAITING_DISPATCH, Lifecycle, callback_given_up, dispatched_to
from hotline.statistics import Period
from hotline.models import DispatchedTicket, PersonalData, TicketEvent
from hotline.timestamps import SHANGHAI
from stores.base import REJECTION_FIELDS, TICKET_FIELDS, TicketQuery
from stores.sqlite import SQLiteStore

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=SHANGHAI)


def make_ticket(n: int, **changes) -> DispatchedTicket:
    fields = dict(
        ticket_id=f"web-{n}", channel="web", source_id=str(n), received_at=T0 + timedelta(minutes=n),
        received_at_source="record", ingested_at=T0 + timedelta(hours=1), title=f"标题{n}",
        text="小区 物业 问题" if n % 2 else "工地 噪音 扰民", caller="张*", phone="138****5678",
        district="A1区", ticket_type="投诉", urgency="normal", likes=None, content_hash=f"h{n}",
        personal=PersonalData(caller="张三", phone="13812345678", title=f"标题{n}", text="原文"),
        domain="城乡建设" if n % 2 else "环境保护", confidence=0.8, top=[("城乡建设", 0.8), ("环境保护", 0.1)],
        model_version="m1", lead_unit="housing" if n % 2 else "ecology-environment", co_units=["a1-gov"],
        rule_id="r", routing_explanation="because", status="dispatched",
        segmented="小区 物业 问题" if n % 2 else "工地 噪音 扰民",
    )
    fields.update(changes)
    return DispatchedTicket(**fields)


@pytest.fixture(params=["sqlite", "elasticsearch"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = SQLiteStore(tmp_path / "store.db")
        yield s
        s.close()
        return
    url = os.environ.get("HOTLINE_ES_URL")
    if not url:
        pytest.skip("HOTLINE_ES_URL is not set (no Elasticsearch server on this machine)")
    from stores.elasticsearch import ElasticsearchStore

    prefix = f"hotline-test-{uuid.uuid4().hex[:8]}"
    s = ElasticsearchStore(url, prefix=prefix)
    try:
        yield s
    finally:
        s.es.indices.delete(index=f"{prefix}-*", ignore_unavailable=True, allow_no_indices=True)
        s.es.indices.delete_index_template(name=f"{prefix}-*")
        s.close()


def test_writes_are_idempotent_by_ticket_id(store):
    assert store.write_tickets([make_ticket(1), make_ticket(2)]) == 2
    assert store.write_tickets([make_ticket(1, title="changed"), make_ticket(3)]) == 1
    assert store.count_tickets() == 3
    assert store.get_ticket("web-1")["title"] == "标题1"


def test_a_ticket_reads_back_whole(store):
    original = make_ticket(7)
    store.write_tickets([original])
    stored = store.get_ticket("web-7")
    assert set(stored) == set(TICKET_FIELDS)
    assert stored["received_at"] == "2026-11-20T09:07:00+08:00"
    assert stored["top"] == [("城乡建设", 0.8), ("环境保护", 0.1)]
    assert stored["co_units"] == ["a1-gov"]
    assert stored["personal"]["phone"] == "13812345678"
    assert store.get_ticket("nope") is None


def test_content_hashes_of_stored_tickets(store):
    store.write_tickets([make_ticket(1)])
    assert store.content_hashes(["web-1", "web-2"]) == {"web-1": "h1"}


def test_full_text_search_and_filters(store):
    store.write_tickets([make_ticket(n) for n in range(1, 11)])
    rows, total = store.search(TicketQuery(words=["物业"]))
    assert total == 5 and all(r["domain"] == "城乡建设" for r in rows)
    rows, total = store.search(TicketQuery(words=["噪音", "扰民"], lead_unit="ecology-environment"))
    assert total == 5
    rows, total = store.search(TicketQuery(words=["物业", "噪音"]))
    assert total == 0
    rows, total = store.search(TicketQuery(domain="环境保护", limit=2))
    assert total == 5 and len(rows) == 2 and rows[0]["seq"] > rows[1]["seq"]
    rows, total = store.search(TicketQuery(after_seq=8))
    assert total == 2


def test_a_units_tickets_are_those_dispatched_to_it_as_lead_or_co_unit(store):
    store.write_tickets([make_ticket(1), make_ticket(2), make_ticket(3, co_units=["a1-gov", "ecology-environment"]),
                         make_ticket(4, co_units=[]), make_ticket(5, status="pending_review")])
    _, total = store.search(TicketQuery(unit="housing"))
    assert total == 2  # 1 and 3 lead; 5 only waits for a dispatcher
    rows, total = store.search(TicketQuery(unit="ecology-environment"))
    assert total == 3 and {r["ticket_id"] for r in rows} == {"web-2", "web-3", "web-4"}
    rows, total = store.search(TicketQuery(unit="a1-gov"))
    assert {r["ticket_id"] for r in rows} == {"web-1", "web-2", "web-3"}
    rows, total = store.search(TicketQuery(unit="a1-gov", domain="城乡建设", words=["物业"]))
    assert {r["ticket_id"] for r in rows} == {"web-1", "web-3"}
    assert store.search(TicketQuery(unit="a1"))[1] == 0  # a whole unit id, not a part of one
    stored = [store.get_ticket(f"web-{n}") for n in range(1, 6)]
    for unit in ("housing", "ecology-environment", "a1-gov", "a1"):  # the rule the web app checks a ticket by
        assert sorted(r["ticket_id"] for r in store.search(TicketQuery(unit=unit))[0]) == sorted(
            t["ticket_id"] for t in stored if dispatched_to(t, unit)), unit


def test_tickets_held_by_a_unit_and_received_in_a_period(store):
    store.write_tickets([make_ticket(1), make_ticket(2), make_ticket(3, status="pending_review"),
                         make_ticket(4, status="pending_review", lead_unit="ecology-environment"),
                         make_ticket(5, received_at=T0 + timedelta(days=1))])
    rows, total = store.search(TicketQuery(held_by="housing"))
    assert total == 2 and {r["ticket_id"] for r in rows} == {"web-1", "web-5"}  # 3 only suggests housing
    rows, total = store.search(TicketQuery(held_by=AWAITING_DISPATCH))
    assert total == 2 and {r["ticket_id"] for r in rows} == {"web-3", "web-4"}
    first_day = Period.days(T0.date(), T0.date())
    rows, total = store.search(TicketQuery(received=first_day))
    assert total == 4 and "web-5" not in {r["ticket_id"] for r in rows}
    rows, total = store.search(TicketQuery(received=Period(start=T0 + timedelta(minutes=2))))
    assert {r["ticket_id"] for r in rows} == {"web-2", "web-3", "web-4", "web-5"}  # the start is included
    rows, total = store.search(TicketQuery(held_by="housing", received=Period(end=T0 + timedelta(minutes=5))))
    assert {r["ticket_id"] for r in rows} == {"web-1"}  # the end is not


def test_tickets_by_reply_deadline_earliest_first_and_those_overdue_at_a_moment(store):
    # stored in this order; make_ticket(n) is received n minutes after T0
    store.write_tickets([make_ticket(1, reply_due=T0 + timedelta(days=3)), make_ticket(2),
                         make_ticket(4, reply_due=T0 + timedelta(days=1)), make_ticket(3, reply_due=T0 + timedelta(days=1)),
                         make_ticket(5, reply_due=T0 + timedelta(days=2))])
    assert [r["ticket_id"] for r in store.search(TicketQuery(order="due"))[0]] == ["web-3", "web-4", "web-5", "web-1", "web-2"]
    assert [r["ticket_id"] for r in store.search(TicketQuery(order="due", limit=2, offset=1))[0]] == ["web-4", "web-5"]
    assert [r["ticket_id"] for r in store.search(TicketQuery())[0]] == ["web-5", "web-3", "web-4", "web-2", "web-1"]  # newest
    # open and past the deadline at a moment (web-2 has none); answered ones are not overdue
    assert {r["ticket_id"] for r in store.search(TicketQuery(overdue_at=T0 + timedelta(days=2, hours=1)))[0]} == {
        "web-3", "web-4", "web-5"}
    store.apply_event(event("replied", 1, reply="已处理").model_copy(update={"ticket_id": "web-3"}), RULES)
    assert {r["ticket_id"] for r in store.search(TicketQuery(overdue_at=T0 + timedelta(days=2, hours=1)))[0]} == {
        "web-4", "web-5"}
    assert store.search(TicketQuery(overdue_at=T0))[1] == 0


def test_the_monitoring_counts_of_deadlines(store):
    from hotline import statistics

    now = T0 + timedelta(hours=12)
    store.write_tickets([make_ticket(1, reply_due=now - timedelta(hours=1), accept_due=now - timedelta(hours=5)),
                         make_ticket(2, reply_due=now + timedelta(hours=3), accept_due=now - timedelta(hours=1)),
                         make_ticket(3, reply_due=now + timedelta(days=2), accept_due=now + timedelta(hours=1)),
                         make_ticket(4, status="pending_review", reply_due=now + timedelta(days=2))])
    store.apply_event(event("accepted", 11), RULES)  # web-1 accepted (late): no longer awaiting acceptance
    counts = store.metrics(now)
    tickets = [store.get_ticket(f"web-{n}") for n in range(1, 5)]
    assert (counts["overdue"], counts["due_within_day"]) == (1, 1)  # web-1; web-2
    assert counts["accept_overdue"] == sum(statistics.accept_overdue(t, now) for t in tickets) == 1  # web-2


def test_tickets_by_acceptance_deadline_earliest_first(store):
    store.write_tickets([make_ticket(1, accept_due=T0 + timedelta(hours=3)), make_ticket(2),
                         make_ticket(4, accept_due=T0 + timedelta(hours=1)), make_ticket(3, accept_due=T0 + timedelta(hours=1))])
    # of one deadline, the earliest received first (make_ticket(n) is received n minutes after T0); none: last
    assert [r["ticket_id"] for r in store.search(TicketQuery(order="accept"))[0]] == ["web-3", "web-4", "web-1", "web-2"]


def test_a_ticket_merged_while_waiting_is_held_by_the_centre_and_seen_by_no_unit(store):
    store.write_tickets([make_ticket(n, status="pending_review") for n in (1, 3, 7, 9)])
    merge = event("merged", 1, into="web-3")
    assert store.apply_event(merge, RULES) == ("applied", "")
    assert store.apply_event(event("merged", 2, into="web-9").model_copy(update={"ticket_id": "web-7"}), RULES)[0] == "applied"
    assert (store.get_ticket("web-1")["lead_unit"], store.get_ticket("web-1")["co_units"]) == ("", [])
    assert {r["ticket_id"] for r in store.search(TicketQuery(held_by=AWAITING_DISPATCH))[0]} == {"web-1", "web-3",
                                                                                                "web-7", "web-9"}
    assert store.search(TicketQuery(held_by="housing"))[1] == 0
    assert store.search(TicketQuery(unit="housing"))[1] == store.search(TicketQuery(unit="a1-gov"))[1] == 0
    # the tickets merged into one (whose callers its answer is for)
    assert [r["ticket_id"] for r in store.search(TicketQuery(merged_into=("web-3",)))[0]] == ["web-1"]
    assert store.search(TicketQuery(merged_into=("web-1",)))[1] == 0
    assert sorted(r["ticket_id"] for r in store.search(TicketQuery(merged_into=("web-3", "web-9")))[0]) == ["web-1", "web-7"]


def test_the_tickets_a_units_figures_count_held_returned_or_late_to_accept(store):
    from hotline.models import TicketEvent

    store.write_tickets([make_ticket(1, status="pending_review"), make_ticket(2), make_ticket(3),
                         make_ticket(5, status="pending_review"), make_ticket(7, accept_due=T0)])
    store.apply_event(event("dispatched", 1, lead_unit="housing"), RULES)
    store.apply_event(event("returned", 2, reason="不属于我单位职责"), RULES)  # web-1 returned by housing
    store.apply_event(event("dispatched", 3, lead_unit="ecology-environment"), RULES)
    # web-7: housing let its acceptance deadline pass; re-routed to transport
    moved = TicketEvent(event_id="e-moved-7", ticket_id="web-7", kind="rerouted", at=T0 + timedelta(hours=1),
                        actor="dispatcher", data={"lead_unit": "transport", "reason": "交通问题"})
    assert store.apply_event(moved, RULES) == ("applied", "")
    assert store.get_ticket("web-7")["late_acceptances"] == ["housing"]
    assert store.get_ticket("web-3")["late_acceptances"] == []
    rows, total = store.search(TicketQuery(figures_of="housing"))
    assert total == 3 and {r["ticket_id"] for r in rows} == {"web-1", "web-3", "web-7"}  # 5 only suggests housing
    rows, _ = store.search(TicketQuery(figures_of="ecology-environment"))
    assert {r["ticket_id"] for r in rows} == {"web-1", "web-2"}
    assert [r["ticket_id"] for r in store.search(TicketQuery(figures_of="transport"))[0]] == ["web-7"]
    selected = TicketQuery(figures_of="housing", received=Period(end=T0 + timedelta(minutes=2)))
    assert [t["ticket_id"] for t in store.iter_tickets(selected, fields=("ticket_id",))] == ["web-1"]
    assert store.search(TicketQuery(figures_of="housing", held_by="housing"))[1] == 1


def test_facets_count_tickets(store):
    store.write_tickets([make_ticket(n) for n in range(1, 6)])
    facets = store.facets()
    assert facets["domain"] == {"城乡建设": 3, "环境保护": 2}
    assert facets["channel"] == {"web": 5}
    store.write_tickets([make_ticket(6, co_units=["housing"])])
    assert store.facets(TicketQuery(unit="housing"))["lead_unit"] == {"housing": 3, "ecology-environment": 1}
    assert store.facets(TicketQuery(unit="nobody")) == {name: {} for name in facets}


def test_facets_count_among_the_selected_tickets_each_without_its_own_filter(store):
    store.write_tickets([make_ticket(n, district="A1区" if n <= 4 else "A2区") for n in range(1, 9)])
    # web-1..4 in A1区 (odd: 城乡建设), web-5..8 in A2区; received a minute apart from T0 + 1 min
    query = TicketQuery(domain="城乡建设", district="A1区", received=Period(end=T0 + timedelta(minutes=4)))
    facets = store.facets(query)
    assert facets["district"] == {"A1区": 2}  # 城乡建设 before the end: web-1, web-3 (all in A1区)
    assert facets["domain"] == {"城乡建设": 2, "环境保护": 1}  # A1区 before the end: web-1, 2, 3
    assert facets["channel"] == {"web": 2}  # both filters on
    for name in ("domain", "district"):  # each choice's count is what choosing it lists
        for value, count in facets[name].items():
            assert store.search(replace(query, **{name: value}))[1] == count
    words = store.facets(TicketQuery(words=["噪音"]))  # the even ones
    assert words["domain"] == {"环境保护": 4} and words["district"] == {"A1区": 2, "A2区": 2}


def test_dead_letters_are_idempotent_and_keep_the_payload(store):
    letter = make_rejection("web", "file.csv:3", "normalise", "empty text", b'{"id": "1"}', T0)
    binary = make_rejection("web", "file.csv:4", "intake", "not UTF-8", b"\xff\xfe", T0)
    assert store.write_rejections([letter, binary]) == 2
    assert store.write_rejections([letter]) == 0
    letters = list(store.iter_rejections())
    assert all(set(r) == set(REJECTION_FIELDS) for r in letters)
    assert [r["reason"] for r in letters] == ["empty text", "not UTF-8"]
    assert letters[0]["payload"] == '{"id": "1"}'
    assert letters[1]["payload_encoding"] == "base64"
    assert store.stored_rejection_ids([letter.rejection_id, "other"]) == {letter.rejection_id}
    assert [r["reason"] for r in store.recent_rejections(1)] == ["not UTF-8"]
    assert store.count_rejections([binary.rejection_id]) == 1


def test_a_dead_letter_is_marked_resent_once(store):
    letter = make_rejection("web", "file.csv:3", "normalise", "empty text", b'{"id": "1"}', T0)
    other = make_rejection("web", "file.csv:4", "normalise", "empty text", b'{"id": "2"}', T0)
    store.write_rejections([letter, other])
    assert store.get_rejection(letter.rejection_id)["resent_as"] is None and store.get_rejection("nope") is None
    assert store.mark_rejection_resent(letter.rejection_id, "web-1", "dispatcher", T0 + timedelta(hours=1))
    assert not store.mark_rejection_resent(letter.rejection_id, "web-9", "other", T0 + timedelta(hours=2))
    assert not store.mark_rejection_resent("nope", "web-1", "dispatcher", T0)
    store.write_rejections([letter])  # the same dead letter delivered again keeps its mark
    resent = store.get_rejection(letter.rejection_id)
    assert (resent["resent_as"], resent["resent_by"]) == ("web-1", "dispatcher")
    assert resent["resent_at"].startswith((T0 + timedelta(hours=1)).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M"))
    assert store.get_rejection(other.rejection_id)["resent_as"] is None
    assert all(set(r) == set(REJECTION_FIELDS) for r in store.iter_rejections())


def test_iteration_covers_everything_in_order(store):
    store.write_tickets([make_ticket(n) for n in range(1, 2502)])
    ids = [t["ticket_id"] for t in store.iter_tickets()]
    assert len(ids) == 2501 and ids[0] == "web-1" and ids[-1] == "web-2501"
    assert store.latest_seq() == 2501


def test_iteration_of_the_tickets_a_query_selects_and_of_some_fields(store):
    store.write_tickets([make_ticket(n, received_at=T0 + timedelta(hours=n)) for n in range(1, 2502)])
    received = Period(T0 + timedelta(hours=100), T0 + timedelta(hours=1300))  # more than a page of each
    selected = TicketQuery(received=received, domain="城乡建设")
    full = list(store.iter_tickets(selected))
    assert [t["ticket_id"] for t in full] == [f"web-{n}" for n in range(101, 1300, 2)]
    assert set(full[0]) == set(TICKET_FIELDS) and store.search(selected)[1] == len(full)
    light = list(store.iter_tickets(selected, fields=("ticket_id", "returned_by", "top", "on_time")))
    assert light == [{k: t[k] for k in ("ticket_id", "returned_by", "top", "on_time")} for t in full]
    assert list(store.iter_tickets(TicketQuery(held_by="nobody"))) == []
    with pytest.raises(ValueError, match="no such ticket fields: words"):
        list(store.iter_tickets(fields=("ticket_id", "words")))


RULES = Lifecycle(max_returns=1)


def event(kind, n, **data):
    from hotline.models import TicketEvent

    return TicketEvent(event_id=f"e-{kind}-{n}", ticket_id="web-1", kind=kind, at=T0 + timedelta(hours=n),
                       actor="dispatcher", data=data)


def test_dispatch_return_and_flag_through_events(store):
    store.write_tickets([make_ticket(1, status="pending_review"), make_ticket(2)])
    assert [t["ticket_id"] for t in store.queue()] == ["web-1"]
    assert store.apply_event(event("dispatched", 1, domain="城乡建设", lead_unit="housing"), RULES) == ("applied", "")
    assert store.apply_event(event("dispatched", 1, domain="城乡建设", lead_unit="housing"), RULES) == ("duplicate", "")
    assert store.queue() == [] and store.corrections() == []
    status, reason = store.apply_event(event("dispatched", 2, lead_unit="housing"), RULES)
    assert status == "refused" and "not waiting for a dispatcher" in reason
    assert store.apply_event(event("returned", 3, reason="不属于我单位职责"), RULES)[0] == "applied"
    ticket = store.get_ticket("web-1")
    assert (ticket["status"], ticket["returns"], ticket["last_return_reason"]) == ("pending_review", 1, "不属于我单位职责")
    assert ticket["returned_by"] == ["housing"]
    assert ticket["flagged"] is None
    store.apply_event(event("dispatched", 4, domain="环境保护", lead_unit="ecology-environment"), RULES)
    corrections = store.corrections()
    assert len(corrections) == 1 and corrections[0]["domain"] == "环境保护"
    assert corrections[0]["predicted_domain"] == "城乡建设" and corrections[0]["text"] == "小区 物业 问题"
    store.apply_event(event("returned", 5, reason="again"), RULES)
    assert store.get_ticket("web-1")["flagged"].startswith("returned 2 times")
    assert store.get_ticket("web-1")["returned_by"] == ["housing", "ecology-environment"]
    assert [e["kind"] for e in store.ticket_events("web-1")] == ["dispatched", "returned", "dispatched", "returned"]
    assert store.apply_event(event("returned", 6, reason=""), RULES)[0] == "refused"
    missing = event("returned", 7, reason="x").model_copy(update={"ticket_id": "web-404"})
    assert store.apply_event(missing, RULES) == ("refused", "no ticket web-404")
    store.apply_event(event("dispatched", 8, lead_unit="housing").model_copy(update={"ticket_id": "web-2"}), RULES)
    many = store.events_by_ticket(["web-1", "web-2", "web-404"])
    assert set(many) == {"web-1"} and many["web-1"] == store.ticket_events("web-1")  # web-2 was dispatched already


def test_similar_tickets_share_words_and_went_to_a_unit(store):
    store.write_tickets([make_ticket(n) for n in range(1, 6)]
                        + [make_ticket(n, status="pending_review") for n in (7, 9, 11)])
    similar = store.similar("web-9", ["小区", "物业", "问题"], limit=3)
    assert similar and all(t["domain"] == "城乡建设" and t["ticket_id"] != "web-9" for t in similar)
    assert store.segmented_text("web-9") == "小区 物业 问题"
    # handled since it was dispatched: still a past ticket that went to a unit; one waiting for a dispatcher,
    # or merged (并单) before it was dispatched, went nowhere
    store.apply_event(event("accepted", 1), RULES)
    store.apply_event(event("merged", 2, into="web-3").model_copy(update={"ticket_id": "web-11"}), RULES)
    assert store.get_ticket("web-1")["status"] == "accepted" and store.get_ticket("web-11")["status"] == "merged"
    assert {t["ticket_id"] for t in store.similar("web-9", ["小区", "物业", "问题"], limit=10)} == {"web-1", "web-3", "web-5"}


def test_the_whole_handling_loop_is_kept(store):
    from cli.services import build_deadlines
    from cli.settings import load_settings

    policy, calendar = build_deadlines(load_settings())
    rules = Lifecycle(2, calendar, policy)
    received = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)  # a Monday
    due = datetime(2026, 11, 30, 17, 30, tzinfo=SHANGHAI)
    store.write_tickets([make_ticket(1, received_at=received, reply_due=due)])

    def at(day, hour, kind, n, **data):
        from hotline.models import TicketEvent

        moment = datetime(2026, 11, day, hour, tzinfo=SHANGHAI)
        return TicketEvent(event_id=f"loop-{n}", ticket_id="web-1", kind=kind, at=moment, actor="unit", data=data)

    steps = [
        at(23, 11, "accepted", 1),
        at(24, 9, "paused", 2, reason="请市民补充小区地址"),
        at(25, 9, "resumed", 3),  # one working day (7 office hours) paused: the deadline moves by as much
        at(25, 10, "extension_requested", 4, days=2, reason="需现场勘查"),
        at(25, 11, "extension_approved", 5),
        at(26, 15, "replied", 6, reply="已协调物业处理"),
        at(27, 10, "callback", 7, satisfaction="不满意", reason="物业仍未维修"),
    ]
    for step in steps:
        assert store.apply_event(step, rules) == ("applied", ""), step.kind
    ticket = store.get_ticket("web-1")
    assert ticket["status"] == "dispatched" and ticket["reopened"] == 1 and ticket["satisfaction"] == "不满意"
    assert ticket["reply_due"] == "2026-12-04T17:30:00+08:00"  # 投诉: 5 working days from the callback
    assert ticket["paused_hours"] == 7.0 and ticket["extensions"] == 1
    assert ticket["replied_at"] == "2026-11-26T15:00:00+08:00" and ticket["on_time"] is True
    assert ticket["reply_seconds"] == 3 * 86400 + 5 * 3600
    assert ticket["reply_working_days"] == 3.5  # Mon 10:00 -> Thu 15:00: 6 + 7 + 7 + 4.5 office hours of 7
    assert store.apply_event(at(27, 11, "closed", 8), rules)[0] == "refused"  # reopened: not replied
    assert store.apply_event(at(28, 9, "replied", 9), rules)[0] == "applied"
    assert store.apply_event(at(28, 10, "callback", 10, satisfaction="满意"), rules)[0] == "applied"
    ticket = store.get_ticket("web-1")
    assert (ticket["status"], ticket["satisfaction"], ticket["closed_at"]) == ("closed", "满意", "2026-11-28T10:00:00+08:00")
    assert len(store.ticket_events("web-1")) == 9  # every accepted event kept, the refused one not


def test_tickets_awaiting_a_callback_earliest_due_first(store):
    from cli.services import build_deadlines
    from cli.settings import load_settings
    from hotline.models import TicketEvent

    policy, calendar = build_deadlines(load_settings())
    rules = Lifecycle(2, calendar, policy)
    store.write_tickets([make_ticket(n, received_at=datetime(2026, 11, 23, 9, n, tzinfo=SHANGHAI)) for n in range(1, 6)])

    def step(ticket, day, hour, kind, **data):
        moment = datetime(2026, 11, day, hour, tzinfo=SHANGHAI)
        done = store.apply_event(TicketEvent(event_id=f"{ticket}-{kind}-{day}-{hour}", ticket_id=f"web-{ticket}",
                                             kind=kind, at=moment, actor="x", data=data), rules)
        assert done == ("applied", ""), (ticket, kind, done)

    step(1, 25, 10, "replied", reply="已处理")  # stored first, replied last of the three
    step(2, 24, 10, "replied", reply="已处理")
    step(3, 24, 15, "replied", reply="已处理")
    step(4, 24, 9, "replied", reply="已处理", imported=True)  # a historical reply: no callback
    step(3, 25, 9, "callback_failed", note="无人接听")
    step(2, 26, 9, "callback", satisfaction="满意")  # done: no longer awaited
    rows, total = store.search(TicketQuery(awaiting_callback=True, order="callback"))
    assert total == 2 and [r["ticket_id"] for r in rows] == ["web-3", "web-1"]
    assert rows[0]["callback_due"] == policy.callback_due(datetime(2026, 11, 24, 15, tzinfo=SHANGHAI), calendar).isoformat()
    assert (rows[0]["callback_attempts"], rows[1]["callback_attempts"]) == (1, 0)
    assert store.get_ticket("web-2")["callback_due"] is None and store.get_ticket("web-5")["callback_attempts"] == 0
    for _ in range(policy.callback.attempts - 1):  # given up after the policy's number of calls (无法回访)
        step(3, 26, 10 + _, "callback_failed")
    assert [r["ticket_id"] for r in store.search(TicketQuery(awaiting_callback=True))[0]] == ["web-1"]
    assert store.get_ticket("web-3")["callback_attempts"] == policy.callback.attempts
    # the callback order puts tickets without a callback due last
    assert [r["ticket_id"] for r in store.search(TicketQuery(order="callback"))[0]][0] == "web-1"
    # given up (无法回访): the store selects what the lifecycle's rule names, not one reached after a missed call
    step(5, 25, 11, "replied", reply="已处理")
    step(5, 26, 9, "callback_failed")
    step(5, 26, 11, "callback", satisfaction="基本满意")
    rows, total = store.search(TicketQuery(callback_given_up=True))
    ruled = [t["ticket_id"] for t in store.iter_tickets(TicketQuery(), fields=("ticket_id", "status", "callback_due",
                                                                               "callback_attempts"))
             if callback_given_up(t)]
    assert [r["ticket_id"] for r in rows] == ruled == ["web-3"] and total == 1


def test_the_figures_flags_select_what_the_figures_count(store):
    """Each count of the supervisors' unit figures links to the tickets it counts: the store's flag of the same
    name selects what hotline.statistics counts."""
    from cli.services import build_deadlines
    from cli.settings import load_settings
    from hotline import statistics

    policy, calendar = build_deadlines(load_settings())
    rules = Lifecycle(2, calendar, policy)
    now, far = T0 + timedelta(hours=12), T0 + timedelta(days=30)  # after the events below
    store.write_tickets([make_ticket(n) for n in range(1, 7)]  # all dispatched: odd to housing, even to ecology
                        + [make_ticket(7, accept_due=T0 + timedelta(days=1)), make_ticket(8, accept_due=T0),
                           make_ticket(9, accept_due=T0 + timedelta(hours=1)), make_ticket(11, accept_due=far),
                           make_ticket(12, accept_due=T0)])
    for i, (n, kind, data) in enumerate([
        (1, "replied", {"reply": "已处理"}),
        (2, "returned", {"reason": "不属于本单位职责"}),                   # returned by ecology-environment
        (3, "replied", {"reply": "已处理"}), (3, "callback", {"satisfaction": "不满意", "reason": "未解决"}),  # reopened
        (4, "replied", {"reply": "已处理"}), (4, "callback", {"satisfaction": "满意"}),
        (5, "merged", {"into": "web-1"}),                                # web-6 stays with its unit
        (7, "accepted", {}), (8, "accepted", {}),                         # web-7 in time, web-8 late (签收超时)
        (6, "urged", {"reason": "请今日答复"}),                               # web-6 urged on (催办)
        (12, "rerouted", {"lead_unit": "housing", "reason": "住建问题"}),  # ecology's deadline passed: 签收超时
    ]):                                  # web-9 not accepted, past its deadline at `now` (签收超时); web-11 not yet
        event = TicketEvent(event_id=f"f{i}", ticket_id=f"web-{n}", kind=kind, at=T0 + timedelta(hours=2 + i),
                            actor="x", data=data)
        assert store.apply_event(event, rules) == ("applied", "")
    stored = list(store.iter_tickets(TicketQuery(), fields=("ticket_id", "status", "replied_at", "satisfaction",
                                                             "reopened", "returns", "returned_by", "accepted_on_time",
                                                             "accept_due", "urged", "lead_unit", "late_acceptances")))
    for flag, counts in [({"replied": True}, statistics.replied), ({"called_back": True}, statistics.called_back),
                         ({"reopened": True}, statistics.reopened), ({"urged": True}, statistics.urged),
                         ({"open": True}, statistics.is_open),
                         ({"returned": True}, statistics.was_returned),
                         ({"accepted_late_at": now}, lambda t: statistics.late_to_accept(t, None, now)),
                         ({"accepted_late_at": now, "accepted_late_by": "housing"},
                          lambda t: statistics.late_to_accept(t, "housing", now)),
                         ({"accepted_late_at": now, "accepted_late_by": "ecology-environment"},
                          lambda t: statistics.late_to_accept(t, "ecology-environment", now)),
                         ({"returned_by": "ecology-environment"},
                          lambda t: statistics.returned_by(t, "ecology-environment"))]:
        selected = sorted(r["ticket_id"] for r in store.search(TicketQuery(**flag, limit=100))[0])
        counted = sorted(t["ticket_id"] for t in stored if counts(t))
        assert selected == counted and 0 < len(counted) < len(stored), (flag, selected, counted)
    assert sorted(r["ticket_id"] for r in store.search(TicketQuery(open=True))[0]) == [
        "web-11", "web-12", "web-2", "web-3", "web-6", "web-7", "web-8", "web-9"]
    assert sorted(r["ticket_id"] for r in store.search(TicketQuery(accepted_late_at=now))[0]) == ["web-12", "web-8", "web-9"]
    late_by = {unit: sorted(r["ticket_id"] for r in store.search(TicketQuery(accepted_late_at=now, accepted_late_by=unit))[0])
               for unit in ("housing", "ecology-environment")}
    assert late_by == {"housing": ["web-9"], "ecology-environment": ["web-12", "web-8"]}
    with pytest.raises(ValueError, match="needs accepted_late_at"):
        TicketQuery(accepted_late_by="housing")
    assert [store.get_ticket(f"web-{n}")["accepted_on_time"] for n in (1, 7, 8)] == [None, True, False]


def test_alerts_are_kept_once_and_leave_the_outbox_when_published(store):
    from hotline.alerts import Alert

    store.write_tickets([make_ticket(1, reply_due=T0)])
    alert = Alert(alert_id="a1", ticket_id="web-1", kind="overdue", level=1, to="承办单位", unit="housing",
                  reply_due=T0, due_at=T0, raised_at=T0 + timedelta(minutes=5), message="超期")
    assert store.write_alerts([alert, alert.model_copy(update={"alert_id": "a2", "level": 2})]) == [
        alert, alert.model_copy(update={"alert_id": "a2", "level": 2})]
    assert store.write_alerts([alert]) == []  # kept once
    assert [a.alert_id for a in store.unpublished_alerts()] == ["a1", "a2"]
    store.mark_alerts_published(["a1"])
    assert [a.alert_id for a in store.unpublished_alerts()] == ["a2"]
    assert store.unpublished_alerts()[0].raised_at == T0 + timedelta(minutes=5)
    assert [a["alert_id"] for a in store.alerts(open_at=T0)] == ["a2", "a1"]
    assert store.acknowledge_alert("a1", "supervisor", T0) and not store.acknowledge_alert("a1", "supervisor", T0)
    assert [a["alert_id"] for a in store.alerts(open_at=T0)] == ["a2"]
    assert store.alerts(ticket_id="web-1")[1]["acknowledged_by"] == "supervisor"
    store.write_alerts([alert.model_copy(update={"alert_id": f"x{n}", "unit": "transport"}) for n in range(3)])
    assert [a["alert_id"] for a in store.alerts(limit=2, unit="housing")] == ["a2", "a1"]  # not behind the others
    assert {a["unit"] for a in store.alerts(unit="transport")} == {"transport"}
    store.write_alerts([alert.model_copy(update={"alert_id": "a3", "level": 2, "to": "热线中心督办科"})])
    assert [a["alert_id"] for a in store.alerts(to="热线中心督办科")] == ["a3"]  # by recipient
    assert {a["alert_id"] for a in store.alerts(to="承办单位")} == {a["alert_id"] for a in store.alerts()} - {"a3"}


def test_open_alerts_are_those_that_still_apply(store):
    from hotline.alerts import Alert

    store.write_tickets([make_ticket(1, reply_due=T0), make_ticket(3, reply_due=T0 + timedelta(days=2)),
                         make_ticket(5, reply_due=T0)])

    def alert(alert_id, ticket, to="承办单位"):
        return Alert(alert_id=alert_id, ticket_id=ticket, kind="overdue", level=1, to=to, unit="housing", reply_due=T0,
                     due_at=T0, raised_at=T0 + timedelta(minutes=5), message="超期")
    store.write_alerts([alert("unit-1", "web-1"), alert("office-1", "web-1", to="热线中心督办科"),
                        alert("old-deadline-3", "web-3"), alert("unit-5", "web-5")])
    assert {a["alert_id"] for a in store.alerts(open_at=T0)} == {"unit-1", "office-1", "unit-5"}
    # web-1 returned by housing: the dispatchers hold it now (and get alerts of their own); the supervision
    # office's alert still stands. web-5 answered: nothing is asked any more.
    store.apply_event(event("returned", 1, reason="不属于我单位职责"), RULES)
    store.apply_event(event("replied", 2, reply="已处理").model_copy(update={"ticket_id": "web-5"}), RULES)
    assert {a["alert_id"] for a in store.alerts(open_at=T0)} == {"office-1"}
    assert [a["alert_id"] for a in store.alerts(open_at=T0, limit=1)] == ["office-1"]
    # a due-soon warning stands until its deadline; then the overdue alerts take over
    store.write_tickets([make_ticket(7, reply_due=T0 + timedelta(hours=2))])
    store.write_alerts([alert("office-1", "web-1").model_copy(update={
        "alert_id": "soon-7", "ticket_id": "web-7", "kind": "due_soon", "level": 0, "reply_due": T0 + timedelta(hours=2)})])
    assert "soon-7" in {a["alert_id"] for a in store.alerts(open_at=T0 + timedelta(hours=1))}
    assert "soon-7" not in {a["alert_id"] for a in store.alerts(open_at=T0 + timedelta(hours=2))}
    assert len(store.alerts()) == 5  # all kept, applying or not


def test_unaccepted_tickets_are_watched_by_their_acceptance_deadline_and_alerted_until_accepted(store):
    from hotline.alerts import Alert
    from hotline.timestamps import stored_moment

    far = T0 + timedelta(days=60)  # reply deadlines beyond the window the watch reads
    store.write_tickets([make_ticket(1, accept_due=T0, reply_due=far), make_ticket(3, accept_due=far, reply_due=far),
                         make_ticket(5, status="pending_review", accept_due=T0, reply_due=far),
                         make_ticket(7, accept_due=far, reply_due=T0)])
    watched = store.tickets_to_watch(T0 - timedelta(days=1), T0 + timedelta(days=1), T0)
    assert sorted((t["ticket_id"], t["status"], stored_moment(t["accept_due"]), stored_moment(t["reply_due"]))
                  for t in watched) == [("web-1", "dispatched", T0, far), ("web-7", "dispatched", far, T0)]
    late = Alert(alert_id="accept-1", ticket_id="web-1", kind="accept_overdue", level=0, to="承办单位", unit="housing",
                 reply_due=far, due_at=T0, raised_at=T0 + timedelta(minutes=5), message="签收超时")
    store.write_alerts([late])
    assert [a["alert_id"] for a in store.alerts(open_at=T0 + timedelta(hours=1))] == ["accept-1"]
    store.apply_event(event("accepted", 2), RULES)
    assert store.alerts(open_at=T0 + timedelta(hours=3)) == []
    assert [a["kind"] for a in store.alerts()] == ["accept_overdue"]  # kept


def test_the_watch_looks_at_a_ticket_again_at_the_moment_it_set_or_once_it_changed(store):
    watched = lambda now: sorted(t["ticket_id"] for t in store.tickets_to_watch(T0, T0 + timedelta(days=9), now))  # noqa: E731
    store.write_tickets([make_ticket(n, accept_due=T0 + timedelta(hours=4), reply_due=T0 + timedelta(days=5))
                         for n in (1, 2, 3)])
    assert watched(T0) == ["web-1", "web-2", "web-3"]  # new: not looked at yet
    first = {t["ticket_id"]: t for t in store.tickets_to_watch(T0, T0 + timedelta(days=9), T0)}
    store.set_watch_at([(first["web-1"], T0 + timedelta(hours=4)), (first["web-2"], None),
                        (first["web-3"], T0 + timedelta(hours=4))])
    assert watched(T0 + timedelta(hours=1)) == []
    assert watched(T0 + timedelta(hours=4)) == ["web-1", "web-3"]  # their moment; web-2 never, as it is
    assert watched(None) == ["web-1", "web-2", "web-3"]  # every one, next look or not (a watch's first scan)
    # a change makes a ticket due for a look at once, also one changed between the read and the write
    store.apply_event(event("accepted", 2), RULES)  # web-1, accepted
    assert watched(T0 + timedelta(hours=1)) == ["web-1"]
    stale = {t["ticket_id"]: t for t in store.tickets_to_watch(T0, T0 + timedelta(days=9), T0 + timedelta(hours=4))}
    accepted = TicketEvent(event_id="e-3", ticket_id="web-3", kind="accepted", at=T0 + timedelta(hours=5),
                           actor="unit", data={})
    assert store.apply_event(accepted, RULES) == ("applied", "")
    store.set_watch_at([(stale["web-1"], None), (stale["web-3"], None)])  # web-3 as it was before its event
    assert watched(T0 + timedelta(hours=6)) == ["web-3"]
    assert "watch_at" not in store.get_ticket("web-1")  # the watch's bookkeeping, not a ticket's field


def test_a_topic_merged_into_another_hands_over_its_members_and_counts(store):
    from hotline.topics import Assignment, Merge, Topic

    store.write_tickets([make_ticket(n) for n in (1, 2, 3, 4, 5)])
    first = Topic("topic-web-1", {"积水": 1.0}, 2, T0, T0, "web-1", 1.0)
    store.write_topics([Assignment("web-1", "topic-web-1", 1.0, None, True, True),
                        Assignment("web-2", "topic-web-1", 0.8, None, False, True)], [first],
                       [("topic=topic-web-1", T0), ("topic=topic-web-1", T0), ("district=A6区", T0)])
    second = Topic("topic-web-3", {"隧道": 1.0}, 1, T0, T0, "web-3", 1.0)
    store.write_topics([Assignment("web-3", "topic-web-3", 1.0, None, True, True)], [second], [("topic=topic-web-3", T0)])
    # the next batch: web-5 starts a topic found to be one with topic-web-3 (stored before); web-4 then joins
    # topic-web-3, found to be one with topic-web-1
    kept = Topic("topic-web-1", {"积水": 0.9, "隧道": 0.4}, 5, T0, T0 + timedelta(hours=1), "web-1", 1.0)
    store.write_topics([Assignment("web-5", "topic-web-5", 1.0, None, True, True),
                        Assignment("web-4", "topic-web-1", 0.7, None, False, True)], [kept],
                       [("topic=topic-web-5", T0), ("topic=topic-web-1", T0 + timedelta(hours=1))],
                       [Merge("topic-web-5", "topic-web-3"), Merge("topic-web-3", "topic-web-1")])
    assert {store.topic_of(f"web-{n}")["topic_id"] for n in (1, 2, 3, 4, 5)} == {"topic-web-1"}
    assert [(t.topic_id, t.size) for t in store.recent_topics(T0 - timedelta(days=1))] == [("topic-web-1", 5)]
    assert sorted(store.arrival_counts(T0 - timedelta(hours=1))) == [
        ("district=A6区", T0, 1), ("topic=topic-web-1", T0, 4), ("topic=topic-web-1", T0 + timedelta(hours=1), 1)]
    hot = store.hot_topics(T0 - timedelta(days=1))
    assert [t["topic_id"] for t in hot] == ["topic-web-1"] and len(hot[0]["members"]) == 5
    rows, total = store.search(TicketQuery(topic="topic-web-1"))  # the list behind the topic, merged ones in it
    assert total == 5 and {r["ticket_id"] for r in rows} == {f"web-{n}" for n in (1, 2, 3, 4, 5)}
    assert store.search(TicketQuery(topic="topic-web-3"))[1] == 0
    assert store.search(TicketQuery(topic="topic-web-1", domain="环境保护"))[1] == 2  # web-2 and web-4


def test_topics_counts_and_surge_alerts_round_trip(store):
    from hotline.surges import Surge
    from hotline.topics import Assignment, Topic

    store.write_tickets([make_ticket(n, likes=n) for n in (1, 2, 3)])
    topic = Topic("topic-web-1", {"物业": 0.8, "电梯": 0.6}, 2, T0, T0 + timedelta(minutes=2), "web-1", 1.0)
    assignments = [Assignment("web-1", "topic-web-1", 1.0, None, True, False),
                   Assignment("web-3", "topic-web-1", 0.9, "web-1", False, True)]
    before = store.latest_change()
    store.write_topics(assignments, [topic], [("domain=城乡建设", T0), ("domain=城乡建设", T0)])
    assert store.latest_change() != before
    store.write_topics(assignments, [topic], [])  # a replayed batch adds no member twice
    assert store.topic_of("web-3")["duplicate_of"] == "web-1" and store.topic_of("web-2") is None
    of = store.topic_of("web-3")  # with what a page needs to name the topic
    assert (of["topic_id"], of["terms"], of["size"], of["representative_title"]) == (
        "topic-web-1", {"物业": 0.8, "电梯": 0.6}, 2, "标题1")
    assert store.topic_member_ids(["web-1", "web-2", "web-3", "web-9"]) == {"web-1", "web-3"}
    assert store.near_copies(["web-1", "web-2", "web-3", "web-9"]) == {"web-3": "web-1"}
    assert [t.topic_id for t in store.recent_topics(T0 - timedelta(days=1))] == ["topic-web-1"]
    assert store.recent_topics(T0 - timedelta(days=1))[0].centroid == {"物业": 0.8, "电梯": 0.6}
    assert store.arrival_counts(T0 - timedelta(hours=1)) == [("domain=城乡建设", T0, 2)]
    hot = store.hot_topics(T0 - timedelta(days=1))
    assert [m["ticket_id"] for m in hot[0]["members"]] == ["web-3", "web-1"] and hot[0]["members"][0]["negative"] == 1
    surge = Surge("s1", "topic=topic-web-1", 12, 0.2, 1e-9, T0, T0 + timedelta(hours=1), ("web-3", "web-1"), "物业、电梯")
    assert store.write_opinion_alerts([surge, surge], T0) == [surge]
    assert [a["alert_id"] for a in store.opinion_alerts(unpublished=True)] == ["s1"]
    rows, total = store.search(TicketQuery(alert="s1"))  # the tickets the alert counted, in the ticket list
    assert total == 2 and {r["ticket_id"] for r in rows} == {"web-1", "web-3"}
    assert store.search(TicketQuery(alert="s1", words=["物业"], district="A1区"))[1] == 2
    assert store.search(TicketQuery(alert="s1", ticket_type="咨询"))[1] == 0
    assert store.search(TicketQuery(alert="nope"))[1] == 0
    store.mark_opinion_alerts_published(["s1"])
    assert store.opinion_alerts(unpublished=True) == []
    assert store.update_opinion_alert("s1", "monitor", T0, assign_to="A6区人民政府")
    assert store.opinion_alerts(open_only=True)[0]["assigned_to"] == "A6区人民政府"
    assert store.update_opinion_alert("s1", "monitor", T0) and store.opinion_alerts(open_only=True) == []
    assert not store.update_opinion_alert("nope", "monitor", T0)
    assert sum(row["count"] for row in store.volume(T0 - timedelta(days=1))) == 3
