"""A unit's user (承办单位) lists and acts on only the tickets dispatched to its unit (lead or co-unit), reads without
personal data those it returned or was late to accept, sees its own supervision figures, and no dead letters; the web app
on a real SQLite file through FastAPI's test client (no Kafka: nothing here sends to it). users.yaml names each
unit user's unit, checked at start-up with the file and line. Roles that may not see personal data see the
texts of events masked."""

from __future__ import annotations

import csv
import io
import shutil
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from cli import services
from cli.settings import PROJECT_DIR, ConfigError, load_settings
from hotline.deadletters import make_rejection
from hotline.models import TicketEvent
from hotline.surges import Surge
from stores.sqlite import SQLiteStore
from tests.test_store_contract import T0, make_ticket
from webapp.app import create_app


@pytest.fixture
def app(tmp_path):
    settings = load_settings({"HOTLINE_HOME": str(tmp_path / "home")})
    store = SQLiteStore(tmp_path / "store.db")
    # make_ticket: odd numbers lead housing, even ones ecology-environment; both assisted by a1-gov
    store.write_tickets([make_ticket(1, subdomain="物业服务"), make_ticket(2),
                         make_ticket(3, co_units=["housing"], lead_unit="transport"), make_ticket(4, co_units=[]),
                         make_ticket(5, status="pending_review")])  # suggested for housing, not dispatched yet
    store.write_rejections([make_rejection("web", "bad-1", "normalise", "empty text", b'{"id": "bad-1"}', T0)])
    router = services.build_router(settings)
    yield create_app(store=store, users=services.build_users(settings, router), router=router,
                     segmenter=services.segmenter(settings), secret="test",
                     lifecycle=services.build_lifecycle(settings, router),
                     alert_policy=services.build_alert_policy(settings))
    store.close()


def get(app, user: str, path: str, **params):
    """The API with HTTP Basic; a page (not under /api) in a logged-in session, as a browser asks for it."""
    with TestClient(app) as client:
        if path.startswith("/api/"):
            return client.get(path, params=params, auth=(user, f"{user}-demo"))
        assert client.post("/login", data={"username": user, "password": f"{user}-demo"}).status_code == 200
        return client.get(path, params=params, follow_redirects=False)


def test_a_unit_lists_only_the_tickets_it_leads_or_assists_in(app):
    listed = get(app, "unit", "/api/tickets").json()
    assert {t["ticket_id"] for t in listed["tickets"]} == {"web-1", "web-3"} and listed["total"] == 2
    # a filter cannot widen it
    assert get(app, "unit", "/api/tickets", lead_unit="ecology-environment").json()["total"] == 0
    assert get(app, "unit", "/api/tickets", held_by="ecology-environment").json()["total"] == 0
    assert [t["ticket_id"] for t in get(app, "unit", "/api/tickets", held_by="housing").json()["tickets"]] == ["web-1"]
    bad = get(app, "unit", "/api/tickets", start="2026-11-30", end="2026-11-01")
    assert bad.status_code == 400 and "not after" in bad.json()["detail"]
    assert get(app, "unit", "/api/tickets", start="30/11/2026").status_code == 400


def test_tickets_received_between_two_moments_the_end_not_included(app):
    # make_ticket(n) is received n minutes after T0 (09:00 in Shanghai)
    between = get(app, "dispatcher", "/api/tickets", start=(T0 + timedelta(minutes=2)).isoformat(),
                  end=(T0 + timedelta(minutes=4)).isoformat()).json()
    assert {t["ticket_id"] for t in between["tickets"]} == {"web-2", "web-3"}
    naive = get(app, "dispatcher", "/api/tickets", start="2026-11-20T09:04").json()  # a moment in Shanghai
    assert {t["ticket_id"] for t in naive["tickets"]} == {"web-4", "web-5"}
    assert get(app, "dispatcher", "/api/tickets", start="2026-11-20", end="2026-11-20").json()["total"] == 5
    assert get(app, "dispatcher", "/api/tickets", end="2026-11-19").json()["total"] == 0
    same = get(app, "dispatcher", "/api/tickets", start="2026-11-20T09:04", end="2026-11-20T09:04")
    assert same.status_code == 400 and "not after the start" in same.json()["detail"]
    assert get(app, "dispatcher", "/api/tickets").json()["total"] == 5
    # the filters' counts are of the same tickets
    assert get(app, "unit", "/api/facets").json()["lead_unit"] == {"housing": 1, "transport": 1}
    assert get(app, "dispatcher", "/api/facets").json()["lead_unit"]["ecology-environment"] == 2
    # among the tickets the other filters select: a choice's count is what choosing it lists
    narrowed = get(app, "dispatcher", "/api/facets", district="A1区", lead_unit="housing").json()
    for unit, count in narrowed["lead_unit"].items():
        assert get(app, "dispatcher", "/api/tickets", district="A1区", lead_unit=unit).json()["total"] == count
    assert narrowed["status"] == {"dispatched": 1, "pending_review": 1}  # web-1 and web-5 lead housing
    assert get(app, "unit", "/api/facets", lead_unit="transport").json()["status"] == {"dispatched": 1}


def test_a_unit_sees_its_own_figures_and_late_tickets_not_the_others_nor_the_archive(app):
    mine = get(app, "unit", "/api/supervision").json()
    assert [u["unit"] for u in mine["units"]] == ["housing"] and mine["total"] is None
    assert mine["units"][0]["tickets"] == 1  # web-1; not web-3 (it assists), not web-5 (waits for a dispatcher)
    assert {item["unit"] for item in mine["late"]} <= {"housing"}
    everyone = get(app, "supervisor", "/api/supervision").json()
    assert len(everyone["units"]) > 1 and everyone["total"]["tickets"] == 5
    assert get(app, "unit", "/api/supervision/archive").status_code == 403
    with TestClient(app) as client:
        assert client.post("/api/alerts/x/acknowledge", auth=("unit", "unit-demo")).status_code == 403
    page = get(app, "unit", "/supervision")
    assert page.status_code == 200 and "本单位 My unit" in page.text and "export-archive" not in page.text
    assert get(app, "monitor", "/api/supervision").status_code == 403


