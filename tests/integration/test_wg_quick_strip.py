# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""The wg-quick file that plugins/module_utils/_wireguard.py renders is accepted by the real ``wg-quick``.

``wg-quick`` re-executes itself through sudo unless it runs as root, even for ``strip``, so this test
belongs to the integration tier (run as root), not to tests/unit.
"""

from __future__ import annotations

import subprocess

import _wireguard as wgu
import pytest

PUB_B = "kXY6yNhTAOlwJ7l6L5vWVkvCBv0T7FrkMFFqgYHyamU="
PUB_C = "1uQL9DgQ+MGX9n9VkiA3UwF0o7Jwln3cO9gaQVUO2lo="
PEERS = [
    {
        "name": "node-b",
        "public_key": PUB_B,
        "allowed_ips": ["10.4.0.2/32", "10.2.1.0/24"],
        "endpoint": "192.168.50.12:51820",
        "persistent_keepalive": 10,
        "preshared_key": None,
    },
    {
        "name": None,
        "public_key": PUB_C,
        "allowed_ips": ["10.4.0.3/32"],
        "endpoint": None,
        "persistent_keepalive": 0,
        "preshared_key": PUB_B,  # any valid key will do as a psk here
    },
]


def wg(*args, data=None):
    return subprocess.run(["wg", *args], input=data, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def keypair():
    private = wg("genkey")
    return private, wg("pubkey", data=private)


def test_rendered_config_is_accepted_by_wg_quick_strip(keypair, tmp_path):
    private, _public = keypair
    path = tmp_path / "kilo0.conf"
    path.write_text(wgu.render_config(private, PEERS, ["10.4.0.1/16"], 51820, 1420, header="managed"))
    path.chmod(0o600)
    stripped = subprocess.run(["wg-quick", "strip", str(path)], capture_output=True, text=True, check=True).stdout
    assert "Address" not in stripped and "MTU" not in stripped
    setconf = wgu.render_setconf(private, PEERS, 51820)

    def fields(text):
        return sorted(
            line.replace(" ", "")
            for line in text.splitlines()
            if line and not line.startswith("#") and "PresharedKey = AAAA" not in line
        )

    assert fields(stripped) == fields(setconf)
    assert f"PresharedKey = {wgu.ZERO_KEY}" in setconf  # clears a psk the live peer may still have
