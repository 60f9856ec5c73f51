# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Live WireGuard interface: read it, plan the changes, apply them (used by kilo.mesh.wireguard_interface).

This module is PRIVATE to the kilo.mesh collection and has no stable API. Standard library only; it
runs on the managed nodes.

Every program runs through the ``run(argv, data=None) -> (rc, stdout, stderr)`` seam of
``_wireguard.py`` (the module passes ``AnsibleModule.run_command``), so the planning and the order of
the commands are unit tested without root, with a stand-in for ``ip`` and ``wg``.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Optional, Sequence

from ansible_collections.kilo.mesh.plugins.module_utils._wireguard import (
    Resolver,
    Run,
    WireGuardError,
    diff_addresses,
    diff_peers,
    diff_routes,
    endpoint_matches,
    format_route,
    parse_dump,
    parse_link,
    parse_routes,
    route_argv,
)

#: seconds; WireGuard's REJECT_AFTER_TIME: a session with an older handshake is dead
ROAMING_WINDOW = 180


class Interface:
    """Reads and changes one WireGuard interface through ``ip`` and ``wg`` (all through ``run``)."""

    def __init__(
        self,
        name: str,
        protocol: int,
        run: Run,
        setsid: Optional[str] = None,
        warn: Optional[Callable[[str], None]] = None,
    ) -> None:
        self.name = name
        self.protocol = protocol
        self.run = run
        self.setsid = setsid
        self.warn = warn or (lambda message: None)

    def must(self, argv: List[str], what: str, data: Optional[str] = None) -> str:
        rc, out, err = self.run(argv, data=data)
        if rc != 0:
            # stdout/stderr of these commands never carry key material (keys go in through stdin only)
            raise WireGuardError(
                "{0} on interface {1} failed: '{2}' exited with {3}: {4}".format(
                    what, self.name, " ".join(argv), rc, (err or out).strip()
                )
            )
        return out

    def read(self) -> Optional[Dict[str, Any]]:
        """Live state, or None when the link does not exist."""
        rc, out, err = self.run(["ip", "-j", "addr", "show", "dev", self.name])
        if rc != 0:
            if "does not exist" in err or "Cannot find device" in err:
                return None
            raise WireGuardError("cannot read interface {0}: {1}".format(self.name, err.strip()))
        state = parse_link(out)
        rc, out, err = self.run(["wg", "show", self.name, "dump"])
        if rc != 0:
            raise WireGuardError(
                "interface {0} exists but 'wg show {0}' failed ({1}); is it a WireGuard interface? Pick another "
                "name or delete it".format(self.name, err.strip())
            )
        dump = parse_dump(out)
        out = ""
        state.update(public_key=dump["public_key"], listen_port=dump["listen_port"], peers=dump["peers"])
        routes: List[Dict[str, Any]] = []
        for family in ("-4", "-6"):
            argv = ["ip", family, "-j", "route", "show", "table", "all", "proto", str(self.protocol), "dev", self.name]
            routes.extend(parse_routes(self.must(argv, "listing routes")))
        state["routes"] = routes
        return state

    def create(self) -> str:
        """Create the link (kernel, else wireguard-go); return the implementation used."""
        rc, _out, _err = self.run(["ip", "link", "add", "dev", self.name, "type", "wireguard"])
        if rc == 0:
            return "kernel"
        # never let wireguard-go see WG_PROCESS_FOREGROUND: a child inheriting "=0" forks forever
        os.environ.pop("WG_PROCESS_FOREGROUND", None)
        os.environ.pop("LOG_LEVEL", None)
        argv = ["wireguard-go", self.name]
        if self.setsid:
            # the daemon gets its own session: Ansible ends a worker still alive at the end of a play with a
            # signal to the worker's whole process group, and a closing pty sends SIGHUP to its session
            argv.insert(0, self.setsid)
        else:
            self.warn(
                "setsid (util-linux) not found: wireguard-go for {0} stays in this task's process group and can "
                "be stopped with it; install util-linux".format(self.name)
            )
        rc, out, err = self.run(argv)
        if rc != 0:
            raise WireGuardError(
                "cannot create WireGuard interface {0}: the kernel has no WireGuard support and 'wireguard-go {0}' "
                "failed (rc={1}: {2}); install wireguard-go or load the wireguard kernel module".format(
                    self.name, rc, (err or out).strip()[-500:]
                )
            )
        return "wireguard-go"

    def delete(self) -> None:
        self.must(["ip", "link", "del", "dev", self.name], "deleting the link")

    def promote_secondaries(self, value: str) -> Optional[str]:
        """Set net.ipv4.conf.NAME.promote_secondaries to VALUE; return the old value (None: not possible)."""
        path = "/proc/sys/net/ipv4/conf/{0}/promote_secondaries".format(self.name)
        try:
            with open(path) as handle:
                old = handle.read().strip()
            if old != value:
                with open(path, "w") as handle:
                    handle.write(value)
        except OSError:
            return None
        return old


