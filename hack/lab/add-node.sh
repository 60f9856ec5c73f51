#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
#
# add-node.sh NAME LOCATION [public|nat]: add a node to a running lab and rewrite the inventory.
# A new LOCATION gets its own LAN bridge (10.10.<index>.0/24); with "nat" it sits behind a router.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

name=${1:-}
loc=${2:-}
kind=${3:-public}
[[ $name =~ ^[a-z][a-z0-9-]{0,19}$ ]] || lab_die "usage: add-node.sh NAME LOCATION [public|nat]; NAME '$name' must match [a-z][a-z0-9-]*"
[[ $loc =~ ^[a-z][a-z0-9]{0,8}$ ]] || lab_die "LOCATION '$loc' must be 1-9 lower-case letters/digits"
[[ $kind == public || $kind == nat ]] || lab_die "third argument '$kind' must be public or nat"
lab_is_up || lab_die "lab is not up; run hack/lab/up.sh first"
if awk -v n="$name" '$1 == n { found = 1 } END { exit !found }' "$LAB_DIR/nodes"; then
  lab_die "node '$name' already exists"
fi
if [[ -z $(lab_location "$loc") ]]; then
  idx=$(($(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$LAB_DIR/locations") + 1))
  ((idx < 50)) || lab_die "too many locations"
  echo "$loc $idx 10.10.$idx $kind" >>"$LAB_DIR/locations"
fi
n=$(($(awk 'BEGIN { m = 0 } $3 > m { m = $3 } END { print m }' "$LAB_DIR/nodes") + 1))
((n < 180)) || lab_die "too many nodes"
lab_node_up "$name" "$loc" "$n"
echo "$name $loc $n" >>"$LAB_DIR/nodes"
lab_write_inventory
lab_log "added $name in $loc -> $LAB_DIR/inventory.yml"
