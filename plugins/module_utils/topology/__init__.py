# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Kilo's mesh topology in plain Python (docs/kilo/index.md).

This package is private to the kilo.mesh collection and has NO stable API: names may change in any
release. It imports only the standard library and its own modules (relative imports), so it loads
as ``ansible_collections.kilo.mesh.plugins.module_utils.topology`` inside Ansible and as a
top-level ``topology`` package under plain pytest. It runs on Python 3.8+.
"""

from __future__ import annotations

from .build import build_topology, parse_node, parse_peer
from .errors import (
    DuplicateKeyError,
    DuplicateNameError,
    InvalidCIDRError,
    InvalidEndpointError,
    InvalidFieldError,
    InvalidGranularityError,
    InvalidKeepaliveError,
    InvalidKeyError,
    InvalidPortError,
    MissingEndpointError,
    NotLeaderError,
    OverlapError,
    SubnetTooSmallError,
    TopologyError,
    UnknownNameError,
)
from .model import Endpoint, NodeSpec, Peer, PeerSpec, Route, Rule, Segment, TopologyData, WgPeer
from .parse import endpoint_problem, parse_endpoint
from .render import interface_lines, render_conf, to_yaml
from .views import Topology

__all__ = [
    "DuplicateKeyError",
    "DuplicateNameError",
    "Endpoint",
    "InvalidCIDRError",
    "InvalidEndpointError",
    "InvalidFieldError",
    "InvalidGranularityError",
    "InvalidKeepaliveError",
    "InvalidKeyError",
    "InvalidPortError",
    "MissingEndpointError",
    "NodeSpec",
    "NotLeaderError",
    "OverlapError",
    "Peer",
    "PeerSpec",
    "Route",
    "Rule",
    "Segment",
    "SubnetTooSmallError",
    "Topology",
    "TopologyData",
    "TopologyError",
    "UnknownNameError",
    "WgPeer",
    "build_topology",
    "endpoint_problem",
    "interface_lines",
    "parse_endpoint",
    "parse_node",
    "parse_peer",
    "render_conf",
    "to_yaml",
]
