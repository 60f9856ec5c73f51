#!/usr/bin/env python
# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""The ``kilo.mesh.topology`` lookup inside a real ``ansible-playbook`` run (project issue 6).

For each size (200 and 500 hosts; ``--quick``: 100) the script writes an inventory of local hosts
(``ansible_connection: local``), all in group ``kilo`` with the ``kilo_*`` host variables of a
synthetic cluster (benchmarks/cluster.py), and three playbooks over group ``kilo``:

``baseline.yml``     every host sets a trivial fact, then asserts on it;
``lookup.yml``       every host calls the lookup for the whole topology and keeps its own entry
                     (``lookup('kilo.mesh.topology', ...)['nodes'][inventory_hostname]``), then asserts;
``lookup_node.yml``  every host calls the lookup for its own entry only
                     (``lookup('kilo.mesh.topology', ..., node=inventory_hostname)``), then asserts;
``lookup_once.yml``  one ``run_once`` task calls the lookup and sets the fact for every host (the
                     linear strategy copies ``run_once`` facts to all hosts), then every host reads
                     its entry and asserts;
``action_once.yml``  one ``run_once`` task runs the ``kilo.mesh.mesh_topology`` action (registered, the
                     linear strategy gives ``run_once`` results to all hosts), then every host reads its
                     entry and asserts (what the mesh role does).

All run through ``ansible-playbook``'s own entry point (``ansible.cli.playbook.main``) in a child
process started as ``bench_lookup_play.py --driver ...``. The driver installs the collection loader,
wraps ``build_topology`` and ``LookupModule.run`` with counters, then runs the CLI unchanged; forks,
workers and callbacks are Ansible's own. Every wrapped call appends one JSON line (pid, seconds) to
the file named by ``KILO_MESH_BENCH_STATS``; Ansible forks a worker per host and task, so the file is
the only way the counts get back.

Reported per size and play: wall time, extra wall time over the baseline play, the number of
topology computations (``build_topology`` calls) and lookup calls, the summed CPU and wall time of
the lookup calls, the lookup's share of the play's wall time (summed lookup CPU seconds / play wall
seconds: forks run lookups in parallel and the machine may be shared, so CPU time is the robust sum),
the CPU seconds of the controller process and of all its workers, and the peak RSS of the
controller and its workers.

Targets (exit 1 and the reason when missed): in every lookup play the topology is computed once
(exactly one ``build_topology`` call however many hosts call the lookup); at 500 hosts that
computation (``build_topology`` + ``to_dict``, timed around ``plugin_utils.mesh.compute``) takes under
5 % of the play's wall time in every lookup play, and so do all lookup calls together in
``lookup_once.yml`` and ``action_once.yml``. The calls' share in ``lookup.yml`` and ``lookup_node.yml`` is
reported (INFO): there each of N calls templates the ``kilo_*`` variables of all N hosts (a variable merge per
host) to find the cached topology, so the calls grow with N² per play, and ``lookup.yml`` also hands the whole
mesh to every host.

Usage: ``python benchmarks/bench_lookup_play.py [--quick] [--forks N] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
COLLECTIONS_ROOT = REPO / ".cache" / "collections"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from cluster import make_cluster

STATS_ENV = "KILO_MESH_BENCH_STATS"
SHARE_TARGET = 0.05
SHARE_TARGET_HOSTS = 500
TOPOLOGY_PACKAGE = "ansible_collections.kilo.mesh.plugins.module_utils.topology"
LOOKUP_MODULE = "ansible_collections.kilo.mesh.plugins.lookup.topology"

