# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""The lab itself: isolation, ssh, NAT, idempotent up, add-node and a down.sh that leaves nothing."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Lab = Any  # tests/lab/conftest.py:Lab (conftest modules are not importable)


WG = "/usr/bin/wg"


def _netns_names(prefix: str) -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.split() and line.split()[0].startswith(prefix + "-")]


def _root_links(ns: str) -> set[str]:
    out = subprocess.run(["ip", "-n", ns, "-br", "link"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0].split("@")[0] for line in out.splitlines() if line.strip()}


def _mounts_mentioning(*needles: str) -> list[str]:
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return [line for line in lines if any(needle in line for needle in needles)]


def _netns_pids(ns: str) -> list[int]:
    out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=True).stdout
    return [int(pid) for pid in out.split()]


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wg_conf(private_key: str, address: str, peers: list[dict[str, str]]) -> str:
    lines = ["[Interface]", f"Address = {address}", f"PrivateKey = {private_key}", "ListenPort = 51820"]
    for peer in peers:
        lines += ["", "[Peer]"] + [f"{key} = {value}" for key, value in peer.items()]
    return "\n".join(lines) + "\n"


def _keypair() -> tuple[str, str]:
    private = subprocess.run([WG, "genkey"], capture_output=True, text=True, check=True).stdout.strip()
    public = subprocess.run([WG, "pubkey"], input=private, capture_output=True, text=True, check=True).stdout.strip()
    return private, public


def _install_conf(lab: Lab, host: str, text: str) -> None:
    path = lab.dir / "hosts" / host / "etc-wireguard" / "kilo0.conf"
    path.write_text(text)
    path.chmod(0o600)


@pytest.fixture()
def scratch_lab(lab_factory: Callable[..., Lab]) -> Lab:
    """A second, private lab for tests that change the topology or tear the lab down."""
    return lab_factory("kd")


def test_inventory_describes_every_host(lab: Lab) -> None:
    hostvars = lab.hostvars()
    assert sorted(hostvars) == ["dc1-a", "dc1-b", "dc2-a", "home-a"]
    assert {name: hv["kilo_location"] for name, hv in hostvars.items()} == {
        "dc1-a": "dc1",
        "dc1-b": "dc1",
        "dc2-a": "dc2",
        "home-a": "home",
    }
    pod_cidrs = {hv["kilo_pod_cidr"] for hv in hostvars.values()}
    assert len(pod_cidrs) == 4
    assert hostvars["home-a"]["kilo_persistent_keepalive"] == 25
    for name, hv in hostvars.items():
        assert hv["ansible_host"] == f"{lab.name}-{name}"
        assert hv["ansible_ssh_common_args"] == f"-F {lab.ssh_config}"
        assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+:51820", hv["kilo_endpoint"])
        # the advertised internal IP really is the host's LAN address
        addrs = lab.run(name, "ip", "-o", "-4", "addr", "show", "dev", "eth0", check=True).stdout
        assert f"inet {hv['kilo_internal_ip']} " in addrs


def test_ssh_reaches_every_host(lab: Lab) -> None:
    for host in lab.hosts:
        proc = lab.ssh(host, "hostname")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == host


def test_sysfs_shows_only_own_interfaces(lab: Lab) -> None:
    seen = {}
    for host in lab.hosts:
        listed = set(lab.run(host, "ls", "/sys/class/net", check=True).stdout.split())
        assert listed == _root_links(lab.namespace(host)), host
        seen[host] = listed
    assert "wan0" in seen["dc1-a"]
    assert "wan0" not in seen["home-a"]
    # nothing of the machine's root namespace shows up
    root_only = set(os.listdir("/sys/class/net")) - {"lo", "eth0", "wan0", "pods"}
    for listed in seen.values():
        assert not (listed & root_only)


def test_private_directories_per_host(lab: Lab) -> None:
    marker = f"lab-test-{os.getpid()}"
    lab.run("dc1-a", "sh", "-c", f"echo x > /etc/wireguard/{marker} && echo y > /var/lib/kilo/{marker}", check=True)
    try:
        assert (lab.dir / "hosts" / "dc1-a" / "etc-wireguard" / marker).exists()
        assert (lab.dir / "hosts" / "dc1-a" / "var-lib-kilo" / marker).exists()
        assert not Path(f"/etc/wireguard/{marker}").exists()
        assert not Path(f"/var/lib/kilo/{marker}").exists()
        assert lab.run("dc1-b", "test", "-e", f"/etc/wireguard/{marker}").returncode == 1
        assert lab.run("dc1-b", "test", "-e", f"/var/lib/kilo/{marker}").returncode == 1
        assert lab.run("dc1-b", "hostname", check=True).stdout.strip() == "dc1-b"
    finally:
        lab.run("dc1-a", "rm", "-f", f"/etc/wireguard/{marker}", f"/var/lib/kilo/{marker}")


