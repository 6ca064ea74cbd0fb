"""Archiving for publication (归档公开): the rules, and `hotline archive` on a real SQLite file."""

import csv
import json
from collections import Counter
from datetime import timedelta

import pytest
from click.testing import CliRunner

from cli.main import main
from hotline.archive import COLUMNS, latest_reply, public_record, publish, withheld
from hotline.lifecycle import Lifecycle
from hotline.models import TicketEvent
from stores.sqlite import SQLiteStore
from tests.test_store_contract import T0, make_ticket


def test_only_answered_tickets_are_published_and_never_reports():
    assert withheld({"status": "replied", "ticket_type": "投诉"}) is None
    assert withheld({"status": "closed", "ticket_type": None}) is None
    for status in ("pending_review", "dispatched", "accepted", "merged"):
        assert withheld({"status": status, "ticket_type": "咨询"}) == "unanswered"
    assert withheld({"status": "closed", "ticket_type": "举报"}) == "confidential"


def test_a_reopened_tickets_answer_is_its_last_reply():
    events = [{"kind": "replied", "data": {"reply": "第一次答复"}}, {"kind": "callback", "data": {}},
              {"kind": "reopened", "data": {"reason": "不满意"}}, {"kind": "replied", "data": {"reply": "重办后答复"}}]
    assert latest_reply(events) == "重办后答复"
    assert latest_reply([{"kind": "accepted", "data": {}}]) is None


def test_replies_are_read_for_a_chunk_of_published_tickets_at_a_time():
    tickets = [{"ticket_id": f"t{n}", "channel": "web", "received_at": "2026-11-23T09:30:00+08:00", "title": "标题",
                "text": "内容", "lead_unit": "housing", "status": "pending_review" if n == 2 else "replied",
                "ticket_type": "投诉"} for n in range(6)]
    asked = []

    def events_by_ticket(ids):
        asked.append(ids)
        return {i: [{"kind": "replied", "data": {"reply": f"答复{i}"}}] for i in ids if i != "t4"}

    counts = Counter()
    records = list(publish(tickets, events_by_ticket, str, counts, chunk=2))
    assert asked == [["t0", "t1"], ["t3", "t4"], ["t5"]]
    assert [(r["ticket_id"], r["reply"]) for r in records] == [
        ("t0", "答复t0"), ("t1", "答复t1"), ("t3", "答复t3"), ("t4", None), ("t5", "答复t5")]
    assert counts == {"published": 5, "unanswered": 1}


def test_a_published_record_has_no_personal_data():
    ticket = make_ticket(1).model_dump()  # as the store gives it back: times as ISO text, with its handling
    ticket.update(received_at=ticket["received_at"].isoformat(), status="closed",
                  replied_at=(T0 + timedelta(days=2, minutes=1)).isoformat(), satisfaction="满意")
    events = [{"kind": "replied", "data": {"reply": "\n\t\t已处理，请联系13812345678或 zhang@example.com\t"}}]
    record = public_record(ticket, events, {"housing": "住建局"}.get)
    assert list(record) == [name for name, _ in COLUMNS]
    assert record["reply"] == "已处理，请联系138****5678或 z***@example.com"
    assert record["unit"] == "住建局" and record["channel"] == "网络留言"
    assert record["received_at"] == "2026-11-20 09:01" and record["replied_at"] == "2026-11-22 09:01"
    published = json.dumps(record, ensure_ascii=False)
    assert "张三" not in published and "13812345678" not in published and "原文" not in published


@pytest.fixture
def db(tmp_path):
    """A SQLite file: web-1 replied and called back, web-2 unanswered, web-3 a replied report (举报), web-4
    replied, received three days later; odd numbers are 城乡建设 (housing), even ones 环境保护."""
    path = tmp_path / "store.db"
    store = SQLiteStore(path)
    try:
        store.write_tickets([make_ticket(1), make_ticket(2), make_ticket(3, ticket_type="举报"),
                             make_ticket(4, received_at=T0 + timedelta(days=3))])
        rules = Lifecycle(max_returns=1)
        for ticket_id, days in (("web-1", 0), ("web-3", 0), ("web-4", 3)):
            event = TicketEvent(event_id=f"{ticket_id}-reply", ticket_id=ticket_id, kind="replied",
                                at=T0 + timedelta(days=days, hours=5), actor="unit",
                                data={"reply": "已答复，电话0731-84567890，经办人黄扬振"})
            assert store.apply_event(event, rules) == ("applied", "")
        callback = TicketEvent(event_id="web-1-callback", ticket_id="web-1", kind="callback",
                               at=T0 + timedelta(hours=6), actor="supervisor", data={"satisfaction": "基本满意"})
        assert store.apply_event(callback, rules) == ("applied", "")
    finally:
        store.close()
    return path


