# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Node-side WireGuard helpers shared by the kilo.mesh modules.

This module is PRIVATE to the kilo.mesh collection and has no stable API.

Everything here is plain data in, plain data out (stdlib only, Python 3.8). Functions that need to
run a program take a ``run`` callable: ``run(argv, data=None) -> (rc, stdout, stderr)``. They never
receive an AnsibleModule, so they can be unit tested without Ansible.

Private key material passes through some functions (key derivation, config rendering); none of them
logs or returns it in an error message.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

try:
    from ansible_collections.kilo.mesh.plugins.module_utils.topology.constants import KEY_BYTES, REDACTED
    from ansible_collections.kilo.mesh.plugins.module_utils.topology.parse import (
        ZERO_KEY,
        endpoint_problem,
        key_hint,
    )
    from ansible_collections.kilo.mesh.plugins.module_utils.topology.parse import decode_key as _decode_key
    from ansible_collections.kilo.mesh.plugins.module_utils.topology.render import interface_lines
except ImportError:  # plain pytest puts plugins/module_utils on sys.path (tests/conftest.py)
    from topology.constants import KEY_BYTES, REDACTED  # type: ignore[no-redef]
    from topology.parse import ZERO_KEY, endpoint_problem, key_hint  # type: ignore[no-redef]
    from topology.parse import decode_key as _decode_key  # type: ignore[no-redef]
    from topology.render import interface_lines  # type: ignore[no-redef]

Run = Callable[..., Tuple[int, str, str]]
Resolver = Callable[[str, int], List[str]]

_IFNAME_RE = re.compile(r"^[A-Za-z0-9_=+.-]{1,15}$")


class WireGuardError(ValueError):
    """Invalid input or a failed WireGuard operation; the message names the field and the fix."""


# --------------------------------------------------------------------------------------------- keys


def decode_key(value: Any) -> Optional[bytes]:
    """The 32 raw bytes of a base64 WireGuard key (surrounding whitespace ignored), or None when it is not one.

    The grammar is the engine's (``topology/parse.py``); this form suits key files read from disk.
    """
    if not isinstance(value, str):
        return None
    try:
        return _decode_key(value.strip())
    except ValueError:
        return None


def is_valid_key(value: Any) -> bool:
    return decode_key(value) is not None


def read_key_file(path: str) -> Optional[str]:
    """The text of a key file (its first 4 KiB; "" when not ASCII), None when it does not exist.

    Raises WireGuardError naming the path when it cannot be read. The text is never put in a message."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(4096)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise WireGuardError("cannot read {0}: {1}".format(path, exc.strerror)) from None
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        return ""


def _clamp(raw: bytes) -> bytes:
    """Clamp a Curve25519 scalar the way ``wg genkey`` does."""
    key = bytearray(raw)
    key[0] &= 248
    key[31] = (key[31] & 127) | 64
    return bytes(key)


def _cryptography_x25519() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import x25519
    except ImportError:
        return None
    return x25519


def generate_private_key(run: Run, x25519: Any = "auto") -> str:
    """Generate a new private key (base64). Uses ``cryptography`` if importable, else ``wg genkey``."""
    if x25519 == "auto":
        x25519 = _cryptography_x25519()
    if x25519 is not None:
        from cryptography.hazmat.primitives import serialization

        private = x25519.X25519PrivateKey.generate()
        raw = private.private_bytes(
            encoding=serialization.Encoding.Raw,
            format=serialization.PrivateFormat.Raw,
            encryption_algorithm=serialization.NoEncryption(),
        )
        return base64.b64encode(_clamp(raw)).decode("ascii")
    rc, out, err = run(["wg", "genkey"])
    key = out.strip()
    if rc != 0 or not is_valid_key(key):
        raise WireGuardError(
            "cannot generate a WireGuard key: the Python 'cryptography' library is missing and 'wg genkey' failed "
            "(rc={0}: {1}); install wireguard-tools or python3-cryptography on the node".format(rc, err.strip())
        )
    return key


def public_key_of(private_key: str, run: Run, x25519: Any = "auto") -> str:
    """Derive the public key of a base64 private key (``cryptography`` if importable, else ``wg pubkey``)."""
    raw = decode_key(private_key)
    if raw is None:
        raise WireGuardError("the private key is not a base64-encoded 32-byte WireGuard key")
    if x25519 == "auto":
        x25519 = _cryptography_x25519()
    if x25519 is not None:
        from cryptography.hazmat.primitives import serialization

        public = x25519.X25519PrivateKey.from_private_bytes(raw).public_key()
        pub_raw = public.public_bytes(encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw)
        return base64.b64encode(pub_raw).decode("ascii")
    rc, out, err = run(["wg", "pubkey"], data=private_key.strip())
    pub = out.strip()
    if rc != 0 or not is_valid_key(pub):
        raise WireGuardError(
            "cannot derive the public key: the Python 'cryptography' library is missing and 'wg pubkey' failed "
            "(rc={0}: {1}); install wireguard-tools or python3-cryptography on the node".format(rc, err.strip())
        )
    return pub


# ----------------------------------------------------------------------------------- validation


def validate_interface_name(name: str) -> str:
    if not _IFNAME_RE.match(name or ""):
        raise WireGuardError(
            "name: {0!r} is not a valid interface name (1-15 characters out of letters, digits and _=+.-)".format(name)
        )
    return name


def parse_endpoint(value: str) -> Tuple[str, int]:
    """``(host, port)`` of an endpoint in Kilo's grammar (``topology/parse.py``); raise ValueError with the reason."""
    endpoint, reason = endpoint_problem(value.strip())
    if endpoint is None:
        raise ValueError(reason)
    return endpoint.host, endpoint.port


