# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""kilo.mesh.wireguard_interface for real: wireguard-go interfaces in network namespaces this test creates.

The scenario runs in steps that share one set of three namespace hosts (a, b, c). Every step starts from
the state the previous one left (documented per test); each ends in a known state so later steps can
build on it.
"""

from __future__ import annotations

import copy
import json
import re
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

TASK = "Configure the WireGuard interface"
PLAYBOOK = """---
- name: Manage WireGuard keys
  hosts: all
  gather_facts: false
  tasks:
    - name: Ensure the key
      kilo.mesh.wireguard_key:
        state: "{{ wg_key_state | default('present') }}"

- name: Manage the WireGuard interface
  hosts: all
  gather_facts: false
  tasks:
    - name: Configure the WireGuard interface
      kilo.mesh.wireguard_interface:
        state: "{{ wg_state | default('present') }}"
        address: "{{ wg_address }}"
        listen_port: 51820
        peers: "{{ wg_peers }}"
        routes: "{{ wg_routes | default([]) }}"
        table: "{{ wg_table | default('auto') }}"
"""


def tunnel_ip(host) -> str:
    return f"10.77.0.{host.index}"


def pod_ip(host) -> str:
    """An address behind the host (on its lo), reached through the peer's allowed IPs and our routes."""
    return f"10.78.{host.index}.1"


def peer_entry(host, public_key: str, extra_allowed=()) -> dict:
    return {
        "name": host.name,
        "public_key": public_key,
        "allowed_ips": [f"{tunnel_ip(host)}/32", f"10.78.{host.index}.0/24", *extra_allowed],
        "endpoint": f"{host.underlay_ip}:51820",
        "persistent_keepalive": 5,
    }


class Mesh:
    """Desired per-host variables + helpers to apply them through a real ansible-playbook."""

    def __init__(self, lab, run_play, tmp: Path):
        self.lab = lab
        self.run_play = run_play
        self.tmp = tmp
        self.playbook = tmp / "mesh.yml"
        self.playbook.write_text(PLAYBOOK)
        self.hosts = {}
        self.keys: dict[str, str] = {}
        self.vars: dict[str, dict] = {}

    def connect(self, names):
        """Desired vars: every host in ``names`` peers with every other one."""
        for name in names:
            host = self.hosts[name]
            self.vars[name] = {
                "wg_address": [f"{tunnel_ip(host)}/24"],
                "wg_peers": [peer_entry(self.hosts[o], self.keys[o]) for o in names if o != name],
            }

    def apply(self, *args, limit=None, vars_override=None, **kwargs):
        host_vars = copy.deepcopy(self.vars)
        for name, overrides in (vars_override or {}).items():
            host_vars.setdefault(name, {}).update(overrides)
        inventory = self.lab.inventory(self.tmp / "inventory.json", host_vars)
        if limit:
            args = (*args, "--limit", ",".join(limit))
        return self.run_play(self.playbook, inventory, *args, **kwargs)

    def private_key(self, name) -> str:
        return (self.hosts[name].var_lib_kilo / "key").read_text()

    def config(self, name) -> Path:
        return self.hosts[name].etc_wireguard / "kilo0.conf"


def wg_config_state(host) -> list[str]:
    """``wg show dump`` without the counters that move on their own (handshake, rx, tx)."""
    rows = []
    for line in host.wg_dump().splitlines():
        fields = line.split("\t")
        if len(fields) == 8:
            fields = fields[:4] + fields[7:]
        rows.append("\t".join(fields))
    return rows


def our_routes(host) -> str:
    return host.run("ip", "route", "show", "table", "all", "proto", "117", "dev", "kilo0").stdout


def ping(host, address, count=3) -> subprocess.CompletedProcess:
    return host.run("ping", "-c", str(count), "-i", "0.2", "-W", "2", address, check=False)


