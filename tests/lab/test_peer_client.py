# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""A laptop joins the agentless lab mesh as a Kilo peer, from the client configuration the peers role wrote.

A network namespace ``kp<lab>`` plays the laptop: it sits on the lab's WAN bridge (198.51.100.250), runs the peers
role's ``apply`` entry point there (``ansible-playbook`` on localhost, ``peers_list[].interface: wg0``), which brings
up ``wg0`` (wireguard-go) from the WRITTEN config file, and pings a pod address of every node, in every location,
through the tunnel. playbooks/peers.yml gives the same peer to the leaders (mesh_peers).

Interfaces are only ever created inside namespaces these tests made, never in the root network namespace.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
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


def sh(*cmd: str, check: bool = True, timeout: int = 60, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), check=check, capture_output=True, text=True, timeout=timeout, input=stdin)


class Laptop:
    """A namespace on the lab's WAN bridge with its own /run/wireguard.

    Every command runs in a private mount namespace where ``run_dir`` is bind-mounted on /run/wireguard, so the
    wireguard-go socket of ``wg0`` stays reachable from one command (one ansible-playbook run) to the next.
    """

    def __init__(self, lab, run_dir: Path) -> None:
        self.ns = f"kp{lab.name}"
        self.switch = lab.namespace("sw")
        self.veth = f"kp{lab.name}"[:15]
        self.run_dir = run_dir

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
        """Run a shell script in the laptop's network namespace with its own /run/wireguard."""
        return in_namespace(self.ns, self.run_dir, script, timeout=timeout)

    def ifindex(self, name: str = "wg0") -> int:
        return json.loads(sh("ip", "-n", self.ns, "-j", "link", "show", "dev", name).stdout)[0]["ifindex"]

    def down(self) -> None:
        sh("ip", "-n", self.ns, "link", "del", "wg0", check=False)
        pids = sh("ip", "netns", "pids", self.ns, check=False).stdout.split()
        for pid in pids:  # wireguard-go started by this test inside the namespace
            sh("kill", pid, check=False)
        sh("ip", "-n", self.switch, "link", "del", self.veth, check=False)
        sh("ip", "netns", "del", self.ns, check=False)


