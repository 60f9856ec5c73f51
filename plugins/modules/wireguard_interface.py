#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Dual-licensed: Apache License 2.0 (see LICENSES/Apache-2.0.txt) or
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright: (c) 2026, kilo.mesh contributors

from __future__ import annotations

DOCUMENTATION = r"""
---
module: wireguard_interface
short_description: Manage a WireGuard interface and its wg-quick config, applied live without dropping tunnels
version_added: 0.1.0
author:
  - kilo.mesh contributors (@kilo-mesh)
description:
  - Renders a wg-quick configuration for a WireGuard interface from structured options and writes it
    atomically (only when its content changes).
  - The private key is read from O(private_key_path) B(on the managed node); it is never passed from the
    controller and never returned. Use M(kilo.mesh.wireguard_key) to create it.
  - With O(apply=true) the configuration is also applied to the running interface, with the semantics of
    C(wg syncconf) (existing sessions and handshakes of unchanged peers are kept), plus what C(wg syncconf)
    leaves out, the interface addresses, MTU, link state and routes.
  - Routes for the peers' allowed IPs (like wg-quick with C(Table)) and for O(routes) are installed with the
    route protocol O(route_protocol). Only routes with that protocol on this interface are ever removed.
  - When the interface does not exist it is created, with the kernel module when available and with the
    userspace implementation C(wireguard-go) otherwise. The private key is set before anything else, so the
    interface is never up without its key.
extends_documentation_fragment:
  - ansible.builtin.files
  - kilo.mesh._attributes
  - kilo.mesh._attributes.FULL_SUPPORT
attributes:
  check_mode:
    details:
      - Check mode computes every change (file and live) and reports it without making any.
  diff_mode:
    details:
      - Returns the config file before and after, with the C(PrivateKey) and C(PresharedKey) values
        redacted on both sides (the private key line names the matching public key), and, with
        O(apply=true), the live state before and after (link, addresses, peers, routes).
options:
  name:
    description: Name of the WireGuard interface.
    type: str
    default: kilo0
  state:
    description:
      - V(present) writes the config and (with O(apply=true)) brings the interface to it.
      - V(absent) deletes the interface (like C(wg-quick down)) and removes the config file.
    type: str
    choices: [present, absent]
    default: present
  apply:
    description:
      - Apply the configuration to the running system (create or update the interface, addresses, routes).
      - With V(false) only the config file is managed.
    type: bool
    default: true
  address:
    description:
      - Addresses of the interface, with prefix length (V(10.4.0.1/16)).
      - When omitted, addresses are neither written to the config nor changed on the interface.
      - When given, addresses on the interface that are not listed are removed.
    type: list
    elements: str
  listen_port:
    description: UDP port WireGuard listens on. When omitted WireGuard picks one.
    type: int
  private_key_path:
    description: File on the node holding the base64 private key.
    type: path
    default: /var/lib/kilo/key
  mtu:
    description: MTU of the interface. When omitted the MTU is left alone.
    type: int
  table:
    description:
      - wg-quick C(Table) setting, where the routes for the peers' allowed IPs go.
      - V(auto) uses the main table (an allowed IP V(0.0.0.0/0) or V(::/0) gets no route then, with a warning),
        V(off) adds no routes for allowed IPs, a number uses that routing table.
    type: str
    default: auto
  config_path:
    description: Path of the wg-quick config. Defaults to C(/etc/wireguard/<name>.conf).
    type: path
  route_protocol:
    description:
      - Route protocol number (C(ip route ... proto N)) that tags the routes this module installs.
      - Routes on the interface with this protocol that are no longer wanted are removed.
    type: int
    default: 117
  peers:
    description:
      - The peers, rendered in the given order.
      - Peers on the live interface that are not listed are removed.
    type: list
    elements: dict
    default: []
    suboptions:
      public_key:
        description: Public key of the peer (base64).
        type: str
        required: true
      allowed_ips:
        description: CIDRs routed to this peer.
        type: list
        elements: str
        default: []
      endpoint:
        description: C(host:port), C(1.2.3.4:port) or C([v6]:port). When omitted the peer may roam.
        type: str
      persistent_keepalive:
        description: Keepalive interval in seconds, V(0) for off.
        type: int
        default: 0
      preshared_key:
        description: Optional preshared key (base64). Never logged.
        type: str
      name:
        description: Label of the peer, written as a comment into the config and used in error messages.
        type: str
  keep_roamed_endpoints:
    description:
      - Keep the live endpoint of a peer that WireGuard roamed to (the peer sent from another address, for example
        the public address of its NAT) while its session is alive, that is with a handshake within the last 180
        seconds, instead of setting O(peers[].endpoint) again, which would cut the tunnel until the peer's next
        keepalive. The config file still gets O(peers[].endpoint).
      - A peer whose session is older goes back to O(peers[].endpoint).
    type: bool
    default: false
    version_added: 0.2.0
  routes:
    description:
      - Extra routes over the interface, for example the routes of the C(kilo.mesh.topology) lookup
        whose C(dev) is the WireGuard interface.
      - The config file gets one wg-quick C(PostUp = ip route replace ...) line per route, so that
        C(wg-quick up) (for example C(wg-quick@NAME) at boot) brings the routes back with the interface.
    type: list
    elements: dict
    default: []
    suboptions:
      dst:
        description: Destination CIDR.
        type: str
        required: true
      via:
        description: Gateway address.
        type: str
      src:
        description: Preferred source address.
        type: str
      onlink:
        description: Set the C(onlink) flag (the gateway need not be on a connected network).
        type: bool
        default: false
      table:
        description: Routing table number; the main table when omitted.
        type: str
      dev:
        description:
          - Accepted so that route dicts of the C(kilo.mesh.topology) lookup can be passed as they are;
            must be O(name) when set.
        type: str
notes:
  - When O(mode) is not set the config file gets mode V(0600) (it holds the private key).
  - Needs C(wg) and C(ip) (iproute2) on the node; C(wireguard-go) when the kernel has no WireGuard, started
    with C(setsid) (util-linux) so that the daemon is not in the process group or session of the task.
  - The key of a running interface changes only when the key file changed (see M(kilo.mesh.wireguard_key)
    O(kilo.mesh.wireguard_key#module:state=promoted)); that resets the sessions with all peers.
seealso:
  - module: kilo.mesh.wireguard_key
"""