def keep_roamed(peers: Sequence[Dict[str, Any]], live_peers: Dict[str, Dict[str, Any]], now: float) -> List[Dict]:
    """``peers`` with the live endpoint of each peer that roamed away from its endpoint and has a live session."""
    result = []
    for peer in peers:
        current = live_peers.get(peer["public_key"])
        if (
            peer["endpoint"]
            and current
            and current["endpoint"]
            and current["latest_handshake"]
            and now - current["latest_handshake"] < ROAMING_WINDOW
        ):
            peer = dict(peer, endpoint=current["endpoint"])
        result.append(peer)
    return result


def live_view(
    live: Optional[Dict[str, Any]], desired_peers: Sequence[Dict[str, Any]], resolve: Optional[Resolver]
) -> Optional[Dict[str, Any]]:
    """``live`` shaped for ``describe_live()``; endpoints equal to the wanted ones are shown as written."""
    if live is None:
        return None
    wanted = {peer["public_key"]: peer for peer in desired_peers}
    peers = []
    for key, peer in live["peers"].items():
        shown = dict(peer)
        want = wanted.get(key)
        if want is not None and (
            want["endpoint"] is None or endpoint_matches(want["endpoint"], peer["endpoint"], resolve)
        ):
            shown["endpoint"] = want["endpoint"]
        peers.append(shown)
    return dict(live, peers=peers)


class Plan:
    """What has to change on the live interface; :func:`plan_live` makes it, :func:`apply_plan` applies it."""

    def __init__(self) -> None:
        self.create = False
        self.sync = False
        self.mtu: Optional[int] = None
        self.addresses_added: List[str] = []
        self.addresses_removed: List[str] = []
        self.up = False
        self.routes: List[Dict[str, Any]] = []
        self.routes_added: List[Dict[str, Any]] = []
        self.routes_removed: List[Dict[str, Any]] = []
        self.peers_added: List[str] = []
        self.peers_removed: List[str] = []
        self.peers_updated: List[str] = []

    @property
    def changed(self) -> bool:
        return bool(
            self.create
            or self.sync
            or self.mtu is not None
            or self.addresses_added
            or self.addresses_removed
            or self.up
            or self.routes_added
            or self.routes_removed
        )


def plan_live(
    live: Optional[Dict[str, Any]],
    public_key: str,
    listen_port: Optional[int],
    mtu: Optional[int],
    peers: Sequence[Dict[str, Any]],
    addresses: Optional[Sequence[str]],
    routes: Sequence[Dict[str, Any]],
    resolve: Optional[Resolver],
) -> Plan:
    """Compare the live state (``Interface.read()``, None: no link) with the wanted one.

    ``listen_port``/``mtu``/``addresses`` None: leave the live value alone. ``peers``, ``routes``: validated
    (``validate_peers``, ``validate_routes``/``peer_routes``).
    """
    plan = Plan()
    plan.routes = list(routes)
    if live is None:
        plan.create = plan.sync = plan.up = True
        plan.mtu = mtu
        plan.peers_added = [peer["public_key"] for peer in peers]
        plan.addresses_added = list(addresses or [])
        plan.routes_added = list(routes)
        return plan
    added, removed, updated = diff_peers(peers, live["peers"], resolve)
    plan.peers_added, plan.peers_removed, plan.peers_updated = added, removed, updated
    plan.sync = bool(
        added
        or removed
        or updated
        or live["public_key"] != public_key
        or (listen_port is not None and live["listen_port"] != listen_port)
    )
    if mtu is not None and live["mtu"] != mtu:
        plan.mtu = mtu
    if addresses is not None:
        plan.addresses_added, plan.addresses_removed = diff_addresses(addresses, live["addresses"])
    plan.up = not live["up"]
    plan.routes_added, plan.routes_removed = diff_routes(routes, live["routes"])
    return plan


def apply_plan(iface: Interface, plan: Plan, setconf_text: str) -> Optional[str]:
    """Make the changes of ``plan``; return the implementation when the link was created (else None)."""
    name = iface.name
    implementation = None
    if plan.create:
        implementation = iface.create()
    try:
        if plan.sync:
            # the key goes in through stdin, never through a file others could read or an argv
            iface.must(["wg", "syncconf", name, "/dev/stdin"], "applying the WireGuard config", data=setconf_text)
        if plan.mtu is not None:
            iface.must(["ip", "link", "set", "dev", name, "mtu", str(plan.mtu)], "setting the MTU")
        _change_addresses(iface, plan)
        if plan.up:
            iface.must(["ip", "link", "set", "dev", name, "up"], "bringing the link up")
    except WireGuardError:
        if plan.create:
            # do not leave a half-configured interface behind
            iface.run(["ip", "link", "del", "dev", name])
        raise
    if (plan.addresses_added or plan.addresses_removed) and not plan.create:
        # an address change can take routes with it: plan the routes against what is there now
        plan.routes_added, plan.routes_removed = diff_routes(plan.routes, _read(iface)["routes"])
    for route in plan.routes_removed:
        iface.must(route_argv("del", route, name, iface.protocol), "removing route " + format_route(route))
    for route in plan.routes_added:
        iface.must(route_argv("replace", route, name, iface.protocol), "adding route " + format_route(route))
    return implementation


