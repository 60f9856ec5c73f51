# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""The few facts the collection's probes need, gathered inside the probe's own remote call.

This module is PRIVATE to the kilo.mesh collection and has no stable API. kilo.mesh.wireguard_probe and
kilo.mesh.mesh_node_probe call :func:`gather_os_facts` only when the play did not gather these facts, so a
play needs no separate fact gathering run (one remote task less per host).
"""

from __future__ import annotations

from ansible.module_utils.facts.system.distribution import DistributionFactCollector
from ansible.module_utils.facts.system.platform import PlatformFactCollector
from ansible.module_utils.facts.system.service_mgr import ServiceMgrFactCollector

#: the distribution facts kilo.mesh.wireguard_probe chooses packages by
DISTRIBUTION_KEYS = ("distribution", "distribution_major_version", "os_family")


def gather_os_facts(module):
    """The facts of ansible-core's distribution, platform and service_mgr collectors (same values as setup)."""
    facts = {}
    for collector in (PlatformFactCollector, DistributionFactCollector, ServiceMgrFactCollector):
        prefixed = dict(("ansible_" + key, value) for key, value in facts.items())
        facts.update(collector().collect(module=module, collected_facts=prefixed))
    return facts


def os_facts_or_gather(module, known, keys=DISTRIBUTION_KEYS):
    """``(facts, gathered)``: the ``keys`` facts from ``known`` when all are there, else gathered on the node
    (``gathered`` is then the full set to return as ``ansible_facts``, else None)."""
    facts = dict((key, (known or {}).get(key)) for key in keys)
    if all(facts[key] not in (None, "") for key in keys):
        return facts, None
    gathered = gather_os_facts(module)
    return dict((key, gathered.get(key)) for key in keys), gathered
