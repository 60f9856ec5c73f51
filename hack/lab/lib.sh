# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
#
# Shared settings and helpers of the local multi-location lab (sourced by up.sh, down.sh, hx,
# add-node.sh). Everything the lab creates is named after KILO_LAB_NAME so several labs coexist.

LAB_NAME=${KILO_LAB_NAME:-kl}
if [[ ! $LAB_NAME =~ ^[a-z][a-z0-9]{0,9}$ ]]; then
  echo "lab: KILO_LAB_NAME='$LAB_NAME' is invalid; use 1-10 lower-case letters/digits starting with a letter" >&2
  exit 2
fi
LAB_DIR=${KILO_LAB_DIR:-/tmp/kilo-lab-$LAB_NAME}
# persistent mount/UTS namespace files; the directory must be a private mount
LAB_RUN=/run/kilo-lab-$LAB_NAME
LAB_HACK=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# the namespace holding every bridge of the lab (WAN + one LAN bridge per location)
LAB_SW=$LAB_NAME-sw
# WAN: documentation range, it exists only on the lab's br-wan; .1 is a dead-end default gateway
LAB_WAN_NET=198.51.100
LAB_WAN_GW=$LAB_WAN_NET.1
LAB_WG_PORT=51820
LAB_KEEPALIVE=25
# One host runs Ansible's modules with another Python than the others (Debian's /usr/bin/python3) and the
# controller: the oldest that every supported ansible-core accepts on managed nodes, 3.9 (README,
# "Requirements"), so every lab scenario runs the modules on two interpreters.
#   KILO_LAB_OLD_PYTHON       that interpreter (default: python3.9 in /usr/bin, /usr/local/bin or pyenv)
#   KILO_LAB_OLD_PYTHON_HOST  the host (default dc2-a; "none": every host uses /usr/bin/python3)
LAB_OLD_PYTHON_VERSION=3.9
LAB_OLD_PYTHON_HOST=${KILO_LAB_OLD_PYTHON_HOST:-dc2-a}

lab_log() { echo "lab[$LAB_NAME]: $*" >&2; }
lab_die() {
  echo "lab[$LAB_NAME]: ERROR: $*" >&2
  exit 1
}

lab_ns_exists() { [[ -e /run/netns/$1 ]]; }

# lab_old_python -> the interpreter of LAB_OLD_PYTHON_HOST (dies with the fix when there is none)
lab_old_python() {
  local candidate v=$LAB_OLD_PYTHON_VERSION
  if [[ -n ${KILO_LAB_OLD_PYTHON:-} ]]; then
    [[ -x $KILO_LAB_OLD_PYTHON ]] || lab_die "KILO_LAB_OLD_PYTHON='$KILO_LAB_OLD_PYTHON' is not an executable"
    echo "$KILO_LAB_OLD_PYTHON"
    return
  fi
  for candidate in "/usr/bin/python$v" "/usr/local/bin/python$v" \
    "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/"python$v" /root/.pyenv/versions/"$v".*/bin/"python$v"; do
    if [[ -x $candidate ]]; then
      echo "$candidate"
      return
    fi
  done
  lab_die "no Python $v for lab host $LAB_OLD_PYTHON_HOST: install one (e.g. pyenv install $v)," \
    "set KILO_LAB_OLD_PYTHON=/path/to/python$v, or KILO_LAB_OLD_PYTHON_HOST=none"
}

# locations file: NAME INDEX LAN_PREFIX(a.b.c) KIND(public|nat)
# nodes file:     NAME LOCATION INDEX
lab_default_tables() {
  cat >"$LAB_DIR/locations" <<LOCS
dc1 1 10.10.1 public
dc2 2 10.10.2 public
home 3 192.168.77 nat
LOCS
  cat >"$LAB_DIR/nodes" <<NODES
dc1-a dc1 1
dc1-b dc1 2
dc2-a dc2 3
home-a home 4
NODES
}

# lab_location NAME -> prints "INDEX LAN_PREFIX KIND" (empty if unknown)
lab_location() { awk -v n="$1" '$1 == n { print $2, $3, $4 }' "$LAB_DIR/locations"; }

# create the switch namespace with the WAN bridge
lab_switch_up() {
  lab_ns_exists "$LAB_SW" && return 0
  ip netns add "$LAB_SW"
  ip -n "$LAB_SW" link set lo up
  ip -n "$LAB_SW" link add br-wan type bridge
  ip -n "$LAB_SW" addr add "$LAB_WAN_GW/24" dev br-wan
  ip -n "$LAB_SW" link set br-wan up
}

# lab_veth NS IFNAME ADDR/PREFIX BRIDGE SWITCH_PORT: a veth from NS to a bridge of the switch namespace
lab_veth() {
  local ns=$1 ifname=$2 addr=$3 bridge=$4 port=$5
  ip link add "$ifname" netns "$ns" type veth peer name "$port" netns "$LAB_SW"
  ip -n "$LAB_SW" link set "$port" master "$bridge" up
  ip -n "$ns" addr add "$addr" dev "$ifname"
  ip -n "$ns" link set "$ifname" up
}

