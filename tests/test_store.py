from __future__ import annotations

import duckdb

from verifier.store import MIGRATIONS, Store


def test_fresh_store_has_current_schema(store):
    assert store.migrate() == len(MIGRATIONS)
    assert store.schema_version() == len(MIGRATIONS)


def test_older_file_is_upgraded(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, name VARCHAR, applied_at TIMESTAMPTZ NOT NULL)")
    con.execute(MIGRATIONS[0][1])
    con.execute("INSERT INTO schema_version VALUES (1, 'v1', now())")
    con.execute("INSERT INTO runs (run_id, command, started_at, status) VALUES ('old', 'qec run', now(), 'ok')")
    con.close()
    s = Store(path)
    assert s.migrate() == len(MIGRATIONS)
    assert s.query("SELECT run_id FROM runs") == [("old",)]  # nothing lost


def test_newer_file_is_refused(tmp_path):
    import pytest

    from verifier.errors import StoreError

    path = tmp_path / "new.duckdb"
    s = Store(path)
    s.migrate()
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_version VALUES (999, 'future', now())")
    con.close()
    with pytest.raises(StoreError, match="newer"):
        Store(path).migrate()


def test_runs_round_trip(store):
    rid = store.start_run("qec run", ["--x"])
    store.finish_run(rid, "ok", exit_code=0, summary={"a": 1})
    (status, code, summary), = store.query("SELECT status, exit_code, summary FROM runs WHERE run_id = ?", [rid])
    assert status == "ok" and code == 0 and '"a"' in summary


def test_store_file_readable_by_plain_duckdb(store):
    store.start_run("x")
    con = duckdb.connect(store.path, read_only=True)
    assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    con.close()