def test_hotline_archive_writes_a_periods_answered_tickets(db, tmp_path):
    out = tmp_path / "archive.csv"
    result = CliRunner().invoke(main, ["archive", "--from", "2026-11-20", "--to", "2026-11-21", "--db", str(db),
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
    with open(out, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["编号"] for r in rows] == ["web-1"]  # web-2 unanswered, web-3 a report, web-4 after the period
    row = rows[0]
    assert row["答复意见"] == "已答复，电话0731-****7890，经办人黄**" and row["回访满意度"] == "基本满意"
    assert row["承办单位"] == "A市住房和城乡建设局" and row["受理时间"] == "2026-11-20 09:01"
    assert "1 ticket(s) published" in result.stderr and "举报件不公开 1" in result.stderr
    assert "未答复（在办、待派单、已并单） 1" in result.stderr

    lines = CliRunner().invoke(main, ["archive", "--from", "2026-11-20", "--to", "2026-11-30", "--format", "jsonl",
                                      "--db", str(db)])
    assert lines.exit_code == 0, lines.output
    published = [json.loads(line) for line in lines.stdout.splitlines()]
    assert [r["ticket_id"] for r in published] == ["web-1", "web-4"]
    assert published[1]["satisfaction"] is None and published[1]["reply"] == "已答复，电话0731-****7890，经办人黄**"
    environment = CliRunner().invoke(main, ["archive", "--from", "2026-11-20", "--to", "2026-11-30",
                                            "--format", "jsonl", "--domain", "环境保护", "--db", str(db)])
    assert [json.loads(line)["ticket_id"] for line in environment.stdout.splitlines()] == ["web-4"]

    backwards = CliRunner().invoke(main, ["archive", "--from", "2026-11-21", "--to", "2026-11-20", "--db", str(db)])
    assert backwards.exit_code == 2 and "is before" in backwards.output


def test_the_supervision_pages_archive_download(db, tmp_path):
    """The web app on the same SQLite file through FastAPI's test client (no Kafka: nothing here sends to it)."""
    from cli import services
    from cli.settings import load_settings
    from tests.test_web_units import get
    from webapp.app import create_app

    settings = load_settings({"HOTLINE_HOME": str(tmp_path / "home")})
    router = services.build_router(settings)
    store = SQLiteStore(db)
    app = create_app(store=store, users=services.build_users(settings, router), router=router,
                     segmenter=services.segmenter(settings), secret="test",
                     lifecycle=services.build_lifecycle(settings, router),
                     alert_policy=services.build_alert_policy(settings))
    try:
        response = get(app, "supervisor", "/api/supervision/archive", start="2026-11-20", end="2026-11-21")
        assert response.status_code == 200 and response.content.startswith(b"\xef\xbb\xbf")
        assert response.headers["x-archive-counts"] == "confidential=1; published=1; unanswered=1"
        assert 'filename="archive-' in response.headers["content-disposition"]
        rows = list(csv.DictReader(response.content.decode("utf-8-sig").splitlines()))
        assert [r["编号"] for r in rows] == ["web-1"] and rows[0]["承办单位"] == "A市住房和城乡建设局"
        assert rows[0]["答复意见"] == "已答复，电话0731-****7890，经办人黄**"  # a name nothing marks, masked
        everything = get(app, "supervisor", "/api/supervision/archive", district="A1区")
        assert everything.headers["x-archive-counts"] == "confidential=1; published=2; unanswered=1"
        assert get(app, "supervisor", "/api/supervision/archive", start="last week").status_code == 400
        for user in ("unit", "monitor"):
            assert get(app, user, "/api/supervision/archive").status_code == 403, user
        page = get(app, "supervisor", "/supervision")
        assert 'id="export-archive" href="/api/supervision/archive"' in page.text
    finally:
        store.close()
