"""The deployment files (infra/compose.yaml, infra/Dockerfile, infra/k8s/) keep to what the
services need: probes, resources, a graceful stop, scaling on the right consumer groups."""

from __future__ import annotations

import inspect
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.contracts.topics import (
    DEFAULT_PARTITIONS,
    INTEGRATION_PROJECTION,
    PROJECTED_TOPICS,
    TOPICS,
)
from shared.messaging.broker import make_broker
from shared.messaging.consumer import subscribe
from shared.messaging.offsets import OffsetCommits
from shared.runtime import run_service
from shared.settings import DEFAULT_HTTP_PORTS

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
K8S = INFRA / "k8s"
BASE = K8S / "base"
SERVICES = tuple(DEFAULT_HTTP_PORTS)

Obj = dict[str, Any]


def load_all(path: Path) -> list[Obj]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def kustomization(directory: Path) -> Obj:
    return load_all(directory / "kustomization.yaml")[0]


def base_objects() -> list[Obj]:
    return [obj for r in kustomization(BASE)["resources"] for obj in load_all(BASE / r)]


def one(kind: str, name: str) -> Obj:
    found = [o for o in base_objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def container(deployment: Obj) -> Obj:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: Obj = containers[0]
    return result


def seconds_in(function: Any, keyword: str) -> float:
    match = re.search(rf"{keyword}=([0-9.]+)", inspect.getsource(function))
    assert match, f"{keyword} not found in {function.__qualname__}"
    return float(match.group(1))


def consumer_groups(service: str) -> set[tuple[str, str]]:
    """(group, topic) of every subscription of ``service``, as ``subscribe`` joins them."""
    joined: set[tuple[str, str]] = set()

    class Broker:
        def subscriber(self, topic: str, **options: Any) -> Any:
            joined.add((options["group_id"], topic))
            return lambda handler: handler

    subscriptions = [(service, t.name) for t in TOPICS if service in t.consumers]
    if service == "notifications":
        # Its projection to the integration topics reads every shared topic (ADR 0020).
        group = f"{service}.{INTEGRATION_PROJECTION}"
        subscriptions += [(group, t.name) for t in PROJECTED_TOPICS]
    for group, topic in subscriptions:
        subscribe(
            Broker(),  # type: ignore[arg-type]
            topic,
            group_id=group,
            consumer=None,  # type: ignore[arg-type]
            offsets=OffsetCommits(service),
        )
    return joined


# --- Kustomize -------------------------------------------------------------------------


def test_every_kustomization_lists_every_file_of_its_folder() -> None:
    for path in K8S.rglob("kustomization.yaml"):
        directory = path.parent
        listed = kustomization(directory)
        files = [*listed.get("resources", []), *(p["path"] for p in listed.get("patches", []))]
        for name in files:
            assert (directory / name).exists(), f"{path}: {name} does not exist"
        local = {p.name for p in directory.glob("*.yaml")} - {"kustomization.yaml"}
        assert local == {n for n in files if "/" not in n}, path


def test_the_production_overlay_builds_on_the_base_and_patches_replicas_and_resources() -> None:
    overlay = K8S / "overlays" / "production"
    listed = kustomization(overlay)
    assert listed["resources"] == ["../../base"]
    patches = [doc for p in listed["patches"] for doc in load_all(overlay / p["path"])]
    replicas = {
        d["metadata"]["name"]: d["spec"]["minReplicaCount"]
        for d in patches
        if d["kind"] == "ScaledObject"
    }
    resources = {
        d["metadata"]["name"]: container(d)["resources"]
        for d in patches
        if d["kind"] == "Deployment"
    }
    assert set(replicas) == set(resources) == set(SERVICES)
    for service in SERVICES:
        base = one("ScaledObject", service)["spec"]
        assert base["minReplicaCount"] <= replicas[service] <= base["maxReplicaCount"]
        assert replicas[service] >= 2
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources[service][bound])


