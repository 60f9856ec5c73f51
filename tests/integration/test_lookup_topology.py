# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""kilo.mesh.topology through real ansible-playbook runs (inventory S1 of the SPEC, section 7.2)."""

from __future__ import annotations

import json
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


# --- source=cluster against the kmock Kubernetes API stand-in (fixtures of tests/k8s) ---------------
# fixtures (s1: scenario S1 as Nodes and Peers)
from tests.k8s.conftest import kube, kube_api  # noqa: E402,F401  # pylint: disable=unused-import
from tests.k8s.test_showconf import s1  # noqa: E402,F401  # pylint: disable=unused-import


def test_cluster_source_s1(tmp_path, playbook_runner, s1):  # noqa: F811
    """Nodes/Peers read from the API with Kilo's annotation rules give exactly kgctl's outputs."""
    proc = playbook_runner(
        FILES / "cluster.yml",
        inventory=FILES / "inventory.yml",
        extra_vars={"kilo_test_kubeconfig": s1.kubeconfig},
        env={"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json"},
    )
    out = proc.stdout
    result = json.loads(out[out.index("{") :])["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"]
    assert sorted(result["nodes"]) == ["aws-1", "aws-2", "bare-1", "edge-1", "gcp-1", "gcp-2"]  # stale-1 not ready
    assert result["subnet"] == "10.4.0.0/16"
    assert result["nodes"]["gcp-1"]["conf"] == (GOLDEN / "s1_node_gcp-1.conf").read_text()
    assert result["nodes"]["edge-1"]["conf"] == (GOLDEN / "s1_node_edge-1.conf").read_text()
    assert result["peers"]["laptop"]["conf"] == (GOLDEN / "s1_peer_laptop.conf").read_text()
    assert result["peers"]["office"]["conf"] == (GOLDEN / "s1_peer_office.conf").read_text()