def format_endpoint(host: str, port: int) -> str:
    return "[{0}]:{1}".format(host, port) if ":" in host else "{0}:{1}".format(host, port)


def _network(value: Any) -> str:
    return str(ipaddress.ip_network(str(value).strip(), strict=False))


def validate_peers(peers: Optional[Iterable[Dict[str, Any]]]) -> List[Dict[str, Any]]:
    """Check and normalise the peer list; raise WireGuardError naming the peer and the field.

    Returns dicts with keys name, public_key, allowed_ips (normalised networks, order kept, no duplicates),
    endpoint (normalised or None), persistent_keepalive (int, 0 = off), preshared_key (or None).
    """
    result: List[Dict[str, Any]] = []
    seen: Dict[str, str] = {}
    for index, peer in enumerate(peers or []):
        label = "peers[{0}]".format(index)
        if peer.get("name"):
            label += " ({0})".format(peer["name"])
        public_key = str(peer.get("public_key") or "").strip()
        if not is_valid_key(public_key):
            raise WireGuardError("{0}: public_key is invalid (not shown): {1}".format(label, key_hint("public")))
        if decode_key(public_key) == bytes(KEY_BYTES):
            raise WireGuardError("{0}: public_key is all zeros, which WireGuard ignores".format(label))
        label = "{0} (public_key {1})".format(label, public_key) if not peer.get("name") else label
        if public_key in seen:
            raise WireGuardError(
                "{0}: public_key is used by {1} already; each peer needs its own key".format(label, seen[public_key])
            )
        seen[public_key] = label
        if not peer.get("allowed_ips"):
            raise WireGuardError(
                "{0}: allowed_ips is empty: the peer would get no traffic (WireGuard routes nothing to it); give "
                "at least one CIDR such as 10.4.0.2/32, or leave the peer out".format(label)
            )
        allowed: List[str] = []
        for cidr in peer.get("allowed_ips") or []:
            try:
                net = _network(cidr)
            except ValueError:
                raise WireGuardError(
                    "{0}: allowed_ips entry {1!r} is not a CIDR (expected e.g. 10.4.0.2/32 or fd00::2/128)".format(
                        label, cidr
                    )
                ) from None
            if net not in allowed:
                allowed.append(net)
        endpoint = peer.get("endpoint")
        if endpoint not in (None, ""):
            try:
                endpoint = format_endpoint(*parse_endpoint(str(endpoint)))
            except ValueError as exc:
                raise WireGuardError(
                    "{0}: endpoint {1!r} is invalid: {2} (expected host:port, 1.2.3.4:51820 or [fd00::1]:51820)".format(
                        label, endpoint, exc
                    )
                ) from None
        else:
            endpoint = None
        keepalive = peer.get("persistent_keepalive") or 0
        if not isinstance(keepalive, int) or not 0 <= keepalive <= 65535:
            raise WireGuardError(
                "{0}: persistent_keepalive {1!r} must be an integer between 0 and 65535 seconds".format(
                    label, keepalive
                )
            )
        psk = peer.get("preshared_key")
        if psk in (None, ""):
            psk = None
        elif not is_valid_key(psk):
            # never echo the value: it is secret
            raise WireGuardError("{0}: preshared_key is invalid (not shown): {1}".format(label, key_hint("preshared")))
        result.append(
            {
                "name": peer.get("name"),
                "public_key": public_key,
                "allowed_ips": allowed,
                "endpoint": endpoint,
                "persistent_keepalive": keepalive,
                "preshared_key": psk.strip() if psk else None,
            }
        )
    return result


