"""The Decoder protocol, after sinter's ``Decoder.compile_decoder_for_dem``.

A :class:`Decoder` is a small picklable *description* (a baseline name and options, or
an ONNX file and its contract). It is compiled once per workload, in each worker
process, into a :class:`CompiledDecoder` that decodes chunks of bit-packed detection
events. ``verifier`` knows only these protocols; PyMatching lives in ``baselines`` and
ONNX models in ``adapters``.

A decoder may also have ``for_workload(workload) -> Decoder``: a model family (one file
per distance, rounds and basis) names the member that serves each workload, and the run
loop and the comparisons run, fingerprint and record each task as that member
(:func:`member_for`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from verifier.hashing import fingerprint  # noqa: F401  (one encoding for decoders and calibration models)

if TYPE_CHECKING:
    from verifier.qec.workload import QecWorkload


@runtime_checkable
class CompiledDecoder(Protocol):
    def decode_packed(self, dets: np.ndarray) -> np.ndarray:
        """``uint8[n, ceil(D/8)]`` detection events -> ``uint8[n, ceil(O/8)]`` predicted
        observable flips, both little-endian bit-packed (stim ``b8`` layout)."""
        ...


@runtime_checkable
class PositionalDecoder(Protocol):
    """A compiled decoder that answers by shot position, not from the events alone: its
    predictions were made elsewhere, one row per shot of the workload (``predictions:FILE``).
    The run loop hands it each block's first shot; the events come along so that it can
    check their count. Optional: a compiled decoder without ``decode_block`` is called
    through ``decode_packed`` as before."""

    def decode_block(self, dets: np.ndarray, start: int) -> np.ndarray:
        """The predictions of shots ``start .. start + len(dets)``, laid out as
        :meth:`CompiledDecoder.decode_packed`'s."""
        ...


@runtime_checkable
class Decoder(Protocol):
    name: str  # what the user typed: a baseline name or the model's file name
    model_sha256: str | None  # None for open baselines

    def fingerprint_spec(self) -> dict[str, Any]:
        """Everything that can change predictions: model hash, runtime, versions, options."""
        ...

    def check(self, workload: "QecWorkload") -> None:
        """Refuse, before any shot, a decoder that cannot serve this workload (exit 2)."""
        ...

    def compile_for(self, workload: "QecWorkload") -> CompiledDecoder:
        ...


def is_precomputed(decoder: Decoder) -> bool:
    """A decoder whose predictions were made elsewhere (``decodes_any_syndrome = False``: a
    predictions file). It answers only for the shots of the workload it was made for, by
    position, so it cannot decode other syndromes (a latency or fault probe), and sampled
    shots are scored with it only when they were exported to its maker
    (``verifier.workflows.syndromes``)."""
    return getattr(decoder, "decodes_any_syndrome", True) is False


def member_for(decoder: Decoder, workload: "QecWorkload") -> Decoder:
    """The decoder that serves ``workload``: a family's member, else ``decoder`` itself."""
    pick = getattr(decoder, "for_workload", None)
    return pick(workload) if callable(pick) else decoder


def member_json(member: Decoder, fp: str) -> dict[str, Any]:
    """How a point's JSON names the family member that ran it (its file and identity)."""
    return {"decoder": member.name, "file": getattr(member, "path", None), "fingerprint": fp,
            "model_sha256": member.model_sha256}


def transport_seconds(compiled: CompiledDecoder) -> float:
    """Cumulative seconds a compiled decoder spent moving data across an isolation boundary
    (the model sandbox) rather than decoding. Compiled decoders report it through an
    optional ``transport_seconds`` attribute; 0 for those that run in-process."""
    return float(getattr(compiled, "transport_seconds", 0.0) or 0.0)


def unpack_bits(packed: np.ndarray, width: int) -> np.ndarray:
    """Little-endian bit-packed ``uint8[n, ceil(width/8)]`` -> ``uint8[n, width]`` of 0/1."""
    return np.unpackbits(packed, axis=1, count=width, bitorder="little")


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """``[n, width]`` of 0/1 (any integer or bool dtype) -> little-endian bit-packed uint8."""
    return np.packbits(np.asarray(bits, dtype=bool), axis=1, bitorder="little")
