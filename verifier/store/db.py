"""The DuckDB store: one file, versioned schema, append-only records.

Every run, model, decoder, workload, per-block result (with its per-shot predictions,
bit-packed) and verdict is a row; nothing is overwritten. Results are looked up by
task = (decoder fingerprint, workload stream id, block), so re-running a finished task
costs nothing and an interrupted run resumes from the blocks it recorded.

Concurrency: DuckDB lets one process hold a file open for writing. sov therefore opens
the file only for short transactions and retries with bounded back-off while another
process holds it, so several ``sov`` processes can record into one file.

Every INSERT names its columns (``verifier.store.rows``), so a migration that adds a
column cannot shift a value into another.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

from verifier.errors import StoreError
from verifier.store.legacy import adopt_legacy_streams
from verifier.store.rows import insert, insert_many
from verifier.store.schema import MIGRATIONS, migration_variables

DEFAULT_DB = "sov.duckdb"
LOCK_TIMEOUT_S = 120.0
WAIT_NOTICE_S = 2.0  # say that the store is locked once a wait lasts this long
TEST_HOOK_ENV = "SOV_TEST_HOOK_DIR"


def default_db_path() -> str:
    return os.environ.get("SOV_DB") or DEFAULT_DB


def now() -> datetime:
    return datetime.now(timezone.utc)


def new_run_id() -> str:
    return now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def _holder(e: Exception) -> str:
    """Who holds the lock, as DuckDB reports it ("... held in /usr/bin/python3 (PID 123) ...")."""
    import re

    m = re.search(r"held in (\S+) \(PID (\d+)\)", str(e))
    return f"locked by {m.group(1)} (PID {m.group(2)})" if m else "locked by another process"


def _is_lock_error(e: Exception) -> bool:
    text = str(e).lower()
    return "lock" in text and ("conflicting" in text or "could not set lock" in text or "in use" in text)


@dataclass
class RecordedBlock:
    block: int
    shots: int
    errors: int
    seconds: float
    sample_seconds: float


# one thread: the store's statements are small, and sov's workers have the cores; and never
# load or install a DuckDB extension (no network, no code from outside the installed wheel)
CONNECT_CONFIG = {"threads": 1, "autoload_known_extensions": False, "autoinstall_known_extensions": False}


def _magic(p: Path, offset: int = 8, n: int = 4) -> bytes:
    """DuckDB files carry ``DUCK`` at byte 8 (after the header's checksum)."""
    try:
        with open(p, "rb") as f:
            f.seek(offset)
            return f.read(n)
    except OSError:
        return b"DUCK"  # unreadable: let DuckDB say why


class Store:
    """A DuckDB file opened for short transactions only.

    Blocks recorded by sov up to schema 4 are keyed by legacy stream ids; recording a
    workload (:meth:`open_task`, :meth:`record_workloads`) re-keys its legacy stream's
    blocks when they can be reused (``verifier.store.legacy``), so a caller records the
    workloads before it asks for their blocks (:meth:`recorded_blocks_many`).

    Test hook: with ``SOV_TEST_HOOK_DIR=FOLDER`` in the environment (read once, here),
    every committed write of blocks appends a line (the number of blocks) to
    ``FOLDER/blocks-written`` once the file is closed again, then waits while
    ``FOLDER/hold`` exists; so a test can kill a run at a known point instead of guessing
    a time. Unset, it costs one attribute test per write."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, lock_timeout: float = LOCK_TIMEOUT_S):
        self.path = str(path if path is not None else default_db_path())
        self.lock_timeout = lock_timeout
        self._migrated = False
        self._hook_dir = os.environ.get(TEST_HOOK_ENV) or None

    # -- connections ----------------------------------------------------------------

    def _open(self, *, read_only: bool):
        import duckdb

        p = Path(self.path)
        if p.exists() and p.is_dir():
            raise StoreError(f"store path {self.path} is a directory, not a DuckDB file")
        if p.is_file() and p.stat().st_size >= 12 and _magic(p) != b"DUCK":
            raise StoreError(f"store {self.path} is not a DuckDB file"
                             + (" (it is an SQLite database)" if _magic(p, 0, 6) == b"SQLite" else ""))
        if read_only and not p.exists():
            raise StoreError(f"no store at {self.path} (run a command that records first, or give --db)")
        if not read_only and not p.exists() and not os.access(p.parent.resolve(), os.W_OK):
            raise StoreError(f"cannot create store {self.path}: its folder is not writable")
        started = time.monotonic()
        deadline = started + self.lock_timeout
        delay = 0.02
        told = False
        while True:
            try:
                return duckdb.connect(self.path, read_only=read_only, config=CONNECT_CONFIG)
            except duckdb.Error as e:
                if _is_lock_error(e) and time.monotonic() < deadline:
                    if not told and time.monotonic() - started > WAIT_NOTICE_S:
                        told = True  # a person watching a silent command deserves to know why
                        sys.stderr.write(f"sov: waiting for the store {self.path}: {_holder(e)}; "
                                         f"giving up after {self.lock_timeout:.0f} s\n")
                    time.sleep(delay * (0.5 + random.random()))
                    delay = min(delay * 2, 1.0)
                    continue
                if _is_lock_error(e):
                    if not told:
                        sys.stderr.write(f"sov: waiting for the store {self.path}: {_holder(e)}\n")
                    raise StoreError(f"store {self.path} stayed {_holder(e)} for "
                                     f"{self.lock_timeout:.0f} s") from None
                msg = str(e).strip().splitlines()[0]
                if "read-only" in msg.lower() or "permission" in msg.lower():
                    raise StoreError(f"store {self.path} is not writable: {msg}") from None
                raise StoreError(f"cannot open store {self.path}: {msg}") from None

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[Any]:
        """A connection inside one transaction; committed on success, rolled back on error."""
        import duckdb

        con = self._open(read_only=read_only)
        try:
            if read_only:
                yield con
                return
            if not self._migrated:  # on this connection: every open costs ~30 ms
                self._migrate(con)
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                try:
                    con.execute("ROLLBACK")
                except duckdb.Error:
                    pass
                raise
        except duckdb.Error as e:
            msg = str(e).strip().splitlines()[0]
            low = msg.lower()
            if "no space" in low or "disk" in low or "file too large" in low or "quota" in low:
                raise StoreError(f"store {self.path}: disk full (or file size limit reached), nothing "
                                 f"of this transaction was written ({msg})") from None
            if "read-only" in msg.lower() or "permission" in msg.lower():
                raise StoreError(f"store {self.path} is not writable: {msg}") from None
            raise StoreError(f"store {self.path}: {msg}") from None
        finally:
            con.close()

    def migrate(self) -> int:
        """Bring the file to the current schema version; returns that version."""
        if self._migrated:
            return len(MIGRATIONS)
        con = self._open(read_only=False)
        try:
            self._migrate(con)
        finally:
            con.close()
        return len(MIGRATIONS)

    def _migrate(self, con) -> None:
        import duckdb

        try:
            con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, "
                        "name VARCHAR, applied_at TIMESTAMPTZ NOT NULL)")
            current = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
            if current > len(MIGRATIONS):
                raise StoreError(f"store {self.path} has schema version {current}, newer than this "
                                 f"sov knows ({len(MIGRATIONS)}): upgrade sov")
            if current < len(MIGRATIONS):
                for var, value in migration_variables().items():
                    con.execute(f"SET VARIABLE {var} = ?", [value])
            for version in range(current + 1, len(MIGRATIONS) + 1):
                name, sql = MIGRATIONS[version - 1]
                con.execute("BEGIN TRANSACTION")
                try:
                    con.execute(sql)
                    insert(con, "schema_version", {"version": version, "name": name, "applied_at": now()})
                    con.execute("COMMIT")
                except duckdb.Error:
                    con.execute("ROLLBACK")
                    raise
        except duckdb.Error as e:
            raise StoreError(f"cannot migrate store {self.path}: {str(e).splitlines()[0]}") from None
        self._migrated = True

    def schema_version(self) -> int:
        with self.connect(read_only=True) as con:
            return con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]

    # -- runs -----------------------------------------------------------------------

    def start_run(self, command: str, argv: Sequence[str] | None = None) -> str:
        """Record a new run as 'running' (with this process's pid, so a later command can
        tell a killed run from a live one) and, in the same transaction, mark runs whose
        process is gone as 'incomplete'."""
        from verifier import __version__

        run_id = new_run_id()
        with self.connect() as con:
            _mark_stale(con)
            insert(con, "runs", {"run_id": run_id, "command": command,
                                 "argv": json.dumps(list(argv or [])), "sov_version": __version__,
                                 "started_at": now(), "status": "running",
                                 "summary": json.dumps({"pid": os.getpid()})})
        return run_id

    def finish_run(self, run_id: str, status: str, *, exit_code: int, message: str | None = None,
                   summary: dict | None = None) -> None:
        with self.connect() as con:
            con.execute("UPDATE runs SET finished_at = ?, status = ?, exit_code = ?, message = ?, "
                        "summary = ? WHERE run_id = ?",
                        [now(), status, exit_code, message,
                         json.dumps(summary, default=str) if summary is not None else None, run_id])

    def set_run_exit(self, run_id: str, status: str, *, exit_code: int, message: str | None) -> None:
        """Correct how an ended run ended (its summary kept): the command failed or was
        stopped after the run was recorded, so the process exits with another code."""
        with self.connect() as con:
            con.execute("UPDATE runs SET status = ?, exit_code = ?, message = coalesce(?, message) "
                        "WHERE run_id = ?", [status, exit_code, message, run_id])

    # -- models, decoders, workloads ------------------------------------------------

    def record_model(self, *, sha256: str, path: str, contract: str | None, metadata: dict,
                     size_bytes: int, opset: int | None, operators: list[str]) -> None:
        with self.connect() as con:
            insert(con, "models", {"sha256": sha256, "path": str(path), "file_name": Path(path).name,
                                   "contract": contract, "metadata": json.dumps(metadata),
                                   "size_bytes": size_bytes, "opset": opset,
                                   "operators": json.dumps(operators), "first_seen": now()},
                   on_conflict="DO NOTHING")

    def record_decoder(self, fingerprint: str, name: str, model_sha256: str | None, spec: dict) -> None:
        with self.connect() as con:
            _insert_decoder(con, fingerprint, name, model_sha256, spec, now())

    def record_workload(self, workload) -> None:
        self.record_workloads([workload])

    def record_workloads(self, workloads) -> None:
        """Several workloads in one transaction (a sweep's grid)."""
        workloads = list(workloads)
        if workloads:
            with self.connect() as con:
                _insert_workloads(con, workloads, now())

    def open_task(self, fingerprint: str, name: str, model_sha256: str | None, spec: dict,
                  workload) -> dict[tuple[int, int], RecordedBlock]:
        """Record the decoder and the workload of a task and return the blocks already
        recorded for it, all in one transaction."""
        t = now()
        with self.connect() as con:
            _insert_decoder(con, fingerprint, name, model_sha256, spec, t)
            _insert_workloads(con, [workload], t)
            return _select_blocks(con, fingerprint, [workload.stream_id])[workload.stream_id]

    # -- blocks (per-shot predictions) and results ----------------------------------

    def recorded_blocks_many(self, fingerprint: str, stream_ids) -> dict[str, dict[tuple[int, int], RecordedBlock]]:
        """The blocks recorded for this decoder on each of several streams, in one transaction."""
        stream_ids = list(stream_ids)
        if not stream_ids or not Path(self.path).exists():
            return {sid: {} for sid in stream_ids}
        with self.connect() as con:
            return _select_blocks(con, fingerprint, stream_ids)

    def record_blocks_many(self, fingerprint: str, run_id: str | None, items, *,
                           results: Sequence[dict] = ()) -> None:
        """Append ``(stream_id, BlockOutcome)`` pairs of several streams in one transaction,
        with ``results`` rows of run ``run_id`` if any: dicts of fingerprint, workload_id,
        shots, errors, seconds, ler, ler_ci (lo, hi), ler_per_round, shots_per_second and
        figures (``TaskResult.result_row``)."""
        t = now()
        rows = [[fingerprint, sid, o.block.index, o.block.shots, o.stats.errors, o.stats.seconds,
                 o.stats.sample_seconds, o.predictions, o.failures, run_id, t, o.prediction_bits]
                for sid, o in items]
        if rows or results:
            with self.connect() as con:
                if rows:
                    _insert_blocks(con, rows)
                _insert_results(con, run_id, results, t)
            if self._hook_dir is not None and rows:
                _blocks_written_hook(self._hook_dir, len(rows))

    def record_blocks(self, fingerprint: str, stream_id: str, run_id: str | None, outcomes, *,
                      results: Sequence[dict] = ()) -> None:
        """Append per-block outcomes (``verifier.engine.replay.BlockOutcome``) in one transaction."""
        self.record_blocks_many(fingerprint, run_id, [(stream_id, o) for o in outcomes],
                                results=results)

    def block_failures(self, fingerprint: str, stream_id: str) -> dict[tuple[int, int], bytes]:
        """``(block, shots) -> failures`` (``np.packbits(fail, bitorder="little")``)."""
        return {key: bytes(f) for key, f in self._block_columns(fingerprint, stream_id, "failures")}

    def block_predictions(self, fingerprint: str, stream_id: str) -> dict[tuple[int, int], tuple[bytes, int]]:
        """``(block, shots) -> (predictions, prediction_bits)``: unpack with
        ``verifier.engine.replay.unpack_predictions``."""
        return {key: (bytes(p), bits) for key, p, bits
                in self._block_columns(fingerprint, stream_id, "predictions, prediction_bits")}

    def _block_columns(self, fingerprint: str, stream_id: str, columns: str) -> list[tuple]:
        """``((block, shots), *columns)`` of each block of this decoder on this stream."""
        with self.connect(read_only=not self._writable()) as con:
            rows = con.execute(f"SELECT block, shots, {columns} FROM blocks WHERE fingerprint = ? "
                               "AND stream_id = ?", [fingerprint, stream_id]).fetchall()
        return [((r[0], r[1]), *r[2:]) for r in rows]

    def _writable(self) -> bool:
        return os.access(self.path, os.W_OK)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Read-only SQL, for tests and ad-hoc inspection (library code asks a method)."""
        with self.connect(read_only=True) as con:
            return con.execute(sql, list(params)).fetchall()


def _insert_workloads(con, workloads: list, t) -> None:
    insert_many(con, "workloads", [
        {"workload_id": w.id, "stream_id": w.stream_id, "kind": w.kind,
         "spec": json.dumps(w.spec(), sort_keys=True), "description": w.describe(), "first_seen": t}
        for w in workloads], on_conflict="DO NOTHING")
    adopt_legacy_streams(con, workloads)


def _insert_decoder(con, fingerprint: str, name: str, model_sha256: str | None, spec: dict, t) -> None:
    insert(con, "decoders", {"fingerprint": fingerprint, "name": name, "model_sha256": model_sha256,
                             "spec": json.dumps(spec, sort_keys=True), "first_seen": t},
           on_conflict="DO NOTHING")


def _select_blocks(con, fingerprint: str, stream_ids: list[str]) -> dict[str, dict[tuple[int, int], RecordedBlock]]:
    out: dict[str, dict[tuple[int, int], RecordedBlock]] = {sid: {} for sid in stream_ids}
    rows = con.execute("SELECT stream_id, block, shots, errors, seconds, sample_seconds FROM blocks "
                       "WHERE fingerprint = ? AND list_contains(?, stream_id)",
                       [fingerprint, stream_ids]).fetchall()
    for r in rows:
        out[r[0]][(r[1], r[2])] = RecordedBlock(*r[1:])
    return out


def _mark_stale(con) -> int:
    rows = con.execute("SELECT run_id, summary FROM runs WHERE status = 'running'").fetchall()
    stale = []
    for run_id, summary in rows:
        try:
            pid = (json.loads(summary) or {}).get("pid") if summary else None
        except (ValueError, AttributeError):
            pid = None
        if pid is None or not _pid_alive(int(pid)):
            stale.append(run_id)
    for run_id in stale:
        con.execute("UPDATE runs SET status = 'incomplete' WHERE run_id = ?", [run_id])
    return len(stale)


_BLOCK_COLUMNS = ("fingerprint", "stream_id", "block", "shots", "errors", "seconds", "sample_seconds",
                  "predictions", "failures", "run_id", "recorded_at", "prediction_bits")
_BLOCK_INSERT = (f"INSERT INTO blocks ({', '.join(_BLOCK_COLUMNS)}) SELECT * FROM (SELECT "
                 + ", ".join(f"unnest(${i})" for i in range(1, len(_BLOCK_COLUMNS) + 1))
                 + ") ON CONFLICT DO NOTHING")


def _insert_blocks(con, rows: list[list]) -> None:
    """Insert rows of ``blocks`` (values in :data:`_BLOCK_COLUMNS` order) in one statement:
    one list per column, unnested by DuckDB (several times cheaper than ``executemany``'s
    statement per row)."""
    con.execute(_BLOCK_INSERT, [list(col) for col in zip(*rows)])


def _insert_results(con, run_id: str | None, rows: Sequence[dict], t) -> None:
    insert_many(con, "results", [
        {"run_id": run_id, "fingerprint": r["fingerprint"], "workload_id": r["workload_id"],
         "shots": r["shots"], "errors": r["errors"], "seconds": r["seconds"], "ler": r["ler"],
         "ler_lo": r["ler_ci"][0], "ler_hi": r["ler_ci"][1], "ler_per_round": r["ler_per_round"],
         "shots_per_second": r["shots_per_second"], "figures": json.dumps(r["figures"], default=str),
         "recorded_at": t} for r in rows])


def _blocks_written_hook(folder: str, blocks: int) -> None:
    """The test hook of :class:`Store` (``SOV_TEST_HOOK_DIR``)."""
    with open(os.path.join(folder, "blocks-written"), "a") as f:
        f.write(f"{blocks}\n")
    while os.path.exists(os.path.join(folder, "hold")):
        time.sleep(0.01)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
