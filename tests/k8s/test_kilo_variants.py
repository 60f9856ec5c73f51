# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Every Kilo variant the role renders: schema-valid (kubernetes-validate) and shaped as docs/kilo/agent.md#manifests
describes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest

HERE = Path(__file__).resolve().parent
K8S_VERSION = "1.30.0"


def _variant(cluster: str, addon: str = "none", userspace: bool = False, kube_router: bool = False) -> dict:
    parts = [cluster, addon] + (["userspace"] if userspace else []) + (["kube-router"] if kube_router else [])
    return {
        "id": "-".join(parts),
        "cluster": cluster,
        "addon": addon,
        "userspace": userspace,
        "kube_router": kube_router,
    }


VARIANTS = (
    [_variant(c, a) for c in ("kubeadm", "k3s") for a in ("none", "flannel", "cilium")]
    + [_variant(c, a) for c in ("bootkube", "typhoon") for a in ("none", "flannel")]
    + [_variant(c, a, userspace=True) for c in ("kubeadm", "k3s", "bootkube", "typhoon") for a in ("none", "flannel")]
    + [_variant("kubeadm", kube_router=True)]
)


_RENDERED: dict[str, list[dict]] = {}


@pytest.fixture()
def rendered(tmp_path_factory, playbook_runner) -> dict[str, list[dict]]:
    """Render all variants in one real ansible-playbook run (the role's render.yml validates them too)."""
    if not _RENDERED:
        out = tmp_path_factory.mktemp("render")
        playbook_runner(
            HERE / "files" / "render_variants.yml",
            inventory=HERE / "files" / "inventory.yml",
            extra_vars={"kilo_render_dir": str(out), "kilo_variants": VARIANTS},
        )
        _RENDERED.update({v["id"]: json.loads((out / f"{v['id']}.json").read_text()) for v in VARIANTS})
    return _RENDERED


def _find(objs: list[dict], kind: str, name: str) -> dict:
    matches = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} objects"
    return matches[0]


def _pod(objs: list[dict]) -> dict:
    return _find(objs, "DaemonSet", "kilo")["spec"]["template"]["spec"]


def _container(pod: dict, name: str, init: bool = False) -> dict:
    containers = pod.get("initContainers" if init else "containers") or []
    matches = [c for c in containers if c["name"] == name]
    assert len(matches) == 1, f"container {name}: {[c['name'] for c in containers]}"
    return matches[0]


def _volumes(pod: dict) -> dict:
    return {v["name"]: v for v in pod["volumes"]}


@pytest.mark.parametrize("variant", VARIANTS, ids=[v["id"] for v in VARIANTS])
def test_every_object_is_schema_valid(rendered, variant):
    for obj in rendered[variant["id"]]:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


