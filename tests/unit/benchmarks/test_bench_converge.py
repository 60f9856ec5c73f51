# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""benchmarks/bench_converge.py without a lab: the remote-task count from an ansible.posix.json report,
the table and the docs markers. The lab runs themselves are the benchmark (no timing is asserted)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

import bench_converge  # noqa: E402


def _task(name, **hosts):
    return {
        "task": {"name": name, "duration": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:00:01.5Z"}},
        "hosts": hosts,
    }


REPORT = {
    "plays": [
        {
            "play": {"name": "wireguard"},
            "tasks": [
                _task("probe", a={"action": "kilo.mesh.wireguard_probe"}, b={"action": "kilo.mesh.wireguard_probe"}),
                _task("assert", a={"action": "ansible.builtin.assert"}, b={"action": "assert"}),
                _task("sysctl", a={"action": "ansible.posix.sysctl", "skipped": True}, b={"action": "sysctl"}),
            ],
        },
        {
            "play": {"name": "mesh"},
            "tasks": [_task("set_fact", a={"action": "set_fact"}), _task("cmd", a={"action": "command"})],
        },
    ]
}


def test_remote_tasks_skip_controller_actions_and_skipped_hosts():
    assert bench_converge.remote_tasks(REPORT) == {"a": 2, "b": 2}
    assert bench_converge.remote_tasks(REPORT, slice(0, 1)) == {"a": 1, "b": 2}


def test_seconds_of_a_duration():
    assert bench_converge.seconds(REPORT["plays"][0]["tasks"][0]["task"]["duration"]) == pytest.approx(1.5)


def test_table_and_docs_markers(tmp_path, monkeypatch):
    run = {"wall": 10.0, "remote_per_host": 8.0, "wireguard_play_s": 4.0, "wireguard_remote_per_host": 1.0}
    base = dict(run, wall=20.0, remote_per_host=18.0, wireguard_play_s=12.0, wireguard_remote_per_host=11.0)
    table = bench_converge.table(
        {4: {"baseline": dict.fromkeys(bench_converge.RUNS, base), "current": dict.fromkeys(bench_converge.RUNS, run)}}
    )
    assert "| 4 | idempotent | 20.0 | 10.0 | 0.50 | 18.0 -> 8.0 | 12.0 -> 4.0 | 11.0 -> 1.0 |" in table
    assert "| 4 + 1 | add-host |" in table
    doc = tmp_path / "performance.md"
    doc.write_text(f"# P\n\n{bench_converge.BEGIN}\nold\n{bench_converge.END}\n\nafter\n")
    monkeypatch.setattr(bench_converge, "DOCS", doc)
    bench_converge.write_docs("new table")
    assert doc.read_text() == f"# P\n\n{bench_converge.BEGIN}\nnew table\n{bench_converge.END}\n\nafter\n"