# lab_location_up NAME: LAN bridge, and for a NAT location its router namespace
lab_location_up() {
  local name=$1 idx prefix kind gw
  read -r idx prefix kind <<<"$(lab_location "$name")"
  [[ -n $idx ]] || lab_die "unknown location '$name' (known: $(awk '{print $1}' "$LAB_DIR/locations" | xargs))"
  if ! ip -n "$LAB_SW" link show "br-$name" >/dev/null 2>&1; then
    ip -n "$LAB_SW" link add "br-$name" type bridge
    ip -n "$LAB_SW" link set "br-$name" up
  fi
  [[ $kind == nat ]] || return 0
  gw=$LAB_NAME-$name-gw
  lab_ns_exists "$gw" && return 0
  ip netns add "$gw"
  ip -n "$gw" link set lo up
  lab_veth "$gw" lan0 "$prefix.1/24" "br-$name" "gl$idx"
  lab_veth "$gw" wan0 "$LAB_WAN_NET.$((200 + idx))/24" br-wan "gw$idx"
  ip -n "$gw" route add default via "$LAB_WAN_GW"
  ip netns exec "$gw" sysctl -qw net.ipv4.ip_forward=1
  # masquerade LAN -> WAN; nothing from the WAN may open a connection into the LAN
  ip netns exec "$gw" nft -f - <<NFT
table ip lab_nat {
  chain postrouting { type nat hook postrouting priority srcnat; policy accept; oifname "wan0" masquerade; }
}
table inet lab_filter {
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "lan0" oifname "wan0" accept
  }
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    iifname { "lo", "lan0" } accept
  }
}
NFT
}

# lab_node_up NAME LOCATION INDEX
lab_node_up() {
  local name=$1 loc=$2 n=$3 idx prefix kind ns hostdir
  read -r idx prefix kind <<<"$(lab_location "$loc")"
  [[ -n $idx ]] || lab_die "node '$name': unknown location '$loc'"
  ns=$LAB_NAME-$name
  hostdir=$LAB_DIR/hosts/$name
  lab_location_up "$loc"
  if ! lab_ns_exists "$ns"; then
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    lab_veth "$ns" eth0 "$prefix.$((10 + n))/24" "br-$loc" "l$n"
    if [[ $kind == public ]]; then
      lab_veth "$ns" wan0 "$LAB_WAN_NET.$((10 + n))/24" br-wan "w$n"
      ip -n "$ns" route add default via "$LAB_WAN_GW"
    else
      ip -n "$ns" route add default via "$prefix.1"
    fi
    # pod CIDR 10.42.N.0/24: its first address on a port-less bridge "pods" (like a CNI bridge; this
    # kernel has no dummy driver), so pod IPs answer pings
    ip -n "$ns" link add pods type bridge
    ip -n "$ns" addr add "10.42.$n.1/24" dev pods
    ip -n "$ns" link set pods up
  fi
  if ! mountpoint -q "$LAB_RUN/$name.mnt"; then
    mkdir -p "$hostdir/etc-wireguard" "$hostdir/var-lib-kilo"
    chmod 0700 "$hostdir/etc-wireguard" "$hostdir/var-lib-kilo"
    # own /etc/hosts naming the host: without it every name lookup of the host name (Python's
    # socket.getfqdn() in fact gathering) waits for a DNS server that does not exist here
    printf '127.0.0.1 localhost\n127.0.1.1 %s\n::1 localhost ip6-localhost ip6-loopback\n' "$name" >"$hostdir/hosts"
    touch "$LAB_RUN/$name.mnt" "$LAB_RUN/$name.uts"
    # own mount + UTS namespace: fresh sysfs of this netns, private /run/wireguard (UAPI sockets),
    # /etc/wireguard and /var/lib/kilo bound to per-host directories of the lab dir
    # shellcheck disable=SC2016 # $1/$2 expand in the inner shell
    nsenter --net="/run/netns/$ns" unshare --mount="$LAB_RUN/$name.mnt" --uts="$LAB_RUN/$name.uts" \
      --propagation private sh -ec '
        hostname "$1"
        mount -t sysfs sysfs /sys
        mount -t tmpfs -o mode=0755 tmpfs /run/wireguard
        mount --bind "$2/etc-wireguard" /etc/wireguard
        mount --bind "$2/var-lib-kilo" /var/lib/kilo
        mount --bind "$2/hosts" /etc/hosts' sh "$name" "$hostdir"
  fi
}

