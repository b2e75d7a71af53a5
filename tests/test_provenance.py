"""Model provenance: ``sov models verify FILE --signature SIG`` checks an OpenSSF
model-signing signature offline (key and certificate signatures), records the signer with
the model, ``[provenance]`` policies refuse an unsigned candidate before any shot, and the
ML-BOM lists the signer."""

from __future__ import annotations

import datetime as dt
import json
import socket
from pathlib import Path

import pytest

pytest.importorskip("model_signing", reason="model-signing not installed (pip install '.[provenance]')")

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from tests.fixtures.onnx_models import constant_decoder  # noqa: E402


def _write_key(key, folder: Path, name: str) -> tuple[Path, Path]:
    priv, pub = folder / f"{name}.pem", folder / f"{name}.pub"
    priv.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    return priv, pub


@pytest.fixture
def keypair(tmp_path):
    return _write_key(ec.generate_private_key(ec.SECP256R1()), tmp_path, "vendor")


@pytest.fixture
def model(tmp_path) -> Path:
    import onnx

    path = tmp_path / "vendor.onnx"
    onnx.save(constant_decoder(24, 1, flip=False), str(path))
    return path


def _sign_with_key(model: Path, private_key: Path, sig: Path) -> Path:
    import model_signing

    model_signing.signing.Config().use_elliptic_key_signer(private_key=private_key).sign(model, sig)
    return sig


def _tampered(model: Path) -> Path:
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one byte
    out = model.with_name("tampered.onnx")
    out.write_bytes(bytes(data))
    return out


def test_key_signature_verifies_shows_and_records_the_signer(cli, tmp_path, model, keypair, monkeypatch):
    priv, pub = keypair
    sig = _sign_with_key(model, priv, tmp_path / "vendor.onnx.sig")
    db = str(tmp_path / "s.duckdb")

    def no_network(*a, **k):
        raise AssertionError("model verification must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    r = cli("models", "verify", str(model), "--signature", str(sig), "--key", str(pub), "--db", db,
            "--json", str(tmp_path / "v.json"))
    assert r.returncode == 0, r.stderr
    from adapters.provenance import key_fingerprint

    fp = key_fingerprint(pub.read_bytes())
    assert fp in r.stdout and "signature verified" in r.stdout
    out = json.loads((tmp_path / "v.json").read_text())
    import hashlib

    sha = hashlib.sha256(model.read_bytes()).hexdigest()
    assert out["identity"] == fp and out["method"] == "key" and out["model_sha256"] == sha
    assert out["signed_digest"] == f"sha256:{sha}"
    from verifier.store.db import Store
    from verifier.store.models import model_signatures

    rows = model_signatures(Store(db), sha)
    assert [(s["identity"], s["method"]) for s in rows] == [(fp, "key")]
    # the same signature again is one record
    assert cli("models", "verify", str(model), "--signature", str(sig), "--key", str(pub), "--db", db).returncode == 0
    assert len(model_signatures(Store(db), sha)) == 1


def test_tampered_copy_wrong_key_and_wrong_identity_are_exit_4(cli, tmp_path, model, keypair):
    priv, pub = keypair
    sig = _sign_with_key(model, priv, tmp_path / "vendor.onnx.sig")
    db = str(tmp_path / "s.duckdb")
    r = cli("models", "verify", str(_tampered(model)), "--signature", str(sig), "--key", str(pub), "--db", db)
    assert r.returncode == 4 and "not the one signed" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    _, other = _write_key(ec.generate_private_key(ec.SECP256R1()), tmp_path, "other")
    r = cli("models", "verify", str(model), "--signature", str(sig), "--key", str(other), "--db", db)
    assert r.returncode == 4 and "not a trusted key" in r.stderr
    r = cli("models", "verify", str(model), "--signature", str(sig), "--key", str(pub),
            "--identity", "someone@else.example", "--db", db)
    assert r.returncode == 4 and "not a trusted identity" in r.stderr
    # a signature edited to name the trusted key, signed by another: the ECDSA check fails
    forged = tmp_path / "forged.sig"
    opriv, _ = _write_key(ec.generate_private_key(ec.SECP256R1()), tmp_path, "attacker")
    _sign_with_key(model, opriv, forged)
    doc = json.loads(forged.read_text())
    doc["verificationMaterial"] = json.loads(sig.read_text())["verificationMaterial"]
    forged.write_text(json.dumps(doc))
    r = cli("models", "verify", str(model), "--signature", str(forged), "--key", str(pub), "--db", db)
    assert r.returncode == 4, r.stderr
    r = cli("models", "verify", str(model), "--signature", str(model), "--key", str(pub), "--db", db)
    assert r.returncode == 4 and "not a model-signing signature" in r.stderr
    assert not Path(db).exists()  # a failed verification records nothing


