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
4. ``add-host``: adds one node (location dc2) and runs ``mesh.yml`` on all hosts;
5. tears the lab down (``hack/lab/down.sh``), whatever happened.

After each of the three runs, ``playbooks/verify.yml`` of the same tree runs with the same inventory,
environment and collections path (its time is not part of the run's wall time): ``verify_ok`` is true
when the play passed on every host, i.e. every node reached every target of the reachability matrix and
every WireGuard peer of the leaders is up (a failed or unreachable host, or no JSON report, is false).

The node behind NAT (the inventory host with ``lab_nat_ip``, ``home-a`` of location ``home``) pings the
pod address of the first node of dc2 (``dc2-a``, ``lab_pod_ip``) every 0.2 s through ``hack/lab/hx``:
that address is reached only through the mesh (kilo0; the NAT node's default route ends at the lab's
dead-end WAN gateway), and the add-host run changes exactly that location's peer. The ping covers the
whole idempotent and add-host runs (1 s before to 1 s after) and, since the mesh does not exist before
it, a 5 s window right after the converge run. ``nat_sent`` / ``nat_lost`` are the echo requests sent and
those without a reply (by icmp_seq; the last request, still in flight when the ping is stopped, is not
counted). All traffic stays inside the lab's namespaces.

Every run uses the ``ansible.posix.json`` stdout callback, the profile data: the wall time of each play
and task. From it the script counts, per host, the tasks that ran on the host (not skipped, not a
controller-only action such as set_fact, assert or include_*), in the whole run and in the wireguard
play. Both variants use this tree's ``hack/lab`` (same inventory) and the same Ansible.

Output: a Markdown table (wall seconds, current/baseline ratio, remote tasks per host, the wireguard
play's seconds and remote tasks per host, wall seconds per host (wall / hosts of the run, to compare the
sizes: a flat per-host cost stays the same from 4 to 16 hosts), verify all-ok, NAT node pings lost of
sent), a line with the largest lab that came up, the slowest tasks of each run (stderr), and with
``--write-docs`` the text is put between the ``bench_converge`` markers of docs/performance.md. Timings
are not asserted anywhere; the script exits 1 when a run fails, an idempotent run changes something, a
lab does not come up (the sizes before it are still reported; larger ones are not tried), or the
``current`` variant fails a verify run or loses a NAT ping in an idempotent or add-host run (the
baseline's verify results and ping losses are only reported). ``--json`` saves every number, also the
verify failure messages, the links and peers verify found ok (``verify_links``) and the largest size.

Needs root and the hack/lab tools; hold the lab lock while it runs:
``flock /tmp/kilo-netns.lock .venv/bin/python benchmarks/bench_converge.py --hosts 4 8``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
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
    "mesh_topology",  # kilo.mesh.mesh_topology and node_annotations: action plugins that run on the controller
    "node_annotations",
}
RUNS = ("converge", "idempotent", "add-host")
ADD_LOCATION = "dc2"  # where the add-host node goes; the NAT node pings a pod of this location
PING_INTERVAL = 0.2
PING_LEAD, PING_TAIL = 1.0, 1.0  # seconds the ping runs before and after an idempotent or add-host run
CONVERGE_WINDOW = 5.0  # seconds of ping right after the converge run
PING_STATS = re.compile(r"(\d+) packets transmitted, (\d+) received")
PING_REPLY = re.compile(r"bytes from .*icmp_seq=(\d+)")


class LabUpError(RuntimeError):
    """hack/lab/up.sh or add-node.sh failed: the lab did not come up at this size."""


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


def failed_tasks(report: dict[str, Any]) -> list[str]:
    """``host: task: message`` of every failed or unreachable task result of an ansible.posix.json report."""
    out = []
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            for host, res in task.get("hosts", {}).items():
                if res.get("failed") or res.get("unreachable"):
                    msg = res.get("msg", "")
                    msg = "; ".join(map(str, msg)) if isinstance(msg, list) else str(msg)
                    out.append(f"{host}: {task['task']['name']}: {msg[:500]}")
    return out


