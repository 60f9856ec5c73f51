# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""kilo.mesh.mesh_routes against the real kernel, in a network namespace this test creates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

MODULE = Path(__file__).resolve().parents[2] / "plugins" / "modules" / "mesh_routes.py"
PROTO = "211"


def ip(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "-n", ns, *args], capture_output=True, text=True, check=check)


@pytest.fixture()
def netns() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.fail("needs root (network namespaces)")
    ns = f"kmr{os.getpid() % 100000}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        ip(ns, "link", "set", "lo", "up")
        ip(ns, "link", "add", "lan0", "type", "veth", "peer", "name", "other0")
        for link in ("lan0", "other0"):
            ip(ns, "link", "set", link, "up")
        ip(ns, "addr", "add", "10.10.1.12/24", "dev", "lan0")
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def run_module(ns: str, args: dict, check_mode: bool = False, diff: bool = False) -> dict:
    """Run the module file inside the namespace (AnsibleModule reads its arguments from a JSON file)."""
    params = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    proc = subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, str(MODULE), json.dumps({"ANSIBLE_MODULE_ARGS": params})],
        capture_output=True,
        text=True,
        check=False,
        # the module's imports (ansible_collections.kilo.mesh.plugins.module_utils) from the test collection tree
        env=dict(os.environ, PYTHONPATH=os.environ["ANSIBLE_COLLECTIONS_PATH"]),
    )
    assert proc.stdout.strip().startswith("{"), proc.stderr
    return json.loads(proc.stdout)


def owned(ns: str) -> list[str]:
    out = ip(ns, "route", "show", "table", "all", "proto", PROTO).stdout
    return sorted(line.strip() for line in out.splitlines() if line.strip())


ROUTES = [
    {"dst": "10.4.0.1/32", "via": "10.10.1.11", "dev": "private", "onlink": True},
    {"dst": "10.42.3.0/24", "via": "10.10.1.11", "dev": "private", "onlink": True, "src": "10.10.1.12/24"},
    {"dst": "10.42.9.0/24", "via": "10.10.1.11", "dev": "private", "onlink": True, "table": 1107},
]


def test_check_apply_idempotent_and_diff(netns: str) -> None:
    args = {"routes": ROUTES, "private_address": "10.10.1.12/24"}
    check = run_module(netns, args, check_mode=True, diff=True)
    assert check["changed"] is True
    assert owned(netns) == [], "check mode changed the kernel routes"
    assert "+10.42.3.0/24 via 10.10.1.11 dev lan0 src 10.10.1.12 onlink" in check["diff"]["after"].replace("\n", "\n+")
    applied = run_module(netns, args, diff=True)
    assert applied["changed"] is True and applied["private_device"] == "lan0"
    assert owned(netns) == sorted(
        [
            "10.4.0.1 via 10.10.1.11 dev lan0 onlink",
            "10.42.3.0/24 via 10.10.1.11 dev lan0 src 10.10.1.12 onlink",
            "10.42.9.0/24 via 10.10.1.11 dev lan0 table 1107 onlink",
        ]
    )
    again = run_module(netns, args)
    assert again["changed"] is False
    assert run_module(netns, args, check_mode=True)["changed"] is False


def test_removes_only_its_own_stale_routes(netns: str) -> None:
    ip(netns, "route", "add", "10.99.0.0/24", "dev", "other0", "proto", "212")
    ip(netns, "route", "add", "10.98.0.0/24", "dev", "other0")
    run_module(netns, {"routes": ROUTES, "private_address": "10.10.1.12"})
    result = run_module(netns, {"routes": ROUTES[:1], "private_device": "lan0"}, diff=True)
    assert result["changed"] is True
    assert sorted(result["removed"]) == [
        "10.42.3.0/24 via 10.10.1.11 dev lan0 src 10.10.1.12 onlink",
        "10.42.9.0/24 via 10.10.1.11 dev lan0 onlink table 1107",
    ]
    assert owned(netns) == ["10.4.0.1 via 10.10.1.11 dev lan0 onlink"]
    others = ip(netns, "route", "show").stdout
    assert "10.99.0.0/24" in others and "10.98.0.0/24" in others, "foreign routes were touched"
    gone = run_module(netns, {"state": "absent"})
    assert gone["changed"] is True and owned(netns) == []
    assert "10.99.0.0/24" in ip(netns, "route", "show").stdout


