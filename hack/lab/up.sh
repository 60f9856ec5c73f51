#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
#
# Bring up the local multi-location lab (see README.md). Idempotent: on a lab that is already up it
# only rewrites the inventory; a half-up lab is torn down and rebuilt.
#   KILO_LAB_NAME (default kl)  prefix of every namespace;  KILO_LAB_DIR (default /tmp/kilo-lab-NAME)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $EUID -eq 0 ]] || lab_die "must run as root (network namespaces, mounts)"
for tool in ip nsenter unshare nft sshd ssh ssh-keygen; do
  command -v "$tool" >/dev/null || [[ -x /usr/sbin/$tool ]] || lab_die "missing tool '$tool'"
done

if lab_is_up; then
  lab_write_inventory
  lab_log "already up ($LAB_DIR/inventory.yml)"
  exit 0
fi
if [[ -d $LAB_DIR ]] || [[ -d $LAB_RUN ]] || ip netns list | grep -q "^$LAB_NAME-"; then
  lab_log "found a partial lab, removing it first"
  "$LAB_HACK/down.sh"
fi

mkdir -p "$LAB_DIR/hosts"
chmod 0700 "$LAB_DIR"
lab_default_tables
lab_prepare_run_dir
lab_switch_up
while read -r name loc n; do
  lab_node_up "$name" "$loc" "$n"
done <"$LAB_DIR/nodes"
lab_ssh_setup
lab_write_inventory
touch "$LAB_DIR/.up"
lab_log "up: $(awk '{print $1}' "$LAB_DIR/nodes" | xargs) -> $LAB_DIR/inventory.yml"
