# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
# ruff: noqa: E501  (the expected texts keep kgctl's long lines)
"""kilo.mesh.showconf against the Kubernetes API stand-in seeded with scenario S1 (docs/kilo/examples.md#scenario-s1).

The expected texts are upstream kgctl's output for scenario S1 (docs/kilo/examples.md#scenario-s1); the files the module
writes must match byte for byte.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import yaml
from kilo_objects import key

# --- expected outputs, docs/kilo/examples.md#scenario-s1 ------------------------------------------------

NODE_GCP1 = """\
[Interface]
ListenPort = 51820

[Peer]
AllowedIPs = 10.2.5.0/24, 192.168.1.10/32, 10.4.0.1/32
Endpoint = [2001:db8::10]:51820
PersistentKeepalive = 0
PublicKey = BgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgY=

[Peer]
AllowedIPs = 10.2.2.0/24, 172.31.0.5/32, 10.2.3.0/24, 172.31.0.6/32, 10.4.0.2/32, 172.31.100.0/24
Endpoint = 172.31.0.6:51820
PersistentKeepalive = 0
PublicKey = BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ=

[Peer]
AllowedIPs = 10.2.4.0/24, 10.4.0.4/32
Endpoint = edge.example.com:51820
PersistentKeepalive = 0
PublicKey = BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU=

[Peer]
AllowedIPs = 10.5.0.1/32
PersistentKeepalive = 0
PublicKey = ZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWU=

[Peer]
AllowedIPs = 10.5.0.2/32, 192.168.50.0/24
Endpoint = 203.0.113.9:51820
PersistentKeepalive = 0
PresharedKey = yMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMg=
PublicKey = ZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=
"""

NODE_GCP1_AS_PEER = """\
[Peer]
AllowedIPs = 10.2.0.0/24, 10.240.0.2/32, 10.2.1.0/24, 10.240.0.3/32, 10.4.0.3/32, 10.43.0.0/16
Endpoint = 34.1.1.1:51820
PersistentKeepalive = 0
PublicKey = AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=
"""

NODE_AWS2_AS_PEER_YAML = """\
apiVersion: kilo.squat.ai/v1alpha1
kind: Peer
metadata:
  name: aws-2
spec:
  allowedIPs:
  - 10.2.2.0/24
  - 172.31.0.5/32
  - 10.2.3.0/24
  - 172.31.0.6/32
  - 10.4.0.2/32
  - 10.43.0.0/16
  endpoint:
    dnsOrIP:
      ip: 172.31.0.6
    port: 51820
  publicKey: BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ=
"""

NODE_AWS2_AS_PEER_JSON = """\
{
  "kind": "Peer",
  "apiVersion": "kilo.squat.ai/v1alpha1",
  "metadata": {
    "name": "aws-2"
  },
  "spec": {
    "allowedIPs": [
      "10.2.2.0/24",
      "172.31.0.5/32",
      "10.2.3.0/24",
      "172.31.0.6/32",
      "10.4.0.2/32"
    ],
    "endpoint": {
      "dnsOrIP": {
        "ip": "172.31.0.6"
      },
      "port": 51820
    },
    "publicKey": "BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ="
  }
}"""

PEER_LAPTOP = """\
[Peer]
AllowedIPs = 10.2.5.0/24, 192.168.1.10/32, 10.4.0.1/32
Endpoint = [2001:db8::10]:51820
PersistentKeepalive = 10
PublicKey = BgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgY=

[Peer]
AllowedIPs = 10.2.2.0/24, 172.31.0.5/32, 10.2.3.0/24, 172.31.0.6/32, 10.4.0.2/32, 172.31.100.0/24
Endpoint = 172.31.0.6:51820
PersistentKeepalive = 10
PublicKey = BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ=

[Peer]
AllowedIPs = 10.2.0.0/24, 10.240.0.2/32, 10.2.1.0/24, 10.240.0.3/32, 10.4.0.3/32
Endpoint = 34.1.1.1:51820
PersistentKeepalive = 10
PublicKey = AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=

[Peer]
AllowedIPs = 10.2.4.0/24, 10.4.0.4/32
Endpoint = edge.example.com:51820
PersistentKeepalive = 10
PublicKey = BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU=

