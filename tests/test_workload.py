from __future__ import annotations

import numpy as np
import pytest
import stim

from verifier.errors import UsageError
from verifier.qec.recorded import RecordedWorkload
from verifier.qec.workload import BLOCK_SHOTS, CircuitWorkload, MemoryWorkload


def _all(w):
    d, o = zip(*(w.sample_block(b) for b in w.blocks()))
    return np.concatenate(d), np.concatenate(o)


def test_ids_are_content_hashes():
    a = MemoryWorkload(3, 3, "z", "uniform", 0.003, 1000, 1)
    b = MemoryWorkload(3, 3, "z", "uniform", 0.003, 1000, 1)
    c = MemoryWorkload(3, 3, "z", "uniform", 0.003, 1000, 2)
    assert a.id == b.id and a.id != c.id
    longer = MemoryWorkload(3, 3, "z", "uniform", 0.003, 5000, 1)
    assert longer.id != a.id and longer.stream_id == a.stream_id


def test_shots_of_a_seed_do_not_depend_on_block_order():
    w = MemoryWorkload(3, 3, "x", "uniform", 0.01, 2 * BLOCK_SHOTS + 17, 7)
    blocks = w.blocks()
    assert [b.shots for b in blocks] == [BLOCK_SHOTS, BLOCK_SHOTS, 17]
    fwd = [w.sample_block(b)[0] for b in blocks]
    rev = [w.sample_block(b)[0] for b in reversed(blocks)][::-1]
    for x, y in zip(fwd, rev):
        assert np.array_equal(x, y)
    # a longer workload starts with the same shots
    w2 = MemoryWorkload(3, 3, "x", "uniform", 0.01, 3 * BLOCK_SHOTS, 7)
    assert np.array_equal(w2.sample_block(w2.blocks()[0])[0], fwd[0])


def test_si1000_adds_the_documented_channels():
    w = MemoryWorkload(3, 3, "z", "si1000", 0.001, 10, 0)
    text = str(w.circuit())
    assert "DEPOLARIZE2(0.001)" in text
    assert "X_ERROR(0.005)" in text  # 5p before measurement
    assert "X_ERROR(0.002)" in text  # 2p after reset
    assert "DEPOLARIZE1(0.0001)" in text  # p/10 idle / single-qubit gates
    assert "DEPOLARIZE1(0.002)" in text  # resonator idle
    clean = stim.Circuit.generated("surface_code:rotated_memory_z", distance=3, rounds=3)
    assert w.circuit().num_detectors == clean.num_detectors
    assert w.circuit().detector_error_model(decompose_errors=True).num_errors > 0


@pytest.mark.parametrize("bad", [dict(distance=1), dict(basis="y"), dict(noise="pink"), dict(p=0.9), dict(shots=0)])
def test_bad_workload_flags_are_usage_errors(bad):
    kw = dict(distance=3, rounds=3, basis="z", noise="uniform", p=0.001, shots=10, seed=0) | bad
    with pytest.raises(UsageError):
        MemoryWorkload(**kw)


@pytest.mark.parametrize("fmt", ["b8", "01", "dets"])
def test_recorded_data_reads_back_what_stim_wrote(tmp_path, fmt):
    w = MemoryWorkload(3, 3, "z", "uniform", 0.02, 300, 3)
    circuit = w.circuit()
    (tmp_path / "c.stim").write_text(str(circuit))
    dets, obs = _all(w)
    D, O = circuit.num_detectors, circuit.num_observables
    stim.write_shot_data_file(data=np.unpackbits(dets, axis=1, count=D, bitorder="little").astype(bool),
                              path=str(tmp_path / f"d.{fmt}"), format=fmt, num_detectors=D, num_observables=0)
    stim.write_shot_data_file(data=np.unpackbits(obs, axis=1, count=O, bitorder="little").astype(bool),
                              path=str(tmp_path / f"o.{fmt}"), format=fmt, num_detectors=0, num_observables=O)
    r = RecordedWorkload.from_files(tmp_path / "c.stim", tmp_path / f"d.{fmt}", tmp_path / f"o.{fmt}")
    assert r.shots == 300
    d2, o2 = _all(r)
    assert np.array_equal(d2, dets) and np.array_equal(o2, obs)


