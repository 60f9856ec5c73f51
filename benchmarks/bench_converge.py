#!/usr/bin/env python
# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Converge, idempotent and add-host runs of playbooks/mesh.yml on the hack/lab lab (project issue 14).

``playbooks/site.yml`` is ``mesh.yml`` followed by the verify play, so ``mesh.yml`` is "site.yml minus
verify". For every size (``--hosts``, default 4 8 16) and every variant (``baseline``: a git worktree of
``--baseline-ref`` at ``--baseline-dir``, created when missing and never committed; ``current``: this
tree), interleaved so both see the same machine load, the script:

1. brings up a fresh lab (``hack/lab/up.sh``; KILO_LAB_NAME ``bcN`` + variant letter) and grows it to N
   hosts with ``hack/lab/add-node.sh`` (new nodes alternate between locations dc1 and dc2);
2. ``converge``: runs ``mesh.yml`` on the fresh hosts;
3. ``idempotent``: runs it again (every host must report changed=0);
4. ``add-host``: adds one node and runs ``mesh.yml`` on all hosts;
5. tears the lab down (``hack/lab/down.sh``), whatever happened.

Every run uses the ``ansible.posix.json`` stdout callback, the profile data: the wall time of each play
and task. From it the script counts, per host, the tasks that ran on the host (not skipped, not a
controller-only action such as set_fact, assert or include_*), in the whole run and in the wireguard
play. Both variants use this tree's ``hack/lab`` (same inventory) and the same Ansible.

Output: a Markdown table (wall seconds, current/baseline ratio, remote tasks per host, the wireguard
play's seconds and remote tasks per host), the slowest tasks of each run, and with ``--write-docs`` the
table is put between the ``bench_converge`` markers of docs/performance.md. Timings are not asserted
anywhere; the script exits 1 only when a run fails or an idempotent run changes something.

Needs root and the hack/lab tools; hold the lab lock while it runs:
``flock /tmp/kilo-netns.lock .venv/bin/python benchmarks/bench_converge.py --hosts 4 8``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / "hack" / "lab"
DOCS = REPO / "docs" / "performance.md"
BEGIN, END = "<!-- bench_converge:begin -->", "<!-- bench_converge:end -->"
CONTROLLER_ACTIONS = {
    "assert",
    "set_fact",
    "include_tasks",
    "include_role",
    "include_vars",
    "import_tasks",
    "import_role",
    "validate_argument_spec",
    "debug",
    "meta",
    "fail",
}
RUNS = ("converge", "idempotent", "add-host")


def sh(argv: list[str], env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def ensure_baseline(ref: str, directory: Path) -> Path:
    """A detached git worktree of ``ref`` and a collections path whose kilo.mesh is that worktree."""
    if not (directory / "galaxy.yml").exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(directory), ref], check=True)
    return collections_path(directory, "baseline")


def collections_path(tree: Path, variant: str) -> Path:
    root = Path(f"/tmp/kilo-bench-collections-{variant}")
    link = root / "ansible_collections" / "kilo" / "mesh"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink() or Path(os.readlink(link)) != tree:
        if link.is_symlink():
            link.unlink()
        link.symlink_to(tree)
    return root


def remote_tasks(report: dict[str, Any], plays: slice = slice(None)) -> dict[str, int]:
    counts: dict[str, int] = {}
    for play in report["plays"][plays]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                counts.setdefault(host, 0)
                action = str(result.get("action", "")).rsplit(".", 1)[-1]
                if not result.get("skipped") and action not in CONTROLLER_ACTIONS:
                    counts[host] += 1
    return counts


def seconds(duration: dict[str, str]) -> float:
    start, end = (datetime.fromisoformat(duration[k].replace("Z", "+00:00")) for k in ("start", "end"))
    return (end - start).total_seconds()


