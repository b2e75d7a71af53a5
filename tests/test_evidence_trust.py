"""Evidence verifies only against trusted keys: the trust store (sov keys trust/list/untrust),
Ed25519 and ML-DSA-65 both required by default (--require), and every forgery of issue 21
(edited to pass and re-hashed with signatures removed; re-signed with a fresh key; the ML-DSA
signature dropped) exit 4 with one line, through the library and the CLI."""

from __future__ import annotations

import copy
import json

import pytest

from verifier.errors import UsageError
from verifier.evidence import keys as keymod
from verifier.evidence import record as evidence
from verifier.evidence import trust
from verifier.evidence.keys import generate, write_keys

SELF_SIGNED = "self-signed, unverified: trust the signer's public key with sov keys trust"


@pytest.fixture(scope="module")
def vendor(tmp_path_factory):
    """The honest signer's key files and a signed FAIL record."""
    d = tmp_path_factory.mktemp("vendor")
    keys = generate()
    _, pub = write_keys(keys, d)
    body = {"kind": "accept", "sequence": 1, "previous_hash": None,
            "gates": [{"name": "ler", "status": "fail"}], "verdict": "fail", "exit_code": 1}
    return {"keys": keys, "pub": pub, "doc": evidence.seal(body, keys), "dir": d}


@pytest.fixture
def store_dir(tmp_path, monkeypatch):
    d = tmp_path / "trusted"
    monkeypatch.setenv(trust.TRUST_ENV, str(d))
    return d


def _to_pass(doc):
    d = copy.deepcopy(doc)
    d["record"]["verdict"], d["record"]["exit_code"] = "pass", 0
    d["record"]["gates"][0]["status"] = "pass"
    return d


def forged_unsigned(doc, vendor):  # edited to pass, hash recomputed, signatures removed
    d = _to_pass(doc)
    d["hash"]["value"] = evidence.record_hash(d["record"])
    d["signatures"] = []
    return d


def forged_fresh_ed25519(doc, vendor):  # edited to pass and re-signed with a fresh Ed25519 key
    return evidence.seal(_to_pass(doc)["record"], generate(("ed25519",)))


def forged_fresh_hybrid(doc, vendor):  # re-signed with a whole fresh Ed25519 + ML-DSA-65 bundle
    return evidence.seal(_to_pass(doc)["record"], generate())


def ml_dsa_dropped(doc, vendor):  # the vendor's own record, its ML-DSA signature removed
    d = copy.deepcopy(doc)
    d["signatures"] = [s for s in d["signatures"] if s["alg"] != "ml-dsa-65"]
    return d


def fresh_ed25519_beside_vendor_ml_dsa(doc, vendor):  # the vendor's ML-DSA kept, Ed25519 replaced
    d = copy.deepcopy(doc)
    fresh = generate(("ed25519",))[0]
    d["signatures"] = [fresh.sign(evidence.signing_message(d["hash"]["value"]))] + d["signatures"][1:]
    return d


def edited_not_rehashed(doc, vendor):
    return _to_pass(doc)


# forgery -> (failing check, words of the one stderr line), with the vendor's key trusted
FORGERIES = {
    forged_unsigned: ("trust", "unsigned"),
    forged_fresh_ed25519: ("trust", SELF_SIGNED),
    forged_fresh_hybrid: ("trust", SELF_SIGNED),
    ml_dsa_dropped: ("require", "no valid ml-dsa-65 signature by a trusted key"),
    fresh_ed25519_beside_vendor_ml_dsa: ("trust", "ed25519 signature by untrusted key"),
    edited_not_rehashed: ("hash", "record was altered"),
}


@pytest.mark.parametrize("forge", list(FORGERIES), ids=lambda f: f.__name__)
def test_every_forgery_fails_against_the_trusted_vendor_key(forge, vendor, store_dir, tmp_path, cli):
    assert [t.added for t in trust.trust(vendor["pub"])] == [True, True]
    forged = forge(vendor["doc"], vendor)
    # library: the integrity-only check passes the re-signed forgeries; the trusted one does not
    rep = evidence.verify_trusted(forged, trusted=[k.public() for k in vendor["keys"]])
    name, words = FORGERIES[forge]
    bad = next(c for c in rep.checks if not c.ok)
    assert not rep.ok and bad.name == name and words in bad.detail, rep.to_json()
    # CLI: exit 4, one line naming why
    f = tmp_path / "forged.json"
    evidence.write(forged, f)
    r = cli("evidence", "verify", f)
    assert r.returncode == 4 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith(f"sov: integrity: {f}: {name}: ") and words in r.stderr
    assert "intact" not in r.stdout


def test_resigned_forgery_passes_the_integrity_check_alone(vendor):
    """Why trust is needed: the forger's own signatures are valid."""
    assert evidence.verify(forged_fresh_hybrid(vendor["doc"], vendor)).ok