def validate_addresses(addresses: Optional[Iterable[str]]) -> List[str]:
    """Interface addresses keep their host bits (``10.4.0.1/16``)."""
    result: List[str] = []
    for value in addresses or []:
        try:
            iface = ipaddress.ip_interface(str(value).strip())
        except ValueError:
            raise WireGuardError(
                "address: {0!r} is not an address with prefix length (expected e.g. 10.4.0.1/16)".format(value)
            ) from None
        if "/" not in str(value):
            raise WireGuardError("address: {0!r} has no prefix length (expected e.g. 10.4.0.1/16)".format(value))
        text = iface.with_prefixlen
        if text not in result:
            result.append(text)
    return result


def _table_key(table: Any) -> str:
    """Route table as ``ip -j`` reports it: ``main`` for the main table, else the number as text."""
    if table in (None, "", "main", 254, "254"):
        return "main"
    return str(table)


def validate_table(table: Any) -> str:
    text = str(table if table is not None else "auto").strip()
    if text in ("auto", "off", "main") or (text.isdigit() and 0 < int(text) < 2**32):
        return text
    raise WireGuardError("table: {0!r} must be auto, off, main or a routing table number".format(table))


def validate_routes(routes: Optional[Iterable[Dict[str, Any]]], ifname: str) -> List[Dict[str, Any]]:
    """Normalise the extra routes (keys dst, via, src, onlink, table)."""
    result: List[Dict[str, Any]] = []
    for index, route in enumerate(routes or []):
        label = "routes[{0}]".format(index)
        try:
            dst = _network(route.get("dst"))
        except ValueError:
            raise WireGuardError(
                "{0}: dst {1!r} is not a CIDR (expected e.g. 10.2.1.0/24)".format(label, route.get("dst"))
            ) from None
        label = "{0} (dst {1})".format(label, dst)
        dev = route.get("dev")
        if dev not in (None, "", ifname):
            raise WireGuardError(
                "{0}: dev {1!r} is not the WireGuard interface {2!r}; this module only manages routes over its own "
                "interface, leave dev unset or filter those routes out".format(label, dev, ifname)
            )
        out: Dict[str, Any] = {
            "dst": dst,
            "via": None,
            "src": None,
            "onlink": bool(route.get("onlink")),
            "table": "main",
        }
        for field in ("via", "src"):
            value = route.get(field)
            if value in (None, ""):
                continue
            try:
                addr = ipaddress.ip_address(str(value).strip())
            except ValueError:
                raise WireGuardError("{0}: {1} {2!r} is not an IP address".format(label, field, value)) from None
            if addr.version != ipaddress.ip_network(dst).version:
                raise WireGuardError("{0}: {1} {2} is not of the same IP version as dst".format(label, field, addr))
            out[field] = str(addr)
        table = route.get("table")
        if table not in (None, ""):
            try:
                out["table"] = _table_key(validate_table(table))
            except WireGuardError:
                raise WireGuardError(
                    "{0}: table {1!r} must be main or a routing table number".format(label, table)
                ) from None
            if out["table"] in ("auto", "off"):
                raise WireGuardError("{0}: table {1!r} must be main or a routing table number".format(label, table))
        result.append(out)
    return result


# ------------------------------------------------------------------------------------- rendering


