"""Signing keys for evidence records: crypto-agile key bundles.

A key file is JSON holding a list of keys, one per algorithm; the default bundle is the
hybrid Ed25519 + ML-DSA-65 (FIPS 204) pair, so a record stays trustworthy if either
scheme falls. A new algorithm is a new entry in :data:`ALGORITHMS`, not a new format::

    {"format": "sov.keys/1", "kind": "private" | "public",
     "keys": [{"alg": "ed25519", "key_id": "...", "pem": "-----BEGIN ..."}, ...]}

``key_id`` is the sha256 of the public key's DER SubjectPublicKeyInfo, so the same id
names a key in the private file, the public file and every signature it made. Private
files are written with mode 0600 and PKCS#8 PEM (unencrypted: protect the file).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from verifier.errors import IntegrityError, UsageError

KEYS_FORMAT = "sov.keys/1"
DEFAULT_ALGS = ("ed25519", "ml-dsa-65")
PRIVATE_NAME, PUBLIC_NAME = "sov-signing.key", "sov-signing.pub"


def _ed25519_generate():
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519.Ed25519PrivateKey.generate()


def _mldsa65_generate():
    from cryptography.hazmat.primitives.asymmetric import mldsa

    return mldsa.MLDSA65PrivateKey.generate()


def _ed25519_types():
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey


def _mldsa65_types():
    from cryptography.hazmat.primitives.asymmetric import mldsa

    return mldsa.MLDSA65PrivateKey, mldsa.MLDSA65PublicKey


# alg -> (generate, (private type, public type) getter). sign(msg) / verify(sig, msg) are the
# same calls for both families in `cryptography`.
ALGORITHMS: dict[str, tuple[Callable[[], Any], Callable[[], tuple[type, type]]]] = {
    "ed25519": (_ed25519_generate, _ed25519_types),
    "ml-dsa-65": (_mldsa65_generate, _mldsa65_types),
}


def _spki_der(public_key) -> bytes:
    from cryptography.hazmat.primitives import serialization as s

    return public_key.public_bytes(s.Encoding.DER, s.PublicFormat.SubjectPublicKeyInfo)


def key_id_of(public_key) -> str:
    return hashlib.sha256(_spki_der(public_key)).hexdigest()


def public_pem(public_key) -> str:
    from cryptography.hazmat.primitives import serialization as s

    return public_key.public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo).decode()


@dataclass(frozen=True)
class Key:
    alg: str
    key_id: str
    key: Any  # a cryptography private or public key object

    @property
    def is_private(self) -> bool:
        return hasattr(self.key, "sign")

    def public(self) -> "Key":
        return Key(self.alg, self.key_id, self.key.public_key()) if self.is_private else self

    def sign(self, message: bytes) -> dict[str, str]:
        sig = self.key.sign(message)
        return {"alg": self.alg, "key_id": self.key_id,
                "public_key": public_pem(self.key.public_key()),
                "signature": base64.b64encode(sig).decode()}

    def verify(self, signature_b64: str, message: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature

        try:
            sig = base64.b64decode(signature_b64, validate=True)
        except (ValueError, TypeError):
            return False
        try:
            self.public().key.verify(sig, message)
        except InvalidSignature:
            return False
        return True


def generate(algs: tuple[str, ...] = DEFAULT_ALGS) -> list[Key]:
    keys = []
    for alg in algs:
        if alg not in ALGORITHMS:
            raise UsageError(f"unknown signature algorithm {alg!r}: known {', '.join(ALGORITHMS)}")
        try:
            k = ALGORITHMS[alg][0]()
        except Exception as e:  # e.g. an OpenSSL without ML-DSA
            raise UsageError(f"this installation cannot generate {alg} keys: {e}") from None
        keys.append(Key(alg, key_id_of(k.public_key()), k))
    return keys


def _bundle(keys: list[Key], kind: str) -> dict:
    from cryptography.hazmat.primitives import serialization as s

    entries = []
    for k in keys:
        if kind == "private":
            pem = k.key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode()
        else:
            pem = public_pem(k.public().key)
        entries.append({"alg": k.alg, "key_id": k.key_id, "pem": pem})
    return {"format": KEYS_FORMAT, "kind": kind, "keys": entries}


def write_keys(keys: list[Key], out_dir: str | os.PathLike[str], *, force: bool = False) -> tuple[Path, Path]:
    """Write ``sov-signing.key`` (mode 0600) and ``sov-signing.pub`` into ``out_dir``."""
    d = Path(out_dir)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create key folder {d}: {e.strerror}") from None
    priv, pub = d / PRIVATE_NAME, d / PUBLIC_NAME
    if not force and (priv.exists() or pub.exists()):
        raise UsageError(f"{priv if priv.exists() else pub} exists: refusing to overwrite keys "
                         "(give --force, or another --out)")
    try:
        fd = os.open(priv, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(_bundle(keys, "private"), f, indent=2)
            f.write("\n")
        os.chmod(priv, 0o600)
        pub.write_text(json.dumps(_bundle(keys, "public"), indent=2) + "\n")
    except OSError as e:
        raise UsageError(f"cannot write keys into {d}: {e.strerror}") from None
    return priv, pub


def load_keys(path: str | os.PathLike[str], *, want: str | None = None) -> list[Key]:
    """Read a key file; ``want`` = "private" or "public" refuses the other kind (a public
    file cannot sign; a private file given as ``--key`` for verification is accepted and
    reduced to its public halves)."""
    from cryptography.hazmat.primitives import serialization as s

    p = Path(path)
    try:
        doc = json.loads(p.read_text())
    except FileNotFoundError:
        raise UsageError(f"key file not found: {p}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UsageError(f"{p} is not a sov key file: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != KEYS_FORMAT or not isinstance(doc.get("keys"), list):
        raise UsageError(f"{p} is not a sov key file (format {KEYS_FORMAT!r} expected)")
    kind = doc.get("kind")
    if want == "private" and kind != "private":
        raise UsageError(f"{p} holds public keys only: signing needs the private key file ({PRIVATE_NAME})")
    keys = []
    for e in doc["keys"]:
        alg, pem = e.get("alg"), e.get("pem", "")
        if alg not in ALGORITHMS:
            raise UsageError(f"{p}: unknown key algorithm {alg!r}")
        priv_t, pub_t = ALGORITHMS[alg][1]()
        try:
            obj = (s.load_pem_private_key(pem.encode(), None) if kind == "private"
                   else s.load_pem_public_key(pem.encode()))
        except Exception as ex:
            raise UsageError(f"{p}: cannot read the {alg} key: {ex}") from None
        if not isinstance(obj, priv_t if kind == "private" else pub_t):
            raise UsageError(f"{p}: the key marked {alg} is a {type(obj).__name__}")
        k = Key(alg, key_id_of(obj.public_key() if kind == "private" else obj), obj)
        if e.get("key_id") and e["key_id"] != k.key_id:
            raise IntegrityError(f"{p}: key_id of the {alg} key does not match the key")
        keys.append(k if want != "public" else k.public())
    if not keys:
        raise UsageError(f"{p} holds no keys")
    return keys


def public_bundle_text(keys: list[Key]) -> str:
    """A public key file (``kind: public``) holding ``keys``' public halves, as JSON text."""
    return json.dumps(_bundle([k.public() for k in keys], "public"), indent=2) + "\n"


