# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Pure-function tests of plugins/module_utils/_host_probe.py (the probe of the kilo.mesh.wireguard role).

Where an expected value can come from a real tool (dpkg-query, nft --check) it does; the rest are
outputs in the formats the tools print.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import _host_probe as hp
import pytest

PACKAGE_SETS = {
    "Debian": {
        "packages": ["wireguard-tools"],
        "userspace_packages": ["wireguard-go"],
        "firewall_packages": {"nftables": ["nftables"], "firewalld": ["firewalld", "python3-firewall"]},
    },
    "Ubuntu_24": {"packages": ["wireguard-tools"], "userspace_packages": [], "firewall_packages": {}},
}
ROLE_TABLE = """table inet kilo_mesh {
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\tudp dport 51820 accept comment "kilo.mesh wireguard"
\t}
}"""
OTHER_INPUT = """table inet filter {
\tchain input {
\t\ttype filter hook input priority filter; policy drop;
\t}
}"""


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({"distribution": "Ubuntu", "distribution_major_version": "24", "os_family": "Debian"}, "Ubuntu_24"),
        ({"distribution": "Ubuntu", "distribution_major_version": "22", "os_family": "Debian"}, "Debian"),
        ({"distribution": "Debian", "distribution_major_version": "12", "os_family": "Debian"}, "Debian"),
        ({"distribution": "Plan9", "distribution_major_version": "4", "os_family": "Plan9"}, None),
        ({}, None),
    ],
)
def test_package_set_first_found(facts, expected):
    assert hp.choose_package_set(facts, PACKAGE_SETS) == expected


def test_package_set_candidates_order():
    facts = {"distribution": "Rocky", "distribution_major_version": "9", "os_family": "RedHat"}
    assert hp.package_set_candidates(facts) == ["Rocky_9", "Rocky", "RedHat"]


def test_dpkg_status_matches_dpkg_query():
    status = Path("/var/lib/dpkg/status")
    if not status.exists() or not shutil.which("dpkg-query"):
        pytest.fail("this test needs a Debian machine (the project's CI and lab run on Debian 12)")
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\\n"], capture_output=True, text=True, check=True
    ).stdout
    expected = {line.split()[0] for line in out.splitlines() if line.endswith(" installed")}
    assert set(hp.parse_dpkg_status(status.read_text(errors="replace"))) == expected


def test_dpkg_status_skips_removed_and_half_installed():
    text = (
        "Package: a\nStatus: install ok installed\nVersion: 1\n\n"
        "Package: b\nStatus: deinstall ok config-files\n\n"
        "Package: c\nStatus: install ok half-installed\n\n"
        "Package: d\nStatus: install ok installed\n"
    )
    assert hp.parse_dpkg_status(text) == ["a", "d"]


def test_installed_packages_reads_the_database_of_the_family():
    calls = []

    def run(argv):
        calls.append(list(argv))
        if argv[0] == "/usr/bin/rpm":
            return 1, "wireguard-tools\npackage nftables is not installed\n", ""
        return 1, "wireguard-tools 1.0.20210914-3\n", "error: package 'nftables' was not found\n"

    def which(name):
        return "/usr/bin/" + name

    def no_dpkg(path):
        return None

    names = ["wireguard-tools", "nftables"]
    assert hp.installed_packages(names, "RedHat", run, no_dpkg, which) == ("rpm", ["wireguard-tools"])
    assert hp.installed_packages(names, "Archlinux", run, no_dpkg, which) == ("pacman", ["wireguard-tools"])
    assert calls[1][:2] == ["/usr/bin/pacman", "-Q"]
    dpkg = "Package: nftables\nStatus: install ok installed\n"
    assert hp.installed_packages(names, "Debian", run, lambda p: dpkg, which) == ("dpkg", ["nftables"])
    # no database at all: everything counts as missing, so the package task runs
    assert hp.installed_packages(names, "Plan9", run, no_dpkg, lambda n: None) == (None, [])


def test_wanted_packages():
    debian = PACKAGE_SETS["Debian"]
    assert hp.wanted_packages(debian, False, "auto", []) == ["wireguard-tools"]
    assert hp.wanted_packages(debian, True, "firewalld", ["x", "wireguard-go"]) == [
        "wireguard-tools",
        "wireguard-go",
        "firewalld",
        "python3-firewall",
        "x",
    ]
    assert hp.wanted_packages({}, True, "none", []) == []


@pytest.mark.parametrize(
    ("readings", "expected"),
    [
        ({}, "none"),
        ({"firewalld": (0, "running\n"), "ufw": (0, "Status: active\n")}, "firewalld"),
        ({"firewalld": (252, "not running\n"), "ufw": (0, "Status: active\n")}, "ufw"),
        ({"ufw": (0, "Status: inactive\n"), "iptables": (0, "-P INPUT ACCEPT\n")}, "none"),
        ({"iptables": (0, "-P INPUT DROP\n")}, "iptables"),
        ({"iptables": (0, "-P INPUT ACCEPT\n-A INPUT -i lo -j ACCEPT\n")}, "iptables"),
        ({"iptables": (0, "-P INPUT ACCEPT\n"), "nftables": (0, ROLE_TABLE + "\n")}, "none"),
        ({"nftables": (0, ROLE_TABLE + "\n" + OTHER_INPUT + "\n")}, "nftables"),
        ({"nftables": (1, OTHER_INPUT)}, "none"),
    ],
)
def test_detect_firewall(readings, expected):
    assert hp.detect_firewall(readings, "kilo_mesh") == expected


