"""The models that ship inside the package (``adapters/models/*.onnx``)."""

from __future__ import annotations

from pathlib import Path

MODELS_DIR = Path(__file__).parent / "models"


def builtin_models() -> list[dict[str, str]]:
    """``[{"name", "path", "contract", "description"}]`` of every shipped model."""
    from adapters.onnx_model import inspect_model

    out = []
    for p in sorted(MODELS_DIR.glob("*.onnx")):
        info = inspect_model(p)
        out.append({"name": p.stem, "path": str(p), "contract": info.metadata.get("sov.contract", ""),
                    "description": info.metadata.get("sov.description", "")})
    return out


def builtin_path(name: str) -> Path | None:
    p = MODELS_DIR / f"{name}.onnx"
    return p if "/" not in name and p.is_file() else None
