"""Interoperability with sinter (stim's Monte-Carlo sampling tool).

* :func:`write_sinter_csv` writes a sov sweep as sinter's CSV (sinter's own ``TaskStats``
  and ``CSV_HEADER``), with ``json_metadata`` ``{"d", "r", "p", "noise", "basis", ...}``,
  so ``sinter plot --in FILE.csv --x_func m.p --group_func m.d`` draws it.
* :func:`read_sinter_csv` reads sinter CSV (from ``sinter collect`` or from
  :func:`write_sinter_csv`) into per-decoder series of :class:`verifier.stats.threshold.LerPoint`,
  a baseline to fit and plot next to a sov sweep.
* :class:`SovSinterDecoder` exposes any sov Decoder (PyMatching baselines, ONNX decoders
  and pre-decoders) as a ``sinter.Decoder``, so ``sinter.collect`` can run vendor models::

      from adapters.sinter_interop import SovSinterDecoder, sov_decoder
      sinter.collect(num_workers=4, tasks=tasks, decoders=["vendor"],
                     custom_decoders={"vendor": SovSinterDecoder(sov_decoder("model.onnx"))})

  sinter hands a decoder only the detector error model. That is enough for PyMatching and
  the flat contracts; the grid contract needs the circuit itself: give the circuits of
  the tasks (``SovSinterDecoder(dec, circuits=[...])``) and each DEM is matched back to its
  circuit. Worker processes unpickle the decoder, so this module must be importable by
  them (it is, as part of the installed package; a decoder class defined in a script read
  from standard input is not).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import sinter

from verifier.errors import UsageError
from verifier.hashing import sha256_bytes
from verifier.qec.workload import QecWorkload

if TYPE_CHECKING:
    from verifier.engine.results import SweepResult
    from verifier.stats.threshold import LerPoint


# -- export -----------------------------------------------------------------------------------

def task_stats(result: "SweepResult") -> list[sinter.TaskStats]:
    """One ``sinter.TaskStats`` per sweep point (seconds = decode + sample seconds)."""
    from verifier.engine.results import task_id

    out = []
    for r in result.points:
        w = r.workload
        meta = {"d": w.distance, "r": w.rounds, "p": getattr(w, "p", None),
                "noise": getattr(w, "noise", None), "b": w.basis, "seed": getattr(w, "seed", None),
                "workload_id": w.id, "fingerprint": r.fingerprint}
        out.append(sinter.TaskStats(strong_id=task_id(r.fingerprint, w), decoder=result.decoder_name,
                                    json_metadata=meta, shots=r.stats.shots, errors=r.stats.errors,
                                    discards=0, seconds=r.stats.seconds + r.stats.sample_seconds))
    return out


def sinter_csv_text(result: "SweepResult") -> str:
    lines = [sinter.CSV_HEADER] + [s.to_csv_line() for s in task_stats(result)]
    return "\n".join(lines) + "\n"


def write_sinter_csv(result: "SweepResult", path: str | Path) -> str:
    try:
        Path(path).write_text(sinter_csv_text(result))
    except OSError as e:
        raise UsageError(f"cannot write --sinter-csv {path}: {e.strerror}") from None
    return str(path)


# -- import -----------------------------------------------------------------------------------

_D_KEYS = ("d", "distance")
_P_KEYS = ("p", "noise_p", "physical_error_rate", "error_rate")


def _meta_value(meta: Any, keys: Sequence[str]):
    if isinstance(meta, dict):
        for k in keys:
            if k in meta and meta[k] is not None:
                return meta[k]
    return None


def read_sinter_csv(path: str | Path, *, decoder: str | None = None) -> dict[str, list["LerPoint"]]:
    """Series of ``LerPoint`` per decoder (label ``sinter:<decoder>``) from a sinter CSV.

    Each row's ``json_metadata`` must carry the distance (``d``) and the physical error
    rate (``p``); rows of one strong id are merged as sinter merges them, and shots exclude
    discards. Two different tasks at the same (decoder, d, p) are refused as ambiguous."""
    from verifier.stats.threshold import LerPoint

    p = Path(path)
    stats = _read_stats(p)
    series: dict[str, dict[tuple[int, float], LerPoint]] = {}
    for s in stats:
        if decoder is not None and s.decoder != decoder:
            continue
        d = _meta_value(s.json_metadata, _D_KEYS)
        rate = _meta_value(s.json_metadata, _P_KEYS)
        if d is None or rate is None:
            raise UsageError(f"{p}: a row's json_metadata has no distance 'd' and rate 'p' "
                             f"({json.dumps(s.json_metadata)[:80]})")
        label = f"sinter:{s.decoder}"
        key = (int(d), float(rate))
        pts = series.setdefault(label, {})
        if key in pts:
            raise UsageError(f"{p}: two tasks of decoder {s.decoder} at d={key[0]}, p={key[1]:g} "
                             "(different rounds or noise?): filter the CSV first")
        kept = s.shots - s.discards
        if kept > 0:
            pts[key] = LerPoint(key[0], key[1], int(kept), int(s.errors))
    if not series:
        raise UsageError(f"{p}: no rows" + (f" for decoder {decoder}" if decoder else ""))
    return {label: sorted(v.values(), key=lambda q: (q.distance, q.p)) for label, v in series.items()}


def read_sinter_csv_epsilon(path: str | Path, p: float, *, decoder: str | None = None) -> dict[str, list]:
    """Per-decoder ``EpsilonPoint`` series at the physical error rate ``p`` (for Λ) from a
    sinter CSV; rounds come from the metadata key ``r`` (or ``rounds``), else rounds = d."""
    from verifier.stats.suppression import EpsilonPoint

    stats = _read_stats(path)
    out: dict[str, list] = {}
    for s in stats:
        if decoder is not None and s.decoder != decoder:
            continue
        d = _meta_value(s.json_metadata, _D_KEYS)
        rate = _meta_value(s.json_metadata, _P_KEYS)
        if d is None or rate is None or not math.isclose(float(rate), p, rel_tol=1e-9):
            continue
        r = _meta_value(s.json_metadata, ("r", "rounds")) or d
        kept = s.shots - s.discards
        if kept > 0:
            out.setdefault(f"sinter:{s.decoder}", []).append(EpsilonPoint(int(d), int(r), int(kept), int(s.errors)))
    for label, pts in out.items():
        if len({(q.distance, q.rounds) for q in pts}) != len(pts):
            raise UsageError(f"{path}: two tasks of {label} at one distance, round count and p={p:g}: "
                             "filter the CSV first")
    return {k: sorted(v, key=lambda q: (q.distance, q.rounds)) for k, v in out.items()}


def _read_stats(path: str | Path):
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"sinter CSV not found: {p}")
    try:
        return sinter.read_stats_from_csv_files(str(p))
    except Exception as e:  # sinter raises ValueError / KeyError with long text
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UsageError(f"{p} is not sinter CSV: {first}") from None


# -- sov decoders inside sinter ---------------------------------------------------------------

class _DemAsCircuit:
    """What the sov decoders ask of a circuit, answered from a detector error model."""

    def __init__(self, dem):
        self._dem = dem

    @property
    def num_detectors(self) -> int:
        return self._dem.num_detectors

    @property
    def num_observables(self) -> int:
        return self._dem.num_observables

    def detector_error_model(self, **_kwargs):
        return self._dem

    def get_detector_coordinates(self, *args):
        return self._dem.get_detector_coordinates(*args)

    def __str__(self) -> str:
        return str(self._dem)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise UsageError(f"this decoder needs the circuit itself (it asked for circuit.{name}), but "
                         "sinter passes only the detector error model: give the tasks' circuits, "
                         "SovSinterDecoder(decoder, circuits=[...])")


@dataclass(frozen=True, eq=False)
class DemWorkload(QecWorkload):
    """The workload a sinter task presents to a sov decoder: its DEM (and, when known,
    its circuit). It has no shots of its own: sinter samples them."""

    dem_text: str
    circuit_text: str | None = None
    shots: int = 0
    kind: str = field(default="sinter-dem", init=False)
    distance: int | None = field(default=None, init=False)
    rounds: int | None = field(default=None, init=False)
    basis: str | None = field(default=None, init=False)

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "dem_sha256": sha256_bytes(self.dem_text.encode()),
                "circuit_sha256": sha256_bytes(self.circuit_text.encode()) if self.circuit_text else None}

    def circuit(self):
        import stim

        if self.circuit_text is not None:
            return stim.Circuit(self.circuit_text)
        return _DemAsCircuit(stim.DetectorErrorModel(self.dem_text))


class _CompiledForSinter(sinter.CompiledDecoder):
    def __init__(self, compiled, num_obs_bytes: int):
        self._compiled = compiled
        self._obs_bytes = num_obs_bytes

    def decode_shots_bit_packed(self, *, bit_packed_detection_event_data: np.ndarray) -> np.ndarray:
        dets = np.ascontiguousarray(bit_packed_detection_event_data, dtype=np.uint8)
        pred = np.asarray(self._compiled.decode_packed(dets), dtype=np.uint8)
        return pred.reshape(dets.shape[0], self._obs_bytes)


class SovSinterDecoder(sinter.Decoder):
    """A sov Decoder (PyMatching baseline, ONNX decoder or pre-decoder) as a ``sinter.Decoder``.

    ``circuits``: the tasks' circuits, needed only by decoders that read the circuit's
    geometry (the ``qec.predecoder.grid`` contract). Each DEM sinter hands over is matched
    to the circuit whose DEM (``decompose_errors=True, approximate_disjoint_errors=True``,
    as sinter builds it) is equal."""

    def __init__(self, decoder, *, circuits: Sequence[Any] = ()):
        self.decoder = decoder
        self.circuit_texts = tuple(str(c) for c in circuits)

    def __repr__(self) -> str:
        return f"SovSinterDecoder({self.decoder.name!r})"

    def _circuit_for(self, dem) -> str | None:
        import stim

        for text in self.circuit_texts:
            c = stim.Circuit(text)
            if c.num_detectors != dem.num_detectors:
                continue
            if c.detector_error_model(decompose_errors=True, approximate_disjoint_errors=True) == dem:
                return text
        return None

    def workload_for(self, dem) -> DemWorkload:
        return DemWorkload(str(dem), self._circuit_for(dem))

    def compile_decoder_for_dem(self, *, dem) -> sinter.CompiledDecoder:
        w = self.workload_for(dem)
        self.decoder.check(w)
        return _CompiledForSinter(self.decoder.compile_for(w), math.ceil(dem.num_observables / 8))


def sov_decoder(spec: str, **kwargs):
    """A sov Decoder from a CLI-style spec (``pymatching``, a built-in model, FILE.onnx)."""
    from adapters.resolve import decoder_from_spec

    return decoder_from_spec(spec, **kwargs)
