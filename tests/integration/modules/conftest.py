# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Network-namespace "hosts" for running the WireGuard modules for real.

Each host is a network namespace ``kmt-<id><letter>`` plus a persistent private mount namespace in which
``/sys`` is a fresh sysfs of that netns, ``/run/wireguard`` is a tmpfs (own wireguard-go UAPI sockets)
and ``/etc/wireguard`` and ``/var/lib/kilo`` are bind mounts of per-host directories under the test's
tmp dir. Ansible reaches a host with ``ansible_connection: local`` and an ``ansible_python_interpreter``
wrapper that enters both namespaces before starting ``/usr/bin/python3``.

The hosts are linked by veth pairs to a bridge in a separate namespace ``kmt-<id>br``; no interface in the
root namespace is touched and all traffic stays inside these namespaces. Everything (processes started in
the namespaces, mounts, namespaces) is removed by the fixture finalizer, also when the test fails.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

RUN_DIR = Path("/run/kmt")
UNDERLAY = "192.168.77.{0}"
TOOLS = ("ip", "nsenter", "unshare", "wg", "wireguard-go", "ping")
_LAB_NUMBERS = itertools.count(1)


def _sh(*argv: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(argv), capture_output=True, text=True, check=False, **kwargs)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def _netns_inode(netns: str) -> int | None:
    try:
        return os.stat(f"/run/netns/{netns}").st_ino
    except FileNotFoundError:
        return None


def _pids_in_netns(inode: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}/ns/net").st_ino == inode:
                pids.append(int(entry))
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
    return pids


