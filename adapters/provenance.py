"""Model provenance: OpenSSF model-signing signatures, verified offline.

A signature file is a Sigstore bundle written by the ``model-signing`` package (or its
``model_signing sign key|certificate`` command): a DSSE envelope over an in-toto statement
naming the model's digest. sov verifies two kinds, both without any network:

- ``key``: signed with an elliptic-curve private key (P-256/P-384/P-521); verified with
  the matching public key. The signer's identity is the key's fingerprint,
  ``sha256:<hex>`` of its PEM SubjectPublicKeyInfo (the hint model-signing writes).
- ``certificate``: signed with a key whose X.509 certificate chains to a root given as a
  trusted certificate chain; the identity is the certificate's first subject alternative
  name (e-mail, URI, DNS) or its common name.

Keyless Sigstore signatures (Fulcio certificates, Rekor transparency log) need the network
and are refused (exit 4: not verifiable here). ``model-signing`` is an optional extra
(``pip install 'sov-verifier[provenance]'``), imported only when a signature is checked.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from verifier.errors import IntegrityError, UsageError
from verifier.hashing import sha256_bytes, sha256_file

MODEL_SIGNING_VERSION = "1.1.1"
INSTALL_HINT = ("model provenance needs the model-signing package: "
                "pip install 'sov-verifier[provenance]' (model-signing==1.1.1)")


@dataclass(frozen=True)
class Signer:
    """A verified signature: who signed which bytes, and how."""

    identity: str
    method: str                      # key | certificate
    model_sha256: str                # sha256 of the file verified
    signature_sha256: str            # sha256 of the signature file
    signed_name: str                 # the model name inside the signed statement
    signed_digest: str               # "<algorithm>:<hex>" as signed
    names: tuple[str, ...] = ()      # every name the signer answers to (SANs, CN, subject)
    details: dict[str, Any] = field(default_factory=dict)  # key fingerprint / subject, issuer...
    tool: str = f"model-signing {MODEL_SIGNING_VERSION}"

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["names"] = list(self.names)
        return d


def _model_signing():
    try:
        import model_signing  # noqa: F401 - lazy: 0.3 s of imports (sigstore, OpenSSL)
        from model_signing import verifying
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    return verifying


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{what} is a folder, not a file: {path}") from None
    except OSError as e:
        raise UsageError(f"cannot read {what} {path}: {e.strerror}") from None


def _bundle(raw: bytes, sig: Path) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
        material = doc["verificationMaterial"]
        payload = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    except (ValueError, KeyError, TypeError):
        raise IntegrityError(f"{sig}: not a model-signing signature (a Sigstore bundle JSON)") from None
    if not isinstance(material, dict) or not isinstance(payload, dict):
        raise IntegrityError(f"{sig}: not a model-signing signature (a Sigstore bundle JSON)")
    return {"material": material, "payload": payload}


def _method(material: dict[str, Any], sig: Path) -> str:
    if "publicKey" in material:
        return "key"
    if "x509CertificateChain" in material:
        return "certificate"
    if "certificate" in material:
        raise IntegrityError(f"{sig}: a keyless Sigstore signature needs the Sigstore network; sov "
                             "verifies key and certificate signatures offline only")
    raise IntegrityError(f"{sig}: signature carries no public key hint or certificate chain")


def key_fingerprint(pem: bytes) -> str:
    """``sha256:<hex>`` of a PEM public key's SubjectPublicKeyInfo (model-signing's key hint)."""
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        raise UsageError("not a PEM public key") from None
    spki = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(spki).hexdigest()


def _certificate_names(material: dict[str, Any]) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    der = base64.b64decode(material["x509CertificateChain"]["certificates"][0]["rawBytes"])
    cert = x509.load_der_x509_certificate(der)
    sans: list[str] = []
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        for kind in (x509.RFC822Name, x509.UniformResourceIdentifier, x509.DNSName):
            sans += [str(v) for v in ext.get_values_for_type(kind)]
    except x509.ExtensionNotFound:
        pass
    cns = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    subject = cert.subject.rfc4514_string()
    identity = (sans + cns + [subject])[0]
    details = {"subject": subject, "issuer": cert.issuer.rfc4514_string(),
               "serial": format(cert.serial_number, "x"),
               "certificate_sha256": cert.fingerprint(hashes.SHA256()).hex(),
               "not_before": cert.not_valid_before_utc.isoformat(),
               "not_after": cert.not_valid_after_utc.isoformat()}
    return identity, tuple(dict.fromkeys(sans + cns + [subject])), details


def _signed_subject(payload: dict[str, Any]) -> tuple[str, str]:
    subject = (payload.get("subject") or [{}])[0]
    resources = (payload.get("predicate") or {}).get("resources") or []
    if len(resources) == 1:
        r = resources[0]
        return str(subject.get("name", "")), f"{r.get('algorithm', '?')}:{r.get('digest', '')}"
    digest = subject.get("digest") or {}
    alg = next(iter(digest), "?")
    return str(subject.get("name", "")), f"{alg}:{digest.get(alg, '')}"


def _verify_with(verifying, model: Path, sig: Path, configure) -> None:
    """One model-signing verification; every failure it reports is an integrity failure."""
    try:
        configure(verifying.Config()).verify(model, sig)
    except Exception as e:  # ValueError (digest, key), InvalidSignature, OpenSSL chain errors...
        raise IntegrityError(f"{model.name}: signature does not verify: {_reason(e)}") from None


def _reason(e: Exception) -> str:
    msg = " ".join(str(e).split()) or type(e).__name__
    if "Hash mismatch" in msg or "Signature mismatch" in msg:
        return "the file is not the one signed (digest mismatch)"
    return msg if len(msg) < 200 else msg[:197] + "..."


def verify_signature(model: str | Path, signature: str | Path, *, public_keys: Iterable[Path] = (),
                     certificate_chains: Iterable[Path] = (), identities: Iterable[str] = ()) -> Signer:
    """Verify ``signature`` over the file ``model`` offline, against the trusted
    ``public_keys`` (key signatures) or ``certificate_chains`` (certificate signatures), and,
    when ``identities`` is not empty, check that the signer is one of them.

    Raises IntegrityError (exit 4) when the signature does not verify, its signer is not
    trusted or the file differs from the one signed; UsageError (exit 2) for missing
    files, no trust material, or model-signing not installed."""
    verifying = _model_signing()
    model, sig = Path(model), Path(signature)
    if not model.is_file():
        _read(model, "model file")  # the one-line reason: missing, a folder, unreadable
    raw = _read(sig, "signature file")
    keys = [Path(k) for k in public_keys]
    chains = [Path(c) for c in certificate_chains]
    if not keys and not chains:
        raise UsageError("give the trusted signer: --key PUBLIC_KEY.pem or --cert-chain CA.pem")
    bundle = _bundle(raw, sig)
    method = _method(bundle["material"], sig)
    if method == "key":
        identity, names, details = _verify_key(verifying, model, sig, bundle["material"], keys)
    else:
        identity, names, details = _verify_certificate(verifying, model, sig, bundle["material"], chains)
    wanted = list(identities)
    if wanted and not set(wanted) & set(names):
        raise IntegrityError(f"{model.name}: signed by {identity}, not a trusted identity "
                             f"({', '.join(wanted)})")
    name, digest = _signed_subject(bundle["payload"])
    return Signer(identity, method, sha256_file(model), sha256_bytes(raw), name, digest,
                  names, details)


def _verify_key(verifying, model: Path, sig: Path, material: dict, keys: list[Path]):
    if not keys:
        raise IntegrityError(f"{sig}: a key signature, and no trusted public key was given (--key)")
    hint = "sha256:" + str((material.get("publicKey") or {}).get("hint", ""))
    key = {key_fingerprint_file(k): k for k in keys}.get(hint)
    if key is None:
        raise IntegrityError(f"{model.name}: signed by key {hint}, not a trusted key")
    _verify_with(verifying, model, sig, lambda c: c.use_elliptic_key_verifier(public_key=key))
    return hint, (hint,), {"key_fingerprint": hint, "public_key_file": str(key)}


def key_fingerprint_file(path: Path) -> str:
    raw = _read(path, "public key")
    try:
        fp = key_fingerprint(raw)
    except UsageError:
        raise UsageError(f"{path}: not a PEM public key") from None
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    if not isinstance(serialization.load_pem_public_key(raw), ec.EllipticCurvePublicKey):
        raise UsageError(f"{path}: model-signing keys are ECDSA (P-256, P-384, P-521)")
    return fp


def _verify_certificate(verifying, model: Path, sig: Path, material: dict, chains: list[Path]):
    if not chains:
        raise IntegrityError(f"{sig}: a certificate signature, and no trusted certificate chain was "
                             "given (--cert-chain)")
    for c in chains:
        _read(c, "certificate chain")
    try:
        identity, names, details = _certificate_names(material)
    except (ValueError, KeyError, IndexError, TypeError):
        raise IntegrityError(f"{sig}: its signing certificate cannot be read") from None
    _verify_with(verifying, model, sig, lambda c: c.use_certificate_verifier(certificate_chain=chains))
    return identity, names, details


def check_candidate(spec: str, provenance) -> dict[str, Any] | None:
    """``sov accept``'s provenance check of the candidate ``spec`` under a policy's
    ``[provenance]`` table (``verifier.gates.policy.ProvenanceSpec``), before any replay.

    The signature is ``provenance.signature`` or ``<model file>.sig``. Returns the signer
    (as JSON) or None when no signature is required and none is there."""
    from adapters.builtin import builtin_path

    path = builtin_path(spec) or Path(spec)
    if not path.is_file():
        if provenance.require_signature:
            raise IntegrityError(f"the policy requires a signed candidate; {spec!r} is not a model file")
        return None
    sig = provenance.signature or path.with_name(path.name + ".sig")
    if not Path(sig).is_file():
        if provenance.require_signature:
            raise IntegrityError(f"the policy requires a signed candidate; {path.name} has no "
                                 f"signature ({sig} not found)")
        return None
    return verify_signature(path, sig, public_keys=provenance.public_keys,
                            certificate_chains=provenance.certificate_chains,
                            identities=provenance.identities).to_json()
