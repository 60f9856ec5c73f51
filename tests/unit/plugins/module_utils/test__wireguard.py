# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Pure-function tests of plugins/module_utils/_wireguard.py (no Ansible needed).

Where a helper runs a program it is given a real runner (subprocess); expected keys come from the real
``wg`` tool, not from the code under test.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess

import _wireguard as wgu
import pytest
from _wireguard import WireGuardError


def run(argv, data=None):
    try:
        proc = subprocess.run(argv, input=data, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        return 127, "", str(exc)
    return proc.returncode, proc.stdout, proc.stderr


def run_without_wg(argv, data=None):
    """A node without wireguard-tools: the same runner with an empty PATH."""
    try:
        proc = subprocess.run(
            argv, input=data, capture_output=True, text=True, env={"PATH": "/nonexistent"}, check=False
        )
    except FileNotFoundError as exc:
        return 127, "", str(exc)
    return proc.returncode, proc.stdout, proc.stderr


def wg(*args, data=None):
    return subprocess.run(["wg", *args], input=data, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def keypair():
    private = wg("genkey")
    return private, wg("pubkey", data=private)


PUB_B = "kXY6yNhTAOlwJ7l6L5vWVkvCBv0T7FrkMFFqgYHyamU="
PUB_C = "1uQL9DgQ+MGX9n9VkiA3UwF0o7Jwln3cO9gaQVUO2lo="


# ------------------------------------------------------------------------------------------- keys


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (PUB_B, True),
        (PUB_B + "\n", True),
        ("  " + PUB_B, True),
        (PUB_B[:-1], False),
        (PUB_B[:-2] + "!=", False),
        (base64.b64encode(bytes(33)).decode(), False),
        (base64.b64encode(bytes(31)).decode() + "AA", False),
        ("", False),
        (None, False),
        (42, False),
    ],
)
def test_is_valid_key(value, valid):
    assert wgu.is_valid_key(value) is valid


def test_generated_key_is_clamped_and_matches_wg_pubkey():
    private = wgu.generate_private_key(run)
    raw = base64.b64decode(private)
    assert raw[0] & 7 == 0 and raw[31] & 128 == 0 and raw[31] & 64 == 64
    assert wgu.public_key_of(private, run) == wg("pubkey", data=private)


def test_wg_tools_path_gives_the_same_keys(keypair):
    private, public = keypair
    assert wgu.public_key_of(private, run, x25519=None) == public
    generated = wgu.generate_private_key(run, x25519=None)
    assert wgu.is_valid_key(generated)
    assert wgu.public_key_of(generated, run, x25519=None) == wgu.public_key_of(generated, run)


def test_without_cryptography_and_wg_the_error_says_what_to_install(keypair):
    with pytest.raises(WireGuardError, match="install wireguard-tools or python3-cryptography"):
        wgu.generate_private_key(run_without_wg, x25519=None)
    with pytest.raises(WireGuardError, match="'wg pubkey' failed") as info:
        wgu.public_key_of(keypair[0], run_without_wg, x25519=None)
    assert keypair[0] not in str(info.value)


def test_public_key_of_rejects_garbage_without_echoing_it():
    with pytest.raises(WireGuardError) as info:
        wgu.public_key_of("secret-but-not-a-key", run)
    assert "secret-but-not-a-key" not in str(info.value)


# ------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("192.168.1.5:51820", ("192.168.1.5", 51820)),
        ("[fd00::1]:51820", ("fd00::1", 51820)),
        ("node-1.example.com:1", ("node-1.example.com", 1)),
        ("node:65535", ("node", 65535)),
    ],
)
def test_parse_endpoint(value, expected):
    assert wgu.parse_endpoint(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "192.168.1.5",
        "fd00::1:51820",
        "[fd00::1]51820",
        "host:0",
        "host:65536",
        ":51820",
        "bad_host:1",
        "1.2.3.999:5",
        "198.051.100.2:51820",
        "Upper.example:1",
    ],
)
def test_parse_endpoint_rejects(value):
    with pytest.raises(ValueError):
        wgu.parse_endpoint(value)


def test_validate_peers_normalises():
    peers = wgu.validate_peers(
        [
            {
                "public_key": PUB_B,
                "allowed_ips": ["10.4.0.2/32", "10.2.1.7/24", "10.4.0.2/32", "fd00::2/128"],
                "endpoint": "[FD00::0002]:51820",
                "persistent_keepalive": 10,
                "preshared_key": "",
            }
        ]
    )
    assert peers == [
        {
            "name": None,
            "public_key": PUB_B,
            "allowed_ips": ["10.4.0.2/32", "10.2.1.0/24", "fd00::2/128"],
            "endpoint": "[fd00::2]:51820",
            "persistent_keepalive": 10,
            "preshared_key": None,
        }
    ]


