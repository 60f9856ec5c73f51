# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Constants of the collection, defined once (private, no stable API; stdlib only, imports nothing).

The engine, the modules, the filters and the plugins read them from here. Kilo's own values are
described in docs/kilo/.
"""

from __future__ import annotations

#: the WireGuard interface Kilo manages on every node
INTERFACE_NAME = "kilo0"
#: WireGuard's (and Kilo's) default UDP port
DEFAULT_PORT = 51820
#: Kilo's default WireGuard address pool
DEFAULT_SUBNET = "10.4.0.0/16"
#: mesh granularities, in the order they are listed to users ("cross" is experimental)
GRANULARITIES = ("location", "full", "cross")
#: node label Kilo reads as the location when the kilo.squat.ai/location annotation is absent
DEFAULT_TOPOLOGY_LABEL = "topology.kubernetes.io/region"
#: routing table of Kilo's policy rules
KILO_TABLE = 1107
#: route protocol id of the routes kilo.mesh.wireguard_interface installs (``ip route ... proto 117``)
WIREGUARD_ROUTE_PROTOCOL = 117
#: route protocol id of the routes kilo.mesh.mesh_routes installs by default
MESH_ROUTE_PROTOCOL = 211
#: a WireGuard key (public, private or preshared) is 32 bytes, written as 44 characters of base64
KEY_BYTES = 32
KEY_LENGTH = 44
#: what every output prints in place of a private or preshared key
REDACTED = "(redacted)"
