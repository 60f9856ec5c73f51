# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""kilo.mesh.mesh_topology and kilo.mesh.node_annotations (controller-side actions) and the lookup through real
ansible-playbook runs: one node schema, one message for a bad value everywhere, secrets out of -v output,
and the graph module fed with the lookup's result (defect B of issue 11)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import yaml

PSK = base64.b64encode(bytes([9]) * 32).decode()


def _key(byte: int) -> str:
    return base64.b64encode(bytes([byte]) * 32).decode()


NODES = {
    "a1": {"kilo_location": "a", "kilo_endpoint": "198.51.100.1:51820", "kilo_pod_cidr": "10.2.1.0/24"},
    "a2": {"kilo_location": "a", "kilo_endpoint": "198.51.100.2:51820", "kilo_pod_cidr": "10.2.2.0/24"},
    "b1": {"kilo_location": "b", "kilo_endpoint": "198.51.100.3:51820", "kilo_pod_cidr": "10.2.3.0/24"},
}
PEERS = [
    {
        "name": "gateway",
        "allowed_ips": ["10.5.0.1/32"],
        "public_key": _key(7),
        "preshared_key": PSK,
        "endpoint": "192.0.2.200:51820",
    }
]

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Compute with the action
      kilo.mesh.mesh_topology:
        group: kilo
        peers: "{{ peers }}"
      register: computed

    - name: Compute with the lookup
      ansible.builtin.set_fact:
        looked_up: "{{ lookup('kilo.mesh.topology', group='kilo', peers=peers) }}"
      no_log: true

    - name: Compute the annotations
      kilo.mesh.node_annotations:
        group: kilo
      register: annotations

    - name: Draw the lookup's result
      kilo.mesh.graph:
        topology: "{{ looked_up }}"
      register: graph

    - name: Keep the results for the test
      ansible.builtin.copy:
        content: "{{ {'action': computed.topology, 'lookup': looked_up, 'hosts_by_node': computed.hosts_by_node,
                      'node_by_host': computed.node_by_host, 'patches': annotations.patches,
                      'dot': graph.dot} | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
      no_log: true
"""

GRAPH = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Draw the lookup's result
      kilo.mesh.graph:
        topology: "{{ lookup('kilo.mesh.topology', group='kilo', peers=peers) }}"
      register: graph

    - name: Keep the graph for the test
      ansible.builtin.copy:
        content: "{{ graph.dot }}"
        dest: "{{ out }}"
        mode: "0600"
"""

ONE_TASK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Run {{ what }}
      {task}
"""

TASKS = {
    "action": "kilo.mesh.mesh_topology: {group: kilo}",
    "lookup": "ansible.builtin.debug: {msg: \"{{ lookup('kilo.mesh.topology', group='kilo') | length }}\"}",
    "annotations": "kilo.mesh.node_annotations: {group: kilo}",
}


def _inventory(path: Path, changes: dict | None = None) -> Path:
    hosts = {}
    for index, (host, host_vars) in enumerate(sorted(NODES.items())):
        hosts[host] = dict(host_vars, kilo_public_key=_key(index + 1))
    for host, host_vars in (changes or {}).items():
        hosts[host].update(host_vars)
    inventory = {
        "all": {
            "hosts": {"localhost": {"ansible_connection": "local"}},
            "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
            "children": {"kilo": {"hosts": hosts}},
        }
    }
    path.write_text(yaml.safe_dump(inventory))
    return path


def test_action_lookup_and_graph(tmp_path, playbook_runner):
    """The action and the lookup give the same topology; -v output never shows the preshared key; the graph of
    the lookup's result carries the peer's endpoint (defect B: it used to draw ``gateway\\n\\n``)."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK)
    out = tmp_path / "out.json"
    proc = playbook_runner(
        playbook, "-v", inventory=_inventory(tmp_path / "inventory.yml"), extra_vars={"peers": PEERS, "out": str(out)}
    )
    assert PSK not in proc.stdout
    data = json.loads(out.read_text())
    assert data["action"] == data["lookup"]
    assert data["hosts_by_node"] == {"a1": "a1", "a2": "a2", "b1": "b1"}
    assert data["node_by_host"] == {"a1": "a1", "a2": "a2", "b1": "b1"}
    leader_peers = data["action"]["nodes"]["a1"]["peers"]
    assert PSK in [peer["preshared_key"] for peer in leader_peers]  # the registered result keeps it
    assert data["lookup"]["peers"]["gateway"]["endpoint"] == "192.0.2.200:51820"
    assert 'label="gateway\\n192.0.2.200:51820' in data["dot"], data["dot"]
    assert [patch["metadata"]["name"] for patch in data["patches"]] == ["a1", "a2", "b1"]


