"""Blind evaluation: ``sov qec export-syndromes`` and the check of what comes back.

A lab sends a vendor the detection events of a workload without its observables, plus a
*commitment* to the observables: ``sha256(salt || observables as b8)`` with 32 random
bytes of salt that stay in the lab's store. The vendor returns predictions; the lab scores
them with ``--decoder predictions:FILE`` on the same workload, and before any shot is
scored, :func:`check_scored_shots` regenerates the workload's events and observables,
checks that the events are the exported ones and that the observables still hash to the
commitment (else exit 4), and reports the commitment with the result. Revealing the salt
and the truth then lets the vendor check, on its own, which truth it was scored against.

What the export folder holds, and nothing else: the events, the circuit and its detector
error model (what the vendor decodes against) and ``syndromes.json``. Not the workload's
id, seed or the hash of its observables: each could give the truth away (a guessable seed
regenerates every shot; the hash of a few shots' observables can be inverted by trying
every value). See docs/blind-evaluation.md.
"""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from verifier.errors import IntegrityError, UsageError
from verifier.qec.decoder import Decoder, is_precomputed

if TYPE_CHECKING:
    import numpy as np

    from verifier.qec.workload import QecWorkload
    from verifier.store.commitments import SyndromeExport
    from verifier.store.db import Store

EXPORT_FORMATS = ("b8", "01")
DETS_STEM = "detection_events"
MANIFEST = "syndromes.json"
CIRCUIT = "circuit.stim"
DEM = "detector_error_model.dem"
ALGORITHM = "sha256(salt || observables as b8)"
SALT_BYTES = 32
MIN_SECRET_SEED = 2**32  # below it, trying every seed against the exported events is feasible


def encode_records(packed: "np.ndarray", width: int, fmt: str) -> bytes:
    """Bit-packed ``uint8[n, ceil(width/8)]`` records as stim writes them in ``b8`` or ``01``."""
    import numpy as np

    if fmt == "b8":
        return np.ascontiguousarray(packed, dtype=np.uint8).tobytes()
    bits = np.unpackbits(packed, axis=1, count=width, bitorder="little")
    text = np.empty((bits.shape[0], width + 1), dtype=np.uint8)
    text[:, :width] = bits + ord("0")
    text[:, width] = ord("\n")
    return text.tobytes()


def _digest_blocks(workload: "QecWorkload", fmt: str, salt: bytes, *, dets_out: BinaryIO | None = None,
                   truth_out: BinaryIO | None = None) -> tuple[str, str]:
    """(sha256 of the events in ``fmt``, the commitment) of every shot of the workload,
    written to ``dets_out`` / ``truth_out`` (b8) as they go."""
    dets_hash, commit = hashlib.sha256(), hashlib.sha256(salt)
    n_det = int(workload.num_detectors)
    for block in workload.blocks():
        dets, obs = workload.sample_block(block)
        data = encode_records(dets, n_det, fmt)
        truth = encode_records(obs, int(workload.num_observables), "b8")
        dets_hash.update(data)
        commit.update(truth)
        if dets_out is not None:
            dets_out.write(data)
        if truth_out is not None:
            truth_out.write(truth)
    return dets_hash.hexdigest(), commit.hexdigest()


@dataclass
class ExportResult:
    export: "SyndromeExport"
    folder: str
    files: dict[str, str]  # role -> path written
    truth: str | None  # the lab's truth file (b8), if asked for
    manifest: dict[str, Any]
    workload: "QecWorkload"

    def to_json(self) -> dict[str, Any]:
        return {"folder": self.folder, "files": self.files, "truth": self.truth,
                "manifest": self.manifest, "workload_id": self.workload.id,
                "workload": self.workload.spec(), "description": self.workload.describe(),
                "commitment": {"algorithm": ALGORITHM, "value": self.export.commitment},
                "dets_sha256": self.export.dets_sha256, "shots": self.export.shots,
                "format": self.export.format, "run_id": self.export.run_id,
                "created_at": str(self.export.created_at)}