lab_ssh_setup() {
  local ssh=$LAB_DIR/ssh
  mkdir -p "$ssh" "$LAB_DIR/cp" /run/sshd
  chmod 0700 "$ssh" "$LAB_DIR/cp"
  [[ -f $ssh/host_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C "kilo-lab-$LAB_NAME-host" -f "$ssh/host_ed25519"
  [[ -f $ssh/id_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C "kilo-lab-$LAB_NAME" -f "$ssh/id_ed25519"
  cp "$ssh/id_ed25519.pub" "$ssh/authorized_keys"
  cat >"$ssh/sshd_config" <<CFG
# kilo lab $LAB_NAME: sshd runs in inetd mode (sshd -i), one process per connection, no listener
HostKey $ssh/host_ed25519
AuthorizedKeysFile $ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
Subsystem sftp internal-sftp
LogLevel ERROR
CFG
  cat >"$LAB_DIR/ssh_config" <<CFG
# kilo lab $LAB_NAME: every host is reached through hx (network + mount + UTS namespaces)
Host *
  User root
  IdentityFile $ssh/id_ed25519
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
  ProxyCommand env KILO_LAB_NAME=$LAB_NAME KILO_LAB_DIR=$LAB_DIR $LAB_HACK/hx %n /usr/sbin/sshd -i -f $ssh/sshd_config
CFG
}

lab_write_inventory() {
  local out=$LAB_DIR/inventory.yml name loc n idx prefix kind old_python=
  if awk -v h="$LAB_OLD_PYTHON_HOST" '$1 == h { found = 1 } END { exit !found }' "$LAB_DIR/nodes"; then
    old_python=$(lab_old_python) || exit 1
  fi
  {
    echo "---"
    echo "# Generated by hack/lab/up.sh for lab '$LAB_NAME' ($LAB_DIR); regenerated on every up/add-node."
    echo "kilo:"
    echo "  hosts:"
    while read -r name loc n; do
      [[ -n $name ]] || continue
      read -r idx prefix kind <<<"$(lab_location "$loc")"
      echo "    $name:"
      echo "      ansible_host: $LAB_NAME-$name"
      echo "      ansible_connection: ssh"
      echo "      ansible_user: root"
      if [[ $name == "$LAB_OLD_PYTHON_HOST" ]]; then
        echo "      ansible_python_interpreter: $old_python"
      else
        echo "      ansible_python_interpreter: /usr/bin/python3"
      fi
      echo "      ansible_ssh_common_args: -F $LAB_DIR/ssh_config"
      echo "      ansible_ssh_pipelining: true"
      echo "      ansible_control_path_dir: $LAB_DIR/cp"
      echo "      kilo_location: $loc"
      echo "      kilo_internal_ip: $prefix.$((10 + n))/24"
      echo "      kilo_pod_cidr: 10.42.$n.0/24"
      if [[ $kind == public ]]; then
        echo "      kilo_endpoint: \"$LAB_WAN_NET.$((10 + n)):$LAB_WG_PORT\""
        echo "      lab_public_ip: $LAB_WAN_NET.$((10 + n))"
      else
        echo "      kilo_endpoint: \"$prefix.$((10 + n)):$LAB_WG_PORT\""
        echo "      kilo_persistent_keepalive: $LAB_KEEPALIVE"
        echo "      lab_nat_ip: $LAB_WAN_NET.$((200 + idx))"
      fi
      [[ $name == dc1-a ]] && echo "      kilo_leader: true"
      echo "      lab_lan_ip: $prefix.$((10 + n))"
      echo "      lab_pod_ip: 10.42.$n.1"
    done <"$LAB_DIR/nodes"
    echo "  vars:"
    echo "    lab_name: $LAB_NAME"
    echo "    lab_dir: $LAB_DIR"
    echo "    # the hosts share the machine's /usr, dpkg and /etc (except /etc/wireguard): no cache update,"
    echo "    # and persistent sysctl settings go to the per-host /var/lib/kilo bind mount"
    echo "    wireguard_update_cache: false"
    echo "    wireguard_sysctl_file: /var/lib/kilo/sysctl.d/99-kilo-mesh.conf"
  } >"$out.tmp"
  mv "$out.tmp" "$out"
}

# the lab's whole state exists (used to make up.sh a no-op on a running lab)
lab_is_up() {
  local name loc n
  [[ -f $LAB_DIR/.up && -f $LAB_DIR/nodes ]] || return 1
  lab_ns_exists "$LAB_SW" || return 1
  while read -r name loc n; do
    [[ -n $name ]] || continue
    lab_ns_exists "$LAB_NAME-$name" || return 1
    mountpoint -q "$LAB_RUN/$name.mnt" || return 1
  done <"$LAB_DIR/nodes"
}

lab_prepare_run_dir() {
  mkdir -p "$LAB_RUN" /run/wireguard /etc/wireguard /var/lib/kilo
  if ! mountpoint -q "$LAB_RUN"; then
    mount --bind "$LAB_RUN" "$LAB_RUN"
    mount --make-private "$LAB_RUN"
  fi
}
