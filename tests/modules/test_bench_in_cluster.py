"""playbooks/bench.yml with pgbench as a Kubernetes Job (bench_in_cluster), against the API emulator.

The emulator stores what the play applies but runs no pod, so a stand-in
kubelet does what the cluster would: it waits for the Job, resolves its
environment (the credentials from the Secret named by ``secretKeyRef``),
mounts the scripts ConfigMap and an empty log directory, runs the Job's own
shell command with the real pgbench against the harness PostgreSQL, records
the output as the pod's log and marks the Job complete or failed. Only what a
loopback machine cannot have is mapped: the Service name and port become the
harness server's, TLS is off, ``/scripts`` and ``/logs`` are temp directories.
The play then reads the log through the API and judges the figures.
"""

from __future__ import annotations

import base64
import re
import shlex
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
import yaml
from ansible_collections.sre.platform.plugins.module_utils.pgbench_command import bench_command, init_command
from ansible_collections.sre.platform.plugins.module_utils.pgbench_log import parse_text, summarize

from tests.harness.ansible import ROOT, PlaybookRun, run_module, run_playbook
from tests.harness.checkov import run_checkov
from tests.harness.kube_emulator import KubeEmulatorServer
from tests.harness.kube_schemas import schema_errors
from tests.harness.manifests import removed_api_errors
from tests.harness.policies import check_network_policy, check_resources, check_security_context
from tests.harness.servers import PostgresServer

NAMESPACE = "databases"
JOB = "pgbench"
SECRET = "pg-main-app"
LOG_PREFIX = "/logs/pgbench_log"


class StandInKubelet(threading.Thread):
    """Runs the benchmark Job's container once it appears in the emulator (see the module docstring)."""

    def __init__(self, kube: KubeEmulatorServer, postgres: PostgresServer, workdir: Path) -> None:
        super().__init__(daemon=True)
        self.kube, self.postgres, self.workdir = kube, postgres, workdir
        self.script = ""
        self.env: dict[str, str] = {}
        self.exit_code: int | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            job = self._wait_for_job(timeout=180)
            self._run_pod(job)
        except BaseException as exc:  # reported by the test, which cannot see this thread's exceptions
            self.error = exc

    def commands(self) -> list[str]:
        """The pgbench commands of the Job's script (initialisation first, if any), in order."""
        condition = re.search(r"^if (.*); then$", self.script, re.MULTILINE)
        assert condition, f"no pgbench command in the Job's script:\n{self.script}"
        return condition.group(1).split(" && ")

    def _wait_for_job(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.kube.get("batch/v1", "Job", JOB, NAMESPACE)
            if job is not None:
                return job
            time.sleep(0.5)
        raise TimeoutError(f"no Job {NAMESPACE}/{JOB} appeared within {timeout} s")

    def _secret_value(self, ref: dict) -> str:
        secret = self.kube.get("v1", "Secret", ref["name"], NAMESPACE)
        return base64.b64decode(secret["data"][ref["key"]]).decode()

    def _mount_scripts(self, volume: dict) -> Path:
        directory = self.workdir / "scripts"
        directory.mkdir()
        configmap = self.kube.get("v1", "ConfigMap", volume["configMap"]["name"], NAMESPACE)
        for name, text in (configmap.get("data") or {}).items():
            (directory / name).write_text(text)
        return directory

    def _run_pod(self, job: dict) -> None:
        spec = job["spec"]["template"]["spec"]
        container = spec["containers"][0]
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
        scripts = self._mount_scripts(volumes[mounts["/scripts"]])
        logs = self.workdir / "logs"
        logs.mkdir()
        for variable in container["env"]:
            ref = variable.get("valueFrom", {}).get("secretKeyRef")
            self.env[variable["name"]] = self._secret_value(ref) if ref else variable["value"]
        self.script = container["args"][0]
        local_env = {**self.env, "PGHOST": "127.0.0.1", "PGPORT": str(self.postgres.port), "PGSSLMODE": "disable"}
        local_script = self.script.replace("/scripts/", f"{scripts}/").replace("/logs/", f"{logs}/")
        pod = f"{JOB}-{uuid.uuid4().hex[:5]}"
        self._create_pod(pod, job, container)
        done = subprocess.run(
            [*container["command"], local_script],
            env={"PATH": f"{self.postgres.bindir}:/usr/bin:/bin", **local_env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        self.exit_code = done.returncode
        self.kube.set_pod_log(pod, NAMESPACE, done.stdout)
        outcome = "Complete" if done.returncode == 0 else "Failed"
        condition = {"type": outcome, "status": "True", "reason": "PodExited"}
        self.kube.set_status("batch/v1", "Job", JOB, NAMESPACE, {"conditions": [condition]})

    def _create_pod(self, name: str, job: dict, container: dict) -> None:
        labels = {**job["spec"]["template"]["metadata"]["labels"], "job-name": JOB}
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
            "spec": {"containers": [{"name": container["name"], "image": container["image"]}]},
        }
        self.kube.create(pod)


@pytest.fixture
def cluster(kube_api, postgres_server: PostgresServer) -> KubeEmulatorServer:
    """The database's namespace and its app Secret, holding the harness server's credentials."""
    kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    data = {"username": postgres_server.user_name, "password": postgres_server.password}
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET, "namespace": NAMESPACE},
        "type": "kubernetes.io/basic-auth",
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }
    kube_api.create(secret)
    return kube_api