def in_namespace(ns: str, run_dir: Path, script: str, timeout: int = 120) -> subprocess.CompletedProcess:
    """``script`` in network namespace ``ns``, in a private mount namespace with ``run_dir`` on /run/wireguard."""
    run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    wrapped = f"mkdir -p /run/wireguard && mount --bind {run_dir} /run/wireguard && {script}"
    return sh(
        "ip",
        "netns",
        "exec",
        ns,
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


def apply_playbook(directory: Path, peers: list[dict], output_dir: Path) -> str:
    """A shell command running the peers role's ``apply`` entry point on localhost (connection local)."""
    playbook = directory / "apply.yml"
    playbook.write_text(
        "---\n"
        "- name: Bring up the peers that live on this machine\n"
        "  hosts: localhost\n"
        "  connection: local\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: Apply the written client configurations\n"
        "      ansible.builtin.include_role:\n"
        "        name: kilo.mesh.peers\n"
        "        tasks_from: apply\n"
    )
    extra = directory / "apply-vars.json"
    extra.write_text(
        json.dumps(
            {
                "peers_list": peers,
                "peers_output_dir": str(output_dir),
                "peers_interface_config_dir": str(directory / "etc-wireguard"),
            }
        )
    )
    return f"{ANSIBLE_PLAYBOOK} {playbook} -e @{extra}"


def parse_conf(text: str) -> tuple[dict, dict]:
    """A wg(-quick) config: ([Interface] fields, {public key: normalised [Peer] fields})."""
    sections: list[tuple[str, dict]] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("["):
            sections.append((line, {}))
        elif "=" in line:
            key, value = (part.strip() for part in line.split("=", 1))
            sections[-1][1][key] = value
    interface = next(fields for name, fields in sections if name == "[Interface]")
    peers = {}
    for name, fields in sections:
        if name == "[Peer]":
            peers[fields["PublicKey"]] = {
                "allowed_ips": sorted(ip.strip() for ip in fields.get("AllowedIPs", "").split(",") if ip.strip()),
                "endpoint": fields.get("Endpoint"),
                "keepalive": int(fields.get("PersistentKeepalive", "0").replace("off", "0")),
                "psk": fields.get("PresharedKey"),
            }
    return interface, peers


def latest_handshakes(output: str, count: int) -> dict[str, int]:
    """The last ``count`` lines of ``wg show wg0 latest-handshakes``: {public key: unix time}."""
    return {line.split()[0]: int(line.split()[1]) for line in output.strip().splitlines()[-count:]}


def recap_changed(output: str) -> list[int]:
    return [int(count) for count in re.findall(r"changed=(\d+)", output)]


@pytest.fixture()
def laptop(lab, tmp_path):
    machine = Laptop(lab, tmp_path / "laptop-run-wireguard")
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

        # the laptop brings up wg0 from exactly that file, with the role's apply step run on the laptop itself
        apply = apply_playbook(tmp_path, [dict(LAPTOP_PEER, interface="wg0")], out)
        pods = {host: hostvars["lab_pod_ip"] for host, hostvars in lab.hostvars().items()}
        pings = " && ".join(f"ping_until {ip}" for ip in pods.values())
        script = (
            "ping_until() { for i in $(seq 1 60); do ping -c 1 -W 1 -q $1 >/dev/null && return 0; done; "
            "echo unreachable $1; return 1; }; "
            f"{apply} && {pings} && wg show wg0 latest-handshakes"
        )
        started = time.monotonic()
        result = laptop.run(script, timeout=240)
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
        assert recap_changed(result.stdout) == [1], result.stdout
        assert private_key not in result.stdout + result.stderr
        handshakes = latest_handshakes(result.stdout, len(locations))
        assert all(stamp > 0 for stamp in handshakes.values()), result.stdout
        assert time.monotonic() - started < 240

        # what is on wg0 is the written file: key, port, address, every peer with its allowed IPs, psk, keepalive
        file_interface, file_peers = parse_conf(conf)
        live = laptop.run("wg showconf wg0")
        assert live.returncode == 0, live.stderr
        live_interface, live_peers = parse_conf(live.stdout)
        addr_json = sh("ip", "-n", laptop.ns, "-j", "addr", "show", "dev", "wg0").stdout
        assert live_interface["PrivateKey"] == file_interface["PrivateKey"] == private_key
        assert live_interface["ListenPort"] == file_interface["ListenPort"]
        addresses = [
            f"{a['local']}/{a['prefixlen']}" for a in json.loads(addr_json)[0]["addr_info"] if a["scope"] == "global"
        ]
        assert addresses == [file_interface["Address"]]
        assert set(live_peers) == set(file_peers)
        wan = LAPTOP_IP.rpartition(".")[0] + "."
        for key, peer in file_peers.items():
            shown = live_peers[key]
            if not (peer["endpoint"] or "").startswith(wan):
                # an endpoint the laptop cannot reach (the private address of a leader behind NAT) or none: the
                # session roamed to the NAT's address on the WAN, and the apply step keeps that
                assert shown["endpoint"].startswith(wan), (key, shown["endpoint"])
                shown = dict(shown, endpoint=peer["endpoint"])
            assert shown == peer, key
        routes = laptop.run("ip -j route show dev wg0 proto 117")
        wanted = {net for peer in file_peers.values() for net in peer["allowed_ips"]}
        assert {r["dst"] if "/" in r["dst"] else r["dst"] + "/32" for r in json.loads(routes.stdout)} == wanted

        # a second apply changes nothing and keeps the tunnel: same link, sessions kept
        ifindex = laptop.ifindex()
        second = laptop.run(f"{apply} --diff && wg show wg0 latest-handshakes")
        assert second.returncode == 0, f"{second.stdout}\n{second.stderr}"
        assert recap_changed(second.stdout) == [0], second.stdout
        assert laptop.ifindex() == ifindex
        kept = latest_handshakes(second.stdout, len(locations))
        assert kept.keys() == handshakes.keys(), second.stdout
        assert all(kept[key] >= stamp > 0 for key, stamp in handshakes.items()), second.stdout
        check = laptop.run(f"{apply} --check --diff")
        assert check.returncode == 0 and recap_changed(check.stdout) == [0], check.stdout
        assert private_key not in check.stdout

        # a second run changes nothing, on the nodes and in the written files; with -vvv --diff (the leaders get
        # the peer through the mesh role's mesh_peers) no preshared key is printed
        preshared = set(re.findall(r"^PresharedKey = (\S+)$", conf, re.MULTILINE))
        assert preshared, "the peer has no preshared key: the output checks below would prove nothing"
        again = playbook_runner(
            REPO / "playbooks" / "peers.yml", "-vvv", "--diff", inventory=lab.inventory, extra_vars=extra
        )
        recap = re.findall(r"changed=(\d+)", again.stdout)
        assert recap and all(count == "0" for count in recap), again.stdout
        assert conf_file.read_text() == conf
        assert not any(key in again.stdout for key in preshared | {private_key}), "a key in peers.yml -vvv output"

        # and the picture of this mesh, with the laptop and its preshared key, again with -vvv --diff
        svg = tmp_path / "mesh.svg"
        drawn = playbook_runner(
            REPO / "playbooks" / "graph.yml",
            "-vvv",
            "--diff",
            inventory=lab.inventory,
            extra_vars={
                "kilo_graph_dest": str(svg),
                "kilo_graph_peers": [dict(_graph_peer(out), preshared_key=min(preshared))],
            },
        )
        assert not any(key in drawn.stdout for key in preshared), "a preshared key in graph.yml -vvv output"
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


def test_apply_refuses_a_peer_whose_private_key_is_not_on_the_controller(tmp_path) -> None:
    """Fails before touching any interface, naming the peer; runs in a throwaway namespace, without the lab."""
    if os.geteuid() != 0:
        pytest.fail("needs root (network namespaces); run the suite as root")
    ns = f"kq{os.getpid() % 100000}"
    out = tmp_path / "peers"
    run_dir = tmp_path / "run-wireguard"
    public = sh("wg", "pubkey", stdin=sh("wg", "genkey").stdout)
    office = {"name": "office", "allowed_ips": ["10.5.0.2/32"], "public_key": public.stdout.strip(), "interface": "wg7"}
    # generate: true, but the main entry point never ran: no key, no config on the controller
    phone = {"name": "phone", "allowed_ips": ["10.5.0.3/32"], "generate": True, "interface": "wg8"}
    sh("ip", "netns", "del", ns, check=False)
    sh("ip", "netns", "add", ns)
    sh("ip", "-n", ns, "link", "set", "lo", "up")
    try:
        for peer, expected in (
            (office, r"peers_list item office: interface wg7 .*private key is not on the controller"),
            (phone, r"no client configuration .* for phone \(interface wg8\)"),
        ):
            result = in_namespace(ns, run_dir, apply_playbook(tmp_path, [peer], out), timeout=120)
            assert result.returncode != 0, result.stdout
            assert re.search(expected, result.stdout), result.stdout
            links = json.loads(sh("ip", "-n", ns, "-j", "link", "show").stdout)
            assert [link["ifname"] for link in links] == ["lo"]
        assert not out.exists()
        assert not (tmp_path / "etc-wireguard").exists()
        assert list(run_dir.iterdir()) == []

        # a written file with something the role would not apply (a wg-quick hook): the error names the line and
        # the key, the private key stays out of the output, and nothing is created
        private = sh("wg", "genkey").stdout.strip()
        out.mkdir(mode=0o700)
        (out / "hooked.key").write_text(private)
        (out / "hooked.conf").write_text(
            f"[Interface]\nAddress = 10.5.0.4/32\nPrivateKey = {private}\nPostUp = ip route add 0.0.0.0/0 dev wg9\n"
        )
        hooked = {"name": "hooked", "allowed_ips": ["10.5.0.4/32"], "generate": True, "interface": "wg9"}
        result = in_namespace(ns, run_dir, apply_playbook(tmp_path, [hooked], out), timeout=120)
        assert result.returncode != 0, result.stdout
        assert "wg_conf_parse: line 4: PostUp is not supported here" in result.stdout, result.stdout
        assert private not in result.stdout + result.stderr
        links = json.loads(sh("ip", "-n", ns, "-j", "link", "show").stdout)
        assert [link["ifname"] for link in links] == ["lo"]
        assert not (tmp_path / "etc-wireguard").exists()
    finally:
        sh("ip", "netns", "del", ns, check=False)
