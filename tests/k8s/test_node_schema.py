# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""One node schema, end to end (issue 11): for inventories that use every documented form of the kilo_*
host variables,

(a) the mesh role's topology task computes exactly what the lookup computes from the same inventory;
(b) the annotations the kilo role writes, read back from the Kubernetes API stand-in with ``source=cluster``
    (topology/kube.py), give the same topology as the lookup from the inventory;
(c) every annotation value is in the format Kilo's agent parses.

Regression tests of defects A (comma-separated kilo_allowed_location_ips written with spaces) and D (the mesh
role rejects or reads differently what the lookup accepts) and C (``source=cluster`` ignores the granularity
annotation).
"""

from __future__ import annotations

import base64
import importlib
import ipaddress
import json
import os
import re
import sys
import time
from pathlib import Path

import pytest
import yaml
from kubeapi import make_node

HERE = Path(__file__).resolve().parent
FILES = HERE / "files" / "schema"
PREFIX = "kilo.squat.ai/"


def _key(byte: int) -> str:
    return base64.b64encode(bytes([byte]) * 32).decode()


KEYS = {"n1": _key(1), "n2": _key(2), "n3": _key(3), "n4": _key(4)}
POD_CIDRS = {"n1": "10.2.1.0/24", "n2": "10.2.2.0/24", "n3": "10.2.3.0/24", "n4": "10.2.4.0/24"}

# Every documented form: lists and comma strings with spaces, true / "yes" / "True" / 1, ints and digit
# strings, internal IP null / "-" / "", kilo_node_name different from the inventory name.
INVENTORIES = {
    "native": {
        "n1": {
            "kilo_location": "eu",
            "kilo_leader": True,
            "kilo_endpoint": "203.0.113.11:51820",
            "kilo_internal_ip": "192.168.50.11/24",
            "kilo_persistent_keepalive": 25,
            "kilo_allowed_location_ips": ["172.16.10.0/24", "172.16.11.0/24"],
        },
        "n2": {"kilo_location": "eu", "kilo_endpoint": "203.0.113.12:51820", "kilo_internal_ip": "192.168.50.12/24"},
        "edge": {
            "kilo_node_name": "n3",
            "kilo_location": "us",
            "kilo_endpoint": "[2001:db8::13]:51820",
            "kilo_internal_ip": None,
            "kilo_leader": False,
        },
        "n4": {"kilo_location": "us", "kilo_endpoint": "203.0.113.14:51820", "kilo_persistent_keepalive": 0},
    },
    "strings": {
        "n1": {
            "kilo_location": "eu",
            "kilo_leader": "yes",
            "kilo_endpoint": "203.0.113.11:51820",
            "kilo_internal_ip": "192.168.50.11/24",
            "kilo_persistent_keepalive": "25",
            "kilo_allowed_location_ips": "172.16.10.0/24, 172.16.11.0/24",
        },
        "n2": {
            "kilo_location": "eu",
            "kilo_endpoint": "203.0.113.12:51820",
            "kilo_internal_ip": "-",
            "kilo_allowed_location_ips": " 172.16.20.0/24 ,172.16.21.0/24,",
        },
        "edge": {
            "kilo_node_name": "n3",
            "kilo_location": "us",
            "kilo_endpoint": "203.0.113.13:51820",
            "kilo_internal_ip": "",
            "kilo_leader": "True",
            "kilo_persistent_keepalive": "10",
        },
        "n4": {"kilo_location": "us", "kilo_endpoint": "203.0.113.14:51820", "kilo_leader": 0},
    },
}


def _node_name(host: str, host_vars: dict) -> str:
    return host_vars.get("kilo_node_name", host)


def _write_inventory(path: Path, hosts: dict) -> Path:
    nodes = {}
    for host, host_vars in hosts.items():
        name = _node_name(host, host_vars)
        nodes[host] = dict(host_vars, kilo_public_key=KEYS[name], kilo_pod_cidr=POD_CIDRS[name])
    inventory = {
        "all": {
            "hosts": {"localhost": {"ansible_connection": "local"}},
            "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
            "children": {"kilo_nodes": {"hosts": nodes, "vars": {"ansible_connection": "local"}}},
        }
    }
    path.write_text(yaml.safe_dump(inventory, sort_keys=True))
    return path


def _cluster_nodes(hosts: dict, granularity: str | None = None) -> list[dict]:
    """The Nodes as Kilo's agents left them: key, fresh last-seen (and the granularity they run with)."""
    objs = []
    for host, host_vars in hosts.items():
        name = _node_name(host, host_vars)
        annotations = {PREFIX + "key": KEYS[name], PREFIX + "last-seen": str(int(time.time()) + 3600)}
        if granularity:
            annotations[PREFIX + "granularity"] = granularity
        objs.append(make_node(name, f"192.168.99.{len(objs) + 1}", POD_CIDRS[name], annotations=annotations))
    return objs


def _argspec():
    """plugins/module_utils/_argspec.py through the collection tree the suite links (relative imports)."""
    root = os.environ["ANSIBLE_COLLECTIONS_PATH"].split(os.pathsep)[0]
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module("ansible_collections.kilo.mesh.plugins.module_utils._argspec")


