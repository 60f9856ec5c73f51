#!/usr/bin/env python
# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Offline stand-in for the ``get-pip.py`` that ansible-test downloads.

ansible-test bootstraps pip into every virtual environment it creates by running
``~/.ansible/test/cache/get_pip_<version>.py``; when that file is missing it downloads it from
ci-files.testing.ansible.com, which is unreachable here. This shim bootstraps pip with the
standard library's ``ensurepip`` and then installs the requested packages (e.g. ``pip==24.2``)
from the machine's configured package index.

``ensurepip`` sets ``PIP_CONFIG_FILE=/dev/null``, which would hide the system pip configuration
(index mirrors, ``cert=`` for a TLS-intercepting proxy), so it is removed before the install.
"""

from __future__ import annotations

import ensurepip
import os
import subprocess
import sys

# get-pip.py options that have no meaning for "pip install"
_GET_PIP_ONLY_OPTIONS = ("--no-setuptools", "--no-wheel")


def main() -> int:
    ensurepip.bootstrap(upgrade=True)
    os.environ.pop("PIP_CONFIG_FILE", None)
    args = [arg for arg in sys.argv[1:] if arg not in _GET_PIP_ONLY_OPTIONS]
    if not args:
        return 0
    return subprocess.call([sys.executable, "-m", "pip", "install", *args])


if __name__ == "__main__":
    sys.exit(main())