@pytest.mark.parametrize("variant", VARIANTS, ids=[v["id"] for v in VARIANTS])
def test_common_objects(rendered, variant):
    objs = rendered[variant["id"]]
    assert objs[0]["kind"] == "CustomResourceDefinition", "the CRD must come first"
    crd = objs[0]
    assert crd["metadata"]["name"] == "peers.kilo.squat.ai"
    assert crd["spec"]["scope"] == "Cluster"
    assert crd["spec"]["names"] == {"kind": "Peer", "listKind": "PeerList", "plural": "peers", "singular": "peer"}
    assert [v["name"] for v in crd["spec"]["versions"]] == ["v1alpha1"]
    _find(objs, "ServiceAccount", "kilo")
    rules = _find(objs, "ClusterRole", "kilo")["rules"]
    assert {(tuple(r["apiGroups"]), tuple(r["resources"]), tuple(sorted(r["verbs"]))) for r in rules} == {
        (("",), ("nodes",), ("list", "patch", "watch")),
        (("kilo.squat.ai",), ("peers",), ("list", "watch")),
        (("apiextensions.k8s.io",), ("customresourcedefinitions",), ("get",)),
    }
    binding = _find(objs, "ClusterRoleBinding", "kilo")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "kilo", "namespace": "kube-system"}]

    pod = _pod(objs)
    assert pod["hostNetwork"] is True
    assert pod["serviceAccountName"] == "kilo"
    assert {"effect": "NoSchedule", "operator": "Exists"} in pod["tolerations"]
    assert {"effect": "NoExecute", "operator": "Exists"} in pod["tolerations"]
    kg = _container(pod, "kilo")
    assert kg["image"] == "squat/kilo:0.7.0"
    assert kg["securityContext"] == {"privileged": True}
    assert kg["ports"] == [{"containerPort": 1107, "name": "metrics"}]
    assert "--hostname=$(NODE_NAME)" in kg["args"]
    assert "--kubeconfig=/etc/kubernetes/kubeconfig" in kg["args"]
    mounts = {m["name"]: m for m in kg["volumeMounts"]}
    # every kg container mounts what --kubeconfig points at (upstream flannel-userspace does not)
    assert "kubeconfig" in mounts
    assert mounts["kilo-dir"]["mountPath"] == "/var/lib/kilo"
    volumes = _volumes(pod)
    assert volumes["kilo-dir"]["hostPath"]["path"] == "/var/lib/kilo"
    assert volumes["lib-modules"]["hostPath"]["path"] == "/lib/modules"
    assert volumes["xtables-lock"]["hostPath"] == {"path": "/run/xtables.lock", "type": "FileOrCreate"}


@pytest.mark.parametrize("variant", VARIANTS, ids=[v["id"] for v in VARIANTS])
def test_cni_mode(rendered, variant):
    objs = rendered[variant["id"]]
    pod = _pod(objs)
    args = _container(pod, "kilo")["args"]
    env = {e["name"] for e in _container(pod, "kilo")["env"]}
    volumes = _volumes(pod)
    if variant["addon"] == "none":
        assert "--cni=false" not in args
        assert not any(a.startswith("--compatibility") for a in args)
        install = _container(pod, "install-cni", init=True)
        script = install["command"][-1]
        assert "rm -f" not in script and "net.d/*" not in script, "must not wipe other CNI configs"
        assert {"name": "CNI_CONF_NAME", "value": "10-kilo.conflist"} in install["env"]
        conf = json.loads(_find(objs, "ConfigMap", "kilo")["data"]["cni-conf.json"])
        assert conf["cniVersion"] == "0.4.0"
        assert [p["type"] for p in conf["plugins"]] == ["bridge", "portmap"]
        expected_dir = (
            "/etc/kubernetes/cni/net.d" if variant["cluster"] in ("bootkube", "typhoon") else "/etc/cni/net.d"
        )
        assert volumes["cni-conf-dir"]["hostPath"]["path"] == expected_dir
        assert volumes["cni-bin-dir"]["hostPath"]["path"] == "/opt/cni/bin"
    else:
        for arg in (
            f"--compatibility={variant['addon']}",
            "--cni=false",
            "--local=false",
            "--internal-cidr=$(NODE_IP)/32",
        ):
            assert arg in args
        assert "NODE_IP" in env
        assert "cni-conf-dir" not in volumes
        assert not [o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "kilo"]
        assert not [c for c in pod.get("initContainers") or [] if c["name"] == "install-cni"]
    if variant["addon"] == "cilium":
        assert "--encapsulate=crosssubnet" in args
        assert "--clean-up-interface=true" in args


@pytest.mark.parametrize("variant", VARIANTS, ids=[v["id"] for v in VARIANTS])
def test_userspace(rendered, variant):
    pod = _pod(rendered[variant["id"]])
    kg = _container(pod, "kilo")
    names = [c["name"] for c in pod["containers"]]
    if variant["userspace"]:
        sidecar = _container(pod, "wireguard")
        assert sidecar["args"] == ["wireguard-go", "--foreground", "kilo0"], "no odd wireguard-go=true argument"
        assert "--create-interface=false" in kg["args"]
        assert "--interface=kilo0" in kg["args"]
        assert {"name": "wireguard", "mountPath": "/var/run/wireguard"} in kg["volumeMounts"]
        assert _volumes(pod)["wireguard"]["hostPath"]["path"] == "/var/run/wireguard"
    else:
        assert names == ["kilo"]
        assert "--create-interface=true" in kg["args"]


