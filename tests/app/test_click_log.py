"""components.click_log: every click of a browser log is applied once, in order, however the reruns merge."""
from __future__ import annotations

from components.click_log import Click, unapplied_clicks


def _log(nonce: str, *events) -> dict:
    return {"clicks": {"nonce": nonce, "events": [list(e) for e in events]}}


def test_no_log_no_clicks():
    assert unapplied_clicks(None, None) == ([], {"nonce": None, "seq": 0})
    assert unapplied_clicks({"clicks": None}, {"nonce": "a", "seq": 3}) == ([], {"nonce": "a", "seq": 3})


def test_clicks_past_the_acknowledgement_in_order_once():
    state = _log("a", (3, "next", {}), (1, "next", {}), (2, "previous", {"row": 7}))
    clicks, ack = unapplied_clicks(state, None)
    assert clicks == [Click("next"), Click("previous", {"row": 7}), Click("next")]
    assert ack == {"nonce": "a", "seq": 3}
    assert unapplied_clicks(state, ack) == ([], ack)  # the same log again (a rerun for another reason)


def test_merged_requests_lose_nothing():
    # The browser sent (1), then (1, 2), then (1, 2, 3, 4); the server saw only the first and the last.
    clicks, ack = unapplied_clicks(_log("a", (1, "next", {})), None)
    assert len(clicks) == 1
    clicks, ack = unapplied_clicks(_log("a", (2, "next", {}), (3, "next", {}), (4, "flag", {"row": 5})), ack)
    assert [c.name for c in clicks] == ["next", "next", "flag"] and ack["seq"] == 4


def test_a_new_page_load_starts_its_own_count():
    clicks, ack = unapplied_clicks(_log("b", (1, "next", {})), {"nonce": "a", "seq": 9})
    assert clicks == [Click("next")] and ack == {"nonce": "b", "seq": 1}


def test_malformed_events_are_skipped():
    state = {"clicks": {"nonce": "a", "events": [[1, "next"], "x", [2, "next", "not a dict"], ["3", "next", {}]]}}
    clicks, ack = unapplied_clicks(state, None)
    assert clicks == [Click("next")] and ack["seq"] == 2