# --- Deployments -----------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_every_deployment_has_probes_resources_and_its_port(service: str) -> None:
    deployment = one("Deployment", service)
    main = container(deployment)
    port = DEFAULT_HTTP_PORTS[service]
    assert main["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    assert main["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert main["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert main["startupProbe"]["httpGet"]["path"] == "/health/live"
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(main["resources"][bound]), bound
    # KEDA owns the replica count: a count here would fight it on every apply.
    assert "replicas" not in deployment["spec"]
    env = {e["name"]: e.get("value") for e in main["env"]}
    upper = service.upper()
    assert env[f"MG_{upper}_HTTP_HOST"] == "0.0.0.0"
    assert env[f"MG_{upper}_HTTP_PORT"] == str(port)
    assert f"MG_{upper}_INSTANCE_ID" in env
    assert one("Service", service)["spec"]["ports"][0]["port"] == port


@pytest.mark.parametrize("service", SERVICES)
def test_every_deployment_stops_gracefully(service: str) -> None:
    pod = one("Deployment", service)["spec"]["template"]["spec"]
    grace = pod["terminationGracePeriodSeconds"]
    pre_stop = container(one("Deployment", service))["lifecycle"]["preStop"]["sleep"]["seconds"]
    # uvicorn finishes the HTTP requests in flight, then the broker its handlers.
    http = seconds_in(run_service, "timeout_graceful_shutdown")
    handlers = seconds_in(make_broker, "graceful_timeout")
    assert grace >= 30
    assert grace > pre_stop + http + handlers


@pytest.mark.parametrize("service", SERVICES)
def test_every_deployment_runs_as_non_root_with_config_and_secrets(service: str) -> None:
    pod = one("Deployment", service)["spec"]["template"]["spec"]
    main = container(one("Deployment", service))
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert main["securityContext"]["allowPrivilegeEscalation"] is False
    assert main["securityContext"]["capabilities"]["drop"] == ["ALL"]
    sources = main["envFrom"]
    config = [s["configMapRef"]["name"] for s in sources if "configMapRef" in s]
    secrets = [s["secretRef"]["name"] for s in sources if "secretRef" in s]
    keys = set(one("ConfigMap", config[0])["data"])
    for name in secrets:
        keys |= set(one("Secret", name)["stringData"])
    assert {"MG_KAFKA_BOOTSTRAP_SERVERS", "MG_KAFKA_SECURITY_PROTOCOL"} <= keys
    assert {"MG_HTTP_METRICS_TOKEN", "MG_KAFKA_SASL_USERNAME", "MG_KAFKA_SASL_PASSWORD"} <= keys
    # Production mode, OIDC tokens only (ADR 0021): no shared JWT secret at all.
    assert "MG_JWT_SECRET" not in keys
    # Its own Kafka principal (ADR 0019), whose password is a Secret's.
    assert f"kafka-{service}" in secrets
    assert one("Secret", f"kafka-{service}")["stringData"]["MG_KAFKA_SASL_USERNAME"] == service
    assert f"MG_{service.upper()}_DATABASE_URL" in keys
    # Secrets stay out of the ConfigMap.
    assert not {k for k in one("ConfigMap", config[0])["data"] if "SECRET" in k or "PASSWORD" in k}


# --- Scaling and disruption ------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_every_deployment_scales_on_the_lag_of_its_consumer_groups(service: str) -> None:
    scaled = one("ScaledObject", service)["spec"]
    assert scaled["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": service,
    }
    assert scaled["maxReplicaCount"] == DEFAULT_PARTITIONS
    assert all(t.partitions == DEFAULT_PARTITIONS for t in TOPICS)
    assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"]
    triggers = scaled["triggers"]
    assert {t["type"] for t in triggers} == {"kafka"}
    watched = {(t["metadata"]["consumerGroup"], t["metadata"]["topic"]) for t in triggers}
    assert watched == consumer_groups(service)
    for trigger in triggers:
        assert int(trigger["metadata"]["lagThreshold"]) > 0
        assert trigger["metadata"]["bootstrapServersFromEnv"] == "MG_KAFKA_BOOTSTRAP_SERVERS"
        auth = one("TriggerAuthentication", trigger["authenticationRef"]["name"])
        refs = auth["spec"]["secretTargetRef"]
        assert {r["parameter"] for r in refs} == {"username", "password", "ca"}
        # The lag is read with the service's own principal.
        assert {r["name"] for r in refs if r["parameter"] != "ca"} == {f"kafka-{service}"}


@pytest.mark.parametrize("service", SERVICES)
def test_every_deployment_has_a_disruption_budget_for_its_pods(service: str) -> None:
    labels = one("Deployment", service)["spec"]["template"]["metadata"]["labels"]
    budget = one("PodDisruptionBudget", service)["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    assert ("maxUnavailable" in budget) != ("minAvailable" in budget)
    # One pod may always go: a budget of zero would block every node drain.
    assert budget.get("maxUnavailable", 1) >= 1


def test_nothing_but_the_four_services_and_the_portal_is_deployed() -> None:
    for kind in ("Deployment", "PodDisruptionBudget", "Service"):
        names = {o["metadata"]["name"] for o in base_objects() if o["kind"] == kind}
        assert names == {*SERVICES, "portal"}, kind
    # The portal consumes no topic: scaled on CPU, not on consumer lag.
    scaled = {o["metadata"]["name"] for o in base_objects() if o["kind"] == "ScaledObject"}
    assert scaled == set(SERVICES)
    assert one("HorizontalPodAutoscaler", "portal")["spec"]["minReplicas"] >= 2


def test_the_portal_talks_to_the_services_by_their_service_names() -> None:
    env = {e["name"]: e.get("value") for e in container(one("Deployment", "portal"))["env"]}
    # The portal does not show the resources platform yet (issue 17's screens).
    for service in ("requests", "matching", "billing", "notifications"):
        port = DEFAULT_HTTP_PORTS[service]
        assert env[f"MG_PORTAL_{service.upper()}_URL"] == f"http://{service}:{port}"


# --- Compose and the image -------------------------------------------------------------


def compose() -> Obj:
    data: Obj = yaml.safe_load((INFRA / "compose.yaml").read_text(encoding="utf-8"))
    return data


def test_compose_defines_every_service_with_its_database_and_dependencies() -> None:
    services = compose()["services"]
    assert {"kafka", "postgres", "topics", "prometheus", "grafana", *SERVICES} <= set(services)
    assert services["kafka"]["image"] == "apache/kafka:4.1.1"
    assert services["postgres"]["image"].startswith("postgres:17")
    init = compose()["configs"]["postgres-databases"]["content"]
    for service in SERVICES:
        spec = services[service]
        upper = service.upper()
        assert spec["build"]["dockerfile"] == "infra/Dockerfile"
        assert spec["build"]["args"]["SERVICE"] == service
        env = {k: str(v) for k, v in spec["environment"].items()}
        assert env[f"MG_{upper}_DATABASE_URL"].endswith(f"@postgres:5432/{service}")
        assert env[f"MG_{upper}_HTTP_PORT"] == str(DEFAULT_HTTP_PORTS[service])
        assert env[f"MG_{upper}_HTTP_HOST"] == "0.0.0.0"
        assert env["MG_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert spec["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "kafka": {"condition": "service_healthy"},
            "topics": {"condition": "service_completed_successfully"},
        }
        assert f"CREATE DATABASE {service};" in init
    assert services["topics"]["command"] == ["mg-topics", "create"]
    for name, spec in services.items():
        for published in spec.get("ports", []):
            assert str(published).startswith("127.0.0.1:"), name


def test_compose_mounts_the_prometheus_and_grafana_files_where_they_are_read() -> None:
    services = compose()["services"]
    mounts = {
        name: dict(v.split(":")[:2] for v in services[name]["volumes"] if v.startswith("./"))
        for name in ("prometheus", "grafana")
    }
    for name, pairs in mounts.items():
        for source in pairs:
            assert (INFRA / source).exists(), f"{name}: {source}"
    assert mounts["prometheus"]["./prometheus"] == "/etc/prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]
    assert mounts["grafana"]["./grafana/provisioning"] == "/etc/grafana/provisioning"
    providers = [
        provider
        for path in (INFRA / "grafana" / "provisioning" / "dashboards").glob("*.y*ml")
        for provider in load_all(path)[0]["providers"]
    ]
    assert {p["options"]["path"] for p in providers} == {mounts["grafana"]["./grafana/dashboards"]}


def test_the_image_installs_the_pinned_packages_and_runs_as_non_root() -> None:
    dockerfile = (INFRA / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    assert "--constraint constraints.txt" in dockerfile
    users = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    assert re.search(r"^HEALTHCHECK .*", dockerfile, re.M)
    assert "/health/ready" in dockerfile


# --- The checks themselves ------------------------------------------------------------


def test_deploy_check_passes() -> None:
    result = subprocess.run(
        ["bash", str(INFRA / "deploy-check.sh")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "deploy-check: all good" in result.stdout


def test_the_topics_job_creates_the_declared_topics_and_names_those_kept_forever() -> None:
    job = one("Job", "topics")
    command = container(job)["command"]
    assert command[:2] == ["mg-topics", "create"]
    kept = job["metadata"]["annotations"]["matiere-grise.fr/retention-ms-unlimited"]
    assert set(kept.split(",")) == {t.name for t in TOPICS if t.keep_forever}
    assert all(t.configs() == {"retention.ms": "-1"} for t in TOPICS if t.keep_forever)


# --- Network policies (ADR 0021) ---------------------------------------------------------


def policies() -> list[Obj]:
    return [o for o in base_objects() if o["kind"] == "NetworkPolicy"]


def selects(policy: Obj, labels: dict[str, str]) -> bool:
    wanted = policy["spec"]["podSelector"].get("matchLabels", {})
    return all(labels.get(k) == v for k, v in wanted.items())


def test_everything_is_denied_by_default() -> None:
    [deny] = [p for p in policies() if p["metadata"]["name"] == "default-deny"]
    assert deny["spec"]["podSelector"] == {}
    assert sorted(deny["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_gets_its_port_kafka_postgres_and_dns_only(service: str) -> None:
    labels = one("Deployment", service)["spec"]["template"]["metadata"]["labels"]
    mine = [p for p in policies() if selects(p, labels)]
    ingress = [rule for p in mine for rule in p["spec"].get("ingress", [])]
    egress = [rule for p in mine for rule in p["spec"].get("egress", [])]
    assert {port["port"] for rule in ingress for port in rule["ports"]} == {"http"}
    egress_ports = {port["port"] for rule in egress for port in rule["ports"]}
    assert {53, 9093, 5432, 443} <= egress_ports
    assert egress_ports - {53, 9093, 5432, 443} == (
        {465, 587} if service == "notifications" else set()
    )
    # Addresses outside the cluster: public ones only, never the internal ranges.
    for rule in egress:
        for peer in rule["to"]:
            if "ipBlock" in peer:
                assert {"10.0.0.0/8", "169.254.0.0/16", "127.0.0.0/8", "100.64.0.0/10"} <= set(
                    peer["ipBlock"]["except"]
                )
