# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""The documentation site stays true to the code.

* docs/reference/ is exactly what hack/gen_docs.py generates from the plugins' and roles' own
  documentation (so it never drifts);
* every relative link in docs/ resolves, the task pages exist and docs/index.md links them;
* every ``kilo.mesh.<name>`` the docs mention is a real module, plugin, role or playbook;
* the repository cites only itself: no file refers to a specification outside the repository (Kilo's
  behaviour is described in docs/kilo/), and every docs page (with its anchor) that a file names exists.
"""

from __future__ import annotations

import os
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
    for page in sorted(DOCS.rglob("*.md")):
        for name in sorted(set(FQCN.findall(page.read_text()))):
            if name not in known:
                unknown.append(f"{page.relative_to(REPO)}: kilo.mesh.{name}")
    assert not unknown, "docs mention content that does not exist:\n" + "\n".join(unknown)


#: directories that are not part of the product (virtual environments, caches, build output)
SKIP_DIRS = {".git", ".cache", ".tox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".ansible", "__pycache__"}
SKIP_DIR_PREFIXES = (".venv", "lab-output")
#: a citation of the external behaviour specification that the project was started from: its upper-case
#: name (as in "<name> 2.4" or "the <name> text"), its title or its directory (built from parts so that this
#: file does not match itself)
EXTERNAL_CITATION = re.compile(r"\b" + "SP" + r"EC\b|Kilo behaviou?r " + "specification|/work/" + "shared")
#: a path of a page of the documentation site, optionally with an anchor, as code and docs cite it
DOCS_REFERENCE = re.compile(r"(?<![\w/.-])(docs/[\w./-]+\.md)(#[\w-]+)?")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def _repository_text_files():
    for root, dirs, files in os.walk(REPO):
        dirs[:] = sorted(name for name in dirs if name not in SKIP_DIRS and not name.startswith(SKIP_DIR_PREFIXES))
        for name in sorted(files):
            path = Path(root) / name
            if path.is_symlink() or not path.is_file():
                continue
            data = path.read_bytes()
            if b"\0" not in data:
                yield path, data.decode("utf-8", errors="replace")


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors of a Markdown page: headings lower-cased, punctuation dropped, spaces to '-'."""
    anchors: set[str] = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text())):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower()).replace(" ", "-")
        candidate, number = slug, 0
        while candidate in anchors:
            number += 1
            candidate = f"{slug}-{number}"
        anchors.add(candidate)
    return anchors


def test_no_citation_of_a_specification_outside_the_repository() -> None:
    found = []
    for path, text in _repository_text_files():
        for number, line in enumerate(text.splitlines(), 1):
            if EXTERNAL_CITATION.search(line):
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()[:120]}")
    assert not found, (
        "these lines cite a file that is not in the repository; cite the section of docs/kilo/ that describes "
        "the behaviour instead (e.g. docs/kilo/topology.md#leader-election):\n" + "\n".join(found)
    )


def test_cited_docs_pages_and_anchors_exist() -> None:
    """A ``docs/<page>.md#<anchor>`` path in any file, and the relative links of every Markdown file, resolve."""
    anchors: dict[Path, set[str]] = {}

    def problem(page: Path, anchor: str, shown: str) -> str | None:
        if not page.exists():
            return f"{shown}: no such file"
        if anchor and page.suffix == ".md":
            known = anchors.setdefault(page, _anchors(page))
            if anchor not in known:
                return f"{shown}: no heading gives #{anchor} (anchors: {', '.join(sorted(known))})"
        return None

    broken = []
    for path, text in _repository_text_files():
        where = path.relative_to(REPO)
        for target, anchor in DOCS_REFERENCE.findall(text):
            found = problem(REPO / target, anchor.lstrip("#"), f"{where} -> {target}{anchor}")
            if found:
                broken.append(found)
        if path.suffix == ".md":
            for link in LINK.findall(FENCE.sub("", text)):
                if re.match(r"^[a-z]+:", link) or (DOCS in path.parents and "#" not in link):
                    continue  # web links; docs/ pages without anchor: test_relative_links_resolve
                target, _sep, anchor = link.partition("#")
                page = (path.parent / target).resolve() if target else path
                found = problem(page, anchor, f"{where} -> {link}")
                if found:
                    broken.append(found)
    assert not broken, "references to missing docs pages or anchors:\n" + "\n".join(broken)
