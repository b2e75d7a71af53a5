"""Blocks recorded under the stream ids of schema 4 and older (migration 5).

Those ids named neither the circuit nor stim (``QecWorkload.legacy_stream_id``). The first
time a workload is recorded, its legacy stream's blocks become its own, re-keyed in the
same transaction, if they were drawn under the stim its stream names and no block is
filed under its stream id yet; otherwise they stay where they are and are never reused
(drawn under another stim, they are other shots, or were decoded against another model).
"""

from __future__ import annotations

from typing import Any, Iterable


def adopt_legacy_streams(con: Any, workloads: Iterable[Any]) -> None:
    streams = {w.legacy_stream_id: w for w in workloads if getattr(w, "legacy_stream_id", None)}
    if not streams:
        return
    rows = con.execute("SELECT stream_id, stim FROM legacy_streams WHERE adopted_as IS NULL "
                       "AND list_contains(?, stream_id)", [list(streams)]).fetchall()
    for legacy, stim in rows:
        w = streams[legacy]
        new = w.stream_id
        # the catalogue names each workload's stream as it is keyed now
        con.execute("UPDATE workloads SET stream_id = ? WHERE stream_id = ?", [new, legacy])
        if stim is None or stim != w.stream_spec().get("stim"):
            continue
        if con.execute("SELECT count(*) FROM blocks WHERE stream_id = ?", [new]).fetchone()[0]:
            continue
        con.execute("UPDATE blocks SET stream_id = ? WHERE stream_id = ?", [new, legacy])
        con.execute("UPDATE legacy_streams SET adopted_as = ? WHERE stream_id = ?", [new, legacy])
