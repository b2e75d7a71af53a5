"""Evidence records: hash chain in the store, hybrid Ed25519 + ML-DSA-65 signatures,
offline verification (exit 0 intact, exit 4 altered)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from verifier.evidence import record as evidence
from verifier.evidence.keys import generate, load_keys, write_keys
from tests.fixtures.cli import sov_main


@pytest.fixture(scope="module")
def keydir(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    assert sov_main("keys", "generate", "--out", str(d)) == 0
    return d


def _body(verdict="pass"):
    return {"kind": "accept", "subject": {"candidate": {"name": "m.onnx", "model_sha256": "ab" * 32}},
            "workloads": [{"name": "w", "id": "cd" * 32}], "gates": [{"name": "g", "status": verdict,
                                                                     "figures": {"x": 1.5, "nan": float("nan")}}],
            "figures": {}, "verdict": verdict, "exit_code": 0 if verdict == "pass" else 1}


def test_keys_are_hybrid_and_private_file_is_0600(keydir):
    priv = load_keys(keydir / "sov-signing.key", want="private")
    pub = load_keys(keydir / "sov-signing.pub", want="public")
    assert [k.alg for k in priv] == [k.alg for k in pub] == ["ed25519", "ml-dsa-65"]
    assert [k.key_id for k in priv] == [k.key_id for k in pub]
    assert stat.S_IMODE(os.stat(keydir / "sov-signing.key").st_mode) == 0o600
    from verifier.errors import UsageError

    with pytest.raises(UsageError, match="public keys only"):
        load_keys(keydir / "sov-signing.pub", want="private")
    # refuses to overwrite
    assert sov_main("keys", "generate", "--out", str(keydir)) == 2


def test_chain_links_and_unsigned_records_verify(store):
    docs = [evidence.append(store, _body()) for _ in range(3)]
    assert [d["record"]["sequence"] for d in docs] == [1, 2, 3]
    assert docs[0]["record"]["previous_hash"] is None
    assert docs[1]["record"]["previous_hash"] == docs[0]["hash"]["value"]
    assert docs[2]["record"]["previous_hash"] == docs[1]["hash"]["value"]
    assert docs[0]["signatures"] == [] and docs[0]["record"]["gates"][0]["figures"]["nan"] is None
    rep = evidence.verify(docs[2], store=store)
    assert rep.ok, rep.to_json()
    assert evidence.verify_chain(store).ok
    # tamper with the middle record inside the store: the chain walk names it
    with store.connect() as con:
        raw = json.loads(con.execute("SELECT record FROM evidence_chain WHERE seq = 2").fetchone()[0])
        raw["record"]["verdict"] = "fail"
        con.execute("UPDATE evidence_chain SET record = ? WHERE seq = 2", [json.dumps(raw)])
    rep = evidence.verify_chain(store)
    assert not rep.ok and [c.name for c in rep.checks if not c.ok] == ["#2"]


def test_signed_record_verifies_and_any_edit_fails(store, keydir, tmp_path, monkeypatch):
    keys = load_keys(keydir / "sov-signing.key", want="private")
    doc = evidence.append(store, _body(), keys=keys)
    assert [s["alg"] for s in doc["signatures"]] == ["ed25519", "ml-dsa-65"]
    f = tmp_path / "ev.json"
    evidence.write(doc, f)
    pub = str(keydir / "sov-signing.pub")
    monkeypatch.setenv("SOV_TRUST_DIR", str(tmp_path / "trusted"))
    assert sov_main("evidence", "verify", str(f)) == 4  # self-signed until its key is trusted
    assert sov_main("keys", "trust", pub) == 0
    assert sov_main("evidence", "verify", str(f)) == 0
    assert sov_main("evidence", "verify", str(f), "--key", pub, "--db", store.path) == 0

    def edited(mutate) -> int:
        d = json.loads(f.read_text())
        mutate(d)
        g = tmp_path / "edited.json"
        g.write_text(json.dumps(d))
        return sov_main("evidence", "verify", str(g), "--key", pub)

    def flip_verdict(d):
        d["record"]["verdict"] = "fail"

    def edit_figure(d):
        d["record"]["gates"][0]["figures"]["x"] = 1.4

    def drop_pq_signature(d):
        d["signatures"] = d["signatures"][:1]

    def corrupt_signature(d):
        s = d["signatures"][1]["signature"]
        d["signatures"][1]["signature"] = ("A" if s[0] != "A" else "B") + s[1:]

    def rehash_after_edit(d):  # a forger who recomputes the hash still lacks the keys
        d["record"]["verdict"] = "fail"
        d["hash"]["value"] = evidence.record_hash(d["record"])

    def unsigned_copy(d):
        d["signatures"] = []

    for mutate in (flip_verdict, edit_figure, drop_pq_signature, corrupt_signature,
                   rehash_after_edit, unsigned_copy):
        assert edited(mutate) == 4, mutate.__name__
    g = tmp_path / "garbled.json"
    g.write_text(f.read_text()[:-40])
    assert sov_main("evidence", "verify", str(g)) == 4
    # signed by someone else: valid signatures, but not by the trusted keys (--key adds to the
    # trust store for one call, so the store here is an empty one)
    monkeypatch.setenv("SOV_TRUST_DIR", str(tmp_path / "empty"))
    other = generate()
    _, other_pub = write_keys(other, tmp_path / "other")
    assert sov_main("evidence", "verify", str(f), "--key", str(other_pub)) == 4


def test_accept_writes_signed_evidence_that_verifies(tmp_path, keydir, identity_path):
    m = identity_path
    db, ev = tmp_path / "s.duckdb", tmp_path / "ev.json"
    common = ["--candidate", m, "--baseline", "pymatching", "-d", "3", "--p", "0.01", "--shots", "3000",
              "--seed", "5", "--workers", "1", "-q", "--db", str(db)]
    assert sov_main("accept", *common) == 0  # unsigned, still chained
    assert sov_main("accept", *common, "--key", str(keydir / "sov-signing.key"), "--evidence", str(ev)) == 0
    doc = json.loads(ev.read_text())
    rec = doc["record"]
    assert rec["sequence"] == 2 and rec["previous_hash"] and rec["verdict"] == "pass"
    assert rec["tool"]["name"] == "sov" and rec["tool"]["version"]
    assert rec["subject"]["candidate"]["model_sha256"] and rec["workloads"][0]["id"]
    assert sov_main("evidence", "verify", str(ev), "--key", str(keydir / "sov-signing.pub"),
                    "--db", str(db)) == 0
    assert sov_main("evidence", "chain", "--db", str(db)) == 0
    from verifier.store.db import Store

    rows = Store(db).query("SELECT v.verdict, e.seq FROM verdicts v JOIN evidence_chain e "
                           "ON e.record_hash = v.record_hash ORDER BY e.seq")
    assert rows == [("pass", 1), ("pass", 2)]
