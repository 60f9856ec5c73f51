# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""The local multi-location lab as a pytest fixture.

``lab`` (session scope) runs ``hack/lab/up.sh`` with a KILO_LAB_NAME unique to this pytest process,
yields a :class:`Lab` and always runs ``hack/lab/down.sh`` at the end. The hosts, their addresses and
the inventory are described in ``hack/lab/README.md``.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
LAB_HACK = REPO / "hack" / "lab"


@dataclass
class Lab:
    """A running lab: namespaces named ``<name>-<host>``, files under ``dir``."""

    name: str
    dir: Path
    env: dict[str, str] = field(repr=False)
    hack: Path = LAB_HACK

    @property
    def inventory(self) -> Path:
        return self.dir / "inventory.yml"

    @property
    def ssh_config(self) -> Path:
        return self.dir / "ssh_config"

    def hostvars(self) -> dict[str, dict]:
        """Host vars of the ``kilo`` group as written to the inventory (re-read on every call)."""
        data = yaml.safe_load(self.inventory.read_text())
        return data["kilo"]["hosts"]

    @property
    def hosts(self) -> list[str]:
        return list(self.hostvars())

    def namespace(self, host: str) -> str:
        return f"{self.name}-{host}"

    def script(self, script: str, *args: str, check: bool = True, timeout: int = 120) -> subprocess.CompletedProcess:
        """Run one of the ``hack/lab`` scripts for this lab."""
        return subprocess.run(
            [str(LAB_HACK / script), *args],
            env=self.env,
            check=check,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def run(self, host: str, *cmd: str, check: bool = False, timeout: int = 60) -> subprocess.CompletedProcess:
        """Run ``cmd`` "on" ``host`` through ``hx`` (its network, mount and UTS namespaces)."""
        return self.script("hx", host, *cmd, check=check, timeout=timeout)

    def ssh(self, host: str, command: str, check: bool = False, timeout: int = 60) -> subprocess.CompletedProcess:
        """Run ``command`` on ``host`` over real ssh, like Ansible does."""
        return subprocess.run(
            ["ssh", "-F", str(self.ssh_config), self.namespace(host), command],
            check=check,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def add_node(self, name: str, location: str, kind: str = "public") -> None:
        """Add a node to the running lab (``hack/lab/add-node.sh``); the inventory is rewritten."""
        self.script("add-node.sh", name, location, kind)


def lab_env(name: str, directory: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["KILO_LAB_NAME"] = name
    env["KILO_LAB_DIR"] = str(directory or Path(f"/tmp/kilo-lab-{name}"))
    return env


def start_lab(name: str, up: bool = True) -> Lab:
    env = lab_env(name)
    lab = Lab(name=name, dir=Path(env["KILO_LAB_DIR"]), env=env)
    if not up:
        return lab
    proc = lab.script("up.sh", check=False)
    if proc.returncode != 0:
        lab.script("down.sh", check=False)
        raise RuntimeError(f"hack/lab/up.sh failed for lab {name}:\n{proc.stdout}{proc.stderr}")
    return lab


def stop_lab(lab: Lab) -> subprocess.CompletedProcess:
    return lab.script("down.sh", check=False)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """A lab for the whole session (dc1-a, dc1-b, dc2-a, home-a), always torn down at the end."""
    if os.geteuid() != 0:
        pytest.fail("the lab needs root (network namespaces, mounts); run the suite as root")
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        # a plain kill (e.g. from `timeout`) still tears the lab down: pytest finalises on KeyboardInterrupt
        signal.signal(signal.SIGTERM, _interrupt)
    running = start_lab(f"kt{os.getpid() % 1000}", up=False)
    try:
        start_lab(running.name)
        yield running
    finally:
        proc = stop_lab(running)
        if proc.returncode != 0:
            raise RuntimeError(f"hack/lab/down.sh failed for lab {running.name}:\n{proc.stdout}{proc.stderr}")


@pytest.fixture()
def lab_factory() -> Iterator[Callable[..., Lab]]:
    """``lab_factory(prefix, up=True)``: an extra lab named ``<prefix><pid % 1000>``, removed after the test."""
    created: list[Lab] = []

    def make(prefix: str, up: bool = True) -> Lab:
        if os.geteuid() != 0:
            pytest.fail("the lab needs root (network namespaces, mounts); run the suite as root")
        new = start_lab(f"{prefix}{os.getpid() % 1000}", up=False)
        created.append(new)  # before up.sh, so an interrupted bring-up is removed too
        if up:
            start_lab(new.name)
        return new

    yield make
    for made in created:
        stop_lab(made)
