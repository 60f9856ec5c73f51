# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""The benchmark's play driver (benchmarks/bench_lookup_play.py) with a real ``ansible-playbook`` run.

The pure parts of the benchmark scripts are unit-tested in tests/unit/benchmarks/test_bench_smoke.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

import bench_lookup_play  # noqa: E402


def test_real_play_counts_lookup_calls_and_computations(tmp_path):
    """A real ansible-playbook run through the benchmark's driver: every host calls the lookup, the
    counters come back from the forked workers, and the topology is computed once for the play."""
    hosts = 6
    inventory, playbooks = bench_lookup_play.write_files(tmp_path, hosts=hosts, locations=3, peers=2)
    play = bench_lookup_play.run_play(playbooks["lookup"], inventory, forks=3, workdir=tmp_path)
    assert play["lookups"] == hosts
    assert play["builds"] == 1, f"topology computed {play['builds']} times for one play"
    node_play = bench_lookup_play.run_play(playbooks["lookup_node"], inventory, forks=3, workdir=tmp_path)
    assert (node_play["lookups"], node_play["builds"]) == (hosts, 1)
    assert play["controller_cpu"] > 0 and play["workers_cpu"] > 0 and play["maxrss_kib"] > 0
    log = Path(play["log"]).read_text()
    assert log.count("failed=0") == hosts
