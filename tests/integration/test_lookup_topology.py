# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""kilo.mesh.topology through real ansible-playbook runs (inventory S1, docs/kilo/examples.md#scenario-s1)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
FILES = HERE / "files" / "lookup"
GOLDEN = HERE.parent / "unit" / "plugins" / "module_utils" / "topology" / "golden"
FIXTURES = HERE.parent / "unit" / "plugins" / "module_utils" / "topology" / "fixtures"
HOSTS = ["gcp-1", "gcp-2", "aws-1.example.internal", "aws-2", "edge-1", "bare-1"]


def test_full_run(tmp_path, playbook_runner):
    """One real run over the whole group, plus explicit nodes= from the S1 fixture."""
    nodes = json.loads((FIXTURES / "s1.json").read_text())["nodes"]
    playbook_runner(
        FILES / "playbook.yml",
        inventory=FILES / "inventory.yml",
        extra_vars={"kilo_test_out": str(tmp_path), "kilo_test_nodes": nodes},
    )
    _check_host_views(tmp_path)
    _check_filters(tmp_path)
    _check_whole_topology(tmp_path)
    _check_explicit_nodes(tmp_path)


def _check_host_views(out):
    for host in HOSTS:
        assert (out / f"{host}.json").exists(), host
    gcp1 = json.loads((out / "gcp-1.json").read_text())
    # host vars -> nodes -> exactly kgctl's output (peers come from the playbook)
    assert gcp1["conf"] == (GOLDEN / "s1_node_gcp-1.conf").read_text()
    assert gcp1["is_leader"] is True and gcp1["wireguard_ip"] == "10.4.0.3/16"
    assert gcp1["interface"] == {"address": "10.4.0.3/16", "listen_port": 51820}
    edge = json.loads((out / "edge-1.json").read_text())
    assert edge["conf"] == (GOLDEN / "s1_node_edge-1.conf").read_text()
    # kilo_node_name maps the inventory host aws-1.example.internal to node aws-1
    aws1 = json.loads((out / "aws-1.example.internal.json").read_text())
    assert (aws1["is_leader"], aws1["leader"], aws1["conf"], aws1["segment"]) == (False, "aws-2", "", "location:aws")
    assert aws1["routes"][0] == {
        "dst": "10.4.0.1/32",
        "via": "172.31.0.6",
        "dev": "private",
        "src": None,
        "onlink": True,
        "table": None,
    }


def _check_filters(out):
    assert (out / "gcp-1.conf").read_text() == (GOLDEN / "s1_node_gcp-1.conf").read_text()
    assert (out / "gcp-2.conf").read_text() == ""
    assert json.loads((out / "bare-1.endpoint.json").read_text()) == {
        "host": "2001:db8::10",
        "port": 51820,
        "ip": "2001:db8::10",
        "dns": None,
        "text": "[2001:db8::10]:51820",
    }


def _check_whole_topology(out):
    topology = json.loads((out / "topology.json").read_text())
    assert sorted(topology["nodes"]) == ["aws-1", "aws-2", "bare-1", "edge-1", "gcp-1", "gcp-2"]
    assert topology["peers"]["laptop"]["conf"] == (GOLDEN / "s1_peer_laptop.conf").read_text()
    assert topology["peers"]["office"]["allowed_ips"] == ["10.5.0.2/32", "192.168.50.0/24"]
    assert [s["key"] for s in topology["segments"]] == [
        "location:",
        "location:aws",
        "location:gcp-east",
        "node:edge-1",
    ]


def _check_explicit_nodes(out):
    explicit = json.loads((out / "explicit.json").read_text())
    assert explicit["granularity"] == "full"
    assert all(view["is_leader"] for view in explicit["nodes"].values())
    assert all(view["routes"] == [] for view in explicit["nodes"].values())
    assert explicit["nodes"]["gcp-1"]["conf"].count("[Peer]") == 5  # five other nodes, no peers given


def test_computed_once_for_all_hosts(tmp_path, playbook_runner):
    """Six hosts (in parallel workers) call the lookup with the same inputs: one computation, five reuses."""
    proc = playbook_runner(
        FILES / "playbook.yml",
        "-vvv",
        "--forks",
        "6",
        inventory=FILES / "inventory.yml",
        extra_vars={"kilo_test_out": str(tmp_path)},
    )
    computed = [line for line in proc.stdout.splitlines() if "kilo.mesh.topology: computed topology" in line]
    reused = [line for line in proc.stdout.splitlines() if "kilo.mesh.topology: reused topology" in line]
    assert len(computed) == 1, proc.stdout
    assert len(reused) >= 5, proc.stdout


def test_limit_still_sees_all_hosts(tmp_path, playbook_runner):
    playbook_runner(
        FILES / "playbook.yml",
        "--limit",
        "gcp-2",
        inventory=FILES / "inventory.yml",
        extra_vars={"kilo_test_out": str(tmp_path)},
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "gcp-2.conf",
        "gcp-2.endpoint.json",
        "gcp-2.json",
        "topology.json",
    ]
    topology = json.loads((tmp_path / "topology.json").read_text())
    assert sorted(topology["nodes"]) == ["aws-1", "aws-2", "bare-1", "edge-1", "gcp-1", "gcp-2"]
    assert topology["nodes"]["gcp-1"]["conf"] == (GOLDEN / "s1_node_gcp-1.conf").read_text()


