"""Turn published ports and inventory names into nftables rules (addresses resolved per peer host)."""

import ipaddress

from ansible.errors import AnsibleFilterError

PROTOS = ("tcp", "udp")


def _host_address(name, hostvars):
    hv = hostvars[name]
    address = hv.get("firewall_address") or hv.get("ansible_host") or name
    try:
        return ipaddress.ip_network(str(address), strict=False)
    except ValueError:
        raise AnsibleFilterError(
            f"firewall_address: host {name!r} has no IP address to put in peers' rules "
            f"(ansible_host is {address!r}); set firewall_address for it in the inventory"
        ) from None


def _sources(value, groups, hostvars, where):
    """'any', or a list of CIDRs, addresses, inventory group names and host names -> networks."""
    if value in ("any", ["any"]):
        return "any"
    items = [value] if isinstance(value, str) else list(value or [])
    nets = []
    for item in items:
        item = str(item)
        if item == "any":
            return "any"
        if item in groups:
            nets.extend(_host_address(h, hostvars) for h in groups[item])
        elif item in hostvars:
            nets.append(_host_address(item, hostvars))
        else:
            try:
                nets.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise AnsibleFilterError(
                    f"{where}: {item!r} is neither a CIDR, an address, an inventory group nor a host"
                ) from None
    return sorted(set(nets), key=lambda n: (n.version, n))


def firewall_rules(roles, port_lists, groups, hostvars):
    """Role names and their port lists ([{port, proto, from}]) -> sorted rules with v4/v6 sources."""
    merged = {}
    for role, ports in zip(roles, port_lists, strict=True):
        where = "firewall_extra_ports" if role == "firewall_extra" else f"{role}_firewall_ports"
        for port in ports:
            if not isinstance(port, dict) or "port" not in port:
                raise AnsibleFilterError(f"{where}: every entry needs port (and proto, from): {port!r}")
            proto = str(port.get("proto", "tcp"))
            number = int(port["port"])
            if proto not in PROTOS or not 0 < number < 65536:
                raise AnsibleFilterError(f"{where}: bad port/proto {port!r}")
            sources = _sources(port.get("from", "any"), groups, hostvars, where)
            rule = merged.setdefault((proto, number), {"proto": proto, "port": number, "any": False,
                                                        "sources": set(), "roles": set()})
            rule["roles"].add(role)
            if sources == "any":
                rule["any"] = True
            else:
                rule["sources"].update(sources)
    rules = []
    for (proto, number), rule in sorted(merged.items()):
        nets = sorted(rule["sources"], key=lambda n: (n.version, n))
        rules.append({
            "proto": proto, "port": number, "any": rule["any"], "roles": sorted(rule["roles"]),
            "v4": [str(n) for n in nets if n.version == 4],
            "v6": [str(n) for n in nets if n.version == 6],
        })
    return rules


def firewall_sources(value, groups, hostvars, where):
    """One source list ('any' or CIDRs/groups/hosts) -> {'any': bool, 'v4': [...], 'v6': [...]}."""
    nets = _sources(value, groups, hostvars, where)
    if nets == "any":
        return {"any": True, "v4": [], "v6": []}
    return {"any": False, "v4": [str(n) for n in nets if n.version == 4],
            "v6": [str(n) for n in nets if n.version == 6]}


def firewall_allows(address, sources):
    """Whether an address is inside the output of firewall_sources."""
    if sources["any"]:
        return True
    ip = ipaddress.ip_address(str(address))
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in ipaddress.ip_network(n) for n in sources["v4"] + sources["v6"])


class FilterModule:
    def filters(self):
        return {"firewall_rules": firewall_rules, "firewall_sources": firewall_sources,
                "firewall_allows": firewall_allows}
