# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors

# This doc fragment is PRIVATE to the kilo.mesh collection. It can change at any time.
# Do not use it from other collections or standalone modules.

from __future__ import annotations


class ModuleDocFragment:
    # Descriptions of the attributes; modules add the support levels with the fragments below.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description:
      - Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
      - This assumes that the system controlled/queried by the module has not changed in a relevant way.
"""

    # Full support of check mode, diff mode and idempotency. Use together with the standard fragment.
    FULL_SUPPORT = r"""
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
"""

    # A module that only reads the node. Use together with the standard fragment.
    READ_ONLY = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: The module never changes the node; it runs the same way in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
"""

    # An action plugin with a documentation stub in plugins/modules: runs on the controller, reads only.
    CONTROLLER_ACTION = r"""
options: {}
attributes:
  action:
    support: full
    description: Runs on the controller as an action plugin; it connects to no managed node.
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
  platform:
    platforms: all
    description: Target OS families the module runs against.
    support: N/A
"""