def test_a_units_figures_count_what_it_returned_as_the_centres_row_for_it_does(app, tmp_path):
    from hotline.lifecycle import Lifecycle
    from hotline.models import TicketEvent

    store = SQLiteStore(tmp_path / "store.db")  # the file the app reads
    returned = TicketEvent(event_id="e-r", ticket_id="web-1", kind="returned", at=T0 + timedelta(hours=1),
                           actor="unit", data={"reason": "不属于我单位职责"})
    assert store.apply_event(returned, Lifecycle(max_returns=3))[0] == "applied"
    store.close()
    mine = get(app, "unit", "/api/supervision").json()["units"]
    centre = [u for u in get(app, "supervisor", "/api/supervision").json()["units"] if u["unit"] == "housing"]
    assert [u["unit"] for u in mine] == ["housing"] and mine[0]["returned"] == 1  # web-1, waiting again
    assert mine[0]["tickets"] == 0 and mine == centre


def test_a_unit_reads_the_tickets_it_returned_or_was_late_to_accept_without_personal_data_nor_acting(app, tmp_path):
    from urllib.parse import parse_qsl, urlsplit

    from hotline.lifecycle import Lifecycle
    from hotline.models import TicketEvent

    store = SQLiteStore(tmp_path / "store.db")  # the file the app reads
    store.write_tickets([make_ticket(7, accept_due=T0)])  # housing's, to accept by T0
    for event in [TicketEvent(event_id="e-r", ticket_id="web-1", kind="returned", at=T0 + timedelta(hours=1),
                              actor="dispatcher", data={"reason": "请联系13812345678核实"}),
                  TicketEvent(event_id="e-m", ticket_id="web-7", kind="rerouted", at=T0 + timedelta(hours=1),
                              actor="supervisor", data={"lead_unit": "transport", "reason": "交通问题"})]:
        assert store.apply_event(event, Lifecycle(max_returns=3))[0] == "applied"
    store.close()
    # the unit's own row: each count opens, for the unit's user, as many tickets as it says
    row = get(app, "unit", "/api/supervision").json()["units"][0]
    assert (row["unit"], row["returned"], row["accepted_late"]) == ("housing", 1, 1)
    for count, ticket_id in (("returned", "web-1"), ("accepted_late", "web-7")):
        query = dict(parse_qsl(urlsplit(row[f"{count}_href"]).query))
        assert [t["ticket_id"] for t in get(app, "unit", "/api/tickets", **query).json()["tickets"]] == [ticket_id]
    # its list otherwise holds its work: the tickets with it now; another unit's filter cannot widen it
    assert [t["ticket_id"] for t in get(app, "unit", "/api/tickets").json()["tickets"]] == ["web-3"]
    assert get(app, "unit", "/api/tickets", returned_by="ecology-environment").json()["total"] == 0
    assert get(app, "unit", "/api/facets", returned_by="housing").json()["status"] == {"pending_review": 1}
    for ticket_id in ("web-1", "web-7"):
        page = get(app, "unit", f"/tickets/{ticket_id}")
        assert page.status_code == 200 and 'id="read-only"' in page.text, ticket_id
        assert 'id="personal"' not in page.text and 'id="event-form"' not in page.text, ticket_id
        assert "personal" not in get(app, "unit", f"/api/tickets/{ticket_id}").json(), ticket_id
        with TestClient(app) as client:
            acted = client.post(f"/api/tickets/{ticket_id}/events", json={"kind": "accepted"}, auth=("unit", "unit-demo"))
        assert acted.status_code == 403 and "no longer with" in acted.json()["detail"], ticket_id
    # the return's reason quotes a phone number: masked for the unit now, as the ticket is no longer its own
    reasons = [e["data"]["reason"] for e in get(app, "unit", "/api/tickets/web-1/events").json()["events"]]
    assert reasons and "13812345678" not in reasons[0]
    assert "13812345678" in get(app, "dispatcher", "/api/tickets/web-1/events").json()["events"][0]["data"]["reason"]
    # a ticket with the unit now shows its personal data to it, and the actions its role may take
    page = get(app, "unit", "/tickets/web-3")  # assisting (协办)
    assert 'id="personal"' in page.text and 'id="read-only"' not in page.text and 'id="event-form"' in page.text
    assert "personal" in get(app, "unit", "/api/tickets/web-3").json()
    assert get(app, "unit", "/api/tickets/web-2").status_code == 403  # never with housing


def test_another_units_ticket_is_refused_with_the_reason(app):
    for path in ("/api/tickets/web-2", "/api/tickets/web-2/events", "/api/tickets/web-2/similar", "/tickets/web-2"):
        refused = get(app, "unit", path)
        assert refused.status_code == 403, path
        assert "not with A市住房和城乡建设局" in refused.text, path
    # the API says so in JSON, a page in a page of the app's own
    assert get(app, "unit", "/api/tickets/web-2").json()["detail"].startswith("ticket web-2 is not with")
    page = get(app, "unit", "/tickets/web-2")
    assert page.headers["content-type"].startswith("text/html") and 'id="error-detail"' in page.text
    assert 'id="whoami"' in page.text  # with the user's header and navigation
    assert get(app, "unit", "/tickets/web-9").status_code == 404
    with TestClient(app) as client:  # nor can it act on one
        acted = client.post("/api/tickets/web-2/events", json={"kind": "accepted"}, auth=("unit", "unit-demo"))
        assert acted.status_code == 403 and "not with" in acted.text
    assert get(app, "unit", "/api/tickets/web-3").status_code == 200  # assisting (协办)
    assert get(app, "unit", "/api/tickets/web-1/events").status_code == 200
    assert get(app, "dispatcher", "/api/tickets/web-2").status_code == 200
    assert get(app, "unit", "/api/tickets/web-9").status_code == 404
    assert get(app, "unit", "/api/tickets/web-5").status_code == 403  # waiting for a dispatcher: with no unit yet


