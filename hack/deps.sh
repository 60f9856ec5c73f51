#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
#
# Install everything the lab, the playbooks and the test suite need on a Debian machine, as root:
# Debian packages (userspace WireGuard, ssh for the lab hosts, firewall tools, graphviz) and a
# Python virtualenv at .venv with the pinned packages of tests/requirements.txt.
# Safe to run again: it only installs what is missing.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${KILO_MESH_VENV:-$repo/.venv}"

apt_packages=(
  wireguard-tools wireguard-go iproute2 iputils-ping openssh-server openssh-client
  iptables nftables graphviz qrencode shellcheck procps kmod rsync systemd
)

missing=()
for pkg in "${apt_packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "deps.sh: need root to install Debian packages: ${missing[*]}" >&2
    exit 1
  fi
  echo "deps.sh: installing Debian packages: ${missing[*]}"
  apt-get update -q
  # --no-install-recommends: wireguard-tools would otherwise pull in a kernel image and an initramfs rebuild
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [[ ! -x "$venv/bin/python" ]]; then
  echo "deps.sh: creating virtualenv $venv"
  python3 -m venv "$venv"
fi
stamp="$venv/.kilo-mesh-requirements"
if ! cmp -s "$repo/tests/requirements.txt" "$stamp"; then
  echo "deps.sh: installing Python packages into $venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$repo/tests/requirements.txt"
  cp "$repo/tests/requirements.txt" "$stamp"
fi
