# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""The documentation site stays true to the code.

* docs/reference/ is exactly what hack/gen_docs.py generates from the plugins' and roles' own
  documentation (so it never drifts);
* every relative link in docs/ resolves, the task pages exist and docs/index.md links them;
* every ``kilo.mesh.<name>`` the docs mention is a real module, plugin, role or playbook.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
TASK_PAGES = (
    "install-wireguard.md",
    "annotate-nodes.md",
    "deploy-kilo.md",
    "addon-flannel.md",
    "add-a-peer.md",
    "verify-encryption.md",
    "encryption-by-granularity.md",
    "running-in-aap.md",
)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FQCN = re.compile(r"\bkilo\.mesh\.([a-z_][a-z0-9_]*)")


def _content_names() -> set[str]:
    names: set[str] = set()
    for kind in ("modules", "lookup", "inventory", "filter", "test", "callback", "connection"):
        directory = REPO / "plugins" / kind
        if directory.is_dir():
            names |= {path.stem for path in directory.glob("*.py") if not path.name.startswith("_")}
            names |= {path.stem for path in directory.glob("*.yml")}  # filter / test sidecar docs
    names |= {path.name for path in (REPO / "roles").iterdir() if path.is_dir()}
    names |= {path.stem for path in (REPO / "playbooks").glob("*.yml")}
    return names


def test_reference_is_generated_from_current_docs() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "hack" / "gen_docs.py"), "--check"],
        cwd=str(REPO),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
        timeout=600,
    )
    if proc.returncode != 0:
        pytest.fail(f"docs/reference is stale (python hack/gen_docs.py):\n{proc.stdout}", pytrace=False)


def test_reference_has_a_page_per_plugin_and_role() -> None:
    pages = {path.name for path in (DOCS / "reference").glob("*.md")}
    expected = {f"module_{path.stem}.md" for path in (REPO / "plugins" / "modules").glob("*.py")}
    expected |= {f"lookup_{path.stem}.md" for path in (REPO / "plugins" / "lookup").glob("*.py")}
    expected |= {f"inventory_{path.stem}.md" for path in (REPO / "plugins" / "inventory").glob("*.py")}
    expected |= {f"filter_{path.stem}.md" for path in (REPO / "plugins" / "filter").glob("*.yml")}
    expected |= {f"role_{path.name}.md" for path in (REPO / "roles").iterdir() if path.is_dir()}
    expected = {name for name in expected if not name.split("_", 1)[1].startswith("_")}
    missing = sorted(expected - pages)
    assert not missing, f"docs/reference lacks pages: {missing}"


def test_task_pages_exist_and_are_linked_from_index() -> None:
    index = (DOCS / "index.md").read_text()
    linked = set(LINK.findall(index))
    problems = [f"{page}: missing" for page in TASK_PAGES if not (DOCS / page).is_file()]
    problems += [f"{page}: not linked from docs/index.md" for page in TASK_PAGES if page not in linked]
    assert "reference/index.md" in linked, "docs/index.md must link the reference"
    assert not problems, problems


def test_relative_links_resolve() -> None:
    broken = []
    for page in sorted(DOCS.rglob("*.md")):
        for target in LINK.findall(page.read_text()):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            path = (page.parent / target.split("#", 1)[0]).resolve()
            if not path.exists():
                broken.append(f"{page.relative_to(REPO)} -> {target}")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_mentioned_content_exists() -> None:
    known = _content_names()
    unknown = []
    for page in sorted(DOCS.glob("*.md")):
        for name in sorted(set(FQCN.findall(page.read_text()))):
            if name not in known:
                unknown.append(f"{page.relative_to(REPO)}: kilo.mesh.{name}")
    assert not unknown, "docs mention content that does not exist:\n" + "\n".join(unknown)