def test_dead_letters_are_the_centres(app):
    assert get(app, "unit", "/api/rejections").status_code == 403
    assert get(app, "unit", "/rejected").status_code == 403
    assert 'href="/rejected"' not in get(app, "unit", "/tickets").text
    assert get(app, "dispatcher", "/api/rejections").json()["total"] == 1
    assert 'href="/rejected"' in get(app, "dispatcher", "/tickets").text


def test_the_opinion_monitor_is_the_centres_and_only_monitors_handle_its_alerts(app, tmp_path):
    more = SQLiteStore(tmp_path / "store.db")  # the app's file
    more.write_opinion_alerts([Surge("s1", "district=A6区", 12, 0.2, 1e-9, T0, T0 + timedelta(hours=1), ("web-1",))], T0)
    more.close()
    for path in ("/monitor", "/api/monitor/volume", "/api/monitor/topics", "/api/monitor/alerts"):
        refused = get(app, "unit", path)
        assert refused.status_code == 403 and "centre" in refused.text, path
    assert 'id="nav-monitor"' not in get(app, "unit", "/tickets").text
    assert 'id="nav-monitor"' in get(app, "supervisor", "/tickets").text
    assert get(app, "supervisor", "/api/monitor/alerts").json()["alerts"][0]["alert_id"] == "s1"
    assert 'data-can-handle=""' in (page := get(app, "supervisor", "/monitor").text) and 'id="assign"' not in page
    assert 'data-can-handle="yes"' in (page := get(app, "monitor", "/monitor").text)
    assert '<dialog id="assign">' in page and '<option value="A6区人民政府">' in page  # assigned to a unit, or anyone

    def handle(user, action, body=None):
        with TestClient(app) as client:
            return client.post(f"/api/monitor/alerts/s1/{action}", json=body, auth=(user, f"{user}-demo"))

    for user in ("supervisor", "dispatcher", "unit"):
        assert handle(user, "assign", {"to": "A6区人民政府"}).status_code == 403, user
        assert handle(user, "acknowledge").status_code == 403, user
    assert get(app, "monitor", "/api/monitor/alerts").json()["alerts"][0]["assigned_to"] is None
    refused = handle("supervisor", "acknowledge")
    assert "monitor permission" in refused.json()["detail"]
    assert handle("monitor", "assign", {"to": "A6区人民政府"}).json()["assigned_to"] == "A6区人民政府"
    assert handle("monitor", "acknowledge").json()["acknowledged_by"] == "monitor"
    assert get(app, "monitor", "/api/monitor/alerts").json()["alerts"] == []  # open ones only


def test_the_second_level_topic_filter_narrows_the_list(app):
    listed = get(app, "dispatcher", "/api/tickets", subdomain="物业服务").json()
    assert [t["ticket_id"] for t in listed["tickets"]] == ["web-1"]


@pytest.mark.parametrize("change, message", [
    ("role: unit, unit: housing,", "user 'unit' has role unit: name its unit"),
    ("unit: housing,", "user 'unit': unknown unit 'housnig'"),
])
def test_a_unit_user_without_a_known_unit_is_refused_at_start_with_its_line(tmp_path, change, message):
    config = tmp_path / "config"
    shutil.copytree(PROJECT_DIR / "config", config)
    users = config / "users.yaml"
    lines = users.read_text(encoding="utf-8").splitlines()
    number = next(i for i, line in enumerate(lines) if "username: unit," in line)
    lines[number] = lines[number].replace(change, "role: unit," if change.startswith("role") else "unit: housnig,")
    users.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = load_settings({"HOTLINE_HOME": str(tmp_path / "home"), "HOTLINE_CONFIG_DIR": str(config)})
    with pytest.raises(ConfigError, match=rf"^{users}:{number + 1}: {message}"):
        services.build_users(settings, services.build_router(settings))


def test_the_pages_own_requests_get_no_basic_challenge_when_logged_out(app):
    """A browser would answer the challenge with its own log-in dialog, and the page never see the 401."""
    with TestClient(app) as client:
        for headers in ({"X-Requested-With": "fetch"}, {"Accept": "text/event-stream"}):
            refused = client.get("/api/tickets" if "X-Requested-With" in headers else "/api/stream", headers=headers)
            assert refused.status_code == 401 and "www-authenticate" not in refused.headers, headers
        tool = client.get("/api/tickets")  # curl, a script: the challenge says how to log in
        assert tool.status_code == 401 and tool.headers["www-authenticate"] == "Basic"


def test_event_texts_are_masked_for_roles_that_may_not_see_personal_data(app, tmp_path):
    from hotline.lifecycle import Lifecycle
    from hotline.lifecycle import Lifecycle
    from hotline.models import TicketEvent

    store = SQLiteStore(tmp_path / "store.db")  # the app's file
    reply = TicketEvent(event_id="reply-1", ticket_id="web-1", kind="replied", at=T0.replace(hour=15), actor="unit",
                        data={"reply": "已联系市民，电话13812345678"})
    assert store.apply_event(reply, Lifecycle(max_returns=1)) == ("applied", "")
    store.close()
    for user, shown in (("supervisor", "已联系市民，电话138****5678"), ("dispatcher", "已联系市民，电话13812345678")):
        events = get(app, user, "/api/tickets/web-1/events").json()["events"]
        assert [e["data"]["reply"] for e in events] == [shown], user
        page = get(app, user, "/tickets/web-1")
        assert page.status_code == 200 and shown in page.text, user
    assert "13812345678" not in get(app, "supervisor", "/tickets/web-1").text


