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
  - With inventory nodes, every call templates the V(kilo_*) variables of every host of O(group) to find
    that key (always current, never stale; it costs one variable merge per host and call). When every host
    of a large group needs the topology, compute it once per play with the M(kilo.mesh.mesh_topology) action
    (C(run_once)) instead; see the performance guide.
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
  node:
    description:
      - Return only this node's entry of RV(_raw.nodes) (its V(conf), V(wireguard_ip), V(peers), V(routes), ...)
        instead of the whole topology. The topology is still computed once for the run and shared.
      - Use it when every host calls the lookup for itself, as in C(node=kilo_node_name | default(inventory_hostname)).
        A call then reads its own entry from the run's cache instead of loading every node's.
      - A name that is not a node of the mesh is an error.
    type: str
    version_added: 0.2.0
  group:
    description:
      - Inventory group whose hosts are the mesh nodes when O(nodes) is not given.
      - "Host variables read: V(kilo_node_name) (default: the inventory hostname), V(kilo_location),
        V(kilo_endpoint), V(kilo_internal_ip), V(kilo_pod_cidr), V(kilo_leader),
        V(kilo_persistent_keepalive), V(kilo_allowed_location_ips) and V(kilo_public_key)
        (registered by M(kilo.mesh.wireguard_key)). V(kilo_allowed_location_ips) is a list or a comma-separated
        string (spaces allowed, unlike Kilo's annotation); V(kilo_leader) a boolean (V(true), V(yes), V(1), ...);
        V(kilo_persistent_keepalive) an integer or a digit string; V(kilo_internal_ip) a CIDR, or V(-) or empty
        for none. The mesh role, the kilo role and this lookup read these variables with one rule."
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

import contextlib
import hashlib
import json
import os
import pickle
import struct
from collections import OrderedDict
from typing import Any

from ansible import constants as C
from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

from ansible_collections.kilo.mesh.plugins.module_utils._files import write_atomic
from ansible_collections.kilo.mesh.plugins.module_utils.topology import TopologyError
from ansible_collections.kilo.mesh.plugins.module_utils.topology.build import check_granularity
from ansible_collections.kilo.mesh.plugins.plugin_utils.mesh import MeshError, compute, read_nodes

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


def _cache_path(name: str) -> str | None:
    directory = _cache_dir()
    return os.path.join(directory, _FILE_PREFIX + name) if directory is not None else None


def _read_cache_file(digest: str) -> dict | None:
    path = _cache_path(digest + ".pickle")
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            data = pickle.load(handle)
    except (OSError, ValueError, EOFError, pickle.UnpicklingError):
        return None
    return data if isinstance(data, dict) else None


def _read_node(digest: str, node: str) -> dict | None:
    """One node's entry from ``<digest>.nodes``: an 8-byte header length, a pickled index
    ``{name: (offset, length)}``, then one pickled chunk per segment (its followers share their route
    list, which per-node pickles would copy). Reads the index and one chunk, not the whole mesh."""
    path = _cache_path(digest + ".nodes")
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            (size,) = struct.unpack(">Q", handle.read(8))
            index = pickle.loads(handle.read(size))
            if node not in index:
                return {"node": None, "names": sorted(index)}
            offset, length = index[node]
            handle.seek(8 + size + offset)
            chunk = pickle.loads(handle.read(length))
    except (OSError, ValueError, EOFError, KeyError, struct.error, pickle.UnpicklingError):
        return None
    return {"node": node, "entry": chunk[node]}


def _nodes_file(result: dict) -> bytes:
    """The ``<digest>.nodes`` layout read by _read_node."""
    segments: dict[str, dict] = {}
    for name, entry in result["nodes"].items():
        segments.setdefault(str(entry.get("segment")), {})[name] = entry
    index: dict[str, tuple[int, int]] = {}
    chunks: list[bytes] = []
    offset = 0
    for members in segments.values():
        chunk = pickle.dumps(members, protocol=pickle.HIGHEST_PROTOCOL)
        for name in members:
            index[name] = (offset, len(chunk))
        chunks.append(chunk)
        offset += len(chunk)
    header = pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL)
    return struct.pack(">Q", len(header)) + header + b"".join(chunks)


def _write_atomic(name: str, data: bytes) -> None:
    """Write then rename (the collection's one atomic writer), so that parallel workers never read half a file."""
    directory = _cache_dir()
    if directory is None:
        return
    write_atomic(os.path.join(directory, _FILE_PREFIX + name), data)


def _prune(suffix: str, keep: int) -> None:
    """Remove all but the newest ``keep`` cache files ending in ``suffix``."""
    directory = _cache_dir()
    if directory is None:
        return
    entries = sorted(
        (
            entry
            for entry in os.scandir(directory)
            if entry.name.startswith(_FILE_PREFIX) and entry.name.endswith(suffix)
        ),
        key=lambda entry: entry.stat().st_mtime,
    )
    for entry in entries[:-keep]:
        os.unlink(entry.path)
        if suffix == ".pickle":  # its per-node file goes with it
            with contextlib.suppress(OSError):
                os.unlink(entry.path[: -len(suffix)] + ".nodes")


