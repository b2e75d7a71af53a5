"""Calibration models served behind an OpenAI-compatible chat-completions endpoint (how
vision-language calibration models such as Ising Calibration are served).

sov plots each simulated experiment (matplotlib, PNG), asks a QCalEval-style question
about the plot ("what is the pi-pulse amplitude? answer as JSON"), parses the numbers out
of the answer and scores them against the simulator's truth like any other model. Only
the plot goes to the endpoint, never the truth or the raw numbers.

Model spec: ``openai:<base_url>#<model>``, e.g. ``openai:http://127.0.0.1:8000/v1#ising-calibration``.
An API key, if the endpoint needs one, comes from the environment variable
``SOV_OPENAI_API_KEY`` (sent as a bearer token, never recorded). An unreachable endpoint
is a usage error (exit 2); an HTTP error or an answer without the numbers is a recorded
failure of that repeat, with the reason.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import numpy as np

from verifier.calib.experiments import experiment as get_experiment
from verifier.calib.metrics import FitOutcome
from verifier.errors import UsageError

PREFIX = "openai:"
PROMPT_VERSION = "1"
API_KEY_ENV = "SOV_OPENAI_API_KEY"


def question(experiment: str) -> str:
    exp = get_experiment(experiment)
    keys = ", ".join(f'"{p.name}": <{p.question}>' for p in exp.params)
    return (f"The plot shows {exp.plot}. The x axis is in {exp.x_unit}. "
            f"Read the fitted value(s) from the plot and answer with one JSON object only: {{{keys}}}.")


def render_plot(x: np.ndarray, y: np.ndarray, experiment: str, *, y_label: str | None = None,
                fit: tuple[np.ndarray, np.ndarray, str] | None = None, dpi: int = 80) -> bytes:
    """The experiment as a PNG, axes labelled in the experiment's units; with ``fit``
    (x, y, legend text) a fit curve drawn over the data."""
    from matplotlib.figure import Figure  # no pyplot: no global figure state, no GUI backend

    exp = get_experiment(experiment)
    fig = Figure(figsize=(6, 4), dpi=dpi)
    ax = fig.add_subplot()
    ax.plot(x, y, "o-", ms=3, lw=0.8, label="data")
    if fit is not None:
        ax.plot(fit[0], fit[1], "-", color="tab:red", lw=1.6, label=fit[2])
        ax.legend(loc="best", fontsize=8)
    ax.set_xlabel(f"{'frequency' if exp.x_unit == 'Hz' else 'amplitude' if exp.x_unit == 'a.u.' else 'time'} [{exp.x_unit}]")
    ax.set_ylabel(y_label or ("|S21| (normalized)" if experiment == "resonator_spectroscopy"
                              else "excited-state probability"))
    ax.set_title(experiment)
    ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.13, top=0.92)  # tight_layout would double the time
    fig.savefig(buf, format="png")
    return buf.getvalue()


def parse_answer(text: str, names: tuple[str, ...]) -> list[float]:
    """The parameters from the first JSON object in the answer; ValueError if absent."""
    for m in re.finditer(r"\{[^{}]*\}", text or ""):
        try:
            obj = json.loads(m.group(0))
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and all(n in obj for n in names):
            vals = [float(obj[n]) for n in names]
            if all(np.isfinite(vals)):
                return vals
    raise ValueError(f"no JSON object with {', '.join(names)} in the answer {str(text)[:80]!r}")


def parse_spec(spec: str) -> tuple[str, str]:
    """(base URL, served model name) of ``openai:<base_url>#<model>``."""
    url, _, model = spec[len(PREFIX):].partition("#")
    if not re.match(r"^https?://[^/\s]+", url):
        raise UsageError(f"endpoint model {spec!r}: expected openai:http(s)://HOST[:PORT]/PATH#MODEL")
    return url.rstrip("/"), model or "default"


def chat(base_url: str, model: str, png: bytes, text: str, *, timeout: float = 60.0) -> str:
    """One OpenAI chat completion: the question and the plot (a PNG data URL), nothing
    else; the answer's text. Transport errors propagate (``urllib.error``, ``OSError``)."""
    body = {"model": model, "temperature": 0, "max_tokens": 200,
            "messages": [
                {"role": "system", "content": "You analyse superconducting-qubit calibration plots."},
                {"role": "user", "content": [
                    {"type": "text", "text": text},
                    {"type": "image_url", "image_url": {
                        "url": "data:image/png;base64," + base64.b64encode(png).decode()}}]}]}
    req = urllib.request.Request(f"{base_url}/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    key = os.environ.get(API_KEY_ENV)
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (user-given URL)
        payload = json.loads(resp.read().decode("utf-8", "replace"))
    return payload["choices"][0]["message"]["content"]


@dataclass
class EndpointCalibrationModel:
    """A ``cal.fit``-like model answering questions about plots over HTTP."""

    base_url: str
    model: str
    experiment: str
    timeout: float = 60.0
    name: str = ""

    @classmethod
    def from_spec(cls, spec: str, experiment: str | None, *, timeout: float = 60.0) -> "EndpointCalibrationModel":
        url, model = parse_spec(spec)
        if experiment is None:
            raise UsageError("an endpoint model needs --experiment")
        if get_experiment(experiment).kind != "fit":
            raise UsageError("endpoint models answer fit experiments only (not readout)")
        return cls(url, model, experiment, timeout, f"{model}@{url}")

    def fingerprint_spec(self) -> dict[str, Any]:
        return {"model": "openai-endpoint", "base_url": self.base_url, "served_model": self.model,
                "experiment": self.experiment, "prompt_version": PROMPT_VERSION}

    def ask(self, png: bytes, text: str | None = None) -> str:
        """One chat completion about the plot (by default this experiment's parameter question)."""
        return chat(self.base_url, self.model, png, text if text is not None else question(self.experiment),
                    timeout=self.timeout)

    def estimate_data(self, data) -> FitOutcome:
        names = get_experiment(self.experiment).param_names
        est = np.full((data.repeats, len(names)), np.nan)
        failures: dict[int, str] = {}
        t0 = time.perf_counter()
        for i in range(data.repeats):
            png = render_plot(data.x[i], data.y[i], self.experiment)
            try:
                answer = self.ask(png)
            except urllib.error.HTTPError as e:
                failures[i] = f"HTTP {e.code} from the endpoint"
                continue
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
                if i == 0 and not failures:
                    reason = getattr(e, "reason", e)
                    raise UsageError(f"cannot reach the endpoint {self.base_url}: {reason}") from None
                failures[i] = f"request failed: {getattr(e, 'reason', e)}"
                continue
            except (KeyError, IndexError, TypeError, json.JSONDecodeError):
                failures[i] = "the endpoint's reply is not a chat completion"
                continue
            try:
                est[i] = parse_answer(answer, names)
            except ValueError as e:
                failures[i] = str(e)
        return FitOutcome(est, failures, time.perf_counter() - t0,
                          notes=[f"asked {self.base_url} ({self.model}) about each plot; "
                                 f"{len(failures)} answers unusable"])