def test_the_list_marks_open_tickets_past_their_reply_deadline(app, tmp_path):
    from datetime import datetime, timedelta

    from hotline.timestamps import SHANGHAI

    store = SQLiteStore(tmp_path / "store.db")  # the app's own file
    later = datetime.now(SHANGHAI) + timedelta(days=30)
    store.write_tickets([make_ticket(6, reply_due=T0), make_ticket(7, reply_due=later),
                         make_ticket(8, reply_due=T0, status="pending_review")])
    store.close()
    listed = {t["ticket_id"]: t["overdue"] for t in get(app, "dispatcher", "/api/tickets").json()["tickets"]}
    assert (listed["web-6"], listed["web-7"], listed["web-8"], listed["web-1"]) == (True, False, True, False)


def _csv_rows(response) -> list[dict]:
    """The rows of a CSV download written for Excel (UTF-8 with a byte-order mark)."""
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_list_exports_every_ticket_it_selects_as_csv_without_personal_data(app, tmp_path):
    more = SQLiteStore(tmp_path / "store.db")  # the app's file: more tickets than a page of the store and 64 KB
    more.write_tickets([make_ticket(n, status="pending_review" if n % 7 == 0 else "dispatched") for n in range(6, 2505)]
                       + [make_ticket(2505, title="=HYPERLINK(\"http://x\")")])
    more.close()
    exported = get(app, "dispatcher", "/api/tickets/export")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"] and exported.content.startswith(b"\xef\xbb\xbf")
    rows = _csv_rows(exported)
    listed = get(app, "dispatcher", "/api/tickets").json()
    assert len(rows) == listed["total"] == 2505 and [r["工单编号"] for r in rows[:2]] == ["web-1", "web-2"]
    assert "张三" not in exported.text and "13812345678" not in exported.text  # masked title only, no personal data
    assert rows[0]["承办单位"] == "A市住房和城乡建设局" and rows[0]["状态"] == "已派单" and rows[0]["渠道"] == "网络"
    assert rows[6]["承办单位"].endswith("（建议）")  # web-7 waits for a dispatcher: its unit is a suggestion
    assert rows[-1]["标题"] == "'=HYPERLINK(\"http://x\")"  # a citizen's text is never a spreadsheet formula

    # the filters of the list, and a unit's user's own tickets only
    held = get(app, "dispatcher", "/api/tickets/export", held_by="housing", district="A1区")
    count = get(app, "dispatcher", "/api/tickets", held_by="housing", district="A1区").json()["total"]
    assert len(_csv_rows(held)) == count > 0
    mine = _csv_rows(get(app, "unit", "/api/tickets/export"))
    assert len(mine) == get(app, "unit", "/api/tickets").json()["total"] < 2505
    assert get(app, "unit", "/api/tickets/export", start="nope").status_code == 400


def test_a_dead_letter_is_sent_again_only_by_the_centre_s_intake_and_only_as_a_valid_record(app, tmp_path):
    more = SQLiteStore(tmp_path / "store.db")  # the app's file
    event = make_rejection("ticket.events", "e-1", "event", "no such ticket", b'{"event_id": "e-1"}', T0)
    done = make_rejection("web", "bad-2", "normalise", "empty text", b'{"id": "bad-2"}', T0)
    more.write_rejections([event, done])
    more.mark_rejection_resent(done.rejection_id, "web-bad-2", "admin", T0)
    letter = next(r for r in more.iter_rejections() if r["source_ref"] == "bad-1")
    more.close()
    fixed = {"id": "bad-1", "title": "路灯不亮", "text": "A2区某路段路灯不亮。"}

    def resend(user, rejection_id, record):
        with TestClient(app) as client:
            return client.post(f"/api/rejections/{rejection_id}/resend", json=record, auth=(user, f"{user}-demo"))

    shown = get(app, "dispatcher", f"/api/rejections/{letter['rejection_id']}").json()
    assert shown["payload"] == '{"id": "bad-1"}' and shown["resent_as"] is None
    assert get(app, "unit", f"/api/rejections/{letter['rejection_id']}").status_code == 403
    assert get(app, "dispatcher", "/api/rejections/nope").status_code == 404
    for user in ("supervisor", "monitor", "unit"):  # no intake, or no unmasked original, or not the centre
        assert resend(user, letter["rejection_id"], fixed).status_code == 403, user
    assert resend("dispatcher", "nope", fixed).status_code == 404
    assert resend("dispatcher", event.rejection_id, fixed).status_code == 400
    assert resend("dispatcher", done.rejection_id, fixed).status_code == 409
    still = resend("dispatcher", letter["rejection_id"], {"id": "bad-1", "text": " ", "time": "2026年13月45日"})
    assert still.status_code == 400 and still.json()["detail"].startswith("still not a ticket: ")
    assert resend("dispatcher", letter["rejection_id"], [fixed]).status_code == 400  # not a JSON object
    # valid, but this app has no Kafka: not sent, and the dead letter is not marked
    assert resend("dispatcher", letter["rejection_id"], fixed).status_code == 503
    reread = SQLiteStore(tmp_path / "store.db")
    assert reread.get_rejection(letter["rejection_id"])["resent_as"] is None
    reread.close()


