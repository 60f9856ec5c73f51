# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""handover.yml on a real (wireguard-go) interface inside a network namespace this test creates."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
NETNS = "kk8s-ho"
IFACE = "kk8sho0"
CONF = "[Interface]\nPrivateKey = {key}\nListenPort = 51999\n"


def _run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=check)


@pytest.fixture()
def static_interface(tmp_path):
    if os.geteuid() != 0 or not shutil.which("wireguard-go"):
        pytest.fail("needs root and wireguard-go (see testinfra 1)")
    _run("ip", "netns", "del", NETNS, check=False)
    _run("ip", "netns", "add", NETNS)
    _run("ip", "netns", "exec", NETNS, "wireguard-go", IFACE)
    key = _run("wg", "genkey").stdout.strip()
    wgdir = tmp_path / "wireguard"
    wgdir.mkdir(mode=0o700)
    conf = wgdir / f"{IFACE}.conf"
    conf.write_text(CONF.format(key=key))
    conf.chmod(0o600)
    _run("ip", "netns", "exec", NETNS, "wg", "setconf", IFACE, str(conf))
    try:
        yield wgdir
    finally:
        _run("ip", "-n", NETNS, "link", "del", IFACE, check=False)
        _run("ip", "netns", "del", NETNS, check=False)


def _handover(wgdir: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        "ip",
        "netns",
        "exec",
        NETNS,
        str(Path(sys.executable).parent / "ansible-playbook"),
        str(HERE / "files" / "handover.yml"),
        "-i",
        str(HERE / "files" / "inventory.yml"),
        "-e",
        f"kilo_handover_static=true kilo_interface={IFACE} kilo_handover_wireguard_dir={wgdir}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)


def _changed(output: str) -> int:
    match = re.search(r"localhost\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0", output)
    assert match, output
    return int(match.group(1))


def test_handover_keeps_the_interface_and_releases_the_config(static_interface):
    wgdir = static_interface
    original = (wgdir / f"{IFACE}.conf").read_text()

    check = _handover(wgdir, "--check", "--diff")
    assert _changed(check.stdout) > 0
    assert (wgdir / f"{IFACE}.conf").exists(), "check mode changed nothing"

    first = _handover(wgdir)
    assert _changed(first.stdout) == 2, first.stdout
    assert not (wgdir / f"{IFACE}.conf").exists()
    backup = wgdir / f"{IFACE}.conf.kilo-handover"
    assert backup.read_text() == original
    assert oct(backup.stat().st_mode & 0o777) == "0o600"
    assert "PrivateKey" not in first.stdout, "the key never appears in the output"
    link = _run("ip", "-n", NETNS, "link", "show", "dev", IFACE)
    assert IFACE in link.stdout, "the interface is still there for kg to take over"
    assert _run("ip", "netns", "exec", NETNS, "wg", "show", IFACE, "listen-port").stdout.strip() == "51999"

    second = _handover(wgdir)
    assert _changed(second.stdout) == 0, second.stdout


def test_handover_without_interface_reports_it(tmp_path):
    _run("ip", "netns", "del", NETNS, check=False)
    _run("ip", "netns", "add", NETNS)
    try:
        result = _handover(tmp_path)
        assert _changed(result.stdout) == 0
        assert f"{IFACE} does not exist on localhost; kg will create it" in result.stdout
    finally:
        _run("ip", "netns", "del", NETNS, check=False)
