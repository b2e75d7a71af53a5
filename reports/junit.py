"""JUnit XML for CI systems (GitLab, Jenkins, GitHub test reporters): one ``testcase`` per
gate; a failed gate is a ``<failure>``, an inconclusive one ``<skipped>`` (the job still
exits 3), the figures go to ``<system-out>`` as JSON and to ``<properties>``. When the run
stopped on an integrity failure (exit 4), every gate it would have evaluated is an
``<error>`` carrying the integrity message (gate rows with status ``error``)."""

from __future__ import annotations

import json
import math
from typing import Any, Iterable
from xml.etree import ElementTree as ET

from verifier.jsonsafe import json_safe


def _flat(prefix: str, obj: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(obj, float):
        out.append((prefix, repr(obj) if math.isfinite(obj) else "null"))
    elif isinstance(obj, list):
        out.append((prefix, json.dumps(obj, default=str)))
    else:
        out.append((prefix, "null" if obj is None else str(obj)))


def junit_xml(gates: Iterable, *, suite: str = "sov accept", verdict: str | None = None,
              properties: dict[str, Any] | None = None, seconds: float = 0.0) -> str:
    """``gates``: GateResult objects (or their ``to_json()`` dicts)."""
    rows = [g.to_json() if hasattr(g, "to_json") else dict(g) for g in gates]
    failures = sum(r["status"] == "fail" for r in rows)
    skipped = sum(r["status"] == "inconclusive" for r in rows)
    errors = sum(r["status"] == "error" for r in rows)
    counts = {"tests": str(len(rows)), "failures": str(failures), "errors": str(errors),
              "skipped": str(skipped), "time": f"{seconds:.3f}"}
    root = ET.Element("testsuites", name="sov", **counts)
    ts = ET.SubElement(root, "testsuite", name=suite, **counts)
    props = ET.SubElement(ts, "properties")
    for k, v in ({"verdict": verdict} | (properties or {})).items():
        if v is not None:
            ET.SubElement(props, "property", name=str(k), value=str(v))
    for r in rows:
        where = r.get("workload") or "-"
        tc = ET.SubElement(ts, "testcase", classname=f"sov.{suite.replace(' ', '_')}.{where}",
                           name=f"{r['name']} [{where}]", time="0")
        cp = ET.SubElement(tc, "properties")
        flat: list[tuple[str, str]] = []
        _flat("", r.get("figures", {}), flat)
        for k, v in flat:
            ET.SubElement(cp, "property", name=k, value=v)
        if r["status"] == "fail":
            f = ET.SubElement(tc, "failure", message=r.get("message", ""), type="GateFailed")
            f.text = r.get("message", "")
        elif r["status"] == "error":  # the run stopped on an integrity failure: no figures
            e = ET.SubElement(tc, "error", message=r.get("message", ""), type="IntegrityError")
            e.text = r.get("message", "")
        elif r["status"] == "inconclusive":
            ET.SubElement(tc, "skipped", message="inconclusive: " + r.get("message", ""))
        out = ET.SubElement(tc, "system-out")
        out.text = json.dumps(json_safe({"status": r["status"], "message": r.get("message", ""),
                                     "figures": r.get("figures", {})}), indent=2)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path, gates: Iterable, **kwargs: Any) -> None:
    """:func:`junit_xml` to ``path``; a file that cannot be written is a usage error."""
    from verifier.errors import UsageError

    try:
        path.write_text(junit_xml(gates, **kwargs))
    except OSError as e:
        raise UsageError(f"cannot write --junit {path}: {e.strerror}") from None
