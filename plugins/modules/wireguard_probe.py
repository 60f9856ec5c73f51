#!/usr/bin/python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Dual-licensed: Apache License 2.0 (see LICENSES/Apache-2.0.txt) or
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright: (c) 2026, kilo.mesh contributors

from __future__ import annotations

DOCUMENTATION = r"""
---
module: wireguard_probe
short_description: Read in one call what installing WireGuard on a node needs, and what is missing
version_added: 0.3.0
description:
  - Reads, without changing anything, everything the P(kilo.mesh.wireguard#role) role decides on, and returns
    the list of actions still to do in RV(actions). On a node where everything is in place every action is
    empty, so the role runs no other task on the node.
  - "Reads: the distribution (only when O(os_facts) lacks it), whether the WireGuard kernel module is loaded
    (C(/sys/module/wireguard)) or loadable (C(modprobe --dry-run)), the TUN device C(/dev/net/tun), the
    firewall in use (O(firewall=auto)) and whether the port is open in it, the IP forwarding sysctls and
    their persisted values in O(sysctl_file), and which packages are installed, from the package database
    (dpkg status file, C(rpm -q), C(pacman -Q)) instead of a package manager run."
  - An action is left out only when the node proves it is not needed; the tasks that act are idempotent.
  - This module is the probe of the P(kilo.mesh.wireguard#role) role; its options mirror the role's variables.
author:
  - kilo.mesh contributors (@kilo-mesh)
extends_documentation_fragment:
  - kilo.mesh._attributes
  - kilo.mesh._attributes.read_only
options:
  os_facts:
    description:
      - The facts C(distribution), C(distribution_major_version) and C(os_family) the controller already has.
      - When one of them is missing, the module gathers the C(distribution), C(platform) and C(service_mgr)
        facts itself, with ansible-core's own fact collectors, and returns them as facts (RV(ansible_facts)), so
        a play does not need a separate fact gathering run.
    type: dict
    default: {}
  package_sets:
    description:
      - Package names per distribution. Keys are tried in this order, the first one present wins
        C(<distribution>_<major version>), C(<distribution>), C(<os_family>); no match means the distribution
        is unsupported (RV(package_set) is V(null)).
      - Each value has C(packages) (always installed), C(userspace_packages) (when C(wireguard-go) is needed)
        and C(firewall_packages) (a mapping of an explicit O(firewall) to its packages).
    type: dict
    required: true
  implementation:
    description: V(kernel), V(userspace) (C(wireguard-go)) or V(auto) (the kernel module when it is loaded or loadable).
    type: str
    choices: [auto, kernel, userspace]
    default: auto
  extra_packages:
    description: More packages to install.
    type: list
    elements: str
    default: []
  packages_state:
    description: V(latest) lists every wanted package in RV(actions.install), V(present) only the missing ones.
    type: str
    choices: [present, latest]
    default: present
  port:
    description: The WireGuard UDP port.
    type: int
    default: 51820
  firewall:
    description:
      - The firewall to open O(port) in. V(auto) detects the first active one of firewalld, ufw, iptables (rules
        or a non-ACCEPT policy in C(INPUT)) and nftables (an input hook outside O(nftables_table)); V(none) when
        nothing filters input.
    type: str
    choices: [auto, nftables, iptables, firewalld, ufw, none]
    default: auto
  firewall_zone:
    description: firewalld zone that must have the port.
    type: str
    default: public
  firewall_ipv6:
    description: iptables mode, the rule must be in ip6tables too.
    type: bool
    default: true
  firewall_comment:
    description: Comment of the role's iptables and ufw rules.
    type: str
    default: kilo.mesh wireguard
  nftables_table:
    description: Name of the role's own C(inet) table.
    type: str
    default: kilo_mesh
  nftables_file:
    description: File holding the role's nftables table.
    type: path
    default: /etc/wireguard/kilo-mesh.nft
  nftables_content:
    description: The content O(nftables_file) must have; the port counts as open in nftables only when it has.
    type: str
    default: ""
  ip_forward:
    description: C(net.ipv4.ip_forward) must be 1, live and in O(sysctl_file).
    type: bool
    default: true
  ipv6_forward:
    description: C(net.ipv6.conf.all.forwarding) must be 1, live and in O(sysctl_file).
    type: bool
    default: false
  sysctl_file:
    description: File the forwarding settings are persisted in.
    type: path
    default: /etc/sysctl.d/99-kilo-mesh.conf
notes:
  - Runs on the node with the Python standard library only (and ansible-core's fact collectors when it gathers).
seealso:
  - name: The kilo.mesh.wireguard role
    description: The role that runs this probe and the actions it returns.
    link: https://github.com/kilo-mesh/kilo.mesh/blob/main/roles/wireguard/README.md
"""

EXAMPLES = r"""
---
- name: Read what the node has and what is missing
  kilo.mesh.wireguard_probe:
    os_facts: "{{ ansible_facts }}"
    package_sets:
      Debian: {packages: [wireguard-tools], userspace_packages: [wireguard-go], firewall_packages: {}}
    firewall: auto
  register: probe

- name: Install what is missing
  ansible.builtin.package:
    name: "{{ probe.actions.install }}"
  when: probe.actions.install | length > 0
"""

