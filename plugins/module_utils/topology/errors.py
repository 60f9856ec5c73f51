# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Errors raised by the topology engine.

Every error is a :class:`TopologyError` (a :class:`ValueError`) whose message names the node or
peer, the field, the bad value and what is expected, so the glue can show it to the user as is.
"""

from __future__ import annotations

from typing import Any, Optional


class TopologyError(ValueError):
    """Base class of all engine errors.

    ``kind`` is ``"node"``, ``"peer"`` or ``"option"``; ``name`` the node/peer name (or option
    name); ``field`` the input field. All three may be None for errors about the whole cluster.
    """

    def __init__(
        self,
        message: str,
        kind: Optional[str] = None,
        name: Optional[str] = None,
        field: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.name = name
        self.field = field


class InvalidFieldError(TopologyError):
    """A field has the wrong type or is missing."""


class InvalidCIDRError(InvalidFieldError):
    """A value is not a CIDR (``address/prefix-length``)."""


class InvalidKeyError(InvalidFieldError):
    """A WireGuard key is not 32 bytes of standard base64."""


class InvalidEndpointError(InvalidFieldError):
    """An endpoint does not pass Kilo's endpoint parser."""


class InvalidKeepaliveError(InvalidFieldError):
    """A persistent keepalive is negative, above 65535 or not an integer."""


class InvalidPortError(InvalidFieldError):
    """A port is outside 1..65535."""


class InvalidGranularityError(InvalidFieldError):
    """The granularity is not one of location, full, cross."""


class MissingEndpointError(InvalidFieldError):
    """A node has no endpoint (Kilo would treat it as not ready)."""


class DuplicateNameError(TopologyError):
    """Two nodes (or two peers) have the same name."""


class DuplicateKeyError(TopologyError):
    """Two nodes/peers share a public key."""


class OverlapError(TopologyError):
    """Two address ranges that must be disjoint overlap (or two nodes/peers claim one address)."""


class AddressFamilyError(InvalidFieldError):
    """An address of the other IP family than the WireGuard subnet (routes would mix families)."""


class SubnetTooSmallError(TopologyError):
    """The WireGuard subnet has fewer addresses than there are segments."""


class NotLeaderError(TopologyError):
    """A configuration was requested for a node that is not the leader of its segment."""


class UnknownNameError(TopologyError, KeyError):
    """No node / peer with that name."""

    def __str__(self) -> str:  # KeyError would add quotes around the message
        return str(self.args[0])


def describe(kind: str, name: Any, field: str, value: Any, expected: str) -> str:
    """The one message format of field errors: who, which field, what value, what is expected."""
    who = f'{kind} "{name}"' if name not in (None, "") else kind
    return f"{who}: field {field!s} has invalid value {value!r}: {expected}"


def describe_key(kind: str, name: Any, field: str, expected: str) -> str:
    """Like :func:`describe` for a WireGuard key field: the value is never part of the message.

    Public, private and preshared keys are all left out (valid or not), so a message can be logged
    or shown by Ansible without leaking a secret that was put into the wrong field.
    """
    who = f'{kind} "{name}"' if name not in (None, "") else kind
    return f"{who}: field {field!s} has an invalid value (not shown, it is meant to be a key): {expected}"
