#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Dual-licensed: Apache License 2.0 (see LICENSES/Apache-2.0.txt) or
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright: (c) 2026, kilo.mesh contributors

from __future__ import annotations

DOCUMENTATION = r"""
---
module: wireguard_key
short_description: Ensure a WireGuard private key on the node, with staged rotation
version_added: 0.1.0
author:
  - kilo.mesh contributors (@kilo-mesh)
description:
  - Generates a WireGuard private key B(on the managed node) and stores it like Kilo's agent does
    (base64 without a trailing newline, file mode V(0600), directory mode V(0700)).
  - The private key never leaves the node. The module only returns public keys.
  - The key is generated with the Python C(cryptography) library when it is importable on the node,
    otherwise with C(wg genkey); the public key is derived the same way (C(wg pubkey)).
  - "Rotation is staged so a mesh can switch keys in one short step: O(state=rotated) writes a new key to
    C(<path>.next) and returns its public key without touching the active key. Distribute that public
    key (for example render every node's peer list with the next keys), then O(state=promoted) moves
    C(<path>.next) over O(path) atomically and returns the previous and the new public key."
extends_documentation_fragment:
  - ansible.builtin.files
  - kilo.mesh._attributes
  - kilo.mesh._attributes.FULL_SUPPORT
attributes:
  check_mode:
    details:
      - In check mode nothing is written; a key that would be generated has no public key yet, so
        RV(public_key) or RV(next_public_key) is V(null) then.
  diff_mode:
    details:
      - The diff shows the public keys of the active and of the staged key, never private key material.
options:
  path:
    description:
      - Path of the active private key. Kilo's agent reads V(/var/lib/kilo/key).
      - The staged key of a rotation lives next to it, at C(<path>.next).
      - Missing parent directories are created with mode V(0700).
    type: path
    default: /var/lib/kilo/key
  state:
    description:
      - V(present) ensures a valid key at O(path). An existing valid key is kept.
      - V(rotated) stages a new key at C(<path>.next) (kept if a valid one is staged already) and returns
        RV(next_public_key). The active key must exist. The active key is not changed.
      - V(promoted) moves a staged C(<path>.next) over O(path) atomically. Without a staged key nothing
        changes, so running it twice is safe.
      - V(absent) removes O(path) and C(<path>.next).
    type: str
    choices: [present, rotated, promoted, absent]
    default: present
  force:
    description:
      - What to do with a file at O(path) (or C(<path>.next) for O(state=rotated)) that is not a valid
        WireGuard private key.
      - V(false) fails and leaves the file alone, so a mistyped path never destroys data.
      - V(true) replaces it with a new key, like Kilo's agent does with an unparsable key.
      - A valid key is never replaced by O(state=present); use O(state=rotated) and O(state=promoted).
    type: bool
    default: false
notes:
  - When O(mode) is not set the key files get mode V(0600); an existing key file with other permissions is fixed.
  - A O(mode) that gives the group or other users any access (V(0640), V(0644), V(g+r), ...) is refused, because
    a private key must be readable by its owner only (V(0600) or V(0400)).
  - The key files are written to a temporary file in the same directory first and then moved into place.
seealso:
  - module: kilo.mesh.wireguard_interface
"""

EXAMPLES = r"""
---
- name: Ensure the node has a WireGuard key
  kilo.mesh.wireguard_key:
  register: __key

- name: Show the public key
  ansible.builtin.debug:
    msg: "{{ __key.public_key }}"

# Staged rotation across the mesh
- name: Stage the next key on every node
  kilo.mesh.wireguard_key:
    state: rotated
  register: __next_key

# ... render every node's peer list with hostvars[peer].__next_key.next_public_key ...

- name: Promote the staged key (then apply the interface config right away)
  kilo.mesh.wireguard_key:
    state: promoted
  register: __promoted

- name: Remove the key
  kilo.mesh.wireguard_key:
    path: /etc/wireguard/test.key
    state: absent
"""

