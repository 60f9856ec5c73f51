# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Kubernetes API stand-in handle for the k8s test tier (testinfra 4); fixtures live in conftest.py.

Fixtures (conftest.py):

* ``kube_api`` (session): a running ``kmock_apiserver.py`` on a free 127.0.0.1 port. Attributes ``url`` and
  ``kubeconfig`` (path of a kubeconfig pointing at it), methods ``client()`` (a ``kubernetes`` ApiClient),
  ``reset(nodes=None)`` (drop every object, re-seed Nodes; default: ``DEFAULT_NODES``),
  ``mark_pods_ready(nodes, ready=True)`` (one kilo pod per node with a Ready condition) and
  ``mark_daemonset_ready(name)`` (seed the DaemonSet status the way a controller would).
* ``kube`` (function): ``kube_api`` after ``reset()``, for tests that need a clean cluster.

Reuse: tests placed in ``tests/k8s/`` get these fixtures automatically (e.g. ``tests/k8s/test_peers_*.py``).
Elsewhere: put ``tests/k8s`` on ``sys.path``, ``from kubeapi import start_kube_api`` and call
``start_kube_api(workdir)``; stop it with ``.stop()``.
``make_node()`` builds Node objects to seed with ``reset(nodes)``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SERVER = HERE / "kmock_apiserver.py"
KILO_LABELS = {"app.kubernetes.io/name": "kilo", "app.kubernetes.io/part-of": "kilo"}


def make_node(name: str, internal_ip: str, pod_cidr: str, region: str = "", annotations: dict | None = None) -> dict:
    labels = {"kubernetes.io/hostname": name}
    if region:
        labels["topology.kubernetes.io/region"] = region
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels, "annotations": dict(annotations or {})},
        "spec": {"podCIDR": pod_cidr},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": internal_ip},
                {"type": "Hostname", "address": name},
            ]
        },
    }


DEFAULT_NODES = [
    make_node("n1", "192.168.50.11", "10.2.1.0/24", "eu"),
    make_node("n2", "192.168.50.12", "10.2.2.0/24", "eu"),
    make_node("n3", "192.168.60.13", "10.2.3.0/24", "us"),
]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class KubeApi:
    """Handle on a running stand-in server."""

    def __init__(self, workdir: Path, nodes: list[dict] | None = None) -> None:
        self.workdir = workdir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.kubeconfig = str(workdir / "kubeconfig")
        nodes_file = workdir / "nodes.json"
        nodes_file.write_text(json.dumps(DEFAULT_NODES if nodes is None else nodes))
        Path(self.kubeconfig).write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "kmock", "cluster": {"server": self.url}}],
                    "users": [{"name": "kmock", "user": {"token": "kmock"}}],
                    "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "kmock"}}],
                    "current-context": "kmock",
                }
            )
        )
        self.log = open(workdir / "server.log", "w+")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER), "--port", str(self.port), "--nodes", str(nodes_file)],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            self.stop()
            raise RuntimeError(f"kmock_apiserver did not start: {line!r}; see {workdir / 'server.log'}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def client(self) -> Any:
        from kubernetes import config

        return config.new_client_from_config(config_file=self.kubeconfig)

    def reset(self, nodes: list[dict] | None = None) -> None:
        body = json.dumps(copy.deepcopy(DEFAULT_NODES if nodes is None else nodes)).encode()
        request = urllib.request.Request(
            self.url + "/_kmock/reset", data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
            response.read()

    # --- reads -----------------------------------------------------------------------------------
    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
        from kubernetes.dynamic import DynamicClient
        from kubernetes.dynamic.exceptions import NotFoundError

        resource = DynamicClient(self.client()).resources.get(api_version=api_version, kind=kind)
        try:
            return resource.get(name=name, namespace=namespace).to_dict()
        except NotFoundError:
            return None

    def node_annotations(self, name: str) -> dict:
        node = self.get("v1", "Node", name)
        assert node is not None, name
        return node["metadata"].get("annotations") or {}

    # --- status a controller would write ----------------------------------------------------------
    def mark_pods_ready(self, nodes: list[str], ready: bool = True, namespace: str = "kube-system") -> None:
        from kubernetes import client

        core = client.CoreV1Api(self.client())
        for node in nodes:
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"kilo-{node}", "namespace": namespace, "labels": dict(KILO_LABELS)},
                "spec": {"nodeName": node, "containers": [{"name": "kilo", "image": "squat/kilo:0.7.0"}]},
                "status": {
                    "phase": "Running",
                    "conditions": [
                        {"type": "Initialized", "status": "True"},
                        {"type": "Ready", "status": "True" if ready else "False"},
                    ],
                },
            }
            with contextlib.suppress(client.exceptions.ApiException):
                core.delete_namespaced_pod(pod["metadata"]["name"], namespace)
            core.create_namespaced_pod(namespace, pod)

    def mark_daemonset_ready(self, name: str = "kilo", namespace: str = "kube-system", count: int = 3) -> None:
        from kubernetes import client

        apps = client.AppsV1Api(self.client())
        status = {
            "metadata": {"generation": 1},
            "status": {
                "observedGeneration": 1,
                "currentNumberScheduled": count,
                "desiredNumberScheduled": count,
                "numberAvailable": count,
                "numberReady": count,
                "updatedNumberScheduled": count,
                "numberMisscheduled": 0,
            },
        }
        apps.patch_namespaced_daemon_set_status(name, namespace, status)


def start_kube_api(workdir: Path, nodes: list[dict] | None = None) -> KubeApi:
    return KubeApi(workdir, nodes)