def render_config(
    private_key: str,
    peers: Sequence[Dict[str, Any]],
    addresses: Sequence[str] = (),
    listen_port: Optional[int] = None,
    mtu: Optional[int] = None,
    table: str = "auto",
    header: str = "",
    post_up: Sequence[str] = (),
) -> str:
    """Render a wg-quick configuration (peers in the given order); ``post_up``: wg-quick PostUp commands."""
    lines: List[str] = []
    if header:
        lines.extend("# " + line if line else "#" for line in header.splitlines())
    lines.append("[Interface]")
    lines.extend(
        interface_lines(
            address=addresses,
            private_key=private_key.strip(),
            listen_port=listen_port,
            mtu=mtu,
            table=None if table == "auto" else table,
            post_up=post_up,
        )
    )
    for peer in peers:
        lines.extend(_render_peer(peer))
    return "\n".join(lines) + "\n"


def render_setconf(private_key: str, peers: Sequence[Dict[str, Any]], listen_port: Optional[int] = None) -> str:
    """Render what ``wg-quick strip`` would print: the part of the config that ``wg syncconf`` reads."""
    lines = ["[Interface]"] + interface_lines(private_key=private_key.strip(), listen_port=listen_port)
    for peer in peers:
        if not peer.get("preshared_key"):
            # syncconf keeps a live preshared key that the file does not mention; the all-zero key clears it
            peer = dict(peer, preshared_key=ZERO_KEY)
        lines.extend(line for line in _render_peer(peer) if not line.startswith("#"))
    return "\n".join(lines) + "\n"


def _render_peer(peer: Dict[str, Any]) -> List[str]:
    lines = ["", "[Peer]"]
    if peer.get("name"):
        lines.insert(1, "# " + str(peer["name"]).replace("\n", " "))
    lines.append("PublicKey = " + peer["public_key"])
    if peer.get("preshared_key"):
        lines.append("PresharedKey = " + peer["preshared_key"])
    if peer.get("allowed_ips"):
        lines.append("AllowedIPs = " + ", ".join(peer["allowed_ips"]))
    if peer.get("endpoint"):
        lines.append("Endpoint = " + peer["endpoint"])
    if peer.get("persistent_keepalive"):
        lines.append("PersistentKeepalive = {0}".format(peer["persistent_keepalive"]))
    return lines


_SECRET_LINE_RE = re.compile(r"^(\s*)(PrivateKey|PresharedKey)(\s*=\s*)(.*?)\s*$", re.IGNORECASE)


def redact_config(text: Optional[str], describe_private: Optional[Callable[[str], Optional[str]]] = None) -> str:
    """Replace every PrivateKey / PresharedKey value by a placeholder.

    ``describe_private(value)`` may return the public key belonging to a private key; the placeholder
    then names it, so a diff still shows that the key changed without showing the key.
    """
    if not text:
        return ""
    out: List[str] = []
    for line in text.splitlines():
        match = _SECRET_LINE_RE.match(line)
        if match:
            placeholder = REDACTED
            if match.group(2).lower() == "privatekey" and describe_private is not None:
                public = describe_private(match.group(4))
                if public:
                    placeholder = "{0} public key {1}".format(REDACTED, public)
            line = "{0}{1}{2}{3}".format(match.group(1), match.group(2), match.group(3), placeholder)
        out.append(line)
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def secret_values(text: str) -> List[str]:
    """The values of the PrivateKey / PresharedKey lines of a configuration (to register them as no_log)."""
    return [match.group(4) for match in map(_SECRET_LINE_RE.match, text.splitlines()) if match and match.group(4)]


_CONF_LINE_RE = re.compile(r"^\s*([A-Za-z]+)\s*=\s*(.*?)\s*$")
_CONF_SECTION_RE = re.compile(r"^\s*\[\s*([A-Za-z]+)\s*\]\s*$")
# key (lower case) -> field; list fields may repeat and hold comma-separated values, as in wg-quick
_CONF_INTERFACE_KEYS = {
    "address": "address",
    "dns": "dns",
    "mtu": "mtu",
    "listenport": "listen_port",
    "privatekey": "private_key",
    "table": "table",
    "fwmark": "fwmark",
}
_CONF_PEER_KEYS = {
    "publickey": "public_key",
    "allowedips": "allowed_ips",
    "endpoint": "endpoint",
    "persistentkeepalive": "persistent_keepalive",
    "presharedkey": "preshared_key",
}
_CONF_LISTS = ("address", "dns", "allowed_ips")
_CONF_INTS = ("mtu", "listen_port", "persistent_keepalive")