@pytest.mark.parametrize(
    ("peer", "message"),
    [
        ({"public_key": "abc"}, r"peers\[1\]: public_key is invalid \(not shown\): expected a WireGuard public key"),
        ({"public_key": wgu.ZERO_KEY}, r"peers\[1\]: public_key is all zeros"),
        ({"public_key": PUB_B}, r"peers\[1\] \(public_key kXY6.*\): public_key is used by peers\[0\]"),
        ({"allowed_ips": ["10.0.0.0/33"]}, r"peers\[1\] \(public_key 1uQL.*\): allowed_ips entry '10.0.0.0/33'"),
        ({"endpoint": "host"}, r"peers\[1\] \(public_key 1uQL.*\): endpoint 'host' is invalid"),
        ({"persistent_keepalive": -1}, r"persistent_keepalive -1 must be"),
        ({"name": "site-b", "endpoint": "x:99999"}, r"peers\[1\] \(site-b\): endpoint 'x:99999' is invalid"),
        # Kilo's endpoint grammar (topology/parse.py), the same as the engine's
        ({"endpoint": "Node-B.example:51820"}, r"endpoint 'Node-B.example:51820' is invalid: .*lowercase"),
        ({"endpoint": "198.051.100.2:51820"}, r"endpoint '198.051.100.2:51820' is invalid: .*leading zeros"),
        ({"allowed_ips": []}, r"peers\[1\] \(public_key 1uQL.*\): allowed_ips is empty"),
        ({"allowed_ips": None}, r"allowed_ips is empty: .*give at least one CIDR"),
    ],
)
def test_validate_peers_errors_name_peer_and_field(peer, message):
    peers = [
        {"public_key": PUB_B, "allowed_ips": ["10.4.0.2/32"]},
        dict({"public_key": PUB_C, "allowed_ips": ["10.4.0.3/32"]}, **peer),
    ]
    with pytest.raises(WireGuardError, match=message):
        wgu.validate_peers(peers)


@pytest.mark.parametrize("psk", ["topsecret", "a" * 43 + "!", PUB_B[:-2] + "=="])
def test_bad_preshared_key_is_named_as_such_and_not_echoed(psk):
    with pytest.raises(WireGuardError, match="preshared_key is invalid") as info:
        wgu.validate_peers([{"public_key": PUB_B, "allowed_ips": ["10.4.0.2/32"], "preshared_key": psk}])
    message = str(info.value)
    assert psk not in message
    assert "expected a WireGuard preshared key" in message and "wg genpsk" in message
    assert "public key" not in message


def test_validate_addresses_and_table():
    assert wgu.validate_addresses(["10.4.0.1/16", "fd00::1/64", "10.4.0.1/16"]) == ["10.4.0.1/16", "fd00::1/64"]
    for bad in ("10.4.0.1", "10.4.0.300/16", "x"):
        with pytest.raises(WireGuardError, match="address: "):
            wgu.validate_addresses([bad])
    assert [wgu.validate_table(t) for t in ("auto", "off", "main", "1107", 1107)] == [
        "auto",
        "off",
        "main",
        "1107",
        "1107",
    ]
    with pytest.raises(WireGuardError, match="table: 'foo' must be"):
        wgu.validate_table("foo")


def test_validate_routes():
    routes = wgu.validate_routes(
        [
            {"dst": "10.2.1.0/24", "via": "10.4.0.2", "onlink": True, "src": "172.31.0.6", "dev": "kilo0"},
            {"dst": "10.2.9.9/16", "table": "1107"},
        ],
        "kilo0",
    )
    assert routes == [
        {"dst": "10.2.1.0/24", "via": "10.4.0.2", "src": "172.31.0.6", "onlink": True, "table": "main"},
        {"dst": "10.2.0.0/16", "via": None, "src": None, "onlink": False, "table": "1107"},
    ]
    with pytest.raises(WireGuardError, match=r"routes\[0\] \(dst 10.2.1.0/24\): dev 'eth0' is not the WireGuard"):
        wgu.validate_routes([{"dst": "10.2.1.0/24", "dev": "eth0"}], "kilo0")
    with pytest.raises(WireGuardError, match=r"via fd00::1 is not of the same IP version"):
        wgu.validate_routes([{"dst": "10.2.1.0/24", "via": "fd00::1"}], "kilo0")
    with pytest.raises(WireGuardError, match=r"routes\[0\]: dst 'nope'"):
        wgu.validate_routes([{"dst": "nope"}], "kilo0")


