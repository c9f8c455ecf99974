"""Filters shared by the sre.platform roles."""

from __future__ import annotations

import ipaddress
import json
import re

from ansible.errors import AnsibleFilterError
from ansible_collections.sre.platform.plugins.module_utils import timestamps
from ansible_collections.sre.platform.plugins.module_utils.postgres import dsn_connection


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


# Kinds kubernetes.core.k8s waits on by itself, for readiness, when asked to wait without a condition; for any
# other kind, waiting only checks that the object exists, which it does once applied.
_K8S_READINESS_KINDS = frozenset({"Deployment", "DaemonSet", "StatefulSet", "Pod"})


def apply_batches(objects: list, wait_conditions: dict, one_each: bool = False) -> list[dict]:
    """The objects in order, in runs that one kubernetes.core.k8s task can apply and wait for.

    ``wait_conditions`` maps the kinds to wait for to their condition ({} for the module's own readiness check).
    An object of another kind joins any run waited for without a condition (for its kind, waiting means one
    read), except a kind the module would wait on for readiness. One task per run instead of one per object
    saves the module's start-up, about half a second per object; the module still applies, and waits for, each
    object in turn. Each batch is ``{wait, condition, objects, label}``. ``one_each`` makes a batch of every
    object, for diff mode: Ansible shows the diff of a task's result, not those of the results nested in it.
    """
    batches: list[dict] = []
    for obj in objects:
        kind = obj["kind"]
        wait = kind in wait_conditions or kind not in _K8S_READINESS_KINDS
        condition = wait_conditions.get(kind) or {}
        last = batches[-1] if batches else None
        if last and not one_each and (last["wait"], last["condition"]) == (wait, condition):
            last["objects"].append(obj)
        else:
            batches.append({"wait": wait, "condition": condition, "objects": [obj]})
    for batch in batches:
        batch["label"] = ", ".join(_object_label(obj) for obj in batch["objects"])
    return batches


def apply_errors(applied: list[dict]) -> list[str]:
    """``Kind/namespace/name: message`` for each object a looped kubernetes.core.k8s task (``continue_on_error``,
    one batch of ``apply_batches`` per item) could not apply or wait for; empty when every object made it."""
    errors = []
    for item in applied:
        objects = item["item"]["objects"]
        if item.get("failed"):  # the whole run failed before reaching the objects
            errors.append(f"{item['item']['label']}: {item.get('msg', 'failed')}")
            continue
        # One definition: its result is the task's own; several: one result each, in order.
        results = item["result"]["results"] if len(objects) > 1 else [item]
        errors += [
            f"{_object_label(obj)}: {_api_message(result['error'].get('msg', ''))}"
            for obj, result in zip(objects, results, strict=True)
            if result.get("error")
        ]
    return errors


def _api_message(msg: str) -> str:
    """The API server's own message from kubernetes.core's 'Failed to ...: {Status as JSON}', else ``msg``."""
    start = msg.find("{")
    try:
        status = json.loads(msg[start:]) if start >= 0 else {}
    except ValueError:
        return msg
    return status.get("message", msg) if isinstance(status, dict) else msg


def _object_label(obj: dict) -> str:
    return f"{obj['kind']}/{obj['metadata'].get('namespace', '-')}/{obj['metadata']['name']}"


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


def iso_utc(epoch) -> str:
    """A Unix time in seconds as the modules write times: ISO 8601 UTC with microseconds and a trailing Z."""
    try:
        seconds = float(epoch)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"iso_utc: not a Unix time in seconds: {epoch!r}") from exc
    return timestamps.iso_utc(seconds)


def pg_dsn(dsn) -> dict:
    """host, port, user, password, database and sslmode of a libpq connection URI or key=value string."""
    try:
        return dsn_connection(dsn)
    except ValueError as exc:
        raise AnsibleFilterError(f"pg_dsn: {exc}") from None


class FilterModule:
    """sre.platform filters."""

    def filters(self) -> dict:
        return {
            "manifest_filename": manifest_filename,
            "apply_batches": apply_batches,
            "apply_errors": apply_errors,
            "lb_address_range": lb_address_range,
            "iso_utc": iso_utc,
            "pg_dsn": pg_dsn,
        }