def parse_config(text: str) -> Dict[str, Any]:
    """Parse a WireGuard configuration (wg-quick format; ``wg setconf`` files are a subset).

    Returns ``{"interface": {address, dns, mtu, listen_port, private_key, table, fwmark},
    "peers": [{public_key, allowed_ips, endpoint, persistent_keepalive, preshared_key}]}``; absent
    fields are ``None`` (lists empty, keepalive 0). Section and key names are case-insensitive,
    ``#`` starts a comment. Keys this collection does not apply (wg-quick's PreUp/PostUp/... hooks,
    SaveConfig) and malformed lines raise WireGuardError naming the line number and key, never a
    value (the text holds private keys).
    """
    interface: Optional[Dict[str, Any]] = None
    peers: List[Dict[str, Any]] = []
    current: Optional[Dict[str, Any]] = None
    keys: Dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        section = _CONF_SECTION_RE.match(line)
        if section:
            name = section.group(1).lower()
            if name == "interface":
                if interface is not None:
                    raise WireGuardError("line {0}: a second [Interface] section".format(number))
                interface = {"address": [], "dns": []}
                current, keys = interface, _CONF_INTERFACE_KEYS
            elif name == "peer":
                current, keys = {"allowed_ips": []}, _CONF_PEER_KEYS
                peers.append(current)
            else:
                raise WireGuardError(
                    "line {0}: unknown section [{1}] (expected [Interface] or [Peer])".format(number, section.group(1))
                )
            continue
        match = _CONF_LINE_RE.match(line)
        if not match:
            raise WireGuardError("line {0}: expected 'Key = Value' or a [Section]".format(number))
        if current is None:
            raise WireGuardError("line {0}: {1} before the first [Interface] or [Peer]".format(number, match.group(1)))
        field = keys.get(match.group(1).lower())
        if field is None:
            raise WireGuardError(
                "line {0}: {1} is not supported here (known: {2})".format(
                    number, match.group(1), ", ".join(sorted(keys))
                )
            )
        value: Any = match.group(2)
        if field in _CONF_LISTS:
            current[field].extend(item.strip() for item in value.split(",") if item.strip())
            continue
        if field in current:
            raise WireGuardError("line {0}: {1} appears twice in one section".format(number, match.group(1)))
        if field == "persistent_keepalive" and value.lower() == "off":
            value = 0
        elif field in _CONF_INTS:
            if not value.isdigit():
                raise WireGuardError("line {0}: {1} must be a number".format(number, match.group(1)))
            value = int(value)
        current[field] = value
    for index, peer in enumerate(peers, start=1):
        if not peer.get("public_key"):
            raise WireGuardError("[Peer] number {0} has no PublicKey".format(index))
    result_interface: Dict[str, Any] = dict.fromkeys(_CONF_INTERFACE_KEYS.values())
    result_interface.update(interface or {"address": [], "dns": []})
    return {
        "interface": result_interface if interface is not None else None,
        "peers": [
            {
                "public_key": peer["public_key"],
                "allowed_ips": peer["allowed_ips"],
                "endpoint": peer.get("endpoint"),
                "persistent_keepalive": peer.get("persistent_keepalive", 0),
                "preshared_key": peer.get("preshared_key"),
            }
            for peer in peers
        ],
    }


# ------------------------------------------------------------------------------------ live state