def test_honest_record_is_self_signed_until_its_key_is_trusted(vendor, store_dir, tmp_path, cli):
    f = tmp_path / "ev.json"
    evidence.write(vendor["doc"], f)
    r = cli("evidence", "verify", f)
    assert r.returncode == 4 and SELF_SIGNED in r.stderr and r.stderr.count("\n") == 1
    # --key trusts for this one call
    assert cli("evidence", "verify", f, "--key", vendor["pub"]).returncode == 0
    assert cli("keys", "list").stdout.startswith("no trusted keys")
    r = cli("keys", "trust", vendor["pub"])
    assert r.returncode == 0 and "already trusted" not in r.stdout
    assert sorted(p.name for p in store_dir.iterdir()) == sorted(f"{k.alg}-{k.key_id}.pub" for k in vendor["keys"])
    assert "already trusted" in cli("keys", "trust", vendor["pub"]).stdout
    r = cli("evidence", "verify", f)
    assert r.returncode == 0 and "intact and signed by trusted keys (verdict fail)" in r.stdout, r.stderr
    listed = json.loads(cli("keys", "list", "--json", "-").stdout)
    assert [(k["alg"], k["key_id"]) for k in listed["keys"]] == [(k.alg, k.key_id) for k in vendor["keys"]]
    # library, through the same store
    assert trust.verify_file(f).ok
    # untrust the ML-DSA key: the record no longer verifies by default, but does under --require ed25519
    ml = vendor["keys"][1].key_id
    assert cli("keys", "untrust", ml[:12]).returncode == 0
    r = cli("evidence", "verify", f)
    assert r.returncode == 4 and "ml-dsa-65 signature by untrusted key" in r.stderr
    assert cli("keys", "untrust", ml[:12]).returncode == 2  # gone
    assert cli("keys", "untrust", "abc").returncode == 2  # too short to name a key


def test_require_flag_decides_the_algorithms(vendor, store_dir, tmp_path, cli):
    trust.trust(vendor["pub"])
    f = tmp_path / "ed-only.json"
    evidence.write(ml_dsa_dropped(vendor["doc"], vendor), f)
    assert cli("evidence", "verify", f).returncode == 4
    assert cli("evidence", "verify", f, "--require", "ed25519").returncode == 0
    assert cli("evidence", "verify", f, "--require", "ml-dsa-65").returncode == 4
    r = cli("evidence", "verify", f, "--require", "ed25519,rsa")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "'rsa'" in r.stderr
    with pytest.raises(UsageError):
        trust.parse_require(" , ")
    assert trust.parse_require("ML-DSA-65, ed25519") == ("ml-dsa-65", "ed25519")


def test_without_ml_dsa_it_says_so_unless_not_required(vendor, store_dir, tmp_path, cli, monkeypatch):
    trust.trust(vendor["pub"])
    f = tmp_path / "ev.json"
    evidence.write(vendor["doc"], f)
    monkeypatch.setitem(keymod._AVAILABLE, "ml-dsa-65", False)
    r = cli("evidence", "verify", f)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "cannot check ml-dsa-65" in r.stderr
    r = cli("evidence", "verify", f, "--require", "ed25519")
    assert r.returncode == 0 and "not checked" in r.stdout, r.stderr


def test_a_broken_trust_store_file_is_one_line(store_dir, cli):
    store_dir.mkdir()
    (store_dir / "x.pub").write_text("{not json")
    r = cli("keys", "list")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "x.pub" in r.stderr


def test_policy_file_evidence_require(vendor, store_dir, tmp_path, cli):
    trust.trust(vendor["pub"])
    f = tmp_path / "ed-only.json"
    evidence.write(ml_dsa_dropped(vendor["doc"], vendor), f)
    pol = tmp_path / "p.toml"
    pol.write_text('[evidence]\nrequire = ["ed25519"]\n')
    assert cli("evidence", "verify", f, "--policy", pol).returncode == 0
    assert cli("evidence", "verify", f, "--policy", pol, "--require", "ed25519,ml-dsa-65").returncode == 4
    pol.write_text("[policy]\nname = 'x'\n")  # no [evidence] table: the default, both
    assert cli("evidence", "verify", f, "--policy", pol).returncode == 4
    pol.write_text('[evidence]\nrequire = ["rsa"]\n')
    r = cli("evidence", "verify", f, "--policy", pol)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "p.toml: evidence.require" in r.stderr
    # an acceptance policy may carry the table; a bad one is refused there too
    from verifier.gates import policy

    base = {"workloads": [{"name": "w", "distance": 3, "p": 0.01}], "gates": [{"kind": "ler_noninferiority"}]}
    policy.parse({**base, "evidence": {"require": ["ed25519"]}})
    with pytest.raises(UsageError, match="evidence.requires: unknown key"):
        policy.parse({**base, "evidence": {"requires": ["ed25519"]}})
