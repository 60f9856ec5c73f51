#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Dual-licensed: Apache License 2.0 (see LICENSES/Apache-2.0.txt) or
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright: (c) 2026, kilo.mesh contributors
from __future__ import annotations

DOCUMENTATION = r"""
---
module: kilo_manifest_validate
short_description: Validate Kubernetes objects offline against the schemas of a Kubernetes version
version_added: 0.1.0
description:
  - Checks every object with the C(kubernetes-validate) library, fully offline (no API server needed).
  - Used by the C(kilo.mesh.kilo) role before it applies anything.
  - Objects whose kind has no bundled schema (custom resources) are skipped and listed in RV(skipped).
author:
  - kilo.mesh contributors (@kilo-mesh)
requirements:
  - kubernetes-validate
options:
  definitions:
    description: The objects (dicts with C(apiVersion), C(kind) and C(metadata)).
    type: list
    elements: dict
    required: true
  version:
    description: Kubernetes version whose schemas are used, for example V(1.30.0).
    type: str
    required: true
  strict:
    description: Also reject fields the schema does not know (typos such as C(serviceAcountName)).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: The module never changes anything.
  diff_mode:
    support: none
    description: Nothing to diff.
  idempotent:
    support: full
    description: Read-only.
"""

EXAMPLES = r"""
---
- name: Validate rendered manifests for Kubernetes 1.30
  kilo.mesh.kilo_manifest_validate:
    definitions: "{{ lookup('ansible.builtin.template', 'daemonset.yaml.j2') | from_yaml_all | list }}"
    version: "1.30.0"
"""

RETURN = r"""
---
validated:
  description: C(kind/namespace/name) of every object that passed.
  returned: always
  type: list
  elements: str
  sample: ["DaemonSet/kube-system/kilo"]
skipped:
  description: Objects of kinds without a bundled schema (custom resources).
  returned: always
  type: list
  elements: str
  sample: ["Peer//example"]
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import kubernetes_validate
    from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

    HAS_LIB = True
    LIB_IMPORT_ERROR = None
except ImportError:
    HAS_LIB = False
    LIB_IMPORT_ERROR = traceback.format_exc()


def _label(obj):
    metadata = obj.get("metadata") or {}
    return "{0}/{1}/{2}".format(obj.get("kind", "?"), metadata.get("namespace", ""), metadata.get("name", "?"))


def _error_text(exc):
    """``spec.template: message`` instead of jsonschema's long dump of the schema."""
    path = ".".join(str(part) for part in getattr(exc, "path", []) or [])
    return "{0}: {1}".format(path or "<root>", getattr(exc, "message", None) or str(exc))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            definitions=dict(type="list", elements="dict", required=True),
            version=dict(type="str", required=True),
            strict=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    if not HAS_LIB:
        module.fail_json(msg=missing_required_lib("kubernetes-validate"), exception=LIB_IMPORT_ERROR)

    validated, skipped, errors = [], [], []
    for obj in module.params["definitions"]:
        label = _label(obj)
        try:
            kubernetes_validate.validate(obj, module.params["version"], module.params["strict"])
        except SchemaNotFoundError:
            skipped.append(label)
        except ValidationError as exc:
            errors.append("{0}: {1}".format(label, _error_text(exc)))
        except Exception as exc:  # InvalidSchemaError, unknown version, ...
            errors.append("{0}: {1}".format(label, exc))
        else:
            validated.append(label)
    if errors:
        module.fail_json(
            msg="Kubernetes {0} schema validation failed: {1}".format(module.params["version"], "; ".join(errors)),
            errors=errors,
            validated=validated,
            skipped=skipped,
        )
    module.exit_json(changed=False, validated=validated, skipped=skipped)


if __name__ == "__main__":
    main()