@pytest.mark.parametrize(
    ("name", "ok"), [("kilo0", True), ("wg-peer.1", True), ("a" * 16, False), ("a b", False), ("", False)]
)
def test_validate_interface_name(name, ok):
    if ok:
        assert wgu.validate_interface_name(name) == name
    else:
        with pytest.raises(WireGuardError, match="name: "):
            wgu.validate_interface_name(name)


# -------------------------------------------------------------------------------------- rendering

PEERS = [
    {
        "name": "node-b",
        "public_key": PUB_B,
        "allowed_ips": ["10.4.0.2/32", "10.2.1.0/24"],
        "endpoint": "192.168.50.12:51820",
        "persistent_keepalive": 10,
        "preshared_key": None,
    },
    {
        "name": None,
        "public_key": PUB_C,
        "allowed_ips": ["10.4.0.3/32"],
        "endpoint": None,
        "persistent_keepalive": 0,
        "preshared_key": PUB_B,  # any valid key will do as a psk here
    },
]


def test_render_config_golden(keypair):
    private, _public = keypair
    text = wgu.render_config(private, PEERS, ["10.4.0.1/16"], 51820, 1420, "1107", header="managed")
    assert text == (
        "# managed\n"
        "[Interface]\n"
        "Address = 10.4.0.1/16\n"
        f"PrivateKey = {private}\n"
        "ListenPort = 51820\n"
        "MTU = 1420\n"
        "Table = 1107\n"
        "\n"
        "# node-b\n"
        "[Peer]\n"
        f"PublicKey = {PUB_B}\n"
        "AllowedIPs = 10.4.0.2/32, 10.2.1.0/24\n"
        "Endpoint = 192.168.50.12:51820\n"
        "PersistentKeepalive = 10\n"
        "\n"
        "[Peer]\n"
        f"PublicKey = {PUB_C}\n"
        f"PresharedKey = {PUB_B}\n"
        "AllowedIPs = 10.4.0.3/32\n"
    )
    assert wgu.render_config(private, PEERS, ["10.4.0.1/16"], 51820) == wgu.render_config(
        private, PEERS, ["10.4.0.1/16"], 51820
    )


def test_redact_config(keypair):
    private, public = keypair
    text = wgu.render_config(private, PEERS, ["10.4.0.1/16"], 51820)
    plain = wgu.redact_config(text)
    assert private not in plain and PUB_B not in plain.split("PublicKey")[2]
    assert "PrivateKey = (redacted)\n" in plain
    assert "PresharedKey = (redacted)\n" in plain
    named = wgu.redact_config(text, lambda value: wgu.public_key_of(value, run))
    assert f"PrivateKey = (redacted) public key {public}\n" in named
    assert wgu.redact_config(None) == ""
    assert wgu.redact_config("privatekey=abc") == "privatekey=(redacted)"


# ------------------------------------------------------------------------------------- live state

# format of `wg show IF dump` (wg(8)): interface line, then one line per peer, tab separated
DUMP = (
    "cHJpdmF0ZS1rZXktcHJpdmF0ZS1rZXktcHJpdmF0ZS1rZXk=\tIKV2TLagro5X4QzYhjyjq0oe/4TVWPMyF9ORcieceRU=\t51820\toff\n"
    f"{PUB_B}\t(none)\t192.168.50.12:51820\t10.4.0.2/32,10.2.1.0/24\t1764074000\t920\t1012\t10\n"
    f"{PUB_C}\t{PUB_B}\t(none)\t(none)\t0\t0\t0\toff\n"
)