@pytest.fixture(scope="module")
def mesh(wg_lab_module, run_play, tmp_path_factory):
    """Hosts a, b, c with keys; a and b configured as peers of each other (c has only its key)."""
    lab = wg_lab_module
    tmp = tmp_path_factory.mktemp("mesh")
    mesh = Mesh(lab, run_play, tmp)
    hosts = lab.start("abc")
    mesh.hosts = {host.name: host for host in hosts}
    for host in hosts:
        host.run("ip", "addr", "add", f"{pod_ip(host)}/32", "dev", "lo")
    key_play = tmp / "keys.yml"
    key_play.write_text(PLAYBOOK.split("\n- name: Manage the WireGuard interface", maxsplit=1)[0] + "\n")
    result = run_play(key_play, lab.inventory(tmp / "inventory.json"))
    mesh.keys = {name: res["public_key"] for name, res in result.results("Ensure the key").items()}
    a, b = hosts[0].name, hosts[1].name
    mesh.connect([a, b])
    # testinfra gotcha 3: with WG_PROCESS_FOREGROUND=0 inherited, wireguard-go forks forever; with LOG_LEVEL set
    # its daemon keeps the module's stdout pipe open. The module must clear both for the daemon it starts.
    hostile_env = {"WG_PROCESS_FOREGROUND": "0", "LOG_LEVEL": "verbose"}
    mesh.first_run = mesh.apply(limit=[a, b], env=hostile_env).results(TASK)
    return mesh


def names(mesh):
    return list(mesh.hosts)


def test_keys_generated_on_the_nodes_match_wg_pubkey(mesh):
    for name, host in mesh.hosts.items():
        key_file = host.var_lib_kilo / "key"
        derived = subprocess.run(
            ["wg", "pubkey"], input=key_file.read_text(), capture_output=True, text=True, check=True
        )
        assert derived.stdout.strip() == mesh.keys[name]
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert not key_file.read_text().endswith("\n")
    assert len(set(mesh.keys.values())) == 3


def test_first_run_brings_up_a_working_tunnel(mesh):
    a, b, _c = mesh.hosts.values()
    res_a = mesh.first_run[a.name]
    assert res_a["changed"] is True
    assert res_a["link_created"] is True
    assert res_a["implementation"] == "wireguard-go"  # this VM has no WireGuard kernel module
    assert res_a["public_key"] == mesh.keys[a.name]
    assert res_a["peers_added"] == [mesh.keys[b.name]]
    assert res_a["addresses_added"] == [f"{tunnel_ip(a)}/24"]
    # 10.77.0.2/32 is inside the connected /24: only the "pod" range needs a route
    assert res_a["routes_added"] == [f"10.78.{b.index}.0/24"]
    for src, dst in ((a, b), (b, a)):
        assert ping(src, tunnel_ip(dst)).returncode == 0
        assert ping(src, pod_ip(dst)).returncode == 0, "routed through the peer's allowed IPs"
    assert mesh.hosts[a.name].latest_handshakes()[mesh.keys[b.name]] > 0
    assert mesh.hosts[b.name].latest_handshakes()[mesh.keys[a.name]] > 0
    assert f"10.78.{b.index}.0/24" in our_routes(a)
    # the config written is a valid wg-quick config for this very key
    strip = a.run("wg-quick", "strip", "kilo0").stdout
    assert f"PublicKey = {mesh.keys[b.name]}" in strip
    assert "PrivateKey = " + mesh.private_key(a.name) in strip


def test_wireguard_go_daemon_is_outside_the_task_process_group(mesh):
    """Ansible ends a worker still alive when a play ends with a signal to the worker's whole process group
    (WorkerProcess._term): a daemon left in that group dies with it, under load, seconds after the run."""
    a, b, _c = mesh.hosts.values()
    for host in (a, b):
        daemons = host.processes("wireguard-go")
        assert len(daemons) == 1, daemons
        groups = host.task_process_groups()
        assert groups, "the interpreter wrapper recorded no task"
        _pid, group, session = daemons[0]
        assert group not in groups and session not in groups, (daemons, groups)


def test_files_are_private(mesh):
    for name in list(mesh.hosts)[:2]:
        conf = mesh.config(name)
        assert stat.S_IMODE(conf.stat().st_mode) == 0o600
        assert conf.stat().st_uid == 0


