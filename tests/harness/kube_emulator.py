"""A Kubernetes API emulator on 127.0.0.1 for kubernetes.core and the Python client.

No kube-apiserver can run on the test machines. kmock's ``KubernetesEmulator``
(pinned 0.8) serves API discovery and keeps objects in memory; this module
fixes what kubernetes.core needs from it and adds what the platform's roles
rely on:

- object paths of namespaces (``/api/v1/namespaces[/NAME]``) are parsed right
  and core discovery answers ``groupVersion: v1``;
- fetch, list (typed, with label and field selectors), create, replace (PUT),
  merge / strategic-merge / JSON patches and server-side apply (PUT and apply
  create a missing object, like the real API), delete, and server-side dry run
  (``dryRun=All``, what ``check_mode`` uses);
- the metadata the API server owns: ``uid``, ``creationTimestamp``,
  ``resourceVersion`` (bumped on real changes only) and ``generation``
  (bumped on changes outside metadata and status), so a second identical apply
  changes nothing;
- the status subresource: main-resource writes keep the stored status, writes
  to ``/status`` change nothing else;
- custom resources known from the start (every schema under
  ``$SRE_PLATFORM_SCHEMAS``) and from posted CustomResourceDefinitions;
- an opt-in stand-in controller (``auto_status``) that reports workloads,
  CloudNativePG clusters, Argo CD applications, LoadBalancer services and
  claims healthy, as their controllers would once everything runs;
- pod logs: no container runs, so a pod's ``log`` subresource serves what a
  test wrote for it (``--pod-logs DIR``: ``DIR/<namespace>/<pod>.log``, empty
  when absent; ``tailLines`` honoured);
- pod exec (the websocket ``exec`` subresource, what ``kubernetes.core.k8s_exec``
  uses): no container runs either, so the command runs on this host, in the
  environment a test wrote for the pod (``--pod-exec DIR``:
  ``DIR/<namespace>/<pod>.json``, a JSON object of variables added to the
  emulator's own). A test points ``psql`` at a local PostgreSQL that way. A pod
  without such a file answers as a container whose command is not found
  (exit code 127).

It stays a JSON store: no validation, no admission, no garbage collection
(except a namespace's objects when it is deleted), finalizers are not waited
for, watches are refused, every patch replaces lists whole, and server-side
apply merges into the stored object (a field dropped from the applied
configuration stays, where the real API would remove it).

Run it as a process (``python -m tests.harness.kube_emulator --help``) or use
``KubeEmulatorServer`` / the ``kube_api`` fixture from tests.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import datetime
import itertools
import json
import os
import re
import secrets
import signal
import string
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp.web
import attrs
import jsonpatch
import kmock
import yaml
from kmock._internal import parsing

from tests.harness.ansible import PlaybookRun, run_playbook
from tests.harness.servers import LOOPBACK, ManagedServer, PostgresServer, free_port, wait_for_http

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SCHEMAS_DIR = REPO_ROOT.parent / "shared" / "schemas"
PROJECT_SCHEMAS_DIR = REPO_ROOT / "files" / "schemas"
# TEST-NET-2 (RFC 5737): addresses that can never reach a real host.
LOAD_BALANCER_POOL = "198.51.100."
PRESENT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
CRD_RESOURCE = kmock.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
CUSTOM_RESOURCE_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
# Keys a server-side dry run or a controller never treats as the object's content.
SERVER_OWNED_METADATA = ("uid", "creationTimestamp", "resourceVersion", "generation")

JSON = dict[str, Any]


class SchemasNotFound(RuntimeError):
    """The CRD schemas directory is missing."""


# --- request paths -----------------------------------------------------------


def parse_k8s_path(path: str) -> parsing.ParsedPath:
    """Split an API path into group, version, namespace, plural, name and subresource.

    kmock 0.8 reads ``/api/v1/namespaces`` as the start of a namespaced path
    (and fails on it), and ``/api/v1/namespaces/NAME`` as a namespace without a
    resource. Here ``namespaces/NAME`` is a namespace prefix only when a
    resource follows it.
    """
    parts = [part for part in path.strip("/").split("/") if part]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 2 and parts[0] == "apis":
        group, version, rest = parts[1], (parts[2:3] or [None])[0], parts[3:]
    else:
        return parsing.ParsedPath()
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    plural, name, *subresource = rest + [None] * (2 - min(len(rest), 2))
    return parsing.ParsedPath(
        group=group,
        version=version,
        plural=plural,
        namespace=namespace,
        name=name,
        subresource="/".join(subresource) or None,
    )


def _install_path_parser() -> None:
    """kmock parses every request through this module function and offers no hook for it."""
    if not kmock.__version__.startswith("0.8"):
        raise RuntimeError(
            f"kmock {kmock.__version__} is installed but tests/harness/kube_emulator.py is written "
            "against kmock 0.8 (pinned in requirements-dev.txt): re-check its fixes before upgrading."
        )
    parsing.parse_path = parse_k8s_path


_install_path_parser()


# --- object arithmetic -------------------------------------------------------


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: dicts merge, ``None`` removes a key, anything else replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _content(obj: JSON) -> JSON:
    """The object without the fields only the server writes."""
    stripped = dict(obj)
    stripped["metadata"] = {
        k: v for k, v in obj.get("metadata", {}).items() if k not in ("resourceVersion", "generation")
    }
    return stripped


def _spec_part(obj: JSON) -> JSON:
    """What bumps ``generation``: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _selector_matches(values: Mapping[str, Any], selector: str | None) -> bool:
    """Equality-based selectors: ``a=b``, ``a==b``, ``a!=b``, ``a``, ``!a`` joined by commas."""
    for term in filter(None, (selector or "").split(",")):
        term = term.strip()
        if "!=" in term:
            key, value = term.split("!=", 1)
            ok = values.get(key.strip()) != value.strip()
        elif "=" in term:
            key, value = re.split("==?", term, maxsplit=1)
            ok = values.get(key.strip()) == value.strip()
        elif term.startswith("!"):
            ok = term[1:] not in values
        else:
            ok = term in values
        if not ok:
            return False
    return True


