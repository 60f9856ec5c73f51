# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""playbooks/multicluster.yml against two Kubernetes API stand-ins (Kilo's multi-cluster services).

Expected Peers are written by hand from docs/kilo/config-formats.md#as-peer (node --as-peer: the segment's pod
CIDRs and internal IPs in node-name order, then its WireGuard IP, then --allowed-ips; leader endpoint and key).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from kilo_objects import CRD, GROUP, PLURAL, VERSION, key

REPO = Path(__file__).resolve().parents[2]
SOURCE_LABEL = "kilo.mesh/multicluster-source"


def node(name: str, location: str, endpoint: str, internal_ip: str, pod_cidr: str, key_index: int, **extra) -> dict:
    annotations = {
        "kilo.squat.ai/location": location,
        "kilo.squat.ai/endpoint": endpoint,
        "kilo.squat.ai/internal-ip": internal_ip,
        "kilo.squat.ai/key": key(key_index),
        # an hour ahead: stays "fresh" (now - last-seen < 60) however slow the machine is
        "kilo.squat.ai/last-seen": str(int(time.time()) + 3600),
        "kilo.squat.ai/granularity": "location",
    }
    annotations.update({"kilo.squat.ai/" + k.replace("_", "-"): v for k, v in extra.items()})
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"podCIDR": pod_cidr},
    }


CLUSTER1 = [
    node("eu-1", "eu", "198.51.100.21:51820", "10.10.1.21/24", "10.42.1.0/24", 1),
    node("eu-2", "eu", "198.51.100.22:51820", "10.10.1.22/24", "10.42.2.0/24", 2),
    node("us-1", "us", "198.51.100.23:51820", "10.10.2.23/24", "10.42.3.0/24", 3),
]
# cluster 2 runs Kilo with --subnet 10.6.0.0/16 (its agent's wireguard-ip annotation says so)
CLUSTER2 = [node("c2-a", "x", "203.0.113.5:51820", "10.20.1.5/24", "10.60.1.0/24", 9, wireguard_ip="10.6.0.1/16")]


def stored_peers(api) -> dict:
    from kubernetes import client

    items = client.CustomObjectsApi(api.client()).list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"]
    return {item["metadata"]["name"]: item for item in items}


@pytest.fixture()
def two_clusters(kube, kube_api, tmp_path):
    from kubernetes import client

    workdir = tmp_path / "cluster2-api"
    workdir.mkdir()
    second = type(kube_api)(workdir)  # a second API server: the other cluster
    try:
        kube.reset(CLUSTER1)
        second.reset(CLUSTER2)
        for api in (kube, second):
            client.ApiextensionsV1Api(api.client()).create_custom_resource_definition(CRD)
        yield kube, second
    finally:
        second.stop()


def run(playbook_runner, first, second, check: bool = True, **extra):
    clusters = [
        {"name": "cluster1", "kubeconfig": first.kubeconfig, "service_cidr": "10.43.0.0/16"},
        {"name": "cluster2", "kubeconfig": second.kubeconfig, "service_cidr": "10.96.0.0/12"},
    ]
    extra_vars = {
        "kilo_multicluster_clusters": clusters,
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
    }
    extra_vars.update(extra)
    return playbook_runner(
        REPO / "playbooks" / "multicluster.yml",
        inventory="localhost,",
        extra_vars=dict(extra_vars, ansible_connection="local"),
        check=check,
    )


def test_each_cluster_gets_the_other_clusters_leaders_as_peers(playbook_runner, two_clusters) -> None:
    first, second = two_clusters
    run(playbook_runner, first, second)

    in_cluster2 = stored_peers(second)
    assert set(in_cluster2) == {"eu-1", "us-1"}  # eu-2 is not a leader
    assert in_cluster2["eu-1"]["spec"] == {
        "allowedIPs": ["10.42.1.0/24", "10.10.1.21/32", "10.42.2.0/24", "10.10.1.22/32", "10.4.0.1/32", "10.43.0.0/16"],
        "endpoint": {"dnsOrIP": {"ip": "198.51.100.21"}, "port": 51820},
        "publicKey": key(1),
    }
    assert in_cluster2["us-1"]["spec"] == {
        "allowedIPs": ["10.42.3.0/24", "10.10.2.23/32", "10.4.0.2/32"],
        "endpoint": {"dnsOrIP": {"ip": "198.51.100.23"}, "port": 51820},
        "publicKey": key(3),
    }
    assert in_cluster2["eu-1"]["metadata"]["labels"][SOURCE_LABEL] == "cluster1"

    in_cluster1 = stored_peers(first)
    assert set(in_cluster1) == {"c2-a"}
    assert in_cluster1["c2-a"]["spec"] == {
        "allowedIPs": ["10.60.1.0/24", "10.20.1.5/32", "10.6.0.1/32", "10.96.0.0/12"],
        "endpoint": {"dnsOrIP": {"ip": "203.0.113.5"}, "port": 51820},
        "publicKey": key(9),
    }

    again = run(playbook_runner, first, second)
    assert re.search(r"localhost\s+:\s+ok=\d+\s+changed=0\b", again.stdout), again.stdout

    # us-1 leaves cluster 1: its Peer disappears from cluster 2, nothing else changes
    from kubernetes import client

    client.CoreV1Api(first.client()).delete_node("us-1")
    run(playbook_runner, first, second)
    assert set(stored_peers(second)) == {"eu-1"}
    assert set(stored_peers(first)) == {"c2-a"}


def test_clusters_with_the_same_kilo_subnet_are_refused(playbook_runner, two_clusters) -> None:
    first, second = two_clusters
    from kubernetes import client

    second.reset([node("c2-a", "x", "203.0.113.5:51820", "10.20.1.5/24", "10.60.1.0/24", 9)])  # default subnet
    client.ApiextensionsV1Api(second.client()).create_custom_resource_definition(CRD)  # reset drops CRDs
    result = run(playbook_runner, first, second, check=False)
    assert result.returncode != 0
    assert (
        "field allowed_ips has invalid value '10.4.0.1/32': it overlaps the WireGuard subnet 10.4.0.0/16"
        in result.stdout
    )
    assert stored_peers(first) == {} and stored_peers(second) == {}
