"""The ONNX model contracts (see docs/contracts.md): what a model's tensors mean.

A contract comes from the ``--contract`` flag (which wins) or the model's
``sov.contract`` metadata. Static checks against a workload happen here, before any
shot is run; a mismatch is a :class:`UsageError` (exit 2) saying expected vs found.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from verifier.errors import UsageError

if TYPE_CHECKING:
    from adapters.onnx_model import ModelInfo, TensorInfo

CONTRACTS: dict[str, str] = {
    "qec.decoder": "full decoder: uint8/bool [batch, num_detectors] -> [batch, num_observables] flips",
    "qec.predecoder.flat": "pre-decoder: uint8 [batch, D] -> uint8 [batch, O + D] = pre_L | residual, then PyMatching",
    "qec.predecoder.grid": "3D-CNN pre-decoder: float32 [batch, 4, T, D, D] -> float32 logits [batch, 4, T, D, D], then PyMatching",
    "qec.predecoder.weights": "soft output: uint8 [batch, num_detectors] -> float [batch, num_mechanisms] probabilities, then PyMatching per shot on the reweighted DEM",
    "cal.fit": "calibration fit: x, y float32 [batch, n_points] -> params float32 [batch, k]",
    "cal.discriminator": "readout discriminator: float32 [batch, 2] (I, Q) -> float32 [batch, 2] scores",
}
QEC_CONTRACTS = ("qec.decoder", "qec.predecoder.flat", "qec.predecoder.grid", "qec.predecoder.weights")
CAL_CONTRACTS = ("cal.fit", "cal.discriminator")
METADATA_KEYS = ("sov.contract", "sov.distance", "sov.rounds", "sov.basis", "sov.num_detectors",
                 "sov.circuit_sha256", "sov.detector_map", "sov.mask_map", "sov.finisher", "sov.experiment")


def contract_list() -> str:
    return ", ".join(CONTRACTS)


def inspection(info: "ModelInfo", flag: str | None) -> dict:
    """What ``sov models inspect`` reports of a file that passed the integrity checks: its
    description, the contract it names (``flag`` wins, then its metadata, then a vendor
    layout sov recognizes), where that came from, and whether sov knows that contract."""
    name, source = contract_source(info, flag)
    return info.to_json() | {"contract": name, "contract_source": source,
                             "contract_known": name in CONTRACTS, "integrity": "ok"}


ISING_INPUT, ISING_OUTPUT = "dets", "L_and_residual_dets"


def recognized_contract(info: "ModelInfo") -> str | None:
    """The contract of a model without ``sov.contract`` whose tensors are a known vendor
    layout: Ising-Decoding's export (one uint8 input ``dets`` [batch, D], one uint8 output
    ``L_and_residual_dets`` [batch, 1 + D]: pre_L, then the residual) is
    ``qec.predecoder.flat``. Only names, dtypes and ranks this specific are recognized; a
    bare tensor layout is never guessed (see :func:`_no_contract`)."""
    if len(info.inputs) != 1 or len(info.outputs) != 1:
        return None
    i, o = info.inputs[0], info.outputs[0]
    if (i.name, o.name) != (ISING_INPUT, ISING_OUTPUT) or (i.dtype, o.dtype) != ("uint8", "uint8"):
        return None
    if len(i.shape) != 2 or len(o.shape) != 2:
        return None
    d_in, d_out = i.shape[1], o.shape[1]
    if isinstance(d_in, int) and isinstance(d_out, int) and d_out != d_in + 1:
        return None
    return "qec.predecoder.flat"


def _no_contract(info: "ModelInfo") -> str:
    """The refusal of a model that names no contract, with a hint when its tensors fit one
    that sov does not assume from tensors alone."""
    line = f"{info.file_name} names no contract (metadata 'sov.contract')"
    if len(info.inputs) == 1 and len(info.outputs) == 1:
        i, o = info.inputs[0], info.outputs[0]
        if (i.dtype, o.dtype) == ("float32", "float32") and len(i.shape) == 5 == len(o.shape) \
                and i.shape[1] == 4 and i.shape[1:] == o.shape[1:]:
            return (f"{line}; its {i.type_text} -> {o.type_text} tensors fit qec.predecoder.grid, which "
                    "sov does not assume: give --contract qec.predecoder.grid if that is what it is")
    return f"{line}: give --contract, one of: {contract_list()}"


def contract_source(info: "ModelInfo", flag: str | None) -> tuple[str | None, str | None]:
    """(contract name, where it came from: "flag" | "metadata" | "recognized" | None)."""
    if flag:
        return flag, "flag"
    if info.metadata.get("sov.contract"):
        return info.metadata["sov.contract"], "metadata"
    found = recognized_contract(info)
    return (found, "recognized") if found else (None, None)


def resolve_contract(info: "ModelInfo", flag: str | None, *, family: tuple[str, ...] | None = None) -> str:
    name, _ = contract_source(info, flag)
    if not name:
        raise UsageError(_no_contract(info))
    if name not in CONTRACTS:
        raise UsageError(f"{info.file_name}: unknown contract {name!r}; contracts are: {contract_list()}")
    if family is not None and name not in family:
        raise UsageError(f"{info.file_name} has contract {name!r}, but this command needs one of: "
                         f"{', '.join(family)}")
    return name


def _expect(cond: bool, what: str, expected: str, found: str, model: str) -> None:
    if not cond:
        raise UsageError(f"{model}: {what}: expected {expected}, found {found}")


def _dim_ok(dim, want: int) -> bool:
    return not isinstance(dim, int) or dim == want


def batch_size_of(t: "TensorInfo") -> int | None:
    """A fixed batch dimension, or None when symbolic."""
    d = t.shape[0] if t.shape else None
    return d if isinstance(d, int) and d > 0 else None


def check_tensor(t: "TensorInfo", *, model: str, role: str, dtypes: tuple[str, ...],
                 dims: tuple[int | None, ...]) -> None:
    """``dims``: expected sizes after the batch dimension (None = any)."""
    _expect(t.dtype in dtypes, f"{role} {t.name!r} dtype", " or ".join(dtypes), t.dtype, model)
    want_shape = "[batch, " + ", ".join("?" if d is None else str(d) for d in dims) + "]"
    _expect(len(t.shape) == len(dims) + 1, f"{role} {t.name!r} shape", want_shape,
            t.show().split(": ", 1)[1], model)
    for got, want in zip(t.shape[1:], dims):
        if want is not None:
            _expect(_dim_ok(got, want), f"{role} {t.name!r} shape", want_shape,
                    t.show().split(": ", 1)[1], model)


def check_metadata(info: "ModelInfo", workload) -> None:
    """Optional ``sov.*`` metadata must agree with the workload (exit 2 otherwise)."""
    md = info.metadata
    name = info.file_name

    def as_int(key: str) -> int:
        try:
            return int(md[key])
        except ValueError:
            raise UsageError(f"{name}: metadata {key}={md[key]!r} is not an integer") from None

    if "sov.distance" in md and workload.distance is not None:
        _expect(as_int("sov.distance") == workload.distance, "metadata sov.distance",
                f"the workload's distance {workload.distance}", md["sov.distance"], name)
    if "sov.rounds" in md and workload.rounds is not None:
        _expect(as_int("sov.rounds") == workload.rounds, "metadata sov.rounds",
                f"the workload's rounds {workload.rounds}", md["sov.rounds"], name)
    if "sov.basis" in md and workload.basis is not None:
        _expect(md["sov.basis"].lower() == workload.basis, "metadata sov.basis",
                f"the workload's basis {workload.basis}", md["sov.basis"], name)
    if "sov.num_detectors" in md:
        _expect(as_int("sov.num_detectors") == workload.num_detectors, "metadata sov.num_detectors",
                f"the workload's {workload.num_detectors} detectors", md["sov.num_detectors"], name)
    if "sov.circuit_sha256" in md:
        got = md["sov.circuit_sha256"].lower()
        _expect(got in workload.circuit_hashes(), "metadata sov.circuit_sha256",
                "the sha256 of the workload's circuit text", got[:16] + "...", name)


def check_qec_io(info: "ModelInfo", contract: str, workload) -> None:
    """Inputs and outputs of a flat QEC contract against the workload's sizes."""
    name = info.file_name
    D, O = workload.num_detectors, workload.num_observables
    _expect(len(info.inputs) == 1, "number of inputs", "1", str(len(info.inputs)), name)
    _expect(len(info.outputs) == 1, "number of outputs", "1", str(len(info.outputs)), name)
    if contract == "qec.decoder":
        check_tensor(info.inputs[0], model=name, role="input", dtypes=("uint8", "bool"), dims=(D,))
        check_tensor(info.outputs[0], model=name, role="output", dtypes=("uint8", "bool", "float32"), dims=(O,))
    elif contract == "qec.predecoder.flat":
        check_tensor(info.inputs[0], model=name, role="input", dtypes=("uint8",), dims=(D,))
        check_tensor(info.outputs[0], model=name, role="output", dtypes=("uint8",), dims=(O + D,))
    b_in, b_out = batch_size_of(info.inputs[0]), batch_size_of(info.outputs[0])
    if b_in is not None and b_out is not None and b_in != b_out:
        raise UsageError(f"{name}: fixed batch {b_in} in but {b_out} out")