def test_recorded_data_of_wrong_width_is_refused(tmp_path):
    w = MemoryWorkload(3, 3, "z", "uniform", 0.02, 10, 3)
    (tmp_path / "c.stim").write_text(str(w.circuit()))
    (tmp_path / "d.b8").write_bytes(b"\x00" * 7)
    (tmp_path / "o.b8").write_bytes(b"\x00" * 10)
    with pytest.raises(UsageError, match="not a whole number"):
        RecordedWorkload.from_files(tmp_path / "c.stim", tmp_path / "d.b8", tmp_path / "o.b8")


def test_circuit_file_workload(tmp_path):
    w = MemoryWorkload(3, 3, "z", "uniform", 0.02, 10, 3)
    (tmp_path / "c.stim").write_text(str(w.circuit()))
    c = CircuitWorkload.from_file(tmp_path / "c.stim", shots=100, seed=1)
    assert c.num_detectors == w.num_detectors
    (tmp_path / "bad.stim").write_text("H 0\nNOT_A_GATE 1\n")
    with pytest.raises(UsageError, match="not a valid stim circuit"):
        CircuitWorkload.from_file(tmp_path / "bad.stim", shots=10, seed=1)


def test_blocks_come_from_stims_b8_writer_in_pymatchings_layout():
    """verifier.qec.sampling reads stim's b8 writer back as uint8[shots, ceil(n / 8)], bit k
    of byte k // 8 little-endian: the layout of stim's own numpy sampler and PyMatching."""
    import stim

    from verifier.qec.sampling import SAMPLER, sample_b8

    c = stim.Circuit("X_ERROR(1) 1 4 9\nM " + " ".join(map(str, range(11))) + "\n"
                     + "".join(f"DETECTOR rec[-{11 - k}]\n" for k in range(11))
                     + "OBSERVABLE_INCLUDE(0) rec[-11]\nOBSERVABLE_INCLUDE(1) rec[-10]\n")
    dets, obs = sample_b8(c, 5, seed=3)
    want_d, want_o = c.compile_detector_sampler(seed=3).sample(5, separate_observables=True, bit_packed=True)
    assert dets.dtype == np.uint8 and dets.shape == (5, 2) and obs.shape == (5, 1)
    assert np.array_equal(dets, want_d) and np.array_equal(obs, want_o)
    assert dets[0].tolist() == [0b00010010, 0b00000010] and obs[0].tolist() == [0b10]
    # one seed, one stream: the same shots every time, named by the sampler
    w = MemoryWorkload(3, 3, "z", "uniform", 0.01, 20000, 1)
    b = w.blocks()[1]
    a1, a2 = w.sample_block(b), w.sample_block(b)
    assert np.array_equal(a1[0], a2[0]) and np.array_equal(a1[1], a2[1])
    assert w.stream_spec()["sampler"] == SAMPLER
    assert a1[0].shape == (8192, (w.num_detectors + 7) // 8)


def test_stream_ids_name_the_circuit_and_the_stim_version(tmp_path, monkeypatch):
    text = str(MemoryWorkload(3, 3, "z", "uniform", 0.02, 10, 3).circuit())
    (tmp_path / "a.stim").write_text(text)
    (tmp_path / "b.stim").write_text(text.replace("DEPOLARIZE1(0.02)", "DEPOLARIZE1(0.03)", 1))
    a = CircuitWorkload.from_file(tmp_path / "a.stim", shots=100, seed=1)
    b = CircuitWorkload.from_file(tmp_path / "b.stim", shots=100, seed=1)
    assert a.stream_spec()["circuit"] != b.stream_spec()["circuit"] and a.stream_id != b.stream_id
    m = MemoryWorkload(3, 3, "z", "uniform", 0.02, 10, 3)
    assert m.stream_spec()["circuit"] == a.stream_spec()["circuit"]  # stim's text of one circuit
    before = m.stream_id
    import verifier.qec.workload as wl

    monkeypatch.setattr(wl, "package_version", lambda name: "0.0.1" if name == "stim" else None)
    again = MemoryWorkload(3, 3, "z", "uniform", 0.02, 10, 3)
    assert again.stream_spec()["stim"] == "0.0.1"
    assert again.stream_id != before and again.legacy_stream_id == m.legacy_stream_id
