# SPDX-License-Identifier: Apache-2.0
"""Shared pytest setup for the whole suite.

* ``plugins/module_utils`` goes on ``sys.path`` so the pure topology engine imports as ``topology``
  without ansible-core.
* A collection tree ``.cache/collections/ansible_collections/kilo/mesh`` (a symlink to the checkout)
  is created and exported in ``ANSIBLE_COLLECTIONS_PATH`` so real ``ansible-playbook`` runs started by
  tests resolve ``kilo.mesh.*`` to this working tree. When the checkout is read-only for the user
  running the tests (``tests/unit`` as a non-root user) and the link is not there yet, the tree is made
  in a directory of that user under the system's temporary directory instead.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MODULE_UTILS = REPO / "plugins" / "module_utils"
COLLECTIONS_ROOT = REPO / ".cache" / "collections"

if str(MODULE_UTILS) not in sys.path:
    sys.path.insert(0, str(MODULE_UTILS))


def _link_collection(root: Path) -> bool:
    """``root/ansible_collections/kilo/mesh`` -> the checkout; False when ``root`` is not writable."""
    target = root / "ansible_collections" / "kilo" / "mesh"
    if target.is_symlink():
        return True
    if target.exists():
        raise RuntimeError(f"{target} exists and is not a symlink; remove it")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(REPO)
    except FileExistsError:  # another pytest-xdist worker made it first
        if not target.is_symlink():
            raise
    except PermissionError:
        return False
    return True


def _ensure_collection_link() -> Path:
    """The collections root that resolves ``kilo.mesh`` to this checkout: ``.cache/collections`` in the
    checkout, or, when the checkout is read-only for this user, a directory of this user in the temporary
    directory (one per checkout)."""
    if _link_collection(COLLECTIONS_ROOT):
        return COLLECTIONS_ROOT
    digest = hashlib.sha256(str(REPO).encode()).hexdigest()[:12]
    private = Path(tempfile.gettempdir()) / f"kilo-mesh-collections-{os.getuid()}-{digest}"
    private.mkdir(mode=0o700, exist_ok=True)
    if private.stat().st_uid != os.getuid():
        raise RuntimeError(f"{private} belongs to another user; remove it or set TMPDIR")
    if not _link_collection(private):
        raise RuntimeError(f"cannot create {private}/ansible_collections/kilo/mesh")
    return private


COLLECTIONS_ROOT = _ensure_collection_link()
if str(COLLECTIONS_ROOT) not in sys.path:
    # lets plugin/module unit tests import ansible_collections.kilo.mesh.*
    sys.path.insert(0, str(COLLECTIONS_ROOT))
os.environ["ANSIBLE_COLLECTIONS_PATH"] = str(COLLECTIONS_ROOT)
os.environ.setdefault("ANSIBLE_NOCOLOR", "1")
os.environ.setdefault("ANSIBLE_FORCE_COLOR", "0")
os.environ.setdefault("ANSIBLE_RETRY_FILES_ENABLED", "0")
os.environ.setdefault("ANSIBLE_HOST_KEY_CHECKING", "0")
# the venv's bin directory first, so ansible-playbook, molecule, ... are the ones of this venv
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")


#: tests that run one after the other in one pytest-xdist worker: those that make network namespaces,
#: WireGuard interfaces and labs. Two processes running ``ip netns``/``unshare`` setups at once is not a case
#: the helpers are built for.
SERIAL_TESTS = (
    "tests/lab/",
    "tests/integration/modules/",
    "tests/k8s/test_handover.py",
    "tests/release/test_galaxy_build.py",
)


#: tests that need root (network and mount namespaces, WireGuard interfaces, the lab): the same files as
#: SERIAL_TESTS. A run as another user that selects any of them stops before running a test
#: (``hack/test.sh -k topology`` or ``tests/unit`` need no root).
ROOT_TESTS = SERIAL_TESTS


def root_problem(nodeids: list[str]) -> str:
    """Why this user cannot run the selected tests ('' = no reason)."""
    if os.geteuid() == 0:
        return ""
    files = sorted({nodeid.split("::", 1)[0] for nodeid in nodeids if nodeid.startswith(ROOT_TESTS)})
    if not files:
        return ""
    return (
        f"{len(files)} selected test file(s) need root (network namespaces, WireGuard interfaces): "
        + ", ".join(files)
        + "; run as root, or select tests that need none (e.g. tests/unit, -k topology)"
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: the controller checks (below)
        return
    problem = root_problem([item.nodeid for item in items])
    if problem:
        pytest.exit(problem, returncode=pytest.ExitCode.USAGE_ERROR)


def work_unit(path: str) -> str:
    """The pytest-xdist work unit of a test file: SERIAL_TESTS together, any other file on its own (its module-
    and session-scoped fixtures are made once)."""
    return "serial" if path.startswith(SERIAL_TESTS) else path


try:
    from xdist.scheduler import LoadScopeScheduling
except ImportError:  # without pytest-xdist the suite runs in one process
    LoadScopeScheduling = None
else:

    class _GroupScheduling(LoadScopeScheduling):
        """Whole work units (work_unit) per worker, in the order of the command line (hack/test.sh puts the
        longest, tests/lab, first). pytest-xdist's own loadgroup ignores xdist_group marks with pytest 9."""

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid.split("::", 1)[0])

    def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> _GroupScheduling:
        config.option.loadscopereorder = False
        return _GroupScheduling(config, log)

    def pytest_xdist_node_collection_finished(node: object, ids: list[str]) -> None:
        problem = root_problem(ids)
        if problem:
            pytest.exit(problem, returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


def run_playbook(
    playbook: str | Path,
    *args: str,
    inventory: str | Path | None = None,
    extra_vars: dict | None = None,
    check: bool = True,
    env: dict | None = None,
    timeout: int = 900,
) -> subprocess.CompletedProcess:
    """Run a real ``ansible-playbook``; return the completed process (stdout+stderr in ``.stdout``).

    With ``check=True`` (default) a non-zero exit raises ``AssertionError`` carrying the output.
    """
    import json

    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), str(playbook)]
    if inventory is not None:
        cmd += ["-i", str(inventory)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    cmd += list(args)
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    proc = subprocess.run(
        cmd,
        cwd=str(REPO),
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"ansible-playbook failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}")
    return proc


@pytest.fixture()
def playbook_runner():
    return run_playbook
