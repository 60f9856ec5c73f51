# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Dual-licensed: Apache License 2.0 (see LICENSES/Apache-2.0.txt) or
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright: (c) 2026, kilo.mesh contributors
from __future__ import annotations

DOCUMENTATION = r"""
---
name: topology
short_description: Compute a Kilo mesh topology (WireGuard configs, leaders, routes) for all nodes
version_added: 0.1.0
author:
  - kilo.mesh contributors (@kilo-mesh)
description:
  - Computes the whole mesh exactly like Kilo (segments, leaders, WireGuard IPs, allowed IPs,
    allowed location IPs, peers, routes) in one pass and returns every node's and peer's view.
  - Without O(nodes), the nodes are built from B(all) hosts of O(group) in the inventory, also under
    V(--limit), from their V(kilo_*) host variables (see O(group)).
  - The result is cached for the run (in memory and in the run's private local temporary directory, which
    forked workers share), keyed by a hash of all inputs, so many hosts calling the lookup with the same
    inputs compute the topology once. With V(-vvv) the lookup says whether it computed or reused it.
  - Terms are not used; call the lookup without terms and pass everything as options.
options:
  nodes:
    description:
      - Mesh nodes as dicts with the keys V(name), V(location), V(endpoint) (V(host:port),
        V([v6]:port) or V(dns-name:port)), V(internal_ip) (CIDR with host bits, or empty for none),
        V(pod_cidr), V(public_key), V(leader), V(persistent_keepalive), V(allowed_location_ips)
        and optionally V(discovered_endpoints).
      - When omitted (and O(source=inventory)), nodes are read from the hosts of O(group).
    type: list
    elements: dict
  peers:
    description:
      - Kilo Peers as dicts with the keys V(name), V(allowed_ips), V(public_key), V(preshared_key),
        V(endpoint) and V(persistent_keepalive).
    type: list
    elements: dict
    default: []
  granularity:
    description:
      - How nodes are grouped into segments. V(cross) is experimental (unmerged upstream pull request 490).
    type: str
    choices: [location, full, cross]
    default: location
  port:
    description: WireGuard listen port printed in node configurations.
    type: int
    default: 51820
  subnet:
    description: Pool of WireGuard IPs; the i-th segment gets network address + i + 1.
    type: str
    default: 10.4.0.0/16
  service_cidrs:
    description: Kubernetes service CIDRs; peer allowed IPs must not overlap them.
    type: list
    elements: str
    default: []
  persistent_keepalive:
    description: Persistent keepalive in seconds for nodes that set none.
    type: int
    default: 0
  routes:
    description:
      - Include each node's V(routes) and V(rules) (encapsulation V(never), local routes on).
      - Followers carry one route per remote pod CIDR, so for thousands of nodes the output grows
        with the square of the cluster size; set V(false) when only configurations are needed.
    type: bool
    default: true
  group:
    description:
      - Inventory group whose hosts are the mesh nodes when O(nodes) is not given.
      - "Host variables read: V(kilo_node_name) (default: the inventory hostname), V(kilo_location),
        V(kilo_endpoint), V(kilo_internal_ip), V(kilo_pod_cidr), V(kilo_leader),
        V(kilo_persistent_keepalive), V(kilo_allowed_location_ips) and V(kilo_public_key)
        (registered by M(kilo.mesh.wireguard_key)). V(kilo_allowed_location_ips) is a list or a comma-separated
        string (spaces allowed, unlike Kilo's annotation)."
    type: str
    default: kilo
  source:
    description:
      - Where the nodes and peers come from when O(nodes) is not given.
      - V(inventory) reads host variables of O(group). V(cluster) reads Kubernetes Nodes and Kilo Peers
        (annotations as in Kilo, only ready nodes) with the V(kubernetes) Python library; the subnet kgctl
        would infer from the V(kilo.squat.ai/wireguard-ip) annotations is used unless O(subnet) is given.
      - With V(cluster), O(peers) replaces the cluster's Peers when given.
    type: str
    choices: [inventory, cluster]
    default: inventory
  kubeconfig:
    description: Path of the kubeconfig file for O(source=cluster) (default of the V(kubernetes) library).
    type: path
  context:
    description: Kubeconfig context for O(source=cluster).
    type: str
  topology_label:
    description:
      - Node label used as location when the V(kilo.squat.ai/location) annotation is absent (O(source=cluster)).
    type: str
    default: topology.kubernetes.io/region
notes:
  - Errors of the inputs (invalid CIDR, endpoint or key, duplicate names or keys, overlapping pod CIDRs,
    subnet too small, ...) fail the task with a message naming the node or peer, the field and the value.
  - Endpoints follow Kilo's parser; a node without an endpoint is an error (Kilo would leave it out).
seealso:
  - name: Kilo
    description: The Kubernetes WireGuard mesh this collection reproduces.
    link: https://github.com/squat/kilo
"""

