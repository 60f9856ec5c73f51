#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
#
# The full test suite, as CI runs it: installs what it needs (hack/deps.sh), then one pytest run over
# static checks, engine and plugin unit tests, real ansible-playbook runs, the Kubernetes API
# stand-in tier, the network-namespace lab (real WireGuard, molecule scenarios) and the release
# tests. Needs root (network namespaces). Extra arguments go to pytest, e.g. `hack/test.sh -k topology`.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

if [[ $(id -u) -ne 0 ]]; then
  echo "hack/test.sh: run as root (the lab tests create network namespaces)" >&2
  exit 1
fi

"$repo/hack/deps.sh"

export PATH="$repo/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$repo/.cache/collections"
export PYTHONDONTWRITEBYTECODE=1

if (($#)); then
  paths=("$@")
else
  # the long serial group first (labs, namespaces: tests/conftest.py), so the other worker takes the rest
  paths=(tests/lab tests/sanity tests/unit tests/integration tests/k8s tests/release)
fi

set +e
# two pytest-xdist workers by default (KILO_MESH_TEST_WORKERS=0: one process); tests/conftest.py decides which
# tests share a worker
workers=${KILO_MESH_TEST_WORKERS:-2}
parallel=()
if ((workers > 0)); then
  parallel=(-n "$workers")
fi
"$repo/.venv/bin/python" -m pytest -p no:cacheprovider -ra --durations=15 "${parallel[@]}" "${paths[@]}"
rc=$?
set -e
if ((rc == 5)); then
  echo "hack/test.sh: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
