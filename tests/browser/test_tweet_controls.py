"""The publisher's controls in the console (retry, cancel, pause, resume) against the stack's real publisher posting to
the fake X: each action reaches ``publisher-controls``, and the tweet's status follows on the open page (live, no
reload) and in ``GET /v1/tweets``."""

from __future__ import annotations

import time
import uuid
from datetime import datetime

from connectors.effectors.tweets.delivery import HELD_NO_CREDENTIALS
from connectors.effectors.tweets.outbox_sql import PAUSED
from connectors.kafka.edge import EdgeProducer, consume_records
from connectors.testing import tweet_command, wait_until
from tests.browser.conftest import sign_in, token

LIVE_SECONDS = 5.0  # a status the publisher changed shows on the open page within this


def controls(stack, control_id: str) -> list[dict]:
    found = consume_records(stack.bootstrap, "publisher-controls", timeout=1.0)
    return [r for _, r in found if r["control_id"] == control_id]


def act_on_row(page, row: str, action: str, reason: str) -> str:
    """Click a row's action button with a reason; answer the control id the console's flash message names."""
    form = f"{row} form[action='/console/actions/{action}']"
    page.fill(f"{form} input[name=reason]", reason)
    with page.expect_navigation():
        page.click(f"{form} button[type=submit]")
    flash = page.inner_text(".flash.ok")
    assert " on publisher-controls" in flash, flash
    return flash.split("accepted as ")[1].split(" ")[0]


def tweets_page(chromium, stack):
    page = sign_in(chromium, stack)
    page.goto("/console/tweets")
    page.wait_for_selector("#live-status.on")
    page.evaluate("window.notReloaded = true")  # gone if the page is loaded again: what follows came live
    return page


def tweet_row(command: dict) -> str:
    return f'[data-view="tweets"] [data-key="{command["command_id"]}"]'


def shown_status(page, command: dict) -> str:
    return page.inner_text(f'{tweet_row(command)} [data-field="publish_status"]')


def shown_receipt(page, command: dict) -> str:
    return page.inner_text(f'{tweet_row(command)} [data-field="receipt_detail"]')


def wait_shown(page, command: dict, status: str) -> float:
    """Wait until the tweet's row shows ``status`` (live, without a reload); answer the seconds it took."""
    started = time.monotonic()
    page.wait_for_selector(f'{tweet_row(command)} [data-field="publish_status"] .s-{status}', timeout=15000)
    assert page.evaluate("window.notReloaded === true"), "the page was reloaded"
    assert shown_status(page, command) == status
    return time.monotonic() - started


def buttons(page, command: dict) -> list[str]:
    """The row's action buttons an operator sees (the page's CSS hides those its status no longer allows)."""
    return [b.inner_text() for b in page.locator(f"{tweet_row(command)} form button").all() if b.is_visible()]


def api_status(stack, command: dict, status: str) -> dict:
    """The tweet as ``GET /v1/tweets`` answers it, once its publish status is ``status``."""
    return wait_until(
        lambda: (t := stack.tweet(command)) is not None and t["publish_status"] == status and t,
        15,
        message=lambda: f"{command['command_id']} is {stack.publish_status(command)}, not {status}",
    )


def check_control(stack, control_id: str, action: str, account: str, command_id: str | None, reason: str) -> None:
    [record] = wait_until(lambda: controls(stack, control_id), 15, message=f"the {action} never reached the topic")
    assert (record["action"], record["account"], record["command_id"]) == (action, account, command_id)
    assert (record["requested_by"], record["reason"]) == ("ops", reason)


def test_a_failed_tweet_retried_in_the_console_is_posted_once_x_answers_again(chromium, stack):
    command = stack.seeded_tweets["failed"]
    failed = stack.tweet(command)
    assert failed["publish_status"] == "failed" and failed["receipt"]["attempts"] == 2  # X answered 503 twice
    assert "503" in failed["receipt"]["detail"] and command["text"] not in stack.x.posts_of("NFL")
    page = tweets_page(chromium, stack)
    assert shown_status(page, command) == "failed" and buttons(page, command) == ["Retry"]

    stack.x.heal_text(command["text"])  # X answers as usual again
    control_id = act_on_row(page, tweet_row(command), "tweet_retry", "X is back")
    assert page.inner_text(".flash.ok") == f"Retry tweet: accepted as {control_id} on publisher-controls"
    page.evaluate("window.notReloaded = true")  # the page the action's redirect rendered
    assert wait_shown(page, command, "posted") < LIVE_SECONDS
    posted = api_status(stack, command, "posted")
    assert posted["receipt"]["tweet_id"] and posted["receipt"]["attempts"] == 1  # fresh attempts: the first one did
    assert shown_receipt(page, command) == posted["receipt"]["tweet_id"]
    assert buttons(page, command) == []  # nothing applies to a posted tweet
    assert stack.x.posts_of("NFL").count(command["text"]) == 1
    check_control(stack, control_id, "retry", "NFL", command["command_id"], "X is back")
    assert page.errors == []
    page.context.close()


