"""Commands that read the store refuse a SQLite file that is not there instead of creating an empty one; a
store file written by an earlier version gains the columns added since."""

import pytest
from click.testing import CliRunner

from cli.main import main

READING = [
    ["archive", "--from", "2026-01-01", "--to", "2026-12-31"],
    ["report", "--from", "2026-01-01", "--to", "2026-12-31"],
    ["export"],
    ["export", "--rejected"],
    ["alerts"],
    ["hotspots"],
]


@pytest.mark.parametrize("command", READING, ids=lambda c: " ".join(c[:2]))
def test_a_missing_store_file_is_an_error_and_stays_missing(command, tmp_path, monkeypatch):
    monkeypatch.setenv("HOTLINE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HOTLINE_ES_URL", raising=False)
    missing = tmp_path / "typo.db"
    result = CliRunner().invoke(main, [*command, "--db", str(missing)])
    assert result.exit_code == 1 and f"no store at {missing}" in result.output, result.output
    assert not missing.exists()
    result = CliRunner().invoke(main, command)  # nothing started in this home yet
    assert result.exit_code == 1 and "no store at" in result.output and "hotline.db" in result.output


def test_an_existing_store_is_read(tmp_path, monkeypatch):
    from stores.sqlite import SQLiteStore
    from tests.test_store_contract import make_ticket

    monkeypatch.setenv("HOTLINE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HOTLINE_ES_URL", raising=False)
    store = SQLiteStore(tmp_path / "store.db")
    store.write_tickets([make_ticket(1)])
    store.close()
    result = CliRunner().invoke(main, ["export", "--db", str(tmp_path / "store.db")])
    assert result.exit_code == 0 and '"ticket_id": "web-1"' in result.stdout


def test_a_store_file_of_an_earlier_version_gains_the_columns_added_since(tmp_path):
    import sqlite3

    from stores.base import TicketQuery
    from stores.sqlite import SQLiteStore
    from hotline.deadletters import make_rejection
    from tests.test_store_contract import T0, make_ticket

    path = tmp_path / "old.db"
    SQLiteStore(path).close()
    with sqlite3.connect(path) as db:  # as a version before returns were attributed to units wrote it
        db.execute("ALTER TABLE tickets DROP COLUMN returned_by")
        db.execute("DROP INDEX tickets_callback_due")  # and before callbacks (回访) were due
        for column in ("callback_due", "callback_attempts"):
            db.execute(f"ALTER TABLE tickets DROP COLUMN {column}")
        for column in ("resent_as", "resent_by", "resent_at"):  # and before dead letters could be resent
            db.execute(f"ALTER TABLE rejections DROP COLUMN {column}")
    store = SQLiteStore(path)
    try:
        store.write_tickets([make_ticket(1)])
        assert store.get_ticket("web-1")["returned_by"] == []
        assert (store.get_ticket("web-1")["callback_due"], store.get_ticket("web-1")["callback_attempts"]) == (None, 0)
        assert store.search(TicketQuery(awaiting_callback=True, order="callback"))[1] == 0
        letter = make_rejection("web", "file.csv:3", "normalise", "empty text", b'{"id": "1"}', T0)
        store.write_rejections([letter])
        assert store.mark_rejection_resent(letter.rejection_id, "web-1", "dispatcher", T0)
    finally:
        store.close()
