"""The question set of ``sov calib ask`` (``verifier.calib.questions``) put to a model behind an
OpenAI-compatible endpoint: each prompt rendered as a plot (its fit curve drawn, with the
fit's parameters in the legend, for fit-reliability questions) and sent with the question
text. Nothing else of an item leaves sov: not its expected answer, label, truth or the
sweep's numbers.

An unreachable endpoint on the first item is a usage error (exit 2); later transport or
HTTP errors, and replies that are not chat completions, make that item unanswered
(``NoAnswer``: scored as unparsed, with the reason).
"""

from __future__ import annotations

import json
import urllib.error
from dataclasses import dataclass, field

import numpy as np

from adapters.openai_calibration import chat, parse_spec, render_plot
from verifier.calib.question_items import y_label
from verifier.calib.questions import NoAnswer, Prompt
from verifier.errors import UsageError

PLOT_DPI = 60  # small plots: the axes and the legend stay legible, the requests small


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def render_prompt(prompt: Prompt, *, dpi: int = PLOT_DPI) -> bytes:
    """The prompt's plot as a PNG: the sweep, and the fit curve when the prompt has one."""
    fit = None
    if prompt.fit is not None:
        legend = "fit: " + ", ".join(f"{k} = {_fmt(v)}" for k, v in prompt.fit.params.items())
        fit = (np.asarray(prompt.fit.x), np.asarray(prompt.fit.y), legend)
    return render_plot(np.asarray(prompt.x), np.asarray(prompt.y), prompt.experiment,
                       y_label=y_label(prompt.units).removeprefix("the "), fit=fit, dpi=dpi)


@dataclass
class EndpointAnswerer:
    """An answerer (``verifier.calib.question_scores.Answerer``) over HTTP."""

    base_url: str
    model: str
    timeout: float = 60.0
    name: str = ""
    _asked: int = field(default=0, repr=False)
    _plots: dict = field(default_factory=dict, repr=False)  # several questions are asked about one plot

    @classmethod
    def from_spec(cls, spec: str, *, timeout: float = 60.0) -> "EndpointAnswerer":
        url, model = parse_spec(spec)
        return cls(url, model, timeout, f"{model}@{url}")

    def answer(self, prompt: Prompt) -> str:
        first, self._asked = self._asked == 0, self._asked + 1
        fit = prompt.fit
        key = (prompt.experiment, prompt.x, prompt.y, prompt.units,
               None if fit is None else (fit.x, fit.y, tuple(fit.params.items())))
        if key not in self._plots:
            self._plots[key] = render_prompt(prompt)
        png = self._plots[key]
        try:
            return chat(self.base_url, self.model, png, prompt.text, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            raise NoAnswer(f"HTTP {e.code} from the endpoint") from None
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
            if first:
                raise UsageError(f"cannot reach the endpoint {self.base_url}: {getattr(e, 'reason', e)}") from None
            raise NoAnswer(f"request failed: {getattr(e, 'reason', e)}") from None
        except (KeyError, IndexError, TypeError, json.JSONDecodeError):
            raise NoAnswer("the endpoint's reply is not a chat completion") from None
