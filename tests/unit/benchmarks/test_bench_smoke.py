# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Smoke test of the benchmark scripts: the generator makes valid clusters and one tiny iteration
produces the table, the ratios and the target checks. No timing is asserted here. The real
ansible-playbook run of the play driver is in tests/integration/test_bench_lookup_play.py."""

from __future__ import annotations

import base64
import copy
import ipaddress
import sys
from pathlib import Path

import pytest
import yaml

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

import bench_lookup_play  # noqa: E402
import bench_topology  # noqa: E402
from cluster import cluster_problems, make_cluster  # noqa: E402

from topology import TopologyError, build_topology  # noqa: E402


def test_cluster_is_deterministic():
    assert make_cluster(60, locations=5, peers=4, seed=7) == make_cluster(60, locations=5, peers=4, seed=7)
    assert make_cluster(60, locations=5, peers=4, seed=7) != make_cluster(60, locations=5, peers=4, seed=8)


@pytest.mark.parametrize(("nodes", "locations", "peers", "edge"), [(50, 5, 4, 2), (120, 20, 10, 2), (20, 20, 0, 0)])
def test_cluster_is_valid(nodes, locations, peers, edge):
    cluster = make_cluster(nodes, locations=locations, peers=peers, edge=edge)
    assert cluster_problems(cluster) == []
    assert len(cluster["nodes"]) == nodes
    assert len(cluster["peers"]) == peers
    for item in cluster["nodes"] + cluster["peers"]:
        assert len(base64.b64decode(item["public_key"], validate=True)) == 32
    # the engine accepts it and sees one segment per location plus one per edge node
    topo = build_topology(cluster["nodes"], cluster["peers"])
    assert len(topo.segments) == locations + edge
    assert sorted({node["location"] for node in cluster["nodes"]}) == [f"loc{i:02d}" for i in range(locations)]
    # realistic mix: public leaders per location, internal IPs, location IPs survive the filter
    public_range = ipaddress.ip_network("198.18.0.0/15")  # public for Kilo (docs/kilo/topology.md#public-addresses)
    hosts = [node["endpoint"].rsplit(":", 1)[0] for node in cluster["nodes"]]
    public = [host for host in hosts if host[0].isdigit() and ipaddress.ip_address(host) in public_range]
    assert len(public) >= locations
    assert [segment.leader.name for segment in topo.segments[:locations]] == [
        f"loc{i:02d}-n0001" if i % 4 == 0 and nodes >= 2 * locations else f"loc{i:02d}-n0000" for i in range(locations)
    ]
    assert all(segment.allowed_location_ips for segment in topo.segments[:locations])
    assert len(topo.peer_names) == peers


def test_cluster_problems_catches_bad_clusters():
    cluster = make_cluster(30, locations=5, peers=2)
    broken = copy.deepcopy(cluster)
    broken["nodes"][1]["public_key"] = broken["nodes"][0]["public_key"]
    assert "duplicate public keys" in cluster_problems(broken)
    with pytest.raises(TopologyError):
        build_topology(broken["nodes"], broken["peers"])
    broken = copy.deepcopy(cluster)
    broken["nodes"][2]["pod_cidr"] = broken["nodes"][3]["pod_cidr"]
    assert "pod CIDRs are not distinct" in cluster_problems(broken)
    with pytest.raises(ValueError, match="nodes must be"):
        make_cluster(3, locations=5)


def test_one_tiny_iteration_gives_table_and_ratios():
    rows = [
        bench_topology.run_case("configs", "location", 40, repeats=1, locations=5, peers=3),
        bench_topology.run_case("configs", "location", 80, repeats=1, locations=5, peers=3),
        bench_topology.run_case("configs", "full", 20, repeats=1, locations=5, peers=3, memory=False),
        bench_topology.run_case("configs", "full", 40, repeats=1, locations=5, peers=3, memory=False),
        bench_topology.run_case("lookup", "location", 30, repeats=1, locations=5, peers=3),
    ]
    bench_topology.add_ratios(rows)
    table = bench_topology.format_table(rows)
    lines = table.splitlines()
    assert lines[0].startswith("| workload | granularity | nodes |")
    assert len(lines) == 2 + len(rows)
    assert "| configs | location | 80 | 7 |" in table
    # ratios are relative to the smallest N of each workload/granularity group
    assert rows[0]["ratio_node"] == 1.0 and rows[2]["ratio_node"] == 1.0 and rows[4]["ratio_kb"] == 1.0
    assert rows[1]["ratio_output"] > 1.0  # more nodes, more output
    assert rows[3]["ratio_output"] > 3.0  # full mode: output grows with the square of the nodes
    assert rows[0]["tracemalloc_peak"] > 0 and rows[2]["tracemalloc_peak"] is None
    assert all(row["maxrss_kib"] > 0 and len(row["cpu_times"]) == 1 for row in rows)
    # output sizes are real: the configs hold every leader's [Peer] sections
    assert rows[0]["output_bytes"] > 40 * 44
    checks = bench_topology.check_targets(rows)
    names = [name for name, _met, _detail in checks]
    assert any(name.startswith("configs/location/80: linear") for name in names)
    assert any(name.startswith("configs/full/40: time grows") for name in names)
    assert not any("/40: linear" in name or "/20:" in name for name in names)  # smallest N: nothing to compare


def _row(workload, granularity, nodes, best, output):
    return {
        "workload": workload,
        "granularity": granularity,
        "nodes": nodes,
        "segments": 22,
        "best": best,
        "median": best,
        "best_wall": best,
        "output_bytes": output,
        "tracemalloc_peak": None,
        "maxrss_kib": 1,
    }


@pytest.mark.parametrize(
    ("rows", "missed"),
    [
        ([_row("configs", "location", 100, 0.01, 100_000), _row("configs", "location", 2000, 0.2, 2_000_000)], []),
        (
            [_row("configs", "location", 100, 0.01, 100_000), _row("configs", "location", 2000, 0.6, 2_000_000)],
            ["configs/location/2000: all configs under 0.5 s", "configs/location/2000: linear in nodes"],
        ),
        (
            [_row("configs", "full", 100, 0.1, 1_000_000), _row("configs", "full", 500, 6.0, 25_000_000)],
            ["configs/full/500: time grows at most 2.0x faster than output"],
        ),
        (
            [_row("lookup", "location", 100, 0.1, 1_000_000), _row("lookup", "location", 200, 0.3, 4_000_000)],
            [],
        ),
    ],
)
def test_target_checks(rows, missed):
    checks = bench_topology.check_targets(bench_topology.add_ratios(rows))
    missed_names = [name for name, met, _detail in checks if not met]
    assert len(missed_names) == len(missed)
    assert all(any(name.startswith(prefix) for prefix in missed) for name in missed_names)
    report = bench_topology.format_checks(checks)
    assert report.count("MISS") == len(missed)


def test_play_inventory_matches_the_cluster(tmp_path):
    inventory, playbooks = bench_lookup_play.write_files(tmp_path, hosts=12, locations=3, peers=2)
    text = inventory.read_text()
    assert text.startswith("---\n")
    data = yaml.safe_load(text)
    hosts = data["all"]["children"]["kilo"]["hosts"]
    cluster = make_cluster(12, locations=3, peers=2)
    assert sorted(hosts) == sorted(node["name"] for node in cluster["nodes"])
    first = cluster["nodes"][0]
    assert hosts[first["name"]]["kilo_public_key"] == first["public_key"]
    assert hosts[first["name"]]["ansible_connection"] == "local"
    assert {path.name for path in playbooks.values()} == {
        "lookup.yml",
        "lookup_node.yml",
        "lookup_once.yml",
        "action_once.yml",
        "baseline.yml",
    }
    assert "node=inventory_hostname" in playbooks["lookup_node"].read_text()


def _play_row(hosts, builds, lookups, lookup_cpu, wall, once_cpu=0.1, full_cpu=30.0, compute_cpu=0.2):
    def play(builds, lookups, cpu, wall):
        return {
            "compute_cpu": compute_cpu if builds else 0.0,
            "compute_share": (compute_cpu if builds else 0.0) / wall,
            "wall": wall,
            "builds": builds,
            "build_pids": builds,
            "build_seconds": 0.01 * builds,
            "lookups": lookups,
            "lookup_cpu": cpu,
            "lookup_seconds": cpu,
            "lookup_max": cpu,
            "maxrss_kib": 1024,
            "controller_cpu": 1.0,
            "workers_cpu": 2.0,
            "share": cpu / wall,
            "extra_wall": 1.0,
        }

    return {
        "hosts": hosts,
        "forks": 5,
        "baseline": play(0, 0, 0.0, wall - 1.0),
        # the whole-topology play is reported, never a target: a big share there must not fail the run
        "lookup": play(1, hosts, full_cpu, wall),
        "lookup_node": play(builds, lookups, lookup_cpu, wall),
        "lookup_once": play(1, 1, once_cpu, wall),
        "action_once": play(1, 1, once_cpu, wall),
    }


@pytest.mark.parametrize(
    ("row", "missed"),
    [
        (_play_row(500, 1, 500, 2.0, 100.0), []),
        # the calls of the every-host plays are reported, not held to the target
        (_play_row(500, 1, 500, 40.0, 100.0), []),
        (_play_row(500, 500, 500, 2.0, 100.0), ["500 hosts, lookup_node: topology computed once per play"]),
        (
            _play_row(500, 1, 500, 2.0, 100.0, compute_cpu=6.0),
            [
                f"500 hosts, {name}: computation under 5%"
                for name in ("lookup", "lookup_node", "lookup_once", "action_once")
            ],
        ),
        (
            _play_row(500, 1, 500, 2.0, 100.0, once_cpu=6.0),
            [f"500 hosts, {name}: lookup calls under 5%" for name in ("lookup_once", "action_once")],
        ),
        (_play_row(200, 1, 200, 50.0, 100.0, compute_cpu=9.0), []),  # shares are judged at 500 hosts only
    ],
)
def test_play_target_checks(row, missed):
    checks = bench_lookup_play.check_targets([row])
    missed_names = [name for name, met, _detail in checks if met is False]
    assert len(missed_names) == len(missed)
    assert all(any(name.startswith(prefix) for prefix in missed) for name in missed_names)
    info = [name for name, met, _detail in checks if met is None]
    expected_info = [
        f"500 hosts, {name}: lookup calls under 5% of the play's wall time" for name in ("lookup", "lookup_node")
    ]
    assert info == (expected_info if row["hosts"] == 500 else [])
    table = bench_lookup_play.format_table([row])
    assert len(table.splitlines()) == 2 + 5
    assert f"| {row['hosts']} | lookup_once |" in table
