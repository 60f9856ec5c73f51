# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""kilo.mesh.graph writing its picture through the collection's one atomic writer, in real ansible-playbook runs:
check mode writes nothing, the first run writes, the second changes nothing, and Graphviz's SVG lands at dest
with the requested mode and no scratch file left in the directory."""

from __future__ import annotations

import base64
import json
import stat
import sys
from pathlib import Path

import yaml

NODES = [
    {
        "name": name,
        "location": location,
        "endpoint": f"198.51.100.{index}:51820",
        "pod_cidr": f"10.2.{index}.0/24",
        "public_key": base64.b64encode(bytes([index]) * 32).decode(),
    }
    for index, (name, location) in enumerate((("a1", "a"), ("a2", "a"), ("b1", "b")), start=1)
]


def _run(tmp_path: Path, playbook_runner, dest: Path, fmt: str, *args: str) -> dict:
    out = tmp_path / f"result-{fmt}-{len(list(tmp_path.glob('result-*')))}.json"
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "kilo.mesh.graph": {
                        "source": "inventory",
                        "nodes": NODES,
                        "format": fmt,
                        "dest": str(dest),
                        "mode": "0640",
                    },
                    "register": "drawn",
                },
                {"ansible.builtin.copy": {"content": "{{ drawn | to_json }}", "dest": str(out), "mode": "0600"}},
            ],
        }
    ]
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(play))
    playbook_runner(playbook, *args, extra_vars={"ansible_python_interpreter": sys.executable})
    return json.loads(out.read_text()) if out.exists() else {}


def test_graph_writes_once_and_never_in_check_mode(tmp_path: Path, playbook_runner) -> None:
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    dot = pictures / "mesh.dot"
    _run(tmp_path, playbook_runner, dot, "dot", "--check")
    assert not dot.exists(), "check mode wrote the picture"
    first = _run(tmp_path, playbook_runner, dot, "dot")
    assert first["changed"] is True and dot.read_text() == first["dot"]
    assert stat.S_IMODE(dot.stat().st_mode) == 0o640
    second = _run(tmp_path, playbook_runner, dot, "dot")
    assert second["changed"] is False
    svg = pictures / "mesh.svg"
    drawn = _run(tmp_path, playbook_runner, svg, "svg")
    assert drawn["changed"] is True and svg.read_text().lstrip().startswith(("<?xml", "<svg"))
    assert all(name in svg.read_text() for name in ("a1", "a2", "b1"))
    assert sorted(path.name for path in pictures.iterdir()) == ["mesh.dot", "mesh.svg"], "a scratch file was left"