RETURN = r"""
path:
  description: Path of the active key.
  returned: always
  type: str
  sample: /var/lib/kilo/key
public_key:
  description:
    - Public key of the active key after the module ran.
    - V(null) when there is no active key (O(state=absent), or a key that check mode would generate).
  returned: always
  type: str
  sample: 1uQL9DgQ+MGX9n9VkiA3UwF0o7Jwln3cO9gaQVUO2lo=
next_public_key:
  description:
    - Public key of the staged key at C(<path>.next), V(null) when none is staged (or check mode would
      generate one).
  returned: always
  type: str
  sample: kXY6yNhTAOlwJ7l6L5vWVkvCBv0T7FrkMFFqgYHyamU=
previous_public_key:
  description: Public key that was active before O(state=promoted) replaced it; V(null) otherwise.
  returned: always
  type: str
  sample: 1uQL9DgQ+MGX9n9VkiA3UwF0o7Jwln3cO9gaQVUO2lo=
"""

import os
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kilo.mesh.plugins.module_utils._files import write_atomic
from ansible_collections.kilo.mesh.plugins.module_utils._wireguard import (
    WireGuardError,
    generate_private_key,
    is_valid_key,
    public_key_of,
    read_key_file,
)


class KeyFileError(Exception):
    pass


def _read_key(path):
    """The key file's text (see read_key_file); None when the file does not exist."""
    try:
        return read_key_file(path)
    except WireGuardError as exc:
        raise KeyFileError(str(exc)) from None


class KeyManager:
    def __init__(self, module):
        self.module = module
        self.path = module.params["path"]
        self.next_path = self.path + ".next"
        self.changed = False

    def run(self, argv, data=None):
        return self.module.run_command(argv, data=data, check_rc=False)

    def public(self, private):
        return public_key_of(private, self.run)

    def file_args(self, path):
        args = self.module.load_file_common_arguments(self.module.params, path=path)
        if args.get("mode") is None:
            args["mode"] = "0600"
        return args

    def ensure_dir(self):
        directory = os.path.dirname(self.path) or "."
        if not os.path.isdir(directory):
            self.changed = True
            if not self.module.check_mode:
                os.makedirs(directory, mode=0o700)

    def write(self, path, private):
        """Write a new key atomically. The temp file is created 0600 in the target directory."""
        self.ensure_dir()
        self.changed = True
        if self.module.check_mode:
            return
        write_atomic(path, private)

    def fix_attributes(self, path):
        if os.path.exists(path):
            self.changed = self.module.set_fs_attributes_if_different(self.file_args(path), self.changed)

    def load_valid(self, path, what):
        """Return the private key at ``path`` if valid, None if missing; fail/None on invalid per ``force``."""
        text = _read_key(path)
        if text is None:
            return None
        if is_valid_key(text):
            return text.strip()
        if not self.module.params["force"]:
            raise KeyFileError(
                "{0} {1} exists but is not a valid WireGuard private key (expected 44 characters of base64 "
                "encoding 32 bytes); check the path, or set force=true to replace it with a new key".format(what, path)
            )
        return ""

    def remove(self, path):
        if os.path.lexists(path):
            self.changed = True
            if not self.module.check_mode:
                os.unlink(path)

    def present(self, result):
        active = self.load_valid(self.path, "the key file")
        if not active:
            new = None if self.module.check_mode else generate_private_key(self.run)
            self.write(self.path, new)
            active = new
        self.fix_attributes(self.path)
        result["public_key"] = self.public(active) if active else None
        staged = self._staged_or_none()
        result["next_public_key"] = self.public(staged) if staged else None

    def _staged_or_none(self):
        text = _read_key(self.next_path)
        return text.strip() if text and is_valid_key(text) else None

    def rotated(self, result):
        active = _read_key(self.path)
        if active is None or not is_valid_key(active):
            raise KeyFileError(
                "cannot stage a rotation: there is no valid active key at {0}; run this module with "
                "state=present first".format(self.path)
            )
        result["public_key"] = self.public(active.strip())
        staged = self.load_valid(self.next_path, "the staged key file")
        if not staged:
            new = None if self.module.check_mode else generate_private_key(self.run)
            self.write(self.next_path, new)
            staged = new
        self.fix_attributes(self.next_path)
        result["next_public_key"] = self.public(staged) if staged else None

    def promoted(self, result):
        active = _read_key(self.path)
        active_public = self.public(active.strip()) if active and is_valid_key(active) else None
        staged_text = _read_key(self.next_path)
        if staged_text is None:
            self.fix_attributes(self.path)
            result["public_key"] = active_public
            return
        if not is_valid_key(staged_text):
            raise KeyFileError(
                "the staged key file {0} is not a valid WireGuard private key; remove it or stage a new key with "
                "state=rotated and force=true".format(self.next_path)
            )
        staged = staged_text.strip()
        self.changed = True
        if not self.module.check_mode:
            os.chmod(self.next_path, 0o600)
            self.module.atomic_move(self.next_path, self.path, keep_dest_attrs=False)
            self.fix_attributes(self.path)
        result["previous_public_key"] = active_public
        result["public_key"] = self.public(staged)

    def absent(self, result):
        self.remove(self.next_path)
        self.remove(self.path)
        result["public_key"] = None


