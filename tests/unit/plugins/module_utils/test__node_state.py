# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""The node fingerprint and the applied-state record (plugins/module_utils/_node_state.py).

No root: the ``run`` seam gets :class:`Node`, which answers ``ip -j addr``, ``wg show dump``, ``ip -j route``
and ``systemctl`` from plain data that each test changes the way drift happens on a real node. The real
modules run in tests/lab/test_mesh_changes.py (probe once, drift repaired).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from ansible_collections.kilo.mesh.plugins.module_utils import _node_state as ns

PUB = "kXY6yNhTAOlwJ7l6L5vWVkvCBv0T7FrkMFFqgYHyamU="
PRIV = "GL7dw2lNtGHnojxT4dDr6f8Lt2BrtIQqql+kIpxd3lk="
PEER_B = "1uQL9DgQ+MGX9n9VkiA3UwF0o7Jwln3cO9gaQVUO2lo="
PEER_C = "IKV2TLagro5X4QzYhjyjq0oe/4TVWPMyF9ORcieceRU="
PSK = "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE="


class Node:
    def __init__(self) -> None:
        self.link: dict | None = {"flags": ["UP"], "mtu": 1420, "addrs": ["10.4.0.1/16"]}
        self.listen_port = 51820
        self.peers = {
            PEER_B: {"psk": PSK, "endpoint": "192.0.2.2:51820", "allowed": "10.4.0.2/32,10.2.0.0/24", "hs": 0},
            PEER_C: {"psk": None, "endpoint": "(none)", "allowed": "10.4.0.3/32", "hs": 1700000000},
        }
        self.routes = {117: [{"dst": "10.2.0.0/24", "dev": "kilo0", "protocol": "117", "flags": []}], 211: []}
        self.units = {"wg-quick@kilo0.service": ("enabled", "active")}
        self.calls: list[list[str]] = []

    def __call__(self, argv, data=None):
        self.calls.append(list(argv))
        if argv[:4] == ["ip", "-j", "addr", "show"]:
            if self.link is None:
                return 1, "", 'Device "kilo0" does not exist.'
            info = [
                {"local": a.split("/")[0], "prefixlen": int(a.split("/")[1]), "scope": "global"}
                for a in self.link["addrs"]
            ]
            return (
                0,
                json.dumps(
                    [{"ifname": "kilo0", "flags": self.link["flags"], "mtu": self.link["mtu"], "addr_info": info}]
                ),
                "",
            )
        if argv[:2] == ["wg", "show"]:
            if self.link is None:
                return 1, "", "Unable to access interface: No such device"
            lines = [f"{PRIV}\t{PUB}\t{self.listen_port}\toff"]
            for key, peer in self.peers.items():
                fields = [key, peer["psk"] or "(none)", peer["endpoint"], peer["allowed"], str(peer["hs"])]
                lines.append("\t".join(fields + ["12", "34", "off"]))
            return 0, "\n".join(lines) + "\n", ""
        if argv[0] == "ip" and "route" in argv:
            protocol = int(argv[argv.index("proto") + 1])
            family = argv[1]
            routes = [r for r in self.routes.get(protocol, []) if (":" in r["dst"]) == (family == "-6")]
            return 0, json.dumps(routes), ""
        if argv[0] == "systemctl":
            index = 0 if argv[1] == "is-enabled" else 1
            return 0, "".join(self.units.get(unit, ("disabled", "inactive"))[index] + "\n" for unit in argv[2:]), ""
        raise AssertionError(f"unexpected command {argv}")


def take(node: Node, files: dict[str, bytes] | None = None, systemd: bool = True) -> dict:
    files = files or {}
    return ns.fingerprint(
        node,
        "kilo0",
        [117, 211],
        sorted(files) or ["/etc/wireguard/kilo0.conf"],
        ["wg-quick@kilo0.service"],
        ns.read_dump(node, "kilo0"),
        read=files.get,
        systemd=systemd,
    )


def test_digest_is_canonical_and_sensitive() -> None:
    assert ns.digest({"a": 1, "b": [1, 2]}) == ns.digest({"b": [1, 2], "a": 1})
    assert ns.digest({"a": 1}) != ns.digest({"a": 2})
    assert ns.digest([1, 2]) != ns.digest([2, 1])
    assert len(ns.digest(None)) == 64


def test_fingerprint_is_stable_while_nothing_changes() -> None:
    node = Node()
    first = take(node)
    # handshakes, transfer counters and roamed endpoints change while the mesh is fine
    node.peers[PEER_B].update(hs=1700000100, endpoint="198.51.100.9:40000")
    assert take(node) == first
    assert set(first["parts"]) == {"interface", "routes", "files", "units"}


