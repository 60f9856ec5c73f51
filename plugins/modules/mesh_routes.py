#!/usr/bin/python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Dual-licensed: Apache License 2.0 (see LICENSES/Apache-2.0.txt) or
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright: (c) 2026, kilo.mesh contributors

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mesh_routes
short_description: Install the static routes of a Kilo mesh node and remove only its own stale ones
version_added: 0.1.0
description:
  - Makes the set of kernel routes tagged with a dedicated routing protocol id (O(protocol)) equal to O(routes).
  - Routes of O(routes) are installed with C(ip route replace ... proto O(protocol)); routes that carry the same
    protocol id but are not in O(routes) are deleted. Routes with any other protocol id are never touched.
  - All or nothing. Every route is checked before the first change (addresses, address families, devices,
    gateways that are a local, network or broadcast address); a bad route fails the task with nothing changed.
    When the kernel still refuses a route during the apply, every route already added, replaced or deleted is
    put back as it was, and the task fails with what was rolled back (RV(rolled_back)).
  - The device name V(private) in a route stands for the interface that holds the node's internal IP address.
    It is resolved on the node, from O(private_device) or by looking up O(private_address).
  - This is the route part of Kilo's agent (described in the collection's C(docs/kilo/routes.md#routes)) for nodes
    that run without the agent.
author:
  - kilo.mesh contributors (@kilo-mesh)
extends_documentation_fragment:
  - kilo.mesh._attributes
  - kilo.mesh._attributes.FULL_SUPPORT
options:
  routes:
    description:
      - The routes the node must have, usually the O(routes) of one node of the P(kilo.mesh.topology#lookup) output.
    type: list
    elements: dict
    default: []
    suboptions:
      dst:
        description: Destination prefix (CIDR). Host bits are cleared.
        type: str
        required: true
      via:
        description: Gateway address. Omit for a route straight onto the device.
        type: str
      dev:
        description: Output device. V(private) is replaced by the interface holding the internal IP.
        type: str
        required: true
      src:
        description: Preferred source address (a prefix length, if any, is ignored).
        type: str
      onlink:
        description: Set the C(onlink) flag (the gateway need not be on a connected subnet).
        type: bool
        default: false
      table:
        description: Routing table id. Omitted or V(null) means the main table (254).
        type: int
  protocol:
    description:
      - Routing protocol id used to tag, find and remove the routes this module owns. Pick an id no other
        routing software on the node uses.
    type: int
    default: 211
  private_address:
    description:
      - The node's internal IP address (CIDR or plain address). The interface holding it replaces V(private) in
        O(routes[].dev) when O(private_device) is not given.
    type: str
  private_device:
    description: Interface name that replaces V(private) in O(routes[].dev). Takes precedence over O(private_address).
    type: str
  restore_file:
    description:
      - Also keep the owned routes in this file, as C(ip -batch) commands (C(route replace ... proto N), one per
        line), so that they can be restored when the node boots, with C(ip -force -batch PATH), for example by
        the C(kilo-mesh-routes) systemd unit of the P(kilo.mesh.mesh#role) role.
      - The file is written atomically with mode V(0644) and only when its content changes; V(private) is
        written as the interface it resolved to. With O(state=absent) the file is removed.
      - The file always holds the owned routes the node has after the run, also after a failed apply that
        was rolled back.
    type: path
    version_added: 0.2.0
  state:
    description:
      - V(present) makes the owned routes equal to O(routes).
      - V(absent) removes every route tagged with O(protocol) (and O(restore_file)); O(routes) is ignored.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Needs the C(ip) command of iproute2 with JSON output (C(ip -j), iproute2 4.13 or later).
  - In check mode a route whose device or addresses do not exist yet (an interface an earlier task would
    create) gives a warning instead of an error.
"""

EXAMPLES = r"""
---
- name: Install the routes of this node
  kilo.mesh.mesh_routes:
    routes: "{{ mesh_topology.nodes[inventory_hostname].routes }}"
    private_address: "{{ kilo_internal_ip }}"

- name: Install the routes and keep them for the boot service
  kilo.mesh.mesh_routes:
    routes: "{{ mesh_topology.nodes[inventory_hostname].routes }}"
    private_address: "{{ kilo_internal_ip }}"
    restore_file: /var/lib/kilo/mesh-routes

- name: Remove every route this collection installed
  kilo.mesh.mesh_routes:
    state: absent
"""

RETURN = r"""
routes:
  description: The owned routes after the run, one C(ip route) style line each, sorted.
  returned: always
  type: list
  elements: str
  sample: ["10.2.2.0/24 via 10.4.0.2 dev kilo0 src 172.31.0.6 onlink"]
added:
  description: Routes that were (or in check mode would be) installed or replaced.
  returned: always
  type: list
  elements: str
  sample: ["10.2.2.0/24 via 10.4.0.2 dev kilo0 src 172.31.0.6 onlink"]
removed:
  description: Stale owned routes that were (or in check mode would be) deleted.
  returned: always
  type: list
  elements: str
  sample: ["10.2.9.0/24 via 10.4.0.3 dev kilo0 onlink"]
restore_file_changed:
  description: Whether O(restore_file) was (or in check mode would be) written or removed.
  returned: always
  type: bool
  sample: false
  version_added: 0.2.0
private_device:
  description: The interface that V(private) resolved to, or V(null) when no route used it.
  returned: always
  type: str
  sample: eth0
rolled_back:
  description:
    - After the kernel refused a route during the apply (the task failed), the changes that were undone, one
      line each (C(added ROUTE) or C(removed ROUTE) describes the change that was undone); empty otherwise.
  returned: always
  type: list
  elements: str
  sample: ["added 10.2.2.0/24 via 10.4.0.2 dev kilo0 src 172.31.0.6 onlink"]
  version_added: 0.2.0
"""

import ipaddress
import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kilo.mesh.plugins.module_utils._files import write_atomic
from ansible_collections.kilo.mesh.plugins.module_utils.topology.constants import MESH_ROUTE_PROTOCOL

MAIN_TABLE = 254


class _Route:
    """One route in a normalised, comparable form."""

    __slots__ = ("dst", "via", "dev", "src", "onlink", "table", "metric")

    def __init__(self, dst, dev, via=None, src=None, onlink=False, table=None, metric=None):
        self.dst = dst
        self.dev = dev
        self.via = via
        self.src = src
        self.onlink = bool(onlink)
        self.table = MAIN_TABLE if table is None else int(table)
        self.metric = metric

    @property
    def family(self):
        return "-6" if ":" in self.dst else "-4"

    def key(self):
        return (self.family, self.dst, self.via or "", self.dev, self.src or "", self.onlink, self.table)

    def selector(self):
        """Arguments after ``ip route <verb>`` that identify this route."""
        args = [self.dst]
        if self.via:
            args += ["via", self.via]
        args += ["dev", self.dev]
        if self.table != MAIN_TABLE:
            args += ["table", str(self.table)]
        return args

    def replace_args(self, protocol):
        """Arguments after ``ip`` that install this route (``route replace ... proto N``)."""
        args = ["route", "replace"] + self.selector()
        if self.src:
            args += ["src", self.src]
        if self.onlink:
            args.append("onlink")
        return args + ["proto", str(protocol)]

    def install_args(self, protocol):
        """``ip`` arguments that install this route again exactly (family and metric included)."""
        args = [self.family] + self.replace_args(protocol)
        if self.metric is not None:
            args += ["metric", str(self.metric)]
        return args

    def delete_args(self, protocol):
        """``ip`` arguments that delete exactly this route."""
        args = [self.family, "route", "del"] + self.selector() + ["proto", str(protocol)]
        if self.metric is not None:
            args += ["metric", str(self.metric)]
        return args

    def text(self):
        words = [self.dst]
        if self.via:
            words += ["via", self.via]
        words += ["dev", self.dev]
        if self.src:
            words += ["src", self.src]
        if self.onlink:
            words.append("onlink")
        if self.table != MAIN_TABLE:
            words += ["table", str(self.table)]
        return " ".join(words)


def _address(value):
    """Plain address text of ``value`` (which may carry a prefix length), or None."""
    if value in (None, ""):
        return None
    return str(ipaddress.ip_interface(str(value)).ip)


def _prefix(value):
    return str(ipaddress.ip_network(str(value), strict=False))


def _table_id(value):
    if value in (None, "", "main"):
        return MAIN_TABLE
    if value == "local":
        return 255
    if value == "default":
        return 253
    return int(value)


def _desired_routes(params, resolve_private):
    routes = {}
    for index, spec in enumerate(params["routes"]):
        try:
            dst = _prefix(spec["dst"])
            via = _address(spec.get("via"))
            src = _address(spec.get("src"))
        except ValueError as exc:
            raise ValueError("routes[%d] (dst %s): %s" % (index, spec.get("dst"), exc)) from exc
        for field, value in (("via", via), ("src", src)):
            if value is not None and ipaddress.ip_address(value).version != ipaddress.ip_network(dst).version:
                raise ValueError(
                    "routes[%d] (dst %s): field %s has the value %s, of another address family than the destination; "
                    "expected an IPv%d address" % (index, dst, field, value, ipaddress.ip_network(dst).version)
                )
        dev = spec["dev"]
        if dev == "private":
            dev = resolve_private()
        route = _Route(dst, dev, via=via, src=src, onlink=spec.get("onlink"), table=spec.get("table"))
        # a kernel table holds one route per destination (and metric); the first spec wins, like ip route replace
        routes.setdefault((route.family, route.dst, route.table), route)
    return sorted(routes.values(), key=lambda r: r.key())


class _Ip:
    def __init__(self, module):
        self.module = module
        self.binary = module.get_bin_path("ip", required=True)

    def run(self, args, json_output=False):
        cmd = [self.binary] + (["-j"] if json_output else []) + args
        rc, out, err = self.module.run_command(cmd)
        if rc != 0:
            self.module.fail_json(msg="command %s failed (rc=%d): %s" % (" ".join(cmd), rc, err.strip()), cmd=cmd)
        return out

    def attempt(self, args):
        """Run ``ip ARGS``; the error text, or None when it worked."""
        rc, _out, err = self.module.run_command([self.binary] + args)
        return None if rc == 0 else (err.strip() or "ip exited with %d" % rc)

    def links(self):
        return set(entry["ifname"] for entry in json.loads(self.run(["link", "show"], json_output=True) or "[]"))

    def addresses(self):
        """Every interface address of the host, as ``ipaddress`` interfaces."""
        result = []
        for entry in json.loads(self.run(["addr", "show"], json_output=True) or "[]"):
            for info in entry.get("addr_info", []):
                if info.get("local") and info.get("prefixlen") is not None:
                    result.append(ipaddress.ip_interface("%s/%s" % (info["local"], info["prefixlen"])))
        return result

    def owned_routes(self, protocol):
        routes = []
        for family in ("-4", "-6"):
            out = self.run([family, "route", "show", "table", "all", "proto", str(protocol)], json_output=True)
            for entry in json.loads(out or "[]"):
                dst = entry.get("dst", "")
                if dst == "default":
                    dst = "0.0.0.0/0" if family == "-4" else "::/0"
                routes.append(
                    _Route(
                        _prefix(dst),
                        entry.get("dev", ""),
                        via=entry.get("gateway"),
                        src=entry.get("prefsrc"),
                        onlink="onlink" in entry.get("flags", []),
                        table=_table_id(entry.get("table")),
                        metric=entry.get("metric"),
                    )
                )
        return sorted(routes, key=lambda r: r.key())

    def device_holding(self, address):
        wanted = ipaddress.ip_interface(str(address)).ip
        family = "-6" if wanted.version == 6 else "-4"
        for entry in json.loads(self.run([family, "addr", "show"], json_output=True) or "[]"):
            for info in entry.get("addr_info", []):
                if info.get("local") and ipaddress.ip_address(info["local"]) == wanted:
                    return entry["ifname"]
        return None


def _problems(routes, links, addresses):
    """What the kernel would refuse (or silently misuse) in ``routes``, one message per route."""
    local = set(address.ip for address in addresses)
    special = {}
    for address in addresses:
        network = address.network
        if network.num_addresses > 2:
            special.setdefault(network.network_address, "the network address of %s" % network)
            if network.version == 4:
                special.setdefault(network.broadcast_address, "the broadcast address of %s" % network)
    problems = []
    for route in routes:
        where = "route %s" % route.text()
        if route.dev not in links:
            problems.append("%s: device %s does not exist on this host" % (where, route.dev))
        if route.via:
            gateway = ipaddress.ip_address(route.via)
            if gateway in local:
                problems.append("%s: the gateway %s is an address of this host, not a next hop" % (where, gateway))
            elif gateway in special:
                problems.append(
                    "%s: the gateway %s is %s, not a host; expected the address of the next hop (for a mesh "
                    "route, the WireGuard IP or internal IP of a leader)" % (where, gateway, special[gateway])
                )
        if route.src and ipaddress.ip_address(route.src) not in local:
            problems.append("%s: the source address %s is not an address of this host" % (where, route.src))
    return problems


def _apply(ip, protocol, stale, missing, current):
    """Install ``missing`` and delete ``stale``; on the first error undo everything done so far.

    Returns ``(error, rolled_back, left)``: the kernel's error (None on success), the undone changes,
    and the changes that could not be undone.
    """
    before = dict(((route.family, route.dst, route.table), route) for route in current)
    done = []  # (description, undo args)
    error = None
    replaced = set()
    for route in missing:
        where = (route.family, route.dst, route.table)
        old = before.get(where)
        failure = ip.attempt([route.family] + route.replace_args(protocol))
        if failure:
            error = "route %s: %s" % (route.text(), failure)
            break
        replaced.add(where)
        undo = old.install_args(protocol) if old is not None else route.delete_args(protocol)
        done.append(("added " + route.text(), undo))
    if error is None:
        # a stale route whose destination is wanted again was overwritten in place by "replace" (no gap)
        for route in stale:
            if (route.family, route.dst, route.table) in replaced:
                continue
            failure = ip.attempt(route.delete_args(protocol))
            if failure:
                error = "route %s: %s" % (route.text(), failure)
                break
            done.append(("removed " + route.text(), route.install_args(protocol)))
    if error is None:
        return None, [], []
    rolled_back, left = [], []
    for description, undo in reversed(done):
        failure = ip.attempt(undo)
        if failure:
            left.append("%s (could not be undone: %s)" % (description, failure))
        else:
            rolled_back.append(description)
    return error, rolled_back, left


RESTORE_HEADER = (
    "# Managed by Ansible (kilo.mesh.mesh_routes): the routes of this node, restored at boot with\n"
    "# ip -force -batch FILE. Local changes will be overwritten.\n"
)


def _sync_restore_file(module, routes):
    """Make ``restore_file`` hold ``routes`` (removed with state=absent); return whether it changed."""
    path = module.params["restore_file"]
    if not path:
        return False
    if module.params["state"] == "absent":
        if not os.path.exists(path):
            return False
        if not module.check_mode:
            os.unlink(path)
        return True
    # ip -batch lines: the arguments after "ip" (the family follows from the addresses)
    text = RESTORE_HEADER + "".join(" ".join(route.replace_args(module.params["protocol"])) + "\n" for route in routes)
    try:
        with open(path) as handle:
            changed = handle.read() != text
    except FileNotFoundError:
        changed = True
    if changed and not module.check_mode:
        write_atomic(path, text, mode=0o644, dir_mode=0o755)
    if os.path.exists(path):
        changed = module.set_mode_if_different(path, "0644", changed)
    return changed


def main():
    route_spec = dict(
        dst=dict(type="str", required=True),
        via=dict(type="str"),
        dev=dict(type="str", required=True),
        src=dict(type="str"),
        onlink=dict(type="bool", default=False),
        table=dict(type="int"),
    )
    module = AnsibleModule(
        argument_spec=dict(
            routes=dict(type="list", elements="dict", options=route_spec, default=[]),
            protocol=dict(type="int", default=MESH_ROUTE_PROTOCOL),
            private_address=dict(type="str"),
            private_device=dict(type="str"),
            restore_file=dict(type="path"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not 1 <= params["protocol"] <= 255:
        module.fail_json(msg="protocol must be a routing protocol id between 1 and 255, got %d" % params["protocol"])

    ip = _Ip(module)
    resolved = {}

    def resolve_private():
        if "dev" not in resolved:
            if params["private_device"]:
                resolved["dev"] = params["private_device"]
            elif params["private_address"]:
                dev = ip.device_holding(params["private_address"])
                if dev is None:
                    module.fail_json(
                        msg="a route uses dev 'private' but no interface holds the internal IP %s; set the node's "
                        "internal IP (kilo_internal_ip) to an address of this host or pass private_device"
                        % params["private_address"]
                    )
                resolved["dev"] = dev
            else:
                module.fail_json(msg="a route uses dev 'private' but neither private_address nor private_device is set")
        return resolved["dev"]

    if params["state"] == "present":
        try:
            desired = _desired_routes(params, resolve_private)
        except ValueError as exc:
            module.fail_json(msg="nothing was changed, a route is invalid: %s" % exc, changed=False, rolled_back=[])
    else:
        desired = []

    current = ip.owned_routes(params["protocol"])
    desired_keys = set(route.key() for route in desired)
    current_keys = set(route.key() for route in current)
    stale = [route for route in current if route.key() not in desired_keys]
    missing = [route for route in desired if route.key() not in current_keys]
    changed = bool(stale or missing)

    if missing:
        problems = _problems(missing, ip.links(), ip.addresses())
        if problems and not module.check_mode:
            module.fail_json(
                msg="nothing was changed, %d route(s) would not work: %s" % (len(problems), "; ".join(problems)),
                problems=problems,
                changed=False,
                rolled_back=[],
            )
        for problem in problems:
            module.warn(problem + " (check mode: the device or address may be created by an earlier task)")

    if changed and not module.check_mode:
        error, rolled_back, left = _apply(ip, params["protocol"], stale, missing, current)
        if error is not None:
            live = ip.owned_routes(params["protocol"])
            try:
                restore_changed = _sync_restore_file(module, live)
            except OSError as exc:
                restore_changed = False
                left.append("restore file %s not updated: %s" % (params["restore_file"], exc))
            if left:
                msg = "the kernel refused %s; %d change(s) could not be undone: %s" % (
                    error,
                    len(left),
                    "; ".join(left),
                )
            else:
                msg = "the kernel refused %s; every change was rolled back (%d), the routes are as before" % (
                    error,
                    len(rolled_back),
                )
            module.fail_json(
                msg=msg,
                changed=bool(left) or restore_changed,
                rolled_back=rolled_back,
                not_rolled_back=left,
                routes=sorted(route.text() for route in live),
                restore_file_changed=restore_changed,
            )
    try:
        restore_file_changed = _sync_restore_file(module, desired)
    except OSError as exc:
        module.fail_json(msg="could not write restore_file %s: %s" % (params["restore_file"], exc), changed=changed)

    before = sorted(route.text() for route in current)
    after = sorted(route.text() for route in desired)
    result = dict(
        changed=changed or restore_file_changed,
        restore_file_changed=restore_file_changed,
        routes=after,
        added=sorted(route.text() for route in missing),
        removed=sorted(route.text() for route in stale),
        private_device=resolved.get("dev"),
        rolled_back=[],
    )
    if module._diff:
        result["diff"] = dict(
            before="".join(line + "\n" for line in before),
            after="".join(line + "\n" for line in after),
            before_header="routes proto %d (before)" % params["protocol"],
            after_header="routes proto %d (after)" % params["protocol"],
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
