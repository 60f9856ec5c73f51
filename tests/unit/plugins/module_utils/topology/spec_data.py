# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Helpers of the engine tests: the scenarios of docs/kilo/examples.md (JSON fixtures) and their golden outputs."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
GOLDEN = HERE / "golden"


def key(index: int) -> str:
    """Key convention of docs/kilo/examples.md: base64(bytes([i]) * 32)."""
    return base64.b64encode(bytes([index]) * 32).decode("ascii")


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def golden(name: str) -> str:
    return (GOLDEN / name).read_text()