def _check_export_request(workload: "QecWorkload", out: Path, fmt: str, truth: Path | None) -> None:
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    seed = getattr(workload, "seed", None)
    if seed is not None and seed < MIN_SECRET_SEED:
        import secrets

        raise UsageError(f"anyone with the exported circuit can regenerate the shots of seed {seed} (and "
                         f"their truth): give a secret --seed of at least 2**32, e.g. --seed "
                         f"{secrets.randbelow(2**63 - MIN_SECRET_SEED) + MIN_SECRET_SEED}")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")
    taken = [n for n in (f"{DETS_STEM}.{fmt}", MANIFEST, CIRCUIT, DEM) if (out / n).exists()]
    if taken:
        raise UsageError(f"--out {out} already holds {', '.join(taken)}: export to a new folder")
    if truth is not None:
        if truth.suffix != ".b8":
            raise UsageError(f"--truth {truth}: the truth is written in b8; name it FILE.b8")
        if out.resolve() in truth.resolve().parents:
            raise UsageError(f"--truth {truth} is inside --out {out}: the truth must not travel with "
                             "the syndromes")
        if truth.exists():
            raise UsageError(f"--truth {truth} exists: give a new file")
        if not truth.parent.is_dir():
            raise UsageError(f"--truth {truth}: folder {truth.parent} does not exist")


def _write_side_files(workload: "QecWorkload", out: Path) -> dict[str, str]:
    """The circuit and the DEM the vendor decodes against: the DEM the lab's own matching
    decoders use (``QecWorkload.detector_error_model``); a workload without a circuit (an
    Ising bundle) sends its DEM only."""
    files: dict[str, str] = {}
    if workload.has_circuit:
        (out / CIRCUIT).write_text(str(workload.circuit()) + "\n")
        files["circuit"] = str(out / CIRCUIT)
    (out / DEM).write_text(str(workload.detector_error_model()) + "\n")
    files["detector_error_model"] = str(out / DEM)
    return files


def _manifest(export: "SyndromeExport", files: dict[str, str]) -> dict[str, Any]:
    """``syndromes.json``: what the vendor gets to know, and what it must send back."""
    return {"sov": "syndrome export", "format": export.format,
            "detection_events": Path(files["detection_events"]).name, "shots": export.shots,
            "num_detectors": export.num_detectors, "num_observables": export.num_observables,
            "dets_sha256": export.dets_sha256,
            "circuit": Path(files["circuit"]).name if "circuit" in files else None,
            "detector_error_model": Path(files["detector_error_model"]).name,
            "commitment": {"algorithm": ALGORITHM, "value": export.commitment},
            "predictions": (f"one row per shot, in this order, {export.num_observables} observable "
                            "flip(s) per row: stim 01 or b8"),
            "created_at": str(export.created_at)}


def export_syndromes(workload: "QecWorkload", *, store: "Store", out: str | os.PathLike[str],
                     fmt: str = "b8", truth: str | os.PathLike[str] | None = None,
                     run_id: str | None = None) -> ExportResult:
    """Write the workload's detection events (no observables) to ``out``, commit to the
    observables with a fresh salt, and record the export (salt included) in ``store``.
    ``truth``: also write the observables (b8) there, for the lab to keep."""
    from verifier.atomic import write_text_atomic
    from verifier.jsonsafe import json_safe
    from verifier.store.commitments import SyndromeExport, record_export
    from verifier.store.db import now

    out, truth_path = Path(out), Path(truth) if truth is not None else None
    _check_export_request(workload, out, fmt, truth_path)
    out.mkdir(parents=True, exist_ok=True)
    salt = os.urandom(SALT_BYTES)
    dets_path = out / f"{DETS_STEM}.{fmt}"
    written = [dets_path] + ([truth_path] if truth_path else [])
    try:
        with open(dets_path, "xb") as d, (open(truth_path, "xb") if truth_path else nullcontext()) as t:
            dets_sha, commitment = _digest_blocks(workload, fmt, salt, dets_out=d, truth_out=t)
        files = {"detection_events": str(dets_path), **_write_side_files(workload, out)}
        export = SyndromeExport(commitment, workload.id, workload.stream_id, dets_sha, workload.shots,
                                int(workload.num_detectors), int(workload.num_observables), fmt,
                                salt.hex(), str(out.resolve()), run_id, now())
        manifest = _manifest(export, files)
        write_text_atomic(out / MANIFEST, json.dumps(json_safe(manifest), indent=2) + "\n")
        files["manifest"] = str(out / MANIFEST)
        store.record_workload(workload)
        record_export(store, export)
    except FileExistsError as e:  # appeared since the check: someone else's file, left alone
        raise UsageError(f"{e.filename} appeared while exporting: export to a new folder") from None
    except BaseException:  # no half export: files without their commitment, or the reverse
        for p in written + [out / CIRCUIT, out / DEM, out / MANIFEST]:
            if p.exists():
                p.unlink()
        raise
    return ExportResult(export, str(out), files, str(truth_path) if truth_path else None, manifest, workload)