_SYMBOLIC_CLAUSE = re.compile(r"^([ugoa]*)((?:[-+=][rwxXstugo]*)+)$")


def mode_problem(mode):
    """Why ``mode`` would let others read a private key (a text naming it), or None.

    Octal modes (``0644``, ``644``, an int) and symbolic ones (``u=rw,g=r``) are understood; a symbolic
    clause that adds a permission for the group, others or all (``g+r``, ``o=r``, ``a+r``, ``+r``) is a
    problem. Anything else is left to Ansible's own mode handling.
    """
    if mode is None:
        return None
    if isinstance(mode, int):
        bits = mode
    else:
        text = str(mode).strip()
        if re.match(r"^[0-7]+$", text):
            bits = int(text, 8)
        else:
            for clause in text.split(","):
                match = _SYMBOLIC_CLAUSE.match(clause.strip())
                if match is None:
                    continue
                who, actions = match.groups()
                for action in re.findall(r"[-+=][rwxXstugo]*", actions):
                    if action[0] in "+=" and action[1:] and (not who or set(who) & set("goa")):
                        return "the clause %s gives the group or other users access" % clause.strip()
            return None
    if bits & 0o077:
        return "it gives the group or other users access (%04o)" % (bits & 0o777)
    return None


def _diff_text(public_key, next_public_key):
    return "public_key: {0}\nnext_public_key: {1}\n".format(public_key or "(none)", next_public_key or "(none)")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", default="/var/lib/kilo/key"),
            state=dict(type="str", default="present", choices=["present", "rotated", "promoted", "absent"]),
            force=dict(type="bool", default=False),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    # new files must never be readable by others, not even for a moment
    os.umask(0o077)
    problem = mode_problem(module.params["mode"]) if module.params["state"] != "absent" else None
    if problem:
        module.fail_json(
            msg="mode {0!r} is refused for the private key at {1}: {2}; a WireGuard private key must be "
            "readable by its owner only: use mode 0600 (or 0400), or leave mode unset".format(
                module.params["mode"], module.params["path"], problem
            ),
            changed=False,
        )
    manager = KeyManager(module)
    result = dict(changed=False, path=manager.path, public_key=None, next_public_key=None, previous_public_key=None)
    try:
        before_active = _read_key(manager.path)
        before_next = _read_key(manager.next_path)
        before = _diff_text(
            manager.public(before_active.strip()) if before_active and is_valid_key(before_active) else None,
            manager.public(before_next.strip()) if before_next and is_valid_key(before_next) else None,
        )
        getattr(manager, module.params["state"])(result)
    except (KeyFileError, WireGuardError) as exc:
        module.fail_json(msg=str(exc), **result)
    except OSError as exc:
        module.fail_json(msg="cannot manage the key at {0}: {1}".format(manager.path, exc), **result)

    result["changed"] = manager.changed
    if module._diff:
        after = _diff_text(result["public_key"], result["next_public_key"])
        if manager.changed and module.check_mode and after == before:
            after = "(a new key would be written)\n" + after
        result["diff"] = dict(before=before, after=after, before_header=manager.path, after_header=manager.path)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
