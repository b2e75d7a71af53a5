"""QEC workloads: reference data with known ground truth, streamed in blocks.

A workload is a frozen value. Its ``id`` is the sha256 of its canonical form (for
recorded data also of the data files), so every number sov reports can be regenerated
from it. Its shots are cut into fixed *blocks* of :data:`BLOCK_SHOTS` shots; block ``i``
of a sampled workload is drawn by its own stim sampler seeded from ``(seed, i)``
(``verifier.qec.sampling``), so the shots of a seed are the same whatever the chunk size, the
number of worker processes, or the order in which blocks run. A block is the unit that is recorded in the store and
resumed after an interruption. Blocks are filed under the workload's ``stream_id``, which
names everything a block depends on (the circuit's text, stim's version, the sampler: see
:meth:`QecWorkload.stream_spec`).

Bit layout of a block (as stim's ``b8`` and PyMatching's ``bit_packed_shots``):
``dets`` is ``uint8[n, ceil(num_detectors / 8)]`` with detector ``k`` at bit ``k % 8``
(little-endian) of byte ``k // 8``; ``obs`` likewise for observables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from verifier.environment import package_version
from verifier.errors import IntegrityError, UsageError
from verifier.hashing import canonical_json, sha256_bytes, spec_digest
from verifier.qec.dem import circuit_dem, num_errors, parse_dem, read_dem_text
from verifier.qec.inputs import checked_circuit, read_circuit, read_given_dem
from verifier.qec.codes import CODE_TASKS, check_code
from verifier.qec.limits import check_distance, check_rounds, check_shots
from verifier.qec.noise import NOISE_MODELS
from verifier.qec.sampling import SAMPLER

BLOCK_SHOTS = 8192
FILE_FLAGS = ("circuit", "dets", "obs", "dem", "dataset")  # the workload flags that name files

_CIRCUIT_TEXT_SHA256: dict[str, str] = {}  # legacy stream id -> sha256 of the circuit's text


def block_seed(seed: int, block: int) -> int:
    """The 64-bit stim seed of one block, independent of every other block."""
    return int(np.random.SeedSequence([seed, block]).generate_state(1, np.uint64)[0])


@dataclass(frozen=True)
class Block:
    index: int
    start: int
    shots: int


class QecWorkload:
    """Behaviour shared by every QEC workload; subclasses are frozen dataclasses."""

    kind: str
    shots: int
    distance: int | None
    rounds: int | None
    basis: str | None
    dem_path: str | None = None  # a DEM given with --dem, which the decoders decode against
    dem_sha256: str | None = None

    def spec(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def circuit(self) -> "stim.Circuit":  # noqa: F821  # pragma: no cover - abstract
        raise NotImplementedError

    def stream_spec(self) -> dict[str, Any]:
        """What the blocks recorded for this workload depend on, and nothing more.

        The canonical form minus ``shots`` (workloads that differ only in shots share their
        blocks, so a longer run reuses what a shorter one recorded), the block size, and:

        - ``circuit``: sha256 of the circuit's text as stim prints it, the circuit the
          shots are drawn from and the decoders' detector error model is built from (a
          changed generator or noise pass, or an edited file, is another stream);
        - ``stim``: the stim version. For sampled workloads it fixes the shots a seed
          gives. Recorded workloads name it too, although their shots are the files' bits:
          stim parses the circuit and derives the detector error model every
          DEM-based decoder decodes against, and not every decoder fingerprint names stim
          (a pre-decoder's PyMatching finisher does not), so a stim upgrade re-decodes
          recorded data rather than mixing blocks decoded against two models;
        - ``sampler`` (sampled workloads): the same seed drawn another way gives other shots.

        Stores of schema 4 and older keyed blocks by :attr:`legacy_stream_id`; the store
        re-keys them to this id when it can tell they were drawn under this stim
        (``verifier.store.schema``, migration 5)."""
        s = self._legacy_stream_spec()
        s["circuit"] = self.circuit_text_sha256 if self.has_circuit else None
        s["stim"] = package_version("stim")
        return s

    def _legacy_stream_spec(self) -> dict[str, Any]:
        s = self.spec()
        s.pop("shots", None)
        s["block_shots"] = BLOCK_SHOTS
        if isinstance(self, _SampledMixin):
            s["sampler"] = ("stim.DetectorErrorModel:" if self.from_dem else "") + SAMPLER
        return s

    @cached_property
    def id(self) -> str:
        return spec_digest(self.spec())

    @cached_property
    def stream_id(self) -> str:
        return spec_digest(self.stream_spec())

    @cached_property
    def legacy_stream_id(self) -> str:
        """The stream id of sov's schema 4 and older (no circuit hash, no stim version):
        what the store's older blocks are keyed by."""
        return spec_digest(self._legacy_stream_spec())

    @property
    def circuit_text_sha256(self) -> str:
        """sha256 of ``str(circuit)``. Remembered per process by :attr:`legacy_stream_id`
        (the spec determines the circuit): workers get workloads without their circuit
        and ask for the stream id of every job, which must not rebuild the circuit."""
        key = self.legacy_stream_id
        digest = _CIRCUIT_TEXT_SHA256.get(key)
        if digest is None:
            if len(_CIRCUIT_TEXT_SHA256) > 256:
                _CIRCUIT_TEXT_SHA256.clear()
            digest = _CIRCUIT_TEXT_SHA256[key] = sha256_bytes(str(self._circuit).encode())
        return digest

    @cached_property
    def _circuit(self):
        return self.circuit()

    def detector_error_model(self):
        """The DEM every matching decoder and pre-decoder finisher of this workload decodes
        against (``verifier.qec.dem``): the ``--dem`` file, or the circuit's own."""
        return self._dem

    @cached_property
    def _dem(self):
        if self.dem_path is None:
            return circuit_dem(self._circuit)
        path = Path(self.dem_path)
        text = read_dem_text(path)
        if sha256_bytes(text.encode()) != self.dem_sha256:
            raise IntegrityError(f"{path} changed since the workload was defined")
        return parse_dem(text, path)

    @property
    def has_circuit(self) -> bool:
        return True

    @property
    def num_detectors(self) -> int:
        return (self._circuit if self.has_circuit else self._dem).num_detectors

    @property
    def num_observables(self) -> int:
        return (self._circuit if self.has_circuit else self._dem).num_observables

    def circuit_hashes(self) -> set[str]:
        """sha256 of the circuit's text, as stim prints it (with and without a final
        newline) and, for a user's file, as the file holds it."""
        if not self.has_circuit:
            return set()
        text = str(self._circuit)
        hashes = {self.circuit_text_sha256, sha256_bytes((text + "\n").encode())}
        own = getattr(self, "circuit_sha256", None)
        if own:
            hashes.add(own)
        return hashes

    def blocks(self) -> list[Block]:
        n = self.shots
        return [Block(i, s, min(BLOCK_SHOTS, n - s)) for i, s in enumerate(range(0, n, BLOCK_SHOTS))]

    def sample_block(self, block: Block) -> tuple[np.ndarray, np.ndarray]:
        """``(dets, obs)`` of one block, bit-packed (see the module docstring)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def describe(self) -> str:
        return canonical_json(self.spec())

    def _with_dem(self, spec: dict[str, Any]) -> dict[str, Any]:
        """A workload decoded against a given DEM is another workload; without one the
        canonical form (and so every id recorded before ``--dem`` existed) is unchanged."""
        if self.dem_sha256 is not None:
            spec["dem_sha256"] = self.dem_sha256
        return spec


class _SampledMixin:
    seed: int
    from_dem: bool = False  # a noiseless circuit with --dem: the shots are drawn from the DEM

    def sample_block(self, block: Block) -> tuple[np.ndarray, np.ndarray]:
        from verifier.qec.sampling import sample_b8

        source = self._dem if self.from_dem else self._circuit
        return sample_b8(source, block.shots, block_seed(self.seed, block.index))


@dataclass(frozen=True)
class MemoryWorkload(_SampledMixin, QecWorkload):
    """A memory experiment generated by stim: the rotated surface code (``code="surface"``,
    the default, whose ids predate the field), the XYZ color code or the repetition code
    (:data:`CODE_TASKS`). The spec's ``code`` entry is stim's task name, so it names the
    family without a key of its own."""

    distance: int
    rounds: int
    basis: str
    noise: str
    p: float
    shots: int
    seed: int
    kind: str = field(default="memory", init=False)
    dem_path: str | None = None
    dem_sha256: str | None = None
    code: str = "surface"

    def __post_init__(self) -> None:
        check_code(self.code, self.distance, self.basis)
        check_distance(self.distance)
        check_rounds(self.rounds)
        if self.basis not in ("x", "z"):
            raise UsageError(f"--basis must be x or z, got {self.basis!r}")
        if self.noise not in NOISE_MODELS:
            raise UsageError(f"--noise must be one of {', '.join(NOISE_MODELS)}, got {self.noise!r}")
        if not (0.0 <= self.p <= 0.5) or self.p != self.p:
            raise UsageError(f"--p must lie in [0, 0.5], got {self.p}")
        if self.noise == "si1000" and self.p > 0.1:
            raise UsageError(f"si1000 charges 5p to measurements: --p must be at most 0.1, got {self.p}")
        _check_shots_seed(self.shots, self.seed)

    @property
    def code_task(self) -> str:
        return CODE_TASKS[self.code].format(basis=self.basis)

    def spec(self) -> dict[str, Any]:
        return self._with_dem({"kind": self.kind, "code": self.code_task, "distance": self.distance,
                               "rounds": self.rounds, "noise": self.noise, "p": float(self.p),
                               "shots": self.shots, "seed": self.seed})

    def circuit(self):
        from verifier.qec.codes import generated

        return generated(self.code, self.code_task, self.distance, self.rounds, self.basis,
                         self.noise, self.p)

    def describe(self) -> str:
        what = {"surface": f"rotated memory {self.basis.upper()}", "color": f"color code memory {self.basis.upper()}",
                "repetition": "repetition code memory"}[self.code]
        return (f"{what} d={self.distance} rounds={self.rounds} "
                f"{self.noise} p={self.p:g}, {self.shots} shots, seed {self.seed}")


def _check_shots_seed(shots: int, seed: int) -> None:
    check_shots(shots)
    if not (0 <= seed < 2**63):
        raise UsageError(f"--seed must be a non-negative integer below 2**63, got {seed}")


@dataclass(frozen=True)
class CircuitWorkload(_SampledMixin, QecWorkload):
    """A user's own ``.stim`` circuit, sampled by stim with a seed."""

    circuit_path: str
    circuit_sha256: str
    shots: int
    seed: int
    rounds: int | None = None
    kind: str = field(default="circuit", init=False)
    distance: int | None = field(default=None, init=False)
    basis: str | None = field(default=None, init=False)
    dem_path: str | None = None
    dem_sha256: str | None = None
    from_dem: bool = False

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, shots: int, seed: int,
                  rounds: int | None = None, dem: str | os.PathLike[str] | None = None) -> "CircuitWorkload":
        p = Path(path)
        _check_shots_seed(shots, seed)
        if rounds is not None:
            check_rounds(rounds)
        circ, text = read_circuit(p, dem_given=dem is not None)
        dem_path, dem_sha, _ = read_given_dem(dem, circ)
        noiseless = dem is not None and num_errors(circuit_dem(circ, decompose=False)) == 0
        return cls(str(p.resolve()), sha256_bytes(text.encode()), shots, seed, rounds,
                   dem_path, dem_sha, noiseless)

    def spec(self) -> dict[str, Any]:
        return self._with_dem({"kind": self.kind, "circuit_sha256": self.circuit_sha256,
                               "rounds": self.rounds, "shots": self.shots, "seed": self.seed})

    def circuit(self):
        return checked_circuit(self.circuit_path, self.circuit_sha256)

    def describe(self) -> str:
        return f"circuit {Path(self.circuit_path).name} (sha256 {self.circuit_sha256[:12]}), {self.shots} shots, seed {self.seed}"
