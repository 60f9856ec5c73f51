# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""kilo.mesh.wireguard_key run for real through ansible-playbook against localhost (files under tmp_path)."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest

TASK = "Manage the key"
PLAYBOOK = """---
- name: Exercise kilo.mesh.wireguard_key
  hosts: all
  gather_facts: false
  tasks:
    - name: Manage the key
      kilo.mesh.wireguard_key: "{{ key_args }}"
"""
JSON_ENV = {"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}


def wg_pubkey(private: str) -> str:
    return subprocess.run(["wg", "pubkey"], input=private, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture()
def key_module(playbook_runner, tmp_path):
    """``key_module(*ansible_args, check=True, json_out=True, **module_args)`` -> result dict (or the raw output)."""
    playbook = tmp_path / "key.yml"
    playbook.write_text(PLAYBOOK)

    def _run(*args: str, check: bool = True, json_out: bool = True, interpreter="/usr/bin/python3", **module_args):
        proc = playbook_runner(
            playbook,
            *args,
            inventory="localhost,",
            extra_vars={"key_args": module_args, "ansible_python_interpreter": interpreter},
            check=check,
            env=JSON_ENV if json_out else {},
        )
        if not json_out:
            return proc.stdout
        text = proc.stdout
        doc = json.loads(text[text.index("{") :])
        return doc["plays"][0]["tasks"][0]["hosts"]["localhost"]

    return _run


@pytest.fixture()
def key_path(tmp_path) -> Path:
    return tmp_path / "lib" / "kilo" / "key"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generates_a_valid_key_with_private_modes(key_module, key_path):
    result = key_module("-c", "local", path=str(key_path))
    assert result["changed"] is True
    private = key_path.read_text()
    assert len(private) == 44 and not private.endswith("\n")
    assert result["public_key"] == wg_pubkey(private)
    assert mode(key_path) == 0o600
    assert mode(key_path.parent) == 0o700
    assert result["next_public_key"] is None


def test_existing_key_is_kept(key_module, key_path):
    first = key_module("-c", "local", path=str(key_path))
    content = key_path.read_bytes()
    second = key_module("-c", "local", path=str(key_path))
    assert second["changed"] is False
    assert second["public_key"] == first["public_key"]
    assert key_path.read_bytes() == content


def test_existing_key_from_wg_genkey_is_accepted_and_mode_fixed(key_module, key_path):
    key_path.parent.mkdir(parents=True)
    private = subprocess.run(["wg", "genkey"], capture_output=True, text=True, check=True).stdout  # with newline
    key_path.write_text(private)
    key_path.chmod(0o644)
    result = key_module("-c", "local", path=str(key_path))
    assert result["changed"] is True  # only the mode
    assert key_path.read_text() == private
    assert mode(key_path) == 0o600
    assert result["public_key"] == wg_pubkey(private)
    again = key_module("-c", "local", path=str(key_path))
    assert again["changed"] is False


def test_check_mode_writes_nothing(key_module, key_path):
    result = key_module("-c", "local", "--check", "--diff", path=str(key_path))
    assert result["changed"] is True
    assert result["public_key"] is None
    assert not key_path.exists()
    assert not key_path.parent.exists()
    key_module("-c", "local", path=str(key_path))
    content = key_path.read_bytes()
    for state in ("present", "rotated", "promoted"):
        result = key_module("-c", "local", "--check", path=str(key_path), state=state)
        assert result["changed"] is (state == "rotated"), state
    assert not Path(f"{key_path}.next").exists()
    result = key_module("-c", "local", "--check", path=str(key_path), state="absent")
    assert result["changed"] is True
    assert key_path.read_bytes() == content


def test_staged_rotation_and_promotion(key_module, key_path):
    first = key_module("-c", "local", path=str(key_path))
    active = key_path.read_text()
    staged = key_module("-c", "local", "--diff", path=str(key_path), state="rotated")
    next_path = Path(f"{key_path}.next")
    assert staged["changed"] is True
    assert staged["public_key"] == first["public_key"]
    assert staged["next_public_key"] == wg_pubkey(next_path.read_text())
    assert staged["next_public_key"] != first["public_key"]
    assert key_path.read_text() == active, "staging must not touch the active key"
    assert mode(next_path) == 0o600
    assert (
        staged["diff"]["after"] == f"public_key: {first['public_key']}\nnext_public_key: {staged['next_public_key']}\n"
    )

    again = key_module("-c", "local", path=str(key_path), state="rotated")
    assert again["changed"] is False
    assert again["next_public_key"] == staged["next_public_key"]

    present = key_module("-c", "local", path=str(key_path))
    assert present["changed"] is False
    assert present["next_public_key"] == staged["next_public_key"]

    promoted = key_module("-c", "local", "--diff", path=str(key_path), state="promoted")
    assert promoted["changed"] is True
    assert promoted["previous_public_key"] == first["public_key"]
    assert promoted["public_key"] == staged["next_public_key"] == wg_pubkey(key_path.read_text())
    assert promoted["next_public_key"] is None
    assert not next_path.exists()
    assert mode(key_path) == 0o600

    idle = key_module("-c", "local", path=str(key_path), state="promoted")
    assert idle["changed"] is False
    assert idle["public_key"] == promoted["public_key"]


def test_rotation_needs_an_active_key(key_module, key_path):
    result = key_module("-c", "local", path=str(key_path), state="rotated", check=False)
    assert result["failed"] is True
    assert "no valid active key at " + str(key_path) in result["msg"]
    assert "state=present" in result["msg"]
    assert not Path(f"{key_path}.next").exists()


def test_corrupt_key_fails_unless_forced(key_module, key_path):
    key_path.parent.mkdir(parents=True)
    key_path.write_text("this is not a key\n")
    result = key_module("-c", "local", path=str(key_path), check=False)
    assert result["failed"] is True
    assert f"{key_path} exists but is not a valid WireGuard private key" in result["msg"]
    assert "force=true" in result["msg"]
    assert key_path.read_text() == "this is not a key\n"

    result = key_module("-c", "local", path=str(key_path), force=True)
    assert result["changed"] is True
    assert result["public_key"] == wg_pubkey(key_path.read_text())
    assert mode(key_path) == 0o600


def test_corrupt_staged_key_blocks_promotion(key_module, key_path):
    key_module("-c", "local", path=str(key_path))
    active = key_path.read_text()
    Path(f"{key_path}.next").write_text("garbage")
    result = key_module("-c", "local", path=str(key_path), state="promoted", check=False)
    assert result["failed"] is True
    assert "staged key file" in result["msg"]
    assert key_path.read_text() == active


def test_absent_removes_both_files(key_module, key_path):
    key_module("-c", "local", path=str(key_path))
    key_module("-c", "local", path=str(key_path), state="rotated")
    result = key_module("-c", "local", path=str(key_path), state="absent")
    assert result["changed"] is True
    assert not key_path.exists()
    assert not Path(f"{key_path}.next").exists()
    result = key_module("-c", "local", path=str(key_path), state="absent")
    assert result["changed"] is False


def test_private_key_never_in_output(key_module, key_path):
    outputs = [key_module("-c", "local", "-vvv", "--diff", json_out=False, path=str(key_path))]
    outputs.append(key_module("-c", "local", "-vvv", "--diff", json_out=False, path=str(key_path), state="rotated"))
    secrets = [key_path.read_text(), Path(f"{key_path}.next").read_text()]
    outputs.append(key_module("-c", "local", "-vvv", "--diff", json_out=False, path=str(key_path), state="promoted"))
    outputs.append(key_module("-c", "local", "--diff", json_out=False, path=str(key_path)))
    for output in outputs:
        for secret in secrets:
            assert secret not in output
    assert wg_pubkey(secrets[1]) in outputs[2]  # the public key is shown


def test_wg_tools_fallback_without_cryptography(key_module, key_path, tmp_path):
    """With 'cryptography' not importable on the node, the key comes from 'wg genkey' / 'wg pubkey'."""
    blocker = tmp_path / "nocrypto"
    (blocker / "cryptography").mkdir(parents=True)
    (blocker / "cryptography" / "__init__.py").write_text("raise ImportError('cryptography hidden by the test')\n")
    interpreter = tmp_path / "python-nocrypto"
    interpreter.write_text(f'#!/usr/bin/env bash\nset -euo pipefail\nPYTHONPATH={blocker} exec /usr/bin/python3 "$@"\n')
    interpreter.chmod(0o755)
    probe = subprocess.run([str(interpreter), "-c", "import cryptography"], capture_output=True, text=True, check=False)
    assert probe.returncode != 0 and "hidden by the test" in probe.stderr
    result = key_module("-c", "local", interpreter=str(interpreter), path=str(key_path))
    assert result["changed"] is True
    assert result["public_key"] == wg_pubkey(key_path.read_text())
    assert mode(key_path) == 0o600


@pytest.mark.parametrize("bad_mode", ["0644", "0640", "604", "u=rw,g=r", "a+r"])
def test_mode_giving_others_access_is_refused(key_module, key_path, bad_mode):
    """A private key must never be written group/world-readable, not even when the task asks for it."""
    result = key_module("-c", "local", check=False, path=str(key_path), mode=bad_mode)
    assert result["failed"] is True and result["changed"] is False
    assert f"mode '{bad_mode}' is refused for the private key at {key_path}" in result["msg"]
    assert "use mode 0600 (or 0400)" in result["msg"]
    assert not key_path.exists()


@pytest.mark.parametrize("good_mode", ["0600", "0400", "u=rw,g=,o="])
def test_owner_only_modes_are_accepted(key_module, key_path, good_mode):
    result = key_module("-c", "local", path=str(key_path), mode=good_mode)
    assert result["changed"] is True and not result.get("failed")
    assert mode(key_path) & 0o077 == 0