@pytest.mark.parametrize(
    ("group", "message"),
    [
        pytest.param(
            "kilo_bad_cidr",
            "kilo.mesh.topology: node \"broken-1\": field pod_cidr has invalid value '10.9.0/24'",
            id="invalid pod cidr",
        ),
        pytest.param(
            "kilo_no_key",
            "kilo.mesh.topology: host 'nokey-1' has no kilo_public_key; run the kilo.mesh.wireguard_key module",
            id="missing public key",
        ),
        pytest.param("no_such_group", "inventory group 'no_such_group' does not exist", id="unknown group"),
    ],
)
def test_error_messages(playbook_runner, group, message):
    proc = playbook_runner(
        FILES / "broken.yml",
        inventory=FILES / "inventory.yml",
        extra_vars={"kilo_test_group": group},
        check=False,
    )
    assert proc.returncode != 0
    assert message in proc.stdout, proc.stdout


def test_cluster_source_error(tmp_path, playbook_runner):
    """source=cluster without a reachable cluster fails with a lookup error (missing kubernetes library
    or an unreadable kubeconfig), never with a traceback."""
    proc = playbook_runner(
        FILES / "cluster.yml",
        inventory=FILES / "inventory.yml",
        extra_vars={"kilo_test_kubeconfig": str(tmp_path / "missing-kubeconfig")},
        check=False,
    )
    assert proc.returncode != 0
    assert (
        "kilo.mesh.topology: source=cluster needs the 'kubernetes' Python library" in proc.stdout
        or "kilo.mesh.topology: could not read the cluster" in proc.stdout
    ), proc.stdout
    assert "Traceback" not in proc.stdout


# --- node= and the raw-variable key: every host calls the lookup for itself -------------------------
def _engine_views(change: dict[str, str] | None = None) -> dict:
    """What the engine computes for S1 (optionally with one node's location changed), as JSON data."""
    from topology import build_topology

    nodes = json.loads((FIXTURES / "s1.json").read_text())["nodes"]
    for node in nodes:
        if change and node["name"] in change:
            node["location"] = change[node["name"]]
    return json.loads(json.dumps(build_topology(nodes=nodes, peers=[]).to_dict()["nodes"]))


def _run_per_node(tmp_path, playbook_runner, inventory: Path, change: str) -> tuple[dict, list[str]]:
    out = tmp_path / "out"
    out.mkdir()
    proc = playbook_runner(
        FILES / "per_node.yml",
        "-vvv",
        "--forks",
        "1",  # one host after the other: which call computes and which reuses is then fixed
        inventory=inventory,
        extra_vars={"kilo_test_out": str(out), "kilo_test_change": change},
    )
    views = {host: json.loads((out / f"{host}.json").read_text()) for host in HOSTS}
    assert (
        "node 'no-such-node' is not in the mesh (6 nodes: aws-1, aws-2, bare-1, edge-1, gcp-1, ...)"
        in (out / "unknown.txt").read_text()
    )
    lines = [line for line in proc.stdout.splitlines() if "kilo.mesh.topology:" in line and "topology" in line]
    return views, lines


def _node_name(host: str) -> str:
    return "aws-1" if host == "aws-1.example.internal" else host


def test_every_host_reads_its_node_and_a_changed_variable_recomputes(tmp_path, playbook_runner):
    """Plain kilo_* values: after the first computation each call templates the inputs and reuses the
    cached topology; a set_fact of kilo_location between two reads gives a new topology, and every
    host's entry is exactly the engine's view of the mesh it describes."""
    inventory = tmp_path / "inventory.yml"
    source = (FILES / "inventory.yml").read_text()
    assert 'kilo_location: "{{ gcp_location }}"' in source
    inventory.write_text(source.replace('kilo_location: "{{ gcp_location }}"', "kilo_location: gcp-east"))
    views, lines = _run_per_node(tmp_path, playbook_runner, inventory, "location")
    before, after = _engine_views(), _engine_views({"bare-1": "aws"})
    assert before != after
    for host in HOSTS:
        assert views[host]["before"] == before[_node_name(host)], host
        assert views[host]["after"] == after[_node_name(host)], host
    assert views["bare-1"]["after"]["location"] == "aws"
    computed = [line for line in lines if "computed topology" in line]
    reused = [line for line in lines if "reused topology" in line]
    assert len(computed) == 2 and computed[0] != computed[1], "\n".join(lines)
    # five reuses per read, and the run_once call for an unknown node
    assert len(reused) == 2 * (len(HOSTS) - 1) + 1, "\n".join(lines)


def test_templated_variables_are_templated_on_every_call(tmp_path, playbook_runner):
    """gcp-2's kilo_location is "{{ gcp_location }}": a change of gcp_location (not a kilo_* variable)
    must move gcp-2: every call templates the variables, so no call reuses a stale topology."""
    views, lines = _run_per_node(tmp_path, playbook_runner, FILES / "inventory.yml", "template")
    before, after = _engine_views(), _engine_views({"gcp-2": "aws"})
    for host in HOSTS:
        assert views[host]["before"] == before[_node_name(host)], host
        assert views[host]["after"] == after[_node_name(host)], host
    assert views["gcp-2"]["after"]["location"] == "aws"
    assert len([line for line in lines if "computed topology" in line]) == 2, "\n".join(lines)


def test_a_granularity_typo_lists_the_valid_values(tmp_path):
    """A misspelt granularity fails with the valid values (ansible-core's own choices check names none)."""
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible"),
            "localhost",
            "-m",
            "ansible.builtin.debug",
            "-a",
            "msg={{ lookup('kilo.mesh.topology', nodes=[], granularity='locaton') }}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode != 0, proc.stdout
    assert "invalid value 'locaton': expected location, full or cross (experimental)" in proc.stdout, proc.stdout
