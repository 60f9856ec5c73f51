#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Dual-licensed: Apache License 2.0 (see LICENSES/Apache-2.0.txt) or
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright: (c) 2026, kilo.mesh contributors

from __future__ import annotations

DOCUMENTATION = r"""
---
module: peer
short_description: Manage Kilo Peer resources (VPN clients and external peers of the mesh)
version_added: 0.1.0
author:
  - kilo.mesh contributors (@kilo-mesh)
description:
  - Creates, updates and deletes Kilo C(Peer) custom resources (V(kilo.squat.ai/v1alpha1), cluster-scoped),
    what users otherwise do with C(kubectl apply) of a Peer manifest.
  - Manage one peer with O(name), or a set of peers with O(peers); with O(prune=true) the set is exact
    and managed Peers that are not listed are deleted.
  - Every peer is validated B(before anything is sent) to the cluster, with the rules of Kilo's
    peer-validation webhook (keys are 32-byte base64, allowed IPs are CIDRs, endpoint and keepalive are valid)
    plus overlap checks the webhook does not make. An allowed IP range must not overlap a node's pod CIDR,
    a node's internal IP, the WireGuard subnet, a service CIDR, or another peer's allowed IPs. All
    problems are reported at once, each naming the peer, the field and the value.
  - An existing Peer is only changed when its spec differs from the wanted one (or a label in O(labels) is missing).
extends_documentation_fragment:
  - kilo.mesh._kube
  - kilo.mesh._attributes
  - kilo.mesh._attributes.FULL_SUPPORT
attributes:
  check_mode:
    details:
      - In check mode the cluster is read (to validate and compare) but nothing is created, changed or deleted.
  diff_mode:
    details:
      - The diff shows the spec of every Peer that changes, before and after.
      - Preshared keys are replaced by a placeholder.
options:
  name:
    description:
      - Name of one Peer (a Kubernetes object name, lowercase RFC 1123).
      - Mutually exclusive with O(peers).
    type: str
  allowed_ips:
    description:
      - Allowed IPs of the peer named O(name) (CIDRs; host bits are kept, like Kilo does).
      - Required with O(name) and O(state=present).
    type: list
    elements: str
  public_key:
    description:
      - WireGuard public key of the peer named O(name) (44 characters of base64).
      - Required with O(name) and O(state=present).
    type: str
  preshared_key:
    description:
      - Optional WireGuard preshared key of the peer named O(name).
    type: str
  endpoint:
    description:
      - Optional endpoint of the peer named O(name), V(host:port) or V([ipv6]:port); the host is an IP address
        or a lowercase DNS name.
      - Leave it unset for roaming clients (laptops, phones); the mesh learns their address from their handshakes.
    type: str
  persistent_keepalive:
    description:
      - Persistent keepalive of the peer named O(name), in seconds; V(0) disables it.
    type: int
    default: 0
  peers:
    description:
      - Several peers at once, each with the same fields as the single-peer options.
      - Mutually exclusive with O(name).
      - With O(prune=true) the list (with O(definitions)) is the complete set of managed peers.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the Peer.
        type: str
        required: true
      allowed_ips:
        description: Allowed IPs (CIDRs).
        type: list
        elements: str
        default: []
      public_key:
        description: WireGuard public key.
        type: str
      preshared_key:
        description: Optional WireGuard preshared key.
        type: str
      endpoint:
        description: Optional endpoint V(host:port).
        type: str
      persistent_keepalive:
        description: Persistent keepalive in seconds.
        type: int
        default: 0
  definitions:
    description:
      - Peers given as Kilo C(Peer) objects (C(apiVersion), C(kind), C(metadata.name), C(spec)), for example the
        output of M(kilo.mesh.showconf) with O(kilo.mesh.showconf#module:as_peer=true) and
        O(kilo.mesh.showconf#module:output=json) after C(from_json), or a Peer manifest.
      - They are validated like O(peers) items and may be combined with O(peers).
      - Mutually exclusive with O(name).
    type: list
    elements: dict
  state:
    description:
      - V(present) creates or updates the peer(s); V(absent) deletes them (only O(name) or the C(name) of each
        O(peers) item matters then).
    type: str
    choices: [present, absent]
    default: present
  prune:
    description:
      - With O(peers) or O(definitions) and O(state=present), delete every Peer that carries all O(labels) and is
        not listed (an empty O(peers) list deletes them all).
      - Peers created by other means (without those labels) are never pruned.
    type: bool
    default: false
  labels:
    description:
      - Labels set on every Peer the module creates or updates; also the selector of O(prune).
    type: dict
    default:
      app.kubernetes.io/managed-by: kilo.mesh
  subnet:
    description:
      - WireGuard subnet of the mesh (C(kg --subnet)), used by the overlap check.
      - When not set it is inferred from the nodes' C(kilo.squat.ai/wireguard-ip) annotations like kgctl does,
        falling back to V(10.4.0.0/16).
    type: str
  service_cidrs:
    description:
      - Service CIDRs of the cluster, used by the overlap check (the API does not expose them).
    type: list
    elements: str
    default: []
  check_overlaps:
    description:
      - Run the overlap checks against the cluster's pod CIDRs, internal IPs, WireGuard subnet, service CIDRs
        and the other peers. Format checks always run.
    type: bool
    default: true
notes:
  - The Peer CRD (C(peers.kilo.squat.ai)) must be installed in the cluster; the M(kilo.mesh.kilo) role does that.
seealso:
  - module: kilo.mesh.showconf
  - name: Kilo VPN documentation
    description: Peers as VPN clients of a Kilo mesh.
    link: https://kilo.squat.ai/docs/vpn
"""

