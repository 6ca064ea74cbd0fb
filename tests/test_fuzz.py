"""Fuzzing: Hypothesis drives well over 10,000 malformed records through intake decoding and normalisation
(the worker's pipeline, on a real SQLite file) and through the JSONL reader. Nothing may crash, and every
record must end as a stored ticket, a duplicate of one, or a dead letter with a reason."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

RECORDS_PER_BATCH = 100
BATCHES = 110  # 11,000 records

text = st.text(alphabet=st.characters(codec="utf-8"), max_size=300) | st.text(max_size=40)  # the second: any code point
scalar = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | text
value = st.recursive(scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                     max_leaves=6)
times = st.sampled_from(["2019/4/25 9:32:09", "2026-02-30", "昨天", "", "45000", "9999-99-99T99:99", "2019年4月25日 9时32分",
                         "1e308", "-1", "2026-11-22T10:00:00+25:00"]) | text | st.integers() | st.floats()
field_values = {
    "id": text | st.integers() | st.none() | value,
    "title": text | value,
    "text": text | value | st.just("x" * 60_000),
    "time": times,
    "type": st.sampled_from(["投诉", "諮詢", "咨询", "举报 ", "other", ""]) | value,
    "urgency": st.sampled_from(["紧急", "一般", "urgent", "URGENT", "?"]) | value,
    "likes": st.integers() | st.floats() | text | value,
    "district": text | value,
    "phone": text | value,
    "caller": text | value,
}
json_record = st.fixed_dictionaries({}, optional=field_values).map(lambda r: json.dumps(r, default=str).encode("utf-8"))
# A record that is valid in what it needs, with anything in the other fields: some of these must be kept.
nearly_valid = st.fixed_dictionaries(
    {"id": st.text(alphabet="0123456789abcdef-", min_size=1, max_size=16),
     "text": st.sampled_from(["小区门口路灯坏了一周", "噪音扰民，晚上施工", "公交站台破损", "路面积水严重"]) | text,
     "time": st.sampled_from(["2026-11-20 09:00:00", "2019/4/25 9:32:09", "2024年2月9日 23时59分"])},
    optional={k: v for k, v in field_values.items() if k not in {"id", "text", "time"}},
).map(lambda r: json.dumps(r, default=str).encode("utf-8"))
payload = (json_record | nearly_valid | st.binary(max_size=200) | value.map(lambda v: json.dumps(v).encode("utf-8"))
           | text.map(lambda s: s.encode("utf-8", "surrogatepass")))
batch = st.lists(st.tuples(st.sampled_from(["hotline", "web", "fax"]), payload),
                 min_size=RECORDS_PER_BATCH, max_size=RECORDS_PER_BATCH)


@pytest.fixture(scope="module")
def pipeline(sample_model, tmp_path_factory):
    from cli import services
    from cli.settings import load_settings
    from classifiers.model_file import load
    from stores.sqlite import SQLiteStore
    from streams.pipeline import Pipeline

    settings = load_settings()
    store = SQLiteStore(tmp_path_factory.mktemp("fuzz") / "fuzz.db")
    model = load(sample_model, services.segmenter(settings))
    yield Pipeline(model, services.build_router(settings), store, settings.limits,
                   deadlines=services.build_deadlines(settings))
    store.close()


def test_malformed_records_never_crash_the_pipeline_and_all_are_accounted_for(pipeline):
    from streams.pipeline import RawRecord

    seen = {"records": 0, "rejected": 0}

    @settings(max_examples=BATCHES, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
    @given(batch)
    def run(records):
        raw = [RawRecord(channel, f"fuzz-{i}".encode(), body) for i, (channel, body) in enumerate(records)]
        result = pipeline.process(raw)
        accounted = len(result.dispatched) + result.duplicates + len(result.rejections)
        assert accounted == len(raw)
        assert all(r.reason.strip() and r.payload_size >= 0 for r in result.rejections)
        assert not any("internal error" in r.reason for r in result.rejections), [r.reason for r in result.rejections][:3]
        seen["records"] += len(raw)
        seen["rejected"] += len(result.rejections)

    run()
    assert seen["records"] >= 10_000
    assert 0 < seen["rejected"] < seen["records"]  # most are refused, some are valid enough to keep


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.binary(max_size=120) | json_record | text.map(lambda s: s.encode("utf-8", "surrogatepass")),
                min_size=1, max_size=12))
def test_the_jsonl_reader_turns_every_line_into_a_record_or_a_reasoned_error(tmp_path_factory, lines):
    from intake.readers import ColumnMap, read_rows

    path = tmp_path_factory.mktemp("jsonl") / "fuzz.jsonl"
    written = [line.replace(b"\n", b" ").replace(b"\r", b" ") for line in lines]
    path.write_bytes(b"\n".join(written) + b"\n")
    rows = list(read_rows(path, ColumnMap({}), "jsonl"))
    assert len(rows) == sum(1 for line in written if line.strip())  # one row per line with anything on it
    for row in rows:
        assert (row.record is not None) != bool(row.error)
        assert row.record is not None or row.original  # a refused line keeps its bytes for the dead letter
