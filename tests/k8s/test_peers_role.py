# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Role kilo.mesh.peers (source cluster) against the Kubernetes API stand-in, with real ansible-playbook runs.

The cluster has two ready Kilo nodes in two locations; the expected client configuration below is written by
hand from docs/kilo/config-formats.md#showconf-peer (one [Peer] per segment with the peer's own keepalive and preshared
key, then the other peers).
"""

from __future__ import annotations

import base64
import os
import re
import stat
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from kilo_objects import CRD, GROUP, PLURAL, VERSION, key


def kilo_node(name: str, location: str, endpoint: str, internal_ip: str, pod_cidr: str, key_index: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {
                "kilo.squat.ai/location": location,
                "kilo.squat.ai/endpoint": endpoint,
                "kilo.squat.ai/internal-ip": internal_ip,
                "kilo.squat.ai/key": key(key_index),
                # an hour ahead: stays "fresh" (now - last-seen < 60) however slow the machine is
                "kilo.squat.ai/last-seen": str(int(time.time()) + 3600),
                "kilo.squat.ai/granularity": "location",
            },
        },
        "spec": {"podCIDR": pod_cidr},
    }


@pytest.fixture()
def cluster(kube):
    from kubernetes import client

    kube.reset(
        [
            kilo_node("eu-1", "eu", "198.51.100.21:51820", "10.10.1.21/24", "10.42.1.0/24", 1),
            kilo_node("us-1", "us", "198.51.100.22:51820", "10.10.2.22/24", "10.42.2.0/24", 2),
        ]
    )
    client.ApiextensionsV1Api(kube.client()).create_custom_resource_definition(CRD)
    return kube


def stored_peers(kube) -> dict:
    from kubernetes import client

    items = client.CustomObjectsApi(kube.client()).list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"]
    return {item["metadata"]["name"]: item for item in items}


def run_role(playbook_runner, tmp_path: Path, kube, role_vars: dict, *flags: str, check: bool = True):
    play = [{"hosts": "localhost", "gather_facts": False, "roles": [{"role": "kilo.mesh.peers", "vars": role_vars}]}]
    playbook = tmp_path / "peers.yml"
    playbook.write_text("---\n" + yaml.safe_dump(play, sort_keys=False))
    return playbook_runner(
        playbook,
        *flags,
        inventory="localhost,",
        check=check,
        extra_vars={
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "peers_kubeconfig": kube.kubeconfig,
        },
    )


def recap_changed(output: str) -> int:
    match = re.search(r"localhost\s+:\s+ok=\d+\s+changed=(\d+)", output)
    assert match, output
    return int(match.group(1))


def wg_pubkey(private_key: str) -> str:
    return subprocess.run(
        ["wg", "pubkey"], input=private_key, capture_output=True, text=True, check=True
    ).stdout.strip()


PEERS = [
    {
        "name": "laptop",
        "allowed_ips": ["10.5.0.1/32"],
        "generate": True,
        "generate_preshared_key": True,
        "persistent_keepalive": 10,
        "dns": ["10.43.0.10"],
    },
    {
        "name": "office",
        "allowed_ips": ["10.5.0.2/32", "192.168.50.0/24"],
        "public_key": key(102),
        "endpoint": "203.0.113.9:51820",
    },
]


def expected_laptop_conf(private_key: str, psk: str) -> str:
    return (
        "[Interface]\n"
        "Address = 10.5.0.1/32\n"
        f"PrivateKey = {private_key}\n"
        "DNS = 10.43.0.10\n"
        "\n"
        "[Peer]\n"
        "AllowedIPs = 10.42.1.0/24, 10.10.1.21/32, 10.4.0.1/32\n"
        "Endpoint = 198.51.100.21:51820\n"
        "PersistentKeepalive = 10\n"
        f"PresharedKey = {psk}\n"
        f"PublicKey = {key(1)}\n"
        "\n"
        "[Peer]\n"
        "AllowedIPs = 10.42.2.0/24, 10.10.2.22/32, 10.4.0.2/32\n"
        "Endpoint = 198.51.100.22:51820\n"
        "PersistentKeepalive = 10\n"
        f"PresharedKey = {psk}\n"
        f"PublicKey = {key(2)}\n"
        "\n"
        "[Peer]\n"
        "AllowedIPs = 10.5.0.2/32, 192.168.50.0/24\n"
        "Endpoint = 203.0.113.9:51820\n"
        "PersistentKeepalive = 10\n"
        f"PublicKey = {key(102)}\n"
    )


def test_peers_role_creates_peers_and_complete_client_configs(playbook_runner, tmp_path, cluster) -> None:
    out_dir = tmp_path / "out"
    role_vars = {
        "peers_list": PEERS,
        "peers_output_dir": str(out_dir),
        "peers_service_cidrs": ["10.43.0.0/16"],
    }

    # check mode first: nothing is written anywhere
    check = run_role(playbook_runner, tmp_path, cluster, role_vars, "--check", "--diff")
    assert recap_changed(check.stdout) > 0
    assert stored_peers(cluster) == {}
    assert not (out_dir / "laptop.key").exists()

    first = run_role(playbook_runner, tmp_path, cluster, role_vars)
    private_key = (out_dir / "laptop.key").read_text().strip()
    psk = (out_dir / "laptop.psk").read_text().strip()
    assert len(base64.b64decode(private_key)) == 32 and len(base64.b64decode(psk)) == 32
    for name in ("laptop.key", "laptop.psk", "laptop.conf", "office.conf"):
        assert stat.S_IMODE((out_dir / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(out_dir.stat().st_mode) == 0o700
    assert private_key not in first.stdout and psk not in first.stdout

    stored = stored_peers(cluster)
    assert set(stored) == {"laptop", "office"}
    assert stored["laptop"]["spec"] == {
        "allowedIPs": ["10.5.0.1/32"],
        "publicKey": wg_pubkey(private_key),
        "persistentKeepalive": 10,
        "presharedKey": psk,
    }
    assert stored["office"]["spec"]["endpoint"] == {"dnsOrIP": {"ip": "203.0.113.9"}, "port": 51820}

    assert (out_dir / "laptop.conf").read_text() == expected_laptop_conf(private_key, psk)
    office = (out_dir / "office.conf").read_text()
    assert office.startswith("[Interface]\nAddress = 10.5.0.2/32, 192.168.50.0/24\nListenPort = 51820\n\n[Peer]\n")
    assert "PrivateKey" not in office  # its key is the office's own, never known here

    # second run: nothing changes, keys are reused
    second = run_role(playbook_runner, tmp_path, cluster, role_vars)
    assert recap_changed(second.stdout) == 0, second.stdout
    assert (out_dir / "laptop.key").read_text().strip() == private_key
    assert (out_dir / "laptop.psk").read_text().strip() == psk


def test_prune_in_check_mode_then_for_real(playbook_runner, tmp_path, cluster) -> None:
    out_dir = tmp_path / "out"
    role_vars = {"peers_list": PEERS, "peers_output_dir": str(out_dir), "peers_qrcode": "png"}
    run_role(playbook_runner, tmp_path, cluster, role_vars)
    # QR codes next to the configs, identical to what qrencode itself makes of the written file, owner-only
    for name in ("laptop", "office"):
        png = out_dir / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert stat.S_IMODE(png.stat().st_mode) == 0o600
        reference = tmp_path / f"{name}-reference.png"
        subprocess.run(["qrencode", "-t", "PNG", "-r", str(out_dir / f"{name}.conf"), "-o", str(reference)], check=True)
        assert png.read_bytes() == reference.read_bytes()
    fewer = dict(role_vars, peers_list=PEERS[:1], peers_prune=True)
    run_role(playbook_runner, tmp_path, cluster, fewer, "--check")
    assert set(stored_peers(cluster)) == {"laptop", "office"}
    run_role(playbook_runner, tmp_path, cluster, fewer)
    assert set(stored_peers(cluster)) == {"laptop"}


def test_bad_declarations_fail_before_any_change(playbook_runner, tmp_path, cluster) -> None:
    out_dir = tmp_path / "out"
    both = [{"name": "laptop", "allowed_ips": ["10.5.0.1/32"], "generate": True, "public_key": key(101)}]
    result = run_role(
        playbook_runner,
        tmp_path,
        cluster,
        {"peers_list": both, "peers_output_dir": str(out_dir)},
        check=False,
    )
    assert result.returncode != 0
    assert "peers_list item laptop" in result.stdout and "exactly one of public_key or generate" in result.stdout
    overlapping = [{"name": "laptop", "allowed_ips": ["10.42.1.7/32"], "public_key": key(101)}]
    result = run_role(
        playbook_runner,
        tmp_path,
        cluster,
        {"peers_list": overlapping, "peers_output_dir": str(out_dir)},
        check=False,
    )
    assert result.returncode != 0
    assert (
        'peer "laptop": field allowed_ips' in result.stdout and 'pod CIDR 10.42.1.0/24 of node "eu-1"' in result.stdout
    )
    assert stored_peers(cluster) == {}
    assert not (out_dir / "laptop.conf").exists()


def test_declared_preshared_key_is_never_printed(playbook_runner, tmp_path, cluster) -> None:
    """A loop prints its items with -v and when an item fails: a declared preshared key must not be in them."""
    out_dir = tmp_path / "out"
    psk = base64.b64encode(os.urandom(32)).decode()
    office = {
        "name": "office",
        "allowed_ips": ["10.5.0.2/32"],
        "public_key": key(102),
        "preshared_key": psk,
        "endpoint": "203.0.113.9:51820",
    }
    role_vars = {"peers_list": [office], "peers_output_dir": str(out_dir)}
    run = run_role(playbook_runner, tmp_path, cluster, role_vars, "-vvv", "--diff")
    assert "(redacted)" in run.stdout, "the loops did not print their items: this test would prove nothing"
    assert psk not in run.stdout
    assert f"PresharedKey = {psk}" in (out_dir / "office.conf").read_text()
    assert stored_peers(cluster)["office"]["spec"]["presharedKey"] == psk

    broken = dict(office, generate=True)  # public_key and generate: fails validation, the item is printed
    failed = run_role(playbook_runner, tmp_path, cluster, dict(role_vars, peers_list=[broken]), "-vvv", check=False)
    assert failed.returncode != 0
    assert "peers_list item office" in failed.stdout and "exactly one of public_key or generate" in failed.stdout
    assert psk not in failed.stdout