def test_pod_addresses_answer_locally(lab: Lab) -> None:
    for host, hv in lab.hostvars().items():
        proc = lab.run(host, "ping", "-c1", "-W2", hv["lab_pod_ip"])
        assert proc.returncode == 0, (host, proc.stdout)


def test_lan_and_wan_connectivity(lab: Lab) -> None:
    hv = lab.hostvars()
    assert lab.run("dc1-a", "ping", "-c1", "-W2", hv["dc1-b"]["lab_lan_ip"]).returncode == 0
    assert lab.run("dc1-a", "ping", "-c1", "-W2", hv["dc2-a"]["lab_public_ip"]).returncode == 0
    # LANs of different locations are separate
    assert lab.run("dc1-a", "ping", "-c1", "-W1", hv["dc2-a"]["lab_lan_ip"]).returncode != 0


def test_nat_node_reaches_wan_but_is_not_reachable(lab: Lab) -> None:
    hv = lab.hostvars()
    home_ip = hv["home-a"]["lab_lan_ip"]
    assert lab.run("home-a", "ping", "-c1", "-W2", hv["dc1-a"]["lab_public_ip"]).returncode == 0
    assert lab.run("dc1-a", "ping", "-c1", "-W1", home_ip).returncode != 0
    # even with a route through the router, the WAN cannot open a connection into the home LAN
    route = ["ip", "route", "add", "192.168.77.0/24", "via", hv["home-a"]["lab_nat_ip"]]
    lab.run("dc1-a", *route, check=True)
    try:
        assert lab.run("dc1-a", "ping", "-c2", "-W1", home_ip).returncode != 0
        assert lab.run("dc1-a", "ping", "-c1", "-W1", hv["home-a"]["lab_nat_ip"]).returncode != 0
    finally:
        lab.run("dc1-a", "ip", "route", "del", "192.168.77.0/24")


def test_wg_quick_in_hosts_does_not_clash(lab: Lab) -> None:
    """wireguard-go in dc1-a, dc2-a and home-a at once; home-a is only reachable through its NAT."""
    hv = lab.hostvars()
    keys = {host: _keypair() for host in ("dc1-a", "dc2-a", "home-a")}
    wg_ip = {"dc1-a": "10.99.0.1", "dc2-a": "10.99.0.2", "home-a": "10.99.0.3"}

    def peer(host: str, endpoint: bool = True, keepalive: int = 0) -> dict[str, str]:
        entry = {"PublicKey": keys[host][1], "AllowedIPs": f"{wg_ip[host]}/32"}
        if endpoint:
            entry["Endpoint"] = hv[host]["kilo_endpoint"]
        if keepalive:
            entry["PersistentKeepalive"] = str(keepalive)
        return entry

    _install_conf(lab, "dc1-a", _wg_conf(keys["dc1-a"][0], "10.99.0.1/24", [peer("dc2-a"), peer("home-a")]))
    _install_conf(lab, "dc2-a", _wg_conf(keys["dc2-a"][0], "10.99.0.2/24", [peer("dc1-a"), peer("home-a")]))
    _install_conf(lab, "home-a", _wg_conf(keys["home-a"][0], "10.99.0.3/24", [peer("dc1-a", keepalive=1)]))
    try:
        for host in keys:
            proc = lab.run(host, "wg-quick", "up", "kilo0", timeout=30)
            assert proc.returncode == 0, (host, proc.stderr)
        # every host sees only its own interface and key (no shared UAPI socket)
        for host, (_private, public) in keys.items():
            assert lab.run(host, WG, "show", "kilo0", "public-key", check=True).stdout.strip() == public
            assert "kilo0" in lab.run(host, "ls", "/sys/class/net", check=True).stdout.split()
        assert not Path("/run/wireguard/kilo0.sock").exists() or os.environ.get("KILO_ALLOW_ROOT_KILO0")
        assert lab.run("dc1-a", "ping", "-c2", "-W2", "10.99.0.2").returncode == 0
        assert lab.run("home-a", "ping", "-c2", "-W2", "10.99.0.1").returncode == 0
        # dc1-a learnt home-a's real endpoint, the NAT router's WAN address, from the handshake
        endpoints = lab.run("dc1-a", WG, "show", "kilo0", "endpoints", check=True).stdout
        learnt = dict(line.split("\t") for line in endpoints.splitlines())
        assert learnt[keys["home-a"][1]].startswith(hv["home-a"]["lab_nat_ip"] + ":")
        # dc2-a never heard from home-a (no keepalive towards it) and cannot reach it
        assert lab.run("dc2-a", "ping", "-c1", "-W1", "10.99.0.3").returncode != 0
    finally:
        for host in keys:
            lab.run(host, "wg-quick", "down", "kilo0", timeout=30)
            (lab.dir / "hosts" / host / "etc-wireguard" / "kilo0.conf").unlink(missing_ok=True)


