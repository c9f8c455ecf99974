"""playbooks/release.yml converged against the Kubernetes API emulator.

The emulator stands in for the cluster (its stand-in controller reports the
Deployments Available); the smoke tests and the probe reach a real user-hasher
on 127.0.0.1 through ``apps_service_urls``, so the test decides whether a
smoke test passes: a user-hasher started with another salt answers the test
vector wrongly, like a broken release would.
"""

from __future__ import annotations

import os
import sys
import tempfile

import pytest

from tests.harness.ansible import ROOT, PlaybookRun, run_playbook
from tests.harness.apps import AppServer
from tests.harness.kube_emulator import KubeEmulatorServer
from tests.harness.servers import free_port

SERVICE = "user-hasher"
SERVICE_CODE = [ROOT / "services" / "common", ROOT / "services" / SERVICE]


def user_hasher(salt: str) -> AppServer:
    """user-hasher as its image runs it, with this salt."""
    pythonpath = os.pathsep.join(str(path) for path in SERVICE_CODE)
    return AppServer(SERVICE, [sys.executable, "-m", "user_hasher"], env={"PYTHONPATH": pythonpath, "USER_SALT": salt})


@pytest.fixture(scope="module")
def cluster():
    """One emulated cluster for the whole release sequence, with the service's namespace."""
    server = KubeEmulatorServer(auto_status=True)
    try:
        server.start()
        server.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SERVICE}})
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def good_hasher():
    server = user_hasher("TESTSALT")
    try:
        yield server.start()
    finally:
        server.cleanup()


def release(cluster: KubeEmulatorServer, active_url: str, preview_url: str, **request) -> PlaybookRun:
    """Run release.yml for user-hasher against the emulator, with a fresh discovery cache."""
    extra_vars = {
        "service": SERVICE,
        "release_rollback_window": 0,
        "platform_kubeconfig": str(cluster.kubeconfig),
        "apps_services": [SERVICE],
        "apps_build_images": False,
        "apps_service_urls": {SERVICE: active_url, f"{SERVICE}-preview": preview_url},
        "apps_smoke_timeout": 3,
        "apps_release_probe_rate": 5,
        "apps_release_probe_tail": 2,
        "apps_release_probe_duration": 60,  # the stop file ends it 2 s after the flip
        **request,
    }
    run_tmp = tempfile.mkdtemp(prefix="release-", dir=cluster.workdir)
    return run_playbook(
        "playbooks/release.yml",
        inventory="inventories/local",
        extra_vars=extra_vars,
        env={"TMPDIR": run_tmp, "KUBECONFIG": str(cluster.kubeconfig)},
    )


def rollout(cluster: KubeEmulatorServer, url: str, image_tag: str, **request) -> PlaybookRun:
    """Run rollout.yml for user-hasher against the emulator, its probe sent to url."""
    extra_vars = {
        "service": SERVICE,
        "image_tag": image_tag,
        "platform_kubeconfig": str(cluster.kubeconfig),
        "apps_services": [SERVICE],
        "apps_build_images": False,
        "apps_service_urls": {SERVICE: url},
        **request,
    }
    run_tmp = tempfile.mkdtemp(prefix="rollout-", dir=cluster.workdir)
    return run_playbook(
        "playbooks/rollout.yml", inventory="inventories/local", extra_vars=extra_vars, env={"TMPDIR": run_tmp}
    )


def live(cluster: KubeEmulatorServer) -> dict:
    """Active slot, and image and pod count of each slot."""
    service = cluster.get("v1", "Service", SERVICE, SERVICE)
    slots = {}
    for slot in ("blue", "green"):
        deployment = cluster.get("apps/v1", "Deployment", f"{SERVICE}-{slot}", SERVICE)
        slots[slot] = (deployment["spec"]["template"]["spec"]["containers"][0]["image"], deployment["spec"]["replicas"])
    preview = cluster.get("v1", "Service", f"{SERVICE}-preview", SERVICE)
    return {"active": service["spec"]["selector"]["slot"], "preview": preview["spec"]["selector"]["slot"], **slots}


