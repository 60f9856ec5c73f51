#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
#
# Install everything the lab, the playbooks and the test suite need on a Debian machine:
# Debian packages (userspace WireGuard, ssh for the lab hosts, firewall tools, graphviz; needs root only
# when one is missing) and the Python virtualenv of one cell of the test matrix, with the pinned packages
# of tests/requirements-<cell>.txt (which includes tests/requirements.txt).
#
#   hack/deps.sh [--ansible 2.19|2.20|2.21] [--print-venv]
#
# Cells (the README's support table): 2.19 = ansible-core 2.19 on Python 3.11 in .cache/venv-2.19,
# 2.20 = ansible-core 2.20 on Python 3.12 in .cache/venv-2.20, 2.21 (the default) = ansible-core 2.21 on
# Python 3.13 in .venv (.cache and .venv are left out of git, linters, sanity and the Galaxy build).
# KILO_MESH_VENV overrides the virtualenv's directory, KILO_MESH_PYTHON the
# interpreter it is made with (same minor version). --print-venv prints the virtualenv's path and
# installs nothing. Safe to run again: it only installs what is missing or changed.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
default_cell=2.21
cell=$default_cell
print_venv=0
while (($#)); do
  case $1 in
    --ansible)
      cell=${2:-}
      shift 2 || { echo "deps.sh: --ansible needs a value (2.19, 2.20 or 2.21)" >&2; exit 2; }
      ;;
    --ansible=*) cell=${1#*=}; shift ;;
    --print-venv) print_venv=1; shift ;;
    *) echo "deps.sh: unknown argument '$1' (usage: hack/deps.sh [--ansible 2.19|2.20|2.21] [--print-venv])" >&2; exit 2 ;;
  esac
done

case $cell in
  2.19) python_version=3.11 ;;
  2.20) python_version=3.12 ;;
  2.21) python_version=3.13 ;;
  *) echo "deps.sh: unsupported ansible-core '$cell': use 2.19, 2.20 or 2.21 (the cells of tests/requirements-2.X.txt)" >&2; exit 2 ;;
esac
requirements="$repo/tests/requirements-$cell.txt"
if [[ $cell == "$default_cell" ]]; then
  venv="${KILO_MESH_VENV:-$repo/.venv}"
else
  venv="${KILO_MESH_VENV:-$repo/.cache/venv-$cell}"
fi
if ((print_venv)); then
  echo "$venv"
  exit 0
fi

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

# The interpreter of the cell: KILO_MESH_PYTHON, else the system's python3.X (every user can run it, so the
# same venv also serves tests run as an unprivileged user), else one of pyenv's (not its shims).
find_python() {
  local candidate
  if [[ -n ${KILO_MESH_PYTHON:-} ]]; then
    echo "$KILO_MESH_PYTHON"
    return
  fi
  for candidate in "/usr/bin/python$python_version" "/usr/local/bin/python$python_version" \
    "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$python_version".*/bin/"python$python_version" \
    /root/.pyenv/versions/"$python_version".*/bin/"python$python_version"; do
    if [[ -x $candidate ]]; then
      echo "$candidate"
      return
    fi
  done
  return 1
}

venv_python_version() {
  "$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true
}

if [[ $(venv_python_version) != "$python_version" ]]; then
  if ! python=$(find_python); then
    echo "deps.sh: ansible-core $cell needs Python $python_version on the controller and none was found" \
      "(looked for python$python_version in /usr/bin, /usr/local/bin and pyenv); install it or set KILO_MESH_PYTHON" >&2
    exit 1
  fi
  found=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  if [[ $found != "$python_version" ]]; then
    echo "deps.sh: $python is Python $found; ansible-core $cell is tested on Python $python_version" >&2
    exit 1
  fi
  if [[ -e $venv ]]; then
    echo "deps.sh: $venv is not a Python $python_version virtualenv; recreating it"
    rm -rf "$venv"
  fi
  echo "deps.sh: creating virtualenv $venv with $python"
  "$python" -m venv "$venv"
fi
stamp="$venv/.kilo-mesh-requirements"
wanted=$(cat "$requirements" "$repo/tests/requirements.txt")
if [[ ! -f $stamp ]] || [[ $(cat "$stamp") != "$wanted" ]]; then
  echo "deps.sh: installing Python packages for ansible-core $cell into $venv"
  # the machine's extra local package indexes may not exist: pip warns once per package about them
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements" \
    2> >(grep -v "^WARNING: Location 'file:.*' is ignored" >&2)
  if ! "$venv/bin/pip" check --disable-pip-version-check >/dev/null; then
    "$venv/bin/pip" check --disable-pip-version-check >&2 || true
    echo "deps.sh: the packages of tests/requirements-$cell.txt conflict (above); fix the pins" >&2
    exit 1
  fi
  printf '%s\n' "$wanted" >"$stamp"
fi
