"""Filters shared by the sre.platform roles."""

from __future__ import annotations

import ipaddress
import re

from ansible.errors import AnsibleFilterError


def manifest_filename(obj: dict) -> str:
    """Stable file name for a rendered object: <kind>-<namespace>-<name>.yaml.

    Cluster-scoped objects have no namespace part. Names are lowercased and
    anything outside [a-z0-9.-] becomes '-', so the name is safe on any disk.
    """
    try:
        kind = obj["kind"]
        name = obj["metadata"]["name"]
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError(f"manifest_filename: object lacks kind or metadata.name: {obj!r}") from exc
    parts = [kind, obj["metadata"].get("namespace"), name]
    stem = "-".join(str(part) for part in parts if part)
    return re.sub(r"[^a-z0-9.-]", "-", stem.lower()) + ".yaml"


def lb_address_range(subnet: str, size: int = 50, offset_from_end: int = 55) -> str:
    """A MetalLB address range near the top of a Docker network's subnet.

    Docker hands out container addresses from the bottom of the subnet, so a
    block near the top does not collide with kind nodes. For 172.18.0.0/16:
    172.18.255.200-172.18.255.249.
    """
    try:
        network = ipaddress.ip_network(subnet, strict=False)
    except ValueError as exc:
        raise AnsibleFilterError(f"lb_address_range: '{subnet}' is not a subnet: {exc}") from exc
    if network.num_addresses < offset_from_end + 2:
        raise AnsibleFilterError(
            f"lb_address_range: subnet {subnet} is too small for a {size}-address pool; set metallb_address_pool"
        )
    first = network.broadcast_address - offset_from_end
    last = first + (size - 1)
    if last >= network.broadcast_address:
        raise AnsibleFilterError(f"lb_address_range: a pool of {size} does not fit below {network.broadcast_address}")
    return f"{first}-{last}"


class FilterModule:
    """sre.platform filters."""

    def filters(self) -> dict:
        return {"manifest_filename": manifest_filename, "lb_address_range": lb_address_range}
