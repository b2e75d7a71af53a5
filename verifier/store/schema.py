"""The store's schema: append-only migrations, one per version.

Entry ``i`` upgrades a file from version ``i`` to ``i + 1``; ``Store`` applies the missing
ones when it first writes, with :func:`migration_variables` set. Never edit a released
entry: append a new one.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[str, str]] = [
    ("runs, models, decoders, workloads, blocks, results", """
    CREATE TABLE runs (
        run_id VARCHAR PRIMARY KEY,
        command VARCHAR NOT NULL,
        argv JSON,
        sov_version VARCHAR,
        started_at TIMESTAMPTZ NOT NULL,
        finished_at TIMESTAMPTZ,
        status VARCHAR NOT NULL,          -- running | ok | failed | integrity | error | incomplete
        exit_code INTEGER,
        message VARCHAR,
        summary JSON
    );
    CREATE TABLE models (
        sha256 VARCHAR PRIMARY KEY,
        path VARCHAR,
        file_name VARCHAR,
        contract VARCHAR,
        metadata JSON,
        size_bytes BIGINT,
        opset INTEGER,
        operators JSON,
        first_seen TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE decoders (
        fingerprint VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        model_sha256 VARCHAR,
        spec JSON NOT NULL,
        first_seen TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE workloads (
        workload_id VARCHAR PRIMARY KEY,
        stream_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        spec JSON NOT NULL,
        description VARCHAR,
        first_seen TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE blocks (
        fingerprint VARCHAR NOT NULL,
        stream_id VARCHAR NOT NULL,
        block INTEGER NOT NULL,
        shots INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        seconds DOUBLE NOT NULL,
        sample_seconds DOUBLE NOT NULL,
        predictions BLOB NOT NULL,       -- see prediction_bits (migration 4)
        failures BLOB NOT NULL,          -- numpy packbits(little) of per-shot 'prediction != truth'
        run_id VARCHAR,
        recorded_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (fingerprint, stream_id, block, shots)
    );
    CREATE TABLE results (
        run_id VARCHAR NOT NULL,
        fingerprint VARCHAR NOT NULL,
        workload_id VARCHAR NOT NULL,
        shots BIGINT NOT NULL,
        errors BIGINT NOT NULL,
        seconds DOUBLE NOT NULL,
        ler DOUBLE,
        ler_lo DOUBLE,
        ler_hi DOUBLE,
        ler_per_round DOUBLE,
        shots_per_second DOUBLE,
        figures JSON,
        recorded_at TIMESTAMPTZ NOT NULL
    );
    """),
    ("verdicts, evidence chain, watched models, drift checks (issue 5)", """
    CREATE TABLE verdicts (
        verdict_id VARCHAR PRIMARY KEY,
        run_id VARCHAR,
        kind VARCHAR NOT NULL,            -- accept | drift
        subject VARCHAR,                  -- candidate name, or watched model name
        verdict VARCHAR NOT NULL,         -- pass | fail | inconclusive (drift: ok | drift)
        exit_code INTEGER NOT NULL,
        gates JSON,
        figures JSON,
        record_hash VARCHAR,
        recorded_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE evidence_chain (
        seq BIGINT PRIMARY KEY,
        record_hash VARCHAR NOT NULL UNIQUE,
        previous_hash VARCHAR,
        run_id VARCHAR,
        verdict_id VARCHAR,
        record JSON NOT NULL,             -- the whole self-contained record, signatures included
        recorded_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE watched_models (
        name VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        contract VARCHAR,
        spec JSON NOT NULL,               -- reference workloads, gates, decoder options
        added_at TIMESTAMPTZ NOT NULL,
        removed_at TIMESTAMPTZ
    );
    CREATE TABLE drift_checks (
        name VARCHAR NOT NULL,
        run_id VARCHAR,
        series VARCHAR NOT NULL,          -- one reference workload of the watched model
        sha256 VARCHAR,                   -- the file's hash at this check
        in_control BOOLEAN NOT NULL,      -- used for later control limits
        seed BIGINT,
        shots BIGINT,
        errors BIGINT,
        seconds DOUBLE,
        status VARCHAR NOT NULL,          -- ok | drift | baseline | error
        figures JSON,
        checked_at TIMESTAMPTZ NOT NULL
    );
    """),
    ("calibration results and drift signatures (issue 7)", """
    CREATE TABLE cal_results (
        run_id VARCHAR,
        model VARCHAR NOT NULL,
        fingerprint VARCHAR NOT NULL,
        model_sha256 VARCHAR,
        experiment VARCHAR NOT NULL,
        workload_id VARCHAR NOT NULL,     -- sha256 of the simulated workload, or of the replayed folder
        workload JSON,
        source VARCHAR NOT NULL,          -- simulated | replay
        repeats INTEGER NOT NULL,
        failures INTEGER NOT NULL,
        seconds DOUBLE,
        figures JSON,                     -- the whole result as in --json
        estimates BLOB,                   -- float64 little-endian: [repeats, k] estimates, or [repeats] fidelities
        recorded_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE cal_signatures (
        model VARCHAR NOT NULL,
        fingerprint VARCHAR NOT NULL,
        model_sha256 VARCHAR,
        experiment VARCHAR NOT NULL,
        reference_id VARCHAR NOT NULL,    -- the fixed reference data set
        digest VARCHAR NOT NULL,
        signature JSON NOT NULL,
        run_id VARCHAR,
        recorded_at TIMESTAMPTZ NOT NULL
    );
    """),
    # Predictions were stored in PyMatching's layout, uint8[shots, ceil(O/8)]: 8 KB a block
    # for one observable, mostly zero bytes, which every DuckDB checkpoint recompressed.
    # Now: the [shots, O] bits in C order, np.packbits(bitorder="little") (replay's
    # pack_predictions), O in prediction_bits. Older rows are that layout already with
    # O = 8 * ceil(O/8) (their padding bits are zero), so only the column is new.
    ("blocks.prediction_bits: predictions packed to one bit per shot and observable", """
    ALTER TABLE blocks ADD COLUMN prediction_bits INTEGER;
    UPDATE blocks SET prediction_bits = CAST(8 * octet_length(predictions) // shots AS INTEGER);
    """),
    # Stream ids up to schema 4 named neither the circuit nor stim (QecWorkload.legacy_stream_id),
    # so blocks drawn under two stims could share one. The blocks stay as they are; this
    # notes, per legacy stream, the stim they were drawn under, so that recording the
    # stream's workload re-keys them to its new stream id if that stim is the one installed
    # (verifier.store.legacy). The stim: the one installed at this migration (the previous
    # sov ran with it), unless a decoder of the stream's blocks names another in its
    # fingerprint (PyMatching's does): then NULL, unknown, and they are never reused.
    ("legacy_streams: stream ids without circuit hash and stim version, and their stim", """
    CREATE TABLE legacy_streams (
        stream_id VARCHAR PRIMARY KEY,
        stim VARCHAR,                     -- NULL: drawn under another or an unknown stim
        blocks BIGINT NOT NULL,
        noted_at TIMESTAMPTZ NOT NULL,
        adopted_as VARCHAR                -- the stream id its blocks were re-keyed to
    );
    INSERT INTO legacy_streams (stream_id, stim, blocks, noted_at)
    SELECT b.stream_id,
           CASE WHEN bool_and(coalesce(json_extract_string(d.spec, '$.stim'), getvariable('sov_stim_version'))
                              = getvariable('sov_stim_version'))
                THEN getvariable('sov_stim_version') END,
           count(*), now()
    FROM blocks b LEFT JOIN decoders d ON d.fingerprint = b.fingerprint
    GROUP BY b.stream_id;
    """),
    # `sov models verify` (and `sov accept` under a [provenance] policy) record each verified
    # model-signing signature of a model file, by the file's sha256 (verifier.store.models).
    ("model_signatures: verified signers of model files (model provenance)", """
    CREATE TABLE model_signatures (
        model_sha256 VARCHAR NOT NULL,
        signature_sha256 VARCHAR NOT NULL,
        identity VARCHAR NOT NULL,        -- key fingerprint sha256:... or certificate SAN / CN
        method VARCHAR NOT NULL,          -- key | certificate
        signer JSON NOT NULL,             -- signed name and digest, key or certificate details
        tool VARCHAR,                     -- model-signing version
        verified_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (model_sha256, signature_sha256)
    );
    """),
    # `sov qec export-syndromes` sends a workload's detection events without its observables
    # and commits to the observables: sha256(salt || observables as b8). The salt stays
    # here, so the lab can later show which truth it scored predictions against
    # (verifier.store.commitments, docs/blind-evaluation.md).
    ("syndrome_exports: exported detection events and the commitment to their truth", """
    CREATE TABLE syndrome_exports (
        commitment VARCHAR PRIMARY KEY,   -- sha256(salt || observables as b8), hex
        workload_id VARCHAR NOT NULL,
        stream_id VARCHAR NOT NULL,
        dets_sha256 VARCHAR NOT NULL,     -- the exported detection-events file
        shots BIGINT NOT NULL,
        num_detectors INTEGER NOT NULL,
        num_observables INTEGER NOT NULL,
        format VARCHAR NOT NULL,          -- b8 | 01
        salt VARCHAR NOT NULL,            -- 32 random bytes, hex
        folder VARCHAR,                   -- where the export was written
        run_id VARCHAR,
        created_at TIMESTAMPTZ NOT NULL
    );
    """),
    # `sov calib ask` records every answer of a plot-reading model to the question set
    # (verifier.calib.questions): what it was asked, what it should answer, what it said
    # (verifier.store.calib_answers).
    ("cal_answers: a plot-reading model's answers to the calibration question set", """
    CREATE TABLE cal_answers (
        run_id VARCHAR,
        model VARCHAR NOT NULL,
        item_id VARCHAR NOT NULL,
        qtype VARCHAR NOT NULL,           -- status | diagnosis | fit_reliable | parameter
        scenario VARCHAR NOT NULL,        -- the fault label
        source VARCHAR NOT NULL,          -- fault:<label> | simulated:<experiment>
        experiment VARCHAR NOT NULL,
        question VARCHAR NOT NULL,
        choices JSON,
        expected JSON NOT NULL,
        raw_answer VARCHAR,               -- NULL when no answer came (error says why)
        parsed JSON,                      -- NULL when the answer did not parse
        correct BOOLEAN NOT NULL,
        error VARCHAR,
        question_version VARCHAR NOT NULL,
        recorded_at TIMESTAMPTZ NOT NULL
    );
    """),
]


def migration_variables() -> dict[str, str | None]:
    """The values migrations read with ``getvariable``: facts about this installation."""
    from verifier.environment import package_version

    return {"sov_stim_version": package_version("stim")}
