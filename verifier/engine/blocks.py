"""The worker side of the run loop: sample, decode and score blocks of shots.

A job ships a decoder description and a *lean* workload (no cached circuit); the
worker keeps, per process, the compiled decoder of each (decoder, stream) and the circuit
of each stream, so a long-lived pool worker pays them once however many jobs it runs.
What comes back is a :class:`BlockOutcome`: counts, timings and the bit-packed per-shot
predictions and failures the parent records.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from dataclasses import dataclass

import numpy as np

from verifier.engine.progress import JobCounter, Sink
from verifier.errors import IntegrityError
from verifier.qec.decoder import Decoder, fingerprint
from verifier.qec.workload import Block, QecWorkload
from verifier.stats.binomial import Stats


@dataclass(frozen=True)
class BlockOutcome:
    block: Block
    stats: Stats
    predictions: bytes  # pack_predictions(): the [shots, O] prediction bits, packed
    failures: bytes  # np.packbits(fail, bitorder="little")
    prediction_bits: int  # O, the bits per shot in ``predictions``


def pack_predictions(pred: np.ndarray, num_observables: int) -> bytes:
    """Decoder output ``uint8[shots, ceil(O/8)]`` (PyMatching's bit-packed layout) -> the
    stored layout: the ``[shots, O]`` bits in C order, packed with
    ``np.packbits(bitorder="little")``, so shot ``s``'s observable ``k`` is bit ``s * O + k``
    (``ceil(shots * O / 8)`` bytes: an eighth of PyMatching's layout for one observable)."""
    bits = np.unpackbits(pred, axis=1, count=num_observables, bitorder="little")
    return np.packbits(bits, axis=None, bitorder="little").tobytes()


def unpack_predictions(blob: bytes, shots: int, bits: int) -> np.ndarray:
    """The stored layout (:func:`pack_predictions`) -> ``uint8[shots, bits]`` of 0/1."""
    flat = np.unpackbits(np.frombuffer(blob, np.uint8), count=shots * bits, bitorder="little")
    return flat.reshape(shots, bits)


# (thread, decoder, stream) -> compiled decoder; one entry per thread so that a Dask worker
# running several threads never shares a matching graph or a session between them
COMPILED: dict[tuple, object] = {}
_CIRCUITS: dict[str, object] = {}


def _decoder_key(decoder: Decoder):
    try:
        hash(decoder)
        return decoder
    except TypeError:
        return fingerprint(decoder)


def compiled_decoder(decoder: Decoder, workload: QecWorkload):
    """This process's compiled ``decoder`` for ``workload`` (compiled on first use: for an
    ONNX model that starts its sandbox, which later callers then share)."""
    key = (threading.get_ident(), _decoder_key(decoder), workload.stream_id)
    c = COMPILED.get(key)
    if c is None:
        if len(COMPILED) > 8:
            COMPILED.clear()
        c = decoder.compile_for(workload)
        COMPILED[key] = c
    return c


def run_block(decoder: Decoder, workload: QecWorkload, block: Block) -> BlockOutcome:
    """Sample (or read) one block, decode it and score it. Runs in a worker."""
    compiled = compiled_decoder(decoder, workload)
    t0 = time.perf_counter()
    dets, obs = workload.sample_block(block)
    t1 = time.perf_counter()
    by_position = getattr(compiled, "decode_block", None)  # PositionalDecoder: needs the offset
    pred = compiled.decode_packed(dets) if by_position is None else by_position(dets, block.start)
    t2 = time.perf_counter()
    pred = np.ascontiguousarray(pred, dtype=np.uint8)
    if pred.shape != obs.shape:
        raise IntegrityError(f"decoder returned predictions of shape {pred.shape}, expected {obs.shape}")
    fail = np.any(pred != obs, axis=1)
    n_obs = workload.num_observables
    return BlockOutcome(block, Stats(shots=block.shots, errors=int(fail.sum()), seconds=t2 - t1,
                                     sample_seconds=t1 - t0),
                        pack_predictions(pred, n_obs), np.packbits(fail, bitorder="little").tobytes(), n_obs)


def run_blocks(decoder: Decoder, workload: QecWorkload, blocks: tuple[Block, ...],
               env: dict[str, str] | None = None, progress: Sink | None = None) -> list[BlockOutcome]:
    """Several consecutive blocks in one job: one round trip to the worker for all.

    ``env``: the parent's ``SOV_*`` settings (sandbox, limits) when the job was made; a
    long-lived worker forked from a forkserver would otherwise keep the ones of its start.
    ``progress``: where the job's running count of decoded shots goes
    (``verifier.engine.progress``); the outcomes are the same with or without it."""
    if env is not None:
        _apply_sov_env(env)
    _reuse_circuit(workload)
    if progress is None:
        return [run_block(decoder, workload, b) for b in blocks]
    out = []
    with JobCounter(progress) as counter:
        for b in blocks:
            counter.start_block(b.shots)
            out.append(run_block(decoder, workload, b))
            counter.end_block()
    return out


def _reuse_circuit(workload: QecWorkload) -> None:
    """Jobs ship lean workloads (no circuit): a worker builds each stream's circuit once
    (si1000's noise pass is costly at large distances) and hands it to every later job."""
    cached = getattr(workload, "__dict__", None)
    if cached is None or "_circuit" in cached or not workload.has_circuit:
        return
    circuit = _CIRCUITS.get(workload.stream_id)
    if circuit is None:
        if len(_CIRCUITS) > 16:
            _CIRCUITS.clear()
        circuit = _CIRCUITS[workload.stream_id] = workload._circuit
    else:
        cached["_circuit"] = circuit


def sov_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("SOV_")}


def _apply_sov_env(env: dict[str, str]) -> None:
    if env == sov_env():
        return
    COMPILED.clear()  # compiled under other settings (e.g. sandbox on/off)
    for k in [k for k in os.environ if k.startswith("SOV_") and k not in env]:
        del os.environ[k]
    os.environ.update(env)


def lean(workload: QecWorkload) -> QecWorkload:
    """A copy without the cached stim circuit, so shipping it to workers costs a few
    hundred bytes instead of the circuit's text (each worker rebuilds the circuit once)."""
    if dataclasses.is_dataclass(workload) and "_circuit" in getattr(workload, "__dict__", {}):
        try:
            return dataclasses.replace(workload)
        except (TypeError, ValueError):
            return workload
    return workload