EXAMPLES = r"""
---
- name: Let a laptop into the mesh
  kilo.mesh.peer:
    name: laptop
    allowed_ips: [10.5.0.1/32]
    public_key: "{{ laptop_public_key }}"
    persistent_keepalive: 10
  delegate_to: localhost

- name: Exactly these peers, delete other managed peers
  kilo.mesh.peer:
    kubeconfig: ~/.kube/prod
    peers:
      - name: laptop
        allowed_ips: [10.5.0.1/32]
        public_key: "{{ laptop_public_key }}"
      - name: office
        allowed_ips: [10.5.0.2/32, 192.168.50.0/24]
        public_key: "{{ office_public_key }}"
        preshared_key: "{{ office_psk }}"
        endpoint: 203.0.113.9:51820
    prune: true
    service_cidrs: [10.43.0.0/16]
  delegate_to: localhost

- name: Remove a peer
  kilo.mesh.peer:
    name: laptop
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
created:
  description: Names of the Peers created (or that would be created in check mode).
  returned: always
  type: list
  elements: str
  sample: [laptop]
updated:
  description: Names of the Peers whose spec or labels were changed.
  returned: always
  type: list
  elements: str
  sample: [office]
deleted:
  description: Names of the Peers deleted (by O(state=absent) or O(prune)).
  returned: always
  type: list
  elements: str
  sample: [old-phone]
unchanged:
  description: Names of the listed Peers that already matched.
  returned: always
  type: list
  elements: str
  sample: []
peers:
  description: The wanted Peer objects (preshared keys hidden), in name order.
  returned: when O(state=present)
  type: list
  elements: dict
  sample:
    - apiVersion: kilo.squat.ai/v1alpha1
      kind: Peer
      metadata: {name: laptop, labels: {app.kubernetes.io/managed-by: kilo.mesh}}
      spec:
        allowedIPs: [10.5.0.1/32]
        persistentKeepalive: 10
        publicKey: ZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWU=
"""

