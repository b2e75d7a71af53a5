"""Small, dependency-free SVG charts for the reports (inline, print-friendly, offline).

Every chart is a string holding one ``<svg>`` element: log or linear axes with readable
ticks, one line per series with an optional confidence band, and markers. Text inherits
the page's font, so the HTML report's typography applies; nothing is loaded from anywhere.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from html import escape
from typing import Sequence

# Colour-blind-safe palette (Okabe & Ito); the baseline is always the dark grey.
BASELINE_COLOR = "#3b3f45"
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8C564B", "#F0C419")
_IDS = itertools.count(1)
SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def reset_ids() -> None:
    """Restart clip-path ids, so one payload always renders to the same bytes."""
    global _IDS
    _IDS = itertools.count(1)


def colors_for(keys: Sequence[str], baseline: str | None) -> dict[str, str]:
    """A stable colour per decoder: the baseline grey, candidates in palette order."""
    out, k = {}, 0
    for key in keys:
        if key == baseline:
            out[key] = BASELINE_COLOR
        else:
            out[key] = PALETTE[k % len(PALETTE)]
            k += 1
    return out


@dataclass
class Point:
    x: float
    y: float | None  # None or <= 0 on a log axis: drawn as an upper limit at ``hi``
    lo: float | None = None
    hi: float | None = None


@dataclass
class Series:
    label: str
    color: str
    points: list[Point] = field(default_factory=list)
    dash: str | None = None
    marker: str = "circle"  # circle | square | diamond | none
    band: bool = True
    width: float = 2.0
    hollow: bool = False


def fmt_num(v: float) -> str:
    """Tick label: 0.002, 25, 1.5·10⁻⁴, 10⁻³."""
    if v == 0:
        return "0"
    e = math.floor(math.log10(abs(v)) + 1e-9)
    m = v / 10 ** e
    if -3 <= e <= 4:
        s = f"{v:.6f}".rstrip("0").rstrip(".") if e < 0 else f"{v:,.6g}"
        return s
    if abs(m - 1) < 1e-6:
        return "10" + str(e).translate(SUPERSCRIPT)
    return f"{m:g}·10" + str(e).translate(SUPERSCRIPT)


def log_ticks(lo: float, hi: float, *, max_ticks: int = 7) -> tuple[list[float], list[float]]:
    """(labelled ticks, minor ticks) for a log axis spanning [lo, hi]."""
    e0, e1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    for mults in ((1,), (1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9)):
        major = [m * 10 ** e for e in range(e0, e1 + 1) for m in mults if lo <= m * 10 ** e <= hi]
        if len(major) >= 3 or mults == (1, 2, 3, 4, 5, 6, 7, 8, 9):
            if len(major) > max_ticks and mults != (1,):
                continue
            break
    decades = [10 ** e for e in range(e0, e1 + 1) if lo <= 10 ** e <= hi]
    if len(decades) > max_ticks:
        step = math.ceil(len(decades) / max_ticks)
        major = decades[::step]
    minor = [m * 10 ** e for e in range(e0, e1 + 1) for m in range(1, 10) if lo <= m * 10 ** e <= hi]
    return major, [t for t in minor if not any(abs(t - M) <= 1e-12 * M for M in major)]


def lin_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    span = hi - lo or 1.0
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    out, t = [], start
    while t <= hi + 1e-12 * span:
        out.append(round(t, 12))
        t += step
    return out


class _Axis:
    def __init__(self, lo: float, hi: float, a: float, b: float, log: bool):
        self.lo, self.hi, self.a, self.b, self.log = lo, hi, a, b, log

    def __call__(self, v: float) -> float:
        if self.log:
            f = (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        else:
            f = (v - self.lo) / ((self.hi - self.lo) or 1.0)
        return self.a + f * (self.b - self.a)


def _range(values: list[float], log: bool, pad: float) -> tuple[float, float]:
    vals = [v for v in values if v is not None and math.isfinite(v) and (v > 0 or not log)]
    if not vals:
        return (1e-4, 1.0) if log else (0.0, 1.0)
    lo, hi = min(vals), max(vals)
    if log:
        if hi / lo < 1.0001:
            lo, hi = lo / 2, hi * 2
        f = (hi / lo) ** pad
        return lo / f, hi * f
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    d = (hi - lo) * pad
    return lo - d, hi + d


def _marker(kind: str, x: float, y: float, color: str, r: float = 3.6, *, hollow: bool = False) -> str:
    fill = "#fff" if hollow else color
    if kind == "square":
        return (f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r:.1f}" height="{2 * r:.1f}" '
                f'fill="{fill}" stroke="{color}" stroke-width="1.4"/>')
    if kind == "diamond":
        r *= 1.3
        return (f'<path d="M{x:.1f},{y - r:.1f}L{x + r:.1f},{y:.1f}L{x:.1f},{y + r:.1f}L{x - r:.1f},{y:.1f}Z" '
                f'fill="{fill}" stroke="{color}" stroke-width="1.4"/>')
    if kind == "down":  # an upper limit (no error seen)
        return (f'<path d="M{x - r:.1f},{y - r * 0.6:.1f}L{x + r:.1f},{y - r * 0.6:.1f}L{x:.1f},{y + r:.1f}Z" '
                f'fill="#fff" stroke="{color}" stroke-width="1.4"/>')
    if kind == "none":
        return ""
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{fill}" stroke="{color}" stroke-width="1.4"/>'


def _line(x1, x2, y1, y2, stroke: str) -> str:
    return f'<line x1="{x1}" x2="{x2}" y1="{y1}" y2="{y2}" stroke="{stroke}" stroke-width="1"/>'


def _tick_label(xv: str, yv: str, anchor: str, label: str) -> str:
    return f'<text x="{xv}" y="{yv}" font-size="11" text-anchor="{anchor}" fill="#4a5160">{escape(label)}</text>'


def _y_grid(y: _Axis, ylog: bool, ml: int, right: int) -> list[str]:
    major, minor = log_ticks(y.lo, y.hi) if ylog else (lin_ticks(y.lo, y.hi), [])
    out = [_line(ml, right, f"{y(t):.1f}", f"{y(t):.1f}", "#eef0f3") for t in minor]
    for t in major:
        out.append(_line(ml, right, f"{y(t):.1f}", f"{y(t):.1f}", "#dde1e7"))
        out.append(_tick_label(f"{ml - 7}", f"{y(t) + 4:.1f}", "end", fmt_num(t)))
    return out


def _x_grid(x: _Axis, xlog: bool, xticks, xtick_labels, top: int, bottom: int) -> list[str]:
    if xticks is None:
        xt = log_ticks(x.lo, x.hi)[0] if xlog else lin_ticks(x.lo, x.hi)
        xl = [fmt_num(t) for t in xt]
    else:
        xt = list(xticks)
        xl = list(xtick_labels) if xtick_labels is not None else [fmt_num(t) for t in xt]
    out = []
    for t, lab in zip(xt, xl):
        if x.lo <= t <= x.hi:
            out.append(_line(f"{x(t):.1f}", f"{x(t):.1f}", top, bottom, "#eef0f3"))
            out.append(_tick_label(f"{x(t):.1f}", f"{bottom + 16}", "middle", lab))
    return out


def _ok(v: float | None, log: bool) -> bool:
    return v is not None and math.isfinite(v) and (v > 0 or not log)


def _bands(series: Sequence[Series], x: _Axis, y: _Axis, ylog: bool) -> list[str]:
    out = []
    for s in series:
        pts = [p for p in s.points if _ok(p.hi, ylog) and (_ok(p.lo, ylog) or ylog)]
        if s.band and len(pts) >= 2:
            top = [f"{x(p.x):.1f},{y(p.hi):.1f}" for p in pts]
            bot = [f"{x(p.x):.1f},{y(p.lo if _ok(p.lo, ylog) else y.lo):.1f}" for p in reversed(pts)]
            out.append(f'<polygon points="{" ".join(top + bot)}" fill="{s.color}" fill-opacity="0.13" '
                       f'stroke="none"/>')
        elif s.band:
            for p in pts:
                lo = p.lo if _ok(p.lo, ylog) else y.lo
                out.append(f'<line x1="{x(p.x):.1f}" x2="{x(p.x):.1f}" y1="{y(lo):.1f}" y2="{y(p.hi):.1f}" '
                           f'stroke="{s.color}" stroke-opacity="0.5" stroke-width="3"/>')
    return out


def _data(series: Sequence[Series], x: _Axis, y: _Axis, ylog: bool, clip: str) -> list[str]:
    """Bands first, so lines sit on top, all clipped to the plot area; markers over both."""
    out = [clip, *_bands(series, x, y, ylog)]
    for s in series:
        pts = [p for p in s.points if _ok(p.y, ylog)]
        if len(pts) >= 2:
            d = " ".join(f"{'M' if i == 0 else 'L'}{x(p.x):.1f},{y(p.y):.1f}" for i, p in enumerate(pts))
            dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
            out.append(f'<path d="{d}" fill="none" stroke="{s.color}" stroke-width="{s.width}"{dash} '
                       f'stroke-linejoin="round" stroke-linecap="round"/>')
    out.append("</g>")
    for s in series:
        for p in s.points:
            if _ok(p.y, ylog):
                out.append(_marker(s.marker, x(p.x), y(p.y), s.color, hollow=s.hollow))
            elif _ok(p.hi, ylog):
                out.append(_marker("down", x(p.x), y(p.hi), s.color))
    return out


def line_chart(series: Sequence[Series], *, title: str = "", xlabel: str = "", ylabel: str = "",
               xlog: bool = False, ylog: bool = True, width: int = 440, height: int = 300,
               xticks: Sequence[float] | None = None, xtick_labels: Sequence[str] | None = None,
               yrange: tuple[float, float] | None = None, xrange: tuple[float, float] | None = None,
               note: str = "", aria: str = "") -> str:
    """One chart as an inline ``<svg>`` string."""
    ml, mr, mt, mb = 64, 16, 34 if title else 14, 46
    x = _Axis(0, 1, ml, width - mr, xlog)
    y = _Axis(0, 1, height - mb, mt, ylog)
    xs = [p.x for s in series for p in s.points]
    ys = [v for s in series for p in s.points for v in (p.y, p.lo if s.band else None, p.hi)]
    x.lo, x.hi = xrange or _range(xs + list(xticks or []), xlog, 0.08)
    y.lo, y.hi = yrange or _range(ys, ylog, 0.06)
    area = f'x="{ml}" y="{mt}" width="{width - ml - mr}" height="{height - mt - mb}"'
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" role="img" aria-label="{escape(aria or title)}" class="chart">',
           f'<rect {area} fill="#fcfcfd" stroke="none"/>']
    if title:
        out.append(f'<text x="{ml}" y="{mt - 12}" font-size="13" font-weight="600" fill="#1d2330">'
                   f'{escape(title)}</text>')
    out += _y_grid(y, ylog, ml, width - mr)
    out += _x_grid(x, xlog, xticks, xtick_labels, mt, height - mb)
    out.append(f'<rect {area} fill="none" stroke="#aab1bc" stroke-width="1"/>')
    if xlabel:
        out.append(f'<text x="{(ml + width - mr) / 2:.1f}" y="{height - 9}" font-size="12" text-anchor="middle" '
                   f'fill="#1d2330">{escape(xlabel)}</text>')
    if ylabel:
        cy = (mt + height - mb) / 2
        out.append(f'<text transform="translate(15 {cy:.1f}) rotate(-90)" font-size="12" text-anchor="middle" '
                   f'fill="#1d2330">{escape(ylabel)}</text>')
    cid = f"clip{next(_IDS)}"
    out += _data(series, x, y, ylog, f'<clipPath id="{cid}"><rect {area}/></clipPath><g clip-path="url(#{cid})">')
    if note:
        out.append(f'<text x="{width - mr}" y="{mt - 12 if title else height - 2}" font-size="10.5" '
                   f'text-anchor="end" fill="#6b7280">{escape(note)}</text>')
    out.append("</svg>")
    return "".join(out)


def legend(items: Sequence[tuple[str, str]], *, dash: Sequence[str | None] | None = None) -> str:
    """An HTML legend (colour swatch + label) to sit above a group of charts."""
    parts = []
    for i, (label, color) in enumerate(items):
        d = (dash or [None] * len(items))[i]
        sw = (f'<svg width="26" height="12" viewBox="0 0 26 12" aria-hidden="true">'
              f'<line x1="1" x2="25" y1="6" y2="6" stroke="{color}" stroke-width="2.5"'
              f'{f" stroke-dasharray={chr(34)}{d}{chr(34)}" if d else ""}/>'
              f'<circle cx="13" cy="6" r="3.4" fill="{color}"/></svg>')
        parts.append(f'<span class="lg">{sw}{escape(label)}</span>')
    return f'<div class="legend">{"".join(parts)}</div>'
