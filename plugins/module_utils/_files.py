# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""The one atomic file writer of the collection (private, no stable API; stdlib only).

Modules on the managed nodes (keys, wg-quick files, route restore files, showconf/graph outputs)
and controller-side plugins (the lookup's cache) all write through :func:`write_atomic`. It needs no
AnsibleModule: errors are plain :class:`OSError`, which a module turns into ``fail_json``.
"""

from __future__ import annotations

import os
import tempfile
from typing import Union


def write_atomic(path: str, data: Union[bytes, str], mode: int = 0o600, dir_mode: int = 0o700) -> None:
    """Write ``data`` (text is UTF-8 encoded) to ``path`` so that readers see the old or the new file, never half.

    The data goes to a temporary file in the same directory, created with ``mode`` from the start
    (a private key is never readable by others, not even for a moment), flushed to disk, then
    renamed over ``path``. Missing parent directories are created with ``dir_mode``. Raises OSError;
    the temporary file never stays behind.
    """
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=dir_mode)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=".kilo-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
