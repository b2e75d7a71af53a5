"""The DuckDB store and every statement sov runs against it (nothing outside this package
writes SQL): ``db`` (connections, runs, tasks, blocks, results), ``schema`` (migrations),
``rows`` (named-column inserts), ``runs`` (a command's run record) and one module per area
of records."""
