"""Dispatchers and units on a running stack: queue, dispatch with correction, return (退单), flag, learning."""

from __future__ import annotations

import json
import re
import time

import pytest

from cli.settings import SAMPLES_DIR
from tests.conftest import wait_until

pytestmark = pytest.mark.broker


def send_and_wait(stack, record):
    with stack.client() as client:
        assert client.post("/api/intake/hotline", json=record).status_code == 202
        return wait_until(lambda: (r := client.get(f"/api/tickets/hotline-{record['id']}")).status_code == 200 and r.json(), 60)


def until_status(client, ticket_id, status):
    return wait_until(lambda: (t := client.get(f"/api/tickets/{ticket_id}").json())["status"] == status and t, 60,
                      message=f"{ticket_id} {status}")


def test_return_requeue_correct_and_flag(stack):
    ticket = send_and_wait(stack, {"id": "d-1", "title": "A4区小区物业乱收费", "text": "物业公司乱收停车费", "type": "投诉"})
    tid = ticket["ticket_id"]
    with stack.client("dispatcher") as client:
        if ticket["status"] == "pending_review":
            assert client.post(f"/api/tickets/{tid}/dispatch", json={}).status_code == 202
            until_status(client, tid, "dispatched")
        first_unit = client.get(f"/api/tickets/{tid}").json()["lead_unit"]
        assert client.post(f"/api/tickets/{tid}/return", json={"reason": ""}).status_code == 400
        assert client.post(f"/api/tickets/{tid}/return", json={"reason": "停车收费归发改部门"}).status_code == 202
        waiting = until_status(client, tid, "pending_review")
        assert waiting["returns"] >= 1 and waiting["last_return_reason"] == "停车收费归发改部门"
        assert any(t["ticket_id"] == tid for t in client.get("/api/queue").json()["tickets"])
        assert client.post(f"/api/tickets/{tid}/return", json={"reason": "x"}).status_code == 409
        assert client.post(f"/api/tickets/{tid}/dispatch", json={"lead_unit": "nobody"}).status_code == 400
        assert client.post(f"/api/tickets/{tid}/dispatch", json={"domain": "商贸旅游", "lead_unit": "market-regulation"}).status_code == 202
        done = until_status(client, tid, "dispatched")
        assert (done["domain"], done["lead_unit"], done["corrected"]) == ("商贸旅游", "market-regulation", True)
        for n in range(2):  # two more returns: more than max_returns (2) in all
            assert client.post(f"/api/tickets/{tid}/return", json={"reason": f"again {n}"}).status_code == 202
            until_status(client, tid, "pending_review")
            if n == 0:
                client.post(f"/api/tickets/{tid}/dispatch", json={})
                until_status(client, tid, "dispatched")
        flagged = client.get(f"/api/tickets/{tid}").json()
        assert flagged["flagged"] and "needs a supervisor" in flagged["flagged"]
        assert client.get("/api/queue").json()["tickets"][0]["ticket_id"] == tid  # flagged first
        kinds = [e["kind"] for e in client.get(f"/api/tickets/{tid}/events").json()["events"]]
        assert kinds.count("returned") == 3
        assert flagged["returned_by"][:2] == [first_unit, "market-regulation"] and len(flagged["returned_by"]) == 3
        assert client.post("/login", data={"username": "dispatcher", "password": "dispatcher-demo"}).status_code in (200, 303)
        returns = re.search(r'<span id="returns">(.*?)</span>', client.get(f"/tickets/{tid}").text).group(1)
        assert returns.startswith("退单 3 次") and "A市市场监督管理局" in returns, returns
    with stack.client("monitor") as monitor:
        assert monitor.post(f"/api/tickets/{tid}/dispatch", json={}).status_code == 403


def test_corrections_change_the_next_trained_model(stack, tmp_path):
    text = "楼道里的声控灯坏了好久没人换"
    ticket = send_and_wait(stack, {"id": "learn-1", "title": "声控灯坏了", "text": text})
    tid = ticket["ticket_id"]
    with stack.client("dispatcher") as client:
        if ticket["status"] == "dispatched":
            client.post(f"/api/tickets/{tid}/return", json={"reason": "请重新派单"})
            until_status(client, tid, "pending_review")
        target = next(d for d, _ in ticket["top"][1:])  # a domain the model did not pick
        assert client.post(f"/api/tickets/{tid}/dispatch", json={"domain": target}).status_code == 202
        until_status(client, tid, "dispatched")
    data = SAMPLES_DIR / "training.csv"
    cols = ["--data", str(data), "--title-col", "title", "--text-col", "text", "--label-col", "label", "--cv", "0"]
    plain = stack.run("train", *cols, "--out", str(tmp_path / "plain.joblib"))
    learnt = stack.run("train", *cols, "--with-corrections", "--out", str(tmp_path / "learnt.joblib"))
    assert plain.returncode == 0 and learnt.returncode == 0, learnt.stderr.decode()
    plain_card, learnt_card = json.loads(plain.stdout), json.loads(learnt.stdout)
    assert learnt_card["data"]["rows"] > plain_card["data"]["rows"]
    assert "dispatcher corrections" in learnt_card["data"]["source"]

    def probability(model_path):
        out = stack.run("classify", "--model", str(model_path), input=f"声控灯坏了\t{text}\n".encode())
        line = json.loads(out.stdout)
        return dict((t["domain"], t["confidence"]) for t in line["top"]).get(target, 0.0)
    assert probability(tmp_path / "learnt.joblib") > probability(tmp_path / "plain.joblib")


