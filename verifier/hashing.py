"""The one place sov hashes things: file and byte digests, the canonical JSON of a spec,
and the digest of a spec (workload ids, stream ids, decoder and calibration-model
fingerprints), so that two modules never encode the same identity two ways."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(1 << 20), b""):
            h.update(piece)
    return h.hexdigest()


def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces: equal values give equal text, whatever built them."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def spec_digest(spec: Any) -> str:
    """sha256 of ``spec``'s canonical JSON: the id of anything sov names by its spec."""
    return sha256_bytes(canonical_json(spec).encode())


def fingerprint(model: Any) -> str:
    """A decoder's or calibration model's identity: the digest of its ``fingerprint_spec()``
    (everything that can change what it returns: model hash, runtime, versions, options)."""
    return spec_digest(model.fingerprint_spec())
