# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""What the kilo.mesh.wireguard role needs to know about a node, read in one pass, and what it must do.

This module is PRIVATE to the kilo.mesh collection and has no stable API.

Plain data in, plain data out (stdlib only, Python 3.8). Functions that run a program take a ``run``
callable ``run(argv) -> (rc, stdout, stderr)``; functions that read a file take ``read(path) -> str or
None`` (None: missing or unreadable). Nothing here changes the node: :func:`probe` only reads, and
:func:`plan` turns the readings into the list of actions the role runs. Every decision errs on the side
of acting: an action is left out only when the reading proves it has nothing to do, because the tasks
that act are idempotent themselves.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

Run = Callable[[Sequence[str]], Tuple[int, str, str]]
Read = Callable[[str], Optional[str]]

FIREWALLS = ("firewalld", "ufw", "iptables", "nftables")
SYSCTLS = {"ipv4": "net.ipv4.ip_forward", "ipv6": "net.ipv6.conf.all.forwarding"}


# -- distribution and packages ---------------------------------------------------------------------


def package_set_candidates(os_facts: Dict[str, Any]) -> List[str]:
    """Keys tried in order: ``<distribution>_<major>``, ``<distribution>``, ``<os_family>``."""
    distribution = str(os_facts.get("distribution") or "unknown")
    major = str(os_facts.get("distribution_major_version") or "0")
    family = str(os_facts.get("os_family") or "unknown")
    found = []  # type: List[str]
    for key in ("%s_%s" % (distribution, major), distribution, family):
        if key not in found:
            found.append(key)
    return found


def choose_package_set(os_facts: Dict[str, Any], package_sets: Dict[str, Any]) -> Optional[str]:
    """The first key of :func:`package_set_candidates` that ``package_sets`` has, else None."""
    for key in package_set_candidates(os_facts):
        if key in package_sets:
            return key
    return None


