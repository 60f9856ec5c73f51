# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""kilo.mesh.topology with source=cluster against the Kubernetes API stand-in seeded with scenario S1."""

from __future__ import annotations

import json
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
FILES = TESTS / "integration" / "files" / "lookup"
GOLDEN = TESTS / "unit" / "plugins" / "module_utils" / "topology" / "golden"


def test_cluster_source_s1(playbook_runner, s1):
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
