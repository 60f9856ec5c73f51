# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Kilo objects shared by the k8s tests: the Peer CRD, test keys, and scenario S1 (docs/kilo/examples.md#scenario-s1) as
Nodes and Peers."""

from __future__ import annotations

import base64
import json
import time

GROUP, VERSION, PLURAL = "kilo.squat.ai", "v1alpha1", "peers"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "peers.kilo.squat.ai"},
    "spec": {
        "group": GROUP,
        "names": {"kind": "Peer", "listKind": "PeerList", "plural": PLURAL, "singular": "peer"},
        "scope": "Cluster",
        "versions": [{"name": VERSION, "served": True, "storage": True, "schema": {"openAPIV3Schema": {}}}],
    },
}


def key(i: int) -> str:
    return base64.b64encode(bytes([i]) * 32).decode()


# --- scenario S1 as Kubernetes objects (docs/kilo/examples.md#scenario-s1, API list order = table order) -


def s1_nodes(now: int) -> list[dict]:
    def node(name, pod_cidr, labels=None, **annotations):
        base = {"key": None, "last-seen": str(now), "granularity": "location"}
        base.update(annotations)
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": dict(labels or {}),
                "annotations": {"kilo.squat.ai/" + k.replace("_", "-"): v for k, v in base.items()},
            },
            "spec": {"podCIDR": pod_cidr},
        }

    region = "topology.kubernetes.io/region"
    nodes = [
        node(
            "gcp-1",
            "10.2.0.0/24",
            {region: "gcp-east"},
            endpoint="34.1.1.1:51820",
            internal_ip="10.240.0.2/24",
            key=key(1),
            wireguard_ip="10.4.0.3/16",
        ),
        node(
            "gcp-2",
            "10.2.1.0/24",
            {region: "gcp-east"},
            endpoint="10.240.0.3:51820",
            internal_ip="10.240.0.3/24",
            key=key(2),
        ),
        node(
            "aws-1",
            "10.2.2.0/24",
            {region: "us-east-1"},
            location="aws",
            force_endpoint="54.2.2.2:51821",
            endpoint="172.31.0.5:51820",
            internal_ip="172.31.0.5/20",
            key=key(3),
            persistent_keepalive="25",
            allowed_location_ips="172.31.100.0/24,192.168.50.7/32",
        ),
        node(
            "aws-2",
            "10.2.3.0/24",
            location="aws",
            endpoint="172.31.0.6:51820",
            internal_ip="172.31.0.6/20",
            key=key(4),
            leader="",
        ),
        node(
            "edge-1",
            "10.2.4.0/24",
            force_endpoint="edge.example.com:51820",
            endpoint="100.64.0.9:51820",
            force_internal_ip="-",
            internal_ip="192.168.7.2/24",
            key=key(5),
            persistent_keepalive="10",
            discovered_endpoints=json.dumps({key(3): {"IP": "54.2.2.99", "Port": 40000, "Zone": ""}}),
        ),
        node("bare-1", "10.2.5.0/24", endpoint="[2001:db8::10]:51820", internal_ip="192.168.1.10/24", key=key(6)),
        node(
            "stale-1",
            "10.2.6.0/24",
            endpoint="5.5.5.5:51820",
            internal_ip="192.168.1.11/24",
            key=key(7),
            last_seen="1000",
            wireguard_ip="10.4.0.9/16",
        ),
    ]
    return nodes


S1_PEERS = {
    "laptop": {"allowedIPs": ["10.5.0.1/32"], "publicKey": key(101), "persistentKeepalive": 10},
    "office": {
        "allowedIPs": ["10.5.0.2/32", "192.168.50.0/24"],
        "publicKey": key(102),
        "presharedKey": key(200),
        "endpoint": {"dnsOrIP": {"ip": "203.0.113.9"}, "port": 51820},
    },
}


def seed_s1(kube):
    """Seed scenario S1 with a fresh last-seen.

    Readiness needs ``now - last-seen < 60``; the stamp is an hour ahead so a slow, loaded machine cannot age it out
    while the playbook runs (kgctl accepts it the same way). stale-1 keeps its old stamp.
    """
    from kubernetes import client

    kube.reset(s1_nodes(int(time.time()) + 3600))
    api = kube.client()
    client.ApiextensionsV1Api(api).create_custom_resource_definition(CRD)
    custom = client.CustomObjectsApi(api)
    for name, spec in S1_PEERS.items():
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Peer", "metadata": {"name": name}, "spec": spec}
        custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, body)
    return kube
