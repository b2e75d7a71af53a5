"""The local trust store: the public keys whose signatures ``sov evidence verify`` accepts.

A record's signatures carry their own public keys, so a valid signature alone proves only
that *someone* signed it (a forger re-signs an edited record with a fresh key). A record
verifies only when its signatures are by keys the verifier trusts: the keys in this store,
plus any ``--key FILE`` given for one call.

The store is a folder, ``$SOV_TRUST_DIR``, or else ``$XDG_CONFIG_HOME/sov/trusted`` (by
default ``~/.config/sov/trusted``). It holds one public key file (``sov.keys/1``, kind
public) per trusted key, named ``<alg>-<key_id>.pub``; ``sov keys trust FILE`` adds every key
of a bundle, ``sov keys untrust KEY_ID`` removes one. The file's content, not its name, says
which key it is (key ids are recomputed on load).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from verifier.errors import UsageError
from verifier.evidence.keys import ALGORITHMS, DEFAULT_ALGS, Key, available, load_keys, public_bundle_text

if TYPE_CHECKING:
    from verifier.evidence.record import VerifyReport
    from verifier.store.db import Store

TRUST_ENV = "SOV_TRUST_DIR"
MIN_ID_PREFIX = 8


def trust_dir() -> Path:
    env = os.environ.get(TRUST_ENV)
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return (Path(xdg) if xdg else Path.home() / ".config") / "sov" / "trusted"


@dataclass(frozen=True)
class TrustedKey:
    key: Key
    path: Path
    added: bool = False  # by `trust`: newly added (False: it was already trusted)

    def to_json(self) -> dict:
        return {"alg": self.key.alg, "key_id": self.key.key_id, "path": str(self.path), "added": self.added}


def _folder(directory: str | os.PathLike[str] | None) -> Path:
    return Path(directory) if directory is not None else trust_dir()


def trust(path: str | os.PathLike[str], directory: str | os.PathLike[str] | None = None) -> list[TrustedKey]:
    """Add every public key of the key file at ``path`` (a private file gives its public halves)."""
    from verifier.atomic import write_text_atomic

    keys = load_keys(path, want="public")
    d = _folder(directory)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create the trust store {d}: {e.strerror}") from None
    out = []
    for k in keys:
        f = d / f"{k.alg}-{k.key_id}.pub"
        new = not f.exists()
        if new:
            try:
                write_text_atomic(f, public_bundle_text([k]))
            except OSError as e:
                raise UsageError(f"cannot write {f}: {e.strerror}") from None
        out.append(TrustedKey(k, f, new))
    return out


def trusted(directory: str | os.PathLike[str] | None = None) -> list[TrustedKey]:
    """Every key in the store (none when the folder does not exist), sorted by algorithm and id."""
    d = _folder(directory)
    if not d.is_dir():
        return []
    out = [TrustedKey(k, f) for f in sorted(d.glob("*.pub")) for k in load_keys(f, want="public")]
    return sorted(out, key=lambda t: (t.key.alg, t.key.key_id))


def untrust(key_id: str, directory: str | os.PathLike[str] | None = None) -> TrustedKey:
    """Remove the trusted key whose id is ``key_id`` (or starts with it, at least 8 characters)."""
    kid = key_id.strip().lower()
    if len(kid) < MIN_ID_PREFIX:
        raise UsageError(f"key id {key_id!r}: give at least {MIN_ID_PREFIX} characters of it (sov keys list)")
    hits = [t for t in trusted(directory) if t.key.key_id.startswith(kid)]
    if not hits:
        raise UsageError(f"no trusted key {key_id} in {_folder(directory)} (sov keys list)")
    if len({t.key.key_id for t in hits}) > 1:
        raise UsageError(f"key id {key_id} names {len(hits)} trusted keys: give more of it")
    for t in hits:  # the same key trusted twice under two file names goes too
        try:
            t.path.unlink()
        except OSError as e:
            raise UsageError(f"cannot remove {t.path}: {e.strerror}") from None
    return hits[0]


def parse_require(text: str | None) -> tuple[str, ...]:
    """``--require ed25519,ml-dsa-65``: the signature algorithms a record must carry (each by a
    trusted key). None: the default, both."""
    if text is None:
        return DEFAULT_ALGS
    algs = tuple(dict.fromkeys(a.strip().lower() for a in text.split(",") if a.strip()))
    if not algs:
        raise UsageError("--require: name at least one signature algorithm "
                         f"(known: {', '.join(ALGORITHMS)})")
    unknown = [a for a in algs if a not in ALGORITHMS]
    if unknown:
        raise UsageError(f"--require: unknown signature algorithm {unknown[0]!r} (known: {', '.join(ALGORITHMS)})")
    return algs


def policy_require(table: object, source: str = "policy") -> tuple[str, ...]:
    """A policy file's ``[evidence]`` table: ``require = ["ed25519", "ml-dsa-65"]``."""
    if not isinstance(table, dict):
        raise UsageError(f"{source}: evidence: must be a table [evidence]")
    extra = sorted(set(table) - {"require"})
    if extra:
        raise UsageError(f"{source}: evidence.{extra[0]}: unknown key (known: require)")
    req = table.get("require", list(DEFAULT_ALGS))
    if not isinstance(req, list) or not req or not all(isinstance(a, str) for a in req):
        raise UsageError(f"{source}: evidence.require: must be a non-empty list of algorithm names, got {req!r}")
    try:
        return parse_require(",".join(req))
    except UsageError as e:
        raise UsageError(f"{source}: evidence.require: {str(e).removeprefix('--require: ')}") from None


def require_from_policy(path: str | os.PathLike[str]) -> tuple[str, ...] | None:
    """The ``[evidence] require`` of a policy file, or None when it has no ``[evidence]`` table."""
    import tomllib

    p = Path(path)
    try:
        doc = tomllib.loads(p.read_bytes().decode())
    except FileNotFoundError:
        raise UsageError(f"policy file not found: {p}") from None
    except OSError as e:
        raise UsageError(f"cannot read policy {p}: {e.strerror}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise UsageError(f"{p.name}: not a valid TOML policy: {e}") from None
    return policy_require(doc["evidence"], p.name) if "evidence" in doc else None


def check_available(require: Iterable[str]) -> None:
    for alg in require:
        if not available(alg):
            raise UsageError(f"this installation's cryptography cannot check {alg} signatures, which the "
                             f"policy requires: upgrade cryptography (OpenSSL with {alg}) or "
                             f"--require {','.join(a for a in ALGORITHMS if a != alg)}")


def verify_file(path: str | os.PathLike[str], *, key_files: Iterable[str | os.PathLike[str]] = (),
                require: str | tuple[str, ...] | None = None, policy: str | os.PathLike[str] | None = None,
                store: "Store | None" = None, directory: str | os.PathLike[str] | None = None) -> "VerifyReport":
    """``sov evidence verify``: the record at ``path`` against the trust store plus ``key_files``.
    The required algorithms: ``require`` (the flag), else the ``policy`` file's
    ``[evidence] require``, else both Ed25519 and ML-DSA-65."""
    from verifier.evidence import record as evidence

    from_policy = require_from_policy(policy) if policy is not None else None
    algs = (require if isinstance(require, tuple) else
            parse_require(require) if require is not None or from_policy is None else from_policy)
    check_available(algs)
    keys = [t.key for t in trusted(directory)] + [k for f in key_files for k in load_keys(f, want="public")]
    return evidence.verify_trusted(evidence.load(path), trusted=keys, require=algs, store=store)