import copy
import ipaddress
import json
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.kilo.mesh.plugins.module_utils._argspec import kube_argument_spec
from ansible_collections.kilo.mesh.plugins.module_utils.k8s_cluster import (
    PEER_GROUP,
    PEER_PLURAL,
    PEER_VERSION,
    ClusterReadError,
    api_client,
)
from ansible_collections.kilo.mesh.plugins.module_utils.topology.build import CidrIndex, parse_peer
from ansible_collections.kilo.mesh.plugins.module_utils.topology.constants import DEFAULT_SUBNET, REDACTED
from ansible_collections.kilo.mesh.plugins.module_utils.topology.errors import TopologyError
from ansible_collections.kilo.mesh.plugins.module_utils.topology.kube import node_fields, parse_cidr, subnet_hint
from ansible_collections.kilo.mesh.plugins.module_utils.topology.parse import is_dns_subdomain, parse_interface
from ansible_collections.kilo.mesh.plugins.module_utils.topology.render import PEER_API_VERSION, peer_document

try:
    from kubernetes import client as k8s_client

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError:
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()


# -- desired state ------------------------------------------------------------------------------


def _parse_peer(item, index, problems):
    """The engine's PeerSpec of one wanted peer (topology/build.py ``parse_peer``: the rules Kilo applies to
    a Peer), or None with the problems appended. The name must also be a Kubernetes object name."""
    name = item.get("name") or ""
    if not is_dns_subdomain(name):
        problems.append(
            "peer \"%s\": field name has invalid value %r: expected a lowercase RFC 1123 name (a-z, 0-9, '-', '.')"
            % (name, name)
        )
    try:
        return parse_peer(item, index)
    except TopologyError as exc:  # names the peer and the field; never shows a key
        problems.append(str(exc))
        return None


def _desired_object(spec, labels):
    document = peer_document(
        spec.name,
        spec.allowed_ips_text,
        spec.endpoint,
        spec.public_key,
        spec.persistent_keepalive,
        spec.preshared_key,
    )
    document["metadata"]["labels"] = dict(labels)
    return document


# -- overlap checks -----------------------------------------------------------------------------


def _reserved_ranges(nodes, subnet, service_cidrs):
    """(network, description) pairs a peer range must not overlap."""
    ranges = [(ipaddress.ip_network(subnet, strict=False), "the WireGuard subnet %s" % subnet)]
    for cidr in service_cidrs:
        ranges.append((ipaddress.ip_network(cidr, strict=False), "the service CIDR %s" % cidr))
    for node in nodes:
        fields = node_fields(node)
        name = fields["name"]
        if fields.get("pod_cidr"):
            ranges.append(
                (
                    ipaddress.ip_network(fields["pod_cidr"], strict=False),
                    'the pod CIDR %s of node "%s"' % (fields["pod_cidr"], name),
                )
            )
        addresses = set()
        if fields.get("internal_ip"):
            addresses.add(ipaddress.ip_interface(fields["internal_ip"]).ip)
        for entry in (node.get("status") or {}).get("addresses") or []:
            if entry.get("type") == "InternalIP" and parse_cidr("%s/32" % entry.get("address")):
                addresses.add(ipaddress.ip_address(entry["address"]))
        for address in sorted(addresses, key=lambda ip: (ip.version, ip)):
            ranges.append((ipaddress.ip_network(address), 'the internal IP %s of node "%s"' % (address, name)))
    return ranges


def _check_overlaps(specs, others, reserved, problems):
    """``specs``: peers being written; ``others``: {name: allowed IPs} of Peers that stay in the cluster.

    One :class:`CidrIndex` (the engine's) holds every claimed range; each wanted range is looked up in it.
    """
    index = CidrIndex()
    for network, what in reserved:
        index.add(network, what)
    for name in sorted(others):
        for value in others[name]:
            cidr = parse_cidr(value)
            if cidr is not None:
                index.add(parse_interface(cidr), 'allowed IP %s of peer "%s" (already in the cluster)' % (value, name))
    for spec in sorted(specs, key=lambda peer: peer.name):
        for network in spec.allowed_ips:
            value = network.with_prefixlen
            owner = index.overlapping(network)
            if owner is not None:
                problems.append(
                    'peer "%s": field allowed_ips has invalid value %r: it overlaps %s; choose a range outside the '
                    "cluster's pod, service, internal and WireGuard ranges and the other peers' ranges"
                    % (spec.name, value, owner)
                )
        for network in spec.allowed_ips:
            index.add(network, 'allowed IP %s of peer "%s"' % (network.with_prefixlen, spec.name))


