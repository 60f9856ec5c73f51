#!/usr/bin/env python
# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Benchmark of the topology engine on synthetic clusters (project issue 6).

Workloads, each timed from the raw node/peer dicts (validation included):

``configs``  ``build_topology`` + ``node_conf`` of every segment leader + ``peer_conf`` of every peer:
             every WireGuard configuration of the cluster (what all Kilo agents together compute).
``lookup``   ``build_topology`` + ``to_dict()``: the full output of the ``kilo.mesh.topology`` lookup
             (configs plus every node's routes, rules and structured peers).

Every case runs in a child process pinned to one CPU (``os.sched_setaffinity``), so timings and the
peak RSS (``ru_maxrss``, taken before the ``tracemalloc`` run) of one case do not leak into the next.
The child times ``--repeats`` runs with ``time.process_time`` (CPU seconds of the process) and
``time.perf_counter`` (wall seconds), then one extra run under ``tracemalloc`` for the allocation
peak. Targets are judged on the best CPU time: on a shared machine the wall time also counts the time
other processes held the CPU; both are printed.
µs/node and µs/KB are computed from the best CPU time.

Targets (the script exits 1 and says why when one is missed):

* configs, location granularity, 2000 nodes: best CPU time under 0.5 s;
* configs, location granularity: time per node at every N at most 1.5x the time per node at the
  smallest N (cost grows linearly with the nodes, which is linear in the output);
* configs and lookup, full granularity: time grows at most 2x as fast as the output size;
* lookup: time per KB of output at every N at most 2x the smallest N's (cost linear in its output).

Usage: ``python benchmarks/bench_topology.py [--quick] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for _path in (REPO / "plugins" / "module_utils", HERE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from cluster import make_cluster

from topology import build_topology

LOCATIONS = 20
PEERS = 10
CONFIGS_TARGET_NODES = 2000
CONFIGS_TARGET_SECONDS = 0.5
LINEAR_TOLERANCE = 1.5  # location mode: µs/node may grow this much (noise, caches) and still count as linear
OUTPUT_TOLERANCE = 2.0  # cost may grow this much faster than the output size

#: (workload, granularity, nodes) of the full run and of --quick
FULL_CASES = (
    [("configs", "location", n) for n in (100, 500, 1000, 2000, 5000)]
    + [("configs", "full", n) for n in (100, 500)]
    + [("lookup", "location", n) for n in (100, 200, 500, 1000)]
    + [("lookup", "full", n) for n in (100, 200)]
)
QUICK_CASES = (
    [("configs", "location", n) for n in (100, 500, 2000)]
    + [("configs", "full", n) for n in (100, 200)]
    + [("lookup", "location", n) for n in (100, 200)]
)


# --------------------------------------------------------------------------------------------
# one case
# --------------------------------------------------------------------------------------------
def run_configs(cluster: dict[str, Any], granularity: str) -> int:
    """Build and render every leader's and peer's configuration; returns the output size in bytes."""
    topo = build_topology(cluster["nodes"], cluster["peers"], granularity=granularity)
    size = 0
    for segment in topo.segments:
        size += len(topo.node_conf(segment.leader.name))
    for name in topo.peer_names:
        size += len(topo.peer_conf(name))
    return size


def run_lookup(cluster: dict[str, Any], granularity: str) -> dict[str, Any]:
    """Build and produce the lookup output (``to_dict``)."""
    topo = build_topology(cluster["nodes"], cluster["peers"], granularity=granularity)
    return topo.to_dict()


def _once(workload: str, cluster: dict[str, Any], granularity: str) -> Any:
    if workload == "configs":
        return run_configs(cluster, granularity)
    return run_lookup(cluster, granularity)


def _output_bytes(workload: str, result: Any) -> int:
    """Configs: bytes of text. Lookup: bytes of compact JSON, counted piecewise (ASCII-only output of
    ``ensure_ascii``) so the count does not hold hundreds of MB of JSON in memory."""
    if workload == "configs":
        return int(result)
    encoder = json.JSONEncoder(separators=(",", ":"))
    return sum(len(chunk) for chunk in encoder.iterencode(result))


def run_case(
    workload: str,
    granularity: str,
    nodes: int,
    repeats: int = 3,
    memory: bool = True,
    locations: int = LOCATIONS,
    peers: int = PEERS,
) -> dict[str, Any]:
    """Time one case in this process; returns the measurements as a JSON-safe dict."""
    if workload not in ("configs", "lookup"):
        raise ValueError(f"unknown workload {workload!r}")
    cluster = make_cluster(nodes, locations, peers)
    times, cpu_times = [], []
    result: Any = None
    for _repeat in range(max(repeats, 1)):
        result = None
        gc.collect()
        start, cpu_start = time.perf_counter(), time.process_time()
        result = _once(workload, cluster, granularity)
        cpu_times.append(time.process_time() - cpu_start)
        times.append(time.perf_counter() - start)
    output = _output_bytes(workload, result)
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    topo = build_topology(cluster["nodes"], cluster["peers"], granularity=granularity)
    result = None
    peak = None
    if memory:
        gc.collect()
        tracemalloc.start()
        _once(workload, cluster, granularity)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return {
        "workload": workload,
        "granularity": granularity,
        "nodes": nodes,
        "peers": len(cluster["peers"]),
        "segments": len(topo.segments),
        "wall_times": times,
        "cpu_times": cpu_times,
        "best": min(cpu_times),
        "median": statistics.median(cpu_times),
        "best_wall": min(times),
        "median_wall": statistics.median(times),
        "output_bytes": output,
        "tracemalloc_peak": peak,
        "maxrss_kib": maxrss,
    }


def pin_to_one_cpu(cpu: int) -> str:
    """Pin this process to one CPU where the OS allows it; returns a note for the report."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity on this OS)"
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as exc:
        return f"not pinned ({exc})"
    return f"pinned to CPU {cpu}"


def run_case_in_child(workload: str, granularity: str, nodes: int, repeats: int, cpu: int) -> dict[str, Any]:
    spec = json.dumps(
        {"workload": workload, "granularity": granularity, "nodes": nodes, "repeats": repeats, "cpu": cpu}
    )
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", spec],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"case {workload}/{granularity}/{nodes} failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


# --------------------------------------------------------------------------------------------
# table, ratios, targets
# --------------------------------------------------------------------------------------------
def add_ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (workload, granularity): µs/node, µs/KB and their ratio to the smallest N's."""
    for row in results:
        row["us_per_node"] = row["best"] * 1e6 / row["nodes"]
        row["us_per_kb"] = row["best"] * 1e6 / (row["output_bytes"] / 1024) if row["output_bytes"] else math.nan
    for row in results:
        group = [
            other
            for other in results
            if (other["workload"], other["granularity"]) == (row["workload"], row["granularity"])
        ]
        base = min(group, key=lambda other: other["nodes"])
        row["ratio_node"] = row["us_per_node"] / base["us_per_node"]
        row["ratio_kb"] = row["us_per_kb"] / base["us_per_kb"]
        row["ratio_output"] = row["output_bytes"] / base["output_bytes"]
        row["ratio_time"] = row["best"] / base["best"]
    return results


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value / 2**20:.1f}"


def format_table(results: list[dict[str, Any]]) -> str:
    """Markdown table of the results (after ``add_ratios``)."""
    header = (
        "| workload | granularity | nodes | segments | CPU s best | CPU s median | wall s best | µs/node | output KB "
        "| µs/KB | µs/node ratio | µs/KB ratio | tracemalloc peak MiB | max RSS MiB |"
    )
    lines = [header, "|" + "---|" * 14]
    for row in results:
        lines.append(
            f"| {row['workload']} | {row['granularity']} | {row['nodes']} | {row['segments']} "
            f"| {row['best']:.4f} | {row['median']:.4f} | {row['best_wall']:.4f} | {row['us_per_node']:.1f} "
            f"| {row['output_bytes'] / 1024:.0f} | {row['us_per_kb']:.2f} | {row['ratio_node']:.2f} "
            f"| {row['ratio_kb']:.2f} | {_mib(row['tracemalloc_peak'])} | {_mib(row['maxrss_kib'] * 1024)} |"
        )
    return "\n".join(lines)


def check_targets(results: list[dict[str, Any]]) -> list[tuple[str, bool, str]]:
    """The issue's targets as (name, met, explanation); only targets the results can judge."""
    checks: list[tuple[str, bool, str]] = []
    for row in results:
        workload, granularity, nodes = row["workload"], row["granularity"], row["nodes"]
        label = f"{workload}/{granularity}/{nodes}"
        if workload == "configs" and granularity == "location" and nodes == CONFIGS_TARGET_NODES:
            checks.append(
                (
                    f"{label}: all configs under {CONFIGS_TARGET_SECONDS} s",
                    row["best"] < CONFIGS_TARGET_SECONDS,
                    f"best {row['best']:.3f} CPU s (median {row['median']:.3f}, best wall {row['best_wall']:.3f} s)",
                )
            )
        if row["ratio_time"] == 1.0 and row["ratio_output"] == 1.0:
            continue  # the smallest N of its group: nothing to compare with
        if workload == "configs" and granularity == "location":
            checks.append(
                (
                    f"{label}: linear in nodes (µs/node ratio <= {LINEAR_TOLERANCE})",
                    row["ratio_node"] <= LINEAR_TOLERANCE,
                    f"µs/node {row['us_per_node']:.1f}, {row['ratio_node']:.2f}x the smallest N's",
                )
            )
        if granularity == "full" or workload == "lookup":
            growth = row["ratio_time"] / row["ratio_output"]
            checks.append(
                (
                    f"{label}: time grows at most {OUTPUT_TOLERANCE}x faster than output",
                    growth <= OUTPUT_TOLERANCE,
                    f"time x{row['ratio_time']:.2f}, output x{row['ratio_output']:.2f} vs the smallest N "
                    f"(µs/KB ratio {growth:.2f})",
                )
            )
    return checks


def format_checks(checks: list[tuple[str, bool, str]]) -> str:
    return "\n".join(f"{'PASS' if met else 'MISS'}  {name}: {detail}" for name, met, detail in checks)


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer, smaller cases and one repeat")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per case (default 5, --quick 1)")
    parser.add_argument("--cpu", type=int, default=0, help="CPU the cases are pinned to (default 0)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        spec = json.loads(args.child)
        note = pin_to_one_cpu(spec["cpu"])
        row = run_case(spec["workload"], spec["granularity"], spec["nodes"], spec["repeats"])
        row["cpu"] = note
        print(json.dumps(row))
        return 0

    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 5)
    cases = QUICK_CASES if args.quick else FULL_CASES
    results = []
    for workload, granularity, nodes in cases:
        row = run_case_in_child(workload, granularity, nodes, repeats, args.cpu)
        progress = f"best {row['best']:.4f} CPU s, {row['best_wall']:.4f} wall s"
        print(f"  {workload:7} {granularity:8} {nodes:5} nodes: {progress}", file=sys.stderr)
        results.append(row)
    add_ratios(results)
    checks = check_targets(results)
    print(
        f"# kilo.mesh topology benchmark: {LOCATIONS} locations, {PEERS} peers, {repeats} repeat(s), "
        f"{results[0]['cpu']}, Python {sys.version.split()[0]}"
    )
    print()
    print(format_table(results))
    print()
    print(format_checks(checks))
    if args.json:
        args.json.write_text(json.dumps({"results": results, "checks": checks}, indent=2) + "\n")
    missed = [name for name, met, _detail in checks if not met]
    if missed:
        print(f"\n{len(missed)} target(s) missed", file=sys.stderr)
        return 1
    print(f"\nall {len(checks)} targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
