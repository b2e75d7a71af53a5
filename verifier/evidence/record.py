"""Evidence records: one self-contained, hash-chained, signed JSON document per verdict.

Layout (``format: sov.evidence/1``)::

    {
      "format": "sov.evidence/1",
      "record": {                      # everything that is hashed
        "sequence": 7, "previous_hash": "<record_hash of #6, or null for the first>",
        "kind": "accept" | "drift", "created_at": "...", "run_id": "...",
        "tool": {"name": "sov", "version": "...", "python": "...", "packages": {...}},
        "subject": {...models and their sha256 / fingerprints...},
        "workloads": [{"name", "id", "spec"}], "gates": [GateResult.to_json()...],
        "figures": {...}, "verdict": "pass", "exit_code": 0
      },
      "hash": {"alg": "sha256", "value": sha256(canonical_json(record))},
      "signatures": [{"alg": "ed25519", "key_id", "public_key", "signature"},
                     {"alg": "ml-dsa-65", ...}]
    }

``canonical_json`` is ``json.dumps(sort_keys=True, separators=(",", ":"))`` of the
record's ``verifier.jsonsafe.json_safe`` values (NaN/Inf written as null). Each signature signs the bytes ``b"sov.evidence/1:" + hash`` (ASCII hex);
the list is crypto-agile: a new algorithm is one more entry. The record carries the
previous record's hash, so the store's ``evidence_chain`` table is a hash chain: removing,
reordering or editing any record breaks the links after it. Without keys a record is
still hashed and chained, just unsigned.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from verifier.errors import UsageError
from verifier.jsonsafe import json_safe

if TYPE_CHECKING:
    from verifier.evidence.keys import Key
    from verifier.store.db import Store
    from verifier.store.verdicts import VerdictRow

EVIDENCE_FORMAT = "sov.evidence/1"
HASH_ALG = "sha256"


def canonical_bytes(obj: Any) -> bytes:
    return json.dumps(json_safe(obj), sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def record_hash(record: dict) -> str:
    return hashlib.sha256(canonical_bytes(record)).hexdigest()


def signing_message(hash_hex: str) -> bytes:
    return f"{EVIDENCE_FORMAT}:{hash_hex}".encode()


TOOL_PACKAGES = ("numpy", "scipy", "stim", "pymatching", "onnx", "onnxruntime", "duckdb",
                 "cryptography", "qibocal")


def tool_info() -> dict[str, Any]:
    from verifier import __version__
    from verifier.environment import package_versions

    pkgs = {k: v for k, v in package_versions(TOOL_PACKAGES).items() if v is not None}
    return {"name": "sov", "version": __version__, "python": platform.python_version(),
            "platform": platform.platform(terse=True), "packages": pkgs}


def seal(record: dict, keys: "list[Key] | None" = None) -> dict:
    """Hash (and sign, with private keys) a record body into an evidence document."""
    body = json_safe(record)
    h = record_hash(body)
    sigs = [k.sign(signing_message(h)) for k in (keys or [])]
    return {"format": EVIDENCE_FORMAT, "record": body, "hash": {"alg": HASH_ALG, "value": h},
            "signatures": sigs}


def append(store: "Store", body: dict, *, keys: "list[Key] | None" = None, run_id: str | None = None,
           verdict_id: str | None = None, verdict_row: "VerdictRow | None" = None) -> dict:
    """Append a record to the store's evidence chain (sequence and previous hash filled in,
    in the same transaction that inserts it) and return the sealed document. With
    ``verdict_row`` the record commits to the row's hash (``verdict_row_sha256``) and the
    row is inserted in the same transaction; the chain's head file is updated (signed
    with ``keys``) either way (see :func:`verify_chain`)."""
    from verifier.evidence.head import seal_head
    from verifier.store.db import now
    from verifier.store.evidence import append_record
    from verifier.store.verdicts import row_hash

    chained = {"chain_version": CHAIN_VERSION,
               "verdict_row_sha256": row_hash(verdict_row) if verdict_row is not None else None}

    def sealed(seq: int, prev: str | None) -> dict:
        return seal({"sequence": seq, "previous_hash": prev, "created_at": now().isoformat(),
                     "tool": tool_info(), **body, **chained}, keys)

    return append_record(store, sealed, run_id=run_id, verdict_id=verdict_id, verdict_row=verdict_row,
                         head=lambda seq, h: seal_head(seq, h, keys))  # verifier.evidence.head


def write(doc: dict, path: str | Path) -> None:
    from verifier.atomic import write_text_atomic

    try:
        write_text_atomic(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")  # never half a record
    except OSError as e:
        raise UsageError(f"cannot write --evidence {path}: {e.strerror}") from None


# -- verification ----------------------------------------------------------------------------

@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict:
        return {"check": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class VerifyReport:
    checks: list[Check] = field(default_factory=list)
    record_hash: str | None = None
    verdict: str | None = None
    signed_by: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))

    def to_json(self) -> dict:
        return {"ok": self.ok, "record_hash": self.record_hash, "verdict": self.verdict,
                "signed_by": self.signed_by, "checks": [c.to_json() for c in self.checks]}


def load(path: str | Path) -> Any:
    p = Path(path)
    try:
        return json.loads(p.read_text())
    except FileNotFoundError:
        raise UsageError(f"evidence file not found: {p}") from None
    except OSError as e:
        raise UsageError(f"cannot read {p}: {e.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        # a file that no longer parses was altered (or is not evidence): reported, not raised
        return {"__unparsable__": str(e)}


def verify(doc: Any, *, pinned: "list[Key] | None" = None, store: "Store | None" = None) -> VerifyReport:
    """Check the document's hash, every signature in it, that every pinned public key
    signed it, and (with a store) that it sits in the store's chain unchanged.

    This is integrity only: a signature carries its own public key, so a forger's record
    re-signed with a fresh key passes. :func:`verify_trusted` is the acceptance check."""
    from verifier.evidence.keys import ALGORITHMS, check_signature

    rep = VerifyReport()
    if not isinstance(doc, dict) or "__unparsable__" in doc:
        rep.add("format", False, "not JSON: " + (doc.get("__unparsable__", "") if isinstance(doc, dict) else ""))
        return rep
    if doc.get("format") != EVIDENCE_FORMAT or not isinstance(doc.get("record"), dict) \
            or not isinstance(doc.get("hash"), dict) or not isinstance(doc.get("signatures", []), list):
        rep.add("format", False, f"not a {EVIDENCE_FORMAT} document (format, record, hash, signatures)")
        return rep
    extra = sorted(set(doc) - {"format", "record", "hash", "signatures"})
    rep.add("format", not extra, "ok" if not extra else f"unexpected top-level fields {extra}")
    record = doc["record"]
    rep.verdict = record.get("verdict")
    claimed = doc["hash"].get("value")
    if doc["hash"].get("alg") != HASH_ALG:
        rep.add("hash", False, f"unknown hash algorithm {doc['hash'].get('alg')!r}")
        return rep
    try:
        actual = record_hash(record)
    except ValueError as e:
        rep.add("hash", False, f"record cannot be canonicalized: {e}")
        return rep
    rep.record_hash = actual
    rep.add("hash", actual == claimed,
            "record hash matches" if actual == claimed else
            f"record was altered: its sha256 is {actual[:16]}..., the document claims {str(claimed)[:16]}...")
    message = signing_message(str(claimed))
    valid_ids: set[str] = set()
    for i, sig in enumerate(doc.get("signatures") or []):
        check = check_signature(sig, message)
        alg = sig.get("alg") if isinstance(sig, dict) else None
        label = f"signature[{i}] {alg}" if alg in ALGORITHMS else f"signature[{i}]"
        if check.status in ("malformed", "unchecked"):  # unchecked: verify_trusted refuses if required
            rep.add(label, check.status == "unchecked", check.detail)
            continue
        good = check.status == "valid"
        rep.add(label, good and actual == claimed,
                check.detail if actual == claimed else
                ("valid over the claimed hash, but the record does not match it" if good else check.detail))
        if good:
            valid_ids.add(sig["key_id"])
            rep.signed_by.append(f"{alg}:{sig['key_id']}")
    if not doc.get("signatures"):
        rep.add("signatures", True if not pinned else False,
                "unsigned (hash and chain only)" if not pinned else "unsigned, but --key was given")
    for k in pinned or []:
        rep.add(f"pinned {k.alg}", k.key_id in valid_ids,
                f"signed by the given {k.alg} key {k.key_id[:16]}" if k.key_id in valid_ids else
                f"no valid signature by the given {k.alg} key {k.key_id[:16]}")
    if store is not None:
        _check_in_chain(rep, record, actual, store)
    return rep


def verify_trusted(doc: Any, *, trusted: "list[Key]", require: tuple[str, ...] = ("ed25519", "ml-dsa-65"),
                   store: "Store | None" = None) -> VerifyReport:
    """:func:`verify`, and then: every valid signature is by a ``trusted`` key, and each
    algorithm in ``require`` has a valid signature by a trusted key. Checks are added in
    that order, so the first failing one says why (unsigned, self-signed, untrusted, missing)."""
    rep = verify(doc, store=store)
    if not (isinstance(doc, dict) and isinstance(doc.get("record"), dict)):
        return rep  # not evidence at all: the format check already says so
    ids = {(k.alg, k.key_id) for k in trusted}
    valid = [tuple(s.split(":", 1)) for s in rep.signed_by]
    untrusted = [(a, kid) for a, kid in valid if (a, kid) not in ids]
    have = {a for a, kid in valid if (a, kid) in ids}
    need = ", ".join(require)
    if not doc.get("signatures"):
        rep.add("trust", False, f"unsigned: verification needs {need} signatures by trusted keys")
        return rep
    if valid and len(untrusted) == len(valid):
        rep.add("trust", False, "self-signed, unverified: trust the signer's public key with sov keys trust "
                f"(signed by {', '.join(f'{a} {kid[:16]}' for a, kid in untrusted)})")
        return rep
    for a, kid in untrusted:
        rep.add("trust", False, f"{a} signature by untrusted key {kid[:16]} (sov keys list)")
    missing = [a for a in require if a not in have]
    if missing:
        rep.add("require", False, f"no valid {', '.join(missing)} signature by a trusted key (required: {need})")
    if not untrusted and not missing:
        rep.add("trust", True, f"signed by trusted {', '.join(sorted(have))} keys (required: {need})")
    return rep


def _check_in_chain(rep: VerifyReport, record: dict, actual: str, store: "Store") -> None:
    from verifier.store.evidence import chain_link

    seq = record.get("sequence")
    link = chain_link(store, seq)
    if link is None:
        rep.add("chain", False, f"the store has no record #{seq}")
        return
    stored_hash, prev = link
    ok = stored_hash == actual and prev == record.get("previous_hash")
    rep.add("chain", ok, f"record #{seq} matches the store's chain" if ok else
            f"record #{seq} differs from the store's chain entry ({stored_hash[:16]}...)")


# -- the store's chain: records, verdict rows, head file ---------------------------------------
#
# Records appended since chain version 2 carry ``chain_version: 2`` and ``verdict_row_sha256``
# (``verifier.store.verdicts.row_hash`` of their verdict row, or null), and every append
# rewrites the head file ``STORE.head`` (sequence and hash of the last record, signed by the
# record's keys). Records from before only chain by hash; their verdict rows are compared by
# verdict and exit code, and with no version-2 record in the chain a missing head file is
# not an error (deleting such a chain's last records cannot be detected).

CHAIN_VERSION = 2


def verdict_row_problem(record: dict, stored_hash: str, row) -> str | None:
    """What is wrong with verdict ``row`` against the chain record naming it (None: nothing)."""
    from verifier.store.verdicts import row_hash

    if row.record_hash != stored_hash:
        return f"verdict row names evidence {str(row.record_hash)[:16]}..., not this record"
    said = f"it says {row.verdict} (exit {row.exit_code}), the record says " \
           f"{record.get('verdict')} (exit {record.get('exit_code')})"
    if (row.verdict, row.exit_code) != (record.get("verdict"), record.get("exit_code")):
        return f"verdict row edited: {said}"
    claimed = record.get("verdict_row_sha256")
    if record.get("chain_version") == CHAIN_VERSION and claimed is not None and row_hash(row) != claimed:
        return "verdict row edited: its content no longer hashes to what the record committed to"
    return None


def verify_chain(store: "Store") -> VerifyReport:
    """Walk the whole chain in the store: every record's hash and link, the verdict row each
    record names, and the head file; a store that cannot be read is one failed check."""
    from verifier.errors import StoreError
    from verifier.store.evidence import chain_entries, read_runs
    from verifier.store.verdicts import verdict_rows

    rep = VerifyReport()
    try:
        rows, verdicts = chain_entries(store), verdict_rows(store)
        read_runs(store)  # a store whose runs do not read (sov history list) is not intact either
    except StoreError as e:
        if not _store_unreadable(store, str(e)):
            raise
        rep.add("store", False, f"cannot be read as a sov store (truncated, corrupt or not a DuckDB file): {e}")
        return rep
    by_id = {v.verdict_id: v for v in verdicts}
    named: set[str] = set()
    prev_hash, expected_seq, doc = None, 1, None
    for seq, h, prev, vid, raw in rows:
        problems, doc = _entry_problems(seq, h, prev, raw, prev_hash, expected_seq)
        if doc is not None and vid is not None:
            named.add(vid)
            problems += _row_problems(doc["record"], h, by_id.get(vid))
        rep.add(f"#{seq}", not problems, "; ".join(problems) or f"ok {h[:16]}")
        prev_hash, expected_seq = h, seq + 1
    _check_head(rep, store, rows, doc)
    for vid in sorted(set(by_id) - named):
        rep.add(f"verdict {vid[:12]}", False, f"verdict row ({by_id[vid].verdict}, evidence "
                                              f"{str(by_id[vid].record_hash)[:16]}...) has no record in the chain")
    rep.record_hash = prev_hash
    return rep


def _store_unreadable(store: "Store", message: str) -> bool:
    """A store that was recorded into and no longer reads: a DuckDB file DuckDB cannot read
    (truncated, corrupt), or a file without DuckDB's header next to a head file (a store
    truncated or overwritten entirely). Not one that is locked, forbidden, absent, or a file
    that never was a store (no header, no head file: a wrong ``--db``, exit 2 as elsewhere)."""
    from verifier.store.evidence import head_path

    low = message.lower()
    if not Path(store.path).is_file() or any(w in low for w in ("locked", "not writable", "permission")):
        return False
    never_duckdb = "not a duckdb file" in low or "not a valid duckdb database file" in low
    return not never_duckdb or head_path(store).exists()


def _entry_problems(seq, h, prev, raw, prev_hash, expected_seq) -> tuple[list[str], dict | None]:
    problems = [] if seq == expected_seq else [f"sequence gap: expected #{expected_seq}"]
    try:
        doc = json.loads(raw)
        record, claimed = doc["record"], doc["hash"]["value"]
        actual = record_hash(record)
    except (ValueError, TypeError, KeyError) as e:
        return problems + [f"record unreadable: {e}"], None
    if actual != h or claimed != h:
        problems.append("record hash mismatch")
    if prev != prev_hash or record.get("previous_hash") != prev_hash:
        problems.append("broken link to the previous record")
    return problems, doc


def _row_problems(record: dict, h: str, row) -> list[str]:
    if row is None:
        new = record.get("chain_version") == CHAIN_VERSION and record.get("verdict_row_sha256")
        return ["its verdict row is missing"] if new else []
    problem = verdict_row_problem(record, h, row)
    return [problem] if problem else []


def _check_head(rep: VerifyReport, store: "Store", rows: list, last_doc: dict | None) -> None:
    from verifier.evidence.head import head_signatures
    from verifier.store.evidence import head_path, read_head

    head, why = read_head(store)
    if why is not None:
        rep.add("head", False, why)
        return
    if head is None:
        new = last_doc is not None and last_doc["record"].get("chain_version") == CHAIN_VERSION
        rep.add("head", not new, f"head file {head_path(store)} is missing" if new else
                ("empty chain" if not rows else "no head file (chain written before head files): "
                 "deleting its last records cannot be detected"))
        return
    seq, h = head.get("sequence"), str(head.get("record_hash"))
    end = rows[-1][0] if rows else 0
    if not isinstance(seq, int) or seq > end:
        rep.add(f"#{seq}", False, f"missing: the head file names record #{seq} ({h[:16]}...), "
                                  f"but the chain ends at #{end}")
    elif seq < end:
        rep.add("head", False, f"the head file names #{seq}, but the chain goes on to #{end} "
                               "(an older head file put back, or records appended around sov)")
    elif rows[-1][1] != h:
        rep.add(f"#{seq}", False, f"differs from the head file's hash {h[:16]}...")
    else:
        rep.add("head", *head_signatures(head, seq, h, last_doc or {}))
