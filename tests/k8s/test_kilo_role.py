# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""kilo.mesh.kilo role: real ansible-playbook runs against the Kubernetes API stand-in (kmock)."""

from __future__ import annotations

import re
from pathlib import Path

from kubeapi import make_node

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"
DEPLOY = FILES / "deploy.yml"
USER_KEYS = [
    "kilo.squat.ai/" + k
    for k in (
        "location",
        "leader",
        "force-endpoint",
        "force-internal-ip",
        "persistent-keepalive",
        "allowed-location-ips",
    )
]


def _recap(output: str) -> dict[str, int]:
    match = re.search(r"localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output)
    assert match, output
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups()), strict=True))


def _deploy(runner, kube, *args, inventory=FILES / "inventory.yml", check=True, **extra):
    extra_vars = {"kilo_kubeconfig": kube.kubeconfig, "kilo_wait": False}
    extra_vars.update(extra)
    return runner(DEPLOY, *args, inventory=inventory, extra_vars=extra_vars, check=check)


def test_deploy_stores_objects_and_second_run_changes_nothing(playbook_runner, kube):
    first = _deploy(playbook_runner, kube)
    assert _recap(first.stdout)["changed"] > 0

    crd = kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "peers.kilo.squat.ai")
    assert crd["spec"]["group"] == "kilo.squat.ai" and crd["spec"]["scope"] == "Cluster"
    assert kube.get("v1", "ServiceAccount", "kilo", "kube-system") is not None
    role = kube.get("rbac.authorization.k8s.io/v1", "ClusterRole", "kilo")
    assert {"apiGroups": ["kilo.squat.ai"], "resources": ["peers"], "verbs": ["list", "watch"]} in role["rules"]
    binding = kube.get("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "kilo")
    assert binding["roleRef"]["name"] == "kilo"
    assert kube.get("v1", "ConfigMap", "kilo", "kube-system")["data"]["cni-conf.json"]
    ds = kube.get("apps/v1", "DaemonSet", "kilo", "kube-system")
    kg = ds["spec"]["template"]["spec"]["containers"][0]
    assert kg["image"] == "squat/kilo:0.7.0"
    assert "--mesh-granularity=location" in kg["args"] and "--subnet=10.4.0.0/16" in kg["args"]
    assert "--port=51820" in kg["args"]
    # the Peer CRD is registered: Peers are served now
    from kubernetes.dynamic import DynamicClient

    peers = DynamicClient(kube.client()).resources.get(api_version="kilo.squat.ai/v1alpha1", kind="Peer")
    assert peers.get().to_dict()["items"] == []

    second = _deploy(playbook_runner, kube)
    assert _recap(second.stdout)["changed"] == 0, second.stdout


def test_flags_are_variables(playbook_runner, kube):
    _deploy(
        playbook_runner,
        kube,
        kilo_cluster="k3s",
        kilo_addon="flannel",
        kilo_userspace=True,
        kilo_image="registry.example/kilo:test",
        kilo_mesh_granularity="full",
        kilo_port=51821,
        kilo_subnet="10.44.0.0/16",
        kilo_log_level="debug",
        kilo_encapsulate="never",
        kilo_topology_label="example.com/site",
        kilo_extra_args=["--mtu=1380"],
    )
    ds = kube.get("apps/v1", "DaemonSet", "kilo", "kube-system")
    pod = ds["spec"]["template"]["spec"]
    kg = [c for c in pod["containers"] if c["name"] == "kilo"][0]
    for arg in (
        "--mesh-granularity=full",
        "--port=51821",
        "--subnet=10.44.0.0/16",
        "--log-level=debug",
        "--encapsulate=never",
        "--topology-label=example.com/site",
        "--mtu=1380",
        "--create-interface=false",
        "--compatibility=flannel",
    ):
        assert arg in kg["args"], arg
    assert kg["image"] == "registry.example/kilo:test"
    assert [c["name"] for c in pod["initContainers"]] == ["generate-kubeconfig"]
    assert kube.get("v1", "ConfigMap", "kilo-scripts", "kube-system") is not None
    assert kube.get("v1", "ConfigMap", "kilo", "kube-system") is None


def test_annotations_set_removed_and_agent_keys_kept(playbook_runner, kube):
    agent = {"kilo.squat.ai/key": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", "kilo.squat.ai/last-seen": "1"}
    nodes = [
        make_node("n1", "192.168.50.11", "10.2.1.0/24", "eu", annotations=agent),
        make_node("n2", "192.168.50.12", "10.2.2.0/24", "eu", annotations={"kilo.squat.ai/leader": ""}),
        make_node("n3", "192.168.60.13", "10.2.3.0/24", "us"),
    ]
    kube.reset(nodes)
    _deploy(playbook_runner, kube)
    n1 = kube.node_annotations("n1")
    assert n1 == {
        **agent,
        "kilo.squat.ai/location": "eu",
        "kilo.squat.ai/leader": "true",
        "kilo.squat.ai/force-endpoint": "203.0.113.11:51820",
        "kilo.squat.ai/force-internal-ip": "192.168.50.11/24",
        "kilo.squat.ai/persistent-keepalive": "25",
        "kilo.squat.ai/allowed-location-ips": "172.16.10.0/24,172.16.11.0/24",
    }
    assert kube.node_annotations("n2") == {"kilo.squat.ai/location": "eu"}, "stale leader annotation removed"
    assert kube.node_annotations("n3") == {"kilo.squat.ai/location": "us", "kilo.squat.ai/force-internal-ip": "-"}

    changed = _deploy(playbook_runner, kube, inventory=FILES / "inventory-changed.yml")
    assert _recap(changed.stdout)["changed"] == 1, "one looped task"
    assert kube.node_annotations("n1") == {
        **agent,
        "kilo.squat.ai/location": "eu",
        "kilo.squat.ai/force-internal-ip": "192.168.50.11/24",
    }
    assert kube.node_annotations("n2") == {"kilo.squat.ai/location": "eu", "kilo.squat.ai/persistent-keepalive": "10"}
    assert kube.node_annotations("n3")["kilo.squat.ai/force-internal-ip"] == "192.168.60.13/24"
    again = _deploy(playbook_runner, kube, inventory=FILES / "inventory-changed.yml")
    assert _recap(again.stdout)["changed"] == 0, again.stdout


def test_check_mode_changes_nothing_and_shows_diff(playbook_runner, kube):
    result = _deploy(playbook_runner, kube, "--check", "--diff")
    assert _recap(result.stdout)["changed"] > 0
    assert "kilo.squat.ai/force-endpoint" in result.stdout, "annotation diff shown"
    assert "squat/kilo:0.7.0" in result.stdout, "DaemonSet diff shown"
    assert kube.get("apps/v1", "DaemonSet", "kilo", "kube-system") is None
    assert kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "peers.kilo.squat.ai") is None
    for name in ("n1", "n2", "n3"):
        assert not set(kube.node_annotations(name)) & set(USER_KEYS)

    _deploy(playbook_runner, kube)
    result = _deploy(playbook_runner, kube, "--check", "--diff", inventory=FILES / "inventory-changed.yml")
    assert _recap(result.stdout)["changed"] == 1
    assert kube.node_annotations("n1")["kilo.squat.ai/leader"] == "true", "check mode kept the annotation"


def test_wait_names_not_ready_nodes_then_succeeds(playbook_runner, kube):
    _deploy(playbook_runner, kube)
    kube.mark_pods_ready(["n1"])
    kube.mark_pods_ready(["n2"], ready=False)
    failed = _deploy(playbook_runner, kube, check=False, kilo_wait=True, kilo_wait_timeout=2, kilo_wait_delay=1)
    assert failed.returncode != 0
    assert "no ready kilo pod on node(s) n2, n3" in failed.stdout

    kube.mark_pods_ready(["n2", "n3"])
    kube.mark_daemonset_ready(count=3)
    ok = _deploy(playbook_runner, kube, kilo_wait=True, kilo_wait_timeout=10, kilo_wait_delay=1)
    assert _recap(ok.stdout)["failed"] == 0


def test_preflight_refuses_full_cni_on_flannel(playbook_runner, kube):
    flannel = {"flannel.alpha.coreos.com/backend-type": "vxlan", "flannel.alpha.coreos.com/public-ip": "192.168.50.11"}
    kube.reset([make_node("n1", "192.168.50.11", "10.2.1.0/24", "eu", annotations=flannel)])
    result = _deploy(playbook_runner, kube, check=False, kilo_node_group="none")
    assert result.returncode != 0
    assert "Set kilo_addon: flannel" in result.stdout
    assert kube.get("apps/v1", "DaemonSet", "kilo", "kube-system") is None
    ok = _deploy(playbook_runner, kube, kilo_node_group="none", kilo_addon="flannel")
    assert _recap(ok.stdout)["failed"] == 0


def test_preflight_refuses_flannel_daemonset(playbook_runner, kube):
    from kubernetes import client

    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "kube-flannel-ds", "namespace": "kube-flannel"},
        "spec": {
            "selector": {"matchLabels": {"app": "flannel"}},
            "template": {"metadata": {"labels": {"app": "flannel"}}},
        },
    }
    client.AppsV1Api(kube.client()).create_namespaced_daemon_set("kube-flannel", ds)
    result = _deploy(playbook_runner, kube, check=False, kilo_addon="cilium")
    assert result.returncode != 0
    assert "kube-flannel-ds" in result.stdout and "Set kilo_addon: flannel" in result.stdout


def test_preflight_refuses_unsupported_combinations(playbook_runner, kube):
    result = _deploy(playbook_runner, kube, check=False, kilo_addon="cilium", kilo_userspace=True)
    assert result.returncode != 0
    assert "kilo_addon=cilium with kilo_userspace=true" in result.stdout
    result = _deploy(playbook_runner, kube, check=False, kilo_cluster="typhoon", kilo_addon="cilium")
    assert "kilo_addon=cilium with kilo_cluster=typhoon" in result.stdout
    assert kube.get("apps/v1", "DaemonSet", "kilo", "kube-system") is None


def test_preflight_refuses_hosts_without_node(playbook_runner, kube):
    kube.reset([make_node("n1", "192.168.50.11", "10.2.1.0/24", "eu")])
    result = _deploy(playbook_runner, kube, check=False)
    assert result.returncode != 0
    assert '"edge": "n3"' in result.stdout and '"n2": "n2"' in result.stdout
    assert "Set kilo_node_name" in result.stdout