@pytest.mark.parametrize("variant", VARIANTS, ids=[v["id"] for v in VARIANTS])
def test_kubeconfig_source(rendered, variant):
    objs = rendered[variant["id"]]
    pod = _pod(objs)
    volume = _volumes(pod)["kubeconfig"]
    mount = {m["name"]: m for m in _container(pod, "kilo")["volumeMounts"]}["kubeconfig"]
    cluster, addon = variant["cluster"], variant["addon"]
    if cluster == "kubeadm" and addon == "cilium":
        assert volume["hostPath"]["path"] == "/etc/kubernetes"
        assert (mount["mountPath"], mount["subPath"]) == ("/etc/kubernetes/kubeconfig", "admin.conf")
    elif cluster == "kubeadm":
        assert volume["configMap"] == {
            "name": "kube-proxy",
            "items": [{"key": "kubeconfig.conf", "path": "kubeconfig"}],
        }
        assert mount["mountPath"] == "/etc/kubernetes"
    elif cluster == "k3s":
        assert volume == {"name": "kubeconfig", "emptyDir": {}}
        init = _container(pod, "generate-kubeconfig", init=True)
        assert init["args"] == ["/scripts/init.sh"]
        assert _volumes(pod)["k3s-agent"]["hostPath"]["path"] == "/var/lib/rancher/k3s/agent"
        script = _find(objs, "ConfigMap", "kilo-scripts")["data"]["init.sh"]
        assert "/var/lib/rancher/k3s/agent" in script and "serviceaccount/token" in script
    elif cluster == "bootkube":
        assert volume["hostPath"]["path"] == "/etc/kubernetes/kubeconfig"
        assert mount["mountPath"] == "/etc/kubernetes/kubeconfig"
    else:
        assert volume["configMap"] == {"name": "kubeconfig-in-cluster"}
    if cluster != "k3s":
        assert not [o for o in objs if o["metadata"]["name"] == "kilo-scripts"]


def test_k3s_init_script_is_valid_shell(rendered, tmp_path):
    script = _find(rendered["k3s-none"], "ConfigMap", "kilo-scripts")["data"]["init.sh"]
    path = tmp_path / "init.sh"
    path.write_text(script)
    result = subprocess.run(["shellcheck", "-s", "sh", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_kube_router(rendered):
    objs = rendered["kubeadm-none-kube-router"]
    ds = _find(objs, "DaemonSet", "kube-router")
    args = ds["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args == ["--run-router=false", "--run-firewall=true", "--run-service-proxy=false"]
    _find(objs, "ClusterRole", "kube-router")
    _find(objs, "ClusterRoleBinding", "kube-router")
    _find(objs, "ServiceAccount", "kube-router")
    assert not [o for o in rendered["kubeadm-none"] if o["metadata"]["name"] == "kube-router"]


def test_validation_module_rejects_a_typo(playbook_runner, tmp_path):
    playbook = tmp_path / "bad.yml"
    playbook.write_text(
        """---
- name: Validate a broken DaemonSet
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Validate
      kilo.mesh.kilo_manifest_validate:
        version: "1.30.0"
        definitions:
          - apiVersion: apps/v1
            kind: DaemonSet
            metadata: {name: broken, namespace: kube-system}
            spec:
              selector: {matchLabels: {a: b}}
              template:
                metadata: {labels: {a: b}}
                spec:
                  serviceAcountName: kilo
                  containers: [{name: c, image: i}]
"""
    )
    result = playbook_runner(playbook, inventory=HERE / "files" / "inventory.yml", check=False)
    assert result.returncode != 0
    assert "DaemonSet/kube-system/broken" in result.stdout
    assert "serviceAcountName" in result.stdout