def test_parse_dump_drops_the_private_key():
    state = wgu.parse_dump(DUMP)
    assert "cHJpdmF0ZS1rZXk" not in json.dumps(state)
    assert state["public_key"] == "IKV2TLagro5X4QzYhjyjq0oe/4TVWPMyF9ORcieceRU="
    assert state["listen_port"] == 51820 and state["fwmark"] is None
    assert state["peers"][PUB_B] == {
        "public_key": PUB_B,
        "preshared_key": None,
        "endpoint": "192.168.50.12:51820",
        "allowed_ips": ["10.4.0.2/32", "10.2.1.0/24"],
        "latest_handshake": 1764074000,
        "rx": 920,
        "tx": 1012,
        "persistent_keepalive": 10,
    }
    assert state["peers"][PUB_C]["allowed_ips"] == [] and state["peers"][PUB_C]["persistent_keepalive"] == 0
    with pytest.raises(WireGuardError):
        wgu.parse_dump("")
    with pytest.raises(WireGuardError, match="peer line with 3 fields"):
        wgu.parse_dump(DUMP.splitlines()[0] + "\na\tb\tc\n")


def test_diff_peers():
    live = wgu.parse_dump(DUMP)["peers"]
    same_b = dict(PEERS[0], allowed_ips=["10.2.1.0/24", "10.4.0.2/32"], persistent_keepalive=10)
    assert wgu.diff_peers([same_b, PEERS[1]], live) == ([], [], [PUB_C])  # C: allowed IPs differ
    assert wgu.diff_peers([dict(same_b, persistent_keepalive=5)], live) == ([], [PUB_C], [PUB_B])
    assert wgu.diff_peers([dict(same_b, endpoint=None)], live)[2] == []  # roaming allowed
    new = dict(same_b, public_key="Z" * 43 + "=")
    assert wgu.diff_peers([new], live) == ([new["public_key"]], sorted([PUB_B, PUB_C]), [])


def test_endpoint_matching_resolves_names():
    def resolve(host, port):
        return {"node-b.example": ["192.168.50.12"]}[host]

    assert wgu.endpoint_matches("node-b.example:51820", "192.168.50.12:51820", resolve)
    assert not wgu.endpoint_matches("node-b.example:51821", "192.168.50.12:51820", resolve)
    assert not wgu.endpoint_matches("node-b.example:51820", "192.168.50.13:51820", resolve)
    assert wgu.endpoint_matches("[fd00::2]:1", "[fd00:0::2]:1", None)
    assert not wgu.endpoint_matches("192.168.50.12:1", None, None)
    assert wgu.endpoint_matches(None, "192.168.50.99:7", None)


# real `ip -j addr show dev d0` output (iproute2 6.1), shortened
IP_ADDR = json.dumps(
    [
        {
            "ifname": "kilo0",
            "flags": ["POINTOPOINT", "NOARP", "UP", "LOWER_UP"],
            "mtu": 1420,
            "addr_info": [
                {"family": "inet", "local": "10.4.0.1", "prefixlen": 16, "scope": "global"},
                {"family": "inet6", "local": "fd00::1", "prefixlen": 64, "scope": "global"},
                {"family": "inet6", "local": "fe80::cab:8dff:fe7f:5682", "prefixlen": 64, "scope": "link"},
            ],
        }
    ]
)


def test_parse_link_and_diff_addresses():
    link = wgu.parse_link(IP_ADDR)
    assert link == {"up": True, "mtu": 1420, "addresses": ["10.4.0.1/16", "fd00::1/64"]}
    assert wgu.diff_addresses(["10.4.0.1/16", "10.5.0.1/24"], link["addresses"]) == (["10.5.0.1/24"], ["fd00::1/64"])
    down = json.loads(IP_ADDR)
    down[0]["flags"] = ["POINTOPOINT", "NOARP"]
    assert wgu.parse_link(json.dumps(down))["up"] is False


# real `ip -j route show table all proto 117 dev d0` output (iproute2 6.1)
IP_ROUTES = (
    '[{"dst":"default","table":"5","scope":"link","flags":[]},{"dst":"10.7.0.5","table":"1107","scope":"link",'
    '"flags":[]},{"dst":"10.8.0.0/24","gateway":"10.9.0.5","prefsrc":"10.9.0.1","flags":["onlink"]},'
    '{"dst":"fd01::/64","metric":1024,"flags":[],"pref":"medium"}]'
)


def test_parse_routes():
    assert wgu.parse_routes(IP_ROUTES) == [
        {"dst": "0.0.0.0/0", "via": None, "src": None, "onlink": False, "table": "5"},
        {"dst": "10.7.0.5/32", "via": None, "src": None, "onlink": False, "table": "1107"},
        {"dst": "10.8.0.0/24", "via": "10.9.0.5", "src": "10.9.0.1", "onlink": True, "table": "main"},
        {"dst": "fd01::/64", "via": None, "src": None, "onlink": False, "table": "main"},
    ]
    assert wgu.parse_routes("") == []


