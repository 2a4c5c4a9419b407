"""The ports other platform roles publish in `<role>_firewall_ports`, evaluated for this host."""

import os
from collections import ChainMap

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

DOCUMENTATION = """
name: firewall_published_ports
short_description: The `<role>_firewall_ports` list of each named role, for the current host
description:
  - The firewall runs before the platform's roles, so their defaults are not in scope. This lookup
    reads `<role>_firewall_ports` from each role's `defaults/main.yml` and templates it with the
    host's variables over the role's defaults, so inventory settings (clusters, instances, sources)
    win exactly as they do when the role itself runs. A value set in the inventory is used as is.
options:
  _terms:
    description: Role names.
    required: true
  roles_dir:
    description: Directory holding the roles.
    type: str
    required: true
"""

RETURN = """
_list:
  description: One list of {port, proto, from} per role.
  type: list
"""


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        roles_dir = self.get_option("roles_dir")
        variables = variables or {}
        result = []
        for role in terms:
            key = f"{role}_firewall_ports"
            path = os.path.join(roles_dir, role, "defaults", "main.yml")
            if not os.path.isfile(path):
                raise AnsibleError(f"firewall_roles: no role {role!r} in {roles_dir} (no {path})")
            defaults = self._loader.load_from_file(path, trusted_as_template=True) or {}
            if key in variables:
                value = self._templar.template(variables[key])
            elif key in defaults:
                scope = ChainMap(dict(variables), defaults)
                value = self._templar.copy_with_new_env(available_variables=scope).template(defaults[key])
            else:
                value = []
            if not isinstance(value, list):
                raise AnsibleError(f"{key}: expected a list of {{port, proto, from}}, got {value!r}")
            result.append(value)
        return result