# -- comparison and diff ------------------------------------------------------------------------


def _normalized_spec(spec):
    spec = copy.deepcopy(spec or {})
    if not spec.get("persistentKeepalive"):
        spec.pop("persistentKeepalive", None)
    if not spec.get("presharedKey"):
        spec.pop("presharedKey", None)
    return spec


def _labels_missing(current, labels):
    have = (current.get("metadata") or {}).get("labels") or {}
    return any(have.get(key) != value for key, value in labels.items())


def _redacted(spec, compare_to=None):
    """The spec with its preshared key hidden; marked "(changed)" when it differs from ``compare_to``'s."""
    spec = _normalized_spec(spec)
    if "presharedKey" in spec:
        changed = compare_to is not None and _normalized_spec(compare_to).get("presharedKey") != spec["presharedKey"]
        spec["presharedKey"] = REDACTED + (" (changed)" if changed else "")
    return spec


def _yaml_like(objects):
    """Stable text for the diff: one JSON document per peer, keys sorted."""
    return "".join("%s: %s\n" % (name, json.dumps(objects[name], sort_keys=True)) for name in sorted(objects))


# -- cluster access -----------------------------------------------------------------------------


class _Cluster:
    """Writes Peers; the client comes from k8s_cluster.py, like every other reader of the cluster."""

    def __init__(self, module):
        self.module = module
        try:
            api = api_client(module.params["kubeconfig"], module.params["context"])
        except ClusterReadError as exc:  # kubeconfig missing, context unknown, bad YAML ...
            module.fail_json(msg="%s; set kubeconfig/context or KUBECONFIG" % exc)
        self.custom = k8s_client.CustomObjectsApi(api)
        self.core = k8s_client.CoreV1Api(api)
        self.sanitize = api.sanitize_for_serialization

    def _fail(self, what, exc):
        status = getattr(exc, "status", None)
        body = getattr(exc, "body", None) or str(exc)
        self.module.fail_json(msg="Kubernetes API error while %s (status %s): %s" % (what, status, body))

    def peers(self):
        try:
            result = self.custom.list_cluster_custom_object(PEER_GROUP, PEER_VERSION, PEER_PLURAL)
        except k8s_client.ApiException as exc:
            if exc.status == 404:
                self.module.fail_json(
                    msg="the Peer custom resource (peers.kilo.squat.ai) is not installed in the cluster; apply Kilo's "
                    "crds.yaml first (role kilo.mesh.kilo)"
                )
            self._fail("listing Peers", exc)
        except Exception as exc:
            self._fail("listing Peers", exc)
        return {item["metadata"]["name"]: item for item in result.get("items") or []}

    def nodes(self):
        try:
            items = self.core.list_node().items
        except Exception as exc:
            self._fail("listing Nodes", exc)
        return [self.sanitize(item) for item in items]

    def create(self, obj):
        try:
            self.custom.create_cluster_custom_object(PEER_GROUP, PEER_VERSION, PEER_PLURAL, obj)
        except Exception as exc:
            self._fail('creating Peer "%s"' % obj["metadata"]["name"], exc)

    def update(self, current, obj):
        labels = dict((current.get("metadata") or {}).get("labels") or {})
        labels.update(obj["metadata"]["labels"])
        patch = [
            # JSON patch "add" replaces an existing member, so it works whether the field exists or not
            {"op": "add", "path": "/metadata/labels", "value": labels},
            {"op": "add", "path": "/spec", "value": obj["spec"]},
        ]
        try:
            self.custom.patch_cluster_custom_object(
                PEER_GROUP, PEER_VERSION, PEER_PLURAL, obj["metadata"]["name"], patch
            )
        except Exception as exc:
            self._fail('updating Peer "%s"' % obj["metadata"]["name"], exc)

    def delete(self, name):
        try:
            self.custom.delete_cluster_custom_object(PEER_GROUP, PEER_VERSION, PEER_PLURAL, name)
        except k8s_client.ApiException as exc:
            if exc.status != 404:
                self._fail('deleting Peer "%s"' % name, exc)
        except Exception as exc:
            self._fail('deleting Peer "%s"' % name, exc)