def test_a_tickets_topic_names_the_units_its_other_tickets_went_to_as_far_as_the_user_sees(app, tmp_path):
    from hotline.topics import Assignment, Topic

    store = SQLiteStore(tmp_path / "store.db")  # the file the app reads
    topic = Topic("topic-web-1", {"物业": 0.8, "电梯": 0.6}, 3, T0, T0, "web-1", 1.0)
    store.write_topics([Assignment(f"web-{n}", "topic-web-1", 0.9, None, n == 1, False) for n in (1, 3, 5)], [topic], [])
    store.close()
    waiting = get(app, "dispatcher", "/api/tickets/web-5/topic").json()
    assert waiting["topic"]["topic_id"] == "topic-web-1" and waiting["topic"]["label"].startswith("物业、电梯")
    assert [(d["lead_unit"], d["tickets"]) for d in waiting["dispatched"]] == [("housing", 1), ("transport", 1)]
    assert waiting["dispatched"][0]["lead_unit_name"] != "housing"  # named as the centre names it
    assert waiting["waiting"] == 1  # web-5 itself: the others went to units
    # web-5 waits for a dispatcher: it went nowhere, and a unit's user sees only its unit's tickets (web-3 assists)
    assert [(d["lead_unit"], d["tickets"]) for d in get(app, "unit", "/api/tickets/web-1/topic").json()["dispatched"]] \
        == [("transport", 1)]
    assert get(app, "dispatcher", "/api/tickets/web-2/topic").json() == {"topic": None, "dispatched": [],
                                                                          "merge_into": None, "waiting": 0}
    assert get(app, "unit", "/api/tickets/web-2/topic").status_code in (403, 404)  # not its unit's ticket



def test_a_near_copy_offers_to_merge_into_the_ticket_that_answers_for_its_original(app, tmp_path):
    from hotline.lifecycle import Lifecycle
    from hotline.models import TicketEvent
    from hotline.topics import Assignment, Topic

    store = SQLiteStore(tmp_path / "store.db")  # the file the app reads
    # web-5 (waiting) is a near-copy of web-4, which was itself merged into web-1: a merge of web-5 joins web-1
    store.write_topics([Assignment("web-1", "topic-1", 1.0, None, True, False),
                        Assignment("web-4", "topic-1", 0.9, "web-1", False, False),
                        Assignment("web-5", "topic-1", 0.9, "web-4", False, False)],
                       [Topic("topic-1", {"物业": 0.8}, 3, T0, T0, "web-1", 1.0)], [])
    merged = TicketEvent(event_id="e-m", ticket_id="web-4", kind="merged", at=T0 + timedelta(hours=1),
                         actor="dispatcher", data={"into": "web-1"})
    assert store.apply_event(merged, Lifecycle(max_returns=3))[0] == "applied"
    # web-3 (housing assists) is a near-copy of web-2 (ecology-environment's alone)
    store.write_topics([Assignment("web-2", "topic-2", 1.0, None, True, False),
                        Assignment("web-3", "topic-2", 0.9, "web-2", False, False)],
                       [Topic("topic-2", {"工地": 0.8}, 2, T0, T0, "web-2", 1.0)], [])
    store.close()
    names = {u["id"]: u["name"] for u in get(app, "dispatcher", "/api/units").json()["units"]}
    target = get(app, "dispatcher", "/api/tickets/web-5/topic").json()["merge_into"]
    assert target == {"ticket_id": "web-1", "title": "标题1", "received_at": target["received_at"],
                      "status_name": "已派单", "holder_name": names["housing"]}
    assert target["received_at"].startswith("2026-11-20T09:01")
    # the ticket page's merge form is filled with it
    assert 'name="into" placeholder="并入工单 Merge into (ticket id)" value="web-1"' in get(app, "dispatcher", "/tickets/web-5").text
    # the original is offered only to a user who may see it
    assert get(app, "dispatcher", "/api/tickets/web-3/topic").json()["merge_into"]["ticket_id"] == "web-2"
    assert get(app, "unit", "/api/tickets/web-3/topic").json()["merge_into"] is None
    assert 'value=""' in get(app, "admin", "/tickets/web-1").text.split('id="event-into"')[1].split(">")[0]
    # a merge into a ticket that was itself merged is refused, naming the ticket to merge into
    with TestClient(app) as client:
        refused = client.post("/api/tickets/web-5/events", json={"kind": "merged", "data": {"into": "web-4"}},
                              auth=("dispatcher", "dispatcher-demo"))
    assert refused.status_code == 409 and "merged into web-1" in refused.json()["detail"]