[Peer]
AllowedIPs = 10.5.0.2/32, 192.168.50.0/24
Endpoint = 203.0.113.9:51820
PersistentKeepalive = 10
PublicKey = ZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=
"""

PEER_LAPTOP_AS_PEER = """\
[Peer]
AllowedIPs = 10.5.0.1/32
PersistentKeepalive = 10
PublicKey = ZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWU=
"""


def run_tasks(playbook_runner, tmp_path: Path, kube, tasks: list[dict], *flags: str) -> list[dict]:
    """Run kilo.mesh.showconf tasks (kubeconfig added, failures ignored); return every task result."""
    for task in tasks:
        task["kilo.mesh.showconf"] = dict(task["kilo.mesh.showconf"], kubeconfig=kube.kubeconfig)
        task["ignore_errors"] = True
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]
    playbook = tmp_path / "showconf.yml"
    playbook.write_text("---\n" + yaml.safe_dump(play, sort_keys=False))
    proc = playbook_runner(
        playbook,
        *flags,
        inventory="localhost,",
        check=False,
        extra_vars={"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"},
    )
    out = proc.stdout
    data = json.loads(out[out.index("{") :])
    return [task["hosts"]["localhost"] for task in data["plays"][0]["tasks"]]


def showconf(task_name: str, **args) -> dict:
    return {"name": task_name, "kilo.mesh.showconf": args}


def test_s1_outputs_match_kgctl(playbook_runner, tmp_path, s1) -> None:
    cases = {
        "node-gcp-1": ({"kind": "node", "name": "gcp-1"}, NODE_GCP1),
        "node-gcp-1-as-peer": (
            {"kind": "node", "name": "gcp-1", "as_peer": True, "allowed_ips": ["10.43.0.0/16", "10.2.0.0/24"]},
            NODE_GCP1_AS_PEER,
        ),
        "node-aws-2-yaml": (
            {"kind": "node", "name": "aws-2", "as_peer": True, "output": "yaml", "allowed_ips": ["10.43.0.0/16"]},
            NODE_AWS2_AS_PEER_YAML,
        ),
        "node-aws-2-json": (
            {"kind": "node", "name": "aws-2", "as_peer": True, "output": "json"},
            NODE_AWS2_AS_PEER_JSON,
        ),
        "peer-laptop": ({"kind": "peer", "name": "laptop"}, PEER_LAPTOP),
        "peer-laptop-as-peer": ({"kind": "peer", "name": "laptop", "as_peer": True}, PEER_LAPTOP_AS_PEER),
    }
    tasks = [showconf(label, dest=str(tmp_path / label), **args) for label, (args, _text) in cases.items()]
    results = run_tasks(playbook_runner, tmp_path, s1, tasks)
    for (label, (_args, expected)), result in zip(cases.items(), results, strict=True):
        assert not result.get("failed"), (label, result)
        assert result["changed"] is True and result["leader"] is True
        written = (tmp_path / label).read_text()
        assert written == expected, label
        assert stat.S_IMODE((tmp_path / label).stat().st_mode) == 0o600
        if "PresharedKey" not in expected:
            assert result["config"] == expected, label
    # the preshared key of peer office is in the file but never in the result or the output
    assert "PresharedKey = " + key(200) in (tmp_path / "node-gcp-1").read_text()
    assert "PresharedKey = (redacted)" in results[0]["config"]


def test_second_run_and_check_mode_change_nothing(playbook_runner, tmp_path, s1) -> None:
    dest = tmp_path / "gcp-1.conf"
    task = showconf("gcp-1", kind="node", name="gcp-1", dest=str(dest))
    check = run_tasks(playbook_runner, tmp_path, s1, [dict(task)], "--check", "--diff")[0]
    assert check["changed"] is True and not dest.exists()
    assert "ListenPort = 51820" in check["diff"]["after"] and check["diff"]["before"] == ""
    first, second = run_tasks(playbook_runner, tmp_path, s1, [dict(task), dict(task)])
    assert first["changed"] is True and second["changed"] is False
    assert dest.read_text() == NODE_GCP1


def test_non_leader_and_unknown_names(playbook_runner, tmp_path, s1) -> None:
    dest = tmp_path / "gcp-2.conf"
    results = run_tasks(
        playbook_runner,
        tmp_path,
        s1,
        [
            showconf("non-leader", kind="node", name="gcp-2", dest=str(dest)),
            showconf("stale", kind="node", name="stale-1"),
            showconf("no-peer", kind="peer", name="phone"),
        ],
    )
    non_leader, stale, no_peer = results
    assert not non_leader.get("failed")
    assert non_leader["leader"] is False and non_leader["config"] == "" and non_leader["changed"] is False
    assert non_leader["msg"] == 'Node "gcp-2" is not a leader node'
    assert not dest.exists()
    assert stale["failed"] and 'did not find any node named "stale-1" in the cluster' in stale["msg"]
    assert no_peer["failed"] and 'did not find any peer named "phone" in the cluster' in no_peer["msg"]


def test_client_config_for_a_peer(playbook_runner, tmp_path, s1) -> None:
    """The complete wg-quick file: [Interface] with address and private key, then showconf peer laptop."""
    private = tmp_path / "laptop.key"
    private_key = key(42)
    private.write_text(private_key + "\n")
    dest = tmp_path / "laptop.conf"
    result = run_tasks(
        playbook_runner,
        tmp_path,
        s1,
        [showconf("client", kind="peer", name="laptop", client=True, private_key_path=str(private), dest=str(dest))],
    )[0]
    assert not result.get("failed"), result
    text = dest.read_text()
    interface, _sep, rest = text.partition("\n\n")
    assert interface.splitlines()[0] == "[Interface]"
    assert "PrivateKey = " + private_key in interface.splitlines()
    assert "Address = 10.5.0.1/32" in interface.splitlines()
    assert rest == PEER_LAPTOP
    assert private_key not in json.dumps(result)
