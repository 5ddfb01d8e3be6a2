"""The rolling post limit as X counts it: never more than N posts in any 24-hour window."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.effectors.tweets.rolling_limit import DAY_SECONDS, RollingLimit

HOUR = 3600.0


def test_allows_n_posts_then_waits_until_the_oldest_leaves_the_window():
    limit = RollingLimit(max_posts=3)
    posts = [0.0, HOUR, 2 * HOUR]
    assert limit.may_post(posts[:2], 2 * HOUR)
    assert not limit.may_post(posts, 3 * HOUR)
    assert limit.remaining(posts, 3 * HOUR) == 0
    assert limit.next_allowed_at(posts, 3 * HOUR) == DAY_SECONDS  # the post at 0 leaves at exactly 24 h
    assert not limit.may_post(posts, DAY_SECONDS - 1)
    assert limit.may_post(posts, DAY_SECONDS)
    assert limit.remaining(posts, DAY_SECONDS + HOUR) == 2


def test_next_allowed_is_now_when_a_post_is_allowed():
    assert RollingLimit(max_posts=17).next_allowed_at([1.0, 2.0], 10.0) == 10.0
    assert RollingLimit(max_posts=1).next_allowed_at([], 10.0) == 10.0


def test_posts_stamped_in_the_future_count():
    limit = RollingLimit(max_posts=2)
    assert not limit.may_post([100.0, 5_000.0], 50.0)
    assert limit.next_allowed_at([100.0, 5_000.0], 50.0) == 100.0 + DAY_SECONDS


def test_with_more_posts_than_the_limit_already_counted_it_waits_for_enough_to_leave():
    limit = RollingLimit(max_posts=2)
    posts = [0.0, 10.0, 20.0, 30.0]  # e.g. posted by hand outside Wire Report
    assert limit.next_allowed_at(posts, 40.0) == 20.0 + DAY_SECONDS


def test_zero_posts_allowed_never_allows():
    limit = RollingLimit(max_posts=0)
    assert not limit.may_post([], 0.0)
    assert limit.next_allowed_at([], 0.0) == float("inf")


@pytest.mark.parametrize(("max_posts", "window"), [(-1, DAY_SECONDS), (17, 0.0)])
def test_invalid_limits_are_refused(max_posts, window):
    with pytest.raises(ValueError):
        RollingLimit(max_posts=max_posts, window_seconds=window)


def _posts_allowed(limit: RollingLimit, attempts: list[float]) -> list[float]:
    posted: list[float] = []
    for at in attempts:
        if limit.may_post(posted, at):
            posted.append(at)
    return posted


def _most_in_any_window(posts: list[float], window: float) -> int:
    # the fullest half-open window [t, t + window) starts at a post
    return max((sum(1 for p in posts if start <= p < start + window) for start in posts), default=0)


attempt_gaps = st.lists(st.floats(min_value=0, max_value=6 * HOUR, allow_nan=False), min_size=1, max_size=120)


@settings(max_examples=200, deadline=None)
@given(gaps=attempt_gaps, max_posts=st.integers(min_value=1, max_value=20))
def test_no_sequence_of_allowed_posts_has_more_than_n_in_any_24_hours(gaps, max_posts):
    limit = RollingLimit(max_posts=max_posts)
    attempts, now = [], 1_500_000_000.0
    for gap in gaps:
        now += gap
        attempts.append(now)
    posted = _posts_allowed(limit, attempts)
    assert _most_in_any_window(posted, DAY_SECONDS) <= max_posts


@settings(max_examples=200, deadline=None)
@given(gaps=attempt_gaps, max_posts=st.integers(min_value=1, max_value=20))
def test_posting_at_each_next_allowed_time_is_allowed_and_never_early(gaps, max_posts):
    """Whoever always waits for next_allowed_at posts as soon as X would allow, and never over the limit."""
    limit = RollingLimit(max_posts=max_posts)
    posted, now = [], 1_500_000_000.0
    for gap in gaps:
        now += gap
        at = limit.next_allowed_at(posted, now)
        assert at >= now
        assert limit.may_post(posted, at)
        if at > now:  # a moment earlier it was not allowed
            assert not limit.may_post(posted, at - 1e-3)
        posted.append(at)
        now = at
    assert _most_in_any_window(posted, DAY_SECONDS) <= max_posts