def parse_dump(text: str) -> Dict[str, Any]:
    """Parse ``wg show IF dump``. The private key column is dropped on purpose.

    Returns ``{"public_key", "listen_port", "fwmark", "peers": {public_key: {...}}}`` where each peer has
    preshared_key (None when unset), endpoint (None when unknown), allowed_ips (list), latest_handshake,
    rx, tx and persistent_keepalive (0 when off).
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise WireGuardError("'wg show dump' printed nothing; is this a WireGuard interface?")
    head = lines[0].split("\t")
    if len(head) != 4:
        raise WireGuardError("unexpected 'wg show dump' interface line with {0} fields (expected 4)".format(len(head)))
    result: Dict[str, Any] = {
        "public_key": None if head[1] == "(none)" else head[1],
        "listen_port": int(head[2]) if head[2].isdigit() else 0,
        "fwmark": None if head[3] == "off" else head[3],
        "peers": {},
    }
    for line in lines[1:]:
        fields = line.split("\t")
        if len(fields) != 8:
            raise WireGuardError("unexpected 'wg show dump' peer line with {0} fields (expected 8)".format(len(fields)))
        pub, psk, endpoint, allowed, handshake, rx, tx, keepalive = fields
        result["peers"][pub] = {
            "public_key": pub,
            "preshared_key": None if psk == "(none)" else psk,
            "endpoint": None if endpoint == "(none)" else endpoint,
            "allowed_ips": [] if allowed == "(none)" else [_network(a) for a in allowed.split(",") if a],
            "latest_handshake": int(handshake),
            "rx": int(rx),
            "tx": int(tx),
            "persistent_keepalive": 0 if keepalive == "off" else int(keepalive),
        }
    return result


def endpoint_matches(desired: Optional[str], current: Optional[str], resolve: Optional[Resolver]) -> bool:
    if desired is None:
        # no configured endpoint: whatever the peer roamed to is fine
        return True
    if current is None:
        return False
    host, port = parse_endpoint(desired)
    cur_host, cur_port = parse_endpoint(current)
    if port != cur_port:
        return False
    try:
        return ipaddress.ip_address(host) == ipaddress.ip_address(cur_host)
    except ValueError:
        pass
    if resolve is None:
        return False
    try:
        candidates = resolve(host, port)
    except OSError:
        return False
    return any(ipaddress.ip_address(c) == ipaddress.ip_address(cur_host) for c in candidates)


def diff_peers(
    desired: Sequence[Dict[str, Any]], current: Dict[str, Dict[str, Any]], resolve: Optional[Resolver] = None
) -> Tuple[List[str], List[str], List[str]]:
    """Compare validated peers with ``parse_dump()["peers"]``; return public keys (added, removed, updated)."""
    wanted = {peer["public_key"]: peer for peer in desired}
    added = [key for key in wanted if key not in current]
    removed = sorted(key for key in current if key not in wanted)
    updated = []
    for key, peer in wanted.items():
        live = current.get(key)
        if live is None:
            continue
        if (
            sorted(peer["allowed_ips"]) != sorted(live["allowed_ips"])
            or (peer["preshared_key"] or None) != live["preshared_key"]
            or peer["persistent_keepalive"] != live["persistent_keepalive"]
            or not endpoint_matches(peer["endpoint"], live["endpoint"], resolve)
        ):
            updated.append(key)
    return added, removed, updated


def parse_link(ip_json: str) -> Dict[str, Any]:
    """``ip -j addr show dev IF`` -> {"up": bool, "mtu": int, "addresses": [global addresses with prefix]}."""
    data = json.loads(ip_json or "[]")
    if not data:
        raise WireGuardError("'ip -j addr show' printed no interface")
    link = data[0]
    addresses = []
    for info in link.get("addr_info", []):
        if info.get("scope") not in (None, "global") or "local" not in info:
            continue
        addresses.append(ipaddress.ip_interface("{0}/{1}".format(info["local"], info["prefixlen"])).with_prefixlen)
    return {"up": "UP" in link.get("flags", []), "mtu": link.get("mtu"), "addresses": addresses}


def diff_addresses(desired: Sequence[str], current: Sequence[str]) -> Tuple[List[str], List[str]]:
    add = [a for a in desired if a not in current]
    remove = [a for a in current if a not in desired]
    return add, remove


def peer_routes(
    peers: Sequence[Dict[str, Any]], addresses: Sequence[str], table: str
) -> Tuple[List[Dict[str, Any]], List[str]]:
    """Routes wg-quick would add for the peers' allowed IPs (``Table``), plus warnings.

    Allowed IPs already covered by an interface address's connected prefix get no route; with
    ``table`` ``auto`` a ``/0`` allowed IP gets none either (wg-quick uses policy routing there, which this
    module does not do): set ``table`` to a number to route it.
    """
    warnings: List[str] = []
    if table == "off":
        return [], warnings
    connected = [ipaddress.ip_interface(a).network for a in addresses]
    result: List[Dict[str, Any]] = []
    seen = set()
    for peer in peers:
        for cidr in peer["allowed_ips"]:
            net = ipaddress.ip_network(cidr)
            if net.prefixlen == 0 and table == "auto":
                warnings.append(
                    "allowed IP {0} of peer {1} gets no route with table auto; set table to a routing table number "
                    "to route it".format(cidr, peer["public_key"])
                )
                continue
            if any(net.version == c.version and net.subnet_of(c) for c in connected):  # type: ignore[arg-type]
                continue
            key = (cidr, _table_key(None if table == "auto" else table))
            if key in seen:
                continue
            seen.add(key)
            result.append({"dst": cidr, "via": None, "src": None, "onlink": False, "table": key[1]})
    return result, warnings


def merge_routes(*groups: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Later groups win for the same (dst, table)."""
    merged: Dict[Tuple[str, str], Dict[str, Any]] = {}
    for group in groups:
        for route in group:
            merged[(route["dst"], route["table"])] = route
    return list(merged.values())


