# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Fixtures of the engine tests (the scenarios of docs/kilo/examples.md as fresh copies)."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from spec_data import load_fixture  # noqa: E402


@pytest.fixture()
def s1() -> dict[str, Any]:
    return copy.deepcopy(load_fixture("s1.json"))


@pytest.fixture()
def upstream() -> dict[str, Any]:
    return copy.deepcopy(load_fixture("upstream.json"))


@pytest.fixture()
def s2() -> dict[str, Any]:
    return copy.deepcopy(load_fixture("s2.json"))
