"""Supervisors on a running stack driven by a replayed clock (one hour of ticket time per second): a ticket
left without acceptance and reply gets its late-acceptance alerts, due-soon warning, then its overdue alert,
each once, at the right working time, in the store and on the alerts topic; the supervision page shows them
in Chromium."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import time
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml

from cli.settings import PROJECT_DIR
from hotline.lifecycle import AWAITING_DISPATCH, STATUS_NAMES
from hotline.timestamps import SHANGHAI
from tests.conftest import ARTIFACTS, start_stack, stop_stack, wait_until
from tests.test_web_browser import browser, log_in  # noqa: F401 (the browser fixture)
from webapp.supervision import COUNTED, DEFAULT_DAYS

pytestmark = [pytest.mark.broker, pytest.mark.browser]

START = datetime(2026, 11, 23, 8, 0, tzinfo=SHANGHAI)  # a Monday
SPEED = 3600.0


@pytest.fixture(scope="module")
def replay(tmp_path_factory, sample_model):
    home = tmp_path_factory.mktemp("replay-home")
    config = home / "config"
    shutil.copytree(PROJECT_DIR / "config", config)
    alerts = yaml.safe_load((config / "alerts.yaml").read_text(encoding="utf-8"))
    alerts["scan_seconds"] = 0.5  # half an hour of replayed time between scans
    (config / "alerts.yaml").write_text(yaml.safe_dump(alerts, allow_unicode=True), encoding="utf-8")
    anchor = time.time()
    running = start_stack(home, sample_model, {
        "HOTLINE_CONFIG_DIR": str(config), "HOTLINE_CLOCK_START": START.isoformat(),
        "HOTLINE_CLOCK_SPEED": str(SPEED), "HOTLINE_CLOCK_ANCHOR": str(anchor),
    })
    running.now = lambda: START + timedelta(seconds=(time.time() - anchor) * SPEED)
    try:
        yield running
    finally:
        stop_stack(running.process)


def test_a_ticket_left_without_reply_is_warned_then_escalated_once(replay):
    from cli.services import build_calendar
    from cli.settings import load_settings

    calendar = build_calendar(load_settings())
    received = replay.now().replace(microsecond=0)
    with replay.client("dispatcher") as client:
        record = {"id": "late-1", "title": "咨询公积金提取", "text": "请问A3区公积金提取需要什么材料", "type": "咨询",
                  "time": received.isoformat()}
        assert client.post("/api/intake/hotline", json=record).status_code == 202
        ticket = wait_until(lambda: (r := client.get("/api/tickets/hotline-late-1")).status_code == 200 and r.json(), 60)
        if ticket["status"] == "pending_review":
            assert client.post("/api/tickets/hotline-late-1/dispatch", json={}).status_code == 202
        due = datetime.fromisoformat(ticket["reply_due"])
        assert due == calendar.add_working_days(received, 1).at  # 咨询: one working day

        def alerts():
            return client.get("/api/alerts", params={"ticket_id": "hotline-late-1"}).json()["alerts"]
        found = wait_until(lambda: (a := alerts()) and any(x["kind"] == "overdue" for x in a) and a, 120,
                           message="an overdue alert")
        time.sleep(3)  # three more hours of replayed time: nothing is raised twice
        found = alerts()
        accept_due = datetime.fromisoformat(client.get("/api/tickets/hotline-late-1").json()["accept_due"])
    assert sorted((a["kind"], a["level"]) for a in found) == [
        ("accept_overdue", 0), ("accept_overdue", 0), ("due_soon", 0), ("overdue", 1)]
    soon = next(a for a in found if a["kind"] == "due_soon")
    overdue = next(a for a in found if a["kind"] == "overdue")
    not_accepted = [a for a in found if a["kind"] == "accept_overdue"]  # 签收超时: to the unit and the dispatchers
    assert sorted(a["to"] for a in not_accepted) == ["承办单位", "热线中心派单员"]
    assert {datetime.fromisoformat(a["due_at"]) for a in not_accepted} == {accept_due} and accept_due < due
    assert datetime.fromisoformat(soon["due_at"]) == calendar.start_of_last_working_hours(due, 4)
    assert datetime.fromisoformat(overdue["due_at"]) == due
    for alert in (soon, overdue, *not_accepted):  # raised at the first scan after it fell due (scans every half hour)
        late = datetime.fromisoformat(alert["raised_at"]) - datetime.fromisoformat(alert["due_at"])
        assert timedelta(0) <= late < timedelta(hours=2), alert
    assert datetime.fromisoformat(soon["raised_at"]) < due

    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=replay.state["bootstrap"], consumer_timeout_ms=3000,
                             auto_offset_reset="earliest", enable_auto_commit=False)
    consumer.assign([TopicPartition("alerts", 0)])
    on_topic = [json.loads(m.value) for m in consumer]
    consumer.close()
    mine = [a["alert_id"] for a in on_topic if a["ticket_id"] == "hotline-late-1"]
    assert sorted(mine) == sorted(a["alert_id"] for a in found)  # on the topic too, once each

    listed = replay.run("alerts", "--json")
    assert listed.returncode == 0, listed.stderr.decode()
    open_ids = {a["alert_id"] for a in json.loads(listed.stdout)["alerts"]}
    # open now: the overdue alert, and the late acceptance (still not accepted); the due-soon warning gave way
    # to the overdue alert at the deadline (still kept, --all)
    assert {overdue["alert_id"], *(a["alert_id"] for a in not_accepted)} <= open_ids and soon["alert_id"] not in open_ids
    everything = replay.run("alerts", "--json", "--all")
    assert {a["alert_id"] for a in found} <= {a["alert_id"] for a in json.loads(everything.stdout)["alerts"]}


def test_supervision_page_shows_figures_late_tickets_and_alerts(browser, replay):  # noqa: F811
    received = (replay.now() - timedelta(days=10)).replace(microsecond=0)  # both long overdue on arrival
    records = [{"id": f"page-{n}", "title": title, "text": text, "type": "投诉", "time": received.isoformat()}
               for n, (title, text) in enumerate([("A1区小区物业不修电梯", "电梯坏了物业不管"),
                                                  ("A2区道路积水", "下雨后道路积水严重"),
                                                  ("A4区路灯不亮", "小区门口路灯坏了一周")])]  # page-2: never accepted
    with replay.client("dispatcher") as client:
        assert client.post("/api/intake/hotline", json=records).status_code == 202
        for n in range(3):
            ticket = wait_until(lambda: (r := client.get(f"/api/tickets/hotline-page-{n}")).status_code == 200 and r.json(), 60)
            if ticket["status"] == "pending_review":  # page-0 to the demo unit user's unit (config/users.yaml)
                body = {"lead_unit": "housing"} if n == 0 else {}
                assert client.post(f"/api/tickets/hotline-page-{n}/dispatch", json=body).status_code == 202
                ticket = wait_until(lambda: (t := client.get(f"/api/tickets/hotline-page-{n}").json())["status"] == "dispatched" and t, 60)
            assert n or ticket["lead_unit"] == "housing", "the unit user below sees only its unit's tickets"
    with replay.client("unit") as unit:  # a unit replies late to one of them: the figures count it
        tid = "hotline-page-0"
        assert unit.post(f"/api/tickets/{tid}/events", json={"kind": "replied", "data": {"reply": "已答复"}}).status_code == 202
        wait_until(lambda: unit.get(f"/api/tickets/{tid}").json()["status"] == "replied", 60)
    wait_until(lambda: any(a["ticket_id"] == "hotline-page-1" for a in
                           replay.client("supervisor").get("/api/alerts", params={"open": "true"}).json()["alerts"]),
               60, message="an open alert")
    with replay.client("dispatcher") as client:  # its unit returns the other: overdue, and with the centre now
        assert client.post("/api/tickets/hotline-page-1/return", json={"reason": "不属于本单位"}).status_code == 202
        wait_until(lambda: client.get("/api/tickets/hotline-page-1").json()["status"] == "pending_review", 60)

    page = log_in(browser, replay, "supervisor")
    page.goto(replay.url + "/supervision")
    page.wait_for_selector("#units tbody tr.total")
    page.wait_for_selector("#alerts tbody tr")
    page.wait_for_selector("#late tbody tr.overdue")
    # page-2, dispatched and never accepted: its late acceptance is listed as such (签收超时)
    wait_until(lambda: any(a["kind"] == "accept_overdue" and a["ticket_id"] == "hotline-page-2" for a in
                           replay.client("supervisor").get("/api/alerts", params={"open": "true"}).json()["alerts"]),
               60, message="a late acceptance")
    page.wait_for_selector("#alerts tbody tr.accept_overdue")
    kinds = page.locator("#alerts tbody tr.accept_overdue td:nth-child(2)").all_inner_texts()
    assert kinds and set(kinds) == {"签收超时"}, kinds
    # each alert names the unit it concerns: page-2's late acceptance, the unit that has not accepted it
    with replay.client("supervisor") as client:
        names = {u["id"]: u["name"] for u in client.get("/api/units").json()["units"]}
        page_2_unit = client.get("/api/tickets/hotline-page-2").json()["lead_unit"]
    late_acceptance = page.locator("#alerts tbody tr.accept_overdue", has=page.locator("a[href='/tickets/hotline-page-2']"))
    assert {late_acceptance.nth(i).locator("td:nth-child(4)").inner_text() for i in range(late_acceptance.count())} \
        == {names[page_2_unit]}
    # 催办 from the late list: page-2's unit is urged on; the count shows once a worker has applied it
    late_row = "#late tbody tr[data-ticket-id='hotline-page-2']"
    assert page.locator("#urge-form").is_hidden()
    waiting = "#late tbody tr[data-ticket-id='hotline-page-1']"  # returned: with no unit to urge on
    assert page.locator(waiting).count() == 1 and page.locator(f"{waiting} button").count() == 0
    page.locator(f"{late_row} button").click()
    assert page.locator("#urge-ticket").inner_text() == "A4区路灯不亮" and page.locator("#urge-form").is_visible()
    page.locator("#urge-form").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "supervision-urge.png"))
    page.click("#urge-form button[type=submit]")  # nothing asked: refused, and said why
    page.wait_for_function("document.getElementById('urge-result').textContent.includes('needs a reason')")
    page.fill("#urge-reason", "市民多次来电，请今日联系")
    page.press("#urge-reason", "Enter")
    page.wait_for_function("document.getElementById('urge-result').textContent === '已催办 urged: A4区路灯不亮'")
    page.wait_for_function(f"document.querySelector(\"{late_row} td:last-child\").textContent.startsWith('1 次')")
    assert page.locator("#urge-form").is_hidden()
    with replay.client("supervisor") as client:
        urgings = [a["message"] for a in client.get("/api/alerts", params={"ticket_id": "hotline-page-2"}).json()["alerts"]
                   if a["kind"] == "urged"]
        # the urging names the unit it urged on: the one holding the ticket then
        urged_units = [e["data"].get("unit") for e in client.get("/api/tickets/hotline-page-2/events").json()["events"]
                       if e["kind"] == "urged"]
        holding = client.get("/api/tickets/hotline-page-2").json()["lead_unit"]
    assert urgings == ["催办：市民多次来电，请今日联系"] and urged_units == [holding]
    # the replay starts on 2026-11-23: deadlines may fall in 2027; the page says so while the calendar lacks it
    from cli.services import build_calendar
    from cli.settings import load_settings

    notice = build_calendar(load_settings()).gap_notice(replay.now().date())
    shown = page.locator("#calendar-notice")
    assert (shown.inner_text() if shown.is_visible() else None) == notice
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "supervision.png"), full_page=True)
    # the page's period until one is chosen: the last 30 days, by the app's clock; its figures are the API's for it
    start = page.locator("#s-start").input_value()
    assert start == (replay.now().astimezone(SHANGHAI).date() - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
    assert page.locator("#export-csv").get_attribute("href").endswith(f"start={start}")
    total = page.locator("#units tbody tr.total td")
    api_units = replay.client("supervisor").get("/api/supervision", params={"start": start}).json()["units"]
    api = replay.client("supervisor").get("/api/supervision", params={"start": start}).json()["total"]
    assert total.nth(1).inner_text() == str(api["tickets"])  # 工单, then 签收及时率, 签收超时, 已答复
    assert int(total.nth(4).inner_text()) == api["replied"] >= 1
    returned = page.locator("#late tbody tr[data-ticket-id='hotline-page-1'] td")
    assert returned.nth(0).inner_text() == AWAITING_DISPATCH and returned.nth(2).inner_text() == "待派单"
    for row in page.locator("#late tbody tr.overdue").all():  # working days late; under 0.01 said so, not "0"
        assert re.fullmatch(r"超期 (<0\.01|\d+(\.\d{1,2})?)", row.locator("td").nth(4).inner_text()), row.inner_text()
        assert row.locator("td").nth(2).inner_text() in STATUS_NAMES.values()

    # refreshes asked for while one runs (live events, filter changes) wait for it: the page never has two
    # fetches of the figures under way at once; and they fill each table once
    in_flight, most = set(), []
    figures = lambda request: "/api/supervision?" in request.url  # noqa: E731
    page.on("request", lambda r: (in_flight.add(r), most.append(len(in_flight))) if figures(r) else None)
    for done in ("requestfinished", "requestfailed"):
        page.on(done, lambda r: in_flight.discard(r))
    page.evaluate("() => { const form = document.getElementById('s-filters');"
                  " for (let i = 0; i < 5; i++) form.dispatchEvent(new Event('change')); }")
    page.wait_for_timeout(2000)
    assert most and max(most) == 1, most
    for table, key in (("#alerts", "alertId"), ("#late", "ticketId"), ("#units", "unit")):
        keys = page.locator(f"{table} tbody tr").evaluate_all(f"rows => rows.map((r) => r.dataset.{key})")
        assert keys and len(keys) == len(set(keys)), (table, keys)

    # the newest open alerts, saying when there are more; a recipient narrows them
    with replay.client("supervisor") as client:  # page-1's to the dispatchers and to the supervision office
        every = wait_until(lambda: len((e := client.get("/api/alerts", params={"open": "true"}).json())["alerts"]) >= 2
                           and e, 60, message="two open alerts")
        newest = client.get("/api/alerts", params={"open": "true", "limit": 1}).json()
    assert every["more"] is False
    assert newest["more"] is True and [a["alert_id"] for a in newest["alerts"]] == [every["alerts"][0]["alert_id"]]
    # (alerts may still be raised meanwhile: the replayed clock runs on)
    to = every["alerts"][-1]["to"]
    others = {a["to"] for a in every["alerts"]} - {to}
    page.select_option("#alerts-to", to)
    page.wait_for_function("to => { const rows = [...document.querySelectorAll('#alerts tbody tr')];"
                           " return rows.length && rows.every((r) => r.cells[2].textContent === to); }", arg=to)
    shown = page.locator("#alerts tbody tr").evaluate_all("rows => rows.map((r) => r.dataset.alertId)")
    assert page.locator("#alerts-count").inner_text() == f"{len(shown)} 条"
    with replay.client("supervisor") as client:
        theirs = {a["alert_id"] for a in client.get("/api/alerts", params={"open": "true", "to": to}).json()["alerts"]}
    assert set(shown) <= theirs and all(a["to"] != to for a in every["alerts"] if a["alert_id"] not in theirs)
    page.select_option("#alerts-to", "")
    if others:  # all recipients again
        page.wait_for_function("to => [...document.querySelectorAll('#alerts tbody tr')].some((r) => r.cells[2].textContent !== to)",
                               arg=to)

    first_alert = page.locator("#alerts tbody tr").first
    alert_id = first_alert.get_attribute("data-alert-id")
    first_alert.locator("button").click()
    page.wait_for_function(f"!document.querySelector('#alerts tbody tr[data-alert-id=\"{alert_id}\"]')")
    acknowledged = [a for a in replay.client("supervisor").get("/api/alerts").json()["alerts"] if a["alert_id"] == alert_id]
    assert acknowledged[0]["acknowledged_by"] == "supervisor"

    # 归档公开: the page's link downloads the answered tickets of the page's period, without personal data
    href = page.locator("#export-archive").get_attribute("href")
    assert href.startswith("/api/supervision/archive?"), href
    archive = page.request.get(replay.url + href)
    assert archive.ok and archive.headers["content-type"].startswith("text/csv")
    published = {r["编号"]: r for r in csv.DictReader(io.StringIO(archive.body().decode("utf-8-sig")))}
    assert published["hotline-page-0"]["答复意见"] == "已答复" and "hotline-page-1" not in published

    # drill-down: every row's name opens the ticket list of exactly the tickets it counts: those the unit answers
    # for now (the centre's row, 待派单: those waiting for a dispatcher), received in the period chosen
    waiting = next(u for u in api_units if u["unit"] == AWAITING_DISPATCH)
    assert waiting["overdue_open"] >= 1
    with replay.client("supervisor") as client:
        for period in ({}, {"start": replay.now().date().isoformat()}):
            for unit in client.get("/api/supervision", params=period).json()["units"]:
                query = dict(parse_qsl(urlsplit(unit["tickets_href"]).query), limit=500)
                listed = client.get("/api/tickets", params=query).json()
                assert listed["total"] == unit["tickets"], (period, unit["unit"], unit["tickets_href"])
                # and each of its counts (超期, 已答复, 回访, 无法回访, 待回访, 重办, 在办, 退单) to its tickets
                for count in [*COUNTED, "returned"]:
                    query = dict(parse_qsl(urlsplit(unit[f"{count}_href"]).query), limit=500)
                    assert client.get("/api/tickets", params=query).json()["total"] == unit[count], (unit["unit"], count)
                waiting_listed = {t["status"] == "pending_review" for t in listed["tickets"]}
                assert waiting_listed <= {unit["unit"] == AWAITING_DISPATCH}, unit["unit"]
    for unit_id in (AWAITING_DISPATCH, next(u["unit"] for u in api_units if u["unit"] != AWAITING_DISPATCH)):
        page.goto(replay.url + "/supervision")
        unit_row = page.locator(f"#units tbody tr[data-unit='{unit_id}']")
        count = unit_row.locator("td").nth(1).inner_text()
        unit_row.locator("a").first.click()  # the unit's name (its overdue count links too)
        page.wait_for_function("document.getElementById('total').textContent.includes('条工单')")
        assert page.locator("#total").inner_text() == f"{count} 条工单 tickets", unit_id
        assert page.locator("#f-held_by").input_value() == unit_id and page.locator("#held-by").is_visible()
        exported = page.request.get(replay.url + page.locator("#export").get_attribute("href"))  # the list's CSV
        assert len(list(csv.DictReader(io.StringIO(exported.body().decode("utf-8-sig"))))) == int(count), unit_id
    page.screenshot(path=str(ARTIFACTS / "tickets-held-by.png"), full_page=True)
    page.locator("#held-by button").click()  # the filter taken off: the whole list again
    page.wait_for_function("!document.getElementById('total').textContent.startsWith('" + count + " ')")
    assert int(page.locator("#total").inner_text().split()[0]) > int(count)

    def follow(link: str, chip: str) -> str:
        """Click a count on the supervision page: the ticket list shows as many tickets, with the flag's chip."""
        page.goto(replay.url + "/supervision")
        count = page.locator(link).inner_text()
        page.locator(link).click()
        page.wait_for_function("document.getElementById('total').textContent.includes('条工单')")
        assert page.locator("#total").inner_text() == f"{count} 条工单 tickets" and page.locator(chip).is_visible()
        return count

    # a row's overdue count opens the list of those tickets
    follow(f"#units tbody tr[data-unit='{AWAITING_DISPATCH}'] td.overdue a", "#overdue-chip")
    # and its callbacks due (待回访): page-0, replied above, awaits its callback
    assert int(follow("#units tbody tr[data-unit='housing'] td a[href*='awaiting_callback=1']", "#callback-chip")) >= 1
    # the total row's counts link too: its open tickets (在办), every unit's
    follow("#units tbody tr.total a[href*='open=1']", "#open-chip")
    assert not page.locator("#held-by").is_visible()
    page.screenshot(path=str(ARTIFACTS / "tickets-open.png"))
    # and its 催办 count: page-2, urged on once above, marked so in the list
    assert follow("#units tbody tr.total a[href*='urged=1']", "#urged-chip") == "1"
    assert page.locator("#rows tr[data-ticket-id='hotline-page-2'] .urged").inner_text().strip() == "催办×1"
    # a unit's 签收超时 opens the tickets counted against it, wherever they are now, under its chip
    assert int(follow("#units tbody tr:not(.total) a[href*='accepted_late_by='] >> nth=0", "#accepted_late_by-chip")) >= 1
    assert page.locator("#f-accepted_late_by").input_value() and page.locator("#accepted_late_by-chip b").inner_text()

    with replay.client("supervisor") as client:
        exported = client.get("/api/supervision/export", params={"format": "csv"})
        rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert rows[-1]["unit"] == "all" and int(rows[-1]["工单"]) == api["tickets"]
        xlsx = client.get("/api/supervision/export", params={"format": "xlsx"})
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(xlsx.content))
        assert book.sheetnames == ["units", "overdue and due soon"] and book["units"].max_row == len(rows) + 1
        sheet = book["overdue and due soon"]
        header = [c.value for c in sheet[1]]
        late = [dict(zip(header, [c.value for c in r])) for r in sheet.iter_rows(min_row=2)]
        assert late and all(row["状态"] == STATUS_NAMES[row["status"]] for row in late), late
        assert client.get("/api/supervision", params={"start": "yesterday"}).status_code == 400
    with replay.client("monitor") as client:
        assert client.get("/api/supervision").status_code == 403
    page.close()


