# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""kilo.mesh.wireguard through real ansible-playbook runs against the lab hosts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

Lab = Any  # tests/lab/conftest.py:Lab

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)

PLAYBOOK = """\
---
- name: Apply kilo.mesh.wireguard
  hosts: kilo
  gather_facts: true
  tasks:
    - name: Install WireGuard, open the port, enable forwarding
      ansible.builtin.include_role:
        name: kilo.mesh.wireguard
      vars:
        wireguard_firewall: "{{ {'dc1-a': 'nftables', 'dc2-a': 'auto'}[inventory_hostname] | default('iptables') }}"

    - name: Check the facts the mesh role reads
      ansible.builtin.assert:
        that:
          - wireguard_userspace | bool
          - wireguard_firewall_backend == expected_backend[inventory_hostname]
      vars:
        expected_backend: {dc1-a: nftables, dc1-b: iptables, dc2-a: iptables, home-a: iptables}
"""

FAKE_OS_MODULE = """\
#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0
from ansible.module_utils.basic import AnsibleModule

module = AnsibleModule(argument_spec={}, supports_check_mode=True)
module.exit_json(changed=False, ansible_facts={
    "distribution": "Plan9", "distribution_major_version": "4", "os_family": "Plan9"})
"""

UDP_ECHO = (
    "import socket,sys\n"
    "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
    "s.bind(('0.0.0.0',int(sys.argv[1])))\n"
    "print('ready',flush=True)\n"
    "while True:\n"
    "    d,a=s.recvfrom(100)\n"
    "    s.sendto(b'echo:'+d,a)\n"
)
UDP_PROBE = (
    "import socket,sys\n"
    "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
    "s.settimeout(1.5)\n"
    "s.sendto(b'ping',(sys.argv[1],int(sys.argv[2])))\n"
    "try:\n"
    "    print(s.recvfrom(100)[0].decode())\n"
    "except socket.timeout:\n"
    "    print('timeout')\n"
)


def _play(lab: Lab, playbook: Path, *args: str, limit: str | None = None) -> subprocess.CompletedProcess:
    cmd = [ANSIBLE_PLAYBOOK, "-i", str(lab.inventory), str(playbook), *args]
    if limit:
        cmd += ["--limit", limit]
    env = dict(lab.env, ANSIBLE_INJECT_FACT_VARS="false", ANSIBLE_NOCOLOR="1")
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)


def _recap(proc: subprocess.CompletedProcess) -> dict[str, dict[str, int]]:
    found = {
        host: {"changed": int(changed), "unreachable": int(unreachable), "failed": int(failed)}
        for host, changed, unreachable, failed in RECAP.findall(proc.stdout)
    }
    assert found, f"no PLAY RECAP in output:\n{proc.stdout}\n{proc.stderr}"
    return found


def _sysctl(lab: Lab, host: str, key: str = "net/ipv4/ip_forward") -> str:
    return lab.run(host, "cat", f"/proc/sys/{key}", check=True).stdout.strip()


def _reset(lab: Lab, hosts: list[str]) -> None:
    """Undo what the role does, so every run starts from a fresh host."""
    for host in hosts:
        lab.run(host, "sysctl", "-qw", "net.ipv4.ip_forward=0", check=True)
        lab.run(host, "rm", "-rf", "/var/lib/kilo/sysctl.d", "/etc/wireguard/kilo-mesh.nft", check=True)
        lab.run(host, "nft", "delete", "table", "inet", "kilo_mesh")
        for tool in ("iptables", "ip6tables"):
            lab.run(host, tool, "-F", "INPUT", check=True)
            lab.run(host, tool, "-P", "INPUT", "ACCEPT", check=True)


@pytest.fixture()
def role_playbook(tmp_path: Path) -> Path:
    path = tmp_path / "wireguard.yml"
    path.write_text(PLAYBOOK)
    return path