def test_peer_routes():
    peers = wgu.validate_peers(
        [
            {"public_key": PUB_B, "allowed_ips": ["10.4.0.2/32", "10.2.1.0/24", "0.0.0.0/0"]},
            {"public_key": PUB_C, "allowed_ips": ["10.2.1.0/24", "fd00:1::/64"]},
        ]
    )
    routes, warnings = wgu.peer_routes(peers, ["10.4.0.1/16"], "auto")
    assert [r["dst"] for r in routes] == ["10.2.1.0/24", "fd00:1::/64"]  # /32 covered by the /16; no dup
    assert all(r["table"] == "main" for r in routes)
    assert len(warnings) == 1 and "0.0.0.0/0" in warnings[0] and PUB_B in warnings[0]
    routes, warnings = wgu.peer_routes(peers, [], "1107")
    assert [r["dst"] for r in routes] == ["10.4.0.2/32", "10.2.1.0/24", "0.0.0.0/0", "fd00:1::/64"]
    assert {r["table"] for r in routes} == {"1107"} and warnings == []
    assert wgu.peer_routes(peers, [], "off") == ([], [])


def test_diff_routes_only_removes_what_it_listed():
    want = [
        {"dst": "10.2.1.0/24", "via": None, "src": None, "onlink": False, "table": "main"},
        {"dst": "10.2.2.0/24", "via": "10.4.0.3", "src": None, "onlink": True, "table": "main"},
    ]
    live = [
        {"dst": "10.2.1.0/24", "via": None, "src": None, "onlink": False, "table": "main"},
        {"dst": "10.2.2.0/24", "via": "10.4.0.9", "src": None, "onlink": True, "table": "main"},
        {"dst": "10.2.3.0/24", "via": None, "src": None, "onlink": False, "table": "main"},
        {"dst": "10.2.1.0/24", "via": None, "src": None, "onlink": False, "table": "1107"},
    ]
    add, remove = wgu.diff_routes(want, live)
    assert add == [want[1]]  # replaced in place (same dst and table)
    assert remove == [live[2], live[3]]
    assert wgu.diff_routes(want, want) == ([], [])
    merged = wgu.merge_routes(want, [dict(want[0], via="10.4.0.7")])
    assert merged[0]["via"] == "10.4.0.7" and len(merged) == 2


def test_route_argv():
    route = {"dst": "10.2.2.0/24", "via": "10.4.0.3", "src": "172.31.0.6", "onlink": True, "table": "1107"}
    assert wgu.route_argv("replace", route, "kilo0", 117) == [
        "ip", "-4", "route", "replace", "10.2.2.0/24", "via", "10.4.0.3", "dev", "kilo0", "proto", "117",
        "table", "1107", "src", "172.31.0.6", "onlink",
    ]  # fmt: skip
    v6 = {"dst": "fd00:1::/64", "via": None, "src": None, "onlink": False, "table": "main"}
    assert wgu.route_argv("del", v6, "kilo0", 117) == [
        "ip",
        "-6",
        "route",
        "del",
        "fd00:1::/64",
        "dev",
        "kilo0",
        "proto",
        "117",
    ]
    assert wgu.format_route(route) == "10.2.2.0/24 via 10.4.0.3 src 172.31.0.6 onlink table 1107"


def test_describe_live_has_no_secrets():
    state = {
        "up": True,
        "public_key": PUB_C,
        "listen_port": 51820,
        "mtu": 1420,
        "addresses": ["10.4.0.1/16"],
        "peers": [dict(PEERS[1], preshared_key="c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=")],
        "routes": [{"dst": "10.2.1.0/24", "via": None, "src": None, "onlink": False, "table": "main"}],
    }
    text = wgu.describe_live(state)
    assert "c2VjcmV0" not in text
    assert "preshared key: (redacted)" in text
    assert text.startswith("link: up\npublic key: " + PUB_C)
    assert "route: 10.2.1.0/24\n" in text
    assert wgu.describe_live(None) == "(interface absent)\n"


def test_module_utils_is_stdlib_only():
    """Runs on managed nodes: importing it must pull in nothing outside the stdlib (cryptography is lazy)."""
    code = (
        f"import sys; sys.path.insert(0, {os.path.dirname(wgu.__file__)!r}); import _wireguard; "
        "mods = [m for m in sys.modules if m.split('.')[0] in ('cryptography', 'ansible')]; print(mods)"
    )
    out = subprocess.run(["/usr/bin/python3", "-I", "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
