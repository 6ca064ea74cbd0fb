"""The batch pipeline without Kafka: what the worker does with each batch."""

import json
from datetime import datetime

import pytest

from classifiers import model_file
from classifiers.segment import Segmenter
from cli.settings import PROJECT_DIR, read_yaml
from hotline.routing import Router
from hotline.timestamps import SHANGHAI
from stores.sqlite import SQLiteStore
from streams.pipeline import Pipeline, RawRecord

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def pipeline(sample_model, tmp_path):
    model = model_file.load(sample_model, Segmenter(PROJECT_DIR / "config" / "userdict.txt"))
    router = Router.from_config(read_yaml(PROJECT_DIR / "config" / "routing.yaml"))
    store = SQLiteStore(tmp_path / "p.db")
    from cli.services import build_deadlines
    from cli.settings import load_settings

    deadlines = build_deadlines(load_settings({"HOTLINE_HOME": str(tmp_path / "home")}))
    yield Pipeline(model, router, store, clock=lambda: NOW, deadlines=deadlines)
    store.close()


def raw(record, channel="web") -> RawRecord:
    return RawRecord(channel, str(record.get("id", "")).encode(), json.dumps(record, ensure_ascii=False).encode())


def test_a_batch_is_stored_once_and_duplicates_are_sorted_out(pipeline):
    a = {"id": "1", "title": "噪音", "text": "工地夜间施工噪音扰民"}
    b = {"id": "2", "title": "物业", "text": "A1区小区物业乱收费"}
    changed = {**a, "text": "工地白天也很吵"}
    result = pipeline.process([raw(a), raw(b), raw(a), raw(changed), RawRecord("web", None, b"\xff")])
    assert result.stored == 2 and result.duplicates == 1
    assert sorted(r.reason.split(":")[0] for r in result.rejections) == [
        "duplicate source id '1' with different content in the same batch", "payload is not valid UTF-8 (byte 0xff at position 0)"]
    stored = {t.ticket_id: t for t in result.dispatched}
    assert stored["web-2"].lead_unit == "housing" and stored["web-2"].district == "A1区"
    assert stored["web-2"].co_units == ["a1-gov"]
    # No type on a web message: the default type's limits, counted from the time of intake (a Sunday).
    assert stored["web-2"].reply_due.isoformat() == "2026-11-27T17:30:00+08:00"
    assert "default type" in stored["web-2"].deadline_policy
    # a ticket sent to its unit at intake is to be accepted (签收) by then; one waiting for a dispatcher by nobody yet
    assert stored["web-2"].status == "dispatched" and stored["web-2"].accept_due > stored["web-2"].received_at
    vague = pipeline.process([raw({"id": "3", "title": "你好", "text": "请问一下"})]).dispatched[0]  # too unsure to send
    assert vague.status == "pending_review" and vague.accept_due is None and vague.reply_due is not None
    again = pipeline.process([raw(a), raw(b)])
    assert again.stored == 0 and again.duplicates == 2 and not again.rejections and not again.dispatched
    # passed on again (the worker that stored them may have died before it did), as they were stored
    assert [t.ticket_id for t in again.redelivered] == ["web-1", "web-2"]
    assert again.redelivered[1].model_dump() == stored["web-2"].model_dump()