#: host variable read by the lookup for each node field (docs/architecture.md)
HOST_VARS = {
    "location": "kilo_location",
    "endpoint": "kilo_endpoint",
    "internal_ip": "kilo_internal_ip",
    "pod_cidr": "kilo_pod_cidr",
    "public_key": "kilo_public_key",
    "leader": "kilo_leader",
    "persistent_keepalive": "kilo_persistent_keepalive",
    "allowed_location_ips": "kilo_allowed_location_ips",
    "discovered_endpoints": "kilo_discovered_endpoints",
}
#: the lookup call of the plays; peers come from a group variable
LOOKUP_EXPRESSION = "lookup('kilo.mesh.topology', peers=kilo_bench_peers)"
NODE_EXPRESSION = "lookup('kilo.mesh.topology', peers=kilo_bench_peers, node=inventory_hostname)"
PLAYS = ("baseline", "lookup", "lookup_node", "lookup_once", "action_once")
#: plays whose lookup calls as a whole are held to the share target (see the module docstring)
SHARE_PLAYS = ("lookup_once", "action_once")
#: plays with one call per play (the others call once per host)
ONCE_PLAYS = ("lookup_once", "action_once")
PLUGIN_UTILS_MODULE = "ansible_collections.kilo.mesh.plugins.plugin_utils.mesh"
ACTION_MODULE = "ansible_collections.kilo.mesh.plugins.action.mesh_topology"
#: the first task of action_once: the kilo.mesh.mesh_topology action, once per play
ACTION_TASK = """    - name: Compute the mesh once for the play
      kilo.mesh.mesh_topology:
        peers: "{{ kilo_bench_peers }}"
      run_once: true
      register: bench_mesh

"""
USAGE_EVENTS = ("maxrss_kib", "controller_cpu", "workers_cpu")


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------
def _play(name: str, value: str, once: str = "", first: str = "") -> str:
    """A play over group kilo: optionally one ``run_once`` task that sets ``bench_topology`` to
    ``once`` (or the task ``first``), then every host sets ``bench_node`` to ``value`` and asserts on it."""
    if once:
        first = f"""    - name: Compute the mesh once for the play
      ansible.builtin.set_fact:
        bench_topology: "{{{{ {once} }}}}"
      run_once: true

"""
    return f"""---
- name: {name}
  hosts: kilo
  gather_facts: false
  tasks:
{first}    - name: Read this host's part of the mesh
      ansible.builtin.set_fact:
        bench_node: "{{{{ {value} }}}}"

    - name: Use it
      ansible.builtin.assert:
        that:
          - bench_node.segment is string
          - bench_node.segment | length > 0
        quiet: true
"""


def write_files(workdir: Path, hosts: int, locations: int = 20, peers: int = 10) -> tuple[Path, dict[str, Path]]:
    """Inventory (YAML, valid JSON too) and the two playbooks; returns their paths."""
    cluster = make_cluster(hosts, locations, peers)
    host_vars: dict[str, dict[str, Any]] = {}
    for node in cluster["nodes"]:
        entry: dict[str, Any] = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        for field, var in HOST_VARS.items():
            if node.get(field) is not None:
                entry[var] = node[field]
        host_vars[node["name"]] = entry
    inventory = {"all": {"children": {"kilo": {"hosts": host_vars, "vars": {"kilo_bench_peers": cluster["peers"]}}}}}
    workdir.mkdir(parents=True, exist_ok=True)
    inventory_path = workdir / "inventory.yml"
    # JSON is YAML; one document marker keeps yamllint-style readers happy
    inventory_path.write_text("---\n" + json.dumps(inventory, indent=1) + "\n")
    playbooks = {name: workdir / f"{name}.yml" for name in PLAYS}
    playbooks["baseline"].write_text(
        _play("Every host sets a trivial fact", "{'segment': 'location:' ~ kilo_location | default('')}")
    )
    playbooks["lookup"].write_text(
        _play("Every host calls the lookup", LOOKUP_EXPRESSION + "['nodes'][inventory_hostname]")
    )
    playbooks["lookup_node"].write_text(_play("Every host calls the lookup for its own node", NODE_EXPRESSION))
    playbooks["lookup_once"].write_text(
        _play(
            "One lookup call per play, every host reads its entry",
            "bench_topology['nodes'][inventory_hostname]",
            once=LOOKUP_EXPRESSION,
        )
    )
    playbooks["action_once"].write_text(
        _play(
            "One kilo.mesh.mesh_topology action per play, every host reads its entry",
            "bench_mesh.topology['nodes'][inventory_hostname]",
            first=ACTION_TASK,
        )
    )
    return inventory_path, playbooks


