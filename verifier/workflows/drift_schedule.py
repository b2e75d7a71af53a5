"""``sov drift schedule``: the systemd units, or the crontab line, that run a drift check."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from verifier.errors import UsageError

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_every(text: str) -> tuple[int, str]:
    """``15m``, ``6h``, ``1d``, ``1w`` -> (count, unit)."""
    t = text.strip().lower()
    if len(t) < 2 or t[-1] not in _UNITS or not t[:-1].isdigit() or int(t[:-1]) < 1:
        raise UsageError(f"--every must look like 30m, 6h, 1d or 1w, got {text!r}")
    return int(t[:-1]), t[-1]


def every_seconds(text: str) -> int:
    n, unit = parse_every(text)
    return n * _UNITS[unit]


def sov_executable() -> str:
    """The ``sov`` a scheduler should start: the one beside this Python first (a venv's),
    else the one on PATH, else this Python running the entry point."""
    beside = os.path.join(os.path.dirname(sys.executable), "sov")
    if os.path.exists(beside):
        return beside
    return shutil.which("sov") or f"{sys.executable} -c 'from verifier.cli.launch import entry; entry()'"


def schedule_for(store, name: str, every: str, fmt: str) -> str:
    """The schedule of a watched model's check, run from the current directory."""
    from verifier.workflows.drift_registry import get

    get(store, name)  # refuse a name that is not watched
    return schedule(name, every, fmt, sov_exe=sov_executable(), db=str(Path(store.path).resolve()),
                    workdir=os.getcwd())


def _cron_when(n: int, unit: str) -> str:
    if unit == "m":
        if n >= 60 or 60 % n:
            raise UsageError("cron minutes must divide 60 (e.g. 5m, 15m, 30m); use h for longer")
        return f"*/{n} * * * *" if n > 1 else "* * * * *"
    if unit == "h":
        if n >= 24 or 24 % n:
            raise UsageError("cron hours must divide 24 (e.g. 1h, 6h, 12h); use d for longer")
        return f"17 */{n} * * *" if n > 1 else "17 * * * *"
    if unit == "d":
        return f"17 3 */{n} * *" if n > 1 else "17 3 * * *"
    if n != 1:
        raise UsageError("cron can run weekly (1w), not every several weeks")
    return "17 3 * * 1"


def schedule(name: str, every: str, fmt: str, *, sov_exe: str, db: str, workdir: str,
             log: str | None = None) -> str:
    """The systemd service + timer units, or the crontab line, that run the drift check."""
    n, unit = parse_every(every)
    # the check spends its share of the yearly false-alarm budget at this cadence
    cmd = f"{sov_exe} drift check --name {name} --every {every} --db {db} --json {log or '-'}"
    if fmt == "cron":
        return (f"# sov drift check for {name}, every {every}; exit 1 on drift (cron mails the output)\n"
                f"{_cron_when(n, unit)} cd {workdir} && {cmd} >> {workdir}/sov-drift-{name}.log 2>&1\n")
    if fmt != "systemd":
        raise UsageError(f"--format must be systemd or cron, got {fmt!r}")
    seconds = n * _UNITS[unit]
    return f"""# /etc/systemd/system/sov-drift-{name}.service  (or ~/.config/systemd/user/)
[Unit]
Description=sov drift check for watched model {name}

[Service]
Type=oneshot
WorkingDirectory={workdir}
ExecStart={cmd}
# exit 1 = drift found, 4 = integrity failure: the unit shows as failed, OnFailure= can alert
SuccessExitStatus=0

# /etc/systemd/system/sov-drift-{name}.timer
[Unit]
Description=Run the sov drift check for {name} every {every}

[Timer]
OnBootSec=5min
OnUnitActiveSec={seconds}s
AccuracySec=1min

[Install]
WantedBy=timers.target

# enable with: systemctl daemon-reload && systemctl enable --now sov-drift-{name}.timer
"""
