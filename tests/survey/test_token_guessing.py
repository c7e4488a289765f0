"""Guessing tokens is slowed down per network, across workers; the log holds counts only."""

from __future__ import annotations

import logging
import secrets

from survey.services.responding import MAX_TOKEN_FAILURES


def test_invalid_links_are_limited_per_network_and_logged_without_tokens(client, make_form,
                                                                        caplog):
    _, token = make_form()
    guesses = [secrets.token_urlsafe(16) for _ in range(MAX_TOKEN_FAILURES)]
    office = {"REMOTE_ADDR": "10.1.2.3"}
    with caplog.at_level(logging.WARNING):
        for guess in guesses:
            assert client.get(f"/s/{guess}", environ_base=office).status_code == 404
    # the limit is reached: even a real link from that network waits now
    blocked = client.get(f"/s/{token}", environ_base={"REMOTE_ADDR": "10.1.2.77"})  # same /24
    assert blocked.status_code == 429
    assert "15" in blocked.get_data(as_text=True)
    # another network is not affected
    elsewhere = client.get(f"/s/{token}", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert elsewhere.status_code == 302
    # the log counts attempts and never names a token or an address
    assert f"{MAX_TOKEN_FAILURES} in the last 15 minutes" in caplog.text
    assert not any(g in caplog.text for g in guesses) and token not in caplog.text
    assert "10.1.2" not in caplog.text


def test_counted_events_older_than_any_window_are_pruned(app, monkeypatch):
    import datetime as dt

    from sqlalchemy import func, select

    from survey import db
    from survey.models import LoginFailure, utcnow
    from survey.services import ratelimit

    now = utcnow()
    with app.app_context():
        with db.write_transaction() as s:
            s.add_all([LoginFailure(key="public:old", at=now - dt.timedelta(days=3)),
                       LoginFailure(key="public:day", at=now - dt.timedelta(hours=23))])
        monkeypatch.setattr(ratelimit, "PRUNE_EVERY", 1)  # prune on this add
        with db.write_transaction():
            ratelimit.DatabaseCounter().add(["public:new"], now, dt.timedelta(days=1))
        keys = set(db.session().scalars(select(LoginFailure.key)))
        assert keys == {"public:day", "public:new"}  # a day-long window still sees its events
        assert db.session().scalar(select(func.count()).select_from(LoginFailure)) == 2