def _write_cache_file(digest: str, result: dict) -> None:
    """The whole topology and its per-node file; keeps the newest entries only."""
    try:
        # pickle, not JSON: it keeps the route lists that nodes share shared (12x smaller and
        # 20x faster to load for 500 nodes); the directory is private to this run (mode 0700)
        _write_atomic(digest + ".nodes", _nodes_file(result))
        _write_atomic(digest + ".pickle", pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        _prune(".pickle", _CACHE_SIZE)
    except OSError as exc:
        display.vvv(f"kilo.mesh.topology: cannot cache the topology in {_cache_dir()}: {exc}")


def _remember(digest: str, result: dict) -> None:
    _CACHE[digest] = result
    _CACHE.move_to_end(digest)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)


def _load(digest: str, node: str | None) -> dict | None:
    """A cached topology (or, with ``node``, that node's entry) from memory or the run's cache files."""
    result = _CACHE.get(digest)
    if result is not None:
        _CACHE.move_to_end(digest)
        return result
    if node is not None:
        return _read_node(digest, node)
    result = _read_cache_file(digest)
    if result is not None:
        _remember(digest, result)
    return result


class LookupModule(LookupBase):
    def run(self, terms: list, variables: dict | None = None, **kwargs: Any) -> list:
        if "granularity" in kwargs:  # before set_options, whose choices check does not list the valid values
            try:
                check_granularity(kwargs["granularity"])
            except TopologyError as exc:
                raise AnsibleLookupError(f"kilo.mesh.topology: {exc}") from None
        self.set_options(var_options=variables, direct=kwargs)
        variables = variables or {}
        nodes = self.get_option("nodes")
        peers = self.get_option("peers") or []
        granularity = self.get_option("granularity")
        subnet = self.get_option("subnet")
        node = self.get_option("node")
        hosts_by_node: dict[str, str] = {}
        if nodes is None:
            if self.get_option("source") != "cluster":
                # every call templates every host's kilo_* variables: the key below is never stale
                try:
                    nodes, hosts_by_node = read_nodes(variables, self.get_option("group"))
                except MeshError as exc:
                    raise AnsibleLookupError(f"kilo.mesh.topology: {exc}") from None
            else:
                nodes, peers, granularity, subnet = self._from_cluster(kwargs, peers, granularity, subnet)
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
            raise AnsibleLookupError(f"kilo.mesh.topology: inputs are not plain data: {exc}") from None
        digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode("utf-8")).hexdigest()
        result = _load(digest, node)
        if result is None:
            with _FileLock(digest):  # parallel workers wait for the first one instead of computing too
                result = _read_cache_file(digest)
                if result is None:
                    try:
                        result, warnings = compute(inputs, hosts_by_node)
                    except MeshError as exc:
                        raise AnsibleLookupError(f"kilo.mesh.topology: {exc}") from None
                    for warning in warnings:
                        display.warning(f"kilo.mesh.topology: {warning}")
                    display.vvv(f"kilo.mesh.topology: computed topology {digest[:12]}")
                    _write_cache_file(digest, result)
                else:
                    display.vvv(f"kilo.mesh.topology: reused topology {digest[:12]}")
            _remember(digest, result)
        else:
            display.vvv(f"kilo.mesh.topology: reused topology {digest[:12]}")
        # shared with later calls (in this process): Ansible builds new containers when it templates
        return [self._select(result, node)]

    @staticmethod
    def _select(result: dict, node: str | None) -> dict:
        """The whole topology, or one node's entry (O(node))."""
        if node is None:
            return result
        if "nodes" in result:
            entry = result["nodes"].get(node)
        else:  # per-node cache entry: {"node": name, "entry": ..., "names": [...]}
            entry = result["entry"] if result.get("node") == node else None
        if entry is None:
            names = sorted(result["nodes"]) if "nodes" in result else result.get("names", [])
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            raise AnsibleLookupError(
                f"kilo.mesh.topology: node {node!r} is not in the mesh ({len(names)} nodes: {shown}); "
                "pass a node name as the mesh knows it (kilo_node_name, default the inventory hostname)"
            )
        return entry

    def _from_cluster(self, kwargs: dict, peers: list, granularity: str, subnet: str) -> tuple:
        try:
            from ansible_collections.kilo.mesh.plugins.module_utils.k8s_cluster import read_cluster
        except ImportError as exc:
            raise AnsibleLookupError(
                "kilo.mesh.topology: source=cluster needs the 'kubernetes' Python library on the controller "
                f"(pip install kubernetes): {exc}"
            ) from None
        try:
            cluster = read_cluster(
                kubeconfig=self.get_option("kubeconfig"),
                context=self.get_option("context"),
                topology_label=self.get_option("topology_label"),
            )
        except Exception as exc:  # any client/API failure becomes a lookup error
            raise AnsibleLookupError(f"kilo.mesh.topology: could not read the cluster: {exc}") from None
        # read_cluster returns (nodes, peers, subnet_hint)
        cluster_nodes, cluster_peers, subnet_hint = cluster
        if "subnet" not in kwargs and subnet_hint:
            subnet = subnet_hint
        return list(cluster_nodes or []), list(peers or cluster_peers or []), granularity, subnet