def test_a_ticket_page_says_how_late_an_open_ticket_is_as_the_supervision_page_counts_it(tmp_path):
    settings = load_settings({"HOTLINE_HOME": str(tmp_path / "home")})
    now = T0 + timedelta(days=3, hours=1)  # Monday 2026-11-23 10:00 in Shanghai
    store = SQLiteStore(tmp_path / "store.db")
    store.write_tickets([make_ticket(1, reply_due=T0 + timedelta(hours=2)),       # Friday 11:00: overdue
                         make_ticket(3, reply_due=now + timedelta(hours=2)),      # two working hours left
                         make_ticket(5, reply_due=now + timedelta(days=3))])      # Thursday: not yet due soon
    router = services.build_router(settings)
    app = create_app(store=store, users=services.build_users(settings, router), router=router,
                     segmenter=services.segmenter(settings), secret="test", clock=lambda: now,
                     lifecycle=services.build_lifecycle(settings, router),
                     alert_policy=services.build_alert_policy(settings))
    try:
        late = {t["ticket_id"]: t for t in get(app, "supervisor", "/api/supervision").json()["late"]}
        assert set(late) == {"web-1", "web-3"}
        overdue = late["web-1"]["late_working_days"]
        assert late["web-1"]["level"] == "overdue" and overdue > 0 and late["web-3"]["level"] == "due_soon"
        assert late["web-1"]["urgeable"] and late["web-1"]["urged"] == 0  # dispatched: one may urge its unit on
        page = get(app, "supervisor", "/tickets/web-1").text
        assert f'<span id="late" class="overdue">已超期 overdue by {overdue} 个工作日 working days</span>' in page
        page = get(app, "supervisor", "/tickets/web-3").text
        assert f'<span id="late" class="due_soon">临期 due in {-late["web-3"]["late_working_days"]} 个工作日' in page
        assert 'id="late"' not in get(app, "supervisor", "/tickets/web-5").text
        # the supervision row's 超期 cell links to the tickets it counts
        row = next(u for u in get(app, "supervisor", "/api/supervision").json()["units"] if u["unit"] == "housing")
        assert row["overdue_open"] == 1 and row["overdue_open_href"] == "/tickets?held_by=housing&overdue=1"
        listed = get(app, "supervisor", "/api/tickets", held_by="housing", overdue="1").json()
        assert [t["ticket_id"] for t in listed["tickets"]] == ["web-1"]
        assert get(app, "supervisor", "/api/tickets", overdue="1").json()["total"] == 1
        # a period counts only the tickets received in it, while the late list has every open ticket late now:
        # web-7 (housing's) and web-8 (another unit's), received two months before and still open, and not web-9,
        # replied
        store.write_tickets([make_ticket(n, received_at=T0 - timedelta(days=60), reply_due=T0 - timedelta(days=55))
                             for n in (7, 8, 9)])
        replied = TicketEvent(event_id="web-9-reply", ticket_id="web-9", kind="replied", at=T0 - timedelta(days=56),
                              actor="unit", data={"reply": "已答复"})
        assert store.apply_event(replied, services.build_lifecycle(settings, router)) == ("applied", "")
        period = {"start": (T0 - timedelta(days=1)).date().isoformat()}
        figures = get(app, "supervisor", "/api/supervision", **period).json()
        assert figures["total"]["tickets"] == 3  # web-1, web-3, web-5
        assert {t["ticket_id"] for t in figures["late"]} == set(late) | {"web-7", "web-8"}
        assert [t["ticket_id"] for t in figures["late"] if t["level"] == "overdue"][-1] == "web-1"  # most overdue first
        assert get(app, "supervisor", "/api/supervision").json()["late"] == figures["late"]  # the same without a period
        # a unit's user likewise: its own late tickets, whenever received (housing: web-1, web-3, web-7)
        mine = get(app, "unit", "/api/supervision", **period).json()
        assert {t["ticket_id"] for t in mine["late"]} == {"web-1", "web-3", "web-7"} and mine["units"][0]["tickets"] == 3
    finally:
        store.close()


def test_a_merged_ticket_shows_the_answer_of_the_ticket_it_joined_which_lists_it(app, tmp_path):
    from hotline.lifecycle import Lifecycle
    from hotline.models import TicketEvent

    store = SQLiteStore(tmp_path / "store.db")  # the file the app reads
    rules = Lifecycle(max_returns=3)
    for n, (ticket_id, kind, data) in enumerate([("web-5", "merged", {"into": "web-1"}),
                                                 ("web-1", "replied", {"reply": "已维修电梯，回访电话13812345678"})]):
        event = TicketEvent(event_id=f"e-{n}", ticket_id=ticket_id, kind=kind, at=T0 + timedelta(hours=n + 1),
                            actor="dispatcher", data=data)
        assert store.apply_event(event, rules)[0] == "applied"
    store.close()
    housing = {u["id"]: u["name"] for u in get(app, "dispatcher", "/api/units").json()["units"]}["housing"]
    merged = get(app, "dispatcher", "/tickets/web-5").text
    assert '<a id="main-ticket" href="/tickets/web-1">标题1</a>' in merged
    assert f"(已答复 · {housing})" in merged and '<span id="main-reply">已维修电梯，回访电话13812345678</span>' in merged
    masked = get(app, "supervisor", "/tickets/web-5").text  # a role without personal data: the reply masked
    assert '<span id="main-reply">已维修电梯，回访电话138****5678</span>' in masked
    main = get(app, "dispatcher", "/tickets/web-1").text
    assert '<a id="merged-here" href="/tickets?merged_into=web-1">1 件</a>' in main
    assert [t["ticket_id"] for t in get(app, "dispatcher", "/api/tickets", merged_into="web-1").json()["tickets"]] == ["web-5"]
    # web-5 was merged before it was dispatched: no unit's ticket, so housing's user is not told of it
    assert 'id="merged-here"' not in get(app, "unit", "/tickets/web-1").text
    assert 'id="merged-here"' not in get(app, "dispatcher", "/tickets/web-3").text


