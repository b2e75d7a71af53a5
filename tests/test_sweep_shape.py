"""The wider simulator: any sweep length and range, readout with or without error,
probabilities or arbitrary units, Lorentzian or Gaussian lines, peaks or dips; the
documented sweep unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from verifier.calib.experiments import EXPERIMENTS, FIT_EXPERIMENTS
from verifier.calib.simulator import CalWorkload, simulate
from verifier.calib.sweep_shape import AU_OFFSET, AU_SCALE, SweepShape
from verifier.errors import UsageError


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_the_documented_shape_is_the_documented_sweep(name):
    a, b = simulate(name, 4, seed=5), simulate(name, 4, seed=5, shape=SweepShape())
    for field in ("x", "y") if name != "readout" else ("iq_test", "iq_train"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    wl = CalWorkload(name, 4, 5, 1000)
    assert "sweep" not in wl.spec() and wl.id == CalWorkload(name, 4, 5, 1000, SweepShape()).id
    assert CalWorkload(name, 4, 5, 1000, SweepShape(n_points=25)).id != wl.id


@pytest.mark.parametrize("name", FIT_EXPERIMENTS)
@pytest.mark.parametrize("n", [7, 26, 333])
def test_any_number_of_points_on_the_same_qubits(name, n):
    doc = simulate(name, 3, seed=1)
    d = simulate(name, 3, seed=1, shape=SweepShape(n_points=n))
    assert d.x.shape == d.y.shape == (3, n)
    assert np.array_equal(d.truth, doc.truth)  # the shape never changes the qubits
    assert np.all(np.diff(d.x, axis=1) > 0)
    # the same range as the documented sweep
    assert np.allclose(d.x[:, [0, -1]], doc.x[:, [0, -1]], rtol=1e-3, atol=np.ptp(doc.x, axis=1).max() * 0.01)


@pytest.mark.parametrize("name", [n for n in FIT_EXPERIMENTS if n != "resonator_spectroscopy"])
def test_span_stretches_the_range_and_readout_none_gives_exact_populations(name):
    doc = simulate(name, 3, seed=2)
    d = simulate(name, 3, seed=2, shape=SweepShape(span=2.0, readout_error=False))
    ext, ext2 = np.ptp(doc.x, axis=1), np.ptp(d.x, axis=1)
    assert np.allclose(ext2, 2 * ext, rtol=0.02)
    assert np.all(d.context["readout_p10"] == 0) and np.all(d.context["readout_p01"] == 0)
    assert d.y.min() >= 0 and d.y.max() <= 1
    assert doc.y.min() > 0  # with readout error a population never reads exactly 0


def test_without_readout_error_qibocals_zero_error_trap_fires():
    """An emulator's exact zeros: Qibocal's weighted Rabi fit fails on them, sov's
    reference does not (as on the recorded emulator folders)."""
    from baselines.qibocal_fits import QibocalFit
    from baselines.reference_estimators import ReferenceFit

    d = simulate("rabi_amplitude", 6, seed=0, shape=SweepShape(n_points=25, readout_error=False))
    assert np.any(d.y == 0)
    q = QibocalFit("rabi_amplitude").estimate_data(d)
    r = ReferenceFit("rabi_amplitude").estimate_data(d)
    assert len(q.failures) == 6 and not r.failures
    assert np.all(np.abs(r.estimates[:, 0] / d.truth[:, 0] - 1) < 0.02)


def test_arbitrary_units_are_a_scaled_offset_magnitude():
    p = simulate("t1", 2, seed=3)
    a = simulate("t1", 2, seed=3, shape=SweepShape(units="au"))
    assert np.allclose(a.y, AU_OFFSET + AU_SCALE * p.y)


@pytest.mark.parametrize("name", ["qubit_spectroscopy", "resonator_spectroscopy"])
@pytest.mark.parametrize("sweep", ["line=gaussian", "polarity=dip", "polarity=peak", "line=gaussian,polarity=peak"])
def test_spectroscopy_lines_peaks_and_dips_and_the_reference_finds_them(name, sweep):
    from baselines.reference_estimators import ReferenceFit

    shape = SweepShape.parse(sweep)
    d = simulate(name, 8, seed=4, shape=shape)
    centre = np.argmin(np.abs(d.x - d.truth), axis=1)
    on = d.y[np.arange(8), centre]
    off = np.median(d.y, axis=1)
    dip = shape.polarity == "dip" or (shape.polarity is None and name == "resonator_spectroscopy")
    assert np.all(on < off) if dip else np.all(on > off)
    est = ReferenceFit(name).estimate_data(d).estimates[:, 0]
    half_width = d.context["linewidth_hz"]
    assert np.median(np.abs(est - d.truth[:, 0]) / half_width) < 0.1


def test_shapes_parse_and_refuse():
    s = SweepShape.parse("points=25,span=2,readout=none,units=au,line=gaussian,polarity=peak")
    assert s == SweepShape(25, 2.0, False, "au", "gaussian", "peak")
    assert SweepShape.parse(s.text()) == s and SweepShape.parse(None).is_default
    for bad, words in (("points=3", "5 .."), ("span=0", "span"), ("units=volts", "units"),
                       ("readout=maybe", "readout"), ("colour=red", "unknown key"), ("points", "key=value"),
                       ("points=ten", "not a number")):
        with pytest.raises(UsageError, match=words):
            SweepShape.parse(bad)
    with pytest.raises(UsageError, match="spectroscopies only"):
        simulate("t1", 2, shape=SweepShape(line="gaussian"))


def test_cli_sweep_runs_and_bad_sweep_is_exit_2(cli, tmp_path):
    db = str(tmp_path / "s.duckdb")
    r = cli("calib", "run", "--model", "sov-reference", "-e", "t1", "--repeats", "4",
            "--sweep", "points=31,readout=none", "--db", db, "--json", str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stderr
    import json

    out = json.loads((tmp_path / "r.json").read_text())
    assert out["workload"]["sweep"] == {"n_points": 31, "readout_error": False}
    bad = cli("calib", "run", "--model", "sov-reference", "-e", "t1", "--sweep", "points=2", "--db", db)
    assert bad.returncode == 2 and "5 .. 2001 points" in bad.stderr and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
