# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""File writing shared by the kilo.mesh modules (private, no stable API)."""

from __future__ import annotations

import os
import tempfile


def write_atomic(module, path, text, dir_mode=0o700):
    """Write ``text`` to ``path`` through a temporary file in the same directory (never half-written).

    The parent directory is created with ``dir_mode`` when missing; the caller sets the file's mode.
    """
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=dir_mode)
    fd, tmp = tempfile.mkstemp(prefix=".kilo-", dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        module.atomic_move(tmp, path, keep_dest_attrs=False)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
