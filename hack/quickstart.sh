#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
#
# Quick start on a fresh Debian machine, as root: installs what is needed (hack/deps.sh: Debian
# packages and the .venv), brings up the local lab (four hosts in three locations, hack/lab/up.sh),
# builds the agentless Kilo mesh on it with playbooks/site.yml and prints the reachability matrix.
# The lab stays up; remove it with hack/lab/down.sh. Safe to run again.
#   KILO_LAB_NAME (default quick), KILO_LAB_DIR (default /tmp/kilo-lab-$KILO_LAB_NAME)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

if [[ $(id -u) -ne 0 ]]; then
  echo "quickstart: run as root (it installs packages and creates network namespaces)" >&2
  exit 1
fi

export KILO_LAB_NAME="${KILO_LAB_NAME:-quick}"
export KILO_LAB_DIR="${KILO_LAB_DIR:-/tmp/kilo-lab-$KILO_LAB_NAME}"

echo "==> installing dependencies (hack/deps.sh)"
"$repo/hack/deps.sh"

# the collection as Ansible expects it: <path>/ansible_collections/kilo/mesh -> this checkout
collections="$repo/.cache/collections"
mkdir -p "$collections/ansible_collections/kilo"
if [[ ! -L $collections/ansible_collections/kilo/mesh ]]; then
  ln -s "$repo" "$collections/ansible_collections/kilo/mesh"
fi
export ANSIBLE_COLLECTIONS_PATH="$collections"
export PATH="$repo/.venv/bin:$PATH"
export ANSIBLE_HOST_KEY_CHECKING=0

echo "==> bringing up the lab '$KILO_LAB_NAME' (hack/lab/up.sh)"
"$repo/hack/lab/up.sh"
inventory="$KILO_LAB_DIR/inventory.yml"

echo "==> building the mesh (playbooks/site.yml)"
ansible-playbook -i "$inventory" "$repo/playbooks/site.yml"

echo "==> drawing the mesh (playbooks/graph.yml -> lab-output/mesh.svg, lab-output/mesh.dot)"
mkdir -p "$repo/lab-output"
for format in svg dot; do
  ansible-playbook -i "$inventory" "$repo/playbooks/graph.yml" \
    -e kilo_graph_format="$format" -e kilo_graph_dest="$repo/lab-output/mesh.$format"
done

lab_env="KILO_LAB_NAME=$KILO_LAB_NAME KILO_LAB_DIR=$KILO_LAB_DIR"
cat <<MSG

The mesh is up (the matrix above comes from the kilo.mesh.verify role); a picture of it is in
$repo/lab-output/mesh.svg (Graphviz DOT source: mesh.dot). Try:
  $lab_env $repo/hack/lab/hx dc1-b ping -c2 10.42.3.1    # dc1-b -> pod IP of dc2-a, via the dc1 leader
  $lab_env $repo/hack/lab/hx dc1-a wg show kilo0
  ANSIBLE_COLLECTIONS_PATH=$collections $repo/.venv/bin/ansible-playbook -i $inventory $repo/playbooks/verify.yml
Tear the lab down with:
  $lab_env $repo/hack/lab/down.sh
MSG
