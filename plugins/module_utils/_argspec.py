# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Shared argument-spec pieces of the kilo.mesh modules (private, no stable API).

Each function returns a fresh dict, so a module can change its copy. The options are documented
once, in ``plugins/doc_fragments/_kube.py``; change both files together.
"""

from __future__ import annotations

from typing import Any, Dict

from .topology.constants import (
    DEFAULT_PORT,
    DEFAULT_SUBNET,
    DEFAULT_TOPOLOGY_LABEL,
    GRANULARITIES,
    INTERFACE_NAME,
    MESH_ROUTE_PROTOCOL,
    WIREGUARD_ROUTE_PROTOCOL,
)

#: where kilo.mesh.mesh_node_record keeps its record (next to the private key, root only)
DEFAULT_STATE_FILE = "/var/lib/kilo/mesh-state.json"


def kube_argument_spec() -> Dict[str, Any]:
    """Options that say how to reach the Kubernetes API (doc fragment ``kilo.mesh._kube``)."""
    return {
        "kubeconfig": {"type": "path"},
        "context": {"type": "str"},
    }


def topology_source_argument_spec() -> Dict[str, Any]:
    """Where the mesh comes from: a live cluster or inventory data (doc fragment ``kilo.mesh._kube.topology``).

    Includes :func:`kube_argument_spec`.
    """
    spec = kube_argument_spec()
    spec.update(
        {
            "source": {"type": "str", "choices": ["cluster", "inventory"], "default": "cluster"},
            "topology_label": {"type": "str", "default": DEFAULT_TOPOLOGY_LABEL},
            "nodes": {"type": "list", "elements": "dict", "default": []},
            # suboptions, so that Ansible masks a preshared key from the start (logs, argument errors)
            "peers": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "name": {"type": "str"},
                    "allowed_ips": {"type": "list", "elements": "str"},
                    "public_key": {"type": "str"},
                    "preshared_key": {"type": "str", "no_log": True},
                    "endpoint": {"type": "str"},
                    "persistent_keepalive": {"type": "int"},
                },
            },
            "granularity": {"type": "str", "choices": list(GRANULARITIES)},
            "subnet": {"type": "str"},
            "service_cidrs": {"type": "list", "elements": "str", "default": []},
        }
    )
    return spec


def topology_from_params(params: Dict[str, Any], extra_peers: Any = ()) -> Any:
    """Build the topology the options of :func:`topology_source_argument_spec` describe.

    ``source=cluster`` reads Nodes and Peers through ``k8s_cluster.cluster_inputs`` (Kilo's readiness
    rules; without O(granularity), the nodes' granularity annotation as kgctl's ``auto`` mode reads it);
    O(peers) and ``extra_peers`` replace cluster Peers of the same name or add to them.
    ``source=inventory`` uses O(nodes) and O(peers) as given. Raises ``TopologyError`` for bad input
    and whatever ``cluster_inputs`` raises for API problems; the caller maps both to ``fail_json``.
    """
    from .topology.build import build_topology
    from .topology.errors import TopologyError

    peers_by_name: Dict[str, Any] = {}
    subnet = params.get("subnet")
    granularity = params.get("granularity")
    if params.get("source", "cluster") == "cluster":
        from .k8s_cluster import cluster_inputs

        cluster = cluster_inputs(
            kubeconfig=params.get("kubeconfig"),
            context=params.get("context"),
            topology_label=params.get("topology_label") or DEFAULT_TOPOLOGY_LABEL,
        )
        nodes = cluster["nodes"]
        if not nodes:  # kgctl's words
            raise TopologyError("did not find any valid Kilo nodes in the cluster")
        for peer in cluster["peers"]:
            peers_by_name[peer["name"]] = peer
        subnet = subnet or cluster["subnet"]
        # unset: the nodes' kilo.squat.ai/granularity annotation, like kgctl's auto mode
        granularity = granularity or cluster["granularity"]
    else:
        nodes = list(params.get("nodes") or [])
    for peer in list(params.get("peers") or []) + list(extra_peers):
        peers_by_name[peer["name"]] = peer
    return build_topology(
        nodes,
        [peers_by_name[name] for name in sorted(peers_by_name)],
        granularity=granularity or "location",
        port=params.get("port") or DEFAULT_PORT,
        subnet=subnet or DEFAULT_SUBNET,
        service_cidrs=params.get("service_cidrs") or (),
    )


def node_state_argument_spec() -> Dict[str, Any]:
    """What a mesh node's fingerprint covers (doc fragment ``kilo.mesh._node_state``)."""
    return {
        "interface": {"type": "str", "default": INTERFACE_NAME},
        "route_protocols": {
            "type": "list",
            "elements": "int",
            "default": [WIREGUARD_ROUTE_PROTOCOL, MESH_ROUTE_PROTOCOL],
        },
        "files": {"type": "list", "elements": "path", "default": []},
        "units": {"type": "list", "elements": "str", "default": []},
        "state_file": {"type": "path", "default": DEFAULT_STATE_FILE},
    }
