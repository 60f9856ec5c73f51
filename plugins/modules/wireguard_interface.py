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
  - Every option is checked before anything is touched. When a change still fails part-way (for example the kernel
    refuses a route's gateway), the previous state is put back (peers, MTU, addresses, routes, link state and the
    config file; a link created by this run is deleted) and the task fails with RV(rolled_back=true) and
    C(changed=false). If putting it back fails too, the message says what was not restored and C(changed) is true.
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
rolled_back:
  description:
    - Whether a change that failed part-way was undone completely (interface and config file as before the task).
    - V(false) when nothing failed or when undoing failed too (the task message says what was not restored).
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
from ansible_collections.kilo.mesh.plugins.module_utils._interface import (
    ApplyError,
    Interface,
    apply_or_roll_back,
    keep_roamed,
    live_view,
    plan_live,
    saved_config,
)
from ansible_collections.kilo.mesh.plugins.module_utils._wireguard import (
    WireGuardError,
    describe_live,
    format_route,
    is_valid_key,
    merge_routes,
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
from ansible_collections.kilo.mesh.plugins.module_utils.topology.constants import (
    INTERFACE_NAME,
    WIREGUARD_ROUTE_PROTOCOL,
)

HEADER = "Managed by Ansible (kilo.mesh.wireguard_interface). Local changes will be overwritten."


def _resolve(host, port):
    return [info[4][0] for info in socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)]


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
        plan = plan_live(live, public_key, params["listen_port"], params["mtu"], peers, addresses, routes, _resolve)
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
                    before=describe_live(live_view(live, peers, _resolve)),
                    after=describe_live(after),
                    before_header="{0} (live)".format(iface.name),
                    after_header="{0} (live)".format(iface.name),
                )
            )

    if not module.check_mode:
        if config_changed:
            write_atomic(config_path, desired_text)
        if plan is not None and plan.changed:
            setconf = render_setconf(private_key, peers, params["listen_port"])
            try:
                before_conf = saved_config(iface) if live is not None else None
                result["implementation"] = apply_or_roll_back(iface, plan, setconf, live, before_conf)
            except WireGuardError as exc:
                _undo_config(config_path, current_text, config_changed, result, exc)
                raise
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


def _undo_config(config_path, previous_text, written, result, exc):
    """After a failed live change: put the previous config file back and say honestly what is left changed."""
    # any other error came before the first live change (saving the running config)
    problems = list(exc.problems) if isinstance(exc, ApplyError) else []
    if written:
        try:
            if previous_text is None:
                os.unlink(config_path)
            else:
                write_atomic(config_path, previous_text)
        except OSError as error:
            problems.append("config file: {0}".format(error))
            exc.args = ("{0}; the config file {1} could not be restored: {2}".format(exc, config_path, error),)
    result["rolled_back"] = not problems
    result["changed"] = bool(problems)
    result["config_changed"] = written and bool(problems)


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
                    before=describe_live(live_view(live, [], None)),
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
            name=dict(type="str", default=INTERFACE_NAME),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            apply=dict(type="bool", default=True),
            address=dict(type="list", elements="str"),
            listen_port=dict(type="int"),
            private_key_path=dict(type="path", default="/var/lib/kilo/key", no_log=False),
            mtu=dict(type="int"),
            table=dict(type="str", default="auto"),
            config_path=dict(type="path"),
            route_protocol=dict(type="int", default=WIREGUARD_ROUTE_PROTOCOL),
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
        rolled_back=False,
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
        iface = Interface(name, params["route_protocol"], run, setsid=module.get_bin_path("setsid"), warn=module.warn)
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