def test_second_run_reports_no_change(mesh):
    a, b, _c = mesh.hosts.values()
    before = {n: (mesh.config(n).stat().st_mtime_ns, wg_config_state(mesh.hosts[n])) for n in (a.name, b.name)}
    results = mesh.apply(limit=[a.name, b.name]).results(TASK)
    for name in (a.name, b.name):
        assert results[name]["changed"] is False, results[name]
        assert results[name]["peers_added"] == results[name]["peers_updated"] == results[name]["routes_added"] == []
        assert (mesh.config(name).stat().st_mtime_ns, wg_config_state(mesh.hosts[name])) == before[name]


def test_check_mode_reports_but_changes_nothing(mesh):
    a, b, _c = mesh.hosts.values()
    conf_before = mesh.config(a.name).read_bytes()
    wg_before = wg_config_state(a)
    routes_before = our_routes(a)
    peers = [peer_entry(b, mesh.keys[b.name], extra_allowed=["10.90.0.0/24"])]
    run = mesh.apply("--check", "--diff", limit=[a.name], vars_override={a.name: {"wg_peers": peers}})
    res = run.results(TASK)[a.name]
    assert res["changed"] is True
    assert res["config_changed"] is True
    assert res["peers_updated"] == [mesh.keys[b.name]]
    assert res["routes_added"] == ["10.90.0.0/24"]
    assert mesh.config(a.name).read_bytes() == conf_before
    assert wg_config_state(a) == wg_before
    assert our_routes(a) == routes_before
    diffs = res["diff"]
    assert "+AllowedIPs = 10.77.0.2/32, 10.78.2.0/24, 10.90.0.0/24" in _unified(diffs[0])
    assert "+route: 10.90.0.0/24" in _unified(diffs[1])


def _unified(diff: dict) -> str:
    import difflib

    return "\n".join(difflib.unified_diff(diff["before"].splitlines(), diff["after"].splitlines(), lineterm="", n=0))


def test_output_never_contains_key_material(mesh):
    """--diff and -vvv, in check mode and for real, with a preshared key added on both sides."""
    a, b, _c = mesh.hosts.values()
    psk = subprocess.run(["wg", "genpsk"], capture_output=True, text=True, check=True).stdout.strip()
    secrets = [mesh.private_key(a.name), mesh.private_key(b.name), psk]
    with_psk = {
        a.name: {"wg_peers": [dict(peer_entry(b, mesh.keys[b.name]), preshared_key=psk)]},
        b.name: {"wg_peers": [dict(peer_entry(a, mesh.keys[a.name]), preshared_key=psk)]},
    }
    outputs = []
    for args in (("--check", "--diff", "-vvv"), ("--diff", "-vvv")):
        run = mesh.apply(*args, limit=[a.name, b.name], vars_override=with_psk, as_json=False)
        outputs.append(run.output)
    run = mesh.apply("--diff", limit=[a.name, b.name], vars_override=with_psk)
    outputs.append(run.output)
    for output in outputs:
        for secret in secrets:
            assert secret not in output
    assert "PrivateKey = (redacted) public key " + mesh.keys[a.name] in outputs[0]
    assert "+PresharedKey = (redacted)" in outputs[0]
    assert run.results(TASK)[a.name]["changed"] is False  # applied by the second run
    assert psk in mesh.config(a.name).read_text()
    assert ping(a, tunnel_ip(b)).returncode == 0, "the preshared key is in effect on both sides"
    # back to the baseline (no preshared key)
    results = mesh.apply(limit=[a.name, b.name]).results(TASK)
    assert results[a.name]["peers_updated"] == [mesh.keys[b.name]]


