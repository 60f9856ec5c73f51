# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Fixtures of the k8s test tier: ``kube_api`` (session) and ``kube`` (reset per test). See kubeapi.py."""

from __future__ import annotations

import pytest
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
