#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
#
# The test suite on one cell of the test matrix (README, "Testing"): installs what it needs
# (hack/deps.sh), then one pytest run over static checks, engine and plugin unit tests, real
# ansible-playbook runs, the Kubernetes API stand-in tier, the network-namespace lab (real WireGuard,
# molecule scenarios) and the release tests.
#
#   hack/test.sh [--ansible 2.19|2.20|2.21] [--unprivileged] [pytest arguments]
#
# --ansible picks the cell (default 2.21, the newest ansible-core; its venv is .venv). Extra arguments go
# to pytest, e.g. `hack/test.sh -k topology` or `hack/test.sh --ansible 2.20 tests/unit`. Root is needed
# only when the selected tests make network namespaces (tests/conftest.py stops the run otherwise) or when
# Debian packages are missing. --unprivileged (as root) runs pytest as the user nobody, which proves the
# selected tests need no root; the cell's venv must then be usable by every user (hack/deps.sh makes the
# 2.19 cell's from the system's /usr/bin/python3.11).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

cell=2.21
unprivileged=0
while (($#)); do
  case $1 in
    --ansible)
      (($# >= 2)) || { echo "hack/test.sh: --ansible needs a value (2.19, 2.20 or 2.21)" >&2; exit 2; }
      cell=$2
      shift 2
      ;;
    --ansible=*) cell=${1#*=}; shift ;;
    --unprivileged) unprivileged=1; shift ;;
    *) break ;;
  esac
done

"$repo/hack/deps.sh" --ansible "$cell"
venv=$("$repo/hack/deps.sh" --ansible "$cell" --print-venv)

export PATH="$venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$repo/.cache/collections"
export PYTHONDONTWRITEBYTECODE=1

if (($#)); then
  paths=("$@")
else
  # the long serial group first (labs, namespaces: tests/conftest.py), so the other worker takes the rest
  paths=(tests/lab tests/sanity tests/unit tests/integration tests/k8s tests/release)
fi

run=()
if ((unprivileged)) && [[ $(id -u) -eq 0 ]]; then
  # nobody, with a home of its own for ansible's local temporary files; the checkout stays read-only for it
  # (tests/conftest.py then links the collection under the temporary directory)
  home=$(mktemp -d /tmp/kilo-mesh-nobody.XXXXXX)
  trap 'rm -rf "$home"' EXIT
  chown 65534:65534 "$home"
  # (its passwd home, /nonexistent, is what ansible's local connection would expand ~ to for remote_tmp)
  run=(setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$home" USER=nobody LOGNAME=nobody
    ANSIBLE_REMOTE_TMP="$home/.ansible/tmp")
  if ! "${run[@]}" test -r "$repo/tests/conftest.py"; then
    # a checkout only root may enter (below /root, or a `mktemp -d` directory with mode 0700): nobody sees the
    # same tree at a path it can reach, in a private mount namespace that ends with the run. The view is a
    # tmpfs with mode 755 on which every top-level entry of the checkout is bind-mounted (binding the
    # checkout itself would keep its own mode 700).
    view=$(mktemp -d /tmp/kilo-mesh-view.XXXXXX)
    chmod 755 "$view"
    trap 'rm -rf "$home"; rmdir "$view" 2>/dev/null || true' EXIT
    # shellcheck disable=SC2016 # the single-quoted script expands its own arguments
    show='mount -t tmpfs -o mode=755 kilo-mesh-view "$2" || exit
      for entry in "$1"/* "$1"/.[!.]*; do
        [ -e "$entry" ] || [ -L "$entry" ] || continue
        name=${entry##*/}
        if [ -L "$entry" ]; then cp -P "$entry" "$2/$name"; continue; fi
        if [ -d "$entry" ]; then mkdir "$2/$name"; else : >"$2/$name"; fi
        mount --bind "$entry" "$2/$name" || exit
      done
      cd "$2" && shift 2 && exec "$@"'
    run=(unshare --mount --propagation private -- sh -c "$show" sh "$repo" "$view" "${run[@]}")
    venv=${venv/#"$repo"/"$view"}
    if ! "${run[@]}" test -r "$view/tests/conftest.py"; then
      echo "hack/test.sh: the user nobody cannot read $repo, not even through a bind mount at $view" \
        "(check the checkout's own permissions and the umask)" >&2
      exit 1
    fi
  fi
  if ! "${run[@]}" "$venv/bin/python" -c '' 2>/dev/null; then
    echo "hack/test.sh: the user nobody cannot run $venv/bin/python (its interpreter lies in a directory" \
      "only root reads); make the venv with a system Python (KILO_MESH_PYTHON=/usr/bin/python3.X hack/deps.sh)" >&2
    exit 1
  fi
fi

set +e
# two pytest-xdist workers by default (KILO_MESH_TEST_WORKERS=0: one process); tests/conftest.py decides which
# tests share a worker
workers=${KILO_MESH_TEST_WORKERS:-2}
parallel=()
if ((workers > 0)); then
  parallel=(-n "$workers")
fi
echo "hack/test.sh: ansible-core $cell ($("$venv/bin/ansible" --version | head -1)), $("$venv/bin/python" --version)," \
  "as $("${run[@]}" id -un 2>/dev/null || id -un)"
"${run[@]}" "$venv/bin/python" -m pytest -p no:cacheprovider -ra --durations=15 "${parallel[@]}" "${paths[@]}"
rc=$?
set -e
if ((rc == 5)); then
  echo "hack/test.sh: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
