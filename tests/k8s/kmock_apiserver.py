#!/usr/bin/env python
# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""A Kubernetes API stand-in on 127.0.0.1 for tests (kmock's emulator plus the fixes testinfra 4 lists).

Usage: ``kmock_apiserver.py --port PORT [--nodes nodes.json]``; prints ``READY <url>`` once listening.

Fixes on top of ``kmock.KubernetesEmulator``:

1. a created/patched CustomResourceDefinition registers its kind, so its custom resources are served;
2. core discovery says ``groupVersion: v1`` (kmock says ``/v1``);
3. list responses carry ``kind: <Kind>List`` and ``apiVersion``, and honour equality ``labelSelector``s;
4. the bundled ``metrics.k8s.io`` resources are dropped (their ``nodes`` shadow the core ones);
5. a server-side-apply PATCH of a missing object creates it;
6. Node objects are seeded from a JSON list;
7. ``?dryRun=All`` writes (check mode of kubernetes.core) answer with the would-be object and store nothing.

Test-only endpoints (not Kubernetes API): ``POST /_kmock/reset`` drops every object (CRD kinds stay
served) and re-seeds the nodes given in the body (a JSON list of Node objects, or nothing to keep the current seed).
DaemonSet/Pod status is seeded through the ordinary ``/status`` subresource PATCH.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
from typing import Any

import aiohttp.web
import kmock
from kmock._internal.dicts import patch_dict

CRDS = kmock.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
NODES = kmock.resource("", "v1", "nodes")
APPLY_PATCH = "application/apply-patch+yaml"
WRITES = (kmock.action.CREATE, kmock.action.UPDATE, kmock.action.DELETE)


class KubeApiServer(kmock.KubernetesEmulator):
    """kmock emulator with the fixes listed in the module docstring."""

    def setup(self, nodes: list[dict[str, Any]]) -> None:
        self.resources.load_bundled()
        for res in [r for r in self.resources if r.group == "metrics.k8s.io"]:
            del self.resources[res]
        self._seed_nodes = nodes
        self._seed()

    def _seed(self) -> None:
        for key in list(self.objects):
            del self.objects[key]
        for node in self._seed_nodes:
            self.objects[NODES, None, node["metadata"]["name"]] = node

    def _register_crd(self, crd: dict[str, Any]) -> None:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        for version in spec.get("versions") or []:
            res = kmock.resource(spec["group"], version["name"], names["plural"])
            self.resources[res] = kmock.ResourceInfo(
                kind=names.get("kind"),
                singular=names.get("singular"),
                namespaced=spec.get("scope") == "Namespaced",
                verbs={"create", "delete", "get", "list", "patch", "update", "watch"},
                subresources=set((version.get("subresources") or {}).keys()),
            )

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        if request.url.path == "/_kmock/reset" and request.method == kmock.method.POST:
            async with self._lock:
                if isinstance(request.data, list):
                    self._seed_nodes = request.data
                self._seed()
            return aiohttp.web.json_response({"nodes": len(self._seed_nodes)})
        if "dryRun" in request.params and request.action in WRITES:
            return await self._dry_run(request)
        if (
            request.action == kmock.action.UPDATE
            and request.headers.get("Content-Type", "").startswith(APPLY_PATCH)
            and request.name is not None
            and isinstance(request.data, dict)
        ):
            key = (request.resource, request.namespace, request.name)
            if key not in self.objects or self.objects[key].deleted:
                self.objects[key] = request.data
        response = await super()._handle(request)
        if request.resource == CRDS and request.action in (kmock.action.CREATE, kmock.action.UPDATE):
            name = request.name or ((request.data or {}).get("metadata") or {}).get("name")
            if (CRDS, None, name) in self.objects and not self.objects[CRDS, None, name].deleted:
                self._register_crd(dict(self.objects[CRDS, None, name].raw))
        return response

    async def _dry_run(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        """``?dryRun=All``: answer with the object the write would produce, store nothing."""
        name = request.name or ((request.data or {}).get("metadata") or {}).get("name")
        namespace = request.namespace or ((request.data or {}).get("metadata") or {}).get("namespace")
        key = (request.resource, namespace, name)
        current = None
        if key in self.objects and not self.objects[key].deleted:
            current = copy.deepcopy(dict(self.objects[key].raw))
        if request.action == kmock.action.CREATE:
            if current is not None:
                return aiohttp.web.json_response({"kind": "Status", "code": 409, "reason": "AlreadyExists"}, status=409)
            return aiohttp.web.json_response(request.data)
        if current is None:
            if request.action == kmock.action.UPDATE and request.headers.get("Content-Type", "").startswith(
                APPLY_PATCH
            ):
                return aiohttp.web.json_response(request.data)
            return aiohttp.web.json_response({"kind": "Status", "code": 404, "reason": "NotFound"}, status=404)
        if request.action == kmock.action.UPDATE:
            return aiohttp.web.json_response(patch_dict(current, request.data or {}))
        return aiohttp.web.json_response(current)

    async def _serve_version(self, request: kmock.Request) -> Any:
        result = await super()._serve_version(request)
        if isinstance(result, dict) and result.get("groupVersion") == "/v1":
            result["groupVersion"] = "v1"
        return result

    async def _serve_list(self, request: kmock.Request) -> Any:
        result = await super()._serve_list(request)
        selector = request.params.get("labelSelector", "")
        wanted = dict(item.split("=", 1) for item in selector.replace("==", "=").split(",") if "=" in item)
        result["items"] = [
            obj
            for obj in result["items"]
            if all(((obj.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in wanted.items())
        ]
        info = self.resources[request.resource] if request.resource in self.resources else None  # noqa: SIM401
        kind = info.kind if info is not None and info.kind else "Unknown"
        group_version = "/".join(p for p in (request.resource.group, request.resource.version) if p)
        result.update({"kind": kind + "List", "apiVersion": group_version})
        return result


async def _serve(port: int, nodes: list[dict[str, Any]]) -> None:
    async with KubeApiServer() as api, kmock.Server(api, host="127.0.0.1", port=port) as server:
        api.setup(nodes)
        print(f"READY http://127.0.0.1:{server.port}", flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--nodes", help="JSON file with a list of Node objects to seed")
    args = parser.parse_args()
    nodes: list[dict[str, Any]] = []
    if args.nodes:
        with open(args.nodes, encoding="utf-8") as handle:
            nodes = json.load(handle)
    asyncio.run(_serve(args.port, nodes))


if __name__ == "__main__":
    main()
