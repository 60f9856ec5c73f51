# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Planning and applying changes to a live WireGuard interface (plugins/module_utils/_interface.py).

No root, no namespace: the ``run`` seam gets :class:`FakeNode`, a small stand-in for ``ip`` and ``wg`` that
keeps a link's addresses, peers and routes and behaves like the kernel where it matters here (routes need
a gateway inside a connected prefix unless ``onlink``; removing an address drops the routes that use it as
source; errors go to stderr with a non-zero exit). The real interface is exercised in
tests/integration/modules/test_wireguard_interface.py.
"""

from __future__ import annotations

import ipaddress
import json

import pytest

from ansible_collections.kilo.mesh.plugins.module_utils import _interface as live
from ansible_collections.kilo.mesh.plugins.module_utils import _wireguard as wgu

NAME = "kilo0"
PROTO = 117
PRIVATE = "GL7dw2lNtGHnojxT4dDr6f8Lt2BrtIQqql+kIpxd3lk="
PUBLIC = "kXY6yNhTAOlwJ7l6L5vWVkvCBv0T7FrkMFFqgYHyamU="
PEER_B = "1uQL9DgQ+MGX9n9VkiA3UwF0o7Jwln3cO9gaQVUO2lo="
PEER_C = "IKV2TLagro5X4QzYhjyjq0oe/4TVWPMyF9ORcieceRU="


class FakeNode:
    """``ip``/``wg`` of one node with at most one WireGuard link; ``calls`` records every argv."""

    def __init__(self, kernel: bool = True, fail: str | None = None) -> None:
        self.kernel = kernel
        self.fail = fail  # a command prefix that fails (e.g. "wg syncconf")
        self.link: dict | None = None
        self.calls: list[list[str]] = []
        self.stdin: list[str] = []

    # -- the seam ---------------------------------------------------------------------------
    def __call__(self, argv, data=None):
        self.calls.append(list(argv))
        if data is not None:
            self.stdin.append(data)
        text = " ".join(argv)
        if self.fail and text.startswith(self.fail):
            return 1, "", "RTNETLINK answers: Operation not permitted"
        try:
            return self._dispatch(argv, data)
        except _Fail as exc:
            return 2, "", str(exc)

    def _need_link(self):
        if self.link is None:
            raise _Fail(f'Device "{NAME}" does not exist.')
        return self.link

    def _dispatch(self, argv, data):
        if argv[:4] == ["ip", "-j", "addr", "show"]:
            link = self._need_link()
            info = [
                {"local": str(iface.ip), "prefixlen": iface.network.prefixlen, "scope": "global"}
                for iface in map(ipaddress.ip_interface, link["addresses"])
            ]
            flags = ["POINTOPOINT", "NOARP"] + (["UP"] if link["up"] else [])
            return 0, json.dumps([{"ifname": NAME, "flags": flags, "mtu": link["mtu"], "addr_info": info}]), ""
        if argv[:2] == ["wg", "showconf"]:
            link = self._need_link()
            return 0, wgu.render_setconf(link["private"], link["peers"], link["port"]), ""
        if argv[:2] == ["wg", "show"]:
            link = self._need_link()
            lines = [f"{link['private'] or '(none)'}\t{link['public'] or '(none)'}\t{link['port']}\toff"]
            for peer in link["peers"]:
                lines.append(
                    "\t".join(
                        [
                            peer["public_key"],
                            peer.get("preshared_key") or "(none)",
                            peer.get("endpoint") or "(none)",
                            ",".join(peer["allowed_ips"]) or "(none)",
                            "0",
                            "0",
                            "0",
                            str(peer.get("persistent_keepalive") or "off"),
                        ]
                    )
                )
            return 0, "\n".join(lines) + "\n", ""
        if argv[0] == "ip" and argv[2:5] == ["-j", "route", "show"]:
            link = self._need_link()
            family = 6 if argv[1] == "-6" else 4
            routes = []
            for route in link["routes"]:
                if ipaddress.ip_network(route["dst"]).version != family:
                    continue
                entry = {"dst": route["dst"], "dev": NAME, "protocol": str(PROTO), "flags": []}
                if route["via"]:
                    entry["gateway"] = route["via"]
                if route["src"]:
                    entry["prefsrc"] = route["src"]
                if route["onlink"]:
                    entry["flags"] = ["onlink"]
                if route["table"] != "main":
                    entry["table"] = route["table"]
                routes.append(entry)
            return 0, json.dumps(routes), ""
        if argv[:3] == ["ip", "link", "add"]:
            if not self.kernel:
                raise _Fail("Error: Unknown device type.")
            self._new_link()
            return 0, "", ""
        if argv[-2:] == ["wireguard-go", NAME] or argv[:1] == ["wireguard-go"]:
            self._new_link()
            return 0, "", ""
        if argv[:3] == ["ip", "link", "del"]:
            self._need_link()
            self.link = None
            return 0, "", ""
        if argv[:2] == ["wg", "syncconf"]:
            link = self._need_link()
            conf = wgu.parse_config(data)
            link["private"] = conf["interface"]["private_key"]
            link["public"] = PUBLIC if link["private"] == PRIVATE else "other"
            link["port"] = conf["interface"]["listen_port"] or 0
            link["peers"] = [
                dict(
                    peer,
                    allowed_ips=[str(ipaddress.ip_network(a, strict=False)) for a in peer["allowed_ips"]],
                    preshared_key=None if peer["preshared_key"] == wgu.ZERO_KEY else peer["preshared_key"],
                )
                for peer in conf["peers"]
            ]
            return 0, "", ""
        if argv[:4] == ["ip", "link", "set", "dev"]:
            link = self._need_link()
            if argv[5] == "up":
                link["up"] = True
            elif argv[5] == "mtu":
                link["mtu"] = int(argv[6])
            return 0, "", ""
        if argv[:3] == ["ip", "address", "add"]:
            link = self._need_link()
            if argv[3] in link["addresses"]:
                raise _Fail("RTNETLINK answers: File exists")
            link["addresses"].append(argv[3])
            return 0, "", ""
        if argv[:3] == ["ip", "address", "del"]:
            link = self._need_link()
            link["addresses"].remove(argv[3])
            gone = str(ipaddress.ip_interface(argv[3]).ip)
            link["routes"] = [route for route in link["routes"] if route["src"] != gone]
            return 0, "", ""
        if argv[0] == "ip" and argv[2] == "route":
            return self._route(argv[3], argv[4:])
        raise AssertionError(f"unexpected command {argv}")

    def _new_link(self):
        if self.link is not None:
            raise _Fail("RTNETLINK answers: File exists")
        self.link = {"addresses": [], "peers": [], "routes": [], "up": False, "mtu": 1420, "private": None}
        self.link.update(public=None, port=0)

    def _route(self, action, args):
        link = self._need_link()
        route = {"dst": args[0], "via": None, "src": None, "onlink": "onlink" in args, "table": "main"}
        for key, field in (("via", "via"), ("src", "src"), ("table", "table")):
            if key in args:
                route[field] = args[args.index(key) + 1]
        assert args[args.index("proto") + 1] == str(PROTO)
        key = (route["dst"], route["table"])
        if action == "del":
            before = len(link["routes"])
            link["routes"] = [r for r in link["routes"] if (r["dst"], r["table"]) != key]
            if len(link["routes"]) == before:
                raise _Fail("RTNETLINK answers: No such process")
            return 0, "", ""
        if route["via"] and not route["onlink"]:
            gateway = ipaddress.ip_address(route["via"])
            connected = [ipaddress.ip_interface(a).network for a in link["addresses"]]
            if not any(gateway.version == net.version and gateway in net for net in connected):
                raise _Fail("Error: Nexthop has invalid gateway.")
        link["routes"] = [r for r in link["routes"] if (r["dst"], r["table"]) != key] + [route]
        return 0, "", ""


class _Fail(Exception):
    pass


def peers(*extra):
    base = [
        {
            "name": "b",
            "public_key": PEER_B,
            "allowed_ips": ["10.4.0.2/32", "10.2.1.0/24"],
            "endpoint": "192.0.2.2:51820",
        },
        {"name": "c", "public_key": PEER_C, "allowed_ips": ["10.4.0.3/32", "10.2.2.0/24"]},
    ]
    return wgu.validate_peers(base + list(extra))


def converge(node, addresses, wanted_peers, extra_routes=(), mtu=None):
    """What the module does: read, plan, apply. Returns the plan."""
    iface = live.Interface(NAME, PROTO, node, setsid="/usr/bin/setsid")
    state = iface.read()
    auto, _warnings = wgu.peer_routes(wanted_peers, addresses, "auto")
    routes = wgu.merge_routes(auto, wgu.validate_routes(list(extra_routes), NAME))
    plan = live.plan_live(state, PUBLIC, 51820, mtu, wanted_peers, addresses, routes, None)
    if plan.changed:
        setconf = wgu.render_setconf(PRIVATE, wanted_peers, 51820)
        plan.implementation = live.apply_plan(iface, plan, setconf)
    return plan


def test_a_new_interface_is_created_keyed_addressed_up_and_routed_in_that_order():
    node = FakeNode()
    plan = converge(node, ["10.4.0.1/16"], peers())
    assert (plan.create, plan.sync, plan.up) == (True, True, True)
    assert plan.implementation == "kernel"
    verbs = [" ".join(argv[:3]) for argv in node.calls if argv[:2] != ["ip", "-j"] and argv[1:3] != ["-j", "route"]]
    assert verbs[:5] == ["ip link add", "wg syncconf kilo0", "ip address add", "ip link set", "ip -4 route"]
    # the key went in through stdin only
    assert all(PRIVATE not in " ".join(argv) for argv in node.calls)
    assert any(PRIVATE in data for data in node.stdin)
    assert sorted(r["dst"] for r in node.link["routes"]) == ["10.2.1.0/24", "10.2.2.0/24"]
    assert node.link["up"] and node.link["addresses"] == ["10.4.0.1/16"]


def test_a_second_run_plans_nothing():
    node = FakeNode()
    converge(node, ["10.4.0.1/16"], peers())
    node.calls.clear()
    plan = converge(node, ["10.4.0.1/16"], peers())
    assert plan.changed is False
    assert all(
        argv[:2] in (["ip", "-j"], ["wg", "show"]) or argv[2:5] == ["-j", "route", "show"] for argv in node.calls
    )


def test_without_kernel_support_wireguard_go_runs_in_its_own_session():
    node = FakeNode(kernel=False)
    plan = converge(node, ["10.4.0.1/16"], peers())
    assert plan.implementation == "wireguard-go"
    assert ["/usr/bin/setsid", "wireguard-go", NAME] in node.calls


def test_a_failure_while_creating_removes_the_half_made_link():
    node = FakeNode(fail="wg syncconf")
    with pytest.raises(wgu.WireGuardError, match="applying the WireGuard config on interface kilo0 failed"):
        converge(node, ["10.4.0.1/16"], peers())
    assert node.link is None
    assert node.calls[-1] == ["ip", "link", "del", "dev", NAME]


def test_peer_changes_are_one_syncconf_and_routes_follow():
    node = FakeNode()
    converge(node, ["10.4.0.1/16"], peers())
    changed = [dict(p, allowed_ips=["10.4.0.3/32", "10.2.9.0/24"]) if p["name"] == "c" else p for p in peers()]
    plan = converge(node, ["10.4.0.1/16"], changed)
    assert plan.peers_updated == [PEER_C] and plan.sync
    assert [r["dst"] for r in plan.routes_removed] == ["10.2.2.0/24"]
    assert [r["dst"] for r in plan.routes_added] == ["10.2.9.0/24"]
    assert sorted(r["dst"] for r in node.link["routes"]) == ["10.2.1.0/24", "10.2.9.0/24"]
    assert [argv[:2] for argv in node.calls].count(["wg", "syncconf"]) == 2


def test_an_address_change_adds_before_it_removes_and_replans_the_routes():
    node = FakeNode()
    extra = [{"dst": "10.91.0.0/24", "via": "10.4.0.9", "src": "10.4.0.1"}]
    converge(node, ["10.4.0.1/16"], peers(), extra)
    assert "10.91.0.0/24" in [r["dst"] for r in node.link["routes"]]
    node.calls.clear()
    extra = [{"dst": "10.91.0.0/24", "via": "10.4.0.9", "src": "10.4.0.5"}]
    plan = converge(node, ["10.4.0.5/16"], peers(), extra)
    changes = [argv[:4] for argv in node.calls if argv[1] == "address"]
    assert changes == [["ip", "address", "add", "10.4.0.5/16"], ["ip", "address", "del", "10.4.0.1/16"]]
    # the old source address took its route with it: planned again against the live state, then added
    assert [r["dst"] for r in plan.routes_added] == ["10.91.0.0/24"]
    assert {"dst": "10.91.0.0/24", "via": "10.4.0.9", "src": "10.4.0.5", "onlink": False, "table": "main"} in (
        node.link["routes"]
    )


def test_a_route_the_kernel_refuses_names_the_route_and_the_reason():
    node = FakeNode()
    converge(node, ["10.4.0.1/16"], peers())
    with pytest.raises(wgu.WireGuardError, match=r"adding route 10.91.0.0/24 via 10.9.9.9 .*invalid gateway"):
        converge(node, ["10.4.0.1/16"], peers(), [{"dst": "10.91.0.0/24", "via": "10.9.9.9"}])


def converge_or_roll_back(node, addresses, wanted_peers, extra_routes=()):
    """What the module does since issue 13: save the running state, apply, roll back on a failure."""
    iface = live.Interface(NAME, PROTO, node)
    state = iface.read()
    auto, _warnings = wgu.peer_routes(wanted_peers, addresses, "auto")
    routes = wgu.merge_routes(auto, wgu.validate_routes(list(extra_routes), NAME))
    plan = live.plan_live(state, PUBLIC, 51820, None, wanted_peers, addresses, routes, None)
    saved = live.saved_config(iface) if state is not None else None
    live.apply_or_roll_back(iface, plan, wgu.render_setconf(PRIVATE, wanted_peers, 51820), state, saved)
    return plan


def snapshot(node):
    link = node.link
    return None if link is None else json.dumps(link, sort_keys=True)


def test_a_failure_after_an_address_change_rolls_everything_back():
    """Issue 13: a re-apply whose route fails had changed the address (/16 -> /30), the peers and the routes."""
    node = FakeNode()
    converge(node, ["10.4.0.1/16"], peers(), [{"dst": "10.91.0.0/24", "via": "10.4.0.9"}])
    before = snapshot(node)
    fewer = peers()[:1]
    with pytest.raises(live.ApplyError, match="invalid gateway.*rolled back to its previous state") as info:
        converge_or_roll_back(node, ["10.4.0.1/30"], fewer, [{"dst": "10.92.0.0/24", "via": "10.9.9.9"}])
    assert info.value.restored is True and info.value.problems == []
    assert snapshot(node) == before
    # the changes had really been made before the failure
    done = [" ".join(argv[:4]) for argv in node.calls]
    assert "ip address add 10.4.0.1/30" in done and "ip address del 10.4.0.1/16" in done


def test_a_rollback_that_fails_says_what_was_not_restored():
    node = FakeNode()
    converge(node, ["10.4.0.1/16"], peers())
    node.fail = "wg syncconf"  # the new peers cannot be set, nor the old ones put back

    with pytest.raises(live.ApplyError, match="rolling back failed too: peers: restoring") as info:
        converge_or_roll_back(node, ["10.4.0.1/16"], peers()[:1])
    assert info.value.restored is False


def test_a_link_created_by_a_failed_run_is_removed():
    node = FakeNode()
    with pytest.raises(live.ApplyError, match="invalid gateway.*rolled back"):
        converge_or_roll_back(node, ["10.4.0.1/16"], peers(), [{"dst": "10.92.0.0/24", "via": "10.9.9.9"}])
    assert node.link is None


def test_mtu_and_link_state_are_planned_only_when_they_differ():
    node = FakeNode()
    converge(node, ["10.4.0.1/16"], peers(), mtu=1380)
    assert node.link["mtu"] == 1380
    node.link["up"] = False
    plan = converge(node, ["10.4.0.1/16"], peers(), mtu=1380)
    assert plan.up and plan.mtu is None and not plan.sync
    assert node.link["up"]


# ------------------------------------------------------------------------------ roamed endpoints

NOW = 1_800_000_000
KEY = "A" * 43 + "="


def peer(endpoint):
    return {"public_key": KEY, "allowed_ips": ["10.4.0.3/32"], "endpoint": endpoint, "persistent_keepalive": 10}


def live_peers(endpoint, handshake):
    return {KEY: {"public_key": KEY, "endpoint": endpoint, "latest_handshake": handshake}}


def test_a_live_session_keeps_the_endpoint_it_roamed_to():
    wanted = [peer("192.168.77.14:51820")]
    kept = live.keep_roamed(wanted, live_peers("198.51.100.203:51820", NOW - 5), NOW)
    assert kept[0]["endpoint"] == "198.51.100.203:51820"
    assert wanted[0]["endpoint"] == "192.168.77.14:51820"  # the input (rendered into the file) is not changed


def test_a_dead_or_missing_session_goes_back_to_the_configured_endpoint():
    wanted = [peer("192.168.77.14:51820")]
    for state in (
        live_peers("198.51.100.203:51820", NOW - live.ROAMING_WINDOW),  # too old
        live_peers("198.51.100.203:51820", 0),  # never had a handshake
        live_peers(None, NOW - 5),
        {},  # a new peer
    ):
        assert live.keep_roamed(wanted, state, NOW) == wanted, state


def test_a_peer_without_configured_endpoint_is_left_alone():
    assert live.keep_roamed([peer(None)], live_peers("198.51.100.203:51820", NOW - 5), NOW) == [peer(None)]
