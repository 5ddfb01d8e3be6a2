"""The deployable manifests, checked offline: Kubernetes objects against a pinned Kubernetes version's schemas
(kubernetes-validate), KEDA's ScaledObject against infra/schemas, the compose file against the compose
specification (the schema check-jsonschema ships), and what each process needs: probes on its metrics port,
resource requests, a volume for its data, a Prometheus scrape, and a command line the CLI accepts."""

from __future__ import annotations

import argparse
import json
import re
import shlex
from importlib import resources
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

INFRA = Path(__file__).resolve().parents[3] / "infra"
KUBERNETES_VERSION = "1.33.0"  # the oldest version we support; its schemas ship inside kubernetes-validate
DATA_DIR = "/home/wirereport/var"

# every long-running process and where it runs: (compose service, k8s workload, container)
PROCESSES = {
    "worker": ("worker", "wirereport-worker", "worker"),
    "api": ("api", "wirereport-api", "api"),
    "publisher": ("publisher", "wirereport-publisher", "publisher"),
    "scaler": ("scaler", "wirereport-scaler", "scaler"),
    "alert-router": ("alert-router", "wirereport-alert-router", "alert-router"),
    "feed": ("feed-nfl", "wirereport-feed-nfl", "feed"),
    "agent": ("league-agent", "wirereport-league-nba", "agent"),
    "supervisor": ("league-supervisor", "wirereport-league-nba", "supervisor"),
    "deploy-agent": ("league-deploy-agent", "wirereport-league-nba", "deploy-agent"),
}
STATEFUL = {"worker", "publisher", "scaler", "alert-router", "feed", "agent", "supervisor", "deploy-agent"}


def k8s_objects() -> list[tuple[str, dict]]:
    objects = []
    for path in sorted((INFRA / "k8s").glob("*.yaml")):
        objects += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return objects


def workloads() -> dict[str, dict]:
    return {d["metadata"]["name"]: d for _, d in k8s_objects() if d["kind"] in ("Deployment", "DaemonSet")}


def container(process: str) -> dict:
    _, workload, name = PROCESSES[process]
    spec = workloads()[workload]["spec"]["template"]["spec"]
    return next(c for c in spec["containers"] if c["name"] == name)


def compose() -> dict:
    return yaml.safe_load((INFRA / "docker-compose.yml").read_text())


@pytest.mark.parametrize(("path", "doc"), k8s_objects(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_kubernetes_objects_validate_against_the_pinned_version(path, doc):
    if doc["kind"] == "ScaledObject":  # a KEDA CRD: kubernetes-validate ships no CRDs
        schema = json.loads((INFRA / "schemas" / "keda-scaledobject.schema.json").read_text())
        jsonschema.Draft202012Validator(schema).validate(doc)
    else:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_keda_schema_rejects_what_keda_would():
    schema = json.loads((INFRA / "schemas" / "keda-scaledobject.schema.json").read_text())
    (scaled,) = [d for _, d in k8s_objects() if d["kind"] == "ScaledObject"]
    broken = json.loads(json.dumps(scaled))
    del broken["spec"]["triggers"][0]["metadata"]["consumerGroup"]
    with pytest.raises(jsonschema.ValidationError, match="consumerGroup"):
        jsonschema.Draft202012Validator(schema).validate(broken)


def test_compose_file_follows_the_compose_specification():
    schema_text = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    schema = json.loads(schema_text)
    validator = jsonschema.validators.validator_for(schema)(schema)
    validator.validate(compose())
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"services": {"worker": {"image": "x", "comand": ["typo"]}}})


def metrics_port_of(env: dict | list) -> int | None:
    if isinstance(env, list):
        env = {e["name"]: e.get("value") for e in env}
    value = env.get("WIREREPORT_METRICS_PORT")
    return int(value) if value else None


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_every_pod_process_has_probes_on_its_metrics_port_and_requests(process):
    c = container(process)
    named_ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    for probe, path in (("livenessProbe", "/health"), ("readinessProbe", "/ready")):
        get = c[probe]["httpGet"]
        assert get["path"] == path
        port = named_ports.get(get["port"], get["port"])
        if process == "api":
            assert port == 8000  # the API serves its probes on its own port
        else:
            assert port == metrics_port_of(c["env"]), f"{process}: {probe} is not on the metrics port"
    assert {"cpu", "memory"} <= set(c["resources"]["requests"])


