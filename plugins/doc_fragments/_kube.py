# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Documentation of the options built by ``plugins/module_utils/_argspec.py`` (private fragment)."""

from __future__ import annotations


class ModuleDocFragment:
    # kube_argument_spec()
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to the kubeconfig file used to reach the Kubernetes API.
      - When not set, the E(KUBECONFIG) environment variable is used, then V(~/.kube/config),
        like kubectl and kgctl do.
    type: path
  context:
    description:
      - Name of the kubeconfig context to use.
      - When not set, the kubeconfig's current context is used.
    type: str
requirements:
  - The V(kubernetes) Python library (on the host that runs the module, usually the controller).
notes:
  - The module talks to the Kubernetes API from the host it runs on; run it on the controller
    (C(delegate_to=localhost)) or on a control-plane host.
"""

    # topology_source_argument_spec(), includes DOCUMENTATION above
    TOPOLOGY = r"""
options:
  source:
    description:
      - Where the mesh comes from.
      - V(cluster) reads the Nodes and Peers of a live cluster (with Kilo's annotations and readiness rules,
        like kgctl); O(kubeconfig) and O(context) select the cluster.
      - V(inventory) uses O(nodes) and O(peers) as given (every node counts as ready).
    type: str
    choices: [cluster, inventory]
    default: cluster
  topology_label:
    description:
      - Node label used as the location when a node has no V(kilo.squat.ai/location) annotation
        (kgctl --topology-label). Only used with O(source=cluster).
    type: str
    default: topology.kubernetes.io/region
  nodes:
    description:
      - Mesh nodes when O(source=inventory), as the V(nodes) input of the P(kilo.mesh.topology#lookup) lookup
        (V(name), V(location), V(endpoint), V(internal_ip), V(pod_cidr), V(public_key), V(leader),
        V(persistent_keepalive), V(allowed_location_ips)).
    type: list
    elements: dict
    default: []
  peers:
    description:
      - Peers when O(source=inventory) (V(name), V(allowed_ips), V(public_key), V(preshared_key),
        V(endpoint), V(persistent_keepalive)).
      - With O(source=cluster) they are added to the cluster's Peers (a name already in the cluster replaces it).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the peer.
        type: str
      allowed_ips:
        description: The peer's allowed IPs (CIDRs).
        type: list
        elements: str
      public_key:
        description: The peer's WireGuard public key.
        type: str
      preshared_key:
        description: Optional preshared key; never logged.
        type: str
      endpoint:
        description: Optional endpoint of the peer (V(host:port)).
        type: str
      persistent_keepalive:
        description: Persistent keepalive interval in seconds (V(0) for none).
        type: int
  granularity:
    description:
      - Mesh granularity (kg --mesh-granularity); V(cross) is experimental.
      - When not set, with O(source=cluster) the nodes' C(kilo.squat.ai/granularity) annotation is used like
        kgctl's V(auto) does, otherwise V(location).
    type: str
    choices: [location, full, cross]
  subnet:
    description:
      - WireGuard subnet (kg --subnet).
      - When not set, with O(source=cluster) it is inferred like kgctl does (the last node's
        V(kilo.squat.ai/wireguard-ip) annotation), otherwise V(10.4.0.0/16).
    type: str
  service_cidrs:
    description:
      - Service CIDRs of the cluster (kg --service-cidr).
    type: list
    elements: str
    default: []
"""