# -- scoring what comes back --------------------------------------------------------------------

def verify_export(workload: "QecWorkload", export: "SyndromeExport") -> None:
    """The workload's events are the exported ones and its observables hash to the
    commitment; else IntegrityError (exit 4)."""
    what = f"workload {workload.id[:12]}"
    if (export.shots, export.num_detectors, export.num_observables) != (
            workload.shots, int(workload.num_detectors), int(workload.num_observables)):
        raise IntegrityError(f"{what} is not the one exported as {export.commitment[:16]} "
                             f"({export.shots} shots of {export.num_detectors} detectors)")
    dets_sha, commitment = _digest_blocks(workload, export.format, bytes.fromhex(export.salt))
    if dets_sha != export.dets_sha256:
        raise IntegrityError(f"the detection events of {what} are not those exported on "
                             f"{export.created_at:%Y-%m-%d %H:%M} (sha256 differs: another stim, or "
                             "edited data): predictions for them do not score these shots")
    if commitment != export.commitment:
        raise IntegrityError(f"the observables of {what} do not match the commitment "
                             f"{export.commitment[:16]} of their export on {export.created_at:%Y-%m-%d %H:%M}: "
                             "the truth changed since the syndromes were sent")


def _exports(store: "Store | None", decoder: Decoder, workload: "QecWorkload") -> list["SyndromeExport"]:
    """The exports a precomputed decoder's scoring of ``workload`` must verify; refuses
    (exit 2) sampled shots that were never exported: nobody outside saw them."""
    from verifier.store.commitments import exports_for

    exports = exports_for(store, workload.id, getattr(workload, "dets_sha256", None))
    if not exports and getattr(workload, "seed", None) is not None:
        where = f" in the store {store.path}" if store is not None else ""
        raise UsageError(f"{decoder.name} scores recorded shots or exported syndromes, and workload "
                         f"{workload.id[:12]} is sampled and has no export{where}: send its syndromes "
                         "with sov qec export-syndromes, or give recorded shots (--circuit --dets --obs)")
    return exports


def refuse_unexported(store: "Store | None", decoder: Decoder, workload: "QecWorkload") -> None:
    """The cheap half of :func:`check_scored_shots` (one store query, no shot), for the
    checks a command makes of every decoder and workload before it runs any."""
    if is_precomputed(decoder):
        _exports(store, decoder, workload)


def check_scored_shots(store: "Store | None", decoder: Decoder, workload: "QecWorkload") -> dict | None:
    """Before a precomputed decoder (a predictions file) scores ``workload``: sampled shots
    must have been exported from this store (else exit 2), and every export of the
    workload (or of its events file) must verify (else exit 4). The commitment verified,
    for the result's JSON; None for other decoders and for recorded shots never exported."""
    if not is_precomputed(decoder):
        return None
    exports = _exports(store, decoder, workload)
    if not exports:
        return None
    for export in exports:
        verify_export(workload, export)
    latest = exports[0]
    return {"algorithm": ALGORITHM, "value": latest.commitment, "salt": latest.salt, "verified": True,
            "dets_sha256": latest.dets_sha256, "format": latest.format, "shots": latest.shots,
            "exported_workload_id": latest.workload_id, "exported_at": str(latest.created_at),
            "folder": latest.folder, "exports_verified": len(exports)}
