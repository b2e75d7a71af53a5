"""The evidence chain's head file (``STORE.head``, next to the store): the last record's
sequence and hash, signed with the keys that signed that record, so that deleting the last
record (or putting back an older head unsigned) shows. ``sov evidence chain`` reads it
(``verifier.evidence.record.verify_chain``); docs/acceptance.md, "Tamper evidence"."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from verifier.evidence.keys import Key

HEAD_FORMAT = "sov.chain-head/1"


def head_message(seq: int, hash_hex: str) -> bytes:
    return f"{HEAD_FORMAT}:{seq}:{hash_hex}".encode()


def seal_head(seq: int, hash_hex: str, keys: "list[Key] | None" = None) -> dict:
    """The head file's document: the last record's sequence and hash, signed with ``keys``."""
    return {"format": HEAD_FORMAT, "sequence": seq, "record_hash": hash_hex,
            "signatures": [k.sign(head_message(seq, hash_hex)) for k in (keys or [])]}


def head_signatures(head: dict, seq: int, hash_hex: str, last_doc: dict) -> tuple[bool, str]:
    """``(ok, detail)``: every signature over the head verifies by its embedded key (which
    keys to trust is ``evidence verify --key``'s business), and the keys that signed the
    last record (``last_doc``) signed the head too."""
    from verifier.evidence.keys import check_signature

    sigs = head.get("signatures") if isinstance(head.get("signatures"), list) else []
    good, unchecked = set(), set()
    for sig in sigs:
        try:
            check = check_signature(sig, head_message(seq, hash_hex))
        except Exception:  # any malformed entry is simply not a valid signature
            check = None
        if check is not None and check.status == "unchecked":  # as evidence verify
            unchecked.add(sig.get("key_id"))
            continue
        if check is None or check.status != "valid":
            return False, f"INVALID head signature ({sig.get('alg') if isinstance(sig, dict) else sig!r})"
        good.add(sig["key_id"])
    signers = {x.get("key_id") for x in last_doc.get("signatures") or [] if isinstance(x, dict)}
    if not signers <= good | unchecked:
        return False, f"the last record #{seq} is signed, but the head file is not signed by its keys"
    return True, f"head #{seq} {hash_hex[:16]}" + (f", signed by {len(good)} key(s)" if good else ", unsigned")
