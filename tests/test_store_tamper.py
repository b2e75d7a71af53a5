"""A tamper-evident store: every chain record commits to the previous one and to its verdict
row, the chain's head sits in a file next to the store (signed when the writer had a key);
``sov evidence chain`` exits 4 naming the first bad entry, ``sov history show`` marks rows
that fail the chain."""

from __future__ import annotations

import json
import os
import shutil

import duckdb
import pytest

from verifier.evidence import record as evidence
from verifier.evidence.head import seal_head
from verifier.store.db import Store
from verifier.store.evidence import append_record, head_path
from verifier.store.verdicts import VerdictRow


def _append(store: Store, verdict: str, i: int, *, keys=None) -> str:
    """One recorded run with its verdict row and chain record, as ``sov accept`` writes them."""
    run_id = store.start_run("accept", ["accept"])
    code = 0 if verdict == "pass" else 1
    gates = [{"name": "ler", "status": verdict, "workload": "w", "message": f"gate {verdict}"}]
    row = VerdictRow(f"v{i}", run_id, "accept", "m.onnx", verdict, code, json.dumps(gates), "{}", None)
    evidence.append(store, {"kind": "accept", "run_id": run_id, "verdict_id": row.verdict_id,
                            "gates": gates, "verdict": verdict, "exit_code": code},
                    keys=keys, run_id=run_id, verdict_id=row.verdict_id, verdict_row=row)
    store.finish_run(run_id, "failed" if code else "ok", exit_code=code)
    return run_id


@pytest.fixture(scope="module")
def _honest_once(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("honest") / "s.duckdb")
    return store, [_append(store, v, i) for i, v in enumerate(["pass", "fail", "fail"])]


@pytest.fixture
def honest(_honest_once, tmp_path):
    """A copy (store and head file) of a store of three verdicts (pass, fail, fail), and their run ids."""
    store, runs = _honest_once
    copy = Store(tmp_path / "s.duckdb")
    shutil.copy(store.path, copy.path)
    shutil.copy(head_path(store), head_path(copy))
    return copy, runs


def _sql(store: Store, sql: str) -> None:
    """An edit behind sov's back, as someone with write access to the file would make it."""
    con = duckdb.connect(store.path)
    con.execute(sql)
    con.close()


def _chain(cli, store):
    r = cli("evidence", "chain", "--db", store.path)
    return r.returncode, r.stderr.strip().splitlines()


def test_honest_store_is_intact(cli, honest):
    store, _ = honest
    code, err = _chain(cli, store)
    assert (code, err) == (0, [])
    head = json.loads(head_path(store).read_text())
    assert (head["sequence"], head["signatures"]) == (3, [])
    rec = json.loads(store.query("SELECT record FROM evidence_chain WHERE seq = 2")[0][0])["record"]
    assert rec["chain_version"] == 2 and len(rec["verdict_row_sha256"]) == 64


def test_deleting_the_last_record_is_named(cli, honest):
    store, _ = honest
    _sql(store, "DELETE FROM evidence_chain WHERE seq = 3")
    code, err = _chain(cli, store)
    assert code == 4 and len(err) == 1
    assert "#3: missing: the head file names record #3" in err[0] and "chain ends at #2" in err[0]
    # deleting its verdict row as well does not hide it
    _sql(store, "DELETE FROM verdicts WHERE verdict_id = 'v2'")
    assert _chain(cli, store)[0] == 4
    # nor deleting the head file: the remaining records say one should be there
    head_path(store).unlink()
    code, err = _chain(cli, store)
    assert code == 4 and "head: head file" in err[0] and "is missing" in err[0]


def test_a_verdict_row_edited_from_fail_to_pass_is_named_and_marked(cli, honest):
    store, runs = honest
    _sql(store, "UPDATE verdicts SET verdict = 'pass', exit_code = 0 WHERE verdict_id = 'v1'")
    code, err = _chain(cli, store)
    assert code == 4 and len(err) == 1
    assert "#2: verdict row edited: it says pass (exit 0), the record says fail (exit 1)" in err[0]
    r = cli("history", "show", runs[1], "--db", store.path, "--json", "-")
    v = json.loads(r.stdout)["verdicts"][0]
    assert v["verdict"] == "pass" and v["chain"].startswith("TAMPERED: verdict row edited")
    shown = cli("history", "show", runs[1], "--db", store.path).stdout
    assert "TAMPERED" in shown and "pass exit 0" in shown
    assert "TAMPERED" not in cli("history", "show", runs[0], "--db", store.path).stdout


def test_an_edit_that_keeps_verdict_and_exit_code_still_breaks_the_row_hash(cli, honest):
    store, runs = honest
    _sql(store, "UPDATE verdicts SET gates = '[]' WHERE verdict_id = 'v1'")
    code, err = _chain(cli, store)
    assert code == 4 and "#2: verdict row edited: its content no longer hashes" in err[0]
    _sql(store, "UPDATE verdicts SET gates = '[]' WHERE verdict_id = 'v0'")  # an earlier one comes first
    assert "#1: verdict row edited" in _chain(cli, store)[1][0]


