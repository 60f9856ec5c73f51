# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Key rotation (playbooks/rotate_keys.yml) of the whole fleet and of a node behind NAT, on a lab of its own.

The tests run in file order on one lab (module scope): converge with site.yml, rotate every node (the NAT
node home-a included) in one run, batch by batch, with continuous pings between locations, then rotate
home-a alone. After each run the mesh works with no other playbook run: every leader knows every new key,
home-a is still reached at the address of its NAT router, and no ping is lost once the run has settled.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_mesh_changes import ANSIBLE_PLAYBOOK, REPO, MeshLab, Pinger, assert_ok

HOSTS = ("dc1-a", "dc1-b", "dc2-a", "home-a")
LEADERS = ("dc1-a", "dc2-a", "home-a")  # dc1-a has kilo_leader; dc2 and home have one node each
SETTLE_SECONDS = 3.0
KILL_WIREGUARD_GO = (
    "for pid in $(pgrep -x wireguard-go); do "
    '[ "$(readlink /proc/$pid/ns/net)" = "$(readlink /proc/self/ns/net)" ] && kill -KILL "$pid" && echo "$pid"; '
    "done; true"
)
QUIET_SECONDS = 8.0  # a continuous ping (0.1 s) after the run settled: 0 lost
MAX_BURST = 40  # pings (0.1 s apart) one node's switch may cost a path: its leaders are updated one after another


@pytest.fixture(scope="module")
def lab() -> Iterator[MeshLab]:
    if os.geteuid() != 0:
        pytest.fail("the lab needs root (network namespaces, mounts); run the suite as root")
    mesh_lab = MeshLab(f"krk{os.getpid() % 1000}")
    up = mesh_lab.script("up.sh", check=False)
    try:
        assert up.returncode == 0, f"hack/lab/up.sh failed:\n{up.stdout}{up.stderr}"
        assert_ok(mesh_lab.playbook("site.yml"), "playbooks/site.yml on a fresh lab")
        yield mesh_lab
    finally:
        down = mesh_lab.script("down.sh", check=False)
        assert down.returncode == 0, f"hack/lab/down.sh failed:\n{down.stdout}{down.stderr}"


def _pingers(lab: MeshLab) -> list[Pinger]:
    """Continuous pings between locations: to the NAT node's pods and from it, and between the data centres."""
    hostvars = lab.hostvars()
    return [
        Pinger(lab, "dc1-b", hostvars["home-a"]["lab_pod_ip"]),
        Pinger(lab, "home-a", hostvars["dc2-a"]["lab_pod_ip"]),
        Pinger(lab, "dc2-a", hostvars["dc1-b"]["lab_pod_ip"]),
    ]


def _assert_no_loss_after_settling(lab: MeshLab, what: str) -> None:
    time.sleep(SETTLE_SECONDS)
    pingers = _pingers(lab)
    time.sleep(QUIET_SECONDS)
    results = [(pinger.description, *pinger.stop()) for pinger in pingers]
    for description, sent, received in results:
        assert sent >= QUIET_SECONDS * 5, f"{what}: only {sent} pings sent {description}"
        assert received == sent, f"{what}: {sent - received} of {sent} pings {description} lost after the run"


def _assert_leaders_use(lab: MeshLab, keys: dict[str, str]) -> None:
    nat_ip = lab.hostvars()["home-a"]["lab_nat_ip"]
    for leader in LEADERS:
        peers = lab.peers(leader)
        expected = {keys[other] for other in LEADERS if other != leader}
        assert set(peers) == expected, f"{leader}: peers {sorted(peers)} are not the new keys {sorted(expected)}"
        if leader != "home-a":
            endpoint = peers[keys["home-a"]]["endpoint"]
            assert endpoint.startswith(f"{nat_ip}:"), f"{leader} reaches home-a at {endpoint}, not at its NAT router"
            config = lab.host_file(leader, "etc-wireguard", "kilo0.conf").read_text()
            section = config.split(f"PublicKey = {keys['home-a']}", 1)[1].split("[Peer]", 1)[0]
            assert f"Endpoint = {nat_ip}:" in section, f"{leader}: kilo0.conf keeps no NAT endpoint for home-a"


