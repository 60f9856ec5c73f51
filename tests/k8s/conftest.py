# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Fixtures of the k8s test tier: ``kube_api`` (session), ``kube`` (reset per test) and ``s1`` (kube seeded with
scenario S1, kilo_objects.py). See kubeapi.py."""

from __future__ import annotations

import pytest
from kilo_objects import seed_s1
from kubeapi import KubeApi, start_kube_api


@pytest.fixture(scope="session")
def kube_api(tmp_path_factory: pytest.TempPathFactory):
    api = start_kube_api(tmp_path_factory.mktemp("kmock"))
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture()
def kube(kube_api: KubeApi) -> KubeApi:
    kube_api.reset()
    return kube_api


@pytest.fixture()
def s1(kube: KubeApi) -> KubeApi:
    """The API stand-in seeded with scenario S1 of docs/kilo/examples.md#scenario-s1 (Nodes, the Peer CRD and two
    Peers)."""
    return seed_s1(kube)