# -- main -------------------------------------------------------------------------------------


def _item_from_definition(obj, problems):
    """A Peer object -> a peer item (the fields of the peers option)."""
    metadata = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    name = metadata.get("name") or ""
    if obj.get("kind", "Peer") != "Peer" or obj.get("apiVersion", PEER_API_VERSION) != PEER_API_VERSION:
        problems.append(
            'definition "%s": field kind/apiVersion has invalid value %r: expected a Peer of %s'
            % (name, "%s %s" % (obj.get("apiVersion"), obj.get("kind")), PEER_API_VERSION)
        )
    endpoint = None
    if spec.get("endpoint"):
        dns_or_ip = spec["endpoint"].get("dnsOrIP") or {}
        host = dns_or_ip.get("dns") or dns_or_ip.get("ip") or ""
        host = "[%s]" % host if ":" in host else host
        endpoint = "%s:%s" % (host, spec["endpoint"].get("port"))
    return {
        "name": name,
        "allowed_ips": list(spec.get("allowedIPs") or []),
        "public_key": spec.get("publicKey"),
        "preshared_key": spec.get("presharedKey") or None,
        "endpoint": endpoint,
        "persistent_keepalive": spec.get("persistentKeepalive") or 0,
    }


def _wanted_items(params, problems):
    if params["name"] is None:
        items = [dict(item) for item in params["peers"] or []]
        items.extend(_item_from_definition(obj, problems) for obj in params["definitions"] or [])
        return items
    return [
        {
            "name": params["name"],
            "allowed_ips": params["allowed_ips"] or [],
            "public_key": params["public_key"],
            "preshared_key": params["preshared_key"],
            "endpoint": params["endpoint"],
            "persistent_keepalive": params["persistent_keepalive"],
        }
    ]


def _validate_static(params, items):
    """(problems, {name: PeerSpec}) of the wanted peers; nothing is sent before this is empty."""
    problems = []
    specs = {}
    names = [item.get("name") for item in items]
    for name in sorted({name for name in names if names.count(name) > 1}):
        problems.append('peer "%s": field name is used more than once in peers; names must be unique' % name)
    if params["state"] == "present":
        for index, item in enumerate(items):
            spec = _parse_peer(item, index, problems)
            if spec is not None:
                specs[spec.name] = spec
        keys = {}
        for item in items:
            key = item.get("public_key")
            if key and key in keys:
                problems.append(
                    'peer "%s": field public_key has the same value as peer "%s": Kilo keys peers by public key, '
                    "so one of them would be lost" % (item["name"], keys[key])
                )
            keys.setdefault(key, item.get("name"))
    for what in ("subnet",):
        if params[what] and parse_cidr(params[what]) is None:
            problems.append(
                "option %s has invalid value %r: expected a CIDR such as 10.4.0.0/16" % (what, params[what])
            )
    for value in params["service_cidrs"]:
        if parse_cidr(value) is None:
            problems.append("option service_cidrs has invalid value %r: expected a CIDR such as 10.43.0.0/16" % value)
    return problems, specs