def test_live_update_keeps_the_tunnel_up(mesh):
    """Add a third peer and change allowed IPs while a ping flows; the a<->b session is not reset."""
    a, b, c = mesh.hosts.values()
    assert ping(a, pod_ip(b)).returncode == 0
    handshake_before = a.latest_handshakes()[mesh.keys[b.name]]
    assert handshake_before > 0
    pinger = a.popen("ping", "-i", "0.05", "-W", "1", pod_ip(b))
    time.sleep(1)
    mesh.connect([a.name, b.name, c.name])
    # and a changed allowed-IP list for b on a
    mesh.vars[a.name]["wg_peers"][0]["allowed_ips"].append("10.91.0.0/24")
    results = mesh.apply().results(TASK)
    time.sleep(1)
    pinger.send_signal(signal.SIGINT)
    out = pinger.communicate(timeout=10)[0]
    sent = int(re.search(r"(\d+) packets transmitted", out).group(1))
    answered = sorted(int(seq) for seq in re.findall(r"icmp_seq=(\d+) ttl=", out))
    assert sent >= 20
    # no gap: every echo got its reply (only the one in flight when ping was stopped may be missing)
    assert answered == list(range(1, len(answered) + 1)), out
    assert len(answered) >= sent - 1, out

    res_a = results[a.name]
    assert res_a["changed"] is True
    assert res_a["link_created"] is False
    assert res_a["peers_added"] == [mesh.keys[c.name]]
    assert res_a["peers_updated"] == [mesh.keys[b.name]]
    assert sorted(res_a["routes_added"]) == ["10.78.3.0/24", "10.91.0.0/24"]
    assert results[c.name]["link_created"] is True
    handshake_after = a.latest_handshakes()[mesh.keys[b.name]]
    assert handshake_after >= handshake_before, "the session with b was reset"
    for src, dst in ((a, c), (c, b), (b, c)):
        assert ping(src, pod_ip(dst)).returncode == 0, (src.name, dst.name)
    assert "10.91.0.0/24" in our_routes(a)
    dump = a.wg_dump()
    assert "10.91.0.0/24" in dump
    again = mesh.apply().results(TASK)
    assert [again[n]["changed"] for n in mesh.hosts] == [False, False, False], json.dumps(again, indent=1)


def test_removed_peer_loses_its_routes_and_foreign_routes_stay(mesh):
    """From the 3-host state: drop c from a. Only routes with our protocol are removed."""
    a, b, c = mesh.hosts.values()
    a.run("ip", "route", "add", "10.92.0.0/24", "dev", "kilo0")  # someone else's route (proto boot)
    vars_a = {"wg_peers": [p for p in mesh.vars[a.name]["wg_peers"] if p["public_key"] != mesh.keys[c.name]]}
    res = mesh.apply(limit=[a.name], vars_override={a.name: vars_a}).results(TASK)[a.name]
    assert res["peers_removed"] == [mesh.keys[c.name]]
    assert res["routes_removed"] == ["10.78.3.0/24"]
    routes = a.run("ip", "route", "show", "dev", "kilo0").stdout
    assert "10.78.3.0/24" not in routes
    assert "10.92.0.0/24" in routes
    assert mesh.keys[c.name] not in a.wg_dump()
    assert ping(a, pod_ip(b)).returncode == 0
    mesh.vars[a.name].update(vars_a)


@pytest.mark.parametrize(
    ("bad_peer", "expected"),
    [
        pytest.param({"public_key": "not-a-key"}, r"peers\[1\] \(broken\): public_key is invalid", id="key"),
        # issue 13: a peer without allowed IPs would get no traffic
        pytest.param({"allowed_ips": []}, r"peers\[1\] \(broken\): allowed_ips is empty", id="no-allowed-ips"),
        pytest.param(
            {"allowed_ips": ["10.1.2.300/24"]}, r"peers\[1\] \(broken\): allowed_ips entry '10.1.2.300/24'", id="cidr"
        ),
        pytest.param(
            {"endpoint": "192.168.77.13"}, r"peers\[1\] \(broken\): endpoint '192.168.77.13' is invalid", id="endpoint"
        ),
    ],
)
def test_invalid_peer_fails_before_changing_anything(mesh, bad_peer, expected):
    a, _b, c = mesh.hosts.values()
    conf_before = mesh.config(a.name).read_bytes()
    wg_before = wg_config_state(a)
    broken = dict(peer_entry(c, mesh.keys[c.name]), name="broken", **bad_peer)
    peers = [*mesh.vars[a.name]["wg_peers"], broken]
    run = mesh.apply(limit=[a.name], vars_override={a.name: {"wg_peers": peers}}, check=False)
    assert run.rc != 0
    res = run.results(TASK)[a.name]
    assert res["failed"] is True
    assert re.search(expected, res["msg"]), res["msg"]
    assert mesh.config(a.name).read_bytes() == conf_before
    assert wg_config_state(a) == wg_before