EXAMPLES = r"""
---
- name: Configure kilo0 and apply it live
  kilo.mesh.wireguard_interface:
    name: kilo0
    address:
      - 10.4.0.1/16
    listen_port: 51820
    peers:
      - public_key: kXY6yNhTAOlwJ7l6L5vWVkvCBv0T7FrkMFFqgYHyamU=
        allowed_ips: [10.4.0.2/32, 10.2.1.0/24]
        endpoint: 192.168.50.12:51820
        persistent_keepalive: 10
    routes:
      - dst: 10.2.2.0/24
        via: 10.4.0.3
        onlink: true

- name: Only write the config file
  kilo.mesh.wireguard_interface:
    name: wg-peer
    apply: false
    address: [10.5.0.9/32]
    peers: []

- name: Remove the interface and its config
  kilo.mesh.wireguard_interface:
    name: kilo0
    state: absent
"""

RETURN = r"""
name:
  description: Interface name.
  returned: always
  type: str
  sample: kilo0
config_path:
  description: Path of the wg-quick config.
  returned: always
  type: str
  sample: /etc/wireguard/kilo0.conf
public_key:
  description: Public key of the interface (derived from the key file); V(null) with O(state=absent).
  returned: always
  type: str
  sample: 1uQL9DgQ+MGX9n9VkiA3UwF0o7Jwln3cO9gaQVUO2lo=
config_changed:
  description: Whether the config file was (or would be) written or removed.
  returned: always
  type: bool
  sample: false
link_created:
  description: Whether the interface was (or would be) created.
  returned: always
  type: bool
  sample: false
implementation:
  description: How a created interface is run, V(kernel) or V(wireguard-go); V(null) when none was created.
  returned: always
  type: str
  sample: wireguard-go
peers_added:
  description: Public keys of the peers added to the live interface.
  returned: always
  type: list
  elements: str
  sample: [kXY6yNhTAOlwJ7l6L5vWVkvCBv0T7FrkMFFqgYHyamU=]
peers_removed:
  description: Public keys of the peers removed from the live interface.
  returned: always
  type: list
  elements: str
  sample: []
peers_updated:
  description: Public keys of live peers whose allowed IPs, endpoint, keepalive or preshared key changed.
  returned: always
  type: list
  elements: str
  sample: []
addresses:
  description: The addresses of the interface as configured (normalised).
  returned: always
  type: list
  elements: str
  sample: [10.4.0.1/16]
addresses_added:
  description: Addresses added to the live interface.
  returned: always
  type: list
  elements: str
  sample: [10.4.0.1/16]
addresses_removed:
  description: Addresses removed from the live interface.
  returned: always
  type: list
  elements: str
  sample: []
routes_added:
  description: Routes added or replaced (C(dst [via X] [src Y] [onlink] [table N])).
  returned: always
  type: list
  elements: str
  sample: [10.2.1.0/24 via 10.4.0.2 onlink]
routes_removed:
  description: Routes this module had installed that were removed.
  returned: always
  type: list
  elements: str
  sample: []
"""

