"""Load an ONNX file safely and describe it, before any runtime sees it.

These checks run in the parent process, on the bytes, with ``onnx`` only (no
onnxruntime session is created): a missing or unreadable path is exit 2; bytes that do
not parse, a failed ``onnx.checker``, an operator outside the standard domains, external
data outside the model's folder (symlinks resolved), and a declared tensor larger than
the configured limit are exit 4. See docs/SECURITY.md for what is checked where.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from verifier.errors import IntegrityError, UsageError
from verifier.hashing import sha256_file

STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})
DEFAULT_MAX_TENSOR_MB = 512.0
MAX_MODEL_FILE_MB = 2048.0


def max_tensor_bytes() -> int:
    """The largest tensor a model may declare (env ``SOV_MAX_TENSOR_MB``, default 512)."""
    try:
        mb = float(os.environ.get("SOV_MAX_TENSOR_MB", DEFAULT_MAX_TENSOR_MB))
    except ValueError:
        raise UsageError("SOV_MAX_TENSOR_MB must be a number of megabytes") from None
    return int(mb * 1024 * 1024)


_ELEM_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8,
               14: 8, 15: 16, 16: 2}


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str  # numpy-style name: uint8, bool, float32, ...
    shape: tuple[int | str | None, ...]  # int for fixed dims, str for symbolic, None unknown

    @property
    def dims(self) -> str:
        """``[batch, 120]``: fixed sizes, symbolic names, ``?`` where unknown."""
        return "[" + ", ".join("?" if d is None else str(d) for d in self.shape) + "]"

    @property
    def type_text(self) -> str:
        """``uint8 [batch, 120]``, as ``sov models inspect`` shows a tensor."""
        return f"{self.dtype} {self.dims}"

    def show(self) -> str:
        return f"{self.name}: {self.dtype}{self.dims}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"type": self.type_text}


@dataclass(frozen=True)
class ModelInfo:
    path: str
    sha256: str
    size_bytes: int
    ir_version: int
    opset: int | None  # version of the default ONNX domain
    opsets: dict[str, int]
    producer: str
    operators: tuple[str, ...]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    metadata: dict[str, str] = field(default_factory=dict)
    parameters: int = 0
    external_data: tuple[str, ...] = ()

    @property
    def file_name(self) -> str:
        return Path(self.path).name

    def store_record(self, contract: str | None) -> dict[str, Any]:
        """Keyword arguments of ``Store.record_model`` for this file under ``contract``."""
        return {"sha256": self.sha256, "path": self.path, "contract": contract,
                "metadata": self.metadata, "size_bytes": self.size_bytes, "opset": self.opset,
                "operators": list(self.operators)}

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["inputs"] = [t.to_json() for t in self.inputs]
        d["outputs"] = [t.to_json() for t in self.outputs]
        return d


def _dtype_name(elem_type: int) -> str:
    from onnx import helper

    try:
        return str(helper.tensor_dtype_to_np_dtype(elem_type))
    except Exception:
        return f"onnx-type-{elem_type}"


def _tensor_info(value_info) -> TensorInfo:
    t = value_info.type
    if not t.HasField("tensor_type"):
        return TensorInfo(value_info.name, "non-tensor", ())
    tt = t.tensor_type
    shape: list[int | str | None] = []
    if tt.HasField("shape"):
        for d in tt.shape.dim:
            if d.HasField("dim_value"):
                shape.append(int(d.dim_value))
            elif d.HasField("dim_param"):
                shape.append(d.dim_param)
            else:
                shape.append(None)
    return TensorInfo(value_info.name, _dtype_name(tt.elem_type), tuple(shape))


def _walk_graphs(graph):
    """The graph and every subgraph (If/Loop/Scan bodies) below it."""
    from onnx import AttributeProto

    yield graph
    for node in graph.node:
        for a in node.attribute:
            if a.type == AttributeProto.GRAPH:
                yield from _walk_graphs(a.g)
            elif a.type == AttributeProto.GRAPHS:
                for g in a.graphs:
                    yield from _walk_graphs(g)


def _tensor_bytes(dims, elem_type: int) -> int:
    n = 1
    for d in dims:
        n *= max(int(d), 0)
    return n * _ELEM_BYTES.get(elem_type, 8)


def _check_tensor(t, where: str, model_dir: Path, limit: int, external: list[str]) -> None:
    from onnx import TensorProto

    size = _tensor_bytes(t.dims, t.data_type)
    if size > limit:
        raise IntegrityError(f"{where}: tensor {t.name!r} declares {size / 2**20:.0f} MiB, above the "
                             f"limit of {limit / 2**20:.0f} MiB (SOV_MAX_TENSOR_MB)")
    if t.data_location == TensorProto.EXTERNAL:
        entries = {e.key: e.value for e in t.external_data}
        loc = entries.get("location", "")
        if not loc or os.path.isabs(loc):
            raise IntegrityError(f"{where}: tensor {t.name!r} points to external data {loc!r} "
                                 "outside the model's folder")
        if any(ord(c) < 32 for c in loc):  # NUL and other control characters: no file has that name
            raise IntegrityError(f"{where}: tensor {t.name!r} names an impossible external data "
                                 f"path {loc!r} (a control character)")
        try:
            target = (model_dir / loc).resolve()
            root = model_dir.resolve()
            present = target.is_file()
        except (OSError, ValueError) as e:  # too long, a loop of links, ...
            raise IntegrityError(f"{where}: tensor {t.name!r} names an impossible external data "
                                 f"path {loc[:80]!r} ({type(e).__name__}: {str(e)[:120]})") from None
        if root != target and root not in target.parents:
            raise IntegrityError(f"{where}: tensor {t.name!r} points to external data {loc!r} "
                                 "outside the model's folder")
        if not present:
            raise IntegrityError(f"{where}: external data file {loc!r} of tensor {t.name!r} is missing")
        external.append(loc)


@lru_cache(maxsize=32)
def _inspect_cached(path: str, mtime_ns: int, size: int, limit: int) -> ModelInfo:
    import onnx
    from google.protobuf.message import DecodeError

    p = Path(path)
    if size > MAX_MODEL_FILE_MB * 2**20:
        raise IntegrityError(f"{p.name} is {size / 2**20:.0f} MiB, larger than any model sov accepts")
    digest = sha256_file(p)
    try:
        model = onnx.load(str(p), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, OSError) as e:
        raise IntegrityError(f"{p.name} is not a parsable ONNX model ({type(e).__name__})") from None
    except Exception as e:  # protobuf raises a variety of errors on junk bytes
        raise IntegrityError(f"{p.name} is not a parsable ONNX model ({type(e).__name__})") from None
    if not model.HasField("graph") or (not model.graph.node and not model.graph.output):
        raise IntegrityError(f"{p.name} holds no ONNX graph (empty or not a model file)")

    local_functions = {(f.domain, f.name) for f in model.functions}
    operators: set[str] = set()
    model_dir = p.parent
    external: list[str] = []
    params = 0

    def check_nodes(nodes, where: str) -> None:
        for node in nodes:
            dom = node.domain or ""
            if dom not in STANDARD_DOMAINS and (dom, node.op_type) not in local_functions:
                raise IntegrityError(f"{p.name}: operator {node.op_type!r} from non-standard domain "
                                     f"{dom!r} is refused (custom operators cannot be verified)")
            operators.add(node.op_type if dom in ("", "ai.onnx") else f"{dom}:{node.op_type}")
            for a in node.attribute:
                if a.HasField("t"):
                    _check_tensor(a.t, where, model_dir, limit, external)

    for g in _walk_graphs(model.graph):
        check_nodes(g.node, p.name)
        for t in g.initializer:
            _check_tensor(t, p.name, model_dir, limit, external)
            n = 1
            for d in t.dims:
                n *= d
            params += n
    for f in model.functions:
        if f.domain not in STANDARD_DOMAINS and (f.domain, f.name) not in local_functions:
            raise IntegrityError(f"{p.name}: function domain {f.domain!r} is not standard")
        check_nodes(f.node, f"{p.name} function {f.name}")
    for imp in model.opset_import:
        if imp.domain not in STANDARD_DOMAINS and imp.domain not in {d for d, _ in local_functions}:
            raise IntegrityError(f"{p.name}: imports non-standard operator domain {imp.domain!r}")

    for vi in list(model.graph.input) + list(model.graph.output):
        info = _tensor_info(vi)
        fixed = [d for d in info.shape if isinstance(d, int)]
        tt = vi.type.tensor_type
        if fixed and _tensor_bytes(fixed, tt.elem_type) > limit:
            raise IntegrityError(f"{p.name}: {vi.name!r} declares dimensions {list(info.shape)}, "
                                 f"above the tensor limit of {limit / 2**20:.0f} MiB")

    try:
        # with external data, the checker must get the path: it resolves the data files
        # relative to the model's folder (given a proto, it would look in the cwd)
        onnx.checker.check_model(str(p) if external else model)
    except Exception as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise IntegrityError(f"{p.name} fails the ONNX checker: {first[:300]}") from None

    inits = {t.name for t in model.graph.initializer}
    inputs = tuple(_tensor_info(v) for v in model.graph.input if v.name not in inits)
    outputs = tuple(_tensor_info(v) for v in model.graph.output)
    opsets = {imp.domain or "ai.onnx": int(imp.version) for imp in model.opset_import}
    return ModelInfo(
        path=str(p.resolve()), sha256=digest, size_bytes=size, ir_version=int(model.ir_version),
        opset=opsets.get("ai.onnx"), opsets=opsets,
        producer=f"{model.producer_name} {model.producer_version}".strip(),
        operators=tuple(sorted(operators)), inputs=inputs, outputs=outputs,
        metadata={m.key: m.value for m in model.metadata_props}, parameters=int(params),
        external_data=tuple(sorted(set(external))))


def inspect_model(path: str | os.PathLike[str]) -> ModelInfo:
    """Parse and check an ONNX file; raise UsageError (exit 2) or IntegrityError (exit 4)."""
    p = Path(path)
    if not p.exists():
        raise UsageError(f"model file not found: {p}")
    if p.is_dir():
        raise UsageError(f"model path is a directory, not an ONNX file: {p}")
    try:
        st = p.stat()
        with open(p, "rb"):
            pass
    except OSError as e:
        raise UsageError(f"cannot read model file {p}: {e.strerror}") from None
    if st.st_size == 0:
        raise IntegrityError(f"{p.name} is empty (0 bytes), not an ONNX model")
    return _inspect_cached(str(p.resolve()), st.st_mtime_ns, st.st_size, max_tensor_bytes())


class CheckedModelFile:
    """What every ONNX-backed model shares: a file checked when it was loaded and checked
    again, by hash, before each use (it may change on disk in between)."""

    path: str
    sha256: str
    contract: str
    name: str

    @property
    def info(self) -> ModelInfo:
        return inspect_model(self.path)

    def model_record(self) -> dict[str, Any]:
        """The row for the store's ``models`` table."""
        return self.info.store_record(self.contract)

    def verified_info(self) -> ModelInfo:
        info = self.info
        if info.sha256 != self.sha256:
            raise IntegrityError(f"{self.name} changed on disk since it was loaded (sha256 mismatch)")
        return info