class ApplyError(WireGuardError):
    """A change failed part-way; ``restored`` says whether the previous state came back, ``problems`` what did not."""

    def __init__(self, message: str, restored: bool, problems: Sequence[str]) -> None:
        super().__init__(message)
        self.restored = restored
        self.problems = list(problems)


def saved_config(iface: Interface) -> str:
    """The running WireGuard configuration (``wg showconf``), to roll back to. It holds the private key:
    keep it in memory only, never return it."""
    return iface.must(["wg", "showconf", iface.name], "saving the WireGuard config")


def apply_or_roll_back(
    iface: Interface, plan: Plan, setconf_text: str, before: Optional[Dict[str, Any]], before_conf: Optional[str]
) -> Optional[str]:
    """:func:`apply_plan`; when a step fails, put back the state ``before`` (``Interface.read()``) and the
    WireGuard config ``before_conf`` (:func:`saved_config`), then raise :class:`ApplyError`.

    A link created by the plan is deleted. On an existing link the peers, MTU, addresses, routes of this
    module's protocol and the link state are restored, each step on its own, so that one failing step does
    not keep the others from being restored.
    """
    try:
        return apply_plan(iface, plan, setconf_text)
    except WireGuardError as exc:
        if plan.create or before is None:
            iface.run(["ip", "link", "del", "dev", iface.name])
            problems = ["the link is still there"] if _exists(iface) else []
        else:
            problems = _restore(iface, plan, before, before_conf)
        if problems:
            raise ApplyError(
                "{0}; rolling back failed too: {1}".format(exc, "; ".join(problems)), False, problems
            ) from None
        raise ApplyError("{0}; the interface was rolled back to its previous state".format(exc), True, []) from None


def _exists(iface: Interface) -> bool:
    try:
        return iface.read() is not None
    except WireGuardError:
        return True


def _restore(iface: Interface, plan: Plan, before: Dict[str, Any], before_conf: Optional[str]) -> List[str]:
    problems: List[str] = []
    name = iface.name

    def step(what: str, action: Callable[[], None]) -> None:
        try:
            action()
        except WireGuardError as exc:
            problems.append("{0}: {1}".format(what, exc))

    if plan.sync and before_conf is not None:
        step(
            "peers",
            lambda: iface.must(["wg", "syncconf", name, "/dev/stdin"], "restoring the WireGuard config", before_conf),
        )
    if plan.mtu is not None and before.get("mtu"):
        step("mtu", lambda: iface.must(["ip", "link", "set", "dev", name, "mtu", str(before["mtu"])], "MTU"))

    def addresses() -> None:
        undo = Plan()
        undo.addresses_added, undo.addresses_removed = diff_addresses(before["addresses"], _read(iface)["addresses"])
        _change_addresses(iface, undo)

    step("addresses", addresses)

    def routes() -> None:
        add, remove = diff_routes(before["routes"], _read(iface)["routes"])
        for route in remove:
            iface.must(route_argv("del", route, name, iface.protocol), "removing route " + format_route(route))
        for route in add:
            iface.must(route_argv("replace", route, name, iface.protocol), "restoring route " + format_route(route))

    step("routes", routes)
    if plan.up and not before.get("up"):
        step("link state", lambda: iface.must(["ip", "link", "set", "dev", name, "down"], "link down"))
    return problems


def _read(iface: Interface) -> Dict[str, Any]:
    state = iface.read()
    if state is None:
        raise WireGuardError("interface {0} disappeared while it was being changed".format(iface.name))
    return state


def _change_addresses(iface: Interface, plan: Plan) -> None:
    """New addresses first, then the old ones go: the interface always keeps an address.

    Removing the last IPv4 address flushes every route on the link. Removing a primary address also
    removes the secondaries of its subnet (a new address in the old one's prefix is a secondary),
    unless ``promote_secondaries`` is on; it is switched on for the removal, then restored.
    """
    name = iface.name
    for address in plan.addresses_added:
        iface.must(["ip", "address", "add", address, "dev", name], "adding address " + address)
    if not plan.addresses_removed:
        return
    restore = iface.promote_secondaries("1") if any(":" not in a for a in plan.addresses_removed) else None
    try:
        for address in plan.addresses_removed:
            iface.must(["ip", "address", "del", address, "dev", name], "removing address " + address)
    finally:
        if restore is not None:
            iface.promote_secondaries(restore)
    # a kernel without promote_secondaries may still have dropped a new address with the old one
    present = _read(iface)["addresses"]
    for address in plan.addresses_added:
        if address not in present:
            iface.must(["ip", "address", "add", address, "dev", name], "adding address " + address)
