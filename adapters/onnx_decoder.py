"""ONNX models as sov Decoders (contracts ``qec.decoder``, ``qec.predecoder.*``).

The parent process checks the file (``adapters.onnx_model``) and the contract against the
workload before any shot. Each worker then opens one onnxruntime session per workload
(``adapters.sandbox.open_session``: in the sandbox unless the user opts out) with only the
standard CPU execution provider unless the user names another; no custom operator
library is ever registered. What each contract does with the session is in
``adapters.registry``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from adapters.finisher import finisher_fingerprint, finisher_name
from adapters.contracts import QEC_CONTRACTS, check_metadata, resolve_contract
from adapters.onnx_model import CheckedModelFile, inspect_model
from adapters.registry import qec_runtime
from adapters.runtime import RuntimeOptions, runtime_version
from adapters.sandbox import open_session
from verifier.environment import package_version
from verifier.errors import UsageError


@dataclass(frozen=True)
class OnnxDecoder(CheckedModelFile):
    """An ONNX model file under one of the QEC contracts."""

    path: str
    sha256: str
    contract: str
    name: str
    options: RuntimeOptions = field(default_factory=RuntimeOptions)

    @classmethod
    def from_file(cls, path: str, *, contract: str | None = None,
                  options: RuntimeOptions | None = None) -> "OnnxDecoder":
        info = inspect_model(path)
        name = resolve_contract(info, contract, family=QEC_CONTRACTS)
        options = options or RuntimeOptions()
        if name in ("qec.predecoder.flat", "qec.predecoder.grid"):
            options = dataclasses.replace(options, finisher=finisher_name(info.metadata, options.finisher))
        elif options.finisher:
            raise UsageError(f"--finisher applies to pre-decoders (qec.predecoder.flat, .grid); "
                             f"{info.file_name} is {name}")
        return cls(info.path, info.sha256, name, info.file_name, options)

    @property
    def model_sha256(self) -> str:
        return self.sha256

    def fingerprint_spec(self) -> dict[str, Any]:
        spec = {"decoder": "onnx", "contract": self.contract, "model_sha256": self.sha256,
                "onnxruntime": runtime_version(), "provider": self.options.provider,
                "graph_optimization": self.options.graph_optimization}
        if self.contract in ("qec.predecoder.flat", "qec.predecoder.grid"):
            spec["finisher"] = finisher_fingerprint(self.options.finisher)
        elif self.contract == "qec.predecoder.weights":
            spec["finisher"] = {"pymatching": package_version("pymatching"), "reweighted": "per shot"}
        return spec

    def check(self, workload) -> None:
        info = self.verified_info()
        check_metadata(info, workload)
        qec_runtime(self.contract).check(info, self.contract, workload)

    def compile_for(self, workload):
        info = self.verified_info()
        runtime = qec_runtime(self.contract)
        return runtime.compile(info, open_session(self.path, self.options), self.options, workload)