def test_usage_errors_are_exit_2(cli, tmp_path, model, keypair, monkeypatch):
    priv, pub = keypair
    sig = _sign_with_key(model, priv, tmp_path / "m.sig")
    db = str(tmp_path / "s.duckdb")
    r = cli("models", "verify", str(model), "--signature", str(tmp_path / "none.sig"), "--key", str(pub), "--db", db)
    assert r.returncode == 2 and "signature file not found" in r.stderr
    r = cli("models", "verify", str(model), "--signature", str(sig), "--db", db)
    assert r.returncode == 2 and "--key" in r.stderr
    monkeypatch.setitem(__import__("sys").modules, "model_signing", None)  # not installed
    r = cli("models", "verify", str(model), "--signature", str(sig), "--key", str(pub), "--db", db)
    assert r.returncode == 2 and "pip install 'sov-verifier[provenance]'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(tmp_path: Path, cn: str):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    path = tmp_path / f"{cn}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, path


def _leaf(tmp_path: Path, ca_key, ca_cert, email: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name("vendor signing")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(ca_key, hashes.SHA256()))
    cpath = tmp_path / "leaf-cert.pem"
    cpath.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    priv, _ = _write_key(key, tmp_path, "leaf")
    return priv, cpath


def test_certificate_signature_verifies_against_its_chain_only(cli, tmp_path, model):
    import model_signing

    ca_key, ca_cert, ca_pem = _ca(tmp_path, "vendor-ca")
    priv, leaf = _leaf(tmp_path, ca_key, ca_cert, "release@vendor.example")
    sig = tmp_path / "cert.sig"
    model_signing.signing.Config().use_certificate_signer(
        private_key=priv, signing_certificate=leaf, certificate_chain=[ca_pem]).sign(model, sig)
    db = str(tmp_path / "s.duckdb")
    r = cli("models", "verify", str(model), "--signature", str(sig), "--cert-chain", str(ca_pem),
            "--identity", "release@vendor.example", "--db", db, "--json", "-")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["identity"] == "release@vendor.example" and out["method"] == "certificate"
    assert out["details"]["issuer"] == "CN=vendor-ca"
    _, _, other_ca = _ca(tmp_path, "other-ca")
    r = cli("models", "verify", str(model), "--signature", str(sig), "--cert-chain", str(other_ca), "--db", db)
    assert r.returncode == 4 and "does not verify" in r.stderr
    r = cli("models", "verify", str(_tampered(model)), "--signature", str(sig), "--cert-chain", str(ca_pem), "--db", db)
    assert r.returncode == 4
    r = cli("models", "verify", str(model), "--signature", str(sig), "--key", str(leaf.with_name("leaf.pub")), "--db", db)
    assert r.returncode == 4 and "no trusted certificate chain" in r.stderr


def _policy(tmp_path: Path, pub: Path, candidate: Path, extra: str = "") -> Path:
    p = tmp_path / "p.toml"
    p.write_text(f"""
[decoders]
candidate = "{candidate}"
baseline = "pymatching"

[provenance]
require_signature = true
public_keys = ["{pub}"]
{extra}

[[workloads]]
name = "d3"
distance = 3
p = 0.01
shots = 200

[[gates]]
kind = "ler_noninferiority"
""")
    return p