def _watchdog_command(tmp_path: Path) -> list[str]:
    """ExecStart= of kilo-mesh-watchdog.service as the role renders it (real ansible-playbook, the role's vars)."""
    role = REPO / "roles" / "mesh"
    playbook = tmp_path / "render.yml"
    playbook.write_text(
        json.dumps(
            [
                {
                    "name": "Render the watchdog service",
                    "hosts": "localhost",
                    "connection": "local",
                    "gather_facts": False,
                    "vars_files": [str(role / "defaults" / "main.yml"), str(role / "vars" / "main.yml")],
                    "tasks": [
                        {
                            "name": "Render the unit",
                            "ansible.builtin.template": {
                                "src": str(role / "templates" / "kilo-mesh-watchdog.service.j2"),
                                "dest": str(tmp_path / "kilo-mesh-watchdog.service"),
                                "mode": "0644",
                            },
                        }
                    ],
                }
            ]
        )
    )
    subprocess.run(
        [
            str(ANSIBLE_PLAYBOOK),
            "-i",
            "localhost,",
            "-e",
            "ansible_python_interpreter=" + sys.executable,
            str(playbook),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    service = (tmp_path / "kilo-mesh-watchdog.service").read_text()
    line = next(line for line in service.splitlines() if line.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


def test_rotating_every_node_in_one_run(lab: MeshLab) -> None:
    old = {host: lab.public_key(host) for host in HOSTS}
    pingers = _pingers(lab)
    try:
        proc = lab.playbook("rotate_keys.yml")
    finally:
        during = [(pinger.description, *pinger.stop()) for pinger in pingers]
    stats = assert_ok(proc, "rotate_keys.yml for every node")
    assert set(stats) == set(HOSTS) and all(s["failed"] == 0 for s in stats.values()), stats
    assert proc.stdout.count("TASK [kilo.mesh.mesh : Promote the staged key]") == len(HOSTS), "not one batch per node"
    new = {host: lab.public_key(host) for host in HOSTS}
    for host in HOSTS:
        assert new[host] != old[host], f"{host} kept its key"
        assert not lab.host_file(host, "var-lib-kilo", "key.next").exists(), f"{host}: a staged key was left"
    _assert_leaders_use(lab, new)
    for pinger, (description, sent, received) in zip(pingers, during, strict=True):
        assert sent >= 50, f"only {sent} pings {description}: the run was not covered"
        # only the tunnels of the node being switched re-handshake, one batch at a time: pings are lost in at most
        # one short burst per switched node (its re-handshake), never between batches
        bursts = _loss_bursts(pinger.output, sent)
        assert len(bursts) <= len(HOSTS), f"{description}: pings lost in {len(bursts)} bursts {bursts}"
        assert all(length <= MAX_BURST for length in bursts), f"{description}: a long outage {bursts}"
        assert 0 <= sent - received - sum(bursts) <= 2, f"{description}: the replies were not all read"
    _assert_no_loss_after_settling(lab, "rotation of every node")


def _loss_bursts(output: str, sent: int) -> list[int]:
    """Lengths of the runs of consecutive pings without reply (by icmp_seq, 1..sent)."""
    answered = {int(seq) for seq in re.findall(r"icmp_seq=(\d+)", output)}
    bursts, run = [], 0
    for seq in range(1, sent + 1):
        if seq in answered:
            if run:
                bursts.append(run)
            run = 0
        else:
            run += 1
    # the last one or two may still have been in flight when the ping was stopped
    return bursts + ([run] if run > 2 else [])


def test_rotating_the_nat_node_keeps_it_reachable(lab: MeshLab) -> None:
    old = lab.public_key("home-a")
    proc = lab.playbook("rotate_keys.yml", "-e", "kilo_rotate_hosts=home-a")
    assert_ok(proc, "rotate_keys.yml for home-a")
    keys = {host: lab.public_key(host) for host in HOSTS}
    assert keys["home-a"] != old
    _assert_leaders_use(lab, keys)
    _assert_no_loss_after_settling(lab, "rotation of home-a")
    # the mesh run that follows finds nothing to repair
    again = assert_ok(lab.playbook("mesh.yml"), "playbooks/mesh.yml after the rotation")
    assert all(s["changed"] == 0 for s in again.values()), f"the rotation left work for the next run: {again}"


def test_the_watchdog_brings_back_a_leader_whose_wireguard_go_was_killed(lab: MeshLab, tmp_path) -> None:
    """What kilo-mesh-watchdog.service runs (rendered from the role's template) brings kilo0 back on a leader whose
    wireguard-go was killed, with its peers and routes, and the pings flow again; a second run does nothing."""
    argv = _watchdog_command(tmp_path)
    hostvars = lab.hostvars()
    leader = "dc2-a"
    peers = set(lab.peers(leader))
    routes = lab.run(leader, "ip", "route", "show", "dev", "kilo0").stdout
    assert peers and routes.strip(), f"{leader} has no peers or routes over kilo0 before the test"
    # the lab's hosts share one PID namespace: kill only the wireguard-go in this host's network namespace
    killed = lab.run(leader, "sh", "-c", KILL_WIREGUARD_GO)
    assert killed.stdout.strip(), f"no wireguard-go for kilo0 on {leader}: {killed.stderr}"
    deadline = time.time() + 10
    while lab.has_interface(leader) and time.time() < deadline:
        time.sleep(0.2)
    assert not lab.has_interface(leader), f"kilo0 of {leader} survived its wireguard-go"
    target = hostvars["dc1-b"]["lab_pod_ip"]
    assert lab.run(leader, "ping", "-n", "-c", "1", "-W", "1", target).returncode != 0, "reachable without kilo0"
    proc = lab.run(leader, *argv)
    assert proc.returncode == 0, f"the watchdog's command failed on {leader}:\n{proc.stdout}{proc.stderr}"
    assert lab.has_interface(leader)
    assert set(lab.peers(leader)) == peers
    assert lab.run(leader, "ip", "route", "show", "dev", "kilo0").stdout == routes
    # the first packets start the handshakes of the new wireguard-go; then every ping answers
    lab.run(leader, "ping", "-n", "-c", "3", "-i", "0.5", "-W", "2", target)
    ping = lab.run(leader, "ping", "-n", "-c", "10", "-i", "0.2", "-W", "2", target)
    assert ", 0% packet loss" in ping.stdout, (
        f"{leader} does not reach {target} after the watchdog:\n{ping.stdout}\n"
        + lab.run(leader, "wg", "show", "kilo0").stdout
        + lab.run(leader, "ip", "route").stdout
    )
    again = lab.run(leader, *argv)
    assert again.returncode == 0 and again.stdout == "" and again.stderr == "", again
