#!/usr/bin/env python
# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""cProfile one benchmark case and print the hottest functions (used for benchmarks/PROFILE.md).

Usage: ``python benchmarks/profile_topology.py WORKLOAD GRANULARITY NODES [--top N] [--sort KEY]``,
e.g. ``python benchmarks/profile_topology.py configs location 5000``. WORKLOAD is ``configs`` or
``lookup`` (see bench_topology.py); KEY is a pstats sort key (default ``tottime``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import bench_topology
from cluster import make_cluster


def profile_case(workload: str, granularity: str, nodes: int, top: int = 20, sort: str = "tottime") -> str:
    """The pstats report of one run of the case, paths shortened to the repository."""
    cluster = make_cluster(nodes, bench_topology.LOCATIONS, bench_topology.PEERS)
    profiler = cProfile.Profile()
    profiler.enable()
    bench_topology._once(workload, cluster, granularity)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(sort).print_stats(top)
    return out.getvalue().replace(str(bench_topology.REPO) + "/", "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("workload", choices=("configs", "lookup"))
    parser.add_argument("granularity", choices=("location", "full", "cross"))
    parser.add_argument("nodes", type=int)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--sort", default="tottime")
    args = parser.parse_args()
    print(profile_case(args.workload, args.granularity, args.nodes, args.top, args.sort))
    return 0


if __name__ == "__main__":
    sys.exit(main())
