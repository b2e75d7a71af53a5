"""Plots for reports: logical error rate vs physical error rate (threshold) and per-round
error vs distance (Λ). SVG by default (the format follows the file suffix); matplotlib is
imported lazily with the Agg backend so nothing needs a display."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from verifier.errors import UsageError


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _colors(n: int) -> list:
    plt = _pyplot()
    cmap = plt.get_cmap("viridis")
    return [cmap(0.1 + 0.75 * i / max(1, n - 1)) for i in range(n)]


def _pct(x: float, _pos=None) -> str:
    return f"{100 * x:.3g}%"


def threshold_figure(fit, *, title: str | None = None, baselines: dict[str, Sequence[Any]] | None = None,
                     baseline_fits: dict[str, Any] | None = None):
    """LER vs p per distance, log-log: points with 95 % intervals (bars and bands), the
    finite-size-scaling curves, and the threshold with its interval. ``baselines`` maps a
    label to extra ``LerPoint`` series (e.g. imported from sinter CSV), drawn hollow."""
    import numpy as np
    from matplotlib.ticker import FuncFormatter

    from verifier.stats.binomial import clopper_pearson

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 5.0), dpi=100)
    ds = fit.distances
    colors = dict(zip(ds, _colors(len(ds))))
    for d in ds:
        pts = sorted((q for q in fit.points if q.distance == d), key=lambda q: q.p)
        p = np.array([q.p for q in pts])
        y = np.array([q.ler for q in pts])
        ci = np.array([clopper_pearson(q.errors, q.shots) for q in pts])
        c = colors[d]
        ax.fill_between(p, np.maximum(ci[:, 0], 1e-12), ci[:, 1], color=c, alpha=0.18, lw=0)
        ok = y > 0
        left_out = bool(getattr(fit, "fit_distances", ())) and d not in fit.fit_distances
        ax.errorbar(p[ok], y[ok], yerr=[y[ok] - ci[ok, 0], ci[ok, 1] - y[ok]], fmt="o", ms=4,
                    color=c, capsize=2, lw=1, label=f"d = {d}" + (" (left out of the fit)" if left_out else ""))
        if (~ok).any():  # zero errors: the upper bound only
            ax.plot(p[~ok], ci[~ok, 1], "v", color=c, ms=5)
        lo_w, hi_w = getattr(fit, "window", None) or (p.min(), p.max())
        grid = np.geomspace(lo_w, hi_w, 80)  # the fitted curve, over the rates it was fitted to
        curve = fit.curve(d, grid)
        if curve is not None:
            keep = curve > 0
            ax.plot(grid[keep], curve[keep], "-", color=c, lw=1.2, alpha=0.9)
    for label, series in (baselines or {}).items():
        bds = sorted({q.distance for q in series})
        for d in bds:
            pts = sorted((q for q in series if q.distance == d), key=lambda q: q.p)
            c = colors.get(d, "0.4")
            ax.plot([q.p for q in pts], [q.ler if q.errors else float("nan") for q in pts], "s--",
                    mfc="none", color=c, ms=5, lw=0.8, alpha=0.8,
                    label=f"{label} d = {d}")
    for label, bf in (baseline_fits or {}).items():
        if getattr(bf, "threshold", None) is not None:
            ax.axvline(bf.threshold, color="0.35", lw=1.0, ls=":",
                       label=f"{label} p_th = {_pct(bf.threshold)}")
    if fit.threshold is not None:
        ax.axvline(fit.threshold, color="crimson", lw=1.2, ls="--",
                   label=f"p_th = {_pct(fit.threshold)}")
        lo, hi = fit.threshold_ci
        if lo is not None and hi is not None:
            ax.axvspan(lo, hi, color="crimson", alpha=0.12, lw=0,
                       label=f"{int(round(100 * fit.confidence))}% CI [{_pct(lo)}, {_pct(hi)}]")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(_pct))
    ax.xaxis.set_minor_formatter(FuncFormatter(_pct))
    ax.tick_params(axis="x", which="both", labelsize=8)
    ax.set_xlabel("physical error rate p")
    ax.set_ylabel("logical error rate per shot")
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    ax.set_title(title or "Logical error rate vs physical error rate", fontsize=11)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def lambda_figure(fit, *, title: str | None = None, baselines: dict | None = None):
    """Per-round logical error ε_d vs distance (log y) with intervals and the Λ fit; the
    legend names the convention ε_d was measured in."""
    import numpy as np

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.5), dpi=100)
    est = list(fit.estimates)
    d = np.array([e.distance for e in est], dtype=float)
    eps = np.array([e.epsilon if e.epsilon is not None else np.nan for e in est], dtype=float)
    ci = np.array([[np.nan if v is None else v for v in e.ci()] for e in est], dtype=float)
    ok = eps > 0
    ax.errorbar(d[ok], eps[ok], yerr=[eps[ok] - ci[ok, 0], ci[ok, 1] - eps[ok]], fmt="o",
                color="tab:blue", capsize=3, label=f"ε_d (95% CI, {fit.convention})")
    bound = ~ok & ~np.isnan(ci[:, 1])
    if bound.any():
        ax.plot(d[bound], ci[bound, 1], "v", color="tab:blue", label="no errors: upper bound")
    if fit.lam is not None:
        grid = np.linspace(d.min() - 0.5, d.max() + 0.5, 50)
        lo, hi = fit.lam_ci
        extra = f" [{lo:.2f}, {hi:.2f}]" if lo is not None and hi is not None else ""
        ax.plot(grid, fit.epsilon_fit(grid), "--", color="crimson", lw=1.2,
                label=f"fit: Λ = {fit.lam:.2f}{extra}")
    for k, (label, bf) in enumerate((baselines or {}).items()):
        bd = np.array([e.distance for e in bf.estimates], dtype=float)
        be = np.array([e.epsilon or 0.0 for e in bf.estimates], dtype=float)
        c = f"C{k + 2}"
        ax.plot(bd[be > 0], be[be > 0], "s", mfc="none", color=c, label=f"{label} ε_d ({bf.convention})")
        if bf.lam is not None:
            g = np.linspace(bd.min() - 0.5, bd.max() + 0.5, 50)
            ax.plot(g, bf.epsilon_fit(g), ":", color=c, lw=1.0, label=f"{label}: Λ = {bf.lam:.2f}")
    ax.set_yscale("log")
    ax.set_xticks(d)
    ax.set_xlabel("code distance d")
    ax.set_ylabel("logical error per round ε_d")
    ax.grid(True, which="both", alpha=0.25)
    ax.set_title(title or "Error suppression", fontsize=11)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def save(fig, path: str | Path) -> str:
    """Write a figure; the format follows the suffix (svg, png, pdf)."""
    plt = _pyplot()
    p = Path(path)
    fmt = p.suffix.lstrip(".").lower() or "svg"
    if fmt not in ("svg", "png", "pdf"):
        raise UsageError(f"--plot {path}: give a .svg, .png or .pdf file name")
    try:
        fig.savefig(p, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    except OSError as e:
        raise UsageError(f"cannot write --plot {path}: {e.strerror}") from None
    finally:
        plt.close(fig)
    return str(p)


def plot_threshold(fit, path: str | Path, **kwargs) -> str:
    return save(threshold_figure(fit, **kwargs), path)


def plot_lambda(fit, path: str | Path, **kwargs) -> str:
    return save(lambda_figure(fit, **kwargs), path)