def test_role_table_is_valid_nft_and_found_open():
    nft = shutil.which("nft") or "/usr/sbin/nft"
    if not Path(nft).exists():
        pytest.fail("this test needs nft (nftables)")
    checked = subprocess.run([nft, "--check", "-f", "-"], input=ROLE_TABLE, capture_output=True, text=True, check=False)
    # nft --check needs CAP_NET_ADMIN; as root it validates the syntax of the listing we parse
    assert checked.returncode == 0 or "Operation not permitted" in checked.stderr, checked.stderr
    assert hp.nft_table_open(ROLE_TABLE, 51820)
    assert not hp.nft_table_open(ROLE_TABLE, 51821)
    assert hp.strip_nft_table(ROLE_TABLE + "\n" + OTHER_INPUT, "kilo_mesh").strip() == OTHER_INPUT


def test_ufw_rule_and_iptables_rule():
    added = (
        "Added user rules (see 'ufw status' for running firewall):\nufw allow 51820/udp comment 'kilo.mesh wireguard'\n"
    )
    assert hp.ufw_rule_present(added, 51820, "kilo.mesh wireguard")
    assert not hp.ufw_rule_present(added, 51821, "kilo.mesh wireguard")
    assert not hp.ufw_rule_present("ufw allow 51820/udp\n", 51820, "kilo.mesh wireguard")
    rule = hp.iptables_rule(51820, "kilo.mesh wireguard")
    assert rule[0] == "INPUT" and rule[-2:] == ["-j", "ACCEPT"] and "51820" in rule


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, False),
        ("", False),
        ("net.ipv4.ip_forward=1\n", True),
        ("net.ipv4.ip_forward = 1\n", True),
        ("net/ipv4/ip_forward=1\n", True),
        ("# net.ipv4.ip_forward=1\n", False),
        ("net.ipv4.ip_forward=1\nnet.ipv4.ip_forward=0\n", False),
        ("net.ipv4.ip_forward=0\nnet.ipv4.ip_forward=1\n", True),
        ("net.ipv4.ip_forwarding=1\n", False),
    ],
)
def test_sysctl_file_has(text, expected):
    assert hp.sysctl_file_has(text, "net.ipv4.ip_forward") is expected


def _readings(**changes):
    readings = {
        "packages": {"wanted": ["wireguard-tools", "wireguard-go"], "installed": ["wireguard-tools", "wireguard-go"]},
        "userspace": True,
        "kernel_module": {"loaded": False, "loadable": False},
        "firewall": {"backend": "iptables", "open": True},
        "sysctl": {"net.ipv4.ip_forward": {"live": "1", "persisted": True}},
        "sysctl_dir_exists": True,
    }
    readings.update(changes)
    return readings


def test_plan_nothing_to_do():
    assert hp.plan(_readings(), {"packages_state": "present"}) == {
        "install": [],
        "modprobe": False,
        "firewall": False,
        "sysctl_dir": False,
        "sysctl": [],
    }


def test_plan_acts_on_what_is_missing():
    missing = _readings(
        packages={"wanted": ["wireguard-tools", "wireguard-go"], "installed": ["wireguard-tools"]},
        userspace=False,
        firewall={"backend": "nftables", "open": False},
        sysctl={
            "net.ipv4.ip_forward": {"live": "1", "persisted": False},
            "net.ipv6.conf.all.forwarding": {"live": "0", "persisted": True},
        },
        sysctl_dir_exists=False,
    )
    assert hp.plan(missing, {"packages_state": "present"}) == {
        "install": ["wireguard-go"],
        "modprobe": True,
        "firewall": True,
        "sysctl_dir": True,
        "sysctl": ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"],
    }
    loaded = _readings(userspace=False, kernel_module={"loaded": True, "loadable": True})
    assert hp.plan(loaded, {"packages_state": "present"})["modprobe"] is False
    # latest: the package task always runs (it upgrades)
    assert hp.plan(_readings(), {"packages_state": "latest"})["install"] == ["wireguard-tools", "wireguard-go"]


def test_probe_reads_only_and_decides_userspace(tmp_path):
    """probe() against this machine's real tools, with a fake sysfs answer for the kernel module."""
    calls = []

    def run(argv):
        calls.append(list(argv))
        proc = subprocess.run(list(argv), capture_output=True, text=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def read(path):
        try:
            return Path(path).read_text(errors="replace")
        except OSError:
            return None

    sysctl_file = tmp_path / "sysctl.d" / "99-kilo-mesh.conf"
    params = {
        "package_sets": PACKAGE_SETS,
        "implementation": "userspace",
        "extra_packages": [],
        "port": 51820,
        "firewall": "none",
        "firewall_zone": "public",
        "firewall_ipv6": True,
        "firewall_comment": "kilo.mesh wireguard",
        "nftables_table": "kilo_mesh",
        "nftables_file": str(tmp_path / "kilo-mesh.nft"),
        "nftables_content": "",
        "ip_forward": True,
        "ipv6_forward": False,
        "sysctl_file": str(sysctl_file),
    }
    facts = {"distribution": "Debian", "distribution_major_version": "12", "os_family": "Debian"}
    readings = hp.probe(params, facts, run, read, shutil.which, lambda p: p == "/dev/net/tun")
    assert calls == []  # userspace requested, firewall none: no program needs to run
    assert readings["userspace"] is True and readings["tun"] is True
    assert readings["firewall"] == {"backend": "none", "open": True}
    assert readings["sysctl"]["net.ipv4.ip_forward"]["persisted"] is False
    assert readings["sysctl_dir_exists"] is False
    assert hp.plan(readings, {"packages_state": "present"})["sysctl"] == ["net.ipv4.ip_forward"]
    sysctl_file.parent.mkdir()
    sysctl_file.write_text("net.ipv4.ip_forward=1\n")
    readings = hp.probe(params, facts, run, read, shutil.which, lambda p: Path(p).exists())
    assert readings["sysctl"]["net.ipv4.ip_forward"]["persisted"] is True