RETURN = r"""
os:
  description: The C(distribution), C(distribution_major_version) and C(os_family) the decisions used.
  returned: always
  type: dict
  sample: {distribution: Debian, distribution_major_version: "12", os_family: Debian}
package_set:
  description: The key of O(package_sets) that matched, V(null) for an unsupported distribution.
  returned: always
  type: str
  sample: Debian
kernel_module:
  description: Whether the WireGuard kernel module is C(loaded) and C(loadable) (loaded, or C(modprobe -n) succeeds).
  returned: always
  type: dict
  sample: {loaded: false, loadable: false}
userspace:
  description: Whether C(wireguard-go) is used (O(implementation=userspace), or V(auto) without a kernel module).
  returned: always
  type: bool
  sample: true
tun:
  description: Whether C(/dev/net/tun) exists; V(null) when RV(userspace) is false (not read).
  returned: always
  type: bool
  sample: true
firewall:
  description: The firewall used and whether the port is open in it.
  returned: always
  type: dict
  sample: {backend: iptables, open: true}
  contains:
    backend:
      description: The firewall used, O(firewall) or the detected one; V(none) when nothing filters input.
      type: str
      sample: iptables
    open:
      description: Whether the role's rule for O(port) is in place (always V(true) for V(none)).
      type: bool
      sample: true
sysctl:
  description: Per forwarding setting, its C(live) value and whether O(sysctl_file) C(persisted) it as 1.
  returned: always
  type: dict
  sample: {net.ipv4.ip_forward: {live: "1", persisted: true}}
sysctl_dir_exists:
  description: Whether the directory of O(sysctl_file) exists (V(null) when no forwarding is wanted).
  returned: always
  type: bool
  sample: true
packages:
  description: The packages C(wanted), the package C(database) read (V(null) if none) and those C(installed).
  returned: always
  type: dict
  sample: {wanted: [wireguard-tools, wireguard-go], database: dpkg, installed: [wireguard-tools, wireguard-go]}
actions:
  description: What is left to do; every entry empty or V(false) when the node is in place.
  returned: always
  type: dict
  sample: {install: [], modprobe: false, firewall: false, sysctl_dir: false, sysctl: []}
  contains:
    install:
      description: The packages to install (all wanted ones with O(packages_state=latest)).
      type: list
      elements: str
      sample: [wireguard-go]
    modprobe:
      description: Load the kernel module now and at boot (kernel implementation, module not loaded).
      type: bool
      sample: false
    firewall:
      description: Open the port in RV(firewall.backend).
      type: bool
      sample: false
    sysctl_dir:
      description: Create the directory of O(sysctl_file).
      type: bool
      sample: false
    sysctl:
      description: The forwarding settings to set live and persist.
      type: list
      elements: str
      sample: [net.ipv4.ip_forward]
ansible_facts:
  description: The C(distribution), C(platform) and C(service_mgr) facts, only when O(os_facts) lacked one of the three.
  returned: when gathered
  type: dict
  sample: {distribution: Debian, os_family: Debian, service_mgr: systemd, system: Linux}
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kilo.mesh.plugins.module_utils._host_probe import plan, probe
from ansible_collections.kilo.mesh.plugins.module_utils._os_facts import os_facts_or_gather


def main():
    module = AnsibleModule(
        argument_spec=dict(
            os_facts=dict(type="dict", default={}),
            package_sets=dict(type="dict", required=True),
            implementation=dict(type="str", choices=["auto", "kernel", "userspace"], default="auto"),
            extra_packages=dict(type="list", elements="str", default=[]),
            packages_state=dict(type="str", choices=["present", "latest"], default="present"),
            port=dict(type="int", default=51820),
            firewall=dict(
                type="str", choices=["auto", "nftables", "iptables", "firewalld", "ufw", "none"], default="auto"
            ),
            firewall_zone=dict(type="str", default="public"),
            firewall_ipv6=dict(type="bool", default=True),
            firewall_comment=dict(type="str", default="kilo.mesh wireguard"),
            nftables_table=dict(type="str", default="kilo_mesh"),
            nftables_file=dict(type="path", default="/etc/wireguard/kilo-mesh.nft"),
            nftables_content=dict(type="str", default=""),
            ip_forward=dict(type="bool", default=True),
            ipv6_forward=dict(type="bool", default=False),
            sysctl_file=dict(type="path", default="/etc/sysctl.d/99-kilo-mesh.conf"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    os_facts, gathered = os_facts_or_gather(module, params["os_facts"])

    def run(argv):
        return module.run_command(list(argv), environ_update={"LC_ALL": "C"})

    def read(path):
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except (IOError, OSError):
            return None

    def which(name):
        return module.get_bin_path(name, opt_dirs=["/usr/sbin", "/sbin"])

    readings = probe(params, os_facts, run, read, which, os.path.exists)
    result = dict(readings, changed=False, actions=plan(readings, params))
    if gathered is not None:
        result["ansible_facts"] = gathered
    module.exit_json(**result)


if __name__ == "__main__":
    main()