def _field_values(obj: JSON) -> dict[str, Any]:
    meta = obj.get("metadata", {})
    return {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace")}


# --- resources: schemas and CRDs ----------------------------------------------


def plural_of(kind: str) -> str:
    """The plural resource name Kubernetes derives from a kind."""
    lower = kind.lower()
    if lower.endswith("y") and lower[-2:-1] not in tuple("aeiou"):
        return lower[:-1] + "ies"
    if lower.endswith(("s", "x", "ch", "sh")):
        return lower + "es"
    return lower + "s"


def _kind_from_schema(stem: str, schema: JSON) -> str:
    """Schema files are named in lower case; the kind's spelling is in the description's words."""
    for word in re.findall(r"[A-Za-z0-9]+", schema.get("description", "")):
        if word.lower() == stem:
            return word
    return stem.capitalize()


def schemas_dir() -> Path:
    """Where the CRD schemas live: ``$SRE_PLATFORM_SCHEMAS``, else ``../shared/schemas`` next to the repo."""
    directory = Path(os.environ.get("SRE_PLATFORM_SCHEMAS") or DEFAULT_SCHEMAS_DIR)
    if not directory.is_dir():
        raise SchemasNotFound(
            f"CRD schemas directory {directory} does not exist: set SRE_PLATFORM_SCHEMAS to the directory "
            "holding <group>/<kind>_<version>.json (see schemas/SOURCES.md)"
        )
    return directory


def schema_resources(directory: Path) -> dict[kmock.resource, kmock.ResourceInfo]:
    """One namespaced resource per ``<group>/<kind>_<version>.json`` (every platform CRD is namespaced)."""
    found = {}
    for path in sorted(directory.glob("*/*_*.json")):
        stem, version = path.stem.rsplit("_", 1)
        kind = _kind_from_schema(stem, json.loads(path.read_text()))
        resource = kmock.resource(path.parent.name, version, plural_of(kind))
        found[resource] = _custom_resource_info(kind, namespaced=True, subresources={"status"})
    return found


def crd_resources(crd: JSON) -> dict[kmock.resource, kmock.ResourceInfo]:
    """The resources a CustomResourceDefinition serves, one per served version."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    found = {}
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        resource = kmock.resource(spec.get("group"), version["name"], names.get("plural"))
        found[resource] = _custom_resource_info(
            names.get("kind"),
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            subresources=set(version.get("subresources", {})),
            singular=names.get("singular"),
            shortnames=names.get("shortNames", []),
            categories=names.get("categories", []),
        )
    return found


def _custom_resource_info(kind: str, namespaced: bool, subresources: set[str], **names: Any) -> kmock.ResourceInfo:
    names.setdefault("singular", kind.lower())
    return kmock.ResourceInfo(
        kind=kind, namespaced=namespaced, verbs=set(CUSTOM_RESOURCE_VERBS), subresources=subresources, **names
    )


def _crd_status(crd: JSON) -> JSON:
    """What the API server reports once it serves a CRD."""
    since = crd["metadata"]["creationTimestamp"]
    return {
        "acceptedNames": crd.get("spec", {}).get("names", {}),
        "storedVersions": [v["name"] for v in crd.get("spec", {}).get("versions", []) if v.get("storage")],
        "conditions": [
            _condition("NamesAccepted", "NoConflicts", since),
            _condition("Established", "InitialNamesAccepted", since),
        ],
    }


# --- the stand-in controller (auto_status) -----------------------------------


def _condition(kind: str, reason: str, since: str) -> JSON:
    # Timestamps come from the object, so recomputing a status never changes it.
    return {"type": kind, "status": "True", "reason": reason, "lastTransitionTime": since}


def _replicas(obj: JSON, field: str = "replicas", default: int = 1) -> int:
    value = obj.get("spec", {}).get(field)
    return default if value is None else int(value)


def _deployment_status(obj: JSON, _: Callable[[], str]) -> JSON:
    replicas = _replicas(obj)
    since = obj["metadata"]["creationTimestamp"]
    return {
        "observedGeneration": obj["metadata"]["generation"],
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "conditions": [
            _condition("Available", "MinimumReplicasAvailable", since),
            _condition("Progressing", "NewReplicaSetAvailable", since),
        ],
    }


def _statefulset_status(obj: JSON, _: Callable[[], str]) -> JSON:
    replicas = _replicas(obj)
    revision = f"{obj['metadata']['name']}-{obj['metadata']['generation']}"
    return {
        "observedGeneration": obj["metadata"]["generation"],
        "replicas": replicas,
        "readyReplicas": replicas,
        "currentReplicas": replicas,
        "updatedReplicas": replicas,
        "availableReplicas": replicas,
        "currentRevision": revision,
        "updateRevision": revision,
    }


def _daemonset_status(obj: JSON, _: Callable[[], str]) -> JSON:
    nodes = 1  # the emulated cluster has one schedulable node
    return {
        "observedGeneration": obj["metadata"]["generation"],
        "desiredNumberScheduled": nodes,
        "currentNumberScheduled": nodes,
        "updatedNumberScheduled": nodes,
        "numberReady": nodes,
        "numberAvailable": nodes,
        "numberMisscheduled": 0,
    }


def _job_status(obj: JSON, _: Callable[[], str]) -> JSON:
    since = obj["metadata"]["creationTimestamp"]
    return {
        "succeeded": _replicas(obj, "completions"),
        "startTime": since,
        "completionTime": since,
        "conditions": [_condition("Complete", "CompletionsReached", since)],
    }


def _cnpg_cluster_status(obj: JSON, _: Callable[[], str]) -> JSON:
    instances = _replicas(obj, "instances")
    return {
        "instances": instances,
        "readyInstances": instances,
        "phase": "Cluster in healthy state",
        "currentPrimary": f"{obj['metadata']['name']}-1",
        "conditions": [_condition("Ready", "ClusterIsReady", obj["metadata"]["creationTimestamp"])],
    }


def _argo_application_status(obj: JSON, _: Callable[[], str]) -> JSON:
    return {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}}


def _service_status(obj: JSON, allocate_ip: Callable[[], str]) -> JSON | None:
    if obj.get("spec", {}).get("type") != "LoadBalancer":
        return obj.get("status")
    ingress = obj.get("status", {}).get("loadBalancer", {}).get("ingress")
    return {"loadBalancer": {"ingress": ingress or [{"ip": allocate_ip(), "ipMode": "VIP"}]}}


def _pvc_status(obj: JSON, _: Callable[[], str]) -> JSON:
    spec = obj.get("spec", {})
    return {
        "phase": "Bound",
        "accessModes": spec.get("accessModes", []),
        "capacity": spec.get("resources", {}).get("requests", {}),
    }


def _namespace_status(obj: JSON, _: Callable[[], str]) -> JSON:
    return {"phase": "Active"}


# (API group, kind) -> status a healthy controller would report.
HEALTHY_STATUS: dict[tuple[str, str], Callable[[JSON, Callable[[], str]], JSON | None]] = {
    ("apps", "Deployment"): _deployment_status,
    ("apps", "StatefulSet"): _statefulset_status,
    ("apps", "DaemonSet"): _daemonset_status,
    ("batch", "Job"): _job_status,
    ("postgresql.cnpg.io", "Cluster"): _cnpg_cluster_status,
    ("argoproj.io", "Application"): _argo_application_status,
    ("", "Service"): _service_status,
    ("", "PersistentVolumeClaim"): _pvc_status,
    ("", "Namespace"): _namespace_status,
}


def _apply_defaults(group: str, obj: JSON) -> None:
    """The one API default kubernetes.core's StatefulSet wait cannot do without."""
    if (group, obj.get("kind")) == ("apps", "StatefulSet"):
        obj.setdefault("spec", {}).setdefault("updateStrategy", {"type": "RollingUpdate"})


# --- the emulator ------------------------------------------------------------


@attrs.frozen
class _Target:
    """One addressed object (or collection) of a known resource."""

    resource: kmock.resource
    info: kmock.ResourceInfo
    namespace: str | None
    name: str | None

    @property
    def key(self) -> tuple[kmock.resource, str | None, str | None]:
        return (self.resource, self.namespace, self.name)

    @property
    def api_version(self) -> str:
        group, version = self.resource.group, self.resource.version
        return f"{group}/{version}" if group else version


@attrs.define(kw_only=True)
class KubeEmulator(kmock.KubernetesEmulator):
    """kmock's KubernetesEmulator with the object API kubernetes.core needs (see the module docstring)."""

    auto_status: bool = False
    pod_logs: Path | None = None
    pod_exec: Path | None = None
    _revision: itertools.count = attrs.field(factory=lambda: itertools.count(1), init=False)
    _last_revision: int = attrs.field(default=0, init=False)
    _next_ip: itertools.count = attrs.field(factory=lambda: itertools.count(10), init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.resources.load_bundled()
        for name in PRESENT_NAMESPACES:
            target = self._target(kmock.resource("", "v1", "namespaces"), None, name)
            self._write(target, None, {"metadata": {"name": name}}, dry_run=False)

    def add_resources(self, resources: Mapping[kmock.resource, kmock.ResourceInfo]) -> None:
        for resource, info in resources.items():
            self.resources[resource] = info

    # kmock routes discovery itself; only the core group's name is wrong there.
    async def _serve_version(self, request: kmock.Request) -> kmock.Payload:
        payload = await super()._serve_version(request)
        if request.resource is not None and request.resource.group == "":
            payload["groupVersion"] = request.resource.version
        return payload

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        resource = request.resource
        if resource is None or resource.plural is None:
            return await super()._handle(request)  # discovery and non-API paths
        try:
            if (resource.group, resource.plural, request.subresource) == ("", "pods", "exec"):
                return await self._pod_exec(request)
            async with self._lock:
                if (resource.group, resource.plural, request.subresource) == ("", "pods", "log"):
                    return aiohttp.web.Response(text=self._pod_log(request), content_type="text/plain")
                status, payload = self._serve_object(request)
        except kmock.KubernetesError as exc:
            return await self._render_error(exc)
        return aiohttp.web.json_response(payload, status=status)

    def _pod_log(self, request: kmock.Request) -> str:
        """What the test wrote as the pod's output (the pod must exist), last ``tailLines`` lines only if asked."""
        if request.method.value.upper() != "GET":
            raise _error(405, "MethodNotAllowed", "a pod's log is only read")
        target = self._target(request.resource, request.namespace, request.name)
        self._existing_or_404(target)
        path = self.pod_logs / target.namespace / f"{target.name}.log" if self.pod_logs else None
        text = path.read_text() if path is not None and path.is_file() else ""
        tail = request.params.get("tailLines")
        return "".join(text.splitlines(keepends=True)[-int(tail) :]) if tail else text

    async def _pod_exec(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        """Run the command on this host in the pod's test-given environment; answer as the exec protocol does.

        The channel protocol's frames: a channel byte (1 stdout, 2 stderr, 3 the final status), then data.
        """
        async with self._lock:
            target = self._target(request.resource, request.namespace, request.name)
            self._existing_or_404(target)
        raw = request._raw_request
        command = raw.query.getall("command", [])
        path = self.pod_exec / target.namespace / f"{target.name}.json" if self.pod_exec else None
        socket = aiohttp.web.WebSocketResponse(protocols=("v4.channel.k8s.io",))
        await socket.prepare(raw)
        if not command or path is None or not path.is_file():
            code, out, err = 127, b"", f"no command runs in pod {target.name} (no {path})\n".encode()
        else:
            environment = {**os.environ, **json.loads(path.read_text())}
            process = await asyncio.create_subprocess_exec(
                *command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            out, err = await process.communicate()
            code = process.returncode
        for channel, data in ((1, out), (2, err)):
            if data:
                await socket.send_bytes(bytes([channel]) + data)
        await socket.send_bytes(b"\x03" + json.dumps(_exec_status(code)).encode())
        await socket.close()
        return socket

    def _serve_object(self, request: kmock.Request) -> tuple[int, JSON]:
        target = self._target(request.resource, request.namespace, request.name)
        dry_run = request.params.get("dryRun") == "All"
        method = request.method.value.upper()
        if request.params.get("watch") in ("true", "1"):
            raise _error(405, "MethodNotAllowed", "the emulator does not serve watches; poll instead")
        if target.name is None:
            handlers = {"GET": self._list, "POST": self._create, "DELETE": self._delete_collection}
        else:
            handlers = {"GET": self._fetch, "PUT": self._replace, "PATCH": self._patch, "DELETE": self._delete}
        if method not in handlers:
            raise _error(405, "MethodNotAllowed", f"{method} is not served for {request.url.path}")
        return handlers[method](target, request, dry_run)

    def _target(self, resource: kmock.resource, namespace: str | None, name: str | None) -> _Target:
        if resource not in self.resources:
            raise kmock.KubernetesResourceNotFoundError(
                message=f"the server could not find the requested resource {resource.plural} "
                f"in {resource.group or 'core'}/{resource.version}"
            )
        info = self.resources[resource]
        return _Target(resource, info, namespace if info.namespaced else None, name)

    # -- reads --

    def _fetch(self, target: _Target, request: kmock.Request, dry_run: bool) -> tuple[int, JSON]:
        return 200, self._existing_or_404(target)

    def _list(self, target: _Target, request: kmock.Request, dry_run: bool) -> tuple[int, JSON]:
        items = self._matching(target, request.params)
        return 200, {
            "apiVersion": target.api_version,
            "kind": f"{target.info.kind}List",
            "metadata": {"resourceVersion": str(self._last_revision)},
            "items": items,
        }

    def _matching(self, target: _Target, params: Mapping[str, str]) -> list[JSON]:
        found = []
        for (resource, namespace, _), obj in self.objects.items():
            if resource != target.resource or obj.deleted:
                continue
            if target.namespace is not None and namespace != target.namespace:
                continue
            raw = obj.raw
            labels = raw.get("metadata", {}).get("labels", {})
            if _selector_matches(labels, params.get("labelSelector")) and _selector_matches(
                _field_values(raw), params.get("fieldSelector")
            ):
                found.append(raw)
        return found

    def _existing(self, target: _Target) -> JSON | None:
        if target.key not in self.objects or self.objects[target.key].deleted:
            return None
        return copy.deepcopy(self.objects[target.key].raw)

    def _existing_or_404(self, target: _Target) -> JSON:
        existing = self._existing(target)
        if existing is None:
            raise kmock.KubernetesObjectNotFoundError(
                reason="NotFound",
                message=f'{target.resource.plural} "{target.name}" not found',
                details={"name": target.name, "kind": target.resource.plural},
            )
        return existing

    # -- writes --

    def _create(self, target: _Target, request: kmock.Request, dry_run: bool) -> tuple[int, JSON]:
        body = _body_dict(request)
        meta = body.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(secrets.choice(string.ascii_lowercase) for _ in range(5))
        namespace = target.namespace or meta.get("namespace") or ("default" if target.info.namespaced else None)
        target = attrs.evolve(target, namespace=namespace, name=meta.get("name"))
        if not target.name:
            raise _error(400, "BadRequest", "metadata.name or metadata.generateName is required")
        if self._existing(target) is not None:
            raise _error(409, "AlreadyExists", f'{target.resource.plural} "{target.name}" already exists')
        return 201, self._write(target, None, body, dry_run)

    def _replace(self, target: _Target, request: kmock.Request, dry_run: bool) -> tuple[int, JSON]:
        body = _body_dict(request)
        existing = self._existing(target)
        sent_version = body.get("metadata", {}).get("resourceVersion")
        if existing is not None and sent_version and sent_version != existing["metadata"]["resourceVersion"]:
            raise _error(409, "Conflict", f'{target.resource.plural} "{target.name}" was modified since it was read')
        if request.subresource == "status":
            body = dict(self._existing_or_404(target), status=body.get("status"))
        return (200 if existing else 201), self._write(target, existing, body, dry_run, request.subresource)

    def _patch(self, target: _Target, request: kmock.Request, dry_run: bool) -> tuple[int, JSON]:
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        existing = self._existing(target)
        if content_type == "application/apply-patch+yaml":
            applied = yaml.safe_load(request.text) or {}
            body = merge_patch(existing or {}, applied)
        elif existing is None:
            return 200, self._existing_or_404(target)
        elif content_type == "application/json-patch+json":
            body = jsonpatch.apply_patch(existing, request.data or [])
        else:  # merge and strategic merge: lists are replaced whole in both here
            body = merge_patch(existing, _body_dict(request))
        return (200 if existing else 201), self._write(target, existing, body, dry_run, request.subresource)

    def _delete(self, target: _Target, request: kmock.Request, dry_run: bool) -> tuple[int, JSON]:
        existing = self._existing_or_404(target)
        if not dry_run:
            self._remove(target, existing)
        return 200, existing

    def _delete_collection(self, target: _Target, request: kmock.Request, dry_run: bool) -> tuple[int, JSON]:
        items = self._matching(target, request.params)
        if not dry_run:
            for obj in items:
                meta = obj["metadata"]
                self._remove(attrs.evolve(target, namespace=meta.get("namespace"), name=meta["name"]), obj)
        return 200, {"apiVersion": target.api_version, "kind": f"{target.info.kind}List", "items": items}

    def _write(
        self, target: _Target, existing: JSON | None, body: JSON, dry_run: bool, subresource: str | None = None
    ) -> JSON:
        """Turn a requested state into the stored one; store it unless dry run or unchanged."""
        if existing is None:
            self._require_namespace(target)
            candidate = self._new_object(target, body)
        else:
            candidate = self._updated_object(target, existing, body, subresource)
        if self.auto_status and not dry_run and subresource != "status":
            self._run_controller(target, candidate)
        if existing is not None and _content(candidate) == _content(existing):
            return existing
        candidate["metadata"]["resourceVersion"] = self._bump_revision()
        if not dry_run:
            self._store(target, candidate)
        return candidate

    def _new_object(self, target: _Target, body: JSON) -> JSON:
        obj = copy.deepcopy(body)
        obj["apiVersion"], obj["kind"] = target.api_version, target.info.kind
        meta = obj.setdefault("metadata", {})
        meta.update(name=target.name, uid=str(uuid.uuid4()), creationTimestamp=_now(), generation=1)
        meta.pop("resourceVersion", None)
        if target.namespace:
            meta["namespace"] = target.namespace
        if "status" in target.info.subresources:
            obj.pop("status", None)
        return obj

    def _updated_object(self, target: _Target, existing: JSON, body: JSON, subresource: str | None) -> JSON:
        if subresource == "status":
            obj = dict(copy.deepcopy(existing), status=body.get("status"))
            if obj["status"] is None:
                obj.pop("status")
            return obj
        obj = copy.deepcopy(body)
        obj["apiVersion"], obj["kind"] = existing["apiVersion"], existing["kind"]
        meta = obj.setdefault("metadata", {})
        for key in ("name", "namespace", *SERVER_OWNED_METADATA):
            if key in existing["metadata"]:
                meta[key] = existing["metadata"][key]
        if "status" in target.info.subresources:
            obj.pop("status", None)
            if "status" in existing:
                obj["status"] = existing["status"]
        if _spec_part(obj) != _spec_part(existing):
            meta["generation"] = existing["metadata"].get("generation", 1) + 1
        return obj

    def _run_controller(self, target: _Target, obj: JSON) -> None:
        _apply_defaults(target.resource.group, obj)
        controller = HEALTHY_STATUS.get((target.resource.group, target.info.kind))
        if controller is not None:
            status = controller(obj, self._allocate_ip)
            if status is not None:
                obj["status"] = status

    def _allocate_ip(self) -> str:
        return f"{LOAD_BALANCER_POOL}{next(self._next_ip)}"

    def _bump_revision(self) -> str:
        self._last_revision = next(self._revision)
        return str(self._last_revision)

    def _require_namespace(self, target: _Target) -> None:
        if target.namespace is None:
            return
        namespace = self._target(kmock.resource("", "v1", "namespaces"), None, target.namespace)
        if self._existing(namespace) is None:
            raise kmock.KubernetesObjectNotFoundError(
                reason="NotFound", message=f'namespaces "{target.namespace}" not found'
            )

    def _store(self, target: _Target, obj: JSON) -> None:
        if target.resource == CRD_RESOURCE:
            obj["status"] = _crd_status(obj)
            self.add_resources(crd_resources(obj))
        if target.key in self.objects:
            self.objects[target.key].history.append(obj)
        else:
            self.objects[target.key] = obj

    def _remove(self, target: _Target, obj: JSON) -> None:
        self.objects[target.key].delete()
        if target.resource == CRD_RESOURCE:
            for resource in crd_resources(obj):
                self.resources.pop(resource, None)
        if (target.resource.group, target.info.kind) == ("", "Namespace"):
            self._remove_namespace_content(target.name)
        self._bump_revision()

    def _remove_namespace_content(self, namespace: str) -> None:
        for (_, obj_namespace, _), obj in list(self.objects.items()):
            if obj_namespace == namespace and not obj.deleted:
                obj.delete()


def _error(status: int, reason: str, message: str) -> kmock.KubernetesError:
    return kmock.KubernetesError(status=status, reason=reason, message=message, details={"causes": []})


def _body_dict(request: kmock.Request) -> JSON:
    if not isinstance(request.data, Mapping):
        raise _error(400, "BadRequest", "the request body must be a JSON object")
    return copy.deepcopy(dict(request.data))


def _exec_status(code: int) -> JSON:
    """The status an exec stream ends with, as the kubelet writes it."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def build_emulator(
    auto_status: bool = False,
    schemas: Path | None = None,
    pod_logs: Path | None = None,
    pod_exec: Path | None = None,
) -> KubeEmulator:
    """An emulator that already serves every custom resource of the schemas directory."""
    emulator = KubeEmulator(auto_status=auto_status, pod_logs=pod_logs, pod_exec=pod_exec)
    emulator.add_resources(schema_resources(schemas or schemas_dir()))
    # Kinds the shared catalogue lacks, with schemas kept in the project (files/schemas).
    emulator.add_resources(schema_resources(PROJECT_SCHEMAS_DIR))
    return emulator


# --- process: kubeconfig, CLI, pytest helper ---------------------------------


def kubeconfig_text(url: str) -> str:
    """A kubeconfig for the emulator; the token is a placeholder the emulator never checks."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "emulator", "cluster": {"server": url}}],
        "users": [{"name": "emulator", "user": {"token": "emulator-placeholder-token"}}],
        "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "emulator"}}],
        "current-context": "emulator",
    }
    return yaml.safe_dump(config, sort_keys=False)


async def serve(emulator: KubeEmulator, port: int, on_ready: Callable[[], None]) -> None:
    """Serve until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with emulator, kmock.Server(emulator, host=LOOPBACK, port=port):
        on_ready()
        await stop.wait()


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.harness.kube_emulator",
        description="Serve an emulated Kubernetes API on 127.0.0.1 (see the module docstring for its limits).",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--kubeconfig", type=Path, required=True, help="where to write the kubeconfig")
    parser.add_argument("--pidfile", type=Path, help="written once the API answers; removed on exit")
    parser.add_argument("--auto-status", action="store_true", help="report objects healthy like their controllers")
    parser.add_argument("--schemas", type=Path, help="CRD schemas directory (default: $SRE_PLATFORM_SCHEMAS)")
    parser.add_argument("--pod-logs", type=Path, help="pod logs to serve: DIR/<namespace>/<pod>.log")
    parser.add_argument(
        "--pod-exec", type=Path, help="environment of commands run in a pod: DIR/<namespace>/<pod>.json"
    )
    parser.add_argument(
        "--background",
        action="store_true",
        help="start the emulator as a detached process, wait until it answers, print its PID and URL, exit",
    )
    parser.add_argument("--log", type=Path, help="with --background: the server's log (default: next to pidfile)")
    return parser.parse_args(argv)


def run_foreground(args: argparse.Namespace) -> int:
    emulator = build_emulator(args.auto_status, args.schemas, args.pod_logs, args.pod_exec)
    port = args.port or free_port()
    url = f"http://{LOOPBACK}:{port}"
    _write_atomically(args.kubeconfig, kubeconfig_text(url))

    def ready() -> None:
        if args.pidfile:
            _write_atomically(args.pidfile, f"{os.getpid()}\n")
        print(f"Kubernetes API emulator listening on {url} (kubeconfig {args.kubeconfig})", flush=True)

    try:
        asyncio.run(serve(emulator, port, ready))
    finally:
        if args.pidfile:
            args.pidfile.unlink(missing_ok=True)
    return 0


def run_background(args: argparse.Namespace, argv: list[str], timeout: float = 30.0) -> int:
    """Start a detached emulator and return once its pidfile says it answers."""
    if args.pidfile is None:
        print("--background needs --pidfile: it is how the caller stops the emulator", file=sys.stderr)
        return 2
    args.pidfile.unlink(missing_ok=True)
    log_path = args.log or args.pidfile.with_suffix(".log")
    child_argv = [arg for arg in argv if arg != "--background"]
    with open(log_path, "ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.harness.kube_emulator", *child_argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while not args.pidfile.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            tail = log_path.read_text(errors="replace")[-2000:]
            print(f"the emulator did not start (see {log_path}):\n{tail}", file=sys.stderr)
            return 1
        time.sleep(0.05)
    config = yaml.safe_load(args.kubeconfig.read_text())
    print(json.dumps({"pid": child.pid, "url": config["clusters"][0]["cluster"]["server"], "log": str(log_path)}))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parse_args(argv)
    try:
        if args.background:
            return run_background(args, argv)
        return run_foreground(args)
    except SchemasNotFound as exc:
        print(exc, file=sys.stderr)
        return 2


class KubeEmulatorServer(ManagedServer):
    """The emulator as a process for tests, with helpers to read and drive objects.

    ``.kubeconfig`` and ``.url`` point at it; ``.client`` is a
    ``kubernetes.dynamic.DynamicClient``; ``create`` stores an object, ``get`` reads one,
    ``set_status`` writes a status through the status subresource (as a
    controller would), ``set_pod_log`` what a pod printed, ``set_pod_exec``
    the environment its commands run in (``create_postgres_pod``: a Pod whose
    commands reach a test's PostgreSQL), ``playbook`` runs ansible-playbook
    against it.
    """

    def __init__(self, auto_status: bool = False) -> None:
        super().__init__("kube-emulator", free_port(), Path(tempfile.mkdtemp(prefix="sre-kube-")))
        self.auto_status = auto_status
        self.kubeconfig = self.workdir / "kubeconfig"
        self.pod_logs = self.workdir / "pod-logs"
        self.pod_exec = self.workdir / "pod-exec"
        self._client = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 30.0) -> KubeEmulatorServer:
        argv = [sys.executable, "-m", "tests.harness.kube_emulator", "--port", str(self.port)]
        argv += ["--kubeconfig", str(self.kubeconfig), "--pidfile", str(self.workdir / "emulator.pid")]
        argv += ["--pod-logs", str(self.pod_logs), "--pod-exec", str(self.pod_exec)]
        if self.auto_status:
            argv.append("--auto-status")
        self.spawn(argv, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
        try:
            wait_for_http(f"{self.url}/version", timeout, self.proc)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{exc}\n{self.log_tail()}") from exc
        return self

    @property
    def client(self):
        """A DynamicClient with its discovery cache inside this emulator's directory."""
        if self._client is None:
            from kubernetes import config, dynamic

            api_client = config.new_client_from_config(config_file=str(self.kubeconfig))
            self._client = dynamic.DynamicClient(api_client, cache_file=str(self.workdir / "discovery.json"))
        return self._client

    def create(self, obj: JSON) -> JSON:
        """Create an object (``apiVersion``, ``kind``, ``metadata``...) as a test's setup; the stored object."""
        resource = self.client.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        return resource.create(body=obj, namespace=obj["metadata"].get("namespace")).to_dict()

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> JSON | None:
        from kubernetes.dynamic.exceptions import NotFoundError

        resource = self.client.resources.get(api_version=api_version, kind=kind)
        try:
            return resource.get(name=name, namespace=namespace).to_dict()
        except NotFoundError:
            return None

    def set_status(self, api_version: str, kind: str, name: str, namespace: str | None, status: JSON) -> JSON:
        resource = self.client.resources.get(api_version=api_version, kind=kind).subresources["status"]
        body = {"status": status}
        patched = resource.patch(body=body, name=name, namespace=namespace, content_type="application/merge-patch+json")
        return patched.to_dict()

    def set_pod_log(self, name: str, namespace: str, text: str) -> None:
        """What the pod printed, served as its log from now on (the pod must exist to be read)."""
        path = self.pod_logs / namespace / f"{name}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, text)

    def set_pod_exec(self, name: str, namespace: str, environment: dict[str, str]) -> None:
        """Let commands run "in" the pod from now on: on this host, with these variables added."""
        path = self.pod_exec / namespace / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, json.dumps(environment))

    def create_postgres_pod(
        self, name: str, namespace: str, server: PostgresServer, labels: JSON | None = None
    ) -> JSON:
        """A database instance's Pod whose commands reach ``server``, as psql in the pod reaches its own PostgreSQL."""
        metadata = {"name": name, "namespace": namespace, "labels": labels or {}}
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata}
        created = self.create({**pod, "spec": {"containers": [{"name": "postgres", "image": "postgres"}]}})
        self.set_pod_exec(name, namespace, server.client_environment)
        return created

    def playbook(self, text: str, workdir: Path, check: bool = False, diff: bool = False) -> PlaybookRun:
        """Run a playbook (YAML text) on localhost against this emulator only, with its own TMPDIR.

        kubernetes.core caches discovery in TMPDIR: a fresh one per run keeps
        a previous emulator's resources (same port, other kinds) out.
        """
        workdir.mkdir(parents=True, exist_ok=True)
        playbook, inventory = workdir / "playbook.yml", workdir / "inventory.ini"
        playbook.write_text(text)
        inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
        run_tmp = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
        env = {"KUBECONFIG": str(self.kubeconfig), "K8S_AUTH_KUBECONFIG": str(self.kubeconfig), "TMPDIR": str(run_tmp)}
        if diff:
            env["ANSIBLE_DIFF_ALWAYS"] = "true"
        return run_playbook(str(playbook), inventory=str(inventory), check=check, env=env)


if __name__ == "__main__":
    sys.exit(main())