def test_wg_quick_up_brings_the_routes_back(mesh):
    """From the a<->b state, with the routes given as extra routes (Table off, as the mesh role does): after the
    link is gone (a reboot), ``wg-quick up`` of the written file alone restores the routes and the tunnel, and the
    module then has nothing to change."""
    a, b, _c = mesh.hosts.values()
    extra = {"wg_table": "off", "wg_routes": [{"dst": f"10.78.{b.index}.0/24"}, {"dst": "10.91.0.0/24"}]}
    res = mesh.apply(limit=[a.name], vars_override={a.name: extra}).results(TASK)[a.name]
    assert res["routes_removed"] == [], res
    text = mesh.config(a.name).read_text()
    assert f"PostUp = ip -4 route replace 10.78.{b.index}.0/24 dev kilo0 proto 117\n" in text
    assert "PostUp = ip -4 route replace 10.91.0.0/24 dev kilo0 proto 117\n" in text
    before = our_routes(a)
    assert f"10.78.{b.index}.0/24" in before and "10.91.0.0/24" in before

    a.run("ip", "link", "del", "kilo0")
    deadline = time.time() + 10
    while a.processes("wireguard-go") and time.time() < deadline:
        time.sleep(0.1)  # the old daemon removes its UAPI socket on the way out
    assert not a.processes("wireguard-go")
    assert a.run("ip", "link", "show", "kilo0", check=False).returncode != 0, "the link and its routes are gone"
    a.run("wg-quick", "up", "kilo0", timeout=30)
    assert our_routes(a) == before
    assert ping(a, pod_ip(b)).returncode == 0
    again = mesh.apply(limit=[a.name], vars_override={a.name: extra}).results(TASK)[a.name]
    assert again["changed"] is False, again
    back = mesh.apply(limit=[a.name]).results(TASK)[a.name]
    assert back["config_changed"] is True and "PostUp" not in mesh.config(a.name).read_text()
    assert ping(a, pod_ip(b)).returncode == 0


def test_state_absent_removes_interface_and_config(mesh):
    _a, _b, c = mesh.hosts.values()
    assert mesh.config(c.name).exists()
    res = mesh.apply("--check", limit=[c.name], vars_override={c.name: {"wg_state": "absent"}}).results(TASK)[c.name]
    assert res["changed"] is True
    assert mesh.config(c.name).exists()
    assert c.run("ip", "link", "show", "kilo0", check=False).returncode == 0
    res = mesh.apply(limit=[c.name], vars_override={c.name: {"wg_state": "absent"}}).results(TASK)[c.name]
    assert res["changed"] is True
    assert not mesh.config(c.name).exists()
    assert c.run("ip", "link", "show", "kilo0", check=False).returncode != 0
    res = mesh.apply(limit=[c.name], vars_override={c.name: {"wg_state": "absent"}}).results(TASK)[c.name]
    assert res["changed"] is False


def test_staged_key_rotation_across_the_mesh(mesh):
    """From the a<->b state: stage next keys, then promote and apply them in one play; the tunnel comes back."""
    a, b, _c = mesh.hosts.values()
    old = {n: mesh.keys[n] for n in (a.name, b.name)}
    staged = mesh.apply(limit=[a.name, b.name], vars_override={n: {"wg_key_state": "rotated"} for n in old})
    next_keys = {n: r["next_public_key"] for n, r in staged.results("Ensure the key").items()}
    assert set(next_keys) == set(old) and all(next_keys[n] != old[n] for n in old)
    assert all(r["changed"] is False for r in staged.results(TASK).values()), "staging must not touch the interface"
    assert a.run("wg", "show", "kilo0", "public-key").stdout.strip() == old[a.name]

    pinger = a.popen("ping", "-i", "0.1", "-W", "1", pod_ip(b))
    time.sleep(0.5)
    mesh.keys.update(next_keys)
    mesh.connect([a.name, b.name])
    overrides = {n: {"wg_key_state": "promoted"} for n in old}
    run = mesh.apply(limit=[a.name, b.name], vars_override=overrides)
    time.sleep(2)
    pinger.send_signal(signal.SIGINT)
    out = pinger.communicate(timeout=10)[0]
    promoted = run.results("Ensure the key")
    applied = run.results(TASK)
    for name in old:
        assert promoted[name]["previous_public_key"] == old[name]
        assert promoted[name]["public_key"] == next_keys[name]
        assert applied[name]["public_key"] == next_keys[name]
        assert mesh.hosts[name].run("wg", "show", "kilo0", "public-key").stdout.strip() == next_keys[name]
        assert f"(redacted) public key {next_keys[name]}" not in json.dumps(applied[name])  # no diff requested
    assert ping(a, pod_ip(b)).returncode == 0
    assert ping(b, pod_ip(a)).returncode == 0
    answered = set(int(seq) for seq in re.findall(r"icmp_seq=(\d+) ttl=", out))
    # the switch-over costs at most a handshake: the last replies came after the promotion
    sent = int(re.search(r"(\d+) packets transmitted", out).group(1))
    assert max(answered) >= sent - 3, out
    again = mesh.apply(limit=[a.name, b.name])
    assert all(r["changed"] is False for r in again.results(TASK).values())
    assert all(r["changed"] is False for r in again.results("Ensure the key").values())