def parse_routes(ip_json: str) -> List[Dict[str, Any]]:
    """``ip -j route show table all proto N dev IF`` -> normalised route dicts."""
    result = []
    for entry in json.loads(ip_json or "[]"):
        dst = entry.get("dst", "default")
        if dst == "default":
            dst = "::/0" if ":" in entry.get("gateway", "") or entry.get("family") == "inet6" else "0.0.0.0/0"
        result.append(
            {
                "dst": _network(dst),
                "via": entry.get("gateway"),
                "src": entry.get("prefsrc"),
                "onlink": "onlink" in entry.get("flags", []),
                "table": _table_key(entry.get("table")),
            }
        )
    return result


def route_key(route: Dict[str, Any]) -> Tuple[str, str]:
    return route["dst"], route["table"]


def diff_routes(
    desired: Sequence[Dict[str, Any]], current: Sequence[Dict[str, Any]]
) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Return (routes to add or replace, routes to remove). Only routes in ``current`` are ever removed."""
    current_by_key = {route_key(r): r for r in current}
    wanted_keys = {route_key(r) for r in desired}
    add = [r for r in desired if current_by_key.get(route_key(r)) != r]
    remove = [r for r in current if route_key(r) not in wanted_keys]
    return add, remove


def route_argv(action: str, route: Dict[str, Any], ifname: str, protocol: int) -> List[str]:
    """``ip route replace|del`` argument vector for one route."""
    family = "-6" if ":" in route["dst"] else "-4"
    argv = ["ip", family, "route", action, route["dst"]]
    if route.get("via"):
        argv += ["via", route["via"]]
    argv += ["dev", ifname, "proto", str(protocol)]
    if route.get("table") not in (None, "main"):
        argv += ["table", str(route["table"])]
    if action != "del":
        if route.get("src"):
            argv += ["src", route["src"]]
        if route.get("onlink"):
            argv.append("onlink")
    return argv


def format_route(route: Dict[str, Any]) -> str:
    text = route["dst"]
    if route.get("via"):
        text += " via " + route["via"]
    if route.get("src"):
        text += " src " + route["src"]
    if route.get("onlink"):
        text += " onlink"
    if route.get("table") not in (None, "main"):
        text += " table {0}".format(route["table"])
    return text


def describe_live(state: Optional[Dict[str, Any]]) -> str:
    """Text view of a live interface for ``--diff`` (no private or preshared key material)."""
    if state is None:
        return "(interface absent)\n"
    lines = [
        "link: {0}".format("up" if state.get("up") else "down"),
        "public key: {0}".format(state.get("public_key") or "(none)"),
    ]
    if state.get("listen_port") is not None:
        lines.append("listen port: {0}".format(state["listen_port"]))
    if state.get("mtu") is not None:
        lines.append("mtu: {0}".format(state["mtu"]))
    for address in state.get("addresses", []):
        lines.append("address: " + address)
    for peer in sorted(state.get("peers", []), key=lambda p: p["public_key"]):
        lines.append("peer: " + peer["public_key"])
        lines.append("  allowed ips: " + (", ".join(sorted(peer["allowed_ips"])) or "(none)"))
        if peer.get("endpoint"):
            lines.append("  endpoint: " + peer["endpoint"])
        if peer.get("persistent_keepalive"):
            lines.append("  persistent keepalive: {0}".format(peer["persistent_keepalive"]))
        if peer.get("preshared_key"):
            lines.append("  preshared key: " + REDACTED)
    for route in sorted(state.get("routes", []), key=route_key):
        lines.append("route: " + format_route(route))
    return "\n".join(lines) + "\n"