EXAMPLES = r"""
---
- name: Compute the mesh once and keep it as a fact
  ansible.builtin.set_fact:
    mesh_topology: "{{ lookup('kilo.mesh.topology', group='kilo', persistent_keepalive=25) }}"

- name: Show this node's WireGuard configuration (leaders only; empty for other nodes)
  ansible.builtin.debug:
    msg: "{{ mesh_topology.nodes[kilo_node_name | default(inventory_hostname)].conf }}"

- name: Compute from explicit data, full granularity
  ansible.builtin.debug:
    msg: "{{ lookup('kilo.mesh.topology', nodes=my_nodes, peers=my_peers, granularity='full') }}"

- name: Compute from a live cluster (needs the kubernetes Python library)
  ansible.builtin.set_fact:
    kilo_cluster_topology: "{{ lookup('kilo.mesh.topology', source='cluster', kubeconfig='~/.kube/config') }}"
"""

RETURN = r"""
_raw:
  description: One element, the topology.
  type: list
  elements: dict
  contains:
    nodes:
      description: Per node name, its view of the mesh.
      type: dict
      sample:
        gcp-1:
          conf: "[Interface]\nListenPort = 51820\n\n[Peer]\n..."
          wireguard_ip: 10.4.0.3/16
          leader: gcp-1
          is_leader: true
          segment: location:gcp-east
          location: gcp-east
          interface: {address: 10.4.0.3/16, listen_port: 51820}
          peers:
            - {public_key: "BgYG...=", allowed_ips: [10.2.5.0/24, 192.168.1.10/32, 10.4.0.1/32],
               endpoint: "[2001:db8::10]:51820", persistent_keepalive: 0, preshared_key: null}
          routes:
            - {dst: 10.2.5.0/24, via: 10.4.0.1, dev: kilo0, src: 10.240.0.2, onlink: true, table: null}
          rules: []
    peers:
      description: Per peer name, V(conf) (kgctl showconf peer) and its own V(allowed_ips).
      type: dict
      sample:
        laptop: {conf: "[Peer]\n...", allowed_ips: [10.5.0.1/32]}
    segments:
      description: Segments in order with key, leader, WireGuard IP, allowed IPs, location IPs and nodes.
      type: list
      elements: dict
    granularity:
      description: The granularity used.
      type: str
      sample: location
    port:
      description: The listen port used.
      type: int
      sample: 51820
    subnet:
      description: The WireGuard subnet used.
      type: str
      sample: 10.4.0.0/16
    service_cidrs:
      description: The service CIDRs used.
      type: list
      elements: str
"""

import hashlib
import json
import os
import pickle
import tempfile
from collections import OrderedDict
from typing import Any

from ansible import constants as C
from ansible.errors import AnsibleLookupError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

from ansible_collections.kilo.mesh.plugins.module_utils.topology import TopologyError, build_topology

#: inventory host variable -> engine node field
HOST_VARS = {
    "kilo_location": "location",
    "kilo_endpoint": "endpoint",
    "kilo_internal_ip": "internal_ip",
    "kilo_pod_cidr": "pod_cidr",
    "kilo_leader": "leader",
    "kilo_persistent_keepalive": "persistent_keepalive",
    "kilo_allowed_location_ips": "allowed_location_ips",
    "kilo_public_key": "public_key",
}
_CACHE: OrderedDict[str, dict] = OrderedDict()
_CACHE_SIZE = 8
_FILE_PREFIX = "kilo-mesh-topology-"
display = Display()


