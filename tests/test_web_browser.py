"""The pages in Debian's headless Chromium (driven by Playwright), against a running `hotline up`."""

from __future__ import annotations

import json
import re
import shutil
import time
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from hotline.lifecycle import STATUS_NAMES
from hotline.timestamps import SHANGHAI, parse_timestamp
from samples.demo import sample_records
from tests.conftest import ARTIFACTS, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.broker]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM):
        pytest.fail("Chromium is not installed (make test installs Debian's chromium)")
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield instance
        finally:
            instance.close()


def log_in(browser, stack, user: str, password: str | None = None):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(stack.url + "/tickets")
    assert page.url.startswith(stack.url + "/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password or f"{user}-demo")
    page.click("button[type=submit]")
    return page


def send(stack, records):
    with stack.client() as client:
        response = client.post("/api/intake/hotline", json=records)
        assert response.status_code == 202, response.text


def test_no_ticket_data_without_logging_in(browser, stack):
    page = log_in(browser, stack, "monitor", "wrong password")
    assert page.locator("#login-error").is_visible()
    assert page.locator("#rows").count() == 0
    page.close()


def test_a_page_whose_session_lapses_goes_to_the_log_in_and_back(browser, stack):
    page = browser.new_page()
    page.goto(stack.url + "/login?next=/tickets")
    page.fill("input[name=username]", "monitor")
    page.fill("input[name=password]", "monitor-demo")
    page.click("button[type=submit]")
    page.wait_for_selector("#total:not(:text('…'))")
    page.context.clear_cookies()  # the session is gone; the page's next refresh is answered 401
    try:  # a search refreshes the list; a live refresh (tickets other tests send) may come first and go instead
        page.fill("#q", "物业", timeout=5_000)
    except PlaywrightTimeoutError:
        assert "/login" in page.url, page.url
    page.wait_for_url("**/login?next=*", timeout=10_000)
    page.fill("input[name=username]", "monitor")
    page.fill("input[name=password]", "monitor-demo")
    page.click("button[type=submit]")
    page.wait_for_url(stack.url + "/tickets")
    page.close()


def test_list_updates_live_and_detail_hides_personal_data_from_a_monitor(browser, stack):
    ARTIFACTS.mkdir(exist_ok=True)
    send(stack, [{"id": "browser-1", "title": "A2区小区物业乱收费", "text": "物业费上涨，电梯坏了，我的电话13700001111",
                  "caller": "王五", "phone": "13700001111", "type": "投诉"}])
    page = log_in(browser, stack, "monitor")
    page.wait_for_selector("tr[data-ticket-id='hotline-browser-1']", timeout=60_000)
    assert page.locator("#whoami").inner_text().endswith("monitor")

    # A ticket sent now appears without reloading the page (server-sent events).
    page.evaluate("window.__marker = 'same page'")
    send(stack, [{"id": "browser-live", "title": "工地夜间施工噪音扰民", "text": "A5区工地凌晨还在施工", "type": "投诉"}])
    row = page.wait_for_selector("tr[data-ticket-id='hotline-browser-live']", timeout=60_000)
    assert page.evaluate("window.__marker") == "same page"
    assert "噪音" in row.inner_text()
    page.screenshot(path=str(ARTIFACTS / "tickets-monitor.png"), full_page=False)
    # statuses are named as the centre names them, in the list and in the filter; every filter has its label
    statuses = page.locator("#rows tr td:last-child").all_inner_texts()
    assert statuses and set(statuses) <= set(STATUS_NAMES.values()), statuses
    # the filters' choices and counts follow the list live, and count the same tickets
    page.wait_for_function("document.querySelectorAll('#f-status option').length > 1")
    options = page.locator("#f-status option").all_inner_texts()[1:]
    listed = int(page.locator("#total").inner_text().split()[0])
    assert sum(int(re.search(r"\((\d+)\)$", o).group(1)) for o in options) == listed
    names = "|".join(STATUS_NAMES.values())
    assert options and all(re.fullmatch(rf"({names}) \(\d+\)", o) for o in options), options
    assert all(s.locator("option").first.inner_text() for s in page.locator("#filters select").all())

    # Search narrows the list.
    page.fill("#q", "物业 电梯")
    page.wait_for_function("document.querySelectorAll('#rows tr').length > 0 && "
                           "!document.querySelector(\"tr[data-ticket-id='hotline-browser-live']\")", timeout=30_000)
    assert page.locator("tr[data-ticket-id='hotline-browser-1']").count() == 1
    # and the filters' counts with it: each status's count among the tickets found (live tickets may arrive
    # meanwhile, so list and counts are read from one drawing)
    found = page.evaluate("""() => [document.getElementById('total').textContent,
        [...document.querySelectorAll('#f-status option')].slice(1).map((o) => o.textContent)]""")
    assert sum(int(re.search(r"\((\d+)\)$", o).group(1)) for o in found[1]) == int(found[0].split()[0]) < listed

    page.click("tr[data-ticket-id='hotline-browser-1'] a")
    page.wait_for_selector("#ticket")
    assert page.locator("#personal").count() == 0
    assert "13700001111" not in page.content()
    assert "137****1111" in page.locator("#text").inner_text()
    assert page.locator("#lead").inner_text()
    assert "rule" in page.locator("#explanation").inner_text()
    page.screenshot(path=str(ARTIFACTS / "ticket-monitor.png"), full_page=True)
    page.close()


def test_a_slow_answer_to_an_earlier_search_does_not_replace_a_later_one(browser, stack):
    send(stack, [{"id": "race-a", "title": "小区垃圾清运不及时", "text": "A3区某小区垃圾三天没人清运", "type": "投诉"},
                 {"id": "race-b", "title": "路口红绿灯故障", "text": "A4区某路口红绿灯不亮", "type": "投诉"}])
    page = log_in(browser, stack, "monitor")
    for ticket_id in ("hotline-race-a", "hotline-race-b"):
        page.wait_for_selector(f"tr[data-ticket-id='{ticket_id}']", timeout=60_000)
    # the answer to the first search comes two seconds late (the page's own fetch, slowed in the browser)
    page.evaluate("""() => { const real = window.fetch; window.fetch = (url, options) => {
        const answer = real(url, options);
        return decodeURIComponent(String(url)).includes("垃圾清运")
          ? answer.then((r) => new Promise((done) => setTimeout(() => done(r), 2000))) : answer; }; }""")
    page.fill("#q", "垃圾清运")
    page.wait_for_timeout(600)  # past the typing pause: its request is out
    page.fill("#q", "红绿灯")
    page.wait_for_function("!document.querySelector(\"tr[data-ticket-id='hotline-race-a']\")", timeout=30_000)
    page.wait_for_timeout(2500)  # the late answer has come
    assert page.locator("tr[data-ticket-id='hotline-race-b']").count() == 1
    assert page.locator("tr[data-ticket-id='hotline-race-a']").count() == 0
    page.close()


def queued(stack, client, source_id: str) -> None:
    """Wait until the ticket is stored; return it to the queue if it was dispatched."""
    for _ in range(120):
        response = client.get(f"/api/tickets/hotline-{source_id}")
        if response.status_code == 200:
            break
        time.sleep(0.5)
    assert response.status_code == 200, f"{source_id} not stored"
    if response.json()["status"] == "dispatched":
        assert client.post(f"/api/tickets/hotline-{source_id}/return", json={"reason": "不归我单位"}).status_code == 202


def test_a_slow_queue_answer_does_not_bring_back_a_ticket_dispatched_meanwhile(browser, stack):
    send(stack, [{"id": "queue-race", "title": "A8县农村饮水有异味", "text": "自来水有股怪味", "type": "投诉",
                  "time": "2001-01-02 08:00"}])
    with stack.client("dispatcher") as client:
        queued(stack, client, "queue-race")
    page = log_in(browser, stack, "dispatcher")
    page.click("#nav-queue")
    entry = "#queue-list li[data-ticket-id='hotline-queue-race']"
    page.wait_for_selector(entry, timeout=60_000)
    # the queue's next answer comes 2.5 seconds late (the page's own fetch, slowed in the browser)
    page.evaluate("""() => { const real = window.fetch; let slow = 1; window.fetch = (url, options) => {
        const answer = real(url, options);
        return String(url).includes("/api/queue") && slow-- > 0
          ? answer.then((r) => new Promise((done) => setTimeout(() => done(r), 2500))) : answer; }; }""")
    asked = []
    page.on("request", lambda request: asked.append(request.url) if "/api/queue" in request.url else None)
    send(stack, [{"id": "queue-race-other", "title": "小区路灯不亮", "text": "路灯坏了", "type": "求助"}])
    for _ in range(60):  # the store changed: the page loads the queue again, slowly, and it still lists the ticket
        if asked:
            break
        page.wait_for_timeout(500)
    assert asked, "no load of the queue after a change"
    with stack.client("dispatcher") as client:  # another dispatcher sends it meanwhile
        assert client.post("/api/tickets/hotline-queue-race/dispatch", json={}).status_code == 202
    page.wait_for_selector(entry, state="detached", timeout=30_000)
    page.wait_for_timeout(3000)  # the slow answer has come
    assert page.locator(entry).count() == 0
    page.close()


def test_a_dispatcher_sees_the_unmasked_personal_data(browser, stack):
    send(stack, [{"id": "browser-2", "title": "拖欠工资", "text": "公司拖欠三个月工资，电话13600002222",
                  "caller": "赵六", "phone": "13600002222", "type": "求助"}])
    page = log_in(browser, stack, "dispatcher")
    page.wait_for_selector("tr[data-ticket-id='hotline-browser-2']", timeout=60_000)
    page.goto(stack.url + "/tickets/hotline-browser-2")
    assert page.locator("#personal-phone").inner_text() == "13600002222"
    assert "赵六" in page.locator("#personal").inner_text()
    assert page.locator("#caller").inner_text().startswith("赵*")
    page.screenshot(path=str(ARTIFACTS / "ticket-dispatcher.png"), full_page=True)
    page.close()


def dispatched(stack, record: dict) -> dict:
    """Send a record and see its ticket dispatched: by a dispatcher to housing, the demo unit user's unit
    (config/users.yaml), if it waits for one; returns the ticket."""
    ticket_id = f"hotline-{record['id']}"
    send(stack, [record])
    with stack.client("dispatcher") as client:
        ticket = wait_until(lambda: (r := client.get(f"/api/tickets/{ticket_id}")).status_code == 200 and r.json(), 60)
        if ticket["status"] == "pending_review":
            assert client.post(f"/api/tickets/{ticket_id}/dispatch", json={"lead_unit": "housing"}).status_code == 202
            ticket = wait_until(lambda: (t := client.get(f"/api/tickets/{ticket_id}").json())["status"] == "dispatched" and t, 60)
    return ticket


def test_a_unit_and_a_supervisor_handle_a_ticket_on_its_page(browser, stack):
    ticket = dispatched(stack, {"id": "browser-loop", "title": "A3区路灯不亮", "text": "小区门口路灯坏了一个月", "type": "求助"})
    assert ticket["lead_unit"] == "housing", "the unit user below sees only its unit's tickets"

    def offered(page):
        return [o.split()[-1] for o in page.locator("#event-kind option").all_inner_texts()]

    def record(page, kind, **fields):
        """Record an event with the form: the page reloads once a worker has applied it."""
        page.select_option("#event-kind", kind)
        for name, value in fields.items():
            if name == "satisfaction":
                page.select_option("#event-satisfaction", value)
            else:
                page.fill(f"#event-{name}", value)
        with page.expect_navigation(timeout=60_000):
            page.click("#event-form button[type=submit]")
        return page.locator("#event-recorded").inner_text()

    def refused(page, kind):
        page.select_option("#event-kind", kind)
        page.click("#event-form button[type=submit]")
        page.wait_for_function("document.getElementById('event-result').textContent.length > 0")
        return page.locator("#event-result").inner_text()

    page = log_in(browser, stack, "unit")
    page.goto(stack.url + "/tickets/hotline-browser-loop")
    # a unit's actions in each state: a dispatched ticket can be accepted or replied to, not resumed
    assert offered(page) == ["accepted", "replied"]
    assert record(page, "accepted") == "已记录 recorded: 签收 accepted"
    assert page.locator("#status").inner_text() == "已签收"
    assert offered(page) == ["paused", "extension_requested", "replied"]
    boss = log_in(browser, stack, "supervisor")  # meanwhile a supervisor urges the unit on (催办)
    boss.goto(stack.url + "/tickets/hotline-browser-loop")
    assert offered(boss) == ["rerouted", "urged"]
    assert "needs a reason" in refused(boss, "urged")
    assert record(boss, "urged", reason="市民多次来电，请尽快处理") == "已记录 recorded: 催办 urged"
    assert boss.locator("#urged").inner_text() == "1 次"
    assert "催办 urged · supervisor：市民多次来电，请尽快处理" in boss.locator("#events").inner_text()
    boss.close()
    assert record(page, "replied", reply="已联系路灯管理所维修") == "已记录 recorded: 答复 replied"
    assert page.locator("#status").inner_text() == "已答复"
    assert "工作日" in page.locator("#replied").inner_text()
    assert page.locator("#event-form").count() == 0  # nothing left for the unit to record
    page.close()

    page = log_in(browser, stack, "supervisor")
    page.goto(stack.url + "/tickets/hotline-browser-loop")
    assert offered(page) == ["closed", "reopened"]  # the callback is the callback team's
    assert page.locator("#event-recorded").is_hidden()  # the unit's note stays on the unit's page
    assert record(page, "closed") == "已记录 recorded: 办结 closed"
    assert page.locator("#status").inner_text() == "已办结"
    assert offered(page) == ["reopened"]
    assert "needs a reason" in refused(page, "reopened")  # without a reason: refused with the reason shown
    page.close()

    page = log_in(browser, stack, "callback")
    page.goto(stack.url + "/tickets/hotline-browser-loop")
    assert offered(page) == ["callback", "callback_failed"]  # reopening is the supervisors'; the callback team calls
    assert "待回访 due by" in page.locator("#satisfaction").inner_text() and "满意" not in page.locator("#satisfaction").inner_text()
    assert record(page, "callback_failed", reason="无人接听") == "已记录 recorded: 回访未接通 callback_failed"
    assert "未接通 1 次" in page.locator("#satisfaction").inner_text()
    assert record(page, "callback", satisfaction="基本满意") == "已记录 recorded: 回访 callback"
    assert "基本满意" in page.locator("#satisfaction").inner_text() and "待回访" not in page.locator("#satisfaction").inner_text()
    history = page.locator("#events").inner_text()
    assert all(word in history for word in ("签收", "答复", "办结", "回访未接通 callback_failed · callback：无人接听",
                                           "回访 callback · callback：基本满意"))
    page.screenshot(path=str(ARTIFACTS / "ticket-handling.png"), full_page=True)
    page.close()


def test_a_dispatcher_records_a_units_return_on_the_ticket_page(browser, stack):
    dispatched(stack, {"id": "browser-return", "title": "A3区小区垃圾没人清运", "text": "垃圾堆了一周", "type": "投诉"})
    with stack.client("admin") as client:  # the unit accepted it: a return is still possible
        assert client.post("/api/tickets/hotline-browser-return/events", json={"kind": "accepted"}).status_code == 202
        wait_until(lambda: client.get("/api/tickets/hotline-browser-return").json()["status"] == "accepted", 60)
    page = log_in(browser, stack, "dispatcher")
    page.goto(stack.url + "/tickets/hotline-browser-return")
    page.fill("#return-reason", "不属于本单位职责")
    with page.expect_navigation(timeout=60_000):  # once a worker has applied it
        page.click("#return-form button[type=submit]")
    assert page.locator("#event-recorded").inner_text() == "已记录 recorded: 退单 returned"
    assert page.locator("#status").inner_text() == "待派单"
    assert "不属于本单位职责" in page.locator(".returned").inner_text()
    assert page.locator("#return-form").count() == 0  # back in the queue: nothing to return
    page.close()
    # the unit that returned it still reads it (its figures count the return), without personal data or actions
    page = log_in(browser, stack, "unit")
    page.goto(stack.url + "/tickets?returned_by=housing")
    page.click("#rows tr[data-ticket-id='hotline-browser-return'] a")
    page.wait_for_selector("#read-only")
    assert "只可查看" in page.locator("#read-only").inner_text()
    assert page.locator("#personal").count() == 0 and page.locator("#event-form").count() == 0
    assert page.locator("#status").inner_text() == "待派单"
    page.screenshot(path=str(ARTIFACTS / "ticket-read-only.png"), full_page=True)
    page.close()


def test_dead_letters_page_shows_reasons(browser, stack):
    send(stack, [{"id": "browser-bad", "title": "", "text": ""}])
    page = log_in(browser, stack, "supervisor")
    for _ in range(60):
        page.goto(stack.url + "/rejected")
        if "browser-bad" in page.locator("#letters").inner_text():
            break
        page.wait_for_timeout(1000)
    text = page.locator("#letters").inner_text()
    assert "browser-bad" in text and "empty text" in text
    assert page.locator("button.fix").count() == 0  # a supervisor may not send records
    page.screenshot(path=str(ARTIFACTS / "rejected.png"), full_page=True)
    page.close()


def test_a_dispatcher_corrects_a_dead_letter_and_it_becomes_a_ticket(browser, stack):
    send(stack, [{"id": "browser-fix", "title": "", "text": "", "caller": "赵六", "type": "投诉"}])
    page = log_in(browser, stack, "dispatcher")
    row = page.locator("#letters tr", has_text="browser-fix")
    for _ in range(60):
        page.goto(stack.url + "/rejected")
        if row.count():
            break
        page.wait_for_timeout(1000)
    row.locator("button.fix").click()
    page.wait_for_function("document.getElementById('fix').open")  # once the record is fetched
    assert '"caller": "赵六"' in page.locator("#fix-record").input_value()  # the original record, to correct
    page.click("#fix-send")  # unchanged: refused with the reason, nothing sent
    page.wait_for_function("document.getElementById('fix-error').textContent.includes('empty text')")
    page.screenshot(path=str(ARTIFACTS / "rejected-fix.png"))
    with stack.client() as client:
        assert client.get("/api/tickets/hotline-browser-fix").status_code == 404
    page.fill("#fix-record", json.dumps({"id": "browser-fix", "title": "A3区小区停水", "text": "A3区某小区停水三天没有通知",
                                         "caller": "赵六", "type": "投诉"}, ensure_ascii=False))
    page.click("#fix-send")
    page.wait_for_function("!document.getElementById('fix').open")
    assert row.locator("td.resend").inner_text() == "已重发 Resent as hotline-browser-fix"
    page.screenshot(path=str(ARTIFACTS / "rejected-resent.png"), full_page=True)
    with stack.client() as client:
        ticket = wait_until(lambda: (r := client.get("/api/tickets/hotline-browser-fix")).status_code == 200 and r.json(),
                            message="the corrected record stored as a ticket")
        assert ticket["title"] == "A3区小区停水" and ticket["caller"] == "赵*"
        again = client.post(f"/api/rejections/{row.get_attribute('data-rejection-id')}/resend", json={"id": "x", "text": "y"})
        assert again.status_code == 409 and "hotline-browser-fix" in again.json()["detail"]
    page.reload()  # the mark is kept: who sent it again, and when
    assert "(dispatcher, " in row.locator("td.resend").inner_text() and row.locator("button.fix").count() == 0
    page.close()


def test_the_demo_shows_tickets_in_the_browser_within_60_seconds(browser, tmp_path, sample_model):
    from tests.conftest import start_stack, stop_stack

    started = time.monotonic()
    # 20 records/s instead of 4 after the first 40, so that the replay reaches the breaking issue in about 30 s
    demo = start_stack(tmp_path, sample_model, command=("demo", "--rate", "20"))
    try:
        page = log_in(browser, demo, "dispatcher")
        page.wait_for_function("document.querySelectorAll('#rows tr').length >= 20",
                               timeout=max(1, 60 - (time.monotonic() - started)) * 1000)
        assert time.monotonic() - started < 60
        # both channels arrive (the newest rows may all be of one for a moment: the list refreshes as they come)
        page.wait_for_function("() => { const shown = new Set([...document.querySelectorAll('#rows tr td:nth-child(2)')]"
                               ".map((td) => td.textContent.trim())); return shown.has('热线') && shown.has('网络'); }",
                               timeout=30_000)
        channels = {c.strip() for c in page.locator("#rows tr td:nth-child(2)").all_inner_texts()}
        assert channels == {"热线", "网络"}
        # the sample is dated to the last days before the demo's start, not to when it was written: within the
        # sample's own span (whole days moved, so up to a day more) before now
        now = datetime.now(SHANGHAI).replace(tzinfo=None)
        written = [parse_timestamp(record["time"]) for _, record in sample_records()]
        span = max(written) - min(written) + timedelta(days=1)
        received = [datetime.strptime(c.strip(), "%Y-%m-%d %H:%M")
                    for c in page.locator("#rows tr td:nth-child(1)").all_inner_texts()]
        assert all(now - span <= r <= now for r in received), (now, span, received)
        page.screenshot(path=str(ARTIFACTS / "demo.png"))
        # the replay starts with the oldest days: the opinion monitor's last hour is still empty, and says so
        page = log_in(browser, demo, "monitor")
        page.goto(demo.url + "/monitor")
        page.select_option("#m-window", "hour")
        page.wait_for_function("document.getElementById('m-total').textContent === '0'")
        page.wait_for_function("window.__charts.volume.getOption().title[0].show === true")
        assert page.evaluate("window.__charts.districts.getOption().title[0].text") == "该时段无工单 No tickets in this window"
        assert "无热点话题" in page.locator("#topics tbody").inner_text()
        page.screenshot(path=str(ARTIFACTS / "demo-monitor-empty-hour.png"))
        page.close()
        # the units' side follows: the oldest tickets, sent first, have been accepted and replied to by now
        with demo.client() as client:
            deadline = time.monotonic() + 30
            while (replied := client.get("/api/tickets", params={"status": "replied"}).json())["total"] == 0:
                assert time.monotonic() < deadline, "no replied ticket 30 s after the tickets showed"
                time.sleep(1)
            ticket = client.get(f"/api/tickets/{replied['tickets'][0]['ticket_id']}").json()
            events = client.get(f"/api/tickets/{ticket['ticket_id']}/events").json()["events"]
            # accepted, then replied, then calls (the callback may have come since the ticket was read); a
            # supervisor may have urged the unit on (催办) before either
            kinds = [e["kind"] for e in events if e["kind"] != "urged"]
            assert kinds[:2] == ["accepted", "replied"] and set(kinds[2:]) <= {"callback_failed", "callback"}, kinds
            assert {e["actor"] for e in events} == {"demo"}
            at = {e["kind"]: e["at"] for e in events if e["kind"] in ("accepted", "replied")}
            times = [datetime.fromisoformat(t) for t in (ticket["received_at"], at["accepted"], at["replied"])]
            assert times == sorted(times) and times[2] == datetime.fromisoformat(ticket["replied_at"])
            # malformed records among the sample are refused, each with its reason
            deadline = time.monotonic() + 30
            while not (letters := [r for r in client.get("/api/rejections").json()["rejections"]
                                   if r["source_ref"] == "H-DEMO-EMPTY"]):
                assert time.monotonic() < deadline, "the demo's first malformed record is not among the dead letters"
                time.sleep(1)
            assert "empty text" in letters[0]["reason"]
        # the replay ends with an issue breaking now: on the monitor, its hot topic and its surge alerts
        page = log_in(browser, demo, "monitor")
        page.goto(demo.url + "/monitor")
        page.select_option("#m-window", "hour")
        page.wait_for_function("[...document.querySelectorAll('#surges li.topic_surge')].some("
                               "(li) => li.textContent.includes('积水'))", timeout=120_000)
        page.wait_for_function("parseInt(document.getElementById('m-total').textContent) >= 50")
        # the monitor (its own process) may still be adding the last of the burst to the topic the worker stored
        page.wait_for_function("(row => row && parseInt(row.cells[2].textContent) >= 45)"
                               "(document.querySelector('#topics tbody tr[data-topic-id]'))", timeout=30_000)
        hottest = page.locator("#topics tbody tr[data-topic-id]").first.locator("td")
        assert "积水" in hottest.nth(1).inner_text() and int(hottest.nth(2).inner_text()) >= 45
        page.screenshot(path=str(ARTIFACTS / "demo-monitor-breaking.png"))
        page.close()
        with demo.client("monitor") as client:
            alerts = client.get("/api/monitor/alerts").json()["alerts"]
        topic_alerts = [a for a in alerts if a["kind"] == "topic_surge"]
        assert topic_alerts and all("BURST" in ticket_id for a in alerts for ticket_id in a["examples"])
    finally:
        assert stop_stack(demo.process) == 0


def test_the_queue_shows_where_the_same_issues_other_tickets_went_and_merges_a_near_copy(browser, stack):
    record = {"title": "B9区长江路天桥护栏断裂", "text": "长江路人行天桥的护栏断了一截，行人随时可能坠落，请尽快修复。", "type": "投诉"}
    send(stack, [{**record, "id": f"same-issue-{n}"} for n in (1, 2, 3)])
    with stack.client("dispatcher") as client:
        def topic_of(n):
            response = client.get(f"/api/tickets/hotline-same-issue-{n}")
            return response.status_code == 200 and response.json()["topic"]
        topics = {wait_until(lambda: topic_of(n), 60)["topic_id"] for n in (1, 2, 3)}
        assert len(topics) == 1, "the same text is one topic (a near-copy)"
        for n in (1, 2):  # two of them went to transport
            ticket_id = f"hotline-same-issue-{n}"
            ticket = client.get(f"/api/tickets/{ticket_id}").json()
            if ticket["status"] == "dispatched" and ticket["lead_unit"] != "transport":
                assert client.post(f"/api/tickets/{ticket_id}/return", json={"reason": "不归我单位"}).status_code == 202
                wait_until(lambda: client.get(f"/api/tickets/{ticket_id}").json()["status"] == "pending_review", 60)
            if client.get(f"/api/tickets/{ticket_id}").json()["status"] == "pending_review":
                assert client.post(f"/api/tickets/{ticket_id}/dispatch", json={"lead_unit": "transport"}).status_code == 202
            wait_until(lambda: client.get(f"/api/tickets/{ticket_id}").json()["lead_unit"] == "transport", 60)
        queued(stack, client, "same-issue-3")
        wait_until(lambda: client.get("/api/tickets/hotline-same-issue-3").json()["status"] == "pending_review", 60)
        transport = {u["id"]: u["name"] for u in client.get("/api/units").json()["units"]}["transport"]
    page = log_in(browser, stack, "dispatcher")
    page.click("#nav-queue")
    entry = "#queue-list li[data-ticket-id='hotline-same-issue-3']"
    page.wait_for_selector(entry, timeout=60_000)
    page.wait_for_function(f"document.querySelector(\"{entry}\").textContent.startsWith('重复 B9区')")  # a near-copy
    page.locator(entry).click()
    page.wait_for_selector("#q-topic-went button")
    assert page.locator("#q-topic-went button").all_inner_texts() == [f"{transport} ×2"]
    assert "topic=" in page.locator("#q-topic-link").get_attribute("href")
    units = page.locator("#q-unit option").evaluate_all("options => options.map((o) => o.value)")
    page.select_option("#q-unit", next(u for u in units if u != "transport"))
    page.locator("#q-topic-went button").click()
    assert page.locator("#q-unit").input_value() == "transport"
    # the same text again (重复件): offered to be merged (并单) into the earlier ticket, with where that one is
    assert page.locator("#q-copy").is_visible()
    original = page.locator("#q-copy-link").get_attribute("href").rsplit("/", 1)[1]
    assert original in ("hotline-same-issue-1", "hotline-same-issue-2")
    assert transport in page.locator("#q-copy-state").inner_text()
    page.screenshot(path=str(ARTIFACTS / "queue-same-issue.png"))
    page.keyboard.press("m")
    page.wait_for_selector(entry, state="detached", timeout=30_000)
    assert page.locator("#q-result").inner_text() == f"已并单 merged: hotline-same-issue-3 → {original}"
    with stack.client("dispatcher") as client:
        merged = wait_until(lambda: (t := client.get("/api/tickets/hotline-same-issue-3").json())["status"] == "merged" and t, 60)
    assert merged["merged_into"] == original
    page.close()


def test_dispatcher_queue_with_the_keyboard(browser, stack):
    with stack.client("dispatcher") as client:
        # Received long ago, so it stands near the top of a queue that is oldest first.
        send(stack, [{"id": "queue-1", "title": "A6区幼儿园收费太高", "text": "幼儿园每月保教费三千元", "type": "投诉",
                      "time": "2001-01-01 08:00"},
                     {"id": "queue-past", "title": "A6区幼儿园收费太高", "text": "幼儿园每月保教费三千元太贵", "type": "投诉",
                      "time": "2000-06-01 08:00"}])  # the same title earlier: a similar past ticket
        ticket = None
        for _ in range(120):
            response = client.get("/api/tickets/hotline-queue-1")
            if response.status_code == 200:
                ticket = response.json()
                break
            time.sleep(0.5)
        assert ticket, "ticket not stored"
        if ticket["status"] == "dispatched":
            assert client.post("/api/tickets/hotline-queue-1/return", json={"reason": "不归我单位"}).status_code == 202
    page = log_in(browser, stack, "dispatcher")
    # waiting for a dispatcher: the list names its unit as a suggestion
    page.goto(stack.url + "/tickets?q=" + "幼儿园保教费")
    unit_cell = page.wait_for_selector("#rows tr[data-ticket-id='hotline-queue-1'] td:nth-child(7)")
    assert unit_cell.inner_text().endswith("（建议 suggested）"), unit_cell.inner_text()
    page.click("#nav-queue")
    entry = "#queue-list li[data-ticket-id='hotline-queue-1']"
    page.wait_for_selector(entry, timeout=60_000)
    assert "超期" in page.locator(entry).inner_text()  # received in 2001: past its reply deadline
    page.locator(entry).click()
    page.wait_for_function("document.getElementById('q-title').textContent.includes('幼儿园')")
    if ticket["status"] == "dispatched":  # returned above: by whom, and why
        names = {u["id"]: u["name"] for u in stack.client("dispatcher").get("/api/units").json()["units"]}
        returned = page.locator("#q-returned").inner_text()
        assert "不归我单位" in returned and names[ticket["lead_unit"]] in returned, returned
    # received in 2001: long past its reply deadline while it waits here
    due = page.locator("#q-due")
    assert "overdue" in due.get_attribute("class") and due.inner_text().startswith("已超期"), due.inner_text()
    assert page.locator("#q-domains button").count() == 3
    # a similar past ticket with the same title is told apart by when it came, and opens from the queue
    past = page.wait_for_selector("#q-similar li:has(a[href='/tickets/hotline-queue-past'])")
    assert past.inner_text().startswith("2000-06-01 08:00 A6区幼儿园收费太高 → ")
    second = page.locator("#q-domains button").nth(1).get_attribute("data-domain")
    page.keyboard.press("2")
    page.wait_for_function(f"document.getElementById('q-domain').value === {json.dumps(second)}")
    page.wait_for_function("document.getElementById('q-explain').textContent.startsWith('建议')")  # the new suggestion
    unit = page.locator("#q-unit").input_value()
    page.screenshot(path=str(ARTIFACTS / "queue.png"), full_page=True)
    page.keyboard.press("Enter")
    page.wait_for_selector("#queue-list li[data-ticket-id='hotline-queue-1']", state="detached", timeout=30_000)
    # the queue moves on to the next ticket and says what became of this one
    unit_name = page.locator(f"#q-unit option[value='{unit}']").inner_text()
    assert page.locator("#q-result").inner_text() == f"已派单 dispatched: hotline-queue-1 → {unit_name}"
    with stack.client("dispatcher") as client:
        for _ in range(60):
            stored = client.get("/api/tickets/hotline-queue-1").json()
            if stored["status"] == "dispatched":
                break
            page.wait_for_timeout(500)
    assert (stored["status"], stored["domain"], stored["lead_unit"]) == ("dispatched", second, unit)
    page.goto(stack.url + "/tickets/hotline-queue-1")
    assert "dispatched" in page.locator("#events").inner_text()
    # in the list, its reply deadline (2001) is marked as passed
    page.goto(stack.url + "/tickets?q=" + "幼儿园保教费")
    due = page.wait_for_selector("#rows tr[data-ticket-id='hotline-queue-1'] td.overdue")
    assert due.inner_text().startswith("超期 2001-01-"), due.inner_text()
    assert "建议" not in page.locator("#rows tr[data-ticket-id='hotline-queue-1'] td").nth(6).inner_text()
    page.close()


def test_the_queue_sends_every_waiting_ticket_of_one_issue_to_one_unit(browser, stack):
    texts = ["B7区江滨路排水井盖缺失，晚上有人掉进去了", "江滨路那个排水井盖没了，有人晚上掉进井里",
             "B7区江滨路排水井盖丢失，行人掉进井里受伤"]
    send(stack, [{"id": f"batch-{n}", "title": "B7区江滨路排水井盖缺失", "text": text, "type": "投诉"}
                 for n, text in enumerate(texts)])
    with stack.client("dispatcher") as client:
        for n in range(3):
            queued(stack, client, f"batch-{n}")
        for n in range(3):
            wait_until(lambda: client.get(f"/api/tickets/hotline-batch-{n}").json()["status"] == "pending_review", 60)
        topic = wait_until(lambda: (t := client.get("/api/tickets/hotline-batch-0/topic").json())["waiting"] == 3 and t, 60,
                           message="the three in one topic, all waiting")
    page = log_in(browser, stack, "dispatcher")
    page.click("#nav-queue")
    entry = "#queue-list li[data-ticket-id='hotline-batch-0']"
    page.wait_for_selector(entry, timeout=60_000)
    page.locator(entry).click()
    page.wait_for_selector("#q-topic-all:visible")
    assert page.locator("#q-topic-all").inner_text().startswith("本话题 3 件待派单全部派给所选单位")
    page.select_option("#q-unit", "transport")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#q-topic-all").click()
    for n in range(3):
        page.wait_for_selector(f"#queue-list li[data-ticket-id='hotline-batch-{n}']", state="detached", timeout=30_000)
    assert page.locator("#q-result").inner_text().startswith("已批量派单 dispatched 3 → ")
    page.screenshot(path=str(ARTIFACTS / "queue-batch.png"))
    page.close()
    with stack.client("dispatcher") as client:
        for n in range(3):
            ticket = wait_until(lambda: (t := client.get(f"/api/tickets/hotline-batch-{n}").json())["status"] == "dispatched" and t, 60)
            assert ticket["lead_unit"] == "transport"
        # nothing waits any more: a second batch sends nothing
        again = client.post(f"/api/topics/{topic['topic']['topic_id']}/dispatch", json={"lead_unit": "transport"})
        assert again.status_code == 202 and again.json()["dispatched"] == []
        assert client.post(f"/api/topics/{topic['topic']['topic_id']}/dispatch", json={"lead_unit": "nope"}).status_code == 400
    with stack.client("unit") as client:  # a unit's user does not dispatch
        assert client.post(f"/api/topics/{topic['topic']['topic_id']}/dispatch", json={"lead_unit": "transport"}).status_code == 403


def test_the_ticket_list_pages_and_sorts_by_reply_deadline(browser, stack):
    base = datetime(2026, 11, 2, 9, 0)
    # received an hour apart, sent latest first: one type (咨询, a working day), so their deadlines follow the order
    # received, several sharing one
    send(stack, [{"id": f"paging-{n}", "title": f"翻页测试工单{n}", "text": "翻页测试的工单内容", "type": "咨询",
                  "time": (base + timedelta(hours=n)).isoformat()} for n in reversed(range(105))])
    with stack.client("dispatcher") as client:
        wait_until(lambda: client.get("/api/tickets", params={"q": "翻页测试"}).json()["total"] == 105, 60)
    page = log_in(browser, stack, "dispatcher")
    page.goto(stack.url + "/tickets?q=翻页测试")
    page.wait_for_function("document.getElementById('total').textContent.startsWith('105 ')")
    assert page.locator("#shown").inner_text() == "1–100" and page.locator("#rows tr").count() == 100
    assert page.locator("#prev").is_disabled() and page.locator("#next").is_enabled()
    page.click("#next")
    page.wait_for_function("document.getElementById('shown').textContent === '101–105'")
    assert page.locator("#rows tr").count() == 5 and page.locator("#next").is_disabled()
    page.select_option("#order", "due")  # back to the first page, earliest reply deadline first
    page.wait_for_function("document.getElementById('shown').textContent === '1–100'")
    with stack.client("dispatcher") as client:
        earliest = client.get("/api/tickets", params={"q": "翻页测试", "order": "due", "limit": 1}).json()["tickets"][0]
    page.wait_for_function(f"document.querySelector('#rows tr').dataset.ticketId === '{earliest['ticket_id']}'")
    dues = [d.removeprefix("超期 ") for d in page.locator("#rows tr td:nth-child(8)").all_inner_texts()]
    assert dues == sorted(dues) and dues[0] < dues[-1], (dues[:3], dues[-3:])
    assert earliest["reply_due"][:16].replace("T", " ") == dues[0]
    page.screenshot(path=str(ARTIFACTS / "tickets-by-deadline.png"))
    page.close()


def test_the_callback_team_calls_back_from_its_worklist_with_the_keyboard(browser, stack):
    # replied long ago: its callback is overdue and heads the worklist (earliest due first)
    late = dispatched(stack, {"id": "callback-late", "title": "A2区小区垃圾清运不及时", "text": "垃圾站三天没有清运",
                              "type": "投诉", "caller": "王芳", "phone": "13911112222", "time": "2001-01-01 08:00"})
    recent = dispatched(stack, {"id": "callback-recent", "title": "A2区小区外墙脱落", "text": "外墙瓷砖脱落砸坏车辆",
                                "type": "投诉", "caller": "李强", "phone": "13933334444"})
    copy = dispatched(stack, {"id": "callback-copy", "title": "A2区小区外墙瓷砖掉落", "text": "外墙瓷砖掉下来很危险",
                              "type": "投诉", "caller": "赵敏", "phone": "13955556666"})
    with stack.client("dispatcher") as dispatcher:  # the same issue: merged (并单) into the recent one
        assert dispatcher.post(f"/api/tickets/{copy['ticket_id']}/events", json={
            "kind": "merged", "data": {"into": recent["ticket_id"]}}).status_code == 202
        wait_until(lambda: dispatcher.get(f"/api/tickets/{copy['ticket_id']}").json()["status"] == "merged", 60,
                   message="merged")
    with stack.client("admin") as unit:  # whichever unit the router chose
        assert unit.post(f"/api/tickets/{late['ticket_id']}/events", json={
            "kind": "replied", "at": "2001-01-02T10:00:00+08:00", "data": {"reply": "已督促环卫公司每日清运"}}).status_code == 202
        assert unit.post(f"/api/tickets/{recent['ticket_id']}/events", json={
            "kind": "replied", "data": {"reply": "已安排维修外墙"}}).status_code == 202
    with stack.client("callback") as team:
        wait_until(lambda: {late["ticket_id"], recent["ticket_id"]} <= {
            t["ticket_id"] for t in team.get("/api/callbacks").json()["tickets"]}, 60, message="awaiting callbacks")

    page = log_in(browser, stack, "callback")
    page.click("#nav-callbacks")
    first = page.wait_for_selector("#cb-list li:first-child")
    assert first.get_attribute("data-ticket-id") == late["ticket_id"] and first.inner_text().startswith("超期 ")
    assert "overdue" in page.locator("#cb-count").inner_text()
    # whom to call (the number unmasked for the callback team), what the unit answered, and by when
    page.wait_for_function("document.getElementById('cb-title').textContent.includes('垃圾清运')")
    assert page.locator("#cb-caller").inner_text() == "来电人 Caller: 王芳 · 电话 Phone: 13911112222"
    assert page.locator("#cb-reply").inner_text() == "已督促环卫公司每日清运"
    assert page.locator("#cb-due").inner_text().startswith("已超期 overdue · 回访期限 call back by 2001-01-0")
    page.keyboard.press("4")  # nobody answered
    page.wait_for_function("document.getElementById('cb-result').textContent.includes('未接通')")
    entry = f"#cb-list li[data-ticket-id='{late['ticket_id']}']"
    page.wait_for_selector(entry + ":has-text('未接通×1')", timeout=60_000)  # back once a worker applied it
    page.locator(entry).click()
    page.keyboard.press("3")  # dissatisfied, without the citizen's reason: refused with the reason shown
    page.wait_for_function("document.getElementById('cb-result').textContent.includes('needs a reason')")
    page.keyboard.press("r")
    page.keyboard.type("垃圾站仍然没人清运")
    page.keyboard.press("Escape")
    page.screenshot(path=str(ARTIFACTS / "callbacks.png"), full_page=True)
    page.keyboard.press("3")
    page.wait_for_function("document.getElementById('cb-result').textContent.startsWith('已记录')")
    assert page.locator("#cb-result").inner_text() == f"已记录 recorded: {late['ticket_id']} · 回访 不满意"
    assert page.locator(entry).count() == 0
    with stack.client("callback") as team:
        reopened = wait_until(lambda: (t := team.get(f"/api/tickets/{late['ticket_id']}").json())["status"] == "dispatched"
                              and t, 60, message="reopened")
    # reopened: a new reply will make a new callback due, its unanswered calls counted from 0
    assert (reopened["satisfaction"], reopened["reopened"], reopened["callback_attempts"]) == ("不满意", 1, 0)
    # the worklist as a ticket list: the same tickets, earliest callback deadline first
    page.click("#cb-all")
    page.wait_for_selector(f"#rows tr[data-ticket-id='{recent['ticket_id']}']")
    assert page.locator("#callback-chip").is_visible() and page.locator("#order").input_value() == "callback"
    assert page.locator("#due-head").inner_text() == "回访期限 Call back by"  # the deadline the list is ordered by
    with stack.client("callback") as team:
        due = team.get(f"/api/tickets/{recent['ticket_id']}").json()["callback_due"]
    row = page.locator(f"#rows tr[data-ticket-id='{recent['ticket_id']}'] td").nth(7)
    assert row.inner_text() == due[:16].replace("T", " ")
    with stack.client("callback") as team:
        listed = [t["ticket_id"] for t in team.get("/api/callbacks").json()["tickets"]]
    page.wait_for_function(f"[...document.querySelectorAll('#rows tr[data-ticket-id]')].map((r) => r.dataset.ticketId)"
                           f".join() === {json.dumps(','.join(listed))}")
    page.go_back()
    # satisfied closes it
    page.locator(f"#cb-list li[data-ticket-id='{recent['ticket_id']}']").click()
    page.wait_for_function("document.getElementById('cb-title').textContent.includes('外墙')")
    # the caller of the ticket merged into it is owed the same answer
    assert "赵敏 13955556666" in page.locator("#cb-merged").inner_text()
    page.keyboard.press("1")
    with stack.client("callback") as team:
        closed = wait_until(lambda: (t := team.get(f"/api/tickets/{recent['ticket_id']}").json())["status"] == "closed"
                            and t, 60, message="closed")
    assert (closed["satisfaction"], closed["callback_due"]) == ("满意", None)
    page.close()