def _check_kilo_format(annotations: dict) -> None:
    """(c): the values Kilo's agent parses without dropping anything."""
    leader = annotations.get(PREFIX + "leader")
    assert leader in (None, "true"), leader
    keepalive = annotations.get(PREFIX + "persistent-keepalive")
    assert keepalive is None or re.fullmatch(r"[0-9]+", keepalive), keepalive
    internal = annotations.get(PREFIX + "force-internal-ip")
    if internal not in (None, "-"):
        ipaddress.ip_interface(internal)
        assert internal.strip() == internal, internal
    allowed = annotations.get(PREFIX + "allowed-location-ips")
    if allowed is not None:
        assert allowed and " " not in allowed, f"allowed-location-ips {allowed!r}: Kilo drops ' x/y' entries"
        for cidr in allowed.split(","):
            ipaddress.ip_interface(cidr)  # Kilo's ParseCIDR of each comma-separated item
    endpoint = annotations.get(PREFIX + "force-endpoint")
    assert endpoint is None or endpoint == endpoint.strip(), endpoint


@pytest.mark.parametrize("forms", sorted(INVENTORIES))
def test_role_lookup_and_cluster_read_back_agree(tmp_path, playbook_runner, kube, forms):
    """(a), (b) and (c), and defects A and D: the same topology three ways for every form of the variables."""
    hosts = INVENTORIES[forms]
    inventory = _write_inventory(tmp_path / "inventory.yml", hosts)
    kube.reset(_cluster_nodes(hosts))
    playbook_runner(
        FILES / "annotate.yml",
        "--tags",
        "kilo_annotate",
        inventory=inventory,
        extra_vars={"kilo_kubeconfig": kube.kubeconfig, "kilo_wait": False},
    )
    for host, host_vars in hosts.items():
        _check_kilo_format(kube.node_annotations(_node_name(host, host_vars)))
    extra_vars = {"out_dir": str(tmp_path), "kubeconfig": kube.kubeconfig}
    playbook_runner(FILES / "role_and_lookup.yml", inventory=inventory, extra_vars=extra_vars)
    playbook_runner(FILES / "cluster.yml", inventory=inventory, extra_vars=extra_vars)
    from_inventory = json.loads((tmp_path / "inventory.json").read_text())
    from_role = json.loads((tmp_path / "role.json").read_text())
    from_cluster = json.loads((tmp_path / "cluster.json").read_text())
    assert sorted(from_inventory["nodes"]) == ["n1", "n2", "n3", "n4"]
    assert from_role == from_inventory  # (a) and defect D
    assert from_cluster == from_inventory  # (b) and defect A
    # the forms really were read: n1 leads eu with its two location IPs, whatever form they had
    eu = next(segment for segment in from_inventory["segments"] if segment["key"] == "location:eu")
    assert eu["leader"] == "n1"
    assert {"172.16.10.0/24", "172.16.11.0/24"} <= set(eu["allowed_location_ips"])


@pytest.mark.parametrize("forms", sorted(INVENTORIES))
def test_mesh_role_reads_the_inventory_like_the_lookup(tmp_path, playbook_runner, forms):
    """(a), defect D: the mesh role's topology task and the lookup give the same topology for every form
    (the role used to rebuild the nodes in Jinja: a comma-separated kilo_allowed_location_ips failed there)."""
    inventory = _write_inventory(tmp_path / "inventory.yml", INVENTORIES[forms])
    playbook_runner(FILES / "role_and_lookup.yml", inventory=inventory, extra_vars={"out_dir": str(tmp_path)})
    from_inventory = json.loads((tmp_path / "inventory.json").read_text())
    assert json.loads((tmp_path / "role.json").read_text()) == from_inventory
    eu = next(segment for segment in from_inventory["segments"] if segment["key"] == "location:eu")
    assert eu["leader"] == "n1"
    assert {"172.16.10.0/24", "172.16.11.0/24"} <= set(eu["allowed_location_ips"])


def test_allowed_location_ips_comma_string_is_written_without_spaces(tmp_path, playbook_runner, kube):
    """Defect A: a comma-separated kilo_allowed_location_ips with spaces is written the way Kilo parses it."""
    hosts = INVENTORIES["strings"]
    inventory = _write_inventory(tmp_path / "inventory.yml", hosts)
    kube.reset(_cluster_nodes(hosts))
    playbook_runner(
        FILES / "annotate.yml",
        "--tags",
        "kilo_annotate",
        inventory=inventory,
        extra_vars={"kilo_kubeconfig": kube.kubeconfig, "kilo_wait": False},
    )
    assert kube.node_annotations("n1")[PREFIX + "allowed-location-ips"] == "172.16.10.0/24,172.16.11.0/24"
    assert kube.node_annotations("n2")[PREFIX + "allowed-location-ips"] == "172.16.20.0/24,172.16.21.0/24"


def test_cluster_granularity_annotation_is_used_without_granularity(kube):
    """Defect C: ``source=cluster`` without ``granularity`` uses the nodes' kilo.squat.ai/granularity (kgctl's
    auto mode), so on a cluster annotated ``full`` every node is a leader."""
    topology_from_params = _argspec().topology_from_params
    hosts = INVENTORIES["native"]
    objs = _cluster_nodes(hosts, granularity="full")
    for obj in objs:
        obj["metadata"]["annotations"][PREFIX + "endpoint"] = "203.0.113.50:51820"
    kube.reset(objs)
    topology = topology_from_params({"source": "cluster", "kubeconfig": kube.kubeconfig})
    assert topology.granularity == "full"
    assert [segment.key for segment in topology.segments] == ["node:n1", "node:n2", "node:n3", "node:n4"]
    for obj in objs:
        obj["metadata"]["annotations"][PREFIX + "granularity"] = "location"
    kube.reset(objs)
    assert topology_from_params({"source": "cluster", "kubeconfig": kube.kubeconfig}).granularity == "location"
    # an explicit option wins
    explicit = topology_from_params({"source": "cluster", "kubeconfig": kube.kubeconfig, "granularity": "full"})
    assert explicit.granularity == "full"
