"""sov history: list, show, Parquet export with DuckDB's COPY."""

from __future__ import annotations

import json

from adapters.reference_models import identity_predecoder_flat, save
from tests.fixtures.cli import sov_main


def test_history_list_show_and_parquet_export(tmp_path, capsys):
    m = save(identity_predecoder_flat(1), tmp_path / "id.onnx")
    db = str(tmp_path / "s.duckdb")
    assert sov_main("accept", "--candidate", m, "--baseline", "pymatching", "-d", "3", "--p", "0.01",
                    "--shots", "300", "--seed", "2", "--workers", "1", "-q", "--db", db) == 3
    assert sov_main("history", "list", "--db", db, "--json", str(tmp_path / "h.json")) == 0
    runs = json.loads((tmp_path / "h.json").read_text())
    assert len(runs) == 1
    r = runs[0]
    assert r["command"] == "accept" and r["status"] == "inconclusive" and r["exit_code"] == 3
    assert r["verdict"] == "inconclusive" and len(r["evidence_hash"]) == 64
    capsys.readouterr()
    assert sov_main("history", "show", r["run_id"][:18], "--db", db, "--json", "-") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["run"]["run_id"] == r["run_id"] and "accept" in shown["run"]["command"]
    assert {x["decoder"] for x in shown["results"]} == {"id.onnx", "pymatching"}
    assert shown["verdicts"][0]["gates"][0]["name"] == "ler_noninferiority"
    assert shown["evidence"][0]["sequence"] == 1
    assert sov_main("history", "show", "nope", "--db", db) == 2

    out = tmp_path / "pq"
    assert sov_main("history", "export", "--parquet", str(out), "--db", db, "--json",
                    str(tmp_path / "x.json")) == 0
    files = {f["table"]: f for f in json.loads((tmp_path / "x.json").read_text())}
    for t in ("runs", "results", "verdicts", "evidence_chain", "blocks", "watched_models"):
        assert (out / f"{t}.parquet").is_file(), t
    import duckdb

    con = duckdb.connect()
    assert con.execute(f"SELECT count(*) FROM read_parquet('{out / 'runs.parquet'}')").fetchone()[0] == 1
    assert con.execute(f"SELECT verdict FROM read_parquet('{out / 'verdicts.parquet'}')").fetchone()[0] == "inconclusive"
    assert con.execute(f"SELECT count(*) FROM read_parquet('{out / 'blocks.parquet'}')").fetchone()[0] == files["blocks"]["rows"] == 2
