"""Write a file so that readers see the old content or the new one, never half of it.

A crash, ``kill -9`` or a full disk in the middle of writing a report, a ``--json`` file
or an evidence record leaves the previous file (or none) in place, not a truncated one.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def write_text_atomic(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename.

    Special files (``/dev/stdout``, a FIFO) are written directly. Raises ``OSError`` like
    ``Path.write_text`` does; the temporary file never stays behind."""
    p = Path(path)
    try:
        st = p.stat()
        special = not stat.S_ISREG(st.st_mode)
    except FileNotFoundError:
        special, st = False, None
    if special:
        p.write_text(text, encoding=encoding)
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=str(p.parent))
    try:
        with os.fdopen(fd, "w", encoding=encoding) as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if st is not None:
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