def test_a_pending_tweet_cancelled_in_the_console_shows_cancelled_and_is_never_posted(chromium, stack):
    command = stack.seeded_tweets["pending"]  # WNBA's: the account has no credentials yet
    held = stack.tweet(command)
    assert held["publish_status"] == "held" and held["receipt"]["detail"] == HELD_NO_CREDENTIALS
    page = tweets_page(chromium, stack)
    assert shown_status(page, command) == "held" and buttons(page, command) == ["Retry", "Cancel"]

    control_id = act_on_row(page, tweet_row(command), "tweet_cancel", "Finals postponed")
    assert page.inner_text(".flash.ok") == f"Cancel tweet: accepted as {control_id} on publisher-controls"
    page.evaluate("window.notReloaded = true")
    assert wait_shown(page, command, "cancelled") < LIVE_SECONDS
    cancelled = api_status(stack, command, "cancelled")
    assert cancelled["receipt"]["detail"] == "cancel by ops: Finals postponed"
    assert buttons(page, command) == []
    check_control(stack, control_id, "cancel", "WNBA", command["command_id"], "Finals postponed")
    assert stack.x.posts_of("WNBA") == [] and command["text"] not in [p.text for p in stack.x.posts]
    assert page.errors == []
    page.context.close()


def test_a_paused_account_s_next_tweet_is_held_and_goes_out_on_resume(chromium, stack):
    page = tweets_page(chromium, stack)
    row = 'tr[data-account="NFL"]'
    status = f'{row} [data-field="publishing"]'
    assert page.inner_text(status) == "publishing"
    game = stack.games()[0]
    at = datetime.fromisoformat(game["updated_at"].replace("Z", "+00:00"))
    command = tweet_command("NFL", f"paused-{uuid.uuid4().hex[:8]}", at, game_id=game["game_id"],
                            text=f"Pick six! {game['away_team']} strike back ({uuid.uuid4().hex[:6]})")  # fmt: skip

    for action, now in (("pause", "paused"), ("resume", "publishing")):
        control_id = act_on_row(page, row, f"account_{action}", f"console {action}")
        page.wait_for_selector(f"{status} .s-{now}", timeout=15000)  # rendered, or live when the control comes back
        assert page.inner_text(status) == now
        # the one button that applies now: resume a paused account, pause a publishing one
        other = "resume" if action == "pause" else "pause"
        assert page.is_visible(f"{row} form[action='/console/actions/account_{other}'] button")
        assert page.is_hidden(f"{row} form[action='/console/actions/account_{action}'] button")
        check_control(stack, control_id, action, "NFL", None, f"console {action}")
        page.evaluate("window.notReloaded = true")
        if action == "pause":  # the publisher holds the account's next tweet
            stack.publisher.wait_for_output(f"({control_id}) applied", timeout=15)
            with EdgeProducer(stack.bootstrap) as producer:
                producer.send("tweet-commands", command)
            wait_shown(page, command, "held")
            held = api_status(stack, command, "held")
            assert held["receipt"]["detail"] == PAUSED and command["text"] not in stack.x.posts_of("NFL")
        else:  # and posts it once resumed
            assert wait_shown(page, command, "posted") < LIVE_SECONDS
            posted = api_status(stack, command, "posted")
            assert shown_receipt(page, command) == posted["receipt"]["tweet_id"]
            assert stack.x.posts_of("NFL").count(command["text"]) == 1
    r = stack.api.get("/v1/accounts", headers={"Authorization": f"Bearer {token('read')}"}).json()
    assert {a["account"]: a["paused"] for a in r["items"]}["NFL"] is False
    assert page.errors == []
    page.context.close()