def test_changed_route_is_replaced_in_place(netns: str) -> None:
    run_module(netns, {"routes": ROUTES[1:2], "private_address": "10.10.1.12"})
    moved = [dict(ROUTES[1], via="10.10.1.13")]
    result = run_module(netns, {"routes": moved, "private_address": "10.10.1.12"})
    assert result["changed"] is True
    assert owned(netns) == ["10.42.3.0/24 via 10.10.1.13 dev lan0 src 10.10.1.12 onlink"]


def test_unknown_internal_ip_fails_clearly(netns: str) -> None:
    result = run_module(netns, {"routes": ROUTES, "private_address": "192.0.2.7/24"})
    assert result.get("failed") is True
    assert "192.0.2.7/24" in result["msg"] and "kilo_internal_ip" in result["msg"]
    assert owned(netns) == []


def test_restore_file_brings_the_routes_back(netns: str, tmp_path: Path) -> None:
    """The restore file holds the owned routes as ip -batch commands: after the routes are lost (a reboot),
    ``ip -force -batch FILE`` alone puts back exactly the same routes."""
    restore = tmp_path / "lib" / "mesh-routes"
    args = {"routes": ROUTES, "private_address": "10.10.1.12/24", "restore_file": str(restore)}
    check = run_module(netns, args, check_mode=True)
    assert check["changed"] is True and check["restore_file_changed"] is True
    assert not restore.exists(), "check mode wrote the restore file"
    applied = run_module(netns, args)
    assert applied["restore_file_changed"] is True
    assert oct(restore.stat().st_mode & 0o777) == "0o644"
    lines = [line for line in restore.read_text().splitlines() if not line.startswith("#")]
    assert "route replace 10.42.3.0/24 via 10.10.1.11 dev lan0 src 10.10.1.12 onlink proto 211" in lines
    installed = owned(netns)
    assert len(installed) == 3
    again = run_module(netns, args)
    assert again["changed"] is False and again["restore_file_changed"] is False

    ip(netns, "route", "flush", "table", "all", "proto", PROTO)
    assert owned(netns) == []
    ip(netns, "-force", "-batch", str(restore))
    assert owned(netns) == installed
    assert run_module(netns, args)["changed"] is False

    # fewer routes: the file follows; state=absent removes it with the routes
    fewer = run_module(netns, dict(args, routes=ROUTES[:1]))
    assert fewer["restore_file_changed"] is True
    assert [line for line in restore.read_text().splitlines() if not line.startswith("#")] == [
        "route replace 10.4.0.1/32 via 10.10.1.11 dev lan0 onlink proto 211"
    ]
    gone = run_module(netns, {"state": "absent", "restore_file": str(restore)})
    assert gone["changed"] is True and gone["restore_file_changed"] is True
    assert not restore.exists() and owned(netns) == []


# ---------------------------------------------------------------------------------------------
# all or nothing: checked before the first change, rolled back when the kernel still refuses
# ---------------------------------------------------------------------------------------------
STALE = {"dst": "10.42.8.0/24", "via": "10.10.1.11", "dev": "private", "onlink": True}