def probe_results(run: PlaybookRun) -> list[dict]:
    """Results of the release's probe: the background_probe task that waits for it (named with its role's name)."""
    return [
        task["hosts"]["localhost"]
        for play in run.report["plays"]
        for task in play["tasks"]
        if task["task"]["name"].endswith("Wait for the probe to finish")
    ]


def ran(run: PlaybookRun, task_name: str) -> bool:
    """Whether the play ran a task of that name (role tasks are reported as '<role> : <name>')."""
    return any(task["task"]["name"].endswith(task_name) for play in run.report["plays"] for task in play["tasks"])


def failure_messages(run: PlaybookRun) -> str:
    """The messages of the tasks that failed, unescaped (run.output holds them inside JSON strings)."""
    results = [task["hosts"].get("localhost", {}) for play in run.report["plays"] for task in play["tasks"]]
    return "\n".join(str(result.get("msg")) for result in results if result.get("failed"))


def test_release_deploys_the_idle_slot_and_flips_to_it(cluster, good_hasher):
    run = release(cluster, good_hasher.url, good_hasher.url, image_tag="v2")
    assert run.returncode == 0, run.output
    assert live(cluster) == {
        "active": "green",
        "preview": "blue",
        "green": ("user-hasher:v2", 3),
        "blue": ("user-hasher:dev", 0),  # parked once the rollback window is over
    }
    (probe,) = probe_results(run)
    assert probe["failures"] == 0
    assert probe["successes"] == probe["scheduled"] > 0
    assert probe["stopped_by"] == "stop_file", "the probe must end with the flip, not run out its duration"


def test_the_next_release_flips_back_to_blue(cluster, good_hasher):
    run = release(cluster, good_hasher.url, good_hasher.url, image_tag="v3")
    assert run.returncode == 0, run.output
    assert live(cluster) == {
        "active": "blue",
        "preview": "green",
        "blue": ("user-hasher:v3", 3),
        "green": ("user-hasher:v2", 0),
    }


def test_releasing_the_live_tag_again_changes_nothing(cluster, good_hasher):
    run = release(cluster, good_hasher.url, good_hasher.url, image_tag="v3")
    assert run.returncode == 0, run.output
    assert run.stats()["changed"] == 0, run.output
    assert live(cluster)["active"] == "blue"


def test_rollback_returns_to_the_previous_slot(cluster, good_hasher):
    run = release(cluster, good_hasher.url, good_hasher.url, rollback=True)
    assert run.returncode == 0, run.output
    assert live(cluster) == {
        "active": "green",
        "preview": "blue",
        "green": ("user-hasher:v2", 3),  # scaled up again from parked
        "blue": ("user-hasher:v3", 0),
    }


def test_a_failed_smoke_test_leaves_the_active_slot_untouched(cluster, good_hasher, server_factory):
    broken = server_factory(user_hasher("NOT-THE-SALT"))
    run = release(cluster, good_hasher.url, broken.url, image_tag="v4")
    assert run.returncode != 0, run.output
    assert "smoke test of user-hasher-preview failed" in run.output
    state = live(cluster)
    assert (state["active"], state["green"]) == ("green", ("user-hasher:v2", 3))
    assert state["blue"] == ("user-hasher:v4", 3)  # deployed for the test, never given traffic
    assert not probe_results(run), "the flip must not start"


def test_a_release_needs_a_known_service_and_a_tag(cluster, good_hasher):
    run = release(cluster, good_hasher.url, good_hasher.url, service="nope")
    assert run.returncode != 0
    assert "-e service=NAME must be one of user-hasher" in run.output


# Bad input given only to a release: the role's preflight refuses it before the cluster is read.
BAD_INPUT = [
    ({"apps_ingress_hosts": {SERVICE: "Not_A_Host"}}, 'not a DNS name: {"user-hasher": "Not_A_Host"}'),
    ({"apps_ingress_tls": "maybe"}, "apps_ingress_tls must be true or false (got 'maybe')"),
    ({"apps_strategy": "canary"}, "apps_strategy must be rolling or bluegreen (got 'canary')"),
    ({"apps_service_urls": {SERVICE: "127.0.0.1:8080"}}, 'not a URL: {"user-hasher": "127.0.0.1:8080"}'),
]