def run_module():
    argument_spec = kube_argument_spec()
    peer_options = {
        "name": {"type": "str", "required": True},
        "allowed_ips": {"type": "list", "elements": "str", "default": []},
        "public_key": {"type": "str"},
        "preshared_key": {"type": "str", "no_log": True},
        "endpoint": {"type": "str"},
        "persistent_keepalive": {"type": "int", "default": 0},
    }
    argument_spec.update(
        name={"type": "str"},
        allowed_ips={"type": "list", "elements": "str"},
        public_key={"type": "str"},
        preshared_key={"type": "str", "no_log": True},
        endpoint={"type": "str"},
        persistent_keepalive={"type": "int", "default": 0},
        peers={"type": "list", "elements": "dict", "options": peer_options},
        definitions={"type": "list", "elements": "dict"},
        state={"type": "str", "choices": ["present", "absent"], "default": "present"},
        prune={"type": "bool", "default": False},
        labels={"type": "dict", "default": {"app.kubernetes.io/managed-by": "kilo.mesh"}},
        subnet={"type": "str"},
        service_cidrs={"type": "list", "elements": "str", "default": []},
        check_overlaps={"type": "bool", "default": True},
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[["name", "peers"], ["name", "definitions"]],
        required_one_of=[["name", "peers", "definitions"]],
        required_by={"allowed_ips": "name", "public_key": "name", "preshared_key": "name", "endpoint": "name"},
    )
    params = module.params
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR)
    if params["prune"] and (params["name"] is not None or params["state"] != "present"):
        module.fail_json(msg="prune=true needs the peers list (the exact set of peers to keep) and state=present")
    if params["prune"] and not params["labels"]:
        module.fail_json(msg="prune=true needs labels: only Peers carrying all of them are pruned")
    for obj in params["definitions"] or []:  # preshared keys inside Peer objects are never shown
        psk = (obj.get("spec") or {}).get("presharedKey") if isinstance(obj, dict) else None
        if psk:
            module.no_log_values.add(psk)
    labels = {str(key): str(value) for key, value in (params["labels"] or {}).items()}

    problems = []
    items = _wanted_items(params, problems)
    static_problems, specs = _validate_static(params, items)
    problems.extend(static_problems)
    if problems:  # nothing has been sent to the cluster yet
        module.fail_json(msg="; ".join(problems), problems=problems)

    cluster = _Cluster(module)
    current = cluster.peers()
    wanted_names = {item["name"] for item in items}

    to_delete = []
    if params["state"] == "absent":
        to_delete = sorted(name for name in wanted_names if name in current)
    elif params["prune"]:
        to_delete = sorted(
            name for name, obj in current.items() if name not in wanted_names and not _labels_missing(obj, labels)
        )

    created, updated, unchanged = [], [], []
    desired = {}
    if params["state"] == "present":
        problems = []
        if params["check_overlaps"]:
            nodes = cluster.nodes()
            subnet = params["subnet"] or subnet_hint(nodes) or DEFAULT_SUBNET
            reserved = _reserved_ranges(nodes, subnet, params["service_cidrs"])
            others = {
                name: ((obj.get("spec") or {}).get("allowedIPs") or [])
                for name, obj in current.items()
                if name not in wanted_names and name not in to_delete
            }
            _check_overlaps(specs.values(), others, reserved, problems)
        if problems:
            module.fail_json(msg="; ".join(problems), problems=problems)
        for name, spec in specs.items():
            desired[name] = _desired_object(spec, labels)
        for name in sorted(desired):
            if name not in current:
                created.append(name)
            elif _normalized_spec(current[name].get("spec")) != _normalized_spec(
                desired[name]["spec"]
            ) or _labels_missing(current[name], labels):
                updated.append(name)
            else:
                unchanged.append(name)
    else:
        unchanged = []

    changed = bool(created or updated or to_delete)
    if changed and not module.check_mode:
        for name in created:
            cluster.create(desired[name])
        for name in updated:
            cluster.update(current[name], desired[name])
        for name in to_delete:
            cluster.delete(name)

    result = {
        "changed": changed,
        "created": created,
        "updated": updated,
        "deleted": to_delete,
        "unchanged": unchanged,
    }
    if params["state"] == "present":
        result["peers"] = [dict(desired[name], spec=_redacted(desired[name]["spec"])) for name in sorted(desired)]
    if module._diff:
        before, after = {}, {}
        for name in updated + to_delete:
            before[name] = _redacted(current[name].get("spec"))
        for name in created + updated:
            after[name] = _redacted(desired[name]["spec"], (current.get(name) or {}).get("spec"))
        result["diff"] = {
            "before": _yaml_like(before),
            "after": _yaml_like(after),
            "before_header": "Peers (kilo.squat.ai/v1alpha1)",
            "after_header": "Peers (kilo.squat.ai/v1alpha1)",
        }
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