def _restore_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if not line.startswith("#")]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        pytest.param(
            {"dst": "10.42.5.0/24", "via": "10.10.1.255", "dev": "private", "onlink": True},
            "the gateway 10.10.1.255 is the broadcast address of 10.10.1.0/24",
            id="gateway is a broadcast address",
        ),
        pytest.param(
            {"dst": "10.42.5.0/24", "via": "10.10.1.0", "dev": "private", "onlink": True},
            "the gateway 10.10.1.0 is the network address of 10.10.1.0/24",
            id="gateway is a network address",
        ),
        pytest.param(
            {"dst": "10.42.5.0/24", "via": "10.10.1.12", "dev": "private", "onlink": True},
            "the gateway 10.10.1.12 is an address of this host",
            id="gateway is a local address",
        ),
        pytest.param(
            {"dst": "10.42.5.0/24", "via": "10.10.1.11", "dev": "kilo0", "onlink": True},
            "device kilo0 does not exist",
            id="missing device",
        ),
        pytest.param(
            {"dst": "fd00::30/128", "via": "10.10.1.11", "dev": "private", "onlink": True},
            "field via has the value 10.10.1.11, of another address family",
            id="gateway of the other family",
        ),
    ],
)
def test_bad_route_changes_nothing(netns: str, tmp_path: Path, bad: dict, reason: str) -> None:
    """[ok route, bad route, ok route] with a stale route present: the task fails before any change."""
    restore = tmp_path / "mesh-routes"
    base = {"private_address": "10.10.1.12/24", "restore_file": str(restore)}
    run_module(netns, dict(base, routes=[STALE]))
    before = owned(netns)
    lines = _restore_lines(restore)
    result = run_module(netns, dict(base, routes=[ROUTES[0], bad, ROUTES[1]]))
    assert result.get("failed") is True and result["changed"] is False, result
    assert reason in result["msg"] and "nothing was changed" in result["msg"], result["msg"]
    assert owned(netns) == before, "a failed run changed the routes"
    assert _restore_lines(restore) == lines


def test_kernel_refusal_rolls_everything_back(netns: str, tmp_path: Path) -> None:
    """The kernel refuses a gateway that is not on a connected subnet (no onlink): what was already added or
    replaced is undone, the stale route comes back, the task fails honestly and the restore file matches."""
    restore = tmp_path / "mesh-routes"
    base = {"private_address": "10.10.1.12/24", "restore_file": str(restore)}
    moved = dict(ROUTES[1], via="10.10.1.13")  # replaces ROUTES[1] in place
    run_module(netns, dict(base, routes=[STALE, ROUTES[1]]))
    before = owned(netns)
    assert len(before) == 2
    unreachable = {"dst": "10.42.6.0/24", "via": "10.99.0.1", "dev": "private"}
    result = run_module(netns, dict(base, routes=[ROUTES[0], moved, unreachable, ROUTES[2]]))
    assert result.get("failed") is True, result
    assert "10.42.6.0/24 via 10.99.0.1" in result["msg"] and "rolled back" in result["msg"], result["msg"]
    assert result["changed"] is False and result["not_rolled_back"] == []
    assert sorted(result["rolled_back"]) == [
        "added 10.4.0.1/32 via 10.10.1.11 dev lan0 onlink",
        "added 10.42.3.0/24 via 10.10.1.13 dev lan0 src 10.10.1.12 onlink",
    ]
    assert owned(netns) == before, "the routes were not restored"
    assert sorted(result["routes"]) == sorted(
        ["10.42.3.0/24 via 10.10.1.11 dev lan0 src 10.10.1.12 onlink", "10.42.8.0/24 via 10.10.1.11 dev lan0 onlink"]
    )
    # the restore file holds exactly the live routes
    ip(netns, "route", "flush", "table", "all", "proto", PROTO)
    ip(netns, "-force", "-batch", str(restore))
    assert owned(netns) == before
    # and a good run afterwards applies everything
    good = run_module(netns, dict(base, routes=[ROUTES[0], moved, ROUTES[2]]))
    assert good["changed"] is True and "10.42.8.0/24 via 10.10.1.11 dev lan0 onlink" in good["removed"]
    assert len(owned(netns)) == 3
