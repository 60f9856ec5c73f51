# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""kilo.mesh.peer against the Kubernetes API stand-in, through real ansible-playbook runs.

Every case checks what is stored in the API afterwards (read with the kubernetes client, not with the module).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml
from kilo_objects import CRD, GROUP, PLURAL, VERSION, key

MANAGED = {"app.kubernetes.io/managed-by": "kilo.mesh"}


# --- helpers ----------------------------------------------------------------------------------------


def install_crd(kube) -> None:
    from kubernetes import client

    client.ApiextensionsV1Api(kube.client()).create_custom_resource_definition(CRD)


def stored_peers(kube) -> dict:
    from kubernetes import client

    items = client.CustomObjectsApi(kube.client()).list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"]
    return {item["metadata"]["name"]: item for item in items}


def create_peer(kube, name: str, spec: dict, labels: dict | None = None) -> None:
    from kubernetes import client

    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Peer",
        "metadata": {"name": name, "labels": dict(labels or {})},
        "spec": spec,
    }
    client.CustomObjectsApi(kube.client()).create_cluster_custom_object(GROUP, VERSION, PLURAL, body)


def run_peer(playbook_runner, tmp_path: Path, kube, args: dict, *flags: str, expect_fail: bool = False) -> dict:
    """Run one kilo.mesh.peer task; return its result dict (and the raw output under '_stdout')."""
    task_args = dict(args, kubeconfig=kube.kubeconfig)
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [{"name": "Peer task", "kilo.mesh.peer": task_args}],
        }
    ]
    playbook = tmp_path / "peer.yml"
    playbook.write_text("---\n" + yaml.safe_dump(play, sort_keys=False))
    proc = playbook_runner(
        playbook,
        *flags,
        inventory="localhost,",
        check=False,
        extra_vars={"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"},
    )
    out = proc.stdout
    data = json.loads(out[out.index("{") :])
    result = data["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert bool(result.get("failed")) == expect_fail, out
    assert (proc.returncode != 0) == expect_fail, out
    result["_stdout"] = out
    return result


@pytest.fixture()
def cluster(kube):
    install_crd(kube)
    return kube


LAPTOP = {
    "name": "laptop",
    "allowed_ips": ["10.5.0.1/32"],
    "public_key": key(101),
    "persistent_keepalive": 10,
}


# --- create / no-op / update / delete ------------------------------------------------------------


def test_create_then_noop(playbook_runner, tmp_path, cluster) -> None:
    first = run_peer(playbook_runner, tmp_path, cluster, LAPTOP)
    assert first["changed"] is True
    assert first["created"] == ["laptop"]
    stored = stored_peers(cluster)
    assert stored["laptop"]["spec"] == {
        "allowedIPs": ["10.5.0.1/32"],
        "publicKey": key(101),
        "persistentKeepalive": 10,
    }
    assert stored["laptop"]["metadata"]["labels"] == MANAGED
    assert stored["laptop"]["kind"] == "Peer"

    second = run_peer(playbook_runner, tmp_path, cluster, LAPTOP)
    assert second["changed"] is False
    assert second["unchanged"] == ["laptop"]


def test_check_mode_creates_nothing(playbook_runner, tmp_path, cluster) -> None:
    result = run_peer(playbook_runner, tmp_path, cluster, LAPTOP, "--check", "--diff")
    assert result["changed"] is True
    assert result["created"] == ["laptop"]
    assert "10.5.0.1/32" in result["diff"]["after"]
    assert stored_peers(cluster) == {}


def test_update_with_diff_and_hidden_preshared_key(playbook_runner, tmp_path, cluster) -> None:
    run_peer(playbook_runner, tmp_path, cluster, LAPTOP)
    psk = key(200)
    wanted = dict(
        LAPTOP,
        allowed_ips=["10.5.0.1/32", "10.5.1.0/24"],
        endpoint="[2001:db8::7]:51820",
        preshared_key=psk,
    )
    check = run_peer(playbook_runner, tmp_path, cluster, wanted, "--check", "--diff")
    assert check["changed"] is True and check["updated"] == ["laptop"]
    assert stored_peers(cluster)["laptop"]["spec"]["allowedIPs"] == ["10.5.0.1/32"]  # check mode sent nothing

    result = run_peer(playbook_runner, tmp_path, cluster, wanted, "--diff")
    assert result["updated"] == ["laptop"]
    assert "10.5.1.0/24" not in result["diff"]["before"]
    assert "10.5.1.0/24" in result["diff"]["after"]
    assert "(redacted) (changed)" in result["diff"]["after"]
    assert psk not in result["_stdout"]
    spec = stored_peers(cluster)["laptop"]["spec"]
    assert spec == {
        "allowedIPs": ["10.5.0.1/32", "10.5.1.0/24"],
        "publicKey": key(101),
        "persistentKeepalive": 10,
        "presharedKey": psk,
        "endpoint": {"dnsOrIP": {"ip": "2001:db8::7"}, "port": 51820},
    }
    assert run_peer(playbook_runner, tmp_path, cluster, wanted)["changed"] is False

    # removing optional fields removes them from the stored object
    back = run_peer(playbook_runner, tmp_path, cluster, LAPTOP)
    assert back["changed"] is True
    assert stored_peers(cluster)["laptop"]["spec"] == {
        "allowedIPs": ["10.5.0.1/32"],
        "publicKey": key(101),
        "persistentKeepalive": 10,
    }


def test_dns_endpoint_is_stored_as_dns(playbook_runner, tmp_path, cluster) -> None:
    run_peer(playbook_runner, tmp_path, cluster, dict(LAPTOP, endpoint="vpn.example.com:4500"))
    assert stored_peers(cluster)["laptop"]["spec"]["endpoint"] == {"dnsOrIP": {"dns": "vpn.example.com"}, "port": 4500}


def test_delete(playbook_runner, tmp_path, cluster) -> None:
    run_peer(playbook_runner, tmp_path, cluster, LAPTOP)
    check = run_peer(playbook_runner, tmp_path, cluster, {"name": "laptop", "state": "absent"}, "--check")
    assert check["changed"] is True and "laptop" in stored_peers(cluster)
    result = run_peer(playbook_runner, tmp_path, cluster, {"name": "laptop", "state": "absent"})
    assert result["deleted"] == ["laptop"]
    assert stored_peers(cluster) == {}
    again = run_peer(playbook_runner, tmp_path, cluster, {"name": "laptop", "state": "absent"})
    assert again["changed"] is False


def test_prune_deletes_only_unlisted_managed_peers(playbook_runner, tmp_path, cluster) -> None:
    create_peer(cluster, "old-phone", {"allowedIPs": ["10.5.0.9/32"], "publicKey": key(109)}, MANAGED)
    create_peer(cluster, "hand-made", {"allowedIPs": ["10.5.0.8/32"], "publicKey": key(108)})
    args = {
        "peers": [
            LAPTOP,
            {"name": "office", "allowed_ips": ["10.5.0.2/32"], "public_key": key(102), "endpoint": "203.0.113.9:51820"},
        ],
        "prune": True,
    }
    check = run_peer(playbook_runner, tmp_path, cluster, args, "--check")
    assert check["created"] == ["laptop", "office"] and check["deleted"] == ["old-phone"]
    assert set(stored_peers(cluster)) == {"old-phone", "hand-made"}

    result = run_peer(playbook_runner, tmp_path, cluster, args)
    assert result["changed"] is True
    assert result["deleted"] == ["old-phone"]
    assert set(stored_peers(cluster)) == {"laptop", "office", "hand-made"}
    assert run_peer(playbook_runner, tmp_path, cluster, args)["changed"] is False


# --- validation: nothing is sent ------------------------------------------------------------------


def test_format_errors_are_all_reported_before_anything_is_sent(playbook_runner, tmp_path, cluster) -> None:
    bad = [
        (dict(LAPTOP, name="p-key", public_key="not-a-key"), ['peer "p-key": field public_key', "not shown"]),
        (dict(LAPTOP, name="p-zero", public_key=base64.b64encode(bytes(32)).decode()), ['peer "p-zero"', "all-zero"]),
        (
            dict(LAPTOP, name="p-cidr", allowed_ips=["10.5.0.300/32"]),
            ['peer "p-cidr": field allowed_ips', "10.5.0.300/32"],
        ),
        (dict(LAPTOP, name="p-empty", allowed_ips=[]), ['peer "p-empty": field allowed_ips', "at least one CIDR"]),
        (dict(LAPTOP, name="p-ep", endpoint="Bad.Example.com:1"), ['peer "p-ep": field endpoint', "Bad.Example.com:1"]),
        (dict(LAPTOP, name="p-ka", persistent_keepalive=-1), ['peer "p-ka": field persistent_keepalive']),
        (dict(LAPTOP, name="Laptop_1", public_key=key(99)), ['peer "Laptop_1": field name']),
    ]
    for index, (peer, _needles) in enumerate(bad):
        if peer["public_key"] == LAPTOP["public_key"]:
            peer["public_key"] = key(120 + index)  # distinct keys: only the intended problem per peer
    valid = {"name": "zz-ok", "allowed_ips": ["10.6.0.1/32"], "public_key": key(104)}
    result = run_peer(
        playbook_runner, tmp_path, cluster, {"peers": [peer for peer, _needles in bad] + [valid]}, expect_fail=True
    )
    assert len(result["problems"]) == len(bad), result["problems"]
    for _peer, needles in bad:
        for needle in needles:
            assert needle in result["msg"], (needle, result["msg"])
    assert stored_peers(cluster) == {}  # not even the valid peer was created


def test_overlaps_are_all_reported_before_anything_is_sent(playbook_runner, tmp_path, cluster) -> None:
    """DEFAULT_NODES: n1 has pod CIDR 10.2.1.0/24 and InternalIP 192.168.50.11; default subnet 10.4.0.0/16."""
    create_peer(cluster, "existing", {"allowedIPs": ["10.5.0.3/32"], "publicKey": key(103)})
    cases = [
        ("o-pod", "10.2.1.128/25", 'pod CIDR 10.2.1.0/24 of node "n1"'),
        ("o-internal", "192.168.50.11/32", 'internal IP 192.168.50.11 of node "n1"'),
        ("o-wg", "10.4.7.7/32", "WireGuard subnet 10.4.0.0/16"),
        ("o-svc", "10.43.0.10/32", "service CIDR 10.43.0.0/16"),
        ("o-peer", "10.5.0.0/30", 'peer "existing" (already in the cluster)'),
    ]
    peers = [
        {"name": name, "allowed_ips": [cidr], "public_key": key(110 + index)}
        for index, (name, cidr, _what) in enumerate(cases)
    ]
    peers.append({"name": "zz-ok", "allowed_ips": ["10.6.0.1/32"], "public_key": key(104)})
    result = run_peer(
        playbook_runner, tmp_path, cluster, {"peers": peers, "service_cidrs": ["10.43.0.0/16"]}, expect_fail=True
    )
    assert len(result["problems"]) == len(cases), result["problems"]
    for (name, cidr, what), problem in zip(sorted(cases), result["problems"], strict=True):
        assert problem.startswith(f'peer "{name}": field allowed_ips has invalid value {cidr!r}'), problem
        assert what in problem, problem
    assert set(stored_peers(cluster)) == {"existing"}
    # the same peers pass with the overlap checks off: format checks only
    relaxed = run_peer(playbook_runner, tmp_path, cluster, {"peers": peers, "check_overlaps": False}, "--check")
    assert relaxed["created"] == sorted(peer["name"] for peer in peers)


def test_two_listed_peers_overlapping_each_other(playbook_runner, tmp_path, cluster) -> None:
    peers = [LAPTOP, {"name": "phone", "allowed_ips": ["10.5.0.0/24"], "public_key": key(105)}]
    result = run_peer(playbook_runner, tmp_path, cluster, {"peers": peers}, expect_fail=True)
    assert 'peer "phone": field allowed_ips' in result["msg"]
    assert 'allowed IP 10.5.0.1/32 of peer "laptop"' in result["msg"]
    assert stored_peers(cluster) == {}


def test_same_public_key_twice(playbook_runner, tmp_path, cluster) -> None:
    peers = [LAPTOP, {"name": "phone", "allowed_ips": ["10.5.0.7/32"], "public_key": key(101)}]
    result = run_peer(playbook_runner, tmp_path, cluster, {"peers": peers}, expect_fail=True)
    assert 'peer "phone": field public_key has the same value as peer "laptop"' in result["msg"]
    assert stored_peers(cluster) == {}


def test_preshared_key_never_printed_on_validation_error(playbook_runner, tmp_path, cluster) -> None:
    secret = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"  # valid base64, 24 bytes: rejected
    result = run_peer(playbook_runner, tmp_path, cluster, dict(LAPTOP, preshared_key=secret), "-vvv", expect_fail=True)
    assert "field preshared_key" in result["msg"]
    assert secret not in result["_stdout"]


def test_missing_crd_is_explained(playbook_runner, tmp_path, kube_api) -> None:
    fresh = type(kube_api)(tmp_path)  # a second server that has never seen the CRD
    try:
        result = run_peer(playbook_runner, tmp_path, fresh, LAPTOP, expect_fail=True)
    finally:
        fresh.stop()
    assert "peers.kilo.squat.ai" in result["msg"] and "not installed" in result["msg"]