@pytest.mark.parametrize(("bad", "message"), BAD_INPUT, ids=["ingress-host", "ingress-tls", "strategy", "service-url"])
@pytest.mark.parametrize("play", ["release", "rollout"])
def test_bad_role_input_is_refused_before_the_cluster_is_read(cluster, good_hasher, play, bad, message):
    before = live(cluster)
    if play == "release":
        run = release(cluster, good_hasher.url, good_hasher.url, image_tag="v9", **bad)
    else:
        run = rollout(cluster, good_hasher.url, "v9", **bad)
    assert run.returncode != 0, run.output
    assert message in failure_messages(run), run.output
    assert not ran(run, f"Read the Deployments of {SERVICE}"), "the preflight must come before the cluster is read"
    assert live(cluster) == before


def test_rollout_updates_the_active_slot_under_the_probe(cluster, good_hasher):
    run = rollout(
        cluster,
        good_hasher.url,
        "v5",
        apps_release_probe_rate=5,
        apps_release_probe_tail=2,
        # Every object of the release goes through the apply again: slow on a busy test machine.
        apps_rollout_probe_duration=90,
        apps_wait_timeout=60,  # the probe must be able to outlast the rollout
    )
    assert run.returncode == 0, run.output
    after = live(cluster)
    assert after[after["active"]] == ("user-hasher:v5", 3)
    (probe,) = probe_results(run)
    assert probe["failures"] == 0 and probe["successes"] > 0
    assert probe["stopped_by"] == "stop_file"


def test_a_rollout_whose_probe_cannot_outlast_it_is_refused_before_any_change(cluster, good_hasher):
    before = live(cluster)
    run = rollout(cluster, good_hasher.url, "v9", apps_rollout_probe_duration=60, apps_wait_timeout=60)
    assert run.returncode != 0
    assert "apps_rollout_probe_duration (60 s) must be more than apps_wait_timeout (60 s)" in run.output
    assert live(cluster) == before


def test_a_request_failing_during_the_flip_fails_the_release(cluster, good_hasher):
    """Smoke tests pass through the preview, but the active Service refuses every probe request."""
    run = release(cluster, f"http://127.0.0.1:{free_port()}", good_hasher.url, image_tag="v6")
    assert run.returncode != 0, run.output
    assert "requests failed during the change" in run.output
    (probe,) = probe_results(run)
    assert probe["failures"] == probe["scheduled"] > 0
    assert probe["failures_by_reason"]["connection_refused"] == probe["failures"]
    assert probe["stopped_by"] == "stop_file"
    assert not list(cluster.workdir.glob("release-*/*.probe")), "the probe's stop file must be removed"


def mark(cluster: KubeEmulatorServer, api_version: str, kind: str, name: str, metadata: dict) -> None:
    """Add (or, with None values, remove) labels or annotations, as Argo CD or Flux put them on what they sync."""
    resource = cluster.client.resources.get(api_version=api_version, kind=kind)
    resource.patch(
        body={"metadata": metadata}, name=name, namespace=SERVICE, content_type="application/merge-patch+json"
    )


ARGO_CD_TRACKING = {
    "annotations": {"argocd.argoproj.io/tracking-id": "sre-platform-apps:/Service:user-hasher/user-hasher"}
}
FLUX_KUSTOMIZATION_LABEL = "kustomize.toolkit.fluxcd.io/name"
FLUX_KUSTOMIZATION = {"labels": {FLUX_KUSTOMIZATION_LABEL: "sre-platform-apps"}}


def test_a_release_where_argo_cd_syncs_the_service_is_refused_before_any_change(cluster, good_hasher):
    mark(cluster, "v1", "Service", SERVICE, ARGO_CD_TRACKING)
    before = live(cluster)
    run = release(cluster, good_hasher.url, good_hasher.url, image_tag="v7")
    assert run.returncode != 0, run.output
    assert "Service user-hasher/user-hasher is synced by Argo CD" in run.output
    assert "argocd.argoproj.io/tracking-id" in run.output
    assert "docs/gitops.md" in run.output and "Releases: by re-rendering" in run.output
    assert live(cluster) == before, "nothing may change: the active Service keeps its selector"
    assert not probe_results(run)