def _canonical(value: Any) -> Any:
    """Plain JSON types (templated values may be wrapped types of ansible-core)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _cache_dir() -> str | None:
    """The run's private local temp dir (created by the main process, shared by forked workers,
    removed when ansible-playbook exits); None when it is not usable."""
    path = getattr(C, "DEFAULT_LOCAL_TMP", None)
    return path if isinstance(path, str) and os.path.isdir(path) else None


class _FileLock:
    """An exclusive ``flock`` on ``<cache dir>/<prefix><digest>.lock`` (no-op where unavailable)."""

    def __init__(self, digest: str) -> None:
        self.path = None
        directory = _cache_dir()
        if directory is not None and fcntl is not None:
            self.path = os.path.join(directory, _FILE_PREFIX + digest + ".lock")
        self.handle: Any = None

    def __enter__(self) -> _FileLock:
        if self.path is not None:
            try:
                self.handle = open(self.path, "a")  # noqa: SIM115 - closed in __exit__
                fcntl.flock(self.handle, fcntl.LOCK_EX)
            except OSError:
                self.handle = None
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()


def _read_cache_file(digest: str) -> dict | None:
    directory = _cache_dir()
    if directory is None:
        return None
    try:
        with open(os.path.join(directory, _FILE_PREFIX + digest + ".pickle"), "rb") as handle:
            data = pickle.load(handle)
    except (OSError, ValueError, EOFError, pickle.UnpicklingError):
        return None
    return data if isinstance(data, dict) else None


def _write_cache_file(digest: str, result: dict) -> None:
    """Atomic write so that parallel workers never read half a file; keeps the newest entries only."""
    directory = _cache_dir()
    if directory is None:
        return
    try:
        handle, temp = tempfile.mkstemp(prefix=_FILE_PREFIX, suffix=".tmp", dir=directory)
        with os.fdopen(handle, "wb") as stream:
            # pickle, not JSON: it keeps the route lists that nodes share shared (12x smaller and
            # 20x faster to load for 500 nodes); the directory is private to this run (mode 0700)
            pickle.dump(result, stream, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temp, os.path.join(directory, _FILE_PREFIX + digest + ".pickle"))
        entries = sorted(
            (
                entry
                for entry in os.scandir(directory)
                if entry.name.startswith(_FILE_PREFIX) and entry.name.endswith(".pickle")
            ),
            key=lambda entry: entry.stat().st_mtime,
        )
        for entry in entries[:-_CACHE_SIZE]:
            os.unlink(entry.path)
    except OSError as exc:
        display.vvv(f"kilo.mesh.topology: cannot cache the topology in {directory}: {exc}")


class LookupModule(LookupBase):
    def run(self, terms: list, variables: dict | None = None, **kwargs: Any) -> list:
        self.set_options(var_options=variables, direct=kwargs)
        variables = variables or {}
        nodes = self.get_option("nodes")
        peers = self.get_option("peers") or []
        granularity = self.get_option("granularity")
        subnet = self.get_option("subnet")
        hints = ""
        if nodes is None:
            if self.get_option("source") == "cluster":
                nodes, peers, granularity, subnet = self._from_cluster(kwargs, peers, granularity, subnet)
                hints = "cluster"
            else:
                nodes = self._from_inventory(variables)
                hints = "inventory"
        inputs = {
            "nodes": nodes,
            "peers": peers,
            "granularity": granularity,
            "port": self.get_option("port"),
            "subnet": subnet,
            "service_cidrs": self.get_option("service_cidrs") or [],
            "persistent_keepalive": self.get_option("persistent_keepalive"),
            "routes": self.get_option("routes"),
        }
        try:
            inputs = _canonical(inputs)
        except (TypeError, ValueError) as exc:
            raise AnsibleLookupError(f"kilo.mesh.topology: inputs are not plain data: {exc}") from exc
        digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode("utf-8")).hexdigest()
        result = _CACHE.get(digest)
        if result is None:
            with _FileLock(digest):  # parallel workers wait for the first one instead of computing too
                result = _read_cache_file(digest)
                if result is None:
                    result = self._compute(inputs, hints)
                    display.vvv(f"kilo.mesh.topology: computed topology {digest[:12]}")
                    _write_cache_file(digest, result)
                else:
                    display.vvv(f"kilo.mesh.topology: reused topology {digest[:12]}")
            _CACHE[digest] = result
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
        else:
            display.vvv(f"kilo.mesh.topology: reused topology {digest[:12]}")
            _CACHE.move_to_end(digest)
        # shared with later calls (in this process): Ansible builds new containers when it templates
        return [result]

    def _compute(self, inputs: dict, hints: str) -> dict:
        routes = inputs.pop("routes")
        try:
            topology = build_topology(**inputs)
            return topology.to_dict(routes=routes)
        except TopologyError as exc:
            message = f"kilo.mesh.topology: {exc}"
            if hints == "inventory" and exc.kind == "node" and exc.field:
                var = "kilo_node_name" if exc.field == "name" else f"kilo_{exc.field}"
                message += f" (inventory host variable {var} of the host for node {exc.name!r})"
            raise AnsibleLookupError(message) from exc

    def _template(self, value: Any) -> Any:
        return self._templar.template(value)

    def _from_inventory(self, variables: dict) -> list:
        group = self.get_option("group")
        groups = variables.get("groups") or {}
        hostvars = variables.get("hostvars") or {}
        if group not in groups:
            raise AnsibleLookupError(
                f"kilo.mesh.topology: inventory group {group!r} does not exist; put the mesh nodes in it, set "
                "group=..., or pass nodes=..."
            )
        nodes = []
        for host in groups[group]:
            host_vars = hostvars.get(host, {})
            node: dict[str, Any] = {"name": str(self._template(host_vars.get("kilo_node_name", host)))}
            for var, field in HOST_VARS.items():
                if var in host_vars:
                    node[field] = self._template(host_vars[var])
            if not node.get("public_key"):
                raise AnsibleLookupError(
                    f"kilo.mesh.topology: host {host!r} has no kilo_public_key; run the kilo.mesh.wireguard_key "
                    "module on every host of the group first (and register its public_key as kilo_public_key), "
                    "or pass nodes=..."
                )
            if "leader" in node and not isinstance(node["leader"], bool):
                try:
                    node["leader"] = boolean(node["leader"], strict=True)
                except TypeError as exc:
                    raise AnsibleLookupError(
                        f"kilo.mesh.topology: host {host!r}: kilo_leader must be a boolean, got {node['leader']!r}"
                    ) from exc
            if isinstance(node.get("allowed_location_ips"), str):  # "a/24,b/24" like Kilo's annotation
                node["allowed_location_ips"] = [
                    ip.strip() for ip in node["allowed_location_ips"].split(",") if ip.strip()
                ]
            if isinstance(node.get("persistent_keepalive"), str) and node["persistent_keepalive"].strip().isdigit():
                node["persistent_keepalive"] = int(node["persistent_keepalive"])
            nodes.append(node)
        if not nodes:
            raise AnsibleLookupError(f"kilo.mesh.topology: inventory group {group!r} has no hosts")
        return nodes

    def _from_cluster(self, kwargs: dict, peers: list, granularity: str, subnet: str) -> tuple:
        try:
            from ansible_collections.kilo.mesh.plugins.module_utils.k8s_cluster import read_cluster
        except ImportError as exc:
            raise AnsibleLookupError(
                "kilo.mesh.topology: source=cluster needs the 'kubernetes' Python library on the controller "
                f"(pip install kubernetes): {exc}"
            ) from exc
        try:
            cluster = read_cluster(
                kubeconfig=self.get_option("kubeconfig"),
                context=self.get_option("context"),
                topology_label=self.get_option("topology_label"),
            )
        except Exception as exc:  # any client/API failure becomes a lookup error
            raise AnsibleLookupError(f"kilo.mesh.topology: could not read the cluster: {exc}") from exc
        # read_cluster returns (nodes, peers, subnet_hint)
        cluster_nodes, cluster_peers, subnet_hint = cluster
        if "subnet" not in kwargs and subnet_hint:
            subnet = subnet_hint
        return list(cluster_nodes or []), list(peers or cluster_peers or []), granularity, subnet
