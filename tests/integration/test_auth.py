"""Signing in: passwords, disabled users, secure cookies, CSRF on every form, the rate limit."""
from __future__ import annotations

from sqlalchemy import select, update

from tests.integration.test_caseworker import app, csrf, make_app, sign_in  # noqa: F401 (app is a fixture)
from workflow_app.casework.models import SignInAttempt, User


def test_sign_in_and_out(app, caseworker):
    client = app.test_client()
    page = client.get("/sign-in").get_data(as_text=True)
    assert 'autocomplete="current-password"' in page and 'name="csrf_token"' in page
    response = sign_in(client, "carl")
    assert response.status_code == 302 and response.headers["Location"].endswith("/inbox")
    assert client.get("/inbox").status_code == 200
    out = client.post("/sign-out", data={"csrf_token": csrf(client, "/inbox")})
    assert out.status_code == 302
    assert client.get("/inbox").status_code == 302


def test_a_wrong_password_is_refused_with_one_message(app, caseworker):
    client = app.test_client()
    wrong = sign_in(client, "carl", "nope")
    unknown = sign_in(client, "nobody", "nope")
    assert wrong.status_code == unknown.status_code == 401
    assert "not right, or the account is disabled" in wrong.get_data(as_text=True)
    assert client.get("/inbox").status_code == 302


def test_a_disabled_user_is_refused_and_signed_out(app, deployed, caseworker):
    client = app.test_client()
    assert sign_in(client, "carl").status_code == 302
    with deployed.sessions.begin() as session:
        session.execute(update(User).where(User.username == "carl").values(active=False))
    assert client.get("/inbox").status_code == 302  # the next click finds the account disabled
    assert sign_in(client, "carl").status_code == 401


def test_session_cookie_is_httponly_samesite_and_secure_outside_testing(deployed, database_url, caseworker):
    app = make_app(database_url, TESTING=False, SECRET_KEY="a-long-random-value")
    client = app.test_client()
    response = sign_in(client, "carl")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    app.extensions["workflow_app"].close()


def test_forms_without_or_with_a_tampered_csrf_token_are_refused(app, caseworker):
    client = app.test_client()
    missing = client.post("/sign-in", data={"username": "carl", "password": "pw"})
    assert missing.status_code == 400 and "security token" in missing.get_data(as_text=True)
    token = csrf(client)
    tampered = client.post("/sign-in", data={"username": "carl", "password": "pw",
                                             "csrf_token": token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")})
    assert tampered.status_code == 400
    assert sign_in(client, "carl").status_code == 302
    assert client.post("/complaints/new", data={"summary": "x"}).status_code == 400


def test_sign_in_is_rate_limited(app, deployed, caseworker):
    client = app.test_client()
    for _ in range(5):
        assert sign_in(client, "carl", "guess").status_code == 401
    blocked = sign_in(client, "carl", "pw")
    assert blocked.status_code == 429 and "Too many failed sign-ins" in blocked.get_data(as_text=True)
    with deployed.sessions() as session:
        assert len(session.scalars(select(SignInAttempt)).all()) == 5  # the blocked try is not even checked


def test_next_only_goes_to_this_site(app, caseworker):
    client = app.test_client()
    response = client.post("/sign-in?next=//evil.example/x", data={"username": "carl", "password": "pw",
                                                                  "csrf_token": csrf(client)})
    assert response.headers["Location"].endswith("/inbox")
    client.post("/sign-out", data={"csrf_token": csrf(client, "/inbox")})
    response = client.post("/sign-in?next=/complaints/new", data={"username": "carl", "password": "pw",
                                                                  "csrf_token": csrf(client)})
    assert response.headers["Location"].endswith("/complaints/new")


def test_the_api_takes_tokens_without_csrf(app, deployed):
    from tests.conftest import make_user
    from workflow_app.casework.accounts import create_token
    make_user(deployed, "tina", ["caseworker"])
    with deployed.sessions.begin() as session:
        user = session.scalars(select(User).where(User.username == "tina")).one()
        token = create_token(session, user, "t")
    response = app.test_client().post("/api/complaints", json={}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422
