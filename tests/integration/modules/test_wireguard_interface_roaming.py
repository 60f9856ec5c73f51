# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""kilo.mesh.wireguard_interface keep_roamed_endpoints: which live endpoints survive (pure function, no interface).

The end-to-end case (a leader behind NAT whose session roams to the NAT's address, a second apply that changes
nothing) is in tests/lab/test_peer_client.py.
"""

from __future__ import annotations

from ansible_collections.kilo.mesh.plugins.modules.wireguard_interface import ROAMING_WINDOW, keep_roamed

NOW = 1_800_000_000
KEY = "A" * 43 + "="


def peer(endpoint: str | None) -> dict:
    return {"public_key": KEY, "allowed_ips": ["10.4.0.3/32"], "endpoint": endpoint, "persistent_keepalive": 10}


def live(endpoint: str | None, handshake: int) -> dict:
    return {KEY: {"public_key": KEY, "endpoint": endpoint, "latest_handshake": handshake}}


def test_a_live_session_keeps_the_endpoint_it_roamed_to() -> None:
    wanted = [peer("192.168.77.14:51820")]
    assert keep_roamed(wanted, live("198.51.100.203:51820", NOW - 5), NOW)[0]["endpoint"] == "198.51.100.203:51820"
    assert wanted[0]["endpoint"] == "192.168.77.14:51820"  # the input (rendered into the file) is not changed


def test_a_dead_or_missing_session_goes_back_to_the_configured_endpoint() -> None:
    wanted = [peer("192.168.77.14:51820")]
    for state in (
        live("198.51.100.203:51820", NOW - ROAMING_WINDOW),  # too old
        live("198.51.100.203:51820", 0),  # never had a handshake
        live(None, NOW - 5),
        {},  # a new peer
    ):
        assert keep_roamed(wanted, state, NOW) == wanted, state


def test_a_peer_without_configured_endpoint_is_left_alone() -> None:
    assert keep_roamed([peer(None)], live("198.51.100.203:51820", NOW - 5), NOW) == [peer(None)]
