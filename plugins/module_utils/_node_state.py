# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""What a mesh node runs, in one fingerprint, and the record of what the mesh role applied to it.

This module is PRIVATE to the kilo.mesh collection and has no stable API. Standard library only; it runs
on the managed nodes (kilo.mesh.mesh_node_probe, kilo.mesh.mesh_node_record) and on the controller (the
kilo.mesh.node_digest filter).

How an idempotent run skips a node (docs/performance.md, "Probe once"):

- after the mesh role applied a node, ``mesh_node_record`` writes the state file: the digest of
  everything the role passed to its apply tasks (:func:`digest`, computed on the controller by the
  ``node_digest`` filter) and the fingerprint of the node's live state right after (:func:`fingerprint`);
- the next run's ``mesh_node_probe`` computes the fingerprint again. When it equals the recorded one, the
  node still runs what was applied and the probe returns the recorded digest as ``applied_digest``
  (:func:`applied_digest`); when anything drifted (a route deleted, the interface gone with a killed
  wireguard-go, a peer removed, a file edited) it returns None and the role applies the node again;
- the role compares ``applied_digest`` with the digest of what it would apply now: equal means nothing
  to do on that node.

The fingerprint covers the WireGuard interface (link up, MTU, addresses, public key, listen port, fwmark,
each peer's allowed IPs, keepalive and preshared key, hashed), the routes of the given protocols in every
table, the content of the given files and, on systemd, whether the given units are enabled and active.
It leaves out what changes on its own while the mesh is fine: peer endpoints (they roam, and the role
keeps a roamed endpoint), handshake times and transfer counters. Key material never leaves the node: the
private key is not read here and preshared keys and file contents only enter as SHA-256 digests.

Every program runs through the ``run(argv) -> (rc, stdout, stderr)`` seam, so all of it is unit tested
without root.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from ansible_collections.kilo.mesh.plugins.module_utils._files import write_atomic
from ansible_collections.kilo.mesh.plugins.module_utils._wireguard import (
    Run,
    WireGuardError,
    parse_dump,
    parse_link,
)

#: bump when what the mesh role applies changes in a way its inputs do not show (a new task, a new
#: file) between two releases: every node is then applied once more. (The node_digest filter also
#: includes the collection's version, so every release does this by itself.)
STATE_FORMAT = 1

Read = Callable[[str], Optional[bytes]]


def runner(module: Any) -> Run:
    """The ``run`` seam for a module: ``AnsibleModule.run_command`` with the C locale, never failing by itself."""

    def run(argv: Sequence[str], data: Optional[str] = None) -> Any:
        return module.run_command(list(argv), data=data, check_rc=False, environ_update={"LC_ALL": "C"})

    return run


def digest(value: Any) -> str:
    """SHA-256 of ``value`` as canonical JSON (sorted keys), with :data:`STATE_FORMAT`."""
    text = json.dumps({"format": STATE_FORMAT, "value": value}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sha(data: Optional[bytes]) -> Optional[str]:
    return None if data is None else hashlib.sha256(data).hexdigest()


def read_bytes(path: str) -> Optional[bytes]:
    """The file's content, None when it does not exist (other errors raise OSError)."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


# ----------------------------------------------------------------------------------------- peers


def read_dump(run: Run, interface: str) -> Optional[Dict[str, Any]]:
    """``wg show INTERFACE dump`` parsed (no private key), or None when there is no such WireGuard interface."""
    rc, out, _err = run(["wg", "show", interface, "dump"])
    if rc != 0:
        return None
    return parse_dump(out)


def peer_state(dump: Optional[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The peers' public key, endpoint and latest handshake (seconds since the epoch, 0: never), by key.

    This is what the topology's discovered endpoints are taken from (topology ``schema``); nothing in it
    is secret."""
    if not dump:
        return []
    return [
        {"public_key": key, "endpoint": peer["endpoint"], "latest_handshake": peer["latest_handshake"]}
        for key, peer in sorted(dump["peers"].items())
    ]


def wait_for_handshakes(
    run: Run,
    interface: str,
    keys: Sequence[str],
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Optional[Dict[str, Any]]:
    """Read the dump until every peer in ``keys`` that the interface has completed a handshake, or
    ``timeout`` seconds passed; return the last dump (None: no interface). Keys the interface does not
    have as peers are not waited for."""
    deadline = clock() + timeout
    while True:
        dump = read_dump(run, interface)
        if dump is None:
            return None
        waiting = [key for key in keys if key in dump["peers"] and not dump["peers"][key]["latest_handshake"]]
        if not waiting or clock() >= deadline:
            return dump
        sleep(0.5)


# ----------------------------------------------------------------------------------- fingerprint


def _interface_part(run: Run, interface: str, dump: Optional[Dict[str, Any]]) -> Any:
    rc, out, err = run(["ip", "-j", "addr", "show", "dev", interface])
    if rc != 0:
        if "does not exist" in err or "Cannot find device" in err:
            return None
        raise WireGuardError("cannot read interface {0}: {1}".format(interface, err.strip()))
    link = parse_link(out)
    link["addresses"] = sorted(link["addresses"])
    if dump is None:
        return {"link": link, "wireguard": None}
    peers = [
        {
            "public_key": key,
            "allowed_ips": sorted(peer["allowed_ips"]),
            "persistent_keepalive": peer["persistent_keepalive"],
            "preshared_key": _sha((peer["preshared_key"] or "").encode("ascii")) if peer["preshared_key"] else None,
        }
        for key, peer in sorted(dump["peers"].items())
    ]
    wireguard = {k: dump[k] for k in ("public_key", "listen_port", "fwmark")}
    wireguard["peers"] = peers
    return {"link": link, "wireguard": wireguard}


def _routes_part(run: Run, protocols: Sequence[int]) -> List[str]:
    routes = []
    for protocol in protocols:
        for family in ("-4", "-6"):
            argv = ["ip", family, "-j", "route", "show", "table", "all", "proto", str(protocol)]
            rc, out, err = run(argv)
            if rc != 0:
                raise WireGuardError("'{0}' failed: {1}".format(" ".join(argv), err.strip()))
            for entry in json.loads(out or "[]"):
                routes.append(json.dumps(dict(entry, protocol=protocol), sort_keys=True))
    return sorted(routes)


def _units_part(run: Run, units: Sequence[str]) -> Dict[str, List[str]]:
    if not units:
        return {}
    states: Dict[str, List[str]] = {unit: [] for unit in units}
    for query in ("is-enabled", "is-active"):
        # one line per unit; the exit code is non-zero as soon as one unit is not enabled/active
        _rc, out, _err = run(["systemctl", query] + list(units))
        lines = out.splitlines()
        for index, unit in enumerate(units):
            states[unit].append(lines[index].strip() if index < len(lines) else "unknown")
    return states


def fingerprint(
    run: Run,
    interface: str,
    protocols: Sequence[int],
    files: Sequence[str],
    units: Sequence[str],
    dump: Optional[Dict[str, Any]],
    read: Read = read_bytes,
    systemd: Optional[bool] = None,
) -> Dict[str, Any]:
    """The node's live state: ``{"parts": {name: digest}, "live": digest of the parts}``.

    ``dump``: the ``wg show`` dump of ``interface`` (:func:`read_dump`; None: no WireGuard interface).
    ``units`` are read only on a node booted with systemd (``systemd`` None: whether /run/systemd/system
    exists, systemd's own test)."""
    if systemd is None:
        systemd = os.path.isdir("/run/systemd/system")
    parts = {
        "interface": digest(_interface_part(run, interface, dump)),
        "routes": digest(_routes_part(run, protocols)),
        "files": digest({path: _sha(read(path)) for path in sorted(set(files))}),
        "units": digest(_units_part(run, units if systemd else [])),
    }
    return {"parts": parts, "live": digest(parts)}


# ---------------------------------------------------------------------------------------- record


def read_record(path: str, read: Read = read_bytes) -> Optional[Dict[str, Any]]:
    """The record written by :func:`write_record`; None when missing or unreadable as a record."""
    try:
        data = read(path)
    except OSError:
        return None
    if data is None:
        return None
    try:
        record = json.loads(data.decode("utf-8"))
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("digest"), str) or not record.get("live"):
        return None
    return record


def record_text(applied: str, live: Dict[str, Any]) -> str:
    return json.dumps({"digest": applied, "live": live["live"], "parts": live["parts"]}, sort_keys=True, indent=2)


def write_record(path: str, applied: str, live: Dict[str, Any], check_mode: bool = False) -> bool:
    """Write the record (mode 0600; not in ``check_mode``); return whether the file changed (would change)."""
    text = record_text(applied, live) + "\n"
    current = read_bytes(path)
    if current is not None and current.decode("utf-8", "replace") == text:
        return False
    if not check_mode:
        write_atomic(path, text, mode=0o600, dir_mode=0o700)
    return True


def applied_digest(record: Optional[Dict[str, Any]], live: Dict[str, Any]) -> Optional[str]:
    """The recorded digest when the node still runs what was recorded, else None (apply it again)."""
    if record is None or record.get("live") != live["live"]:
        return None
    return record["digest"]


def drifted_parts(record: Optional[Dict[str, Any]], live: Dict[str, Any]) -> List[str]:
    """Names of the fingerprint parts that differ from the record (all of them without a record)."""
    recorded = (record or {}).get("parts") or {}
    return sorted(name for name, value in live["parts"].items() if recorded.get(name) != value)


def key_file_mode_ok(path: str) -> bool:
    """Whether the private key file has mode 0600 (what kilo.mesh.wireguard_key sets)."""
    try:
        return (os.stat(path).st_mode & 0o777) == 0o600
    except OSError:
        return False