def test_policy_refuses_an_unsigned_or_tampered_candidate_before_any_shot(cli, tmp_path, model, keypair):
    priv, pub = keypair
    db = str(tmp_path / "s.duckdb")
    r = cli("accept", "--policy", str(_policy(tmp_path, pub, model)), "--workers", "1", "-q", "--db", db)
    assert r.returncode == 4 and "has no signature" in r.stderr, r.stderr
    _sign_with_key(model, priv, model.with_name(model.name + ".sig"))
    bad = _tampered(model)
    bad.with_name(bad.name + ".sig").write_bytes(model.with_name(model.name + ".sig").read_bytes())
    r = cli("accept", "--policy", str(_policy(tmp_path, pub, bad)), "--workers", "1", "-q", "--db", db)
    assert r.returncode == 4 and "not the one signed" in r.stderr, r.stderr
    r = cli("accept", "--policy", str(_policy(tmp_path, pub, model, 'identities = ["ops@example"]')),
            "--workers", "1", "-q", "--db", db)
    assert r.returncode == 4 and "not a trusted identity" in r.stderr
    r = cli("accept", "--policy", str(_policy(tmp_path, pub, "pymatching")), "--workers", "1", "-q", "--db", db)
    assert r.returncode == 4 and "not a model file" in r.stderr
    from verifier.store.db import Store

    if Path(db).exists():  # nothing replayed: no run, no block
        assert Store(db).query("SELECT count(*) FROM blocks")[0][0] == 0


def test_policy_provenance_table_errors_are_exit_2(tmp_path):
    from verifier.errors import UsageError
    from verifier.gates.policy import parse

    base = {"workloads": [{"distance": 3, "p": 0.01}], "gates": [{"kind": "ler_noninferiority"}]}
    for table, key in (({"require_signature": True}, "provenance"),
                       ({"require_signature": "yes", "public_keys": ["k.pub"]}, "provenance.require_signature"),
                       ({"public_keys": "k.pub"}, "provenance.public_keys"),
                       ({"public_keys": ["k.pub"], "identity": ["x"]}, "provenance.identity")):
        with pytest.raises(UsageError, match=f"p.toml: {key}"):
            parse({**base, "provenance": table}, source="p.toml", base=tmp_path)
    pol = parse({**base, "provenance": {"require_signature": True, "public_keys": ["k.pub"]}},
                source="p.toml", base=tmp_path)
    assert pol.provenance.public_keys == (tmp_path / "k.pub",)
    assert pol.to_json()["provenance"]["require_signature"] is True


def test_signed_candidate_is_accepted_with_its_signer_in_the_evidence_and_the_bom(cli, tmp_path, identity_path, keypair):
    priv, pub = keypair
    model = tmp_path / "id.onnx"
    model.write_bytes(Path(identity_path).read_bytes())
    _sign_with_key(model, priv, model.with_name("id.onnx.sig"))
    db = str(tmp_path / "s.duckdb")
    r = cli("accept", "--policy", str(_policy(tmp_path, pub, model)), "--workers", "1", "-q",
            "--db", db, "--json", "-")
    assert r.returncode in (0, 1, 3), r.stderr
    out = json.loads(r.stdout)
    from adapters.provenance import key_fingerprint

    fp = key_fingerprint(pub.read_bytes())
    assert out["candidate"]["signer"]["identity"] == fp
    r = cli("models", "bom", str(model), "--db", db)
    assert r.returncode == 0, r.stderr
    props = json.loads(r.stdout)["metadata"]["component"]["properties"]
    assert {"name": "sov:signer", "value": fp} in props
    sig = next(json.loads(p["value"]) for p in props if p["name"] == "sov:signature")
    assert sig["method"] == "key" and sig["key_fingerprint"] == fp


def test_bom_without_a_verified_signature_lists_no_signer(cli, tmp_path, model):
    r = cli("models", "bom", str(model), "--db", str(tmp_path / "none.duckdb"))
    assert r.returncode == 0, r.stderr
    assert not [p for p in json.loads(r.stdout)["metadata"]["component"]["properties"]
                if p["name"] == "sov:signer"]


def test_optional_signature_is_still_verified_when_present(tmp_path, model, keypair):
    from adapters.provenance import check_candidate
    from verifier.errors import IntegrityError
    from verifier.gates.policy import ProvenanceSpec

    priv, pub = keypair
    optional = ProvenanceSpec(require_signature=False, public_keys=(pub,))
    assert check_candidate(str(model), optional) is None  # no signature: allowed
    assert check_candidate("pymatching", optional) is None
    _sign_with_key(model, priv, model.with_name(model.name + ".sig"))
    assert check_candidate(str(model), optional)["method"] == "key"
    bad = _tampered(model)
    bad.with_name(bad.name + ".sig").write_bytes(model.with_name(model.name + ".sig").read_bytes())
    with pytest.raises(IntegrityError, match="not the one signed"):
        check_candidate(str(bad), optional)