# --------------------------------------------------------------------------------------------
# the instrumented ansible-playbook (child process)
# --------------------------------------------------------------------------------------------
def _record(event: str, seconds: float, cpu: float = 0.0) -> None:
    line = json.dumps({"event": event, "pid": os.getpid(), "seconds": seconds, "cpu": cpu}) + "\n"
    fd = os.open(os.environ[STATS_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def _timed(event: str, function: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start, cpu_start = time.perf_counter(), time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            _record(event, time.perf_counter() - start, time.process_time() - cpu_start)

    wrapper.__wrapped__ = function  # type: ignore[attr-defined]
    return wrapper


def _import_or_none(importlib: Any, name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        return None


def driver(argv: list[str]) -> int:
    """``ansible-playbook ARGV`` in this process, with counters around the topology and the lookup."""
    import atexit
    import importlib
    import warnings

    from ansible.plugins.loader import init_plugin_loader

    init_plugin_loader()
    build = importlib.import_module(TOPOLOGY_PACKAGE + ".build")
    package = importlib.import_module(TOPOLOGY_PACKAGE)
    original = build.build_topology
    counted = _timed("build", original)
    setattr(build, "build_topology", counted)  # noqa: B010 - module attribute, replaced on purpose
    setattr(package, "build_topology", counted)  # noqa: B010
    try:
        lookup = importlib.import_module(LOOKUP_MODULE)
    except ModuleNotFoundError:  # no lookup plugin (yet): ansible-playbook reports it if a play uses it
        lookup = None
    if lookup is not None:
        for name, value in list(vars(lookup).items()):
            if value is original:  # the lookup imported the function itself
                setattr(lookup, name, counted)
        lookup.LookupModule.run = _timed("lookup", lookup.LookupModule.run)
        if hasattr(lookup.LookupModule, "_compute"):  # build_topology + to_dict: the computation itself
            lookup.LookupModule._compute = _timed("compute", lookup.LookupModule._compute)
    try:  # the computation shared by the lookup and the action (build_topology + to_dict)
        shared = importlib.import_module(PLUGIN_UTILS_MODULE)
    except ModuleNotFoundError:
        shared = None
    if shared is not None:
        setattr(shared, "build_topology", counted)  # noqa: B010
        timed_compute = _timed("compute", shared.compute)
        setattr(shared, "compute", timed_compute)  # noqa: B010
        for module in (lookup, _import_or_none(importlib, ACTION_MODULE)):
            if module is not None and getattr(module, "compute", None) is timed_compute.__wrapped__:
                setattr(module, "compute", timed_compute)  # noqa: B010
    action = _import_or_none(importlib, ACTION_MODULE)
    if action is not None:  # one action run counts as one call
        action.ActionModule.run = _timed("lookup", action.ActionModule.run)

    def report_usage() -> None:
        if os.getpid() == parent:  # workers leave through os._exit and never get here
            own = resource.getrusage(resource.RUSAGE_SELF)
            workers = resource.getrusage(resource.RUSAGE_CHILDREN)
            _record("maxrss_kib", max(own.ru_maxrss, workers.ru_maxrss))
            _record("controller_cpu", own.ru_utime + own.ru_stime)
            _record("workers_cpu", workers.ru_utime + workers.ru_stime)

    parent = os.getpid()
    atexit.register(report_usage)
    warnings.filterwarnings("ignore", message="AnsibleCollectionFinder has already been configured")
    from ansible.cli.playbook import main as playbook_main

    sys.argv = ["ansible-playbook", *argv]
    return playbook_main() or 0


# --------------------------------------------------------------------------------------------
# measurement
# --------------------------------------------------------------------------------------------
def ensure_collection_link() -> Path:
    """``.cache/collections/ansible_collections/kilo/mesh`` -> the checkout (as tests/conftest.py does)."""
    link = COLLECTIONS_ROOT / "ansible_collections" / "kilo" / "mesh"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        if link.exists():
            raise RuntimeError(f"{link} exists and is not a symlink; remove it")
        link.symlink_to(REPO)
    return COLLECTIONS_ROOT


def run_play(playbook: Path, inventory: Path, forks: int, workdir: Path) -> dict[str, Any]:
    """Run one playbook through the driver; returns wall time, counts and the log path."""
    stats = workdir / f"{playbook.stem}.stats.jsonl"
    log = workdir / f"{playbook.stem}.log"
    stats.unlink(missing_ok=True)
    env = dict(os.environ)
    env.update(
        {
            STATS_ENV: str(stats),
            "ANSIBLE_COLLECTIONS_PATH": str(ensure_collection_link()),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_HOST_KEY_CHECKING": "0",
            "ANSIBLE_LOCAL_TEMP": str(workdir / "tmp"),
            "ANSIBLE_HOME": str(workdir / "ansible-home"),
        }
    )
    command = [sys.executable, str(Path(__file__).resolve()), "--driver", str(playbook), "-i", str(inventory)]
    command += ["-f", str(forks)]
    start = time.perf_counter()
    with log.open("w") as output:
        proc = subprocess.run(command, cwd=str(workdir), env=env, stdout=output, stderr=subprocess.STDOUT, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-40:])
        raise RuntimeError(f"ansible-playbook {playbook.name} failed ({proc.returncode}), log {log}:\n{tail}")
    events = [json.loads(line) for line in stats.read_text().splitlines()] if stats.exists() else []
    builds = [event for event in events if event["event"] == "build"]
    lookups = [event for event in events if event["event"] == "lookup"]
    computes = [event for event in events if event["event"] == "compute"]
    usage = {event["event"]: event["seconds"] for event in events if event["event"] in USAGE_EVENTS}
    return {
        "playbook": playbook.name,
        "wall": wall,
        "builds": len(builds),
        "build_pids": len({event["pid"] for event in builds}),
        "build_seconds": sum(event["seconds"] for event in builds),
        "lookups": len(lookups),
        "lookup_seconds": sum(event["seconds"] for event in lookups),
        "lookup_cpu": sum(event["cpu"] for event in lookups),
        "compute_cpu": sum(event["cpu"] for event in computes),
        "lookup_max": max((event["seconds"] for event in lookups), default=0.0),
        "maxrss_kib": int(usage.get("maxrss_kib", 0)),
        "controller_cpu": usage.get("controller_cpu", 0.0),
        "workers_cpu": usage.get("workers_cpu", 0.0),
        "log": str(log),
    }


def run_size(hosts: int, forks: int, workdir: Path) -> dict[str, Any]:
    inventory, playbooks = write_files(workdir, hosts)
    row: dict[str, Any] = {"hosts": hosts, "forks": forks}
    for name in PLAYS:
        row[name] = run_play(playbooks[name], inventory, forks, workdir)
    for name in PLAYS[1:]:
        play = row[name]
        play["share"] = play["lookup_cpu"] / play["wall"]
        play["compute_share"] = play["compute_cpu"] / play["wall"]
        play["extra_wall"] = play["wall"] - row["baseline"]["wall"]
    return row


def format_table(results: list[dict[str, Any]]) -> str:
    header = (
        "| hosts | play | wall s | extra wall s vs baseline | controller CPU s | workers CPU s "
        "| topology computations | computation CPU s | computation share of wall | lookup calls "
        "| lookup CPU s (sum) | lookup wall s (sum) | slowest lookup s | lookup share of wall | max RSS MiB |"
    )
    lines = [header, "|" + "---|" * 15]
    for row in results:
        for name in PLAYS:
            play = row[name]
            extra = f"{play['extra_wall']:+.1f}" if "extra_wall" in play else "-"
            common = (
                f"| {row['hosts']} | {name} | {play['wall']:.1f} | {extra} "
                f"| {play['controller_cpu']:.1f} | {play['workers_cpu']:.1f} "
            )
            if name == "baseline":
                lines.append(common + f"| - | - | - | - | - | - | - | - | {play['maxrss_kib'] / 1024:.0f} |")
                continue
            lines.append(
                common + f"| {play['builds']} | {play['compute_cpu']:.2f} | {play['compute_share']:.1%} "
                f"| {play['lookups']} | {play['lookup_cpu']:.2f} "
                f"| {play['lookup_seconds']:.2f} | {play['lookup_max']:.3f} | {play['share']:.1%} "
                f"| {play['maxrss_kib'] / 1024:.0f} |"
            )
    return "\n".join(lines)


def check_targets(results: list[dict[str, Any]]) -> list[tuple[str, bool | None, str]]:
    """Per size: one computation in every lookup play. At 500 hosts: the computation under 5 % of the
    wall time in every lookup play, and the lookup calls as a whole under 5 % in SHARE_PLAYS; the
    other plays' call share is reported (None), see the module docstring."""
    checks: list[tuple[str, bool | None, str]] = []
    for row in results:
        for name in PLAYS[1:]:
            play = row[name]
            calls = 1 if name in ONCE_PLAYS else row["hosts"]
            checks.append(
                (
                    f"{row['hosts']} hosts, {name}: topology computed once per play",
                    play["builds"] == 1 and play["lookups"] == calls,
                    f"{play['builds']} build_topology call(s) in {play['build_pids']} process(es) "
                    f"for {play['lookups']} lookup call(s) ({play['build_seconds']:.2f} s computing)",
                )
            )
        if row["hosts"] != SHARE_TARGET_HOSTS:
            continue
        for name in PLAYS[1:]:
            play = row[name]
            checks.append(
                (
                    f"{row['hosts']} hosts, {name}: computation under {SHARE_TARGET:.0%} of the play's wall time",
                    play["compute_share"] < SHARE_TARGET,
                    f"{play['compute_cpu']:.2f} CPU s computing the topology during a {play['wall']:.1f} s play = "
                    f"{play['compute_share']:.1%}",
                )
            )
        for name in PLAYS[1:]:
            play = row[name]
            checks.append(
                (
                    f"{row['hosts']} hosts, {name}: lookup calls under {SHARE_TARGET:.0%} of the play's wall time",
                    play["share"] < SHARE_TARGET if name in SHARE_PLAYS else None,
                    f"{play['lookup_cpu']:.2f} CPU s in {play['lookups']} lookup call(s) during a "
                    f"{play['wall']:.1f} s play = {play['share']:.1%} (play {play['extra_wall']:+.1f} s vs the "
                    "baseline play)",
                )
            )
    return checks


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    if args_list[:1] == ["--driver"]:
        return driver(args_list[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--quick", action="store_true", help="one play of 100 hosts")
    parser.add_argument("--hosts", type=int, nargs="+", help="sizes to run (default 200 500)")
    parser.add_argument("--forks", type=int, default=5, help="ansible-playbook --forks (default 5, Ansible's)")
    parser.add_argument("--keep", type=Path, help="write inventories, playbooks and logs here and keep them")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = parser.parse_args(args_list)
    sizes = args.hosts or ([100] if args.quick else [200, 500])
    root = args.keep or Path(tempfile.mkdtemp(prefix="kilo-mesh-bench-"))
    results = []
    try:
        for hosts in sizes:
            row = run_size(hosts, args.forks, root / f"hosts-{hosts}")
            walls = ", ".join(f"{name} {row[name]['wall']:.1f} s" for name in PLAYS)
            print(f"  {hosts} hosts: {walls}", file=sys.stderr)
            results.append(row)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    checks = check_targets(results)
    print(f"# kilo.mesh lookup in ansible-playbook: local hosts, forks {args.forks}, Python {sys.version.split()[0]}")
    print()
    print(format_table(results))
    print()
    labels = {True: "PASS", False: "MISS", None: "INFO"}
    print("\n".join(f"{labels[met]}  {name}: {detail}" for name, met, detail in checks))
    if args.json:
        args.json.write_text(json.dumps({"results": results, "checks": checks}, indent=2) + "\n")
    missed = [name for name, met, _detail in checks if met is False]
    if missed:
        print(f"\n{len(missed)} target(s) missed", file=sys.stderr)
        return 1
    print(f"\nall {sum(met is True for _name, met, _detail in checks)} targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