def test_the_callback_worklist_lists_whom_to_call_earliest_due_first_for_the_callback_team_only(tmp_path):
    from datetime import datetime

    from hotline.models import TicketEvent
    from hotline.timestamps import SHANGHAI

    settings = load_settings({"HOTLINE_HOME": str(tmp_path / "home")})
    router = services.build_router(settings)
    rules = services.build_lifecycle(settings, router)
    now = datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI)  # Thursday
    store = SQLiteStore(tmp_path / "store.db")
    from hotline.models import PersonalData

    # make_ticket(n): received Friday 2026-11-20; web-2 a web message with its numbers in the text only
    web_message = PersonalData(title="标题2", text="请回电0731-84561234或13900001111，谢谢")
    store.write_tickets([make_ticket(1), make_ticket(2, caller=None, phone=None, personal=web_message,
                                                     text="请回电0731-****1234或139****1111，谢谢"),
                         make_ticket(3), make_ticket(4),
                         make_ticket(5, personal=PersonalData(caller="李四", phone="13700001111", title="标题5", text="同样"))])
    for n, at, kind, data in [
        (1, datetime(2026, 11, 20, 15, tzinfo=SHANGHAI), "replied", {"reply": "已联系市民，电话13812345678"}),
        (2, datetime(2026, 11, 23, 10, tzinfo=SHANGHAI), "replied", {"reply": "已处理"}),
        (3, datetime(2026, 11, 20, 11, tzinfo=SHANGHAI), "replied", {"reply": "已处理"}),
        (3, datetime(2026, 11, 24, 9, tzinfo=SHANGHAI), "callback_failed", {"reason": "无人接听"}),
        (4, datetime(2026, 11, 20, 10, tzinfo=SHANGHAI), "replied", {"reply": "已处理"}),
        (4, datetime(2026, 11, 23, 9, tzinfo=SHANGHAI), "callback", {"satisfaction": "满意"}),
        (5, datetime(2026, 11, 20, 10, tzinfo=SHANGHAI), "merged", {"into": "web-1"}),  # the same issue: joins web-1
    ]:
        event = TicketEvent(event_id=f"{n}-{kind}", ticket_id=f"web-{n}", kind=kind, at=at, actor="x", data=data)
        assert store.apply_event(event, rules) == ("applied", "")
    app = create_app(store=store, users=services.build_users(settings, router), router=router,
                     segmenter=services.segmenter(settings), secret="test", clock=lambda: now, lifecycle=rules,
                     alert_policy=services.build_alert_policy(settings))
    try:
        listed = get(app, "callback", "/api/callbacks").json()
        # due by the end of the third working day after the reply: web-3 and web-1 Wednesday (past; web-3 replied
        # first), web-2 Thursday
        assert [t["ticket_id"] for t in listed["tickets"]] == ["web-3", "web-1", "web-2"]
        assert (listed["total"], listed["overdue"], listed["attempts_allowed"]) == (3, 2, rules.policy.callback.attempts)
        first, second, third = listed["tickets"]
        assert (first["overdue"], first["callback_attempts"], first["callback_due"]) == (True, 1, "2026-11-25T17:30:00+08:00")
        assert (second["overdue"], second["caller"], second["phones"]) == (True, "张三", ["13812345678"])  # whom to call
        assert (third["overdue"], third["callback_due"]) == (False, "2026-11-26T17:30:00+08:00")
        assert (third["caller"], third["phones"]) == ("", ["0731-84561234", "13900001111"])
        assert third["text"] == "请回电0731-84561234或13900001111，谢谢"  # the callback team sees the original
        assert second["reply"] == "已联系市民，电话13812345678" and second["lead_unit_name"] != "housing"
        # web-5's caller, merged into web-1, is owed the same answer
        assert second["merged"] == [{"ticket_id": "web-5", "caller": "李四", "phones": ["13700001111"]}]
        assert first["merged"] == [] and third["merged"] == []
        assert get(app, "admin", "/api/callbacks").json()["total"] == 3
        # the ticket list selects the same tickets in the same order (the worklist's "as a list" link)
        same = get(app, "supervisor", "/api/tickets", awaiting_callback="1", order="callback").json()
        assert [t["ticket_id"] for t in same["tickets"]] == ["web-3", "web-1", "web-2"] and same["total"] == 3
        assert get(app, "supervisor", "/api/tickets", order="soonest").status_code == 400
        for user in ("supervisor", "unit", "dispatcher"):  # no callback permission
            refused = get(app, user, "/api/callbacks")
            assert refused.status_code == 403 and "callback permission" in refused.json()["detail"], user
            assert get(app, user, "/callbacks").status_code == 403, user
            assert 'id="nav-callbacks"' not in get(app, user, "/tickets").text, user
        with TestClient(app) as client:  # recording a callback needs the permission too (checked before Kafka)
            refused = client.post("/api/tickets/web-1/events", json={"kind": "callback", "data": {"satisfaction": "满意"}},
                                  auth=("supervisor", "supervisor-demo"))
            assert refused.status_code == 403 and "callback permission" in refused.json()["detail"]
        page = get(app, "callback", "/callbacks")
        assert page.status_code == 200 and 'id="nav-callbacks"' in page.text and 'id="cb-list"' in page.text
        ticket = get(app, "callback", "/tickets/web-3").text
        assert "待回访 due by 2026-11-25 17:30 · 未接通 1 次" in ticket
        assert '<option value="callback">' in ticket and '<option value="callback_failed">' in ticket
    finally:
        store.close()


