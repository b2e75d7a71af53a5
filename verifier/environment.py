"""What a figure was measured with: package versions and the machine.

Versions come from installed metadata (or an already imported module), never by
importing a heavy package only to ask its version (pymatching costs ~0.5 s)."""

from __future__ import annotations

import os
import platform
import sys
from typing import Any, Iterable


def package_version(name: str) -> str | None:
    """``name``'s version: the loaded module's ``__version__``, else its metadata; None
    when it is not installed."""
    mod = sys.modules.get(name)
    if mod is not None and getattr(mod, "__version__", None):
        return mod.__version__
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def package_versions(names: Iterable[str]) -> dict[str, str | None]:
    return {n: package_version(n) for n in names}


def cores() -> int:
    """The cores this process may run on (a container's or taskset's share, not the host's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def cpu_model() -> str:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return cpu or "unknown"


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def overloaded(load: list[float] | None, n_cores: int | None) -> bool:
    """A 1-minute load average above the cores: wall-clock timings then measure the other
    processes' work as well as the decoder's."""
    return bool(load) and load[0] > (n_cores or 1)


def load_now() -> dict[str, Any]:
    """The load average, the cores, and whether the machine is :func:`overloaded`."""
    la, n = load_average(), cores() or 1
    return {"load_average": la, "cores": n, "high": overloaded(la, n)}


def machine() -> dict[str, Any]:
    """The machine a measurement ran on, with its load (timings mean little without it)."""
    return {"python": platform.python_version(), "platform": platform.platform(),
            "machine": platform.machine(), "cpu": cpu_model(), "cores": cores(),
            "load_average": load_average()}