@pytest.mark.parametrize("process", sorted(STATEFUL))
def test_every_stateful_pod_process_keeps_its_data_dir_on_a_volume(process):
    mounts = {m["mountPath"]: m["name"] for m in container(process)["volumeMounts"]}
    assert DATA_DIR in mounts
    config = next(
        d for _, d in k8s_objects() if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "wirereport-config"
    )
    assert config["data"]["WIREREPORT_DATA_DIR"] == DATA_DIR
    assert config["data"]["WIREREPORT_METRICS_HOST"] == "0.0.0.0"  # else the kubelet's probes cannot reach it


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_every_compose_process_has_a_healthcheck_a_volume_and_a_scrape(process):
    service_name = PROCESSES[process][0]
    service = compose()["services"][service_name]
    assert service["healthcheck"]["test"]
    if process in STATEFUL:
        assert any(v.endswith(f":{DATA_DIR}") for v in service["volumes"])
        port = metrics_port_of(service["environment"])
        assert port, f"{service_name} sets no WIREREPORT_METRICS_PORT"
    else:
        port = 8000
    targets = [
        target
        for job in yaml.safe_load((INFRA / "prometheus" / "prometheus.yml").read_text())["scrape_configs"]
        for group in job["static_configs"]
        for target in group["targets"]
    ]
    assert f"{service_name}:{port}" in targets


def test_compose_metrics_ports_are_distinct():
    ports = [metrics_port_of(s.get("environment", {})) for s in compose()["services"].values()]
    ports = [p for p in ports if p]
    assert len(ports) == len(set(ports)) == len(STATEFUL)


def test_the_worker_has_a_disruption_budget_and_scales_on_kafka_lag():
    objects = [d for _, d in k8s_objects()]
    worker_labels = workloads()["wirereport-worker"]["spec"]["template"]["metadata"]["labels"]
    (pdb,) = [d for d in objects if d["kind"] == "PodDisruptionBudget"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= worker_labels.items()
    (scaled,) = [d for d in objects if d["kind"] == "ScaledObject"]
    assert scaled["spec"]["scaleTargetRef"]["name"] == "wirereport-worker"
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "kafka" and trigger["metadata"]["consumerGroup"] == "wirereport"


def test_the_k8s_scrape_config_keeps_every_metrics_port_name():
    (config,) = [d for _, d in k8s_objects() if d["metadata"]["name"] == "wirereport-prometheus"]
    scrape = yaml.safe_load(config["data"]["prometheus.yml"])
    (keep,) = [
        r
        for r in scrape["scrape_configs"][0]["relabel_configs"]
        if r.get("source_labels") == ["__meta_kubernetes_pod_container_port_name"]
    ]
    for process in PROCESSES:
        for port in container(process)["ports"]:
            assert re.fullmatch(keep["regex"], port["name"]), f"{process}: port {port['name']} is not scraped"


def commands() -> list[tuple[str, list[str]]]:
    found = [(f"compose {name}", s["command"]) for name, s in compose()["services"].items() if "command" in s]
    for name, workload in workloads().items():
        for c in workload["spec"]["template"]["spec"]["containers"]:
            found.append((f"k8s {name}/{c['name']}", c["command"]))
    return [(where, cmd) for where, cmd in found if cmd[0] == "wirereport"]


@pytest.mark.parametrize(("where", "command"), commands(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_line_is_one_the_cli_accepts(where, command):
    from connectors.cli.main import build_parser

    parser = build_parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    if command[1] not in subcommands:
        pytest.skip(f"wirereport {command[1]} is not in this tree yet ({where})")
    try:
        parser.parse_args(command[1:])
    except SystemExit:
        pytest.fail(f"{where}: wirereport rejects {shlex.join(command)}")


def test_the_kubernetes_check_rejects_a_misspelt_field():
    deployment = json.loads(json.dumps(workloads()["wirereport-worker"]))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {"httpGet": {"path": "/health"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
