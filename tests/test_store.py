from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from verifier.store.db import MIGRATIONS, Store


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


def test_blocks_of_an_older_store_keep_their_predictions_after_migration_4(tmp_path):
    """Before migration 4 predictions were PyMatching's uint8[shots, ceil(O/8)]; such rows get
    prediction_bits = 8 and still compare equal, shot for shot, with newly packed ones."""
    import numpy as np

    from baselines.pymatching_decoder import PyMatchingDecoder
    from verifier.workflows.crosscheck import crosscheck
    from verifier.qec.decoder import fingerprint
    from verifier.engine.blocks import unpack_predictions
    from verifier.engine.replay import replay
    from verifier.qec.workload import MemoryWorkload

    w = MemoryWorkload(3, 3, "z", "uniform", 0.02, 10_000, 4)
    new = Store(tmp_path / "new.duckdb")
    replay(PyMatchingDecoder(), w, store=new, workers=1)
    fp = fingerprint(PyMatchingDecoder())
    packed = new.block_predictions(fp, w.stream_id)
    assert {bits for _, bits in packed.values()} == {1}
    assert all(len(blob) == -(-shots // 8) for (_, shots), (blob, _) in packed.items())

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, name VARCHAR, applied_at TIMESTAMPTZ NOT NULL)")
    for v in range(3):
        con.execute(MIGRATIONS[v][1])
        con.execute("INSERT INTO schema_version VALUES (?, 'v', now())", [v + 1])
    old_fp = "0" * 64  # the same predictions, recorded by an older sov in the old layout
    con.execute("INSERT INTO decoders VALUES (?, 'pymatching', NULL, '{}', now())", [old_fp])
    for (block, shots), (blob, bits) in packed.items():
        old_layout = unpack_predictions(blob, shots, bits).tobytes()  # one byte a shot
        con.execute("INSERT INTO blocks VALUES (?, ?, ?, ?, 0, 0.1, 0.01, ?, ?, NULL, now())",
                    [old_fp, w.stream_id, block, shots, old_layout, b"\0" * -(-shots // 8)])
    con.close()
    old = Store(path)
    assert old.migrate() == len(MIGRATIONS)
    got = old.block_predictions(old_fp, w.stream_id)
    assert {bits for _, bits in got.values()} == {8}
    for key, (blob, bits) in got.items():
        assert np.array_equal(unpack_predictions(blob, key[1], bits)[:, :1],
                              unpack_predictions(packed[key][0], key[1], 1))
    # old rows (8 bits a shot) against new ones (1 bit) in one store: they agree
    replay(PyMatchingDecoder(), w, store=old, workers=1)
    [rep] = crosscheck(old, [old_fp, fp], [w.stream_id], num_observables=1)
    assert rep.agree and rep.compared_shots == w.shots


def _v4_store_with_legacy_blocks(tmp_path, w, *, decoder_spec: dict | None = None):
    """A store as the previous sov (schema 4) left it: ``w``'s PyMatching blocks keyed by the
    old stream id (no circuit hash, no stim version), its workload row likewise. The blocks
    are real: drawn and decoded by this sov, then filed the old way."""
    import json

    from baselines.pymatching_decoder import PyMatchingDecoder
    from verifier.engine.replay import replay
    from verifier.qec.decoder import fingerprint

    fresh = Store(tmp_path / "fresh.duckdb")
    want = replay(PyMatchingDecoder(), w, store=fresh, workers=1)
    fp = fingerprint(PyMatchingDecoder())
    blocks = fresh.query("SELECT block, shots, errors, seconds, sample_seconds, predictions, failures, "
                         "prediction_bits FROM blocks WHERE stream_id = ?", [w.stream_id])
    assert len(blocks) == len(w.blocks())
    path = tmp_path / "v4.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, name VARCHAR, applied_at TIMESTAMPTZ NOT NULL)")
    for v in range(4):
        con.execute(MIGRATIONS[v][1])
        con.execute("INSERT INTO schema_version VALUES (?, ?, now())", [v + 1, MIGRATIONS[v][0]])
    spec = decoder_spec if decoder_spec is not None else PyMatchingDecoder().fingerprint_spec()
    con.execute("INSERT INTO decoders VALUES (?, 'pymatching', NULL, ?, now())", [fp, json.dumps(spec, sort_keys=True)])
    con.execute("INSERT INTO workloads VALUES (?, ?, ?, ?, ?, now())",
                [w.id, w.legacy_stream_id, w.kind, json.dumps(w.spec(), sort_keys=True), w.describe()])
    for b in blocks:
        con.execute("INSERT INTO blocks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, now(), ?)",
                    [fp, w.legacy_stream_id, *b])
    con.close()
    return path, want


def test_blocks_of_a_schema_4_store_are_reused_under_the_new_stream_id(tmp_path):
    from baselines.pymatching_decoder import PyMatchingDecoder
    from verifier.engine.replay import replay
    from verifier.qec.workload import MemoryWorkload

    w = MemoryWorkload(3, 3, "z", "uniform", 0.02, 20_000, 4)
    assert w.legacy_stream_id != w.stream_id
    path, want = _v4_store_with_legacy_blocks(tmp_path, w)
    old = Store(path)
    assert old.migrate() == len(MIGRATIONS)
    from verifier.environment import package_version

    assert old.query("SELECT stream_id, stim, blocks, adopted_as FROM legacy_streams") == [
        (w.legacy_stream_id, package_version("stim"), len(w.blocks()), None)]
    got = replay(PyMatchingDecoder(), w, store=old, workers=1)
    assert got.reused_shots == w.shots and got.stats.errors == want.stats.errors
    assert old.query("SELECT DISTINCT stream_id FROM blocks") == [(w.stream_id,)]
    assert old.query("SELECT stream_id FROM workloads") == [(w.stream_id,)]
    assert old.query("SELECT adopted_as FROM legacy_streams") == [(w.stream_id,)]
    # a longer run of the same stream (a sweep records its workloads first) reuses them too
    longer = MemoryWorkload(3, 3, "z", "uniform", 0.02, 30_000, 4)
    from verifier.engine.sweep import sweep

    res = sweep(PyMatchingDecoder(), [longer], store=old, workers=1)
    assert res.points[0].reused_shots == sum(b.shots for b in w.blocks() if b.shots == 8192)


@pytest.mark.parametrize("how", ["decoder names another stim", "migrated under another stim"])
def test_blocks_of_a_schema_4_store_drawn_under_another_stim_are_not_reused(tmp_path, monkeypatch, how):
    from baselines.pymatching_decoder import PyMatchingDecoder
    from verifier.engine.replay import replay
    from verifier.qec.workload import MemoryWorkload

    w = MemoryWorkload(3, 3, "z", "uniform", 0.02, 20_000, 4)
    spec = PyMatchingDecoder().fingerprint_spec()
    if how == "decoder names another stim":
        spec = spec | {"stim": "0.0.1"}
    else:  # a decoder that names no stim (an ONNX model's): the migration's stim is taken
        import verifier.store.db as db

        spec = {k: v for k, v in spec.items() if k != "stim"}
        monkeypatch.setattr(db, "migration_variables", lambda: {"sov_stim_version": "0.0.1"})
    path, _ = _v4_store_with_legacy_blocks(tmp_path, w, decoder_spec=spec)
    old = Store(path)
    old.migrate()
    monkeypatch.undo()
    want_stim = None if how == "decoder names another stim" else "0.0.1"
    assert old.query("SELECT stim FROM legacy_streams") == [(want_stim,)]
    got = replay(PyMatchingDecoder(), w, store=old, workers=1)
    assert got.reused_shots == 0
    n = len(w.blocks())
    assert sorted(old.query("SELECT stream_id, count(*) FROM blocks GROUP BY stream_id")) == sorted(
        [(w.legacy_stream_id, n), (w.stream_id, n)])  # the old blocks stay, unused
    assert old.query("SELECT stream_id FROM workloads") == [(w.stream_id,)]



def test_waiting_on_a_locked_store_says_so_and_names_the_holder(tmp_path):
    import subprocess
    import sys

    import duckdb

    db = tmp_path / "held.duckdb"
    holder = duckdb.connect(str(db))  # this process holds the file's lock
    try:
        code = ("from verifier.store.db import Store\n"
                f"Store({str(db)!r}, lock_timeout=3).connect().__enter__()\n")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                           cwd=str(Path(__file__).resolve().parents[1]))
    finally:
        holder.close()
    first = r.stderr.splitlines()[0]
    assert first.startswith("sov: waiting for the store") and f"(PID {os.getpid()})" in first, r.stderr
    assert "stayed locked by" in r.stderr and r.returncode != 0