_AVAILABLE: dict[str, bool] = {}


def available(alg: str) -> bool:
    """Whether this installation's ``cryptography`` can use ``alg`` (an OpenSSL built
    without ML-DSA cannot); probed once by generating a throw-away key."""
    if alg not in _AVAILABLE:
        try:
            ALGORITHMS[alg][0]()
            _AVAILABLE[alg] = True
        except Exception:  # ImportError, UnsupportedAlgorithm, an old cryptography's AttributeError
            _AVAILABLE[alg] = False
    return _AVAILABLE[alg]


@dataclass(frozen=True)
class SignatureCheck:
    """One signature entry (``alg``, ``key_id``, ``public_key``, ``signature``) checked over
    a message with the public key it carries. ``status``: ``valid``, ``invalid`` (a
    well-formed entry whose signature does not verify), ``malformed`` or ``unchecked`` (this
    installation cannot check its algorithm). Which keys to trust is the caller's business."""

    status: str
    detail: str = ""


def check_signature(sig: Any, message: bytes) -> SignatureCheck:
    if not isinstance(sig, dict):
        return SignatureCheck("malformed", "not an object")
    alg, kid = sig.get("alg"), sig.get("key_id")
    if alg not in ALGORITHMS:
        return SignatureCheck("malformed", f"unknown algorithm {alg!r}")
    if not available(alg):
        return SignatureCheck("unchecked", f"not checked: this installation cannot check {alg}")
    from cryptography.hazmat.primitives import serialization as s

    try:
        pub = s.load_pem_public_key(str(sig.get("public_key", "")).encode())
    except Exception as e:
        return SignatureCheck("malformed", f"embedded public key unreadable: {e}")
    if not isinstance(pub, ALGORITHMS[alg][1]()[1]) or key_id_of(pub) != kid:
        return SignatureCheck("malformed", "embedded public key does not match its alg/key_id")
    if Key(alg, kid, pub).verify(str(sig.get("signature", "")), message):
        return SignatureCheck("valid", f"valid, key {kid[:16]}")
    return SignatureCheck("invalid", f"INVALID signature by key {str(kid)[:16]}")