def test_a_unit_sees_its_own_figures_and_late_tickets_and_cannot_acknowledge(browser, replay):  # noqa: F811
    received = (replay.now() - timedelta(days=10)).replace(microsecond=0)
    with replay.client("dispatcher") as client:  # a housing ticket left without a reply: overdue, alerted
        record = {"id": "unit-late", "title": "A3区小区电梯停运", "text": "电梯停了一周物业不修", "type": "投诉",
                  "time": received.isoformat()}
        assert client.post("/api/intake/hotline", json=[record]).status_code == 202
        tid = "hotline-unit-late"
        ticket = wait_until(lambda: (r := client.get(f"/api/tickets/{tid}")).status_code == 200 and r.json(), 60)
        if ticket["status"] == "dispatched":
            assert client.post(f"/api/tickets/{tid}/return", json={"reason": "改派住建"}).status_code == 202
            wait_until(lambda: client.get(f"/api/tickets/{tid}").json()["status"] == "pending_review", 60)
        assert client.post(f"/api/tickets/{tid}/dispatch", json={"lead_unit": "housing"}).status_code == 202
    with replay.client("unit") as unit:
        wait_until(lambda: any(a["ticket_id"] == tid and a["to"] == "承办单位"
                               for a in unit.get("/api/alerts", params={"open": "true"}).json()["alerts"]),
                   60, message="the unit's alert")

    page = log_in(browser, replay, "unit")  # the demo unit user: housing (config/users.yaml)
    page.click("#nav-supervision")
    page.wait_for_selector(f"#late tbody tr[data-ticket-id='{tid}']")
    page.wait_for_selector("#alerts tbody tr")
    assert page.locator("#units tbody tr").evaluate_all("rows => rows.map((r) => r.dataset.unit)") == ["housing"]
    late = page.locator("#late tbody tr td:first-child").all_inner_texts()
    assert set(late) == {"A市住房和城乡建设局"}, late
    assert page.locator("#export-archive").count() == 0
    buttons = page.locator("#alerts tbody button").all()
    assert buttons and not any(b.is_visible() for b in buttons)
    assert page.locator("#urge-form").count() == 0 and page.locator("#late tbody button").count() == 0  # 催办: supervisors
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "supervision-unit.png"), full_page=True)

    # what the unit has to accept (待签收), earliest acceptance deadline first; the ticket past it says so
    with replay.client("unit") as unit:
        wait_until(lambda: any(t["ticket_id"] == tid and t["accept_overdue"] for t in unit.get(
            "/api/tickets", params={"status": "dispatched", "order": "accept"}).json()["tickets"]),
                   60, message="past the acceptance deadline")
    page.goto(replay.url + "/tickets?status=dispatched&order=accept")
    page.wait_for_selector(f"#rows tr[data-ticket-id='{tid}']")
    assert page.locator("#due-head").inner_text() == "签收时限 Accept by"
    due = page.locator(f"#rows tr[data-ticket-id='{tid}'] td").nth(7)
    assert due.inner_text().startswith("超时未签收 ") and due.get_attribute("class") == "overdue", due.inner_text()
    dues = [d.removeprefix("超时未签收 ") for d in page.locator("#rows tr td:nth-child(8)").all_inner_texts()]
    assert dues == sorted(dues) and set(page.locator("#rows tr td:last-child").all_inner_texts()) == {"已派单"}
    page.screenshot(path=str(ARTIFACTS / "tickets-to-accept.png"))
    page.close()
