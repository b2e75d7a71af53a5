"""The one way sov builds a rich table (rich is imported only when a table is built)."""

from __future__ import annotations


def new_table(*args, **kwargs):
    """A rich table whose cells wrap instead of being cut: a figure, an interval or an id is
    never shown as ``1.…`` in an 80-column terminal or a CI log (rich's default overflow
    is an ellipsis)."""
    from rich.table import Table

    class FoldingTable(Table):
        def add_column(self, *a, overflow="fold", **kw):
            super().add_column(*a, overflow=overflow, **kw)

    return FoldingTable(*args, **kwargs)

