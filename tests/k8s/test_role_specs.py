# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""roles/kilo: meta/argument_specs.yml and defaults/main.yml describe the same variables (STYLE 5)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROLE = Path(__file__).resolve().parents[2] / "roles" / "kilo"


def test_defaults_match_argument_specs():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    main = specs["main"]["options"]
    assert set(main) == set(defaults)
    for name, spec in main.items():
        assert spec.get("default") == defaults[name], name
        if "choices" in spec:
            assert defaults[name] in spec["choices"], name
    for name, spec in specs["handover"]["options"].items():
        assert spec == main[name], name


def test_readme_lists_every_variable():
    readme = (ROLE / "README.md").read_text()
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    missing = [name for name in defaults if f"`{name}`" not in readme]
    assert not missing