def run_playbook(
    tree: Path, coll: Path, lab_env: dict[str, str], inventory: Path, forks: int, name: str
) -> tuple[subprocess.CompletedProcess, float]:
    """``ansible-playbook playbooks/<name>`` of ``tree`` with the JSON callback; the process and its wall time."""
    env = dict(lab_env, ANSIBLE_COLLECTIONS_PATH=f"{coll}:{os.environ.get('ANSIBLE_COLLECTIONS_PATH', '')}")
    env.update(ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1", ANSIBLE_FORKS=str(forks))
    ansible_playbook = str(Path(sys.executable).parent / "ansible-playbook")
    started = time.monotonic()
    proc = subprocess.run(
        [ansible_playbook, "-i", str(inventory), str(tree / "playbooks" / name)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    return proc, time.monotonic() - started


def playbook(tree: Path, coll: Path, lab_env: dict[str, str], inventory: Path, forks: int) -> dict[str, Any]:
    proc, wall = run_playbook(tree, coll, lab_env, inventory, forks, "mesh.yml")
    try:
        report = json.loads(proc.stdout)
    except ValueError as exc:
        message = f"mesh.yml in {tree} printed no JSON (rc {proc.returncode}):\n{proc.stderr[-3000:]}"
        raise RuntimeError(message) from exc
    stats = report["stats"]
    failed = {h: s for h, s in stats.items() if s.get("failures") or s.get("unreachable")}
    if proc.returncode != 0 or failed:
        problems = "\n".join(failed_tasks(report)[:10])
        message = f"mesh.yml in {tree} failed (rc {proc.returncode}): {failed}\n{problems}\n{proc.stderr[-3000:]}"
        raise RuntimeError(message)
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


def verify(tree: Path, coll: Path, lab_env: dict[str, str], inventory: Path, forks: int) -> dict[str, Any]:
    """``playbooks/verify.yml``: all-ok or not, the failure messages, and the links and peers found ok."""
    proc, wall = run_playbook(tree, coll, lab_env, inventory, forks, "verify.yml")
    result: dict[str, Any] = {"verify_ok": False, "verify_s": wall, "verify_problems": [], "verify_links": None}
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        result["verify_problems"] = [f"verify.yml printed no JSON (rc {proc.returncode}): {proc.stderr[-1000:]}"]
        return result
    stats = report.get("stats", {})
    problems = failed_tasks(report)
    links = [0, 0, 0, 0]  # links ok, links, peers ok, peers
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            for res in task.get("hosts", {}).values():
                checks = (res.get("ansible_facts") or {}).get("__verify_result")
                if isinstance(checks, dict):
                    for offset, key in ((0, "links"), (2, "peers")):
                        items = checks.get(key) or []
                        links[offset] += sum(1 for item in items if item.get("ok"))
                        links[offset + 1] += len(items)
    failed = {h: s for h, s in stats.items() if s.get("failures") or s.get("unreachable")}
    result["verify_ok"] = proc.returncode == 0 and bool(stats) and not failed
    if not result["verify_ok"] and not problems:
        problems.append(f"verify.yml rc {proc.returncode}, failed hosts {failed}: {proc.stderr[-1000:]}")
    result["verify_problems"] = problems[:10]
    if links[1] or links[3]:
        result["verify_links"] = {"links_ok": links[0], "links": links[1], "peers_ok": links[2], "peers": links[3]}
    return result


def nat_target(lab_env: dict[str, str], inventory: Path) -> tuple[str, str]:
    """(the NAT node, the pod address of the first node of ADD_LOCATION), from ``ansible-inventory --list``."""
    ansible_inventory = str(Path(sys.executable).parent / "ansible-inventory")
    proc = sh([ansible_inventory, "-i", str(inventory), "--list"], lab_env)
    hostvars: dict[str, dict[str, Any]] = json.loads(proc.stdout)["_meta"]["hostvars"] if proc.returncode == 0 else {}
    nat = next((host for host, hv in hostvars.items() if "lab_nat_ip" in hv), None)
    pod = next((hv["lab_pod_ip"] for hv in hostvars.values() if hv.get("kilo_location") == ADD_LOCATION), None)
    if not (nat and pod):
        raise RuntimeError(f"{inventory}: no node behind NAT (lab_nat_ip) or none in {ADD_LOCATION}:\n{proc.stderr}")
    return nat, pod


class NatPinger:
    """A continuous ping from a lab host (``hack/lab/hx HOST ping``), stopped with SIGINT to count the replies."""

    def __init__(self, env: dict[str, str], host: str, address: str) -> None:
        self.out = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 -- closed in stop()
        argv = [str(LAB / "hx"), host, "ping", "-n", "-i", str(PING_INTERVAL), "-W", "1", address]
        self.proc = subprocess.Popen(argv, env=env, stdout=self.out, stderr=subprocess.STDOUT, text=True)

    def stop(self) -> dict[str, Any]:
        """``nat_sent`` / ``nat_lost`` (None when ping gave no statistics) and ``nat_error``."""
        early = self.proc.poll() is not None
        if not early:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.out.seek(0)
        output = self.out.read()
        self.out.close()
        if early:
            return {"nat_sent": 0, "nat_lost": None, "nat_error": f"ping exited early: {output.strip()[-500:]}"}
        return ping_counts(output)


def ping_counts(output: str) -> dict[str, Any]:
    """Echo requests sent and lost in the output of an iputils ping stopped with SIGINT (lost: by icmp_seq)."""
    stats = PING_STATS.search(output)
    if not stats:
        return {"nat_sent": 0, "nat_lost": None, "nat_error": f"no ping statistics: {output.strip()[-500:]}"}
    sent = int(stats.group(1))
    answered = {int(seq) for seq in PING_REPLY.findall(output)}
    if sent and sent not in answered:
        sent -= 1  # the last request was still in flight when the ping stopped
    return {"nat_sent": sent, "nat_lost": sum(1 for seq in range(1, sent + 1) if seq not in answered)}


def one_lab(variant: str, tree: Path, coll: Path, size: int, forks: int) -> dict[str, Any]:
    name = f"bc{size}{variant[0]}"
    env = dict(os.environ, KILO_LAB_NAME=name, KILO_LAB_DIR=f"/tmp/kilo-lab-{name}")
    inventory = Path(env["KILO_LAB_DIR"]) / "inventory.yml"
    sh([str(LAB / "down.sh")], env)
    results: dict[str, Any] = {}

    def measured(run: str, nat: str, address: str) -> None:
        """mesh.yml with the NAT node's ping around it (converge: the window after it), then verify.yml."""
        pinger = None if run == "converge" else NatPinger(env, nat, address)
        try:
            time.sleep(PING_LEAD if pinger else 0)
            results[run] = playbook(tree, coll, env, inventory, forks)
            if pinger is None:
                pinger = NatPinger(env, nat, address)
                time.sleep(CONVERGE_WINDOW)
            else:
                time.sleep(PING_TAIL)
        finally:
            pings = pinger.stop() if pinger else {}
        results[run].update(pings, nat_path=f"{nat} -> {address}")
        results[run].update(verify(tree, coll, env, inventory, forks))

    try:
        for argv in [[str(LAB / "up.sh")]] + [
            [str(LAB / "add-node.sh"), f"n{n:02d}", ("dc1", "dc2")[n % 2]] for n in range(5, size + 1)
        ]:
            proc = sh(argv, env)
            if proc.returncode != 0:
                raise LabUpError(f"{' '.join(argv)} failed:\n{proc.stderr}")
        target = nat_target(env, inventory)
        measured("converge", *target)
        measured("idempotent", *target)
        if results["idempotent"]["changed"]:
            raise RuntimeError(f"{variant}: the idempotent run at {size} hosts changed something")
        proc = sh([str(LAB / "add-node.sh"), f"n{size + 1:02d}", ADD_LOCATION], env)
        if proc.returncode != 0:
            raise LabUpError(f"add-node.sh failed:\n{proc.stderr}")
        measured("add-host", *target)
    finally:
        sh([str(LAB / "down.sh")], env)
    return results


def _ok(result: dict[str, Any]) -> str:
    value = result.get("verify_ok")
    return "-" if value is None else "ok" if value else "FAIL"


def _pings(result: dict[str, Any]) -> str:
    if result.get("nat_lost") is None:
        return "error" if result.get("nat_error") else "-"
    return f"{result['nat_lost']} / {result['nat_sent']}"


def table(data: dict[int, dict[str, dict[str, Any]]]) -> str:
    lines = [
        "| hosts | run | baseline s | current s | current / baseline | remote tasks per host "
        "(baseline -> current) | wireguard play s (baseline -> current) | wireguard play remote tasks per host "
        "| wall s per host (baseline -> current) | verify all-ok (baseline / current) "
        "| NAT node pings lost / sent (baseline; current) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size, variants in sorted(data.items()):
        base, cur = variants["baseline"], variants["current"]
        for run in RUNS:
            b, c = base[run], cur[run]
            hosts = size + 1 if run == "add-host" else size
            lines.append(
                f"| {size if run != 'add-host' else f'{size} + 1'} | {run} | {b['wall']:.1f} | {c['wall']:.1f} | "
                f"{c['wall'] / b['wall']:.2f} | {b['remote_per_host']:.1f} -> {c['remote_per_host']:.1f} | "
                f"{b['wireguard_play_s']:.1f} -> {c['wireguard_play_s']:.1f} | "
                f"{b['wireguard_remote_per_host']:.1f} -> {c['wireguard_remote_per_host']:.1f} | "
                f"{b['wall'] / hosts:.2f} -> {c['wall'] / hosts:.2f} | {_ok(b)} / {_ok(c)} | "
                f"{_pings(b)}; {_pings(c)} |"
            )
    return "\n".join(lines)


def current_failures(data: dict[int, dict[str, dict[str, Any]]]) -> list[str]:
    """What makes the run fail: a verify run of ``current`` not all-ok, a lost NAT ping outside converge."""
    out = []
    for size, variants in sorted(data.items()):
        for run, result in variants.get("current", {}).items():
            if not result.get("verify_ok"):
                out.append(f"{size} hosts, {run}: verify failed: {' | '.join(result.get('verify_problems', []))}")
            if run != "converge" and result.get("nat_lost") != 0:
                lost = result.get("nat_error") or f"{result.get('nat_lost')} of {result.get('nat_sent')}"
                out.append(f"{size} hosts, {run}: NAT node pings {result['nat_path']} lost: {lost}")
    return out


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
    lab_error = ""
    for size in args.hosts:
        data[size] = {}
        try:
            for variant, (tree, coll) in variants.items():
                print(f"{size} hosts, {variant} ...", file=sys.stderr, flush=True)
                data[size][variant] = one_lab(variant, tree, coll, size, args.forks)
                for run, result in data[size][variant].items():
                    slow = "; ".join(f"{s:.1f}s {n}" for s, n in result["slowest"][:3])
                    checks = f"verify {_ok(result)}, NAT pings lost / sent {_pings(result)}"
                    print(f"  {run}: {result['wall']:.1f}s, {checks}, slowest: {slow}", file=sys.stderr, flush=True)
                    for problem in result.get("verify_problems", []):
                        print(f"    verify: {problem}", file=sys.stderr, flush=True)
        except LabUpError as exc:
            lab_error = f"the lab did not come up at {size} hosts ({variant}): {str(exc).strip().splitlines()[-1]}"
            print(lab_error, file=sys.stderr, flush=True)
            del data[size]
            break
    load_after = os.getloadavg()
    finished = datetime.now(UTC)
    note = (
        f"Run {started:%Y-%m-%d %H:%M}-{finished:%H:%M} UTC, forks {args.forks}, baseline {args.baseline_ref}, "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after (1 min)."
    )
    requested = " ".join(map(str, args.hosts))
    if data:
        reach = f"Lab: the largest size that came up was {max(data)} hosts ({max(data) + 1} in the add-host run)"
    else:
        reach = "Lab: no size came up"
    reach += f"; {lab_error}." if lab_error else f"; every requested size ({requested}) ran."
    text = note + "\n\n" + table(data) + "\n\n" + reach
    print(text)
    failures = current_failures(data)
    for failure in failures:
        print(f"current: {failure}", file=sys.stderr)
    if args.json:
        lab = {"requested": args.hosts, "largest_size": max(data, default=None), "error": lab_error or None}
        args.json.write_text(json.dumps({"note": note, "lab": lab, "results": data}, indent=1))
    if args.write_docs:
        write_docs(text)
    return 1 if failures or lab_error else 0


if __name__ == "__main__":
    sys.exit(main())
