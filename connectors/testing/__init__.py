"""Testing kit shipped with Wire Report: a real embedded broker, real ``wirereport`` processes, waiting helpers.

Used by our own tests and usable by anyone testing code built on Wire Report::

    with running_broker() as bootstrap:
        with WirereportProcess(["worker"], bootstrap=bootstrap) as worker:
            worker.wait_for_output("worker ready")
"""

from connectors.testing.broker import running_broker
from connectors.testing.deciders import Decider, check_decider
from connectors.testing.harness import Harness, Message, Tick, message
from connectors.testing.http_server import serving
from connectors.testing.processes import WirereportProcess, wait_until
from connectors.testing.records import SAMPLE_DATA, tweet_command

__all__ = [
    "SAMPLE_DATA",
    "Decider",
    "Harness",
    "Message",
    "Tick",
    "WirereportProcess",
    "check_decider",
    "message",
    "running_broker",
    "serving",
    "tweet_command",
    "wait_until",
]