def test_supervision_counts_callbacks_reached_given_up_and_due_and_links_each_count_to_its_tickets(tmp_path):
    from datetime import datetime
    from urllib.parse import parse_qsl, urlsplit

    from hotline.models import TicketEvent
    from hotline.timestamps import SHANGHAI

    settings = load_settings({"HOTLINE_HOME": str(tmp_path / "home")})
    router = services.build_router(settings)
    rules = services.build_lifecycle(settings, router)
    store = SQLiteStore(tmp_path / "store.db")
    store.write_tickets([make_ticket(n) for n in (1, 2, 3, 5, 7, 9)]  # odd: housing, 2: ecology-environment
                        + [make_ticket(11, accept_due=T0)]  # to be accepted by 2026-11-20 09:00
                        # never accepted: by the same deadline (late at the page's clock), and by 2026-11-25 09:00
                        + [make_ticket(13, accept_due=T0), make_ticket(15, accept_due=T0 + timedelta(days=5))]
                        + [make_ticket(17, accept_due=T0)])  # housing lets its deadline pass; then re-routed
    replied, calls = datetime(2026, 11, 20, 15, tzinfo=SHANGHAI), rules.policy.callback.attempts
    steps = [(n, "replied", {"reply": "已处理"}) for n in (1, 2, 3, 5, 9)]
    steps += [(7, "returned", {"reason": "不属于本单位职责"}), (9, "callback", {"satisfaction": "不满意", "reason": "未修好"})]
    steps += [(1, "callback_failed", {})] * calls                                          # web-1: given up
    steps += [(3, "callback_failed", {}), (3, "callback", {"satisfaction": "满意"})]  # web-3: reached at the second call
    steps += [(2, "callback", {"satisfaction": "基本满意"})]                           # web-2; web-5 still due
    steps += [(11, "accepted", {})]                                                  # web-11: late
    steps += [(13, "urged", {"reason": "请尽快签收"})]                                 # web-13: urged on (催办)
    steps += [(17, "rerouted", {"lead_unit": "ecology-environment", "reason": "生态环境问题"})]  # web-17: to ecology
    for i, (n, kind, data) in enumerate(steps):
        event = TicketEvent(event_id=f"e{i}", ticket_id=f"web-{n}", kind=kind, at=replied + timedelta(hours=i),
                            actor="x", data=data)
        assert store.apply_event(event, rules) == ("applied", "")
    app = create_app(store=store, users=services.build_users(settings, router), router=router,
                     segmenter=services.segmenter(settings), secret="test", lifecycle=rules,
                     alert_policy=services.build_alert_policy(settings),
                     clock=lambda: datetime(2026, 11, 24, 9, tzinfo=SHANGHAI))
    try:
        figures = get(app, "supervisor", "/api/supervision").json()
        units = {u["unit"]: u for u in figures["units"]}
        housing, ecology, total = units["housing"], units["ecology-environment"], figures["total"]
        assert (housing["callbacks"], housing["callback_given_up"], housing["awaiting_callback"]) == (2, 1, 1)
        assert housing["callback_rate"] == round(2 / 3, 4) and ecology["callback_rate"] == 1.0  # web-9's reached too
        assert (total["callbacks"], total["callback_given_up"], total["awaiting_callback"], total["callback_rate"]) == (
            3, 1, 1, 0.75)

        def listed(href):  # the ticket list a count links to
            assert href.startswith("/tickets?")
            return [t["ticket_id"] for t in get(app, "supervisor", "/api/tickets", **dict(parse_qsl(urlsplit(href).query))).json()["tickets"]]

        assert listed(housing["callback_given_up_href"]) == ["web-1"]
        assert listed(housing["awaiting_callback_href"]) == ["web-5"]
        assert listed(ecology["callback_given_up_href"]) == []
        assert listed(housing["reopened_href"]) == ["web-9"] and listed(housing["returned_href"]) == ["web-7"]
        from webapp.supervision import COUNTED

        for row in [*figures["units"], total]:  # every count links to as many tickets as it says
            for count in ["tickets", *COUNTED, "returned", "accepted_late"]:
                assert len(listed(row[f"{count}_href"])) == row[count], (row["unit"], count)
        exported = list(csv.reader(io.StringIO(get(app, "supervisor", "/api/supervision/export").content.decode("utf-8-sig"))))
        header, rows = exported[0], {row[0]: row for row in exported[1:]}
        assert rows["housing"][header.index("无法回访")] == "1" and rows["housing"][header.index("回访率")] == "0.6667"
        assert 'id="given-up"' in get(app, "supervisor", "/tickets/web-1").text
        assert 'id="given-up"' not in get(app, "supervisor", "/tickets/web-3").text  # reached after a missed call
        # 签收超时: web-11 accepted late; web-13, and web-9 since it was reopened, not accepted with the deadline
        # passed; web-17 not accepted by housing by its deadline before it was re-routed to ecology-environment,
        # which has not accepted it by its own since; web-15 has time left
        assert sorted(listed(housing["accepted_late_href"])) == ["web-11", "web-13", "web-17", "web-9"]
        assert housing["accepted_late"] == 4 and housing["accept_on_time_rate"] == 0.0
        assert listed(ecology["accepted_late_href"]) == ["web-17"] and ecology["accepted_late"] == 1
        assert sorted(listed(total["accepted_late_href"])) == ["web-11", "web-13", "web-17", "web-9"] == sorted(
            t["ticket_id"] for t in get(app, "supervisor", "/api/tickets", accepted_late="1").json()["tickets"])
        assert total["accepted_late"] == 4
        assert "曾签收超时" in get(app, "supervisor", "/tickets/web-17").text
        assert "曾签收超时" not in get(app, "supervisor", "/tickets/web-13").text  # late, but still with housing
        with TestClient(app) as client:  # the list's CSV says so too
            exported = client.get("/api/tickets/export", params={"accepted_late": "1"}, auth=("supervisor", "supervisor-demo"))
        assert sorted((r["工单编号"], r["按时签收"], r["催办次数"]) for r in _csv_rows(exported)) == [
            ("web-11", "否", "0"), ("web-13", "", "1"), ("web-17", "", "0"), ("web-9", "", "0")]
        housing_name = router.units["housing"].name
        assert {r["工单编号"]: r["曾签收超时单位"] for r in _csv_rows(exported)} == {
            "web-11": "", "web-13": "", "web-17": housing_name, "web-9": ""}
        assert "签收超时" in get(app, "supervisor", "/tickets/web-11").text
        assert "超时未签收 not accepted by 2026-11-20 09:00" in get(app, "supervisor", "/tickets/web-13").text
        assert "签收时限 accept by 2026-11-25 09:00" in get(app, "supervisor", "/tickets/web-15").text
        # a supervisor may urge the unit on (催办), the unit may not; the ticket says how often it was
        urged = get(app, "supervisor", "/tickets/web-13").text
        assert '<dd id="urged">1 次</dd>' in urged and '<option value="urged">' in urged
        assert '<option value="urged">' not in get(app, "unit", "/tickets/web-13").text
        assert '<dd id="urged">' not in get(app, "supervisor", "/tickets/web-15").text
        assert housing["urged"] == 1 and listed(housing["urged_href"]) == ["web-13"]  # the figures' 催办
        # what housing has to accept (待签收), earliest acceptance deadline first, those past it said so
        to_accept = get(app, "unit", "/api/tickets", status="dispatched", order="accept").json()["tickets"]
        assert [(t["ticket_id"], t["accept_overdue"]) for t in to_accept] == [
            ("web-13", True), ("web-9", True), ("web-15", False)]
        assert [t["accept_due"] for t in to_accept] == sorted(t["accept_due"] for t in to_accept)
        assert "签收超时" not in get(app, "supervisor", "/tickets/web-3").text  # make_ticket: no acceptance deadline
    finally:
        store.close()
