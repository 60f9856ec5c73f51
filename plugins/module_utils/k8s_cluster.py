# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Read Kilo's inputs from a live cluster (Nodes and kilo.squat.ai/v1alpha1 Peers).

Private to the collection. Runs on the controller (lookup, inventory plugin). Needs the ``kubernetes``
Python client; the conversion itself is the pure :mod:`topology.kube`.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional, Tuple

try:
    from ansible_collections.kilo.mesh.plugins.module_utils.topology import kube
except ImportError:  # plain pytest: plugins/module_utils is on sys.path
    from topology import kube  # type: ignore[no-redef,unused-ignore]

PEER_GROUP = "kilo.squat.ai"
PEER_VERSION = "v1alpha1"
PEER_PLURAL = "peers"


class ClusterReadError(RuntimeError):
    """The cluster could not be read (no client library, bad kubeconfig, API error)."""


def _api_client(kubeconfig: Optional[str], context: Optional[str]) -> Any:
    try:
        from kubernetes import config
    except ImportError as exc:
        raise ClusterReadError(
            "the 'kubernetes' Python library is required to read the cluster: pip install kubernetes"
        ) from exc
    try:
        return config.new_client_from_config(config_file=kubeconfig, context=context)
    except Exception as exc:  # ConfigException, FileNotFoundError, ...
        raise ClusterReadError(
            f"cannot load kubeconfig {kubeconfig or '(default)'} context {context or '(current)'}: {exc}"
        ) from exc


def api_client(kubeconfig: Optional[str] = None, context: Optional[str] = None) -> Any:
    """A kubernetes ``ApiClient`` for ``kubeconfig``/``context``; ClusterReadError when it cannot be made.

    kilo.mesh.peer writes Peers with it, so that every part of the collection loads the kubeconfig the same way.
    """
    return _api_client(kubeconfig, context)


def list_objects(
    kubeconfig: Optional[str] = None, context: Optional[str] = None
) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Raw Node and Peer objects (plain dicts, API list order). A missing Peer CRD means no Peers."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    api = _api_client(kubeconfig, context)
    try:
        nodes = api.sanitize_for_serialization(client.CoreV1Api(api).list_node()).get("items") or []
    except ApiException as exc:
        raise ClusterReadError(f"cannot list Nodes: {exc.status} {exc.reason}") from exc
    except Exception as exc:  # connection errors
        raise ClusterReadError(f"cannot reach the API server to list Nodes: {exc}") from exc
    try:
        peers: Any = client.CustomObjectsApi(api).list_cluster_custom_object(PEER_GROUP, PEER_VERSION, PEER_PLURAL)
    except ApiException as exc:
        if exc.status != 404:
            raise ClusterReadError(f"cannot list {PEER_GROUP} Peers: {exc.status} {exc.reason}") from exc
        peers = {}
    return nodes, list(peers.get("items") or [])


def cluster_inputs(
    kubeconfig: Optional[str] = None,
    context: Optional[str] = None,
    topology_label: str = kube.DEFAULT_TOPOLOGY_LABEL,
    now: Optional[float] = None,
    check_last_seen: bool = True,
) -> Dict[str, Any]:
    """Kilo's inputs as kgctl reads them: ``nodes`` and ``peers`` in the engine's dict format (only the ones
    Kilo would use), the ``subnet`` kgctl would infer from the ``wireguard-ip`` annotations and the
    ``granularity`` of kgctl's ``auto`` mode (``kilo.squat.ai/granularity`` of the first listed Node);
    either hint is None when the cluster does not say.

    ``check_last_seen=False`` keeps nodes whose agent has not checked in within 60 s (offline snapshots).
    """
    node_objs, peer_objs = list_objects(kubeconfig, context)
    if check_last_seen and now is None:
        now = time.time()
    cutoff = now if check_last_seen else None
    nodes = [n for n in (kube.node_from_k8s(obj, topology_label, cutoff) for obj in node_objs) if n is not None]
    peers = [p for p in (kube.peer_from_k8s(obj) for obj in peer_objs) if p is not None]
    return {
        "nodes": nodes,
        "peers": peers,
        "subnet": kube.subnet_hint(node_objs),
        "granularity": kube.granularity_hint(node_objs, topology_label),
    }


def read_cluster(
    kubeconfig: Optional[str] = None,
    context: Optional[str] = None,
    topology_label: str = kube.DEFAULT_TOPOLOGY_LABEL,
    now: Optional[float] = None,
    check_last_seen: bool = True,
) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]], Optional[str]]:
    """(nodes, peers, subnet_hint) of :func:`cluster_inputs`."""
    found = cluster_inputs(kubeconfig, context, topology_label, now, check_last_seen)
    return found["nodes"], found["peers"], found["subnet"]
