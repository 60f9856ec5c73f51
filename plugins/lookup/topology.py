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
  - With inventory nodes, a later call of the run recognises the same inputs from the raw V(kilo_*) variables of
    the group's hosts (inventory, facts, V(set_fact), V(include_vars), extra vars) without templating every
    host's variables, as long as none of those values is a Jinja template. Values that are templates make every
    call template them again (correct, but slower for large groups); see the performance guide.
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

import contextlib
import hashlib
import json
import os
import pickle
import struct
import tempfile
from collections import OrderedDict
from collections.abc import Mapping
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
#: fingerprint of the raw kilo_* variables -> topology digest (see _inventory_fingerprint)
_FINGERPRINTS: dict[str, str] = {}
_FILE_PREFIX = "kilo-mesh-topology-"
display = Display()


def _canonical(value: Any) -> Any:
    """Plain JSON types (templated values may be wrapped types of ansible-core)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


_NODE_VARS = ("kilo_node_name", *HOST_VARS)
_TEMPLATE_MARKS = ("{{", "{%", "{#")


def _is_template(value: Any) -> bool:
    """Whether a raw variable value may contain Jinja (then its value depends on other variables)."""
    if isinstance(value, str):
        return any(mark in value for mark in _TEMPLATE_MARKS)
    if isinstance(value, Mapping):
        return any(_is_template(key) or _is_template(item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return any(_is_template(item) for item in value)
    return False


def _node_from_vars(host: str, values: dict) -> dict:
    """One engine node from the (templated) kilo_* variables of an inventory host."""
    node: dict[str, Any] = {"name": str(values.get("kilo_node_name", host))}
    for var, field in HOST_VARS.items():
        if var in values:
            node[field] = values[var]
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
        node["allowed_location_ips"] = [ip.strip() for ip in node["allowed_location_ips"].split(",") if ip.strip()]
    if isinstance(node.get("persistent_keepalive"), str) and node["persistent_keepalive"].strip().isdigit():
        node["persistent_keepalive"] = int(node["persistent_keepalive"])
    return node


def _node_items(data: Any) -> list:
    """The node variables (kilo_node_name, kilo_location, ...) one variable source defines."""
    if not data:
        return []
    return [(var, data[var]) for var in _NODE_VARS if var in data]


def _inventory_fingerprint(variables: dict, group: str, options: Any) -> str | None:
    """A cheap key for an inventory mesh: the options plus, for every host of the group, the RAW node
    variables (_NODE_VARS) of each source ansible-core merges for ``hostvars`` (inventory host and group variables,
    group membership, facts, include_vars and set_fact/register caches, extra vars). Vars plugins
    (host_vars/ and group_vars/ files) are read once per run by ansible-core and the cache lives in
    the run's temporary directory, so they cannot change under a fingerprint. Reading the sources costs
    microseconds per host where ``hostvars[host]`` costs a full variable merge. Equal fingerprints mean
    equal raw inputs; sources listed in another order only cost a miss. None when this ansible-core
    does not expose the sources (then every call takes the exact path)."""
    hostvars = variables.get("hostvars")
    manager: Any = getattr(hostvars, "_variable_manager", None)
    inventory: Any = getattr(hostvars, "_inventory", None)
    groups = variables.get("groups") or {}
    try:
        members = list(groups[group])
        hosts = inventory.hosts
        set_facts = manager._nonpersistent_fact_cache
        include_vars = manager._vars_cache
        fact_cache = manager._fact_cache
        extra_vars = manager.extra_vars
    except (AttributeError, KeyError, TypeError):
        return None
    seen_groups: dict[str, Any] = {}
    material: list = [options, _node_items(extra_vars), members]
    for name in members:
        host = hosts.get(name)
        if host is None:
            return None
        host_groups = host.groups
        for member_of in host_groups:
            if member_of.name not in seen_groups:
                seen_groups[member_of.name] = (member_of.priority, member_of.depth, _node_items(member_of.vars))
        try:
            facts = fact_cache.get(name)
        except KeyError:
            facts = None
        material.append(
            (
                [member_of.name for member_of in host_groups],
                _node_items(host.vars),
                _node_items(facts),
                _node_items(include_vars.get(name)),
                _node_items(set_facts.get(name)),
            )
        )
    material.append(seen_groups)
    try:
        # JSON: tagged strings of ansible-core encode as plain strings (pickle would keep their origin tags)
        encoded = json.dumps(material).encode("utf-8")
    except (TypeError, ValueError):  # not plain data: no fingerprint
        return None
    return "fp-" + hashlib.sha256(encoded).hexdigest()


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
    """Write then rename, so that parallel workers never read half a file."""
    directory = _cache_dir()
    if directory is None:
        return
    handle, temp = tempfile.mkstemp(prefix=_FILE_PREFIX, suffix=".tmp", dir=directory)
    with os.fdopen(handle, "wb") as stream:
        stream.write(data)
    os.replace(temp, os.path.join(directory, _FILE_PREFIX + name))


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


def _known_digest(fingerprint: str) -> str | None:
    """The topology digest an earlier call of this run computed for these raw variables."""
    if fingerprint in _FINGERPRINTS:
        return _FINGERPRINTS[fingerprint]
    path = _cache_path(fingerprint + ".key")
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:  # binary: a text file would import a codec in every fresh worker
            digest = handle.read().decode("ascii").strip()
    except (OSError, ValueError):
        return None
    _FINGERPRINTS[fingerprint] = digest
    return digest


def _record_fingerprint(fingerprint: str, digest: str) -> None:
    _FINGERPRINTS[fingerprint] = digest
    try:
        _write_atomic(fingerprint + ".key", digest.encode("ascii"))
        _prune(".key", 8 * _CACHE_SIZE)
    except OSError as exc:
        display.vvv(f"kilo.mesh.topology: cannot cache the topology key in {_cache_dir()}: {exc}")


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
        self.set_options(var_options=variables, direct=kwargs)
        variables = variables or {}
        nodes = self.get_option("nodes")
        peers = self.get_option("peers") or []
        granularity = self.get_option("granularity")
        subnet = self.get_option("subnet")
        node = self.get_option("node")
        from_inventory = nodes is None and self.get_option("source") != "cluster"
        fingerprint = None
        if from_inventory:
            # cheap key from the raw kilo_* variables; known only once a first call proved them template-free
            fingerprint = _inventory_fingerprint(variables, self.get_option("group"), self._options_key(peers))
            digest = _known_digest(fingerprint) if fingerprint else None
            found = _load(digest, node) if digest else None
            if digest and found is not None:
                display.vvv(f"kilo.mesh.topology: reused topology {digest[:12]} (same kilo_* variables)")
                return [self._select(found, node)]
        hints, templated = "", False
        if nodes is None:
            if from_inventory:
                nodes, templated = self._from_inventory(variables)
                hints = "inventory"
            else:
                nodes, peers, granularity, subnet = self._from_cluster(kwargs, peers, granularity, subnet)
                hints = "cluster"
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
            _remember(digest, result)
        else:
            display.vvv(f"kilo.mesh.topology: reused topology {digest[:12]}")
            _CACHE.move_to_end(digest)
        if fingerprint and not templated:
            _record_fingerprint(fingerprint, digest)
        # shared with later calls (in this process): Ansible builds new containers when it templates
        return [self._select(result, node)]

    def _options_key(self, peers: list) -> Any:
        """Every option that shapes the topology of an inventory mesh, as plain data."""
        try:
            return _canonical(
                {
                    "peers": peers,
                    "granularity": self.get_option("granularity"),
                    "port": self.get_option("port"),
                    "subnet": self.get_option("subnet"),
                    "service_cidrs": self.get_option("service_cidrs") or [],
                    "persistent_keepalive": self.get_option("persistent_keepalive"),
                    "routes": self.get_option("routes"),
                }
            )
        except (TypeError, ValueError) as exc:
            raise AnsibleLookupError(f"kilo.mesh.topology: inputs are not plain data: {exc}") from exc

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

    def _from_inventory(self, variables: dict) -> tuple[list, bool]:
        """The nodes from the hosts of O(group), and whether any kilo_* value was a template."""
        group = self.get_option("group")
        groups = variables.get("groups") or {}
        hostvars = variables.get("hostvars") or {}
        if group not in groups:
            raise AnsibleLookupError(
                f"kilo.mesh.topology: inventory group {group!r} does not exist; put the mesh nodes in it, set "
                "group=..., or pass nodes=..."
            )
        raw_get = getattr(hostvars, "raw_get", None)
        templated = False
        nodes = []
        for host in groups[group]:
            # raw values first: templating every host's variables is what a call costs; template only templates
            raw = raw_get(host) if raw_get is not None else None
            host_vars = raw if isinstance(raw, Mapping) else hostvars.get(host, {})
            values: dict[str, Any] = {}
            for var in _NODE_VARS:
                if var not in host_vars:
                    continue
                value = host_vars[var]
                if host_vars is not raw or _is_template(value):
                    templated = True
                    value = self._templar.template(hostvars[host][var])
                values[var] = value
            nodes.append(_node_from_vars(host, values))
        if not nodes:
            raise AnsibleLookupError(f"kilo.mesh.topology: inventory group {group!r} has no hosts")
        return nodes, templated

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
