"""The whole system as a user runs it: `hotline up` (real Tansu broker, Faust worker, web app, SQLite file)."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from cli.settings import SAMPLES_DIR
from tests.conftest import start_stack, stop_stack, wait_until

pytestmark = pytest.mark.broker


def by_id(rows: list[dict], key: str = "ticket_id") -> dict[str, dict]:
    return {r[key]: r for r in rows}


def test_sample_tickets_are_normalised_classified_routed_and_stored(stack):
    result = stack.run("ingest", str(SAMPLES_DIR / "hotline_tickets.jsonl"), "--channel", "hotline")
    assert result.returncode == 0, result.stderr.decode()
    assert "320 of 320 rows accounted for" in result.stderr.decode()
    tickets = {k: v for k, v in by_id(stack.export()).items() if k.startswith("hotline-H2026")}
    assert len(tickets) == 320
    samples = [json.loads(line) for line in (SAMPLES_DIR / "hotline_tickets.jsonl").read_text("utf-8").splitlines()]
    traditional = next(s for s in samples if "區" in s["text"] or "醫" in s["text"])
    stored = tickets[f"hotline-{traditional['id']}"]
    assert "區" not in stored["text"] and "醫" not in stored["text"]
    with_phone = next(s for s in samples if "联系电话" in s["text"])
    assert with_phone["phone"] not in tickets[f"hotline-{with_phone['id']}"]["text"]
    for t in tickets.values():
        assert t["domain"] and 0 < t["confidence"] <= 1 and len(t["top"]) == 3
        assert t["lead_unit"] and t["rule_id"] in t["routing_explanation"]
        assert t["status"] in ("dispatched", "pending_review")
        assert t["reply_due"] > t["received_at"] and t["deadline_policy"]
    domains = {t["domain"] for t in tickets.values()}
    assert len(domains) == 7


def test_garbage_goes_to_dead_letters_and_the_worker_keeps_going(stack, tmp_path):
    garbage = tmp_path / "garbage.jsonl"
    lines = [
        json.dumps({"id": "g-empty", "title": "", "text": "   "}),
        json.dumps({"id": "g-date", "title": "日期", "text": "内容", "time": "2019/2/30 10:00"}),
        json.dumps({"id": "g-type", "title": "类型", "text": "内容", "type": "表扬"}),
        json.dumps({"id": "g-huge", "title": "超长", "text": "长" * 1_000_000}, ensure_ascii=False),
        json.dumps({"title": "没有编号", "text": "内容"}),
        "{this is not json",
        "[1, 2, 3]",
    ]
    garbage.write_bytes(("\n".join(lines) + "\n").encode("utf-8") + b"\xff\xfe\xfd not utf-8\n")
    result = stack.run("ingest", str(garbage), "--channel", "web")
    assert result.returncode == 0, result.stderr.decode()
    assert "8 of 8 rows accounted for" in result.stderr.decode()

    # Raw bytes straight onto the intake topic, bypassing every reader.
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=stack.state["bootstrap"])
    producer.send("intake.hotline", key=None, value=b"\x00\x01 binary junk")
    producer.send("intake.hotline", key=b"k", value=b"")
    producer.flush()
    producer.close()

    def letters():
        return [r for r in stack.export(rejected=True) if "garbage.jsonl" in r["source_ref"]
                or r["source_ref"].startswith("g-") or r["channel"] == "hotline"]
    def ten_letters():
        rows = letters()
        return rows if len(rows) >= 10 else None
    found = wait_until(ten_letters, 60, message="10 dead letters")
    reasons = " | ".join(r["reason"] for r in found)
    for expected in ("empty text", "impossible date", "unknown ticket type", "over the intake limit",
                     "missing source id", "not JSON", "expected an object", "not valid UTF-8"):
        assert expected in reasons
    huge = next(r for r in found if "over the intake limit" in r["reason"])
    assert huge["payload_truncated"] and huge["payload_size"] > 1_000_000 and huge["stage"] == "intake"

    # The worker is still alive: a good record still becomes a ticket.
    ok = tmp_path / "ok.jsonl"
    ok.write_text(json.dumps({"id": "after-garbage", "title": "公交", "text": "公交车班次太少"}, ensure_ascii=False) + "\n", "utf-8")
    assert stack.run("ingest", str(ok), "--channel", "web").returncode == 0
    assert "web-after-garbage" in by_id(stack.export())


def test_an_unknown_channel_is_refused_clearly(stack, tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"id": "1", "text": "x"}\n', "utf-8")
    result = stack.run("ingest", str(path), "--channel", "fax")
    assert result.returncode == 2 and "fax" in result.stderr.decode()
    with stack.client() as client:
        response = client.post("/api/intake/fax", json={"id": "1", "text": "x"})
    assert response.status_code == 404 and "unknown channel" in response.json()["detail"]


def test_reingest_adds_nothing_and_a_changed_duplicate_is_rejected(stack, tmp_path):
    path = tmp_path / "dups.jsonl"
    path.write_text(json.dumps({"id": "dup-1", "title": "路灯", "text": "路灯不亮"}, ensure_ascii=False) + "\n", "utf-8")
    assert stack.run("ingest", str(path), "--channel", "web").returncode == 0
    before = (len(stack.export()), len(stack.export(rejected=True)))
    second = stack.run("ingest", str(path), "--channel", "web")
    assert "new tickets 0, new dead letters 0" in second.stderr.decode()
    assert (len(stack.export()), len(stack.export(rejected=True))) == before

    path.write_text(json.dumps({"id": "dup-1", "title": "路灯", "text": "路灯还是不亮"}, ensure_ascii=False) + "\n", "utf-8")
    assert stack.run("ingest", str(path), "--channel", "web").returncode == 0
    letters = wait_until(lambda: [r for r in stack.export(rejected=True) if r["source_ref"] == "dup-1"], 30)
    assert "already stored with different content" in letters[0]["reason"]
    assert stack.export() and by_id(stack.export())["web-dup-1"]["text"] == "路灯不亮"


def test_http_intake_and_roles(stack):
    record = {"id": "http-1", "title": "噪音", "text": "楼下餐馆油烟扰民，电话13912345678", "caller": "李四",
              "phone": "13912345678", "type": "投诉"}
    with httpx.Client(base_url=stack.url) as anonymous:
        assert anonymous.post("/api/intake/hotline", json=record).status_code == 401
        assert anonymous.get("/api/tickets").status_code == 401
    with stack.client("monitor") as monitor:
        assert monitor.post("/api/intake/hotline", json=record).status_code == 403
    with stack.client("dispatcher") as dispatcher:
        response = dispatcher.post("/api/intake/hotline", json=[record])
        assert response.status_code == 202 and response.json()["records"][0]["ticket_id"] == "hotline-http-1"
        assert dispatcher.post("/api/intake/hotline", content=b"{oops").status_code == 400
        ticket = wait_until(lambda: (r := dispatcher.get("/api/tickets/hotline-http-1")).status_code == 200 and r.json(), 60)
        assert ticket["personal"]["phone"] == "13912345678"
        assert "13912345678" not in ticket["text"]
        found = dispatcher.get("/api/tickets", params={"q": "油烟"}).json()
        assert any(t["ticket_id"] == "hotline-http-1" for t in found["tickets"])
    with stack.client("monitor") as monitor:
        seen = monitor.get("/api/tickets/hotline-http-1").json()
        assert "personal" not in seen and seen["caller"] == "李*"

    # A dead letter keeps the original payload, personal data included: masked for a monitor.
    bad = {"id": "http-bad", "title": "", "text": "", "phone": "13988887777"}
    with stack.client("dispatcher") as dispatcher:
        assert dispatcher.post("/api/intake/hotline", json=bad).status_code == 202
        letter = wait_until(lambda: next((r for r in dispatcher.get("/api/rejections").json()["rejections"]
                                          if r["source_ref"] == "http-bad"), None), 60)
        assert "13988887777" in letter["payload"]
    with stack.client("monitor") as monitor:
        masked = next(r for r in monitor.get("/api/rejections").json()["rejections"] if r["source_ref"] == "http-bad")
        assert "13988887777" not in masked["payload"] and "139****7777" in masked["payload"]


@pytest.mark.shared_data
def test_the_reply_export_is_fully_accounted_for_and_reingest_adds_nothing(stack, shared_data):
    path = shared_data / "tipdm2020c" / "messages_replies.csv"
    args = ["ingest", str(path), "--channel", "web", "--id-col", "留言编号", "--title-col", "留言主题",
            "--text-col", "留言详情", "--time-col", "留言时间"]
    first = stack.run(*args)
    assert first.returncode == 0, first.stderr.decode()

    def counts():
        tickets = [t for t in stack.export() if t["ticket_id"].startswith("web-") and t["source_id"].isdigit()]
        letters = [r for r in stack.export(rejected=True) if "messages_replies.csv" in r["source_ref"]
                   or r["source_ref"].isdigit()]
        return len(tickets), len(letters)
    tickets, letters = counts()
    assert tickets + letters == 2816
    assert all(t["domain"] and t["lead_unit"] and t["confidence"] for t in stack.export() if t["source_id"] == "2549")
    second = stack.run(*args)
    assert second.returncode == 0 and "new tickets 0, new dead letters 0" in second.stderr.decode()
    assert counts() == (tickets, letters)


@pytest.mark.shared_data
def test_replayed_replies_reproduce_the_files_latency(stack, shared_data):
    import csv
    import statistics

    from hotline.timestamps import parse_timestamp

    path = shared_data / "tipdm2020c" / "messages_replies.csv"
    args = ["ingest", str(path), "--channel", "web", "--id-col", "留言编号", "--title-col", "留言主题",
            "--text-col", "留言详情", "--time-col", "留言时间", "--reply-col", "答复意见", "--reply-time-col", "答复时间"]
    result = stack.run(*args)
    assert result.returncode == 0, result.stderr.decode()
    stored = {t["source_id"]: t for t in stack.export() if t["ticket_id"].startswith("web-")}
    with open(path, encoding="utf-8-sig") as handle:
        rows = [r for r in csv.DictReader(handle) if r["留言编号"] in stored]
    assert len(rows) > 2700
    days = [(parse_timestamp(r["答复时间"]) - parse_timestamp(r["留言时间"])).total_seconds() / 86400 for r in rows]
    replied = [stored[r["留言编号"]] for r in rows]
    assert all(t["status"] == "replied" and t["reply_working_days"] is not None for t in replied)

    report = stack.run("report", "--from", "2010-01-01", "--to", "2020-12-31", "--format", "csv")
    assert report.returncode == 0, report.stderr.decode()
    total = next(r for r in csv.DictReader(report.stdout.decode().splitlines()) if r["unit"] == "all")
    assert int(total["replied"]) == len(rows)
    assert float(total["median_reply_days"]) == round(statistics.median(days), 2)  # 11.21 on the whole file
    assert float(total["mean_reply_days"]) == round(statistics.mean(days), 2)
    assert 0 < float(total["median_reply_working_days"]) < float(total["median_reply_days"])
    markdown = stack.run("report", "--from", "2010-01-01", "--to", "2020-12-31").stdout.decode()
    all_row = next(line for line in markdown.splitlines() if line.startswith("| 全部单位 |"))
    assert "- 签收超时 = 晚于签收时限签收" in markdown  # the notes say what the figures count
    assert f"| {total['median_reply_days']} |" in all_row and f"| {len(rows)} |" in all_row
    html_file = stack.home / "report.html"
    assert stack.run("report", "--from", "2010-01-01", "--to", "2020-12-31", "--format", "html",
                     "--out", str(html_file)).returncode == 0
    assert f"<td>{total['median_reply_days']}</td>" in html_file.read_text(encoding="utf-8")
    assert stack.run("report", "--from", "2020-12-31", "--to", "2010-01-01").returncode != 0

    from classifiers.segment import Segmenter
    from cli.settings import PROJECT_DIR
    from hotline.archive import publication_mask
    from hotline.pii import mask
    from hotline.text import clean

    published_as = publication_mask(Segmenter(PROJECT_DIR / "config" / "userdict.txt"))

    archived = stack.run("archive", "--from", "2010-01-01", "--to", "2020-12-31", "--format", "jsonl")
    assert archived.returncode == 0, archived.stderr.decode()
    published = by_id([json.loads(line) for line in archived.stdout.decode().splitlines()])
    answered = {t["ticket_id"] for t in replied if t["ticket_type"] != "举报"}
    assert answered and answered == set(published) & {t["ticket_id"] for t in replied}, "answered ones, no report"
    assert f"{len(published)} ticket(s) published" in archived.stderr.decode()
    checked = [(row, published[stored[row["留言编号"]]["ticket_id"]]) for row in rows[:200]
               if stored[row["留言编号"]]["ticket_id"] in published]
    assert len(checked) > 100
    for row, record in checked:
        assert record["reply"] == (published_as(clean(row["答复意见"])) or None)
        assert record["text"] == published_as(stored[row["留言编号"]]["text"]) and "caller" not in record
    assert any(record["reply"] != mask(clean(row["答复意见"])) for row, record in checked)  # names nothing marks

    again = stack.run(*args)  # replies are events with fixed ids: a second replay changes nothing
    assert again.returncode == 0, again.stderr.decode()
    assert stack.run("report", "--from", "2010-01-01", "--to", "2020-12-31", "--format", "csv").stdout == report.stdout


def test_metrics_for_prometheus_match_the_store(stack):
    import httpx

    response = httpx.get(stack.url + "/metrics", timeout=30)  # no log-in: aggregate counts only
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    lines = [line for line in response.text.splitlines() if line and not line.startswith("#")]
    stored = sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith("hotline_tickets_stored_total{"))
    with stack.client() as client:
        assert stored == client.get("/api/tickets", params={"limit": 1}).json()["total"] > 0
    count = next(float(line.split()[1]) for line in lines if line.startswith("hotline_classification_confidence_count"))
    assert count == stored
    assert any(line.startswith('hotline_consumer_lag{group="hotline-pipeline",topic="intake.web"') for line in lines)
    for state in ("overdue", "due_within_day", "accept_overdue"):
        assert any(line.startswith(f'hotline_open_tickets_deadline{{state="{state}"}}') for line in lines), state


def test_up_stops_everything_on_ctrl_c(tmp_path, sample_model):
    running = start_stack(tmp_path, sample_model)
    bootstrap_port = int(running.state["bootstrap"].rsplit(":", 1)[1])
    web_port = int(running.url.rsplit(":", 1)[1])
    assert (tmp_path / "run.json").exists()
    code = stop_stack(running.process)
    assert code == 0, running.log.read_text()
    assert not (tmp_path / "run.json").exists()
    for port in (bootstrap_port, web_port):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