def test_graph_of_the_lookup_result_shows_peer_endpoints(tmp_path, playbook_runner):
    """Defect B: kilo.mesh.graph topology=<lookup result> labels a peer with its endpoint like kgctl graph."""
    playbook = tmp_path / "graph.yml"
    playbook.write_text(GRAPH)
    out = tmp_path / "graph.dot"
    inventory = _inventory(tmp_path / "inventory.yml")
    playbook_runner(playbook, inventory=inventory, extra_vars={"peers": PEERS, "out": str(out)})
    assert 'label="gateway\\n192.0.2.200:51820' in out.read_text(), out.read_text()


def _fail(tmp_path, playbook_runner, what: str, changes: dict) -> str:
    playbook = tmp_path / f"{what}.yml"
    playbook.write_text(ONE_TASK.replace("{task}", TASKS[what]))
    proc = playbook_runner(
        playbook, inventory=_inventory(tmp_path / "inventory.yml", changes), extra_vars={"what": what}, check=False
    )
    assert proc.returncode != 0, proc.stdout
    assert "censored" not in proc.stdout and "no_log" not in proc.stdout, proc.stdout
    return proc.stdout


def test_a_bad_form_is_refused_with_the_same_message_everywhere(tmp_path, playbook_runner):
    message = (
        "host 'a2': kilo_leader has invalid value 'maybe': expected a boolean (true/false, yes/no or 1/0); "
        "fix the host variable kilo_leader of host a2"
    )
    for what in TASKS:
        output = _fail(tmp_path, playbook_runner, what, {"a2": {"kilo_leader": "maybe"}})
        assert message in output, (what, output)


def test_engine_errors_name_the_host_and_variable(tmp_path, playbook_runner):
    """A bad CIDR: the engine's message plus the inventory host and variable, shown (not censored)."""
    for what in TASKS:
        output = _fail(tmp_path, playbook_runner, what, {"b1": {"kilo_allowed_location_ips": "10.9.0.0/33"}})
        assert "field allowed_location_ips has invalid value '10.9.0.0/33'" in output, (what, output)
        assert "inventory host variable kilo_allowed_location_ips of host 'b1'" in output, (what, output)


def test_a_template_error_names_the_host_and_variable(tmp_path, playbook_runner):
    for what in ("action", "lookup"):
        output = _fail(tmp_path, playbook_runner, what, {"a1": {"kilo_location": "{{ no_such_variable }}"}})
        assert "host 'a1': the value of host variable kilo_location cannot be templated" in output, (what, output)


def test_a_lookup_error_is_printed_once(tmp_path, playbook_runner):
    """Issue 13: the error text appears once in the task's failure line (no chained copy of the cause)."""
    output = _fail(tmp_path, playbook_runner, "lookup", {"b1": {"kilo_allowed_location_ips": ["10.9.0.0/33"]}})
    fatal = [line for line in output.splitlines() if line.startswith("fatal:")]
    assert len(fatal) == 1, output
    assert fatal[0].count("has invalid value '10.9.0.0/33'") == 1, fatal[0]


def test_a_malformed_preshared_key_is_never_echoed(tmp_path, playbook_runner):
    """The action's failure shows the engine's message (peer and field) but never the bad key, also with -vvv."""
    playbook = tmp_path / "psk.yml"
    playbook.write_text(ONE_TASK.replace("{task}", 'kilo.mesh.mesh_topology: {group: kilo, peers: "{{ peers }}"}'))
    secret = "NOT-A-KEY-" + "x" * 30
    peers = [dict(PEERS[0], preshared_key=secret)]
    proc = playbook_runner(
        playbook,
        "-vvv",
        inventory=_inventory(tmp_path / "inventory.yml"),
        extra_vars={"peers": peers, "what": "action"},
        check=False,
    )
    assert proc.returncode != 0
    assert 'peer "gateway": field preshared_key has an invalid value (not shown' in proc.stdout, proc.stdout
    assert secret not in proc.stdout, proc.stdout