def test_a_truncated_store_is_one_line_exit_4_and_a_file_that_never_was_one_exit_2(cli, honest, tmp_path):
    store, _ = honest
    size = os.path.getsize(store.path)
    os.truncate(store.path, size // 20)  # DuckDB's header stays: a damaged store
    code, err = _chain(cli, store)
    assert code == 4 and len(err) == 1 and "store: cannot be read as a sov store (truncated, corrupt" in err[0]
    os.truncate(store.path, 0)  # nothing left, but its head file says a chain was recorded here
    code, err = _chain(cli, store)
    assert code == 4 and len(err) == 1 and "store: cannot be read" in err[0]
    # no DuckDB header and no head file: not a store at all (a wrong --db), exit 2 as elsewhere
    other = Store(tmp_path / "notes.duckdb")
    with open(other.path, "wb") as f:
        f.write(b"just some text, not a store\n")
    code, err = _chain(cli, other)
    assert code == 2 and len(err) == 1 and "not a DuckDB file" in err[0]
    code, err = _chain(cli, Store(tmp_path / "absent.duckdb"))  # nothing to check: a usage error
    assert code == 2 and len(err) == 1 and "no store at" in err[0]


def test_an_older_head_file_put_back_is_caught(cli, honest, tmp_path):
    store, _ = honest
    shutil.copy(head_path(store), tmp_path / "old.head")
    _append(store, "pass", 9)
    shutil.copy(tmp_path / "old.head", head_path(store))
    code, err = _chain(cli, store)
    assert code == 4 and "the head file names #3, but the chain goes on to #4" in err[0]


def test_signed_head_verifies_and_an_unsigned_replacement_fails(tmp_path):
    from verifier.evidence.keys import generate

    store = Store(tmp_path / "s.duckdb")
    keys = generate()
    _append(store, "pass", 0, keys=keys)
    _append(store, "fail", 1, keys=keys)
    rep = evidence.verify_chain(store)
    assert rep.ok and "signed by 2 key(s)" in rep.checks[-1].detail
    # someone deletes the last record and writes a head file for #1 without the key
    _sql(store, "DELETE FROM evidence_chain WHERE seq = 2; DELETE FROM verdicts WHERE verdict_id = 'v1'")
    h = store.query("SELECT record_hash FROM evidence_chain WHERE seq = 1")[0][0]
    head_path(store).write_text(json.dumps(seal_head(1, h)))
    bad = [c for c in evidence.verify_chain(store).checks if not c.ok]
    assert [c.name for c in bad] == ["head"] and "not signed by its keys" in bad[0].detail
    # a signature that does not cover this head fails too
    forged = seal_head(1, h, keys)
    forged["sequence"] = 1
    forged["signatures"][0]["signature"] = seal_head(2, h, keys)["signatures"][0]["signature"]
    head_path(store).write_text(json.dumps(forged))
    bad = [c for c in evidence.verify_chain(store).checks if not c.ok]
    assert [c.name for c in bad] == ["head"] and "INVALID head signature" in bad[0].detail


def test_a_chain_written_before_head_files_verifies_as_far_as_it_goes(tmp_path):
    """Records without ``chain_version`` (sov before this change): hashes and links checked,
    their verdict rows by verdict and exit code, and no head file is expected until a new
    record is appended."""
    store = Store(tmp_path / "s.duckdb")
    for i, v in enumerate(["pass", "fail"]):
        body = {"sequence": None, "kind": "accept", "verdict_id": f"v{i}", "verdict": v,
                "exit_code": 0 if v == "pass" else 1}
        doc = append_record(store, lambda seq, prev, b=body: evidence.seal(b | {"sequence": seq, "previous_hash": prev}),
                            run_id=None, verdict_id=f"v{i}")
        store_row = VerdictRow(f"v{i}", None, "accept", "m", v, body["exit_code"], "[]", "{}", doc["hash"]["value"])
        with store.connect() as con:
            from verifier.store.verdicts import insert_verdict

            insert_verdict(con, store_row)
    rep = evidence.verify_chain(store)
    assert rep.ok and "chain written before head files" in rep.checks[-1].detail
    _sql(store, "UPDATE verdicts SET verdict = 'pass', exit_code = 0 WHERE verdict_id = 'v1'")
    bad = [c for c in evidence.verify_chain(store).checks if not c.ok]
    assert [c.name for c in bad] == ["#2"] and "it says pass" in bad[0].detail
    _sql(store, "UPDATE verdicts SET verdict = 'fail', exit_code = 1 WHERE verdict_id = 'v1'")
    _append(store, "pass", 2)  # a new record on the old chain: from now on the head is tracked
    assert evidence.verify_chain(store).ok and head_path(store).exists()