class Host:
    """One namespace host. ``index`` gives the underlay address 192.168.77.<10+index>."""

    def __init__(self, lab: Lab, letter: str, index: int):
        self.lab = lab
        self.letter = letter
        self.name = f"{lab.prefix}{letter}"  # inventory name and netns name
        self.index = index
        self.underlay_ip = UNDERLAY.format(10 + index)
        self.root = lab.tmp / self.name
        self.etc_wireguard = self.root / "etc-wireguard"
        self.var_lib_kilo = self.root / "var-lib-kilo"
        self.mnt = lab.run_dir / f"{self.name}.mnt"
        self.interpreter = self.root / "python3"
        self.task_groups_file = self.root / "task-process-groups"

    def nsenter(self) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{self.name}", f"--mount={self.mnt}", "--"]

    def run(self, *argv: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
        return _sh(*self.nsenter(), *argv, check=check, **kwargs)

    def popen(self, *argv: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [*self.nsenter(), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lab.processes.append(proc)
        return proc

    def up(self) -> None:
        lab = self.lab
        _sh("ip", "netns", "add", self.name)
        lab.netns.append(self.name)
        _sh(
            "ip",
            "link",
            "add",
            "eth0",
            "netns",
            self.name,
            "type",
            "veth",
            "peer",
            "name",
            f"p{self.letter}",
            "netns",
            lab.bridge,
        )
        _sh("ip", "-n", lab.bridge, "link", "set", f"p{self.letter}", "master", "br0", "up")
        _sh("ip", "-n", self.name, "link", "set", "lo", "up")
        _sh("ip", "-n", self.name, "addr", "add", f"{self.underlay_ip}/24", "dev", "eth0")
        _sh("ip", "-n", self.name, "link", "set", "eth0", "up")
        for directory in (self.etc_wireguard, self.var_lib_kilo):
            directory.mkdir(parents=True, mode=0o700)
        self.mnt.touch()
        lab.mounts.append(self.mnt)
        script = (
            "set -eu; mount -t sysfs sysfs /sys; mount -t tmpfs -o mode=0755 tmpfs /run/wireguard;"
            f" mount --bind {self.etc_wireguard} /etc/wireguard; mount --bind {self.var_lib_kilo} /var/lib/kilo"
        )
        _sh(
            "nsenter", f"--net=/run/netns/{self.name}", "unshare", f"--mount={self.mnt}", "--propagation", "private",
            "sh", "-c", script,
        )  # fmt: skip
        self.interpreter.write_text(
            "#!/usr/bin/env bash\nset -euo pipefail\n"
            # the process group of the Ansible worker running this task (field 5 of /proc/PID/stat)
            f"cut -d' ' -f5 /proc/$$/stat >> {self.task_groups_file}\n"
            f'exec nsenter --net=/run/netns/{self.name} --mount={self.mnt} -- /usr/bin/python3 "$@"\n'
        )
        self.interpreter.chmod(0o755)
        # prove the isolation works before any test relies on it
        marker = self.run("sh", "-c", "ls /etc/wireguard /var/lib/kilo; ls /sys/class/net").stdout
        assert "eth0" in marker, marker

    def task_process_groups(self) -> set[int]:
        """Process groups of the Ansible workers that ran a task on this host."""
        return {int(line) for line in self.task_groups_file.read_text().split()}

    def processes(self, command: str) -> list[tuple[int, int, int]]:
        """(pid, process group, session) of the processes named ``command`` in this host's netns."""
        found = []
        for pid in _pids_in_netns(_netns_inode(self.name)):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except FileNotFoundError:
                continue
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2 :].split()
            if name == command:
                found.append((pid, int(fields[2]), int(fields[3])))
        return found

    def wg_dump(self, ifname: str = "kilo0") -> str:
        return self.run("wg", "show", ifname, "dump").stdout

    def latest_handshakes(self, ifname: str = "kilo0") -> dict[str, int]:
        out = self.run("wg", "show", ifname, "latest-handshakes").stdout
        return {line.split("\t")[0]: int(line.split("\t")[1]) for line in out.splitlines() if line.strip()}


class Lab:
    """A set of hosts on one bridge. Create with the ``wg_lab`` fixture."""

    def __init__(self, tmp: Path):
        self.prefix = f"kmt-{os.getpid() % 100000}-{next(_LAB_NUMBERS)}"
        # this lab's own private mount point for the mount-namespace files: labs of concurrent test
        # processes never share (or unmount) each other's
        self.run_dir = RUN_DIR / self.prefix
        self.bridge = f"{self.prefix}br"
        self.tmp = tmp
        self.hosts: dict[str, Host] = {}
        self.netns: list[str] = []
        self.mounts: list[Path] = []
        self.processes: list[subprocess.Popen] = []

    def start(self, letters: str) -> list[Host]:
        missing = [tool for tool in TOOLS if shutil.which(tool) is None]
        if missing:
            raise RuntimeError(f"missing tools: {missing}; install iproute2 wireguard-tools wireguard-go iputils-ping")
        for directory in ("/etc/wireguard", "/var/lib/kilo", "/run/wireguard"):
            os.makedirs(directory, mode=0o700, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if _sh("mountpoint", "-q", str(self.run_dir), check=False).returncode != 0:
            _sh("mount", "--bind", str(self.run_dir), str(self.run_dir))
            _sh("mount", "--make-private", str(self.run_dir))
        _sh("ip", "netns", "add", self.bridge)
        self.netns.append(self.bridge)
        _sh("ip", "-n", self.bridge, "link", "add", "br0", "type", "bridge")
        _sh("ip", "-n", self.bridge, "link", "set", "br0", "up")
        hosts = []
        for letter in letters:
            host = Host(self, letter, len(self.hosts) + 1)
            self.hosts[host.name] = host
            host.up()
            hosts.append(host)
        return hosts

    def inventory(self, path: Path, host_vars: dict[str, dict] | None = None) -> Path:
        hosts = {}
        for name, host in self.hosts.items():
            hosts[name] = {
                "ansible_connection": "local",
                "ansible_python_interpreter": str(host.interpreter),
                "underlay_ip": host.underlay_ip,
                **(host_vars or {}).get(name, {}),
            }
        path.write_text(json.dumps({"all": {"hosts": hosts}}))
        return path

    def teardown(self) -> None:
        errors = []
        for proc in self.processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        for name in reversed(self.netns):
            inode = _netns_inode(name)
            if inode is None:
                continue
            # wireguard-go daemons (and anything else) started inside our namespaces
            for pid in _pids_in_netns(inode):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 5
        for name in self.netns:
            inode = _netns_inode(name)
            while inode is not None and _pids_in_netns(inode) and time.time() < deadline:
                time.sleep(0.1)
            for pid in _pids_in_netns(inode) if inode is not None else []:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for mnt in self.mounts:
            proc = _sh("umount", str(mnt), check=False)
            if proc.returncode != 0 and "not mounted" not in proc.stderr:
                errors.append(proc.stderr.strip())
            mnt.unlink(missing_ok=True)
        for name in reversed(self.netns):
            proc = _sh("ip", "netns", "del", name, check=False)
            if proc.returncode != 0:
                errors.append(proc.stderr.strip())
        if self.run_dir.is_dir():
            _sh("umount", str(self.run_dir), check=False)
            with contextlib.suppress(OSError):
                self.run_dir.rmdir()
        if errors:
            raise RuntimeError("cleanup problems: " + "; ".join(errors))


def _lab(tmp: Path):
    if os.geteuid() != 0:
        pytest.fail("the WireGuard namespace tests need root (network and mount namespaces)")
    lab = Lab(tmp)
    try:
        yield lab
    finally:
        lab.teardown()


@pytest.fixture()
def wg_lab(tmp_path: Path):
    """Factory for namespace hosts: ``hosts = wg_lab.start("abc")``; all is removed after the test."""
    yield from _lab(tmp_path)


@pytest.fixture(scope="module")
def wg_lab_module(tmp_path_factory: pytest.TempPathFactory):
    """Like ``wg_lab`` but shared by the tests of one module (a scenario in steps)."""
    yield from _lab(tmp_path_factory.mktemp("lab"))


JSON_CALLBACK = {"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}


def parse_json_output(text: str) -> dict:
    """The document printed by the ``ansible.builtin.json`` callback (warnings before it are skipped)."""
    start = text.find("\n{\n") + 1 if not text.startswith("{") else 0
    return json.loads(text[start : text.rindex("}") + 1])


def task_results(doc: dict, task_name: str) -> dict[str, dict]:
    """``{host: result}`` of the task called ``task_name`` (last play that has it)."""
    found: dict[str, dict] = {}
    for play in doc["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"] == task_name:
                found = task["hosts"]
    if not found:
        raise AssertionError(f"no results for task {task_name!r} in {json.dumps(doc)[:2000]}")
    return found


class PlaybookResult:
    def __init__(self, proc: subprocess.CompletedProcess, as_json: bool):
        self.proc = proc
        self.rc = proc.returncode
        self.output = proc.stdout
        self.doc = parse_json_output(proc.stdout) if as_json else None

    def results(self, task_name: str) -> dict[str, dict]:
        assert self.doc is not None, "run with as_json=True"
        return task_results(self.doc, task_name)


def _ansible_playbook(
    playbook: Path, inventory: Path, *args: str, env: dict | None = None
) -> subprocess.CompletedProcess:
    """A real ansible-playbook of the venv (tests/conftest.py exports ANSIBLE_COLLECTIONS_PATH)."""
    import sys

    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(playbook), *args]
    return subprocess.run(
        cmd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="session")
def run_play():
    """``run_play(playbook, inventory, *args, as_json=True, check=True)`` -> PlaybookResult.

    Runs a real ``ansible-playbook`` (session scoped, so module-scoped scenario fixtures can use it).
    With ``check=True`` a failed run raises AssertionError with the output.
    """

    def _run(playbook: Path, inventory: Path, *args: str, as_json: bool = True, check: bool = True, env=None):
        full_env = dict(JSON_CALLBACK) if as_json else {}
        full_env.update(env or {})
        proc = _ansible_playbook(playbook, inventory, *args, env=full_env)
        if check and proc.returncode != 0:
            raise AssertionError(f"ansible-playbook {playbook} {args} failed ({proc.returncode}):\n{proc.stdout}")
        return PlaybookResult(proc, as_json)

    return _run