def bench_in_cluster(
    kube: KubeEmulatorServer, database: str, reports: Path, *, check: bool = False, **variables
) -> PlaybookRun:
    """bench.yml on the aws inventory (the database is not exposed there), against the emulator."""
    extra_vars = {
        "platform_kubeconfig": str(kube.kubeconfig),
        "cloudnative_pg_database": database,
        "bench_duration": 4,
        "bench_warmup": 1,
        "bench_clients": 2,
        "bench_jobs": 2,
        "bench_report_dir": str(reports),
        **variables,
    }
    run_tmp = tempfile.mkdtemp(prefix="bench-", dir=kube.workdir)
    return run_playbook(
        "playbooks/bench.yml",
        inventory="inventories/aws/dev",
        extra_vars=extra_vars,
        check=check,
        env={"TMPDIR": run_tmp, "KUBECONFIG": str(kube.kubeconfig)},
    )


def run_with_kubelet(
    cluster, postgres_server, tmp_path, database: str, **variables
) -> tuple[PlaybookRun, StandInKubelet]:
    kubelet = StandInKubelet(cluster, postgres_server, tmp_path)
    kubelet.start()
    run = bench_in_cluster(cluster, database, tmp_path / "reports", **variables)
    kubelet.join(timeout=60)
    assert kubelet.error is None, f"the stand-in kubelet failed: {kubelet.error!r}\n{run.output}"
    return run, kubelet


def stored_objects(kube: KubeEmulatorServer) -> list[dict]:
    kinds = (("v1", "ServiceAccount", JOB), ("v1", "ConfigMap", f"{JOB}-scripts"), ("batch/v1", "Job", JOB))
    kinds += (
        ("networking.k8s.io/v1", "NetworkPolicy", JOB),
        ("networking.k8s.io/v1", "NetworkPolicy", f"{JOB}-to-database"),
    )
    return [kube.get(api_version, kind, name, NAMESPACE) for api_version, kind, name in kinds]


def test_builtin_workload_runs_in_the_job_and_is_judged_from_its_log(cluster, postgres_server, tmp_path):
    database = postgres_server.createdb(f"job_{uuid.uuid4().hex[:8]}")
    run, kubelet = run_with_kubelet(
        cluster, postgres_server, tmp_path, database, bench_script="tpcb-like", bench_scale=1
    )
    assert run.returncode == 0, run.output
    assert kubelet.exit_code == 0

    # What ran: the Job's command, with the credentials from the Secret and nothing secret in the manifest.
    job = cluster.get("batch/v1", "Job", JOB, NAMESPACE)
    assert postgres_server.password not in str(job)
    assert kubelet.env["PGPASSWORD"] == postgres_server.password
    assert kubelet.env["PGHOST"] == "pg-main-rw" and kubelet.env["PGDATABASE"] == database
    # The builder sre.platform.pg_bench runs, for the options bench.yml gives it.
    params = {"duration": 4, "clients": 2, "jobs": 2, "protocol": "prepared", "rate": None, "scale": 1}
    expected = [init_command("pgbench", params)]
    expected.append(bench_command("pgbench", {**params, "scripts": [], "builtin": "tpcb-like"}, LOG_PREFIX))
    assert kubelet.commands() == [shlex.join(argv) for argv in expected]

    # The figures: those of the per-transaction logs the pod printed, through the API.
    bench = run.task_results("Run pgbench")[0]
    assert bench["changed"] is False and "command" not in bench
    pod_log = run.task_results("Read the benchmark Job's log")[0]["log"]
    log_text = pod_log.split("--- pgbench per-transaction log ---\n")[1].split("--- end of the pgbench")[0]
    parameters = bench["parameters"]
    expected = summarize(parse_text(log_text, "pod log"), parameters["duration"], parameters["warmup"], ["tpcb-like"])
    assert {key: bench[key] for key in expected} == expected
    assert [s["script"] for s in bench["by_script"]] == ["tpcb-like"]
    assert bench["transactions"] > 50
    assert bench["pgbench_tps"] > 0 and bench["server_version"].startswith("15")

    verdicts = run.task_results("Judge the objectives over the measured window")[0]["verdicts"]
    assert [v["status"] for v in verdicts] == ["pass", "pass"]
    report = (tmp_path / "reports" / "performance-report.md").read_text()
    assert f"**{bench['tps']:.1f} TPS**" in report
    assert f"in a Job in namespace {NAMESPACE}" in report
    assert f"pg-main-rw.{NAMESPACE}.svc:5432/{database}" in report