def test_units_and_supervisors_record_the_handling_loop_over_http(stack):
    """A unit's own system accepts and replies through the API; the callback team records the callback (回访)."""
    ticket = send_and_wait(stack, {"id": "loop-1", "title": "A2区小区电梯故障", "text": "电梯坏了一周物业不修", "type": "求助"})
    tid = ticket["ticket_id"]
    events = f"/api/tickets/{tid}/events"
    with stack.client("dispatcher") as dispatcher, stack.client("unit") as unit, stack.client("supervisor") as supervisor, \
            stack.client("callback") as callback:
        if ticket["status"] == "pending_review":  # to the demo unit user's unit (config/users.yaml)
            assert dispatcher.post(f"/api/tickets/{tid}/dispatch", json={"lead_unit": "housing"}).status_code == 202
            ticket = until_status(dispatcher, tid, "dispatched")
        assert ticket["lead_unit"] == "housing", "the unit user below sees only its unit's tickets"
        refused = unit.post(events, json={"kind": "callback", "data": {"satisfaction": "满意"}})
        assert refused.status_code == 403 and "callback permission" in refused.json()["detail"]
        early = supervisor.post(events, json={"kind": "closed"})
        assert early.status_code == 409 and "not replied" in early.json()["detail"]
        assert unit.post(events, json={"kind": "teleported"}).status_code == 400
        assert unit.post(events, json={"kind": "accepted", "at": "2999-01-01T00:00:00+08:00"}).status_code == 400

        assert unit.post(events, json={"kind": "accepted", "event_id": f"{tid}-accept"}).status_code == 202
        until_status(unit, tid, "accepted")
        unit.post(events, json={"kind": "accepted", "event_id": f"{tid}-accept"})  # a resend changes nothing
        # a supervisor urges the unit on (催办): counted on the ticket, and an alert to the unit, once
        assert unit.post(events, json={"kind": "urged", "data": {"reason": "x"}}).status_code == 403
        assert supervisor.post(events, json={"kind": "urged", "data": {"reason": ""}}).status_code == 400
        urge = {"kind": "urged", "data": {"reason": "市民多次来电，请今日联系"}, "event_id": f"{tid}-urge"}
        assert supervisor.post(events, json=urge).status_code == 202
        supervisor.post(events, json=urge)  # a resend: still once

        def urgings():
            return [a for a in unit.get("/api/alerts", params={"open": "true", "ticket_id": tid}).json()["alerts"]
                    if a["kind"] == "urged"]
        wait_until(lambda: unit.get(f"/api/tickets/{tid}").json()["urged"] == 1 and urgings(), 60, message="the urging")
        time.sleep(1)  # the resend, applied by now, added nothing
        assert unit.get(f"/api/tickets/{tid}").json()["urged"] == 1
        assert [(a["to"], a["unit"], a["message"]) for a in urgings()] == [("承办单位", "housing", "催办：市民多次来电，请今日联系")]
        assert unit.post(events, json={"kind": "replied", "data": {"reply": "已协调维修"}}).status_code == 202
        until_status(unit, tid, "replied")
        assert urgings() == []  # answered: the urging no longer asks anything
        assert tid in [t["ticket_id"] for t in callback.get("/api/callbacks").json()["tickets"]]  # awaiting its callback
        assert callback.post(events, json={"kind": "callback", "data": {"satisfaction": "满意"}}).status_code == 202
        closed = until_status(unit, tid, "closed")
        assert closed["satisfaction"] == "满意" and closed["reply_seconds"] >= 0
        assert closed["reply_working_days"] is not None and closed["on_time"] is True
        kinds = [e["kind"] for e in unit.get(events).json()["events"]]
        assert kinds[-4:] == ["accepted", "urged", "replied", "callback"] and kinds.count("accepted") == 1