def test_up_is_idempotent(lab: Lab) -> None:
    before = {ns: os.stat(f"/run/netns/{ns}").st_ino for ns in _netns_names(lab.name)}
    inventory = lab.inventory.read_text()
    proc = lab.script("up.sh")
    assert "already up" in proc.stderr
    assert {ns: os.stat(f"/run/netns/{ns}").st_ino for ns in _netns_names(lab.name)} == before
    assert lab.inventory.read_text() == inventory
    assert lab.ssh("dc2-a", "hostname").stdout.strip() == "dc2-a"


def test_add_node(scratch_lab: Lab) -> None:
    scratch_lab.add_node("dc2-b", "dc2")
    scratch_lab.add_node("edge-a", "edge")
    hv = scratch_lab.hostvars()
    assert hv["dc2-b"]["kilo_location"] == "dc2"
    assert hv["edge-a"]["kilo_location"] == "edge"
    assert len({h["kilo_pod_cidr"] for h in hv.values()}) == len(hv) == 6
    assert scratch_lab.ssh("dc2-b", "hostname").stdout.strip() == "dc2-b"
    assert scratch_lab.run("dc2-b", "ping", "-c1", "-W2", hv["dc2-a"]["lab_lan_ip"]).returncode == 0
    assert scratch_lab.run("edge-a", "ping", "-c1", "-W2", hv["dc1-a"]["lab_public_ip"]).returncode == 0
    duplicate = scratch_lab.script("add-node.sh", "dc2-b", "dc2", check=False)
    assert duplicate.returncode != 0
    assert "already exists" in duplicate.stderr


def _lab_traces(lab: Lab, pids: list[int]) -> list[str]:
    traces = [f"netns {ns}" for ns in _netns_names(lab.name)]
    traces += [f"mount {line}" for line in _mounts_mentioning(str(lab.dir), f"/run/kilo-lab-{lab.name}")]
    traces += [f"pid {pid}" for pid in pids if _alive(pid)]
    if lab.dir.exists():
        traces.append(f"dir {lab.dir}")
    if Path(f"/run/kilo-lab-{lab.name}").exists():
        traces.append(f"dir /run/kilo-lab-{lab.name}")
    return traces


def _start_lab_processes(lab: Lab) -> list[int]:
    """wireguard-go in a host and an ssh ControlPersist master, as a play leaves them."""
    lab.run("dc1-a", "wireguard-go", "kilo0", check=True)
    ours = _netns_pids(lab.namespace("dc1-a"))
    assert ours, "wireguard-go did not start"
    master = subprocess.run(
        [
            "ssh",
            "-F",
            str(lab.ssh_config),
            "-o",
            "ControlMaster=auto",
            "-o",
            f"ControlPath={lab.dir}/cp/%C",
            "-o",
            "ControlPersist=300",
            lab.namespace("dc2-a"),
            "true",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    assert master.returncode == 0
    masters = [
        int(pid)
        for pid in subprocess.run(
            ["pgrep", "-f", f"{lab.dir}/cp/"], capture_output=True, text=True, check=False
        ).stdout.split()
    ]
    assert masters, "the ssh master did not start"
    return ours + masters


def test_down_leaves_nothing(scratch_lab: Lab) -> None:
    pids = _start_lab_processes(scratch_lab)
    assert _lab_traces(scratch_lab, pids)  # the check can see a lab
    proc = scratch_lab.script("down.sh")
    assert proc.returncode == 0
    for _attempt in range(20):  # PID 1 reaps killed processes with a delay
        if not _lab_traces(scratch_lab, pids):
            break
        time.sleep(0.2)
    assert _lab_traces(scratch_lab, pids) == []
    # and once more on nothing at all
    assert scratch_lab.script("down.sh").returncode == 0


def test_down_cleans_a_half_up_lab(lab_factory: Callable[..., Lab]) -> None:
    lab = lab_factory("kh", up=False)
    partial = (
        f'source "{lab.hack}/lib.sh"; mkdir -p "$LAB_DIR/hosts"; lab_default_tables; lab_prepare_run_dir; '
        "lab_switch_up; lab_node_up dc1-a dc1 1; lab_location_up home"
    )
    pids: list[int] = []
    try:
        subprocess.run(["bash", "-euo", "pipefail", "-c", partial], env=lab.env, check=True, timeout=60)
        lab.run("dc1-a", "wireguard-go", "kilo0", check=True)
        pids = _netns_pids(lab.namespace("dc1-a"))
        assert pids
        assert sorted(_netns_names(lab.name)) == sorted(f"{lab.name}-{ns}" for ns in ("sw", "dc1-a", "home-gw"))
    finally:
        proc = lab.script("down.sh", check=False)
    assert proc.returncode == 0, proc.stderr
    for _attempt in range(20):
        if not _lab_traces(lab, pids):
            break
        time.sleep(0.2)
    assert _lab_traces(lab, pids) == []
