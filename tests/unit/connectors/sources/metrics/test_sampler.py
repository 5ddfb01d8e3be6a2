"""The metrics agent's system sampler: the first cpu_percent is an average over a real window."""

from __future__ import annotations

import time

import pytest

from connectors.sources.metrics.agent import SystemSampler


class FakeCpu:
    """psutil.cpu_percent(None) stand-in: returns the mean of a load over the time since its previous call."""

    def __init__(self, clock):
        self.clock = clock
        self.calls: list[float] = []

    def __call__(self, interval=None):
        assert interval is None  # the sampler averages between calls, it never blocks inside psutil
        self.calls.append(self.clock.now)
        return 37.5 if len(self.calls) > 1 else 0.0


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def sampler_with(clock: FakeClock) -> tuple[SystemSampler, FakeCpu]:
    cpu = FakeCpu(clock)
    return SystemSampler(cpu_percent=cpu, clock=clock, sleep=clock.sleep), cpu


def test_first_reading_soon_after_start_waits_for_the_rest_of_the_window():
    clock = FakeClock()
    sampler, cpu = sampler_with(clock)
    assert cpu.calls == [100.0]  # primed when created
    clock.now += 0.1  # the first sample comes almost at once (a replay, or a fast first tick)
    first = sampler()
    assert clock.slept == [pytest.approx(0.4)]
    assert cpu.calls[1] - cpu.calls[0] == pytest.approx(0.5) and sampler.cpu_window == pytest.approx(0.5)
    assert first["cpu_percent"] == 37.5
    clock.now += 0.01  # later readings never wait: they average since the previous one, however short
    sampler()
    assert clock.slept == [pytest.approx(0.4)] and sampler.cpu_window == pytest.approx(0.01)


def test_first_reading_long_after_start_does_not_wait():
    clock = FakeClock()
    sampler, cpu = sampler_with(clock)
    clock.now += 30.0  # a counter agent's first sample comes one interval after the start
    sampler()
    assert clock.slept == [] and cpu.calls == [100.0, 130.0] and sampler.cpu_window == pytest.approx(30.0)


def test_real_first_reading_is_an_average_over_at_least_the_window():
    started = time.monotonic()
    sampler = SystemSampler()
    first = sampler()
    assert time.monotonic() - started >= 0.4
    assert sampler.cpu_window >= 0.4
    assert 0.0 <= first["cpu_percent"] <= 100.0
    assert set(first) == {
        "cpu_percent",
        "memory_percent",
        "disk_percent",
        "net_bytes_sent_per_s",
        "net_bytes_recv_per_s",
    }
