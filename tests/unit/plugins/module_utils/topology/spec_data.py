# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Helpers of the engine tests: SPEC 7 scenarios (JSON fixtures) and golden outputs (SPEC text)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
GOLDEN = HERE / "golden"


def key(index: int) -> str:
    """SPEC 7 key convention: base64(bytes([i]) * 32)."""
    return base64.b64encode(bytes([index]) * 32).decode("ascii")


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def golden(name: str) -> str:
    return (GOLDEN / name).read_text()
