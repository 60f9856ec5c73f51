# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""A laptop joins the agentless lab mesh as a Kilo peer, from the client configuration the peers role wrote.

A network namespace ``kp<lab>`` plays the laptop: it sits on the lab's WAN bridge (198.51.100.250), brings up
``wg0`` with wg-quick (wireguard-go) from the WRITTEN config file and pings a pod address of every node, in every
location, through the tunnel. playbooks/peers.yml gives the same peer to the leaders (mesh_peers).
"""

from __future__ import annotations

import re
import stat
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAPTOP_IP = "198.51.100.250"
LAPTOP_PEER = {
    "name": "laptop",
    "allowed_ips": ["10.5.0.1/32"],
    "generate": True,
    "generate_preshared_key": True,
    # a fixed endpoint lets home-a, behind NAT, open the tunnel towards the laptop
    "endpoint": f"{LAPTOP_IP}:51820",
    "persistent_keepalive": 10,
}


def sh(*cmd: str, check: bool = True, timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), check=check, capture_output=True, text=True, timeout=timeout)


class Laptop:
    """A namespace on the lab's WAN bridge with its own /run/wireguard (a private mount namespace per command)."""

    def __init__(self, lab) -> None:
        self.ns = f"kp{lab.name}"
        self.switch = lab.namespace("sw")
        self.veth = f"kp{lab.name}"[:15]

    def up(self) -> None:
        sh("ip", "netns", "add", self.ns)
        sh(
            "ip",
            "link",
            "add",
            "kplaptop0",
            "netns",
            self.ns,
            "type",
            "veth",
            "peer",
            "name",
            self.veth,
            "netns",
            self.switch,
        )
        sh("ip", "-n", self.switch, "link", "set", self.veth, "master", "br-wan", "up")
        sh("ip", "-n", self.ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.ns, "link", "set", "kplaptop0", "name", "eth0")
        sh("ip", "-n", self.ns, "addr", "add", f"{LAPTOP_IP}/24", "dev", "eth0")
        sh("ip", "-n", self.ns, "link", "set", "eth0", "up")

    def run(self, script: str, timeout: int = 120) -> subprocess.CompletedProcess:
        """Run a shell script in the laptop's network namespace with a private tmpfs /run/wireguard."""
        wrapped = "mount -t tmpfs -o mode=0755 tmpfs /run/wireguard && " + script
        return sh(
            "ip",
            "netns",
            "exec",
            self.ns,
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            wrapped,
            check=False,
            timeout=timeout,
        )

    def down(self) -> None:
        sh("ip", "-n", self.ns, "link", "del", "wg0", check=False)
        pids = sh("ip", "netns", "pids", self.ns, check=False).stdout.split()
        for pid in pids:  # wireguard-go started by this test inside the namespace
            sh("kill", pid, check=False)
        sh("ip", "-n", self.switch, "link", "del", self.veth, check=False)
        sh("ip", "netns", "del", self.ns, check=False)


@pytest.fixture()
def laptop(lab):
    machine = Laptop(lab)
    machine.down()  # leftovers of an interrupted run
    machine.up()
    try:
        yield machine
    finally:
        machine.down()


def test_laptop_reaches_every_location_through_the_written_config(lab, laptop, playbook_runner, tmp_path) -> None:
    out = tmp_path / "peers"
    extra = {
        "peers_source": "inventory",
        "peers_list": [LAPTOP_PEER],
        "peers_output_dir": str(out),
    }
    try:
        run = playbook_runner(REPO / "playbooks" / "peers.yml", inventory=lab.inventory, extra_vars=extra)
        conf_file = out / "laptop.conf"
        private_key = (out / "laptop.key").read_text().strip()
        assert private_key not in run.stdout
        assert stat.S_IMODE(conf_file.stat().st_mode) == 0o600
        conf = conf_file.read_text()
        assert conf.startswith(
            "[Interface]\nAddress = 10.5.0.1/32\nPrivateKey = " + private_key + "\nListenPort = 51820\n"
        )
        locations = {hostvars["kilo_location"] for hostvars in lab.hostvars().values()}
        assert conf.count("[Peer]") == len(locations)  # one section per location leader, no other peer

        # the laptop brings up wg0 from exactly that file (wg-quick wants <interface>.conf)
        wg0 = tmp_path / "wg0.conf"
        wg0.write_text(conf)
        wg0.chmod(0o600)
        pods = {host: hostvars["lab_pod_ip"] for host, hostvars in lab.hostvars().items()}
        pings = " && ".join(f"ping_until {ip}" for ip in pods.values())
        script = (
            "ping_until() { for i in $(seq 1 60); do ping -c 1 -W 1 -q $1 >/dev/null && return 0; done; "
            "echo unreachable $1; return 1; }; "
            f"wg-quick up {wg0} && {pings} && wg show wg0 latest-handshakes"
        )
        started = time.monotonic()
        result = laptop.run(script, timeout=240)
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{conf}"
        handshakes = [int(line.split()[1]) for line in result.stdout.strip().splitlines()[-len(locations) :]]
        assert all(stamp > 0 for stamp in handshakes), result.stdout
        assert time.monotonic() - started < 240

        # a second run changes nothing, on the nodes and in the written files
        again = playbook_runner(REPO / "playbooks" / "peers.yml", inventory=lab.inventory, extra_vars=extra)
        recap = re.findall(r"changed=(\d+)", again.stdout)
        assert recap and all(count == "0" for count in recap), again.stdout
        assert conf_file.read_text() == conf

        # and the picture of this mesh, with the laptop
        svg = tmp_path / "mesh.svg"
        playbook_runner(
            REPO / "playbooks" / "graph.yml",
            inventory=lab.inventory,
            extra_vars={"kilo_graph_dest": str(svg), "kilo_graph_peers": [_graph_peer(out)]},
        )
        titles = {el.text for el in ET.parse(svg).getroot().iter("{http://www.w3.org/2000/svg}title")}
        assert set(pods) | {"laptop"} <= titles, titles
    finally:
        playbook_runner(REPO / "playbooks" / "reset.yml", inventory=lab.inventory, check=False)


def _graph_peer(out: Path) -> dict:
    public_key = subprocess.run(
        ["wg", "pubkey"], input=(out / "laptop.key").read_text(), capture_output=True, text=True, check=True
    ).stdout.strip()
    return {
        "name": "laptop",
        "allowed_ips": LAPTOP_PEER["allowed_ips"],
        "public_key": public_key,
        "endpoint": LAPTOP_PEER["endpoint"],
    }