def test_a_rollout_where_flux_syncs_a_slot_is_refused_before_any_change(cluster, good_hasher):
    mark(cluster, "v1", "Service", SERVICE, {"annotations": {"argocd.argoproj.io/tracking-id": None}})
    active = live(cluster)["active"]
    mark(cluster, "apps/v1", "Deployment", f"{SERVICE}-{active}", FLUX_KUSTOMIZATION)
    before = live(cluster)
    run = rollout(cluster, good_hasher.url, "v8")
    assert run.returncode != 0, run.output
    assert f"Deployment user-hasher/user-hasher-{active} is synced by Flux" in run.output
    assert "kustomize.toolkit.fluxcd.io/name" in run.output
    assert live(cluster) == before


def test_with_the_sync_paused_the_override_lets_a_release_proceed(cluster, good_hasher):
    mark(cluster, "v1", "Service", SERVICE, ARGO_CD_TRACKING)
    before = live(cluster)
    run = release(cluster, good_hasher.url, good_hasher.url, image_tag="v7", apps_release_allow_gitops=True)
    assert run.returncode == 0, run.output
    after = live(cluster)
    assert after["active"] != before["active"]
    assert after[after["active"]] == ("user-hasher:v7", 3)


def unmark_all(cluster: KubeEmulatorServer) -> None:
    """Take every mark the tests above put on the live objects off again."""
    for name in (SERVICE, f"{SERVICE}-preview"):
        mark(cluster, "v1", "Service", name, {"annotations": {"argocd.argoproj.io/tracking-id": None}})
    for slot in ("blue", "green"):
        mark(cluster, "apps/v1", "Deployment", f"{SERVICE}-{slot}", {"labels": {FLUX_KUSTOMIZATION_LABEL: None}})


def test_a_release_where_argo_cd_syncs_the_preview_service_is_refused_before_any_change(cluster, good_hasher):
    """A flip changes the preview Service's selector too: Argo CD would put it back."""
    unmark_all(cluster)
    mark(cluster, "v1", "Service", f"{SERVICE}-preview", ARGO_CD_TRACKING)
    before = live(cluster)
    run = release(cluster, good_hasher.url, good_hasher.url, image_tag="v10")
    assert run.returncode != 0, run.output
    assert "Service user-hasher/user-hasher-preview is synced by Argo CD" in run.output
    assert live(cluster) == before
    assert not probe_results(run)


# Argo CD's label tracking under its old default key: the Application's name in the chart's own label.
ARGO_CD_LABEL_TRACKING = {"labels": {"app.kubernetes.io/instance": "sre-platform-apps"}}


def label_track_everything(cluster: KubeEmulatorServer) -> None:
    """Rewrite app.kubernetes.io/instance on the Services and the slots, as Argo CD's label tracking does."""
    unmark_all(cluster)
    for name in (SERVICE, f"{SERVICE}-preview"):
        mark(cluster, "v1", "Service", name, ARGO_CD_LABEL_TRACKING)
    for slot in ("blue", "green"):
        mark(cluster, "apps/v1", "Deployment", f"{SERVICE}-{slot}", ARGO_CD_LABEL_TRACKING)


def test_a_release_where_argo_cd_tracks_by_the_instance_label_is_refused_before_any_change(cluster, good_hasher):
    label_track_everything(cluster)
    before = live(cluster)
    run = release(cluster, good_hasher.url, good_hasher.url, image_tag="v10")
    assert run.returncode != 0, run.output
    synced = "Service user-hasher/user-hasher is synced by Argo CD (label app.kubernetes.io/instance=sre-platform-apps"
    assert synced in run.output
    assert live(cluster) == before
    assert not probe_results(run)


def test_slots_whose_instance_label_argo_cd_rewrote_are_still_found(cluster, good_hasher):
    """Were the slots not found, the release would take the service for a first deployment and
    redeploy the active slot at apps_image_tag (dev) behind the flip."""
    label_track_everything(cluster)
    before = live(cluster)
    run = release(cluster, good_hasher.url, good_hasher.url, image_tag="v10", apps_release_allow_gitops=True)
    assert run.returncode == 0, run.output
    after = live(cluster)
    assert after["active"] != before["active"]
    assert after[after["active"]] == ("user-hasher:v10", 3)
    assert after[before["active"]] == (before[before["active"]][0], 0), "the old slot keeps its tag, parked"
