# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""read_cluster() and the kilo.mesh.nodes inventory plugin against the Kubernetes API stand-in."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import k8s_cluster
from kubeapi import make_node

NOW = 1_800_000_000
KEY1 = base64.b64encode(bytes([1]) * 32).decode()
KEY2 = base64.b64encode(bytes([2]) * 32).decode()
KEY9 = base64.b64encode(bytes([9]) * 32).decode()


def _agent(endpoint, key, last_seen=NOW - 10, **extra):
    ann = {"kilo.squat.ai/endpoint": endpoint, "kilo.squat.ai/key": key, "kilo.squat.ai/last-seen": str(last_seen)}
    ann.update({"kilo.squat.ai/" + k: v for k, v in extra.items()})
    return ann


NODES = [
    make_node(
        "gcp-1",
        "10.240.0.2",
        "10.2.0.0/24",
        "gcp-east",
        annotations=_agent("34.1.1.1:51820", KEY1, **{"internal-ip": "10.240.0.2/24", "wireguard-ip": "10.4.0.3/16"}),
    ),
    make_node(
        "aws-1",
        "172.31.0.5",
        "10.2.2.7/24",
        "us-east-1",
        annotations=_agent(
            "172.31.0.5:51820",
            KEY2,
            **{
                "location": "aws",
                "force-endpoint": "54.2.2.2:51821",
                "leader": "",
                "persistent-keepalive": "25",
                "allowed-location-ips": "172.31.100.0/24, 192.168.50.7/32",
            },
        ),
    ),
    make_node("stale", "10.0.0.9", "10.2.9.0/24", "eu", annotations=_agent("9.9.9.9:51820", KEY9, last_seen=NOW - 60)),
]

PEER_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "peers.kilo.squat.ai"},
    "spec": {
        "group": "kilo.squat.ai",
        "scope": "Cluster",
        "names": {"kind": "Peer", "listKind": "PeerList", "plural": "peers", "singular": "peer"},
        "versions": [{"name": "v1alpha1", "served": True, "storage": True}],
    },
}


def _peer(name, spec):
    return {"apiVersion": "kilo.squat.ai/v1alpha1", "kind": "Peer", "metadata": {"name": name}, "spec": spec}


def _seed_peers(kube):
    from kubernetes import client

    api = kube.client()
    client.ApiextensionsV1Api(api).create_custom_resource_definition(PEER_CRD)
    custom = client.CustomObjectsApi(api)
    for peer in (
        _peer(
            "laptop",
            {
                "allowedIPs": ["10.5.0.1/32"],
                "publicKey": KEY9,
                "persistentKeepalive": 10,
                "endpoint": {"dnsOrIP": {"ip": "1.2.3.4", "dns": "peer.example.net"}, "port": 1234},
            },
        ),
        _peer("broken", {"allowedIPs": ["nope"], "publicKey": KEY9}),
    ):
        custom.create_cluster_custom_object("kilo.squat.ai", "v1alpha1", "peers", peer)


def test_read_cluster(kube):
    kube.reset(NODES)
    _seed_peers(kube)
    nodes, peers, hint = k8s_cluster.read_cluster(kubeconfig=kube.kubeconfig, now=NOW)
    assert nodes == [
        {
            "name": "gcp-1",
            "location": "gcp-east",
            "endpoint": "34.1.1.1:51820",
            "internal_ip": "10.240.0.2/24",
            "pod_cidr": "10.2.0.0/24",
            "public_key": KEY1,
            "leader": False,
            "persistent_keepalive": 0,
            "allowed_location_ips": [],
            "discovered_endpoints": {},
        },
        {
            "name": "aws-1",
            "location": "aws",
            "endpoint": "54.2.2.2:51821",
            "internal_ip": None,
            "pod_cidr": "10.2.2.0/24",
            "public_key": KEY2,
            "leader": True,
            "persistent_keepalive": 25,
            "allowed_location_ips": ["172.31.100.0/24"],
            "discovered_endpoints": {},
        },
    ], "the stale node (last seen 60 s ago) is left out"
    assert peers == [
        {
            "name": "laptop",
            "allowed_ips": ["10.5.0.1/32"],
            "public_key": KEY9,
            "preshared_key": None,
            "endpoint": "peer.example.net:1234",
            "persistent_keepalive": 10,
        }
    ]
    assert hint == "10.4.0.0/16"


def test_read_cluster_without_freshness_check_and_no_peers(kube):
    kube.reset(NODES)
    nodes, peers, _hint = k8s_cluster.read_cluster(kubeconfig=kube.kubeconfig, check_last_seen=False)
    assert [n["name"] for n in nodes] == ["gcp-1", "aws-1", "stale"]
    assert peers == []


def test_read_cluster_topology_label(kube):
    kube.reset(NODES)
    nodes = k8s_cluster.read_cluster(kubeconfig=kube.kubeconfig, topology_label="kubernetes.io/hostname", now=NOW)[0]
    assert [n["location"] for n in nodes] == ["gcp-1", "aws"]


def test_read_cluster_unreachable(tmp_path):
    config = tmp_path / "kubeconfig"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "x", "cluster": {"server": "http://127.0.0.1:9"}}],
                "users": [{"name": "x", "user": {"token": "x"}}],
                "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}],
                "current-context": "x",
            }
        )
    )
    try:
        k8s_cluster.read_cluster(kubeconfig=str(config))
    except k8s_cluster.ClusterReadError as exc:
        assert "cannot reach the API server" in str(exc)
    else:
        raise AssertionError("no error")


def _unwrap(obj):
    """ansible-inventory 2.19 prints inventory-plugin strings as {"__ansible_unsafe": value}."""
    return obj["__ansible_unsafe"] if set(obj) == {"__ansible_unsafe"} else obj


def test_inventory_plugin(kube, tmp_path):
    kube.reset(NODES)
    inventory = tmp_path / "kilo_nodes.yml"
    inventory.write_text(
        f"""---
plugin: kilo.mesh.nodes
kubeconfig: {kube.kubeconfig}
keyed_groups:
  - key: kilo_leader | string
    prefix: leader
compose:
  kilo_site: kilo_location | upper
"""
    )
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(inventory), "--list"],
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1", "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "1"},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout, object_hook=_unwrap)
    assert sorted(data["kilo"]["hosts"]) == ["aws-1", "gcp-1", "stale"]
    assert data["kilo_location_aws"]["hosts"] == ["aws-1"]
    assert data["kilo_location_gcp_east"]["hosts"] == ["gcp-1"]
    assert data["leader_True"]["hosts"] == ["aws-1"]
    aws = data["_meta"]["hostvars"]["aws-1"]
    assert aws["ansible_host"] == "172.31.0.5"
    assert aws["kilo_endpoint"] == "54.2.2.2:51821"
    assert aws["kilo_pod_cidr"] == "10.2.2.0/24"
    assert aws["kilo_public_key"] == KEY2
    assert aws["kilo_persistent_keepalive"] == 25
    assert aws["kilo_allowed_location_ips"] == ["172.31.100.0/24"]
    assert aws["kilo_site"] == "AWS"
    assert data["_meta"]["hostvars"]["gcp-1"]["kilo_internal_ip"] == "10.240.0.2/24"
    assert data["_meta"]["hostvars"]["gcp-1"]["kilo_wireguard_ip"] == "10.4.0.3/16"