def addresses(host) -> list[str]:
    out = host.run("ip", "-j", "addr", "show", "dev", "kilo0").stdout
    return [f"{a['local']}/{a['prefixlen']}" for a in json.loads(out)[0]["addr_info"] if a["family"] == "inet"]


def test_address_change_keeps_the_routes(mesh):
    """From the a<->b state: move a's tunnel address (same prefix, then another prefix, then back).

    Removing the only IPv4 address flushes every route on the link, and removing a primary address takes
    the secondaries of its prefix with it: the routes must still all be there and carry traffic.
    """
    a, b, _c = mesh.hosts.values()
    pod_route = f"10.78.{b.index}.0/24"
    assert pod_route in our_routes(a)
    baseline = mesh.vars[a.name]["wg_address"]
    steps = [
        ("10.77.0.21/24", [pod_route]),
        # b's tunnel IP is no longer on a connected prefix: it needs its own route now
        ("10.76.0.1/24", [f"{tunnel_ip(b)}/32", pod_route]),
        (baseline[0], [pod_route]),
    ]
    for address, expected_routes in steps:
        before = addresses(a)
        new_ip = address.split("/")[0]
        # b must accept packets from a's new tunnel address
        peer_a = peer_entry(a, mesh.keys[a.name], extra_allowed=[f"{new_ip}/32"])
        overrides = {a.name: {"wg_address": [address]}, b.name: {"wg_peers": [peer_a]}}
        res = mesh.apply(limit=[a.name, b.name], vars_override=overrides).results(TASK)[a.name]
        assert res["addresses_added"] == [address], res
        assert res["addresses_removed"] == before, res
        assert addresses(a) == [address]
        routes = our_routes(a)
        # ip prints host routes without their /32
        shown = sorted(line.split()[0] for line in routes.splitlines())
        assert shown == sorted(route.removesuffix("/32") for route in expected_routes), (address, routes)
        assert ping(a, pod_ip(b)).returncode == 0, address
        assert ping(b, new_ip).returncode == 0, address
        again = mesh.apply(limit=[a.name, b.name], vars_override=overrides).results(TASK)
        assert [r["changed"] for r in again.values()] == [False, False], json.dumps(again, indent=1)
    # back to the baseline vars (b's peer entry for a loses the repeated allowed IP)
    assert mesh.apply(limit=[a.name, b.name]).results(TASK)[a.name]["changed"] is False
    again = mesh.apply(limit=[a.name, b.name]).results(TASK)
    assert [r["changed"] for r in again.values()] == [False, False], json.dumps(again, indent=1)