def parse_dpkg_status(text: str) -> List[str]:
    """Names of the packages ``/var/lib/dpkg/status`` lists as installed (``Status: install ok installed``)."""
    installed = []
    for stanza in re.split(r"\n\s*\n", text):
        name = status = None
        for line in stanza.splitlines():
            if line.startswith("Package:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("Status:"):
                status = line.split(":", 1)[1].split()
        if name and status and status[-1] == "installed":
            installed.append(name)
    return installed


DATABASES = {"Debian": "dpkg", "RedHat": "rpm", "Suse": "rpm", "Archlinux": "pacman"}


def installed_packages(
    names: Sequence[str], os_family: Optional[str], run: Run, read: Read, which: Callable[[str], Optional[str]]
) -> Tuple[Optional[str], List[str]]:
    """Which of ``names`` the package database lists as installed: ``(database, installed names)``.

    The database of the OS family (any one found for other families) is read directly: the dpkg status
    file, ``rpm -q``, ``pacman -Q``; never through a package manager run. ``database`` is None when there
    is none; every name then counts as missing.
    """
    if not names:
        return None, []
    order = [DATABASES[os_family]] if os_family in DATABASES else ["dpkg", "rpm", "pacman"]
    for database in order:
        if database == "dpkg":
            text = read("/var/lib/dpkg/status")
            if text is not None:
                found = set(parse_dpkg_status(text))
                return "dpkg", [name for name in names if name in found]
            continue
        tool = which(database)
        if not tool:
            continue
        if database == "rpm":
            # installed: the bare name; missing: "package NAME is not installed"
            _rc, out, _err = run([tool, "-q", "--queryformat", "%{NAME}\n"] + list(names))
            found = {line.strip() for line in out.splitlines() if line.strip() and " " not in line.strip()}
        else:
            # installed: "NAME VERSION"; missing: an error on stderr
            _rc, out, _err = run([tool, "-Q"] + list(names))
            found = {line.split()[0] for line in out.splitlines() if len(line.split()) == 2}
        return database, [name for name in names if name in found]
    return None, []


def wanted_packages(package_set: Dict[str, Any], userspace: bool, firewall: str, extra: Sequence[str]) -> List[str]:
    """The packages the role installs: base, wireguard-go when userspace, an explicit firewall's, extras."""
    names = list(package_set.get("packages") or [])
    if userspace:
        names += list(package_set.get("userspace_packages") or [])
    if firewall not in ("auto", "none"):
        names += list((package_set.get("firewall_packages") or {}).get(firewall) or [])
    names += list(extra)
    unique = []  # type: List[str]
    for name in names:
        if name not in unique:
            unique.append(name)
    return unique


# -- firewalls -------------------------------------------------------------------------------------


def strip_nft_table(ruleset: str, table: str) -> str:
    """``nft list ruleset`` without the block of ``table inet <table>``."""
    return re.sub(r"(?s)table inet %s \{.*?\n\}" % re.escape(table), "", ruleset)


def detect_firewall(readings: Dict[str, Tuple[int, str]], table: str) -> str:
    """The first active one of firewalld, ufw, iptables and nftables, else ``none``.

    ``readings`` maps each firewall to ``(rc, stdout)`` of ``firewall-cmd --state``, ``ufw status``,
    ``iptables -w -S INPUT`` and ``nft list ruleset``; a missing entry means the tool is absent.
    iptables counts when INPUT has rules or a non-ACCEPT policy, nftables when a table other than the
    role's own ``table`` has an input hook.
    """

    def ok(name: str) -> Optional[str]:
        rc, out = readings.get(name, (127, ""))
        return out if rc == 0 else None

    out = ok("firewalld")
    if out is not None and out.strip() == "running":
        return "firewalld"
    out = ok("ufw")
    if out is not None and "Status: active" in out:
        return "ufw"
    out = ok("iptables")
    if out is not None and [line for line in out.splitlines() if line.strip() and line.strip() != "-P INPUT ACCEPT"]:
        return "iptables"
    out = ok("nftables")
    if out is not None and "hook input" in strip_nft_table(out, table):
        return "nftables"
    return "none"


def iptables_rule(port: int, comment: str) -> List[str]:
    """The INPUT rule the role's iptables task inserts, as ``iptables -C`` arguments."""
    rule = ["INPUT", "-p", "udp", "--destination-port", str(port)]
    return rule + ["-m", "comment", "--comment", comment, "-j", "ACCEPT"]


def nft_table_open(listing: str, port: int) -> bool:
    """Whether ``nft list table inet <table>`` output accepts the port."""
    return ("udp dport %d accept" % port) in listing


def ufw_rule_present(added: str, port: int, comment: str) -> bool:
    """Whether ``ufw show added`` lists the role's allow rule."""
    wanted = {"ufw allow %d/udp comment '%s'" % (port, comment), 'ufw allow %d/udp comment "%s"' % (port, comment)}
    return any(line.strip() in wanted for line in added.splitlines())


# -- forwarding ------------------------------------------------------------------------------------


def sysctl_file_has(text: Optional[str], name: str, value: str = "1") -> bool:
    """Whether a sysctl.d file sets ``name`` to ``value`` (last assignment wins, as in ``sysctl -p``)."""
    if text is None:
        return False
    found = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, val = line.split("=", 1)
        if key.strip().replace("/", ".") == name:
            found = val.strip()
    return found == value


# -- the probe -------------------------------------------------------------------------------------


def probe(params: Dict[str, Any], os_facts: Dict[str, Any], run: Run, read: Read, which, exists) -> Dict[str, Any]:
    """Read everything the role decides on; ``exists(path) -> bool``, ``which(name) -> path or None``.

    ``params`` are the module's options. Only reads: no program run here changes the node.
    """
    result = {"os": {k: os_facts.get(k) for k in ("distribution", "distribution_major_version", "os_family")}}
    package_sets = params.get("package_sets") or {}
    key = choose_package_set(os_facts, package_sets)
    result["package_set"] = key

    loaded = exists("/sys/module/wireguard")
    loadable = loaded
    if not loaded and params["implementation"] != "userspace":
        modprobe = which("modprobe")
        loadable = bool(modprobe) and run([modprobe, "--dry-run", "--quiet", "wireguard"])[0] == 0
    implementation = params["implementation"]
    userspace = implementation == "userspace" or (implementation == "auto" and not loadable)
    result["kernel_module"] = {"loaded": loaded, "loadable": loadable}
    result["userspace"] = userspace
    result["tun"] = exists("/dev/net/tun") if userspace else None

    result["firewall"] = probe_firewall(params, run, read, which)

    forwarding = []
    if params["ip_forward"]:
        forwarding.append(SYSCTLS["ipv4"])
    if params["ipv6_forward"]:
        forwarding.append(SYSCTLS["ipv6"])
    sysctl_text = read(params["sysctl_file"]) if forwarding else None
    result["sysctl"] = {
        name: {
            "live": (read("/proc/sys/" + name.replace(".", "/")) or "").strip() or None,
            "persisted": sysctl_file_has(sysctl_text, name),
        }
        for name in forwarding
    }
    result["sysctl_dir_exists"] = exists(params["sysctl_file"].rsplit("/", 1)[0] or "/") if forwarding else None

    wanted = wanted_packages(package_sets.get(key) or {}, userspace, params["firewall"], params["extra_packages"])
    database, installed = installed_packages(wanted, os_facts.get("os_family"), run, read, which)
    result["packages"] = {"wanted": wanted, "database": database, "installed": installed}
    return result


def probe_firewall(params: Dict[str, Any], run: Run, read: Read, which) -> Dict[str, Any]:
    """Detect the firewall (``firewall: auto``) and check whether the port is already open in it."""
    table = params["nftables_table"]
    readings = {}  # type: Dict[str, Tuple[int, str]]
    tools = {name: which(name) for name in ("firewall-cmd", "ufw", "iptables", "ip6tables", "nft")}
    backend = params["firewall"]
    if backend == "auto":
        commands = {
            "firewalld": ["firewall-cmd", "--state"],
            "ufw": ["ufw", "status"],
            "iptables": ["iptables", "-w", "-S", "INPUT"],
            "nftables": ["nft", "list", "ruleset"],
        }
        for name in FIREWALLS:
            argv = commands[name]
            if tools[argv[0]]:
                rc, out, _err = run([tools[argv[0]]] + argv[1:])
                readings[name] = (rc, out)
                if detect_firewall(readings, table) == name:
                    break  # an earlier firewall wins: the later ones need not be read
        backend = detect_firewall(readings, table)
    return {"backend": backend, "open": port_open(backend, params, run, read, tools)}


def port_open(backend: str, params: Dict[str, Any], run: Run, read: Read, tools: Dict[str, Any]) -> bool:
    """Whether the role's rule for the port is in place in ``backend`` (``none``: nothing to open)."""
    port, comment = params["port"], params["firewall_comment"]
    if backend == "none":
        return True
    if backend == "nftables":
        if not tools["nft"] or read(params["nftables_file"]) != params["nftables_content"]:
            return False
        rc, out, _err = run([tools["nft"], "list", "table", "inet", params["nftables_table"]])
        return rc == 0 and nft_table_open(out, port)
    if backend == "iptables":
        versions = ["iptables"] + (["ip6tables"] if params["firewall_ipv6"] else [])
        for tool in versions:
            if not tools[tool] or run([tools[tool], "-w", "10", "-C"] + iptables_rule(port, comment))[0] != 0:
                return False
        return True
    if backend == "firewalld":
        if not tools["firewall-cmd"]:
            return False
        for extra in ([], ["--permanent"]):
            query = ["--zone", params["firewall_zone"], "--query-port", "%d/udp" % port]
            argv = [tools["firewall-cmd"]] + extra + query
            if run(argv)[0] != 0:
                return False
        return True
    if backend == "ufw":
        if not tools["ufw"]:
            return False
        rc, out, _err = run([tools["ufw"], "show", "added"])
        return rc == 0 and ufw_rule_present(out, port, comment)
    return False


def plan(readings: Dict[str, Any], params: Dict[str, Any]) -> Dict[str, Any]:
    """The actions the role runs, from :func:`probe`'s readings. Empty lists / false: nothing to do."""
    packages = readings["packages"]
    if params["packages_state"] == "latest":
        install = list(packages["wanted"])
    else:
        install = [name for name in packages["wanted"] if name not in packages["installed"]]
    sysctl = [name for name, state in readings["sysctl"].items() if state["live"] != "1" or not state["persisted"]]
    return {
        "install": install,
        "modprobe": not readings["userspace"] and not readings["kernel_module"]["loaded"],
        "firewall": not readings["firewall"]["open"],
        "sysctl_dir": bool(sysctl) and not readings["sysctl_dir_exists"],
        "sysctl": sysctl,
    }
