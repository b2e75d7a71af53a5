"""The one way sov builds a rich table (rich is imported only when a table is built)."""

from __future__ import annotations


def new_table(*args, **kwargs):
    """A rich table whose cells wrap instead of being cut: a figure, an interval or an id is
    never shown as ``1.…`` in an 80-column terminal or a CI log (rich's default overflow
    is an ellipsis)."""
    from rich.table import Table

    class FoldingTable(Table):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self._word: dict[int, int] = {}  # per column: its longest word, its longest line
            self._line: dict[int, int] = {}

        def add_column(self, *a, overflow="fold", **kw):
            super().add_column(*a, overflow=overflow, **kw)

        def add_row(self, *cells, **kw):
            for i, cell in enumerate(cells):
                word, line = _widths(cell)
                self._word[i] = max(self._word.get(i, 0), word)
                self._line[i] = max(self._line.get(i, 0), line)
            super().add_row(*cells, **kw)

        def __rich_console__(self, console, options):
            # when the natural layout is too wide, give every column at least its longest
            # word (a number, an interval bound, an id) and share the rest by what each
            # would still need, so narrow layouts wrap between words, not inside one; when
            # even the words cannot all fit, rich folds them rather than cutting the table
            n = len(self.columns)
            room = options.max_width - (3 * n + 1)
            cells = [self._word.get(i, 0) for i in range(n)]
            heads = [max(w, _widths(c.header)[0]) for w, c in zip(cells, self.columns)]
            word = heads if sum(heads) <= room else cells  # else a header may wrap mid-word
            line = [max(self._line.get(i, 0), _widths(c.header)[1], word[i]) for i, c in enumerate(self.columns)]
            for c in self.columns:
                c.width = None
            if sum(line) > room >= sum(word):
                spare, want = room - sum(word), [ln - w for ln, w in zip(line, word)]
                total = sum(want) or 1
                for c, w, extra in zip(self.columns, word, want):
                    c.width = w + spare * extra // total
            return super().__rich_console__(console, options)

    return FoldingTable(*args, **kwargs)


def _widths(cell) -> tuple[int, int]:
    text = str(getattr(cell, "plain", cell))
    words = text.split()
    return (min(max((len(w) for w in words), default=0), 24),
            max((len(ln) for ln in text.splitlines()), default=0))