def test_shop_workload_ships_its_scripts_and_passes_the_schemas_and_policies(cluster, postgres_server, tmp_path):
    database = postgres_server.createdb(f"shop_{uuid.uuid4().hex[:8]}")
    seeded = run_module("sre.platform.pg_seed", {**postgres_server.conninfo, "login_db": database, "rows": 20000})
    assert not seeded.get("failed"), seeded.get("msg")
    run, kubelet = run_with_kubelet(cluster, postgres_server, tmp_path, database)
    assert run.returncode == 0, run.output
    assert all(result.get("skipped") for result in run.task_results("Load the shop schema")), "no seeding from here"

    weights = {"product_page.sql": 5, "order_history.sql": 3, "fulfil_order.sql": 2}
    configmap = cluster.get("v1", "ConfigMap", f"{JOB}-scripts", NAMESPACE)
    assert configmap["data"] == {name: (ROOT / "files" / "pgbench" / name).read_text() for name in weights}
    shop = [{"path": str(ROOT / "files" / "pgbench" / name), "weight": weight} for name, weight in weights.items()]
    params = {"duration": 4, "clients": 2, "jobs": 2, "protocol": "prepared", "rate": None, "builtin": None}
    expected = bench_command("pgbench", {**params, "scripts": shop}, LOG_PREFIX, script_dir="/scripts")
    assert kubelet.commands() == [shlex.join(expected)]
    assert expected[-2:] == ["-f", "/scripts/fulfil_order.sql@2"], "the scripts as the Job mounts them"
    bench = run.task_results("Run pgbench")[0]
    assert bench["transactions"] > 0 and bench["failed_transactions"] == 0

    objects = stored_objects(cluster)
    assert [problem for obj in objects for problem in schema_errors(obj) + removed_api_errors(obj)] == []
    scanned = tmp_path / "scanned"
    scanned.mkdir()
    for index, obj in enumerate(objects):
        (scanned / f"{index}.yaml").write_text(yaml.safe_dump(obj))
    checkov = run_checkov(scanned)
    assert checkov.returncode == 0, checkov.stdout + checkov.stderr
    job = objects[2]
    template = job["spec"]["template"]["spec"]
    assert (job["spec"]["backoffLimit"], job["spec"]["ttlSecondsAfterFinished"]) == (0, 3600)
    assert job["spec"]["activeDeadlineSeconds"] == 4 + 600
    assert {"name": "logs", "emptyDir": {}} in template["volumes"]
    problems = [
        p for check in (check_security_context, check_resources, check_network_policy) for p in check(job, objects)
    ]
    assert problems == []
    admitted = objects[4]["spec"]
    assert admitted["podSelector"]["matchLabels"] == {"cnpg.io/cluster": "pg-main"}
    assert admitted["ingress"][0]["from"][0]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "pgbench"}


def test_a_failed_pgbench_fails_the_play_at_once_with_its_error(cluster, postgres_server, tmp_path):
    """The shop workload on a database nobody seeded: pgbench's own error, without waiting out the deadline."""
    database = postgres_server.createdb(f"empty_{uuid.uuid4().hex[:8]}")
    started = time.monotonic()
    run, kubelet = run_with_kubelet(cluster, postgres_server, tmp_path, database)
    assert run.returncode != 0
    assert kubelet.exit_code == 0, "the container reports pgbench's failure in its log, not by failing the Job"
    assert time.monotonic() - started < 120
    [failure] = run.task_results("Fail with the reason")
    assert f"The benchmark Job {NAMESPACE}/{JOB} failed: pgbench itself failed" in failure["msg"]
    assert "does not exist" in failure["msg"] and "--- pgbench failed, exit code" in failure["msg"]
    assert not (tmp_path / "reports" / "performance-report.md").exists()


def test_check_mode_names_the_jobs_command_and_creates_nothing(cluster, postgres_server, tmp_path):
    database = postgres_server.createdb(f"job_{uuid.uuid4().hex[:8]}")
    run = bench_in_cluster(cluster, database, tmp_path / "reports", check=True, bench_script="select-only")
    assert run.returncode == 0, run.output
    (said,) = run.task_results("Say what a real run would run")
    params = {"duration": 4, "clients": 2, "jobs": 2, "protocol": "prepared", "rate": None, "scale": 10}
    run_argv = bench_command("pgbench", {**params, "scripts": [], "builtin": "select-only"}, LOG_PREFIX)
    expected = f"{shlex.join(init_command('pgbench', params))} && {shlex.join(run_argv)}"
    assert said["msg"] == f"Check mode, nothing ran. A real run runs: in the Job {NAMESPACE}/{JOB}: {expected}"
    assert cluster.get("batch/v1", "Job", JOB, NAMESPACE) is None
    assert not (tmp_path / "reports").exists()
