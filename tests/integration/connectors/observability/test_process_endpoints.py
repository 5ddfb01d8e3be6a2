"""``wirereport worker`` and ``wirereport agent`` started as a user would, with ``--metrics-port``: their
/metrics, /health and /ready answer, and /ready follows what the process can do."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from connectors.kafka.broker import free_port
from connectors.kafka.edge import EdgeProducer
from connectors.testing import WirereportProcess, wait_until
from streams.topics import topic


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_worker_serves_metrics_and_is_ready_once_started(broker, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"WIREREPORT_APP_ID": "it-observability", "WIREREPORT_DATA_DIR": str(tmp_path)}
    with WirereportProcess(["worker", "--metrics-port", str(port)], bootstrap=broker, env=env) as worker:
        wait_until(lambda: get(f"{base}/health")[0] == 200, 60, message=lambda: worker.output[-3000:])
        assert json.loads(get(f"{base}/health")[1]) == {"status": "ok"}
        worker.wait_for_output("worker ready", timeout=120)
        status, body = get(f"{base}/ready")
        assert (status, json.loads(body)) == (200, {"ready": True})
        status, text = get(f"{base}/metrics")
        assert status == 200
        found = families(text)
        assert found["wirereport_ready"].samples[0].labels == {"process": "worker"}
        assert found["wirereport_ready"].samples[0].value == 1.0
        for name in ("wirereport_records_processed", "wirereport_decision_latency_seconds", "wirereport_consumer_lag"):
            assert name in found
        assert get(f"{base}/nothing")[0] == 404

        with EdgeProducer(broker) as producer:  # garbage: read, dead-lettered, counted
            producer.send_raw(topic("plays"), b"obs-game", b"\x00\x01not avro at all")

        def counted():
            found = families(get(f"{base}/metrics")[1])
            letters = [s for s in found["wirereport_dead_letters"].samples if s.name.endswith("_total")]
            processed = [s for s in found["wirereport_records_processed"].samples if s.name.endswith("_total")]
            return letters, processed

        letters, processed = wait_until(lambda: all(counted()) and counted(), 60, message=lambda: worker.output[-3000:])
        assert {s.labels["topic"] for s in letters} == {"plays"}
        assert all(" " not in s.labels["reason"] and len(s.labels["reason"]) <= 40 for s in letters)
        assert any(s.labels == {"process": "worker", "topic": "plays"} and s.value >= 1 for s in processed)


def test_agent_serves_metrics_and_counts_its_samples(broker, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    counter = tmp_path / "workload.counter"
    counter.write_text("0")
    args = ["agent", "--server-id", "nba-obs-1", "--league", "NBA", "--workload-file", str(counter)]
    args += ["--interval", "0.2", "--metrics-port", str(port)]
    with WirereportProcess(args, bootstrap=broker) as agent:
        wait_until(lambda: get(f"{base}/ready")[0] == 200, 60, message=lambda: agent.output[-3000:])
        assert json.loads(get(f"{base}/health")[1]) == {"status": "ok"}

        def taken() -> float:
            found = families(get(f"{base}/metrics")[1])
            samples = {s.labels.get("outcome"): s.value for s in found["wirereport_agent_samples"].samples}
            return samples.get("taken", 0.0) >= 2 and samples.get("sent", 0.0) >= 1

        wait_until(taken, 60, message=lambda: agent.output[-3000:])


def test_agent_is_not_ready_while_the_broker_is_unreachable(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    counter = tmp_path / "workload.counter"
    counter.write_text("0")
    args = ["agent", "--server-id", "nba-obs-2", "--league", "NBA", "--workload-file", str(counter)]
    args += ["--interval", "0.2", "--metrics-port", str(port)]
    with WirereportProcess(args, bootstrap=f"127.0.0.1:{free_port()}") as agent:

        def not_ready():
            status, body = get(f"{base}/ready")
            return status == 503 and json.loads(body)["reason"].startswith("broker unreachable")

        wait_until(not_ready, 60, message=lambda: agent.output[-3000:])
        assert get(f"{base}/health")[0] == 200  # alive all the same: no restart would help
