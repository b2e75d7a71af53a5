"""The comparison report as JSON: the full payload (every figure), for other tools."""

from __future__ import annotations

from typing import Any

REPORT_JSON_SCHEMA = "sov.compare/1"


def report_json(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as written by ``--json``: everything the HTML and Markdown show, and more
    (per-task latency quantiles and tail curves, per-workload paired tests, model details,
    environment, the command that regenerates it). NaN is written as null by the writer."""
    out = dict(payload)
    out.setdefault("schema", REPORT_JSON_SCHEMA)
    return out