def test_converge_check_and_idempotence(lab: Lab, role_playbook: Path) -> None:
    hosts = lab.hosts
    _reset(lab, hosts)
    # dc2-a has a restrictive iptables policy: auto must pick iptables and open the port there
    lab.run("dc2-a", "iptables", "-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT")
    lab.run("dc2-a", "iptables", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT", check=True)
    lab.run("dc2-a", "iptables", "-P", "INPUT", "DROP", check=True)
    root_forward = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    try:
        # 1. check mode on fresh hosts: reports changes, changes nothing
        check = _play(lab, role_playbook, "--check", "--diff")
        assert check.returncode == 0, check.stdout
        assert all(r["changed"] > 0 for r in _recap(check).values()), check.stdout
        assert {_sysctl(lab, h) for h in hosts} == {"0"}
        assert lab.run("dc1-a", "nft", "list", "table", "inet", "kilo_mesh").returncode != 0

        # 2. converge
        first = _play(lab, role_playbook, "--diff")
        assert first.returncode == 0, first.stdout
        assert all(r["changed"] > 0 for r in _recap(first).values()), first.stdout

        # 3. idempotence and check mode on converged hosts
        for args in ((), ("--check", "--diff")):
            again = _play(lab, role_playbook, *args)
            assert again.returncode == 0, again.stdout
            assert {h: r["changed"] for h, r in _recap(again).items()} == dict.fromkeys(hosts, 0), again.stdout

        # forwarding is on inside every host's network namespace, not in the machine's
        assert {_sysctl(lab, h) for h in hosts} == {"1"}
        assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == root_forward
        for host in hosts:
            persisted = lab.dir / "hosts" / host / "var-lib-kilo" / "sysctl.d" / "99-kilo-mesh.conf"
            assert "net.ipv4.ip_forward=1" in persisted.read_text()
        assert not Path("/etc/sysctl.d/99-kilo-mesh.conf").exists()

        # the port is open in the firewall each host uses
        table = lab.run("dc1-a", "nft", "list", "table", "inet", "kilo_mesh", check=True).stdout
        assert "udp dport 51820 accept" in table
        for host in ("dc1-b", "dc2-a", "home-a"):
            rule = ["INPUT", "-p", "udp", "-m", "udp", "--dport", "51820"]
            rule += ["-m", "comment", "--comment", "kilo.mesh wireguard", "-j", "ACCEPT"]
            assert lab.run(host, "iptables", "-C", *rule).returncode == 0, host
            assert lab.run(host, "ip6tables", "-C", *rule).returncode == 0, host

        # real packets: dc2-a drops everything but the WireGuard port
        echo = subprocess.Popen(
            [str(lab.hack / "hx"), "dc2-a", "python3", "-c", UDP_ECHO, "51820"],
            env=lab.env,
            stdout=subprocess.PIPE,
            text=True,
        )
        closed = subprocess.Popen(
            [str(lab.hack / "hx"), "dc2-a", "python3", "-c", UDP_ECHO, "51821"],
            env=lab.env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert echo.stdout is not None and echo.stdout.readline().strip() == "ready"
            assert closed.stdout is not None and closed.stdout.readline().strip() == "ready"
            target = lab.hostvars()["dc2-a"]["lab_public_ip"]
            assert lab.run("dc1-a", "python3", "-c", UDP_PROBE, target, "51820").stdout.strip() == "echo:ping"
            assert lab.run("dc1-a", "python3", "-c", UDP_PROBE, target, "51821").stdout.strip() == "timeout"
        finally:
            for proc in (echo, closed):
                proc.kill()
                proc.wait(timeout=10)
    finally:
        _reset(lab, hosts)


# actions that run on the controller only; every other task that a host does not skip runs on the host
CONTROLLER_ACTIONS = {"assert", "set_fact", "include_tasks", "include_role", "include_vars", "validate_argument_spec"}
PER_HOST_FIREWALL = "{{ {'dc1-a': 'nftables', 'dc1-b': 'iptables'}[inventory_hostname] | default('auto') }}"


def _remote_tasks(proc: subprocess.CompletedProcess) -> dict[str, list[str]]:
    """Per host, the tasks that ran on it, from the ansible.posix.json stdout callback's output."""
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr
    ran: dict[str, list[str]] = {}
    for play in json.loads(proc.stdout)["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                ran.setdefault(host, [])
                action = str(result.get("action", "")).rsplit(".", 1)[-1]
                if not result.get("skipped") and action not in CONTROLLER_ACTIONS:
                    ran[host].append(task["task"]["name"])
    return ran


def test_idempotent_run_is_one_probe_per_host(lab: Lab) -> None:
    """playbooks/mesh.yml's wireguard play on converged hosts runs one task per host: the probe."""
    hosts = lab.hosts
    _reset(lab, hosts)
    env = dict(lab.env, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1")
    cmd = [ANSIBLE_PLAYBOOK, "-i", str(lab.inventory), str(REPO / "playbooks" / "mesh.yml"), "--tags", "wireguard"]
    cmd += ["-e", json.dumps({"wireguard_firewall": PER_HOST_FIREWALL})]
    try:
        runs = [
            subprocess.run(cmd + args, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)
            for args in ([], [], ["--check"])
        ]
        first, again, check = (_remote_tasks(proc) for proc in runs)
        assert all(len(first[h]) > 1 for h in hosts), first  # fresh hosts: forwarding and firewall to do
        for proc, ran in ((runs[1], again), (runs[2], check)):
            stats = json.loads(proc.stdout)["stats"]
            assert {h: stats[h]["changed"] for h in hosts} == dict.fromkeys(hosts, 0), stats
            probe = "kilo.mesh.wireguard : Probe the host (WireGuard, TUN, firewall, forwarding, packages)"
            assert ran == {h: [probe] for h in hosts}, ran
        assert {_sysctl(lab, h) for h in hosts} == {"1"}
        assert "udp dport 51820 accept" in lab.run("dc1-a", "nft", "list", "table", "inet", "kilo_mesh").stdout
    finally:
        _reset(lab, hosts)


FAILURES = {
    "unsupported-distribution": (
        {},
        True,
        [r"runs Plan9 4 \(os_family Plan9\), which this role does not support", "Nothing was changed"],
    ),
    "kernel-module-missing": (
        {"wireguard_implementation": "kernel"},
        False,
        [r"has no WireGuard kernel module .* but wireguard_implementation is 'kernel'"],
    ),
    "bad-port": ({"wireguard_port": 70000}, False, [r"wireguard_port must be 1-65535 \(is 70000\)"]),
    "bad-choice": ({"wireguard_firewall": "pf"}, False, [r"wireguard_firewall.*pf"]),
}


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_preflight_fails_before_any_change(lab: Lab, tmp_path: Path, case: str) -> None:
    role_vars, fake_os, messages = FAILURES[case]
    host = "dc1-b"
    _reset(lab, [host])
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "fake_os_facts.py").write_text(FAKE_OS_MODULE)
    fake_task = "    - name: Pretend to be another OS\n      fake_os_facts:\n" if fake_os else ""
    playbook = tmp_path / "fail.yml"
    playbook.write_text(
        "---\n- name: Apply kilo.mesh.wireguard\n  hosts: kilo\n  gather_facts: true\n  tasks:\n"
        + fake_task
        + "    - name: Apply the role\n      ansible.builtin.include_role:\n        name: kilo.mesh.wireguard\n"
    )
    extra_vars = json.dumps({"wireguard_firewall": "iptables", **role_vars})
    started = time.time()
    proc = _play(lab, playbook, "-e", extra_vars, limit=host)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert _recap(proc)[host]["failed"] == 1
    assert _recap(proc)[host]["changed"] == 0, output
    for message in messages:
        assert re.search(message, output), (message, output)
    # nothing on the host changed
    assert _sysctl(lab, host) == "0"
    assert not (lab.dir / "hosts" / host / "var-lib-kilo" / "sysctl.d").exists()
    assert "kilo.mesh wireguard" not in lab.run(host, "iptables", "-S", "INPUT", check=True).stdout
    assert time.time() - started < 600
