"""The running worker refits a league's forecaster in its process pool and swaps the better model in."""

from __future__ import annotations

import pickle

import pytest

from connectors.kafka.admin import create_topics
from connectors.kafka.broker import EmbeddedBroker, free_port
from connectors.sources.importers.load import read_named_trace
from connectors.sources.importers.load_io import parse_sample
from connectors.testing import WirereportProcess
from streams.agents.scaling import SNAPSHOT_VERSION
from streams.scaling.forecasting.ensemble import LeagueForecaster


@pytest.fixture
def own_broker():
    """A broker of its own: no other test's NBA metrics reach the forecaster while it refits."""
    with EmbeddedBroker(free_port()) as broker:
        create_topics(broker.bootstrap)
        yield broker.bootstrap


def test_worker_refits_and_swaps_in(own_broker, tmp_path):
    # the worker starts from a snapshot of a forecaster that learned three weeks of bank_calls; on the refit's
    # held-out day (its last 288 samples) the ensemble told the policy 0.0380 calls/s wrong on average, the
    # refit (ARIMA 0.0350, ETS 0.0389 on the same samples) is better: the first refit must be swapped in,
    # although the chosen model's rolling error (its last ~20 samples) is lower than both (the old rule)
    forecaster = LeagueForecaster()
    for s in [parse_sample(s) for s in read_named_trace("bank_calls")][11465:14000]:
        forecaster.learn_one(s["t"], s["workload"])
    online = forecaster.chosen
    assert forecaster.accuracy()["rolling_mae"][online] < 0.034
    snapshot = tmp_path / "scaling-forecasters.pickle"
    snapshot.write_bytes(pickle.dumps({"version": SNAPSHOT_VERSION, "forecasters": {"NBA": forecaster}}))
    env = {
        "WIREREPORT_APP_ID": "it-scaling-refit",
        "WIREREPORT_DATA_DIR": str(tmp_path),
        "WIREREPORT_SCALING_REFIT_SECONDS": "2",
    }
    with WirereportProcess(["worker"], bootstrap=own_broker, env=env) as worker:
        worker.wait_for_output("worker ready", timeout=60)
        worker.wait_for_output("NBA: refitted", timeout=60)
        worker.stop()
    assert "swapped in (held-out MAE: ets " in worker.output and "refit failed" not in worker.output
    assert "; online 0.03801 on the same samples)" in worker.output
    saved = pickle.loads(snapshot.read_bytes())["forecasters"]["NBA"]  # written at shutdown
    assert saved.chosen in ("ets_refit", "arima_refit") and saved.chosen != online
    assert saved.accuracy()["rolling_mae"][saved.chosen] < 0.1