def playbook(tree: Path, coll: Path, lab_env: dict[str, str], inventory: Path, forks: int) -> dict[str, Any]:
    env = dict(lab_env, ANSIBLE_COLLECTIONS_PATH=f"{coll}:{os.environ.get('ANSIBLE_COLLECTIONS_PATH', '')}")
    env.update(ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1", ANSIBLE_FORKS=str(forks))
    ansible_playbook = str(Path(sys.executable).parent / "ansible-playbook")
    started = time.monotonic()
    proc = subprocess.run(
        [ansible_playbook, "-i", str(inventory), str(tree / "playbooks" / "mesh.yml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    wall = time.monotonic() - started
    try:
        report = json.loads(proc.stdout)
    except ValueError as exc:
        message = f"mesh.yml in {tree} printed no JSON (rc {proc.returncode}):\n{proc.stderr[-3000:]}"
        raise RuntimeError(message) from exc
    stats = report["stats"]
    failed = {h: s for h, s in stats.items() if s.get("failures") or s.get("unreachable")}
    if proc.returncode != 0 or failed:
        raise RuntimeError(f"mesh.yml in {tree} failed (rc {proc.returncode}): {failed}\n{proc.stderr[-3000:]}")
    tasks = []
    for play in report["plays"]:
        for task in play["tasks"]:
            tasks.append((seconds(task["task"]["duration"]), task["task"]["name"]))
    wireguard = report["plays"][0]
    per_host = remote_tasks(report)
    wg_per_host = remote_tasks(report, slice(0, 1))
    return {
        "wall": wall,
        "hosts": len(stats),
        "changed": sum(s.get("changed", 0) for s in stats.values()),
        "remote_per_host": sum(per_host.values()) / max(len(per_host), 1),
        "remote_max": max(per_host.values() or [0]),
        "wireguard_play_s": seconds(wireguard["play"]["duration"]),
        "wireguard_remote_per_host": sum(wg_per_host.values()) / max(len(wg_per_host), 1),
        "slowest": sorted(tasks, reverse=True)[:5],
    }


def one_lab(variant: str, tree: Path, coll: Path, size: int, forks: int) -> dict[str, Any]:
    name = f"bc{size}{variant[0]}"
    env = dict(os.environ, KILO_LAB_NAME=name, KILO_LAB_DIR=f"/tmp/kilo-lab-{name}")
    inventory = Path(env["KILO_LAB_DIR"]) / "inventory.yml"
    sh([str(LAB / "down.sh")], env)
    results: dict[str, Any] = {}
    try:
        for argv in [[str(LAB / "up.sh")]] + [
            [str(LAB / "add-node.sh"), f"n{n:02d}", ("dc1", "dc2")[n % 2]] for n in range(5, size + 1)
        ]:
            proc = sh(argv, env)
            if proc.returncode != 0:
                raise RuntimeError(f"{' '.join(argv)} failed:\n{proc.stderr}")
        results["converge"] = playbook(tree, coll, env, inventory, forks)
        results["idempotent"] = playbook(tree, coll, env, inventory, forks)
        if results["idempotent"]["changed"]:
            raise RuntimeError(f"{variant}: the idempotent run at {size} hosts changed something")
        proc = sh([str(LAB / "add-node.sh"), f"n{size + 1:02d}", "dc2"], env)
        if proc.returncode != 0:
            raise RuntimeError(f"add-node.sh failed:\n{proc.stderr}")
        results["add-host"] = playbook(tree, coll, env, inventory, forks)
    finally:
        sh([str(LAB / "down.sh")], env)
    return results


def table(data: dict[int, dict[str, dict[str, Any]]]) -> str:
    lines = [
        "| hosts | run | baseline s | current s | current / baseline | remote tasks per host "
        "(baseline -> current) | wireguard play s (baseline -> current) | wireguard play remote tasks per host |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size, variants in sorted(data.items()):
        base, cur = variants["baseline"], variants["current"]
        for run in RUNS:
            b, c = base[run], cur[run]
            lines.append(
                f"| {size if run != 'add-host' else f'{size} + 1'} | {run} | {b['wall']:.1f} | {c['wall']:.1f} | "
                f"{c['wall'] / b['wall']:.2f} | {b['remote_per_host']:.1f} -> {c['remote_per_host']:.1f} | "
                f"{b['wireguard_play_s']:.1f} -> {c['wireguard_play_s']:.1f} | "
                f"{b['wireguard_remote_per_host']:.1f} -> {c['wireguard_remote_per_host']:.1f} |"
            )
    return "\n".join(lines)


def write_docs(text: str) -> None:
    doc = DOCS.read_text()
    if BEGIN not in doc or END not in doc:
        raise SystemExit(f"{DOCS} has no {BEGIN} ... {END} markers")
    head, rest = doc.split(BEGIN, 1)
    DOCS.write_text(head + BEGIN + "\n" + text + "\n" + END + rest.split(END, 1)[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--baseline-ref", default="061de15")
    parser.add_argument("--baseline-dir", type=Path, default=Path("/tmp/kilo-base"))
    parser.add_argument("--forks", type=int, default=5)
    parser.add_argument("--json", type=Path, help="save the raw numbers here")
    parser.add_argument("--write-docs", action="store_true", help="put the table into docs/performance.md")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("the lab needs root (network namespaces, mounts)")
    variants = {
        "baseline": (args.baseline_dir, ensure_baseline(args.baseline_ref, args.baseline_dir)),
        "current": (REPO, collections_path(REPO, "current")),
    }
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    data: dict[int, dict[str, dict[str, Any]]] = {}
    for size in args.hosts:
        data[size] = {}
        for variant, (tree, coll) in variants.items():
            print(f"{size} hosts, {variant} ...", file=sys.stderr, flush=True)
            data[size][variant] = one_lab(variant, tree, coll, size, args.forks)
            for run, result in data[size][variant].items():
                slow = "; ".join(f"{s:.1f}s {n}" for s, n in result["slowest"][:3])
                print(f"  {run}: {result['wall']:.1f}s, slowest: {slow}", file=sys.stderr, flush=True)
    load_after = os.getloadavg()
    finished = datetime.now(UTC)
    note = (
        f"Run {started:%Y-%m-%d %H:%M}-{finished:%H:%M} UTC, forks {args.forks}, baseline {args.baseline_ref}, "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after (1 min)."
    )
    text = note + "\n\n" + table(data)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"note": note, "results": data}, indent=1))
    if args.write_docs:
        write_docs(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