def test_a_failure_part_way_leaves_the_previous_state(mesh):
    """Issue 13: a re-apply whose route fails (Nexthop has invalid gateway) after an address change (/24 -> /30)
    and a peer change must put back the address, the peers, the routes and the config file, and say so."""
    a, _b, c = mesh.hosts.values()
    conf_before = mesh.config(a.name).read_bytes()
    wg_before = wg_config_state(a)
    routes_before = our_routes(a)
    addresses_before = addresses(a)
    new_address = mesh.vars[a.name]["wg_address"][0].replace("/24", "/30")
    overrides = {
        "wg_address": [new_address],
        "wg_peers": [*mesh.vars[a.name]["wg_peers"], peer_entry(c, mesh.keys[c.name])],
        "wg_routes": [{"dst": "10.93.0.0/24", "via": "10.99.99.99"}],
    }
    run = mesh.apply(limit=[a.name], vars_override={a.name: overrides}, check=False)
    assert run.rc != 0
    res = run.results(TASK)[a.name]
    assert res["failed"] is True
    assert "invalid gateway" in res["msg"] and "rolled back to its previous state" in res["msg"], res["msg"]
    assert res["changed"] is False and res["rolled_back"] is True, res
    assert addresses(a) == addresses_before
    assert wg_config_state(a) == wg_before
    assert our_routes(a) == routes_before
    assert mesh.config(a.name).read_bytes() == conf_before
    # and the next run with the old inputs has nothing to do
    assert mesh.apply(limit=[a.name]).results(TASK)[a.name]["changed"] is False


def test_missing_private_key_fails_clearly(wg_lab, run_play, tmp_path):
    (host,) = wg_lab.start("z")
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK)
    host_vars = {host.name: {"wg_address": ["10.77.0.1/24"], "wg_peers": [], "wg_key_state": "absent"}}
    inventory = wg_lab.inventory(tmp_path / "inv.json", host_vars)
    run = run_play(playbook, inventory, check=False)
    res = run.results(TASK)[host.name]
    assert "no private key at /var/lib/kilo/key" in res["msg"]
    assert "kilo.mesh.wireguard_key" in res["msg"]
    assert not (host.etc_wireguard / "kilo0.conf").exists()
    assert host.run("ip", "link", "show", "kilo0", check=False).returncode != 0
    assert json.dumps(res)  # JSON-safe


def test_config_only_mode_on_localhost(playbook_runner, tmp_path):
    """apply=false manages only the file (no interface is touched, so this runs on the real localhost)."""
    private = subprocess.run(["wg", "genkey"], capture_output=True, text=True, check=True).stdout.strip()
    key = tmp_path / "key"
    key.write_text(private)
    key.chmod(0o600)
    conf = tmp_path / "kmtcfg0.conf"
    playbook = tmp_path / "conf.yml"
    playbook.write_text(
        "---\n- name: Config only\n  hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: Write the config\n      kilo.mesh.wireguard_interface: '{{ args }}'\n"
    )
    peer = {"public_key": "kXY6yNhTAOlwJ7l6L5vWVkvCBv0T7FrkMFFqgYHyamU=", "allowed_ips": ["10.5.0.0/16"]}
    args = {
        "name": "kmtcfg0",
        "apply": False,
        "private_key_path": str(key),
        "config_path": str(conf),
        "address": ["10.5.0.9/32"],
        "peers": [peer],
    }
    env = {"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}

    def run(*extra, **changes):
        extra_vars = {"args": {**args, **changes}, "ansible_python_interpreter": "/usr/bin/python3"}
        proc = playbook_runner(playbook, "-c", "local", *extra, inventory="localhost,", extra_vars=extra_vars, env=env)
        assert private not in proc.stdout
        doc = json.loads(proc.stdout[proc.stdout.index("{") :])
        return doc["plays"][0]["tasks"][0]["hosts"]["localhost"]

    check = run("--check", "--diff")
    assert check["changed"] is True and check["link_created"] is False and check["peers_added"] == []
    assert not conf.exists()
    first = run()
    assert first["changed"] is True
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    strip = subprocess.run(["wg-quick", "strip", str(conf)], capture_output=True, text=True, check=True).stdout
    assert f"PrivateKey = {private}" in strip and "AllowedIPs = 10.5.0.0/16" in strip
    assert run()["changed"] is False
    conf.chmod(0o644)
    assert run()["changed"] is True
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    content = conf.read_bytes()
    changed = run("--check", "--diff", listen_port=51999)
    assert changed["changed"] is True and conf.read_bytes() == content
    assert "+ListenPort = 51999" in _unified(changed["diff"][0])
    assert len(changed["diff"]) == 1, "no live diff when apply is false"
    assert run(state="absent")["changed"] is True
    assert not conf.exists()
