# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""The agentless mesh (playbooks/site.yml, mesh.yml, rotate_keys.yml) on a lab of its own, under change.

The tests run in file order on one lab (module scope) and build on each other: converge, idempotence and
check mode, ``--limit``, bad input rejected before any host changes, then live changes (a node added to a
location, a key rotated, a node moved to a new location) while a continuous ping between two leaders the
change does not concern runs, with WireGuard sessions that must survive (transfer counters and handshake
times never go back).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
HACK = REPO / "hack" / "lab"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)
PING_STATS = re.compile(r"(\d+) packets transmitted, (\d+) received")
INTERFACE = "kilo0"
ROUTE_PROTOCOLS = ("211", "117")  # kilo.mesh.mesh_routes, kilo.mesh.wireguard_interface


class MeshLab:
    """A lab of hack/lab with helpers to run playbooks against it and read the nodes' state."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dir = Path(f"/tmp/kilo-lab-{name}")
        self.env = dict(os.environ, KILO_LAB_NAME=name, KILO_LAB_DIR=str(self.dir))
        self.env.setdefault("ANSIBLE_HOST_KEY_CHECKING", "0")
        self.env["ANSIBLE_NOCOLOR"] = "1"
        self.env["ANSIBLE_INJECT_FACT_VARS"] = "false"

    @property
    def inventory(self) -> Path:
        return self.dir / "inventory.yml"

    def script(self, script: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(HACK / script), *args], env=self.env, capture_output=True, text=True, check=check, timeout=300
        )

    def run(self, host: str, *cmd: str) -> subprocess.CompletedProcess:
        return self.script("hx", host, *cmd, check=False)

    def hostvars(self, inventory: Path | None = None) -> dict[str, dict[str, Any]]:
        return yaml.safe_load((inventory or self.inventory).read_text())["kilo"]["hosts"]

    def playbook(self, playbook: str, *args: str, inventory: Path | None = None) -> subprocess.CompletedProcess:
        cmd = [str(ANSIBLE_PLAYBOOK), "-i", str(inventory or self.inventory), str(REPO / "playbooks" / playbook), *args]
        return subprocess.run(
            cmd,
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=1200,
            check=False,
        )

    def inventory_variant(self, tmp_path: Path, **changes: dict[str, Any]) -> Path:
        """A copy of the lab inventory with some host variables changed (value None removes the variable)."""
        data = yaml.safe_load(self.inventory.read_text())
        for host, variables in changes.items():
            for key, value in variables.items():
                if value is None:
                    data["kilo"]["hosts"][host].pop(key, None)
                else:
                    data["kilo"]["hosts"][host][key] = value
        path = tmp_path / "inventory.yml"
        path.write_text(yaml.safe_dump(data))
        return path

    # -- node state -------------------------------------------------------------------------------------

    def host_file(self, host: str, *parts: str) -> Path:
        return self.dir / "hosts" / host / Path(*parts)

    def public_key(self, host: str) -> str:
        private = self.host_file(host, "var-lib-kilo", "key").read_text()
        return subprocess.run(
            ["wg", "pubkey"], input=private, capture_output=True, text=True, check=True
        ).stdout.strip()

    def peers(self, host: str) -> dict[str, dict[str, Any]]:
        """``wg show kilo0 dump`` of a host: public key -> endpoint, allowed IPs, handshake, rx, tx."""
        proc = self.run(host, "wg", "show", INTERFACE, "dump")
        if proc.returncode != 0:
            return {}
        peers = {}
        for line in proc.stdout.splitlines()[1:]:
            key, _psk, endpoint, allowed, handshake, rx, tx, _keepalive = line.split("\t")
            peers[key] = {
                "endpoint": endpoint,
                "allowed_ips": sorted(allowed.split(",")),
                "handshake": int(handshake),
                "rx": int(rx),
                "tx": int(tx),
            }
        return peers

    def wireguard_ip(self, host: str) -> str:
        proc = self.run(host, "ip", "-j", "-4", "addr", "show", "dev", INTERFACE)
        assert proc.returncode == 0, f"{host} has no {INTERFACE}: {proc.stderr}"
        return json.loads(proc.stdout)[0]["addr_info"][0]["local"]

    def has_interface(self, host: str) -> bool:
        return self.run(host, "ip", "link", "show", INTERFACE).returncode == 0

    def snapshot(self) -> dict[str, Any]:
        """Everything the mesh role manages on every host (file contents as hashes: they hold private keys)."""
        state: dict[str, Any] = {}
        for host in self.hostvars():
            files = {}
            for parts in (("etc-wireguard", f"{INTERFACE}.conf"), ("var-lib-kilo", "key")):
                path = self.host_file(host, *parts)
                files["/".join(parts)] = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
            peers = {key: (peer["endpoint"], peer["allowed_ips"]) for key, peer in self.peers(host).items()}
            routes = [self.run(host, "ip", "route", "show", "table", "all", "proto", p).stdout for p in ROUTE_PROTOCOLS]
            state[host] = {"files": files, "peers": peers, "routes": routes}
        return state


class Pinger:
    """A continuous ping (every 0.1 s) from a host, stopped with SIGINT to read its statistics."""

    def __init__(self, lab: MeshLab, host: str, address: str) -> None:
        self.description = f"{host} -> {address}"
        self.proc = subprocess.Popen(
            [str(HACK / "hx"), host, "ping", "-n", "-i", "0.1", address],
            env=lab.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        time.sleep(1.0)

    def stop(self) -> tuple[int, int]:
        self.proc.send_signal(signal.SIGINT)
        out = self.proc.communicate(timeout=30)[0]
        self.output = out  # one "icmp_seq=N" line per reply: the gaps show when pings were lost
        match = PING_STATS.search(out)
        assert match, f"no ping statistics for {self.description}:\n{out[-2000:]}"
        return int(match.group(1)), int(match.group(2))


def recap(output: str) -> dict[str, dict[str, int]]:
    hosts = {}
    for host, ok, changed, unreachable, failed in RECAP.findall(output):
        hosts[host] = {"ok": int(ok), "changed": int(changed), "unreachable": int(unreachable), "failed": int(failed)}
    assert hosts, f"no PLAY RECAP in the output:\n{output[-5000:]}"
    return hosts


def assert_ok(proc: subprocess.CompletedProcess, what: str) -> dict[str, dict[str, int]]:
    assert proc.returncode == 0, f"{what} failed (rc={proc.returncode}):\n{proc.stdout[-15000:]}"
    return recap(proc.stdout)


def assert_sessions_kept(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]], where: str) -> None:
    """Same peers (by key), with transfer counters and handshake times that did not go back."""
    for key, old in before.items():
        assert key in after, f"{where}: peer {key} disappeared"
        new = after[key]
        assert new["handshake"] >= old["handshake"] > 0, f"{where}: handshake of peer {key} went back: {old} -> {new}"
        assert new["rx"] >= old["rx"] and new["tx"] >= old["tx"], f"{where}: peer {key} was reset: {old} -> {new}"


def assert_little_loss(sent: int, received: int, what: str) -> None:
    assert sent >= 50, f"{what}: only {sent} pings sent, the change was not covered"
    lost = sent - received
    assert lost <= max(2, sent // 100), f"{what}: {lost} of {sent} pings lost while the change was applied"


@pytest.fixture(scope="module")
def lab() -> Iterator[MeshLab]:
    if os.geteuid() != 0:
        pytest.fail("the lab needs root (network namespaces, mounts); run the suite as root")
    mesh_lab = MeshLab(f"kmc{os.getpid() % 1000}")
    up = mesh_lab.script("up.sh", check=False)
    try:
        assert up.returncode == 0, f"hack/lab/up.sh failed:\n{up.stdout}{up.stderr}"
        yield mesh_lab
    finally:
        down = mesh_lab.script("down.sh", check=False)
        assert down.returncode == 0, f"hack/lab/down.sh failed:\n{down.stdout}{down.stderr}"


@pytest.fixture(scope="module")
def converged(lab: MeshLab) -> subprocess.CompletedProcess:
    proc = lab.playbook("site.yml")
    assert_ok(proc, "playbooks/site.yml on a fresh lab")
    return proc


def test_site_builds_the_mesh(lab: MeshLab, converged: subprocess.CompletedProcess) -> None:
    hostvars = lab.hostvars()
    leaders = {"dc1-a", "dc2-a", "home-a"}  # dc1-a has kilo_leader; dc2 and home have one node each
    for host in hostvars:
        assert lab.has_interface(host) == (host in leaders), f"{host}: kilo0 presence wrong"
    keys = {host: lab.public_key(host) for host in hostvars}
    for leader in leaders:
        peers = lab.peers(leader)
        assert set(peers) == {keys[other] for other in leaders - {leader}}, f"{leader}: wrong peers"
    # the verify play printed the matrix and passed
    assert "Reachability" in converged.stdout
    assert "all 4 nodes reach every target" in converged.stdout
    # dc1-b (no kilo0) reaches dc2-a's pods through its leader
    route = lab.run("dc1-b", "ip", "route", "get", hostvars["dc2-a"]["lab_pod_ip"]).stdout
    assert f"via {hostvars['dc1-a']['lab_lan_ip']}" in route
    ping = lab.run("dc1-b", "ping", "-n", "-c", "2", "-W", "2", hostvars["dc2-a"]["lab_pod_ip"])
    assert ping.returncode == 0, ping.stdout


def test_second_run_and_check_mode_change_nothing(lab: MeshLab, converged: subprocess.CompletedProcess) -> None:
    verbose = lab.playbook("mesh.yml", "-vv")
    again = assert_ok(verbose, "second run of playbooks/mesh.yml")
    assert all(stats["changed"] == 0 for stats in again.values()), f"second run changed something: {again}"
    # -vv prints every task result: no node's private key may be among them (wg show dump has it)
    verified = lab.playbook("verify.yml", "-vv")
    assert verified.returncode == 0, verified.stdout[-8000:]
    # the mesh play reads the peers' state with its probe, verify with wg show: both print what they read
    for output, marker in ((verbose.stdout, "latest_handshake"), (verified.stdout, "wg show")):
        assert marker in output, "the run did not read the peers' state: this check would prove nothing"
        for host in lab.hostvars():
            assert lab.host_file(host, "var-lib-kilo", "key").read_text().strip() not in output, host
    check = assert_ok(lab.playbook("mesh.yml", "--check", "--diff"), "playbooks/mesh.yml --check")
    assert all(stats["changed"] == 0 for stats in check.values()), f"check mode reports changes: {check}"


# actions that run on the controller only; every other task a host does not skip runs on the host
CONTROLLER_ACTIONS = {"assert", "set_fact", "include_tasks", "include_role", "validate_argument_spec", "mesh_topology"}
PROBE = "kilo.mesh.mesh : Probe each node (key, WireGuard tools, peers' state, applied state)"
SETTLE = (
    "kilo.mesh.mesh : Wait for the handshakes of the peers that keep their tunnels alive, and read the peers' state"
)


def mesh_play_tasks(lab: MeshLab) -> tuple[dict[str, list[str]], dict[str, dict[str, int]]]:
    """Run playbooks/mesh.yml --tags mesh; per host the tasks of the mesh play that ran on it, and the stats."""
    env = dict(lab.env, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(lab.inventory), str(REPO / "playbooks" / "mesh.yml"), "--tags", "mesh"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    ran: dict[str, list[str]] = {host: [] for host in lab.hostvars()}
    for play in report["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                action = str(result.get("action", "")).rsplit(".", 1)[-1]
                if not result.get("skipped") and action not in CONTROLLER_ACTIONS:
                    ran[host].append(task["task"]["name"])
    return ran, report["stats"]


def test_an_unchanged_node_runs_only_the_probe_and_drift_is_repaired(
    lab: MeshLab, converged: subprocess.CompletedProcess
) -> None:
    """On converged nodes the mesh play runs one task per node, kilo.mesh.mesh_node_probe. State that drifted
    behind the role's back (an MTU, a route over the private interface, a peer) is seen by
    the probe and applied again on that node only; then every node is back to the probe alone."""
    hosts = sorted(lab.hostvars())
    ran, stats = mesh_play_tasks(lab)
    assert ran == {host: [PROBE] for host in hosts}, ran
    assert {host: stats[host]["changed"] for host in hosts} == dict.fromkeys(hosts, 0), stats
    for host in hosts:
        record = lab.host_file(host, "var-lib-kilo", "mesh-state.json")
        assert oct(record.stat().st_mode & 0o777) == "0o600", host
        assert lab.host_file(host, "var-lib-kilo", "key").read_text().strip() not in record.read_text(), host

    before = lab.snapshot()
    keys = {host: lab.public_key(host) for host in hosts}
    mesh_route = lab.run("dc1-b", "ip", "-j", "route", "show", "table", "all", "proto", "211").stdout
    route = json.loads(mesh_route)[0]
    assert lab.run("dc1-b", "ip", "route", "del", route["dst"], "proto", "211").returncode == 0
    assert lab.run("dc2-a", "ip", "link", "set", INTERFACE, "mtu", "1300").returncode == 0
    peer = keys["dc1-a"]
    assert lab.run("home-a", "wg", "set", INTERFACE, "peer", peer, "remove").returncode == 0
    assert peer not in lab.peers("home-a")

    ran, stats = mesh_play_tasks(lab)
    drifted = {"dc1-b", "dc2-a", "home-a"}
    for host in hosts:
        if host in drifted:
            assert ran[host][0] == PROBE and len(ran[host]) > 1, (host, ran[host])
        else:
            # after any node changed, the leaders read their peers' endpoints again (discovered endpoints)
            assert ran[host] in ([PROBE], [PROBE, SETTLE]), (host, ran[host])
    assert {host for host in hosts if stats[host]["changed"]} == drifted, stats
    assert lab.snapshot() == before
    mtu = json.loads(lab.run("dc2-a", "ip", "-j", "link", "show", INTERFACE).stdout)[0]["mtu"]
    assert mtu == 1420

    ran, stats = mesh_play_tasks(lab)
    assert ran == {host: [PROBE] for host in hosts}, ran


def test_a_reboot_gets_every_route_back_before_the_next_run(
    lab: MeshLab, converged: subprocess.CompletedProcess
) -> None:
    """A reboot leaves a leader without kilo0 and every node without its routes. What the boot units run
    (wg-quick@kilo0 on leaders, kilo-mesh-routes on every node: ``ip -force -batch`` of the restore file) brings
    all of it back from the files the role wrote, and the next run then changes nothing."""
    hostvars = lab.hostvars()
    hosts = ("dc1-a", "dc1-b")  # a leader and a node that reaches other locations through it
    before = {host: state["routes"] for host, state in lab.snapshot().items() if host in hosts}
    assert all(any(routes) for routes in before.values()), before
    target = hostvars["dc2-a"]["lab_pod_ip"]
    for host in hosts:
        if lab.has_interface(host):
            assert lab.run(host, "wg-quick", "down", INTERFACE).returncode == 0
            deadline = time.time() + 10  # wireguard-go removes its UAPI socket on the way out
            while lab.run(host, "test", "-e", f"/run/wireguard/{INTERFACE}.sock").returncode == 0:
                assert time.time() < deadline, f"{host}: wireguard-go did not exit"
                time.sleep(0.1)
        for proto in ROUTE_PROTOCOLS:
            lab.run(host, "ip", "route", "flush", "table", "all", "proto", proto)
    assert lab.run("dc1-b", "ping", "-n", "-c", "1", "-W", "1", target).returncode != 0, "nothing was lost"

    assert lab.run("dc1-a", "wg-quick", "up", INTERFACE).returncode == 0
    for host in hosts:
        restored = lab.run(host, "ip", "-force", "-batch", "/var/lib/kilo/mesh-routes")
        assert restored.returncode == 0, restored.stderr
    after = {host: state["routes"] for host, state in lab.snapshot().items() if host in hosts}
    assert after == before
    again = assert_ok(lab.playbook("mesh.yml"), "playbooks/mesh.yml after the simulated reboot")
    assert all(stats["changed"] == 0 for stats in again.values()), f"the run after the reboot changed: {again}"
    # both hosts reach every other location again (this also gives the restarted leader a session with each
    # peer, as before the reboot: later tests compare handshakes)
    for host in hosts:
        for other in set(hostvars) - set(hosts):
            ping = lab.run(host, "ping", "-n", "-c", "5", "-W", "2", hostvars[other]["lab_pod_ip"])
            assert ", 0 received" not in ping.stdout, (host, other, ping.stdout)


def test_limit_keeps_the_peers_of_hosts_outside_it(
    lab: MeshLab, converged: subprocess.CompletedProcess, tmp_path: Path
) -> None:
    before = lab.peers("dc1-a")
    # a change on dc2-a (outside the limit) that dc1-a must still see: the topology uses every host
    variant = lab.inventory_variant(tmp_path, **{"dc2-a": {"kilo_allowed_location_ips": ["10.99.0.0/24"]}})
    stats = assert_ok(
        lab.playbook("mesh.yml", "--skip-tags", "wireguard", "--limit", "dc1-a", inventory=variant),
        "mesh.yml --limit dc1-a",
    )
    assert set(stats) == {"dc1-a"}
    after = lab.peers("dc1-a")
    assert set(after) == set(before), "peers of hosts outside --limit were dropped"
    dc2 = lab.public_key("dc2-a")
    assert "10.99.0.0/24" in after[dc2]["allowed_ips"], after[dc2]
    assert_sessions_kept(before, after, "dc1-a under --limit")
    route = lab.run("dc1-a", "ip", "route", "get", "10.99.0.1").stdout
    assert "dev kilo0" in route, route
    # back to the lab's inventory, everywhere
    assert_ok(lab.playbook("mesh.yml", "--skip-tags", "wireguard"), "mesh.yml with the original inventory")
    assert "10.99.0.0/24" not in lab.peers("dc1-a")[dc2]["allowed_ips"]


@pytest.mark.parametrize("case", ["duplicate_key", "missing_endpoint", "unsupported_os"])
def test_bad_input_fails_before_any_host_changes(
    lab: MeshLab, converged: subprocess.CompletedProcess, tmp_path: Path, case: str
) -> None:
    inventory = None
    extra: list[str] = []
    key_file = lab.host_file("dc2-a", "var-lib-kilo", "key")
    saved_key = key_file.read_bytes()
    if case == "duplicate_key":
        # a cloned machine: dc2-a now holds dc1-b's key
        key_file.write_bytes(lab.host_file("dc1-b", "var-lib-kilo", "key").read_bytes())
        expected = [r"(?i)duplicate|already use", "dc2-a", "dc1-b"]
    elif case == "missing_endpoint":
        inventory = lab.inventory_variant(tmp_path, **{"dc2-a": {"kilo_endpoint": None}})
        expected = [r"(?i)endpoint", "dc2-a"]
    else:
        extra = ["-e", json.dumps({"mesh_supported_os_families": ["RedHat"]})]
        expected = [r"(?i)unsupported OS family", "dc1-a", "home-a"]
    try:
        before = lab.snapshot()
        proc = lab.playbook("mesh.yml", "--skip-tags", "wireguard", *extra, inventory=inventory)
        after = lab.snapshot()
    finally:
        key_file.write_bytes(saved_key)
    assert proc.returncode != 0, f"{case}: the playbook did not fail:\n{proc.stdout[-5000:]}"
    for pattern in expected:
        assert re.search(pattern, proc.stdout), f"{case}: error lacks {pattern!r}:\n{proc.stdout[-5000:]}"
    assert after == before, f"{case}: hosts changed although the input was rejected"
    assert all(stats["changed"] == 0 for stats in recap(proc.stdout).values())


def test_limit_with_a_keyless_host_outside_it_fails_clearly(
    lab: MeshLab, converged: subprocess.CompletedProcess
) -> None:
    lab.script("add-node.sh", "dc2-b", "dc2")
    before = lab.snapshot()
    proc = lab.playbook("mesh.yml", "--skip-tags", "wireguard", "--limit", "dc1-a")
    assert proc.returncode != 0
    assert "dc2-b" in proc.stdout and "without --limit" in proc.stdout, proc.stdout[-5000:]
    assert lab.snapshot() == before


def test_adding_a_node_keeps_the_other_tunnels_up(lab: MeshLab, converged: subprocess.CompletedProcess) -> None:
    # dc2-b joined the lab in the previous test (or joins now) but is not part of the mesh yet
    if "dc2-b" not in lab.hostvars():
        lab.script("add-node.sh", "dc2-b", "dc2")
    sessions = {host: lab.peers(host) for host in ("dc1-a", "home-a")}
    pinger = Pinger(lab, "dc1-a", lab.wireguard_ip("home-a"))
    try:
        stats = assert_ok(lab.playbook("site.yml"), "site.yml after adding dc2-b")
    finally:
        sent, received = pinger.stop()
    assert_little_loss(sent, received, "dc1-a -> home-a while dc2-b joined")
    for host, before in sessions.items():
        assert_sessions_kept(before, lab.peers(host), host)
    assert not lab.has_interface("dc2-b"), "dc2-b is not its location's leader"
    dc2b = lab.hostvars()["dc2-b"]
    assert dc2b["kilo_pod_cidr"] in lab.peers("dc1-a")[lab.public_key("dc2-a")]["allowed_ips"]
    assert stats["dc2-b"]["failed"] == 0
    ping = lab.run("dc1-b", "ping", "-n", "-c", "2", "-W", "2", dc2b["lab_pod_ip"])
    assert ping.returncode == 0, f"dc1-b cannot reach the new node's pods:\n{ping.stdout}"


def test_rotating_one_key_keeps_the_other_tunnels_up(lab: MeshLab, converged: subprocess.CompletedProcess) -> None:
    old_key = lab.public_key("dc2-a")
    home_key = lab.public_key("home-a")
    before = lab.peers("dc1-a")
    pinger = Pinger(lab, "dc1-a", lab.wireguard_ip("home-a"))
    try:
        assert_ok(lab.playbook("rotate_keys.yml", "-e", "kilo_rotate_hosts=dc2-a"), "rotate_keys.yml for dc2-a")
    finally:
        sent, received = pinger.stop()
    assert_little_loss(sent, received, "dc1-a -> home-a while dc2-a rotated its key")
    new_key = lab.public_key("dc2-a")
    assert new_key != old_key
    assert not lab.host_file("dc2-a", "var-lib-kilo", "key.next").exists()
    for leader in ("dc1-a", "home-a"):
        peers = lab.peers(leader)
        assert new_key in peers and old_key not in peers, f"{leader} does not use dc2-a's new key"
    assert_sessions_kept({home_key: before[home_key]}, lab.peers("dc1-a"), "dc1-a (peer home-a)")
    verify = assert_ok(lab.playbook("verify.yml"), "verify.yml after the rotation")
    assert all(stats["failed"] == 0 for stats in verify.values())


def test_moving_a_node_to_a_new_location(lab: MeshLab, converged: subprocess.CompletedProcess, tmp_path: Path) -> None:
    # dc1-b leaves dc1 for a location of its own: it becomes a leader, and the WireGuard IP of every
    # location sorted after it shifts (home). dc1 and dc2 keep theirs: their tunnel must not notice.
    variant = lab.inventory_variant(tmp_path, **{"dc1-b": {"kilo_location": "edge"}})
    dc2 = lab.public_key("dc2-a")
    before = lab.peers("dc1-a")
    pinger = Pinger(lab, "dc1-a", lab.wireguard_ip("dc2-a"))
    try:
        assert_ok(
            lab.playbook("mesh.yml", "--skip-tags", "wireguard", inventory=variant),
            "mesh.yml with dc1-b moved to location edge",
        )
    finally:
        sent, received = pinger.stop()
    assert_little_loss(sent, received, "dc1-a -> dc2-a while dc1-b moved")
    assert_sessions_kept({dc2: before[dc2]}, lab.peers("dc1-a"), "dc1-a (peer dc2-a)")
    assert lab.has_interface("dc1-b"), "dc1-b leads its new location"
    assert lab.public_key("dc1-b") in lab.peers("dc1-a")
    # every location, also home whose WireGuard IP moved, is reachable again
    verify = lab.playbook("verify.yml", inventory=variant)
    assert verify.returncode == 0, f"verify.yml after the move failed:\n{verify.stdout[-8000:]}"


def test_reset_removes_everything_the_role_installed_but_the_keys(
    lab: MeshLab, converged: subprocess.CompletedProcess
) -> None:
    """Last in this file: it takes the mesh down. Entry point reset (playbooks/reset.yml): no interface, config,
    owned route or restore file is left on any node; the keys stay (mesh_reset_remove_key false)."""
    assert all(lab.host_file(host, "var-lib-kilo", "mesh-routes").exists() for host in lab.hostvars())
    assert all(lab.host_file(host, "var-lib-kilo", "mesh-state.json").exists() for host in lab.hostvars())
    assert_ok(lab.playbook("reset.yml"), "playbooks/reset.yml")
    for host in lab.hostvars():
        assert not lab.has_interface(host), host
        assert not lab.host_file(host, "etc-wireguard", f"{INTERFACE}.conf").exists(), host
        assert not lab.host_file(host, "var-lib-kilo", "mesh-routes").exists(), host
        assert not lab.host_file(host, "var-lib-kilo", "mesh-state.json").exists(), host
        assert lab.host_file(host, "var-lib-kilo", "key").exists(), host
        for proto in ROUTE_PROTOCOLS:
            routes = lab.run(host, "ip", "route", "show", "table", "all", "proto", proto).stdout
            assert routes.strip() == "", (host, proto, routes)
