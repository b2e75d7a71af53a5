"""Options of a baseline in its ``--decoder`` spec: ``NAME`` or ``NAME:KEY=VALUE,KEY=VALUE``
(e.g. ``tesseract:det-beam=5,det-orders=5``), each checked against the baseline's own
defaults (their types decide how a value is read). The options are in the fingerprint, so
results of two settings never share a cache entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from verifier.errors import UsageError


def split_spec(spec: str) -> tuple[str, str]:
    name, _, opts = spec.partition(":")
    return name, opts


def parse_options(name: str, text: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """``KEY=VALUE,...`` over ``defaults`` (keys spelt with - or _)."""
    out = dict(defaults)
    for item in (x.strip() for x in text.split(",") if x.strip()):
        key, eq, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not eq or key not in defaults:
            allowed = ", ".join(k.replace("_", "-") for k in defaults) or "none"
            raise UsageError(f"--decoder {name}: unknown option {item!r} (options: {allowed})")
        out[key] = _value(name, key, raw.strip(), defaults[key])
    return out


def _value(name: str, key: str, raw: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return raw.lower() in ("true", "1")
        if isinstance(default, int):
            v = int(raw)
            if v < 0:
                raise ValueError
            return v
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        raise UsageError(f"--decoder {name}: {key.replace('_', '-')}={raw!r} is not a valid "
                         f"{type(default).__name__}") from None
    return raw


@dataclass(frozen=True)
class OptionedBaseline:
    """What every baseline with options shares: ``named(spec)`` parses ``NAME:KEY=VALUE``
    against the class's :attr:`DEFAULTS`; :meth:`opts` is every option's value."""

    options: tuple = ()
    name: str = ""
    model_sha256: None = None
    DEFAULTS: ClassVar[dict[str, Any]] = {}

    @classmethod
    def named(cls, spec: str):
        name, text = split_spec(spec)
        return cls(tuple(parse_options(name, text, cls.DEFAULTS).items()), spec)

    def opts(self) -> dict[str, Any]:
        return {**self.DEFAULTS, **dict(self.options)}

    def check(self, workload) -> None:
        return None  # these baselines take any DEM their own compile accepts
