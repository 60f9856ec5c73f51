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
  # cheapest first
  paths=(tests/sanity tests/unit tests/integration tests/k8s tests/lab tests/release)
fi

set +e
"$repo/.venv/bin/python" -m pytest -p no:cacheprovider -ra --durations=15 "${paths[@]}"
rc=$?
set -e
if ((rc == 5)); then
  echo "hack/test.sh: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
