#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
#
# Remove everything the lab KILO_LAB_NAME created: processes inside its namespaces (wireguard-go,
# sshd -i, ...), ssh ControlPersist masters, mounts, namespaces and the lab directory.
# Works on a half-up lab and on no lab at all.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $EUID -eq 0 ]] || lab_die "must run as root"

# ssh masters first (they talk to sshd processes inside the namespaces)
if [[ -d $LAB_DIR/cp ]]; then
  for sock in "$LAB_DIR"/cp/*; do
    [[ -S $sock ]] || continue
    ssh -o ControlPath="$sock" -O exit lab-host >/dev/null 2>&1 || true
  done
fi

# pids whose network or mount namespace belongs to the lab, or ssh masters on its control sockets
lab_pids() {
  local ns inodes=() f pid link cmd
  while read -r ns _; do
    [[ $ns == "$LAB_NAME"-* ]] || continue
    ip netns pids "$ns" 2>/dev/null || true
  done < <(ip netns list)
  for f in "$LAB_RUN"/*.mnt; do
    [[ -e $f ]] && mountpoint -q "$f" && inodes+=("mnt:[$(stat -L -c %i "$f")]")
  done
  for pid in /proc/[0-9]*; do
    pid=${pid#/proc/}
    ((pid == $$ || pid == BASHPID)) && continue
    if ((${#inodes[@]})); then
      link=$(readlink "/proc/$pid/ns/mnt" 2>/dev/null) || continue
      for f in "${inodes[@]}"; do [[ $link == "$f" ]] && echo "$pid"; done
    fi
    # ssh masters on the lab's control sockets (their title is "ssh: <socket> [mux]")
    if [[ -d $LAB_DIR/cp ]]; then
      cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || continue
      [[ $cmd == *"$LAB_DIR/cp/"* ]] && echo "$pid"
    fi
  done
  return 0
}

for attempt in 1 2 3 4 5 6 7 8 9 10; do
  mapfile -t pids < <(lab_pids | sort -un)
  ((${#pids[@]})) || break
  if ((attempt < 5)); then sig=TERM; else sig=KILL; fi
  kill -s "$sig" "${pids[@]}" 2>/dev/null || true
  sleep 0.3
done

if [[ -d $LAB_RUN ]]; then
  for f in "$LAB_RUN"/*.mnt "$LAB_RUN"/*.uts; do
    [[ -e $f ]] || continue
    mountpoint -q "$f" && umount "$f"
    rm -f "$f"
  done
  mountpoint -q "$LAB_RUN" && umount "$LAB_RUN"
  rmdir "$LAB_RUN"
fi

while read -r ns _; do
  [[ $ns == "$LAB_NAME"-* ]] || continue
  ip netns del "$ns"
done < <(ip netns list)

rm -rf "$LAB_DIR"
lab_log "down"