@pytest.mark.parametrize(
    "drift, part",
    [
        (lambda n: n.routes[117].clear(), "routes"),
        (lambda n: n.routes[211].append({"dst": "10.3.0.0/24", "gateway": "10.0.0.2", "dev": "eth0"}), "routes"),
        (lambda n: n.link.update(mtu=1300), "interface"),
        (lambda n: n.link.update(flags=[]), "interface"),
        (lambda n: n.link.update(addrs=[]), "interface"),
        (lambda n: setattr(n, "link", None), "interface"),
        (lambda n: n.peers.pop(PEER_C), "interface"),
        (lambda n: n.peers[PEER_B].update(allowed="10.4.0.2/32"), "interface"),
        (lambda n: n.peers[PEER_B].update(psk=None), "interface"),
        (lambda n: setattr(n, "listen_port", 51821), "interface"),
        (lambda n: n.units.clear(), "units"),
    ],
)
def test_every_kind_of_drift_changes_the_fingerprint(drift, part) -> None:
    node = Node()
    before = take(node)
    drift(node)
    after = take(node)
    assert after["live"] != before["live"]
    record = json.loads(ns.record_text("D", before))
    assert ns.drifted_parts(record, after) == [part]
    assert ns.applied_digest(record, after) is None
    assert ns.applied_digest(record, before) == "D"


def test_file_content_and_absence_are_part_of_the_fingerprint() -> None:
    node = Node()
    path = "/etc/wireguard/kilo0.conf"
    base = take(node, {path: b"[Interface]\n"})
    assert take(node, {path: b"[Interface]\nMTU = 1300\n"})["parts"]["files"] != base["parts"]["files"]
    gone = ns.fingerprint(node, "kilo0", [117], [path], [], None, read=lambda p: None, systemd=False)
    assert gone["parts"]["files"] != base["parts"]["files"]


def test_units_are_read_only_on_systemd() -> None:
    node = Node()
    take(node, systemd=False)
    assert not [c for c in node.calls if c[0] == "systemctl"]
    node.units.clear()  # invisible without systemd
    assert take(node, systemd=False) == take(Node(), systemd=False)
    take(node, systemd=True)
    assert ["systemctl", "is-enabled", "wg-quick@kilo0.service"] in node.calls


def test_no_secret_enters_the_fingerprint_or_the_record() -> None:
    node = Node()
    live = take(node, {"/etc/wireguard/kilo0.conf": f"PrivateKey = {PRIV}\n".encode()})
    text = ns.record_text("D", live)
    for secret in (PRIV, PSK):
        assert secret not in text
        assert secret not in json.dumps(live)


def test_peer_state_and_waiting_for_handshakes() -> None:
    node = Node()
    dump = ns.read_dump(node, "kilo0")
    assert ns.peer_state(dump) == [
        {"public_key": PEER_B, "endpoint": "192.0.2.2:51820", "latest_handshake": 0},
        {"public_key": PEER_C, "endpoint": None, "latest_handshake": 1700000000},
    ]
    assert ns.peer_state(None) == []
    now = [0.0]
    sleeps: list[float] = []
    answer_after = [3]  # the peer answers after this many waits

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds
        if len(sleeps) == answer_after[0]:
            node.peers[PEER_B]["hs"] = 1700000050

    got = ns.wait_for_handshakes(node, "kilo0", [PEER_B, "not-a-peer"], 10, sleep=sleep, clock=lambda: now[0])
    assert got["peers"][PEER_B]["latest_handshake"] == 1700000050 and len(sleeps) == 3
    node.peers[PEER_B]["hs"] = 0
    sleeps.clear()
    answer_after[0] = 0  # never
    got = ns.wait_for_handshakes(node, "kilo0", [PEER_B], 2, sleep=sleep, clock=lambda: now[0])
    assert got["peers"][PEER_B]["latest_handshake"] == 0 and sum(sleeps) == pytest.approx(2.0)  # gave up
    node.link = None
    assert ns.wait_for_handshakes(node, "kilo0", [PEER_B], 10, sleep=sleep, clock=lambda: now[0]) is None


def test_record_round_trip_and_bad_records(tmp_path: Path) -> None:
    node = Node()
    live = take(node)
    path = str(tmp_path / "state" / "mesh-state.json")
    assert ns.write_record(path, "D1", live, check_mode=True) is True
    assert not os.path.exists(path)
    assert ns.write_record(path, "D1", live) is True
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert ns.write_record(path, "D1", live) is False
    record = ns.read_record(path)
    assert ns.applied_digest(record, live) == "D1"
    assert ns.write_record(path, "D2", live) is True
    Path(path).write_text("{not json")
    assert ns.read_record(path) is None
    Path(path).write_text('{"digest": 3}')
    assert ns.read_record(path) is None
    assert ns.read_record(str(tmp_path / "missing")) is None
    assert ns.applied_digest(None, live) is None
    assert ns.drifted_parts(None, live) == ["files", "interface", "routes", "units"]


def test_key_file_mode(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text(PRIV)
    key.chmod(0o600)
    assert ns.key_file_mode_ok(str(key))
    key.chmod(0o640)
    assert not ns.key_file_mode_ok(str(key))
    assert not ns.key_file_mode_ok(str(tmp_path / "missing"))