import os
import socket
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kilo.mesh.plugins.module_utils._files import write_atomic
from ansible_collections.kilo.mesh.plugins.module_utils._wireguard import (
    WireGuardError,
    describe_live,
    diff_addresses,
    diff_peers,
    diff_routes,
    endpoint_matches,
    format_route,
    is_valid_key,
    merge_routes,
    parse_dump,
    parse_link,
    parse_routes,
    peer_routes,
    public_key_of,
    redact_config,
    render_config,
    render_setconf,
    route_argv,
    validate_addresses,
    validate_interface_name,
    validate_peers,
    validate_routes,
    validate_table,
)

HEADER = "Managed by Ansible (kilo.mesh.wireguard_interface). Local changes will be overwritten."


def _resolve(host, port):
    return [info[4][0] for info in socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)]


class Interface:
    """Reads and changes one WireGuard interface through ``ip`` and ``wg``."""

    def __init__(self, module, name, protocol):
        self.module = module
        self.name = name
        self.protocol = protocol

    def run(self, argv, data=None):
        return self.module.run_command(argv, data=data, check_rc=False)

    def must(self, argv, what, data=None):
        rc, out, err = self.run(argv, data=data)
        if rc != 0:
            # stdout/stderr of these commands never carry key material (keys go in through stdin only)
            raise WireGuardError(
                "{0} on interface {1} failed: '{2}' exited with {3}: {4}".format(
                    what, self.name, " ".join(argv), rc, (err or out).strip()
                )
            )
        return out

    def read(self):
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
        routes = []
        for family in ("-4", "-6"):
            argv = ["ip", family, "-j", "route", "show", "table", "all", "proto", str(self.protocol), "dev", self.name]
            routes.extend(parse_routes(self.must(argv, "listing routes")))
        state["routes"] = routes
        return state

    def create(self):
        """Create the link (kernel, else wireguard-go); return the implementation used."""
        rc, _out, _err = self.run(["ip", "link", "add", "dev", self.name, "type", "wireguard"])
        if rc == 0:
            return "kernel"
        # never let wireguard-go see WG_PROCESS_FOREGROUND: a child inheriting "=0" forks forever
        os.environ.pop("WG_PROCESS_FOREGROUND", None)
        os.environ.pop("LOG_LEVEL", None)
        argv = ["wireguard-go", self.name]
        setsid = self.module.get_bin_path("setsid")
        if setsid:
            # the daemon gets its own session: Ansible ends a worker still alive at the end of a play with a
            # signal to the worker's whole process group, and a closing pty sends SIGHUP to its session
            argv.insert(0, setsid)
        else:
            self.module.warn(
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

    def delete(self):
        self.must(["ip", "link", "del", "dev", self.name], "deleting the link")


def _read_text(path):
    try:
        with open(path) as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _public_or_none(private, run):
    if not private or not is_valid_key(private):
        return None
    return public_key_of(private, run)


def _read_private_key(path):
    try:
        with open(path) as handle:
            text = handle.read(4096).strip()
    except FileNotFoundError:
        raise WireGuardError(
            "private_key_path: no private key at {0}; create it first with kilo.mesh.wireguard_key".format(path)
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WireGuardError("private_key_path: cannot read {0}: {1}".format(path, exc)) from None
    if not is_valid_key(text):
        raise WireGuardError(
            "private_key_path: {0} is not a valid WireGuard private key; recreate it with kilo.mesh.wireguard_key "
            "(force=true)".format(path)
        )
    return text


ROAMING_WINDOW = 180  # seconds; WireGuard's REJECT_AFTER_TIME: a session with an older handshake is dead


def keep_roamed(peers, live_peers, now):
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


def _live_view(live, desired_peers, resolve):
    """``live`` shaped for describe_live(); endpoints equal to the wanted ones are shown as written."""
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
    def __init__(self):
        self.create = False
        self.sync = False
        self.mtu = None
        self.addresses_added = []
        self.addresses_removed = []
        self.up = False
        self.routes = []
        self.routes_added = []
        self.routes_removed = []
        self.peers_added = []
        self.peers_removed = []
        self.peers_updated = []

    @property
    def changed(self):
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


def plan_live(live, public_key, params, peers, addresses, routes, resolve):
    plan = Plan()
    plan.routes = list(routes)
    if live is None:
        plan.create = plan.sync = plan.up = True
        plan.mtu = params["mtu"]
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
        or (params["listen_port"] is not None and live["listen_port"] != params["listen_port"])
    )
    if params["mtu"] is not None and live["mtu"] != params["mtu"]:
        plan.mtu = params["mtu"]
    if addresses is not None:
        plan.addresses_added, plan.addresses_removed = diff_addresses(addresses, live["addresses"])
    plan.up = not live["up"]
    plan.routes_added, plan.routes_removed = diff_routes(routes, live["routes"])
    return plan


def apply_plan(iface, plan, setconf_text):
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
        plan.routes_added, plan.routes_removed = diff_routes(plan.routes, iface.read()["routes"])
    for route in plan.routes_removed:
        iface.must(route_argv("del", route, name, iface.protocol), "removing route " + format_route(route))
    for route in plan.routes_added:
        iface.must(route_argv("replace", route, name, iface.protocol), "adding route " + format_route(route))
    return implementation


def _change_addresses(iface, plan):
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
    restore = _promote_secondaries(name, "1") if any(":" not in a for a in plan.addresses_removed) else None
    try:
        for address in plan.addresses_removed:
            iface.must(["ip", "address", "del", address, "dev", name], "removing address " + address)
    finally:
        if restore is not None:
            _promote_secondaries(name, restore)
    # a kernel without promote_secondaries may still have dropped a new address with the old one
    present = iface.read()["addresses"]
    for address in plan.addresses_added:
        if address not in present:
            iface.must(["ip", "address", "add", address, "dev", name], "adding address " + address)


def _promote_secondaries(name, value):
    """Set net.ipv4.conf.NAME.promote_secondaries to VALUE; return the old value (None: not possible)."""
    path = "/proc/sys/net/ipv4/conf/{0}/promote_secondaries".format(name)
    try:
        with open(path) as handle:
            old = handle.read().strip()
        if old != value:
            with open(path, "w") as handle:
                handle.write(value)
    except OSError:
        return None
    return old


def run_present(module, iface, config_path, result, run):
    params = module.params
    if params["listen_port"] is not None and not 0 < params["listen_port"] < 65536:
        raise WireGuardError("listen_port: {0} is not a port number (1-65535)".format(params["listen_port"]))
    if params["mtu"] is not None and not 576 <= params["mtu"] <= 65535:
        raise WireGuardError("mtu: {0} is out of range (576-65535; WireGuard's default is 1420)".format(params["mtu"]))
    table = validate_table(params["table"])
    peers = validate_peers(params["peers"])
    addresses = validate_addresses(params["address"]) if params["address"] is not None else None
    extra_routes = validate_routes(params["routes"], iface.name)
    private_key = _read_private_key(params["private_key_path"])
    public_key = public_key_of(private_key, run)
    result["public_key"] = public_key
    result["addresses"] = addresses or []

    # wg-quick brings the extra routes back with the interface (for example at boot, wg-quick@NAME)
    post_up = [" ".join(route_argv("replace", route, iface.name, iface.protocol)) for route in extra_routes]
    desired_text = render_config(
        private_key, peers, addresses or [], params["listen_port"], params["mtu"], table, HEADER, post_up
    )
    current_text = _read_text(config_path)
    config_changed = current_text != desired_text

    diffs = []
    if module._diff:

        def describe(value):
            return _public_or_none(value, run)

        diffs.append(
            dict(
                before=redact_config(current_text, describe),
                after=redact_config(desired_text, describe),
                before_header=config_path,
                after_header=config_path,
            )
        )

    plan = None
    if params["apply"]:
        live = iface.read()
        if params["keep_roamed_endpoints"] and live is not None:
            # only the live interface keeps them; the file above has the configured endpoints
            peers = keep_roamed(peers, live["peers"], time.time())
        auto_routes, warnings = peer_routes(peers, addresses or (live or {}).get("addresses", []), table)
        for warning in warnings:
            module.warn(warning)
        routes = merge_routes(auto_routes, extra_routes)
        plan = plan_live(live, public_key, params, peers, addresses, routes, _resolve)
        if module._diff:
            after = dict(
                up=True,
                public_key=public_key,
                listen_port=params["listen_port"]
                if params["listen_port"] is not None
                else (live or {}).get("listen_port"),
                mtu=params["mtu"] if params["mtu"] is not None else (live or {}).get("mtu"),
                addresses=addresses if addresses is not None else (live or {}).get("addresses", []),
                peers=peers,
                routes=routes,
            )
            diffs.append(
                dict(
                    before=describe_live(_live_view(live, peers, _resolve)),
                    after=describe_live(after),
                    before_header="{0} (live)".format(iface.name),
                    after_header="{0} (live)".format(iface.name),
                )
            )

    if not module.check_mode:
        if config_changed:
            write_atomic(module, config_path, desired_text)
        if plan is not None and plan.changed:
            setconf = render_setconf(private_key, peers, params["listen_port"])
            result["implementation"] = apply_plan(iface, plan, setconf)
    elif plan is not None and plan.create:
        result["implementation"] = "kernel" if os.path.exists("/sys/module/wireguard") else "wireguard-go"

    changed = config_changed
    if os.path.exists(config_path):
        file_args = module.load_file_common_arguments(module.params, path=config_path)
        if file_args.get("mode") is None:
            file_args["mode"] = "0600"
        changed = module.set_fs_attributes_if_different(file_args, changed)
    result["config_changed"] = config_changed
    if plan is not None:
        result.update(
            link_created=plan.create,
            peers_added=plan.peers_added,
            peers_removed=plan.peers_removed,
            peers_updated=plan.peers_updated,
            addresses_added=plan.addresses_added,
            addresses_removed=plan.addresses_removed,
            routes_added=[format_route(r) for r in plan.routes_added],
            routes_removed=[format_route(r) for r in plan.routes_removed],
        )
        changed = changed or plan.changed
    result["changed"] = changed
    if diffs:
        result["diff"] = diffs


def run_absent(module, iface, config_path, result, run):
    current_text = _read_text(config_path)
    live = iface.read() if module.params["apply"] else None
    diffs = []
    if module._diff:

        def describe(value):
            return _public_or_none(value, run)

        diffs.append(
            dict(
                before=redact_config(current_text, describe),
                after="",
                before_header=config_path,
                after_header=config_path,
            )
        )
        if live is not None:
            diffs.append(
                dict(
                    before=describe_live(_live_view(live, [], None)),
                    after=describe_live(None),
                    before_header="{0} (live)".format(iface.name),
                    after_header="{0} (live)".format(iface.name),
                )
            )
    if live is not None:
        result["peers_removed"] = sorted(live["peers"])
        result["addresses_removed"] = live["addresses"]
        result["routes_removed"] = [format_route(r) for r in live["routes"]]
    if not module.check_mode:
        if live is not None:
            iface.delete()
        if current_text is not None:
            os.unlink(config_path)
    result["config_changed"] = current_text is not None
    result["changed"] = current_text is not None or live is not None
    if diffs:
        result["diff"] = diffs


def main():
    peer_spec = dict(
        public_key=dict(type="str", required=True),
        allowed_ips=dict(type="list", elements="str", default=[]),
        endpoint=dict(type="str"),
        persistent_keepalive=dict(type="int", default=0),
        preshared_key=dict(type="str", no_log=True),
        name=dict(type="str"),
    )
    route_spec = dict(
        dst=dict(type="str", required=True),
        via=dict(type="str"),
        src=dict(type="str"),
        onlink=dict(type="bool", default=False),
        table=dict(type="str"),
        dev=dict(type="str"),
    )
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", default="kilo0"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            apply=dict(type="bool", default=True),
            address=dict(type="list", elements="str"),
            listen_port=dict(type="int"),
            private_key_path=dict(type="path", default="/var/lib/kilo/key", no_log=False),
            mtu=dict(type="int"),
            table=dict(type="str", default="auto"),
            config_path=dict(type="path"),
            route_protocol=dict(type="int", default=117),
            peers=dict(type="list", elements="dict", default=[], options=peer_spec),
            routes=dict(type="list", elements="dict", default=[], options=route_spec),
            keep_roamed_endpoints=dict(type="bool", default=False),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    # files created here hold the private key: never readable by others, not even for a moment
    os.umask(0o077)
    params = module.params
    result = dict(
        changed=False,
        name=params["name"],
        config_path=None,
        public_key=None,
        config_changed=False,
        link_created=False,
        implementation=None,
        peers_added=[],
        peers_removed=[],
        peers_updated=[],
        addresses=[],
        addresses_added=[],
        addresses_removed=[],
        routes_added=[],
        routes_removed=[],
    )

    def run(argv, data=None):
        return module.run_command(argv, data=data, check_rc=False)

    try:
        name = validate_interface_name(params["name"])
        if not 0 < params["route_protocol"] < 256:
            raise WireGuardError("route_protocol: {0} must be between 1 and 255".format(params["route_protocol"]))
        config_path = params["config_path"] or "/etc/wireguard/{0}.conf".format(name)
        result["config_path"] = config_path
        iface = Interface(module, name, params["route_protocol"])
        if params["state"] == "absent":
            run_absent(module, iface, config_path, result, run)
        else:
            run_present(module, iface, config_path, result, run)
    except WireGuardError as exc:
        module.fail_json(msg=str(exc), **result)
    except OSError as exc:
        module.fail_json(msg="interface {0}: {1}".format(params["name"], exc), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
