"""The web console's defences (D10, R21): escaping, CSRF, sign-in limits, sessions, privilege, headers."""

from __future__ import annotations

import pytest

from agent.web.auth import SESSION_COOKIE

from test_web_support import PASSWORD, admin, console, csrf_of, reader  # noqa: F401 - fixtures

# Every action, with a form that would do something for a privileged employee.
ACTIONS = [
    ("/site/link", {"code": "ACME-HQ", "account": "acme"}),
    ("/site/create-account", {"code": "NW"}),
    ("/site/unlink", {"code": "ACME-HQ"}),
    ("/sites/review", {"link": "ACME-HQ", "account:ACME-HQ": "acme"}),
    ("/account/unlink", {"rec": "acme"}),
    ("/device/link", {"id": "D-1", "asset": "x"}),
    ("/device/create-asset", {"id": "D-1"}),
    ("/device/unlink", {"id": "D-1"}),
    ("/devices/review", {"by": "serial", "link": "D-1"}),
    ("/account/rename", {"rec": "acme", "name": "New name"}),
    ("/account/merge", {"rec": "acme", "into": "smith"}),
    ("/tickets/{ticket}/create", {"assign": "NOC"}),
    ("/tickets/{ticket}/reassign", {"assign": "VSD", "note": "x"}),
    ("/tickets/{ticket}/note", {"note": "x"}),
    ("/tickets/{ticket}/complete", {}),
]


def _fill(console, url: str, form: dict) -> tuple[str, dict]:
    ticket = console.psa.add_ticket(console.ids["acme"], "Disk low")
    console.state.link_ticket("CT-7", ticket, acked=True)
    values = {k: console.ids.get(v, v) for k, v in form.items()}
    return url.format(ticket=ticket), values


def test_a_site_named_like_a_script_is_shown_as_text(admin):
    for url in ("/sites", "/site?code=XSS", "/sites/review"):
        html = admin.client.get(url).text
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize("url,form", ACTIONS, ids=[a[0] for a in ACTIONS])
def test_an_action_without_the_csrf_token_is_refused(admin, url, form):
    url, form = _fill(admin, url, form)
    audited = len(admin.state.audit_log(1000))
    answer = admin.client.post(url, data=form, follow_redirects=False)
    assert answer.status_code == 403
    wrong = admin.client.post(url, data={**form, "csrf": "not-the-token"}, follow_redirects=False)
    assert wrong.status_code == 403
    assert len(admin.state.audit_log(1000)) == audited  # nothing done
    assert admin.state.account_for_site("ACME-HQ") is None


@pytest.mark.parametrize("url,form", ACTIONS, ids=[a[0] for a in ACTIONS])
def test_a_read_only_employee_is_refused_every_action(reader, url, form):
    url, form = _fill(reader, url, form)
    answer = reader.post(url, form)
    assert answer.status_code == 403
    assert "Continuum Integration" in answer.text
    assert reader.state.outbox_depth() == 0 and reader.state.account_for_site("NW") is None


def test_a_read_only_employee_sees_everything_with_every_control_disabled(reader):
    reader.state.link_site("SMITH", reader.ids["smith"], by="admin")
    ticket = reader.psa.add_ticket(reader.ids["acme"], "Disk low")
    reader.state.link_site("ACME-HQ", reader.ids["acme"], by="admin")
    seen = 0
    for url in ("/site?code=NW", "/site?code=SMITH", "/device?id=D-1", "/sites/review", "/devices/review",
                "/accounts", f"/tickets/{ticket}", f"/account/unlink?rec={reader.ids['acme']}"):
        html = reader.client.get(url).text
        assert 'id="readonly"' in html and "does not hold the Continuum Integration privilege" in html, url
        for tag in _action_buttons(html):
            assert "disabled" in tag, (url, tag)
            seen += 1
    assert seen >= 8
    signout = [t for t in _buttons(reader.client.get("/sites").text) if 'id="signout"' in t]
    assert signout and "disabled" not in signout[0]  # signing out is never disabled


def _buttons(html: str) -> list[str]:
    import re

    return re.findall(r"<button[^>]*>", html)


def _action_buttons(html: str) -> list[str]:
    """Buttons of forms that change something: all but sign-out and the bare ones of search forms."""
    return [t for t in _buttons(html) if 'id="signout"' not in t and t != '<button type="submit">']


def test_the_third_wrong_password_locks_the_login_for_a_while(console):
    for _ in range(2):
        assert console.signin(password="wrong").status_code == 401
    assert console.signin(password="wrong").status_code == 401  # the third: from now on, wait
    refused = console.signin()  # even the right password is not checked yet
    assert refused.status_code == 429 and "Wait 30 seconds" in refused.text
    console.clock.now += 31
    assert console.signin().status_code == 303
    assert any(r["action"] == "web_sign_in_refused" for r in console.state.audit_log())


def test_the_wait_grows_with_each_further_failure(console):
    for _ in range(3):
        console.signin(password="wrong")
    console.clock.now += 31
    assert console.signin(password="wrong").status_code == 401
    assert "Wait 60 seconds" in console.signin().text


def test_wrong_passwords_of_one_login_never_lock_out_another_without_checking_its_password(console):
    # Every request comes from one address here, as behind a TLS proxy on the same machine.
    assert console.signin("admin", password="wrong").status_code == 401
    for _ in range(2):
        assert console.signin("pat", password="wrong").status_code == 401
    assert console.signin("pat").status_code == 303  # checked: pat's own two were free
    console.client.cookies.clear()  # signed out
    for _ in range(3):
        console.signin("admin", password="wrong")
    assert console.signin("admin").status_code == 429  # admin's own third wrong password
    assert console.signin("pat").status_code == 303


def test_guessing_many_logins_from_one_address_gets_one_try_per_login(console):
    for n in range(10):  # the address's allowance, each login tried once
        assert console.signin(f"guess{n}", password="wrong").status_code == 401
    assert console.signin("pat", password="wrong").status_code == 401  # past it, a login's first try is checked
    refused = console.signin("pat")  # its second waits for the address
    assert refused.status_code == 429 and "Wait 30 seconds" in refused.text
    assert console.signin("admin").status_code == 303  # no wrong password of its own: checked, signed in
    console.client.cookies.clear()
    console.clock.now += 31
    assert console.signin("pat").status_code == 303


def test_an_unknown_login_is_refused_like_a_wrong_password(console):
    assert console.signin("nobody").status_code == 401


def test_a_cookie_from_before_sign_out_no_longer_works(admin):
    cookie = admin.client.cookies.get(SESSION_COOKIE)
    assert cookie
    token = csrf_of(admin.client.get("/sites").text)
    assert admin.client.post("/signout", data={"csrf": token}, follow_redirects=False).status_code == 303
    admin.client.cookies.set(SESSION_COOKIE, cookie)
    answer = admin.client.get("/sites", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/signin")
    again = admin.client.post("/site/create-account", data={"code": "NW", "csrf": token}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/signin")
    assert admin.state.account_for_site("NW") is None


def test_a_new_password_ends_the_sessions_of_that_login(admin):
    from agent.web.auth import set_password

    from test_web_support import cheap_hasher

    set_password(admin.app, "admin", "another password", by="admin", hasher=cheap_hasher())
    assert admin.client.get("/sites", follow_redirects=False).status_code == 303


def test_a_forged_cookie_opens_nothing(console):
    console.client.cookies.set(SESSION_COOKIE, "forged.value.here")
    assert console.client.get("/sites", follow_redirects=False).status_code == 303


def test_the_sign_in_form_needs_its_own_token(console):
    console.client.get("/signin")
    answer = console.client.post("/signin", data={"login": "admin", "password": PASSWORD}, follow_redirects=False)
    assert answer.status_code == 403


def test_sign_in_never_redirects_to_another_site(console):
    answer = console.signin(next_url="//evil.example/x")
    assert answer.headers["location"] == "/sites"
    console.client.cookies.clear()
    assert console.signin(next_url="/tickets").headers["location"] == "/tickets"


def test_the_session_cookie_is_http_only_and_same_site_strict(console):
    answer = console.signin()
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Secure" not in cookie  # plain HTTP on loopback; with TLS the cookie is Secure


def test_with_tls_the_session_cookie_is_secure(tmp_path):
    from starlette.testclient import TestClient

    from agent.web.app import create_app

    from test_web_support import cheap_hasher, make_console

    made = make_console(tmp_path)
    try:
        client = TestClient(create_app(made.app, tls=True, hasher=cheap_hasher()), base_url="https://127.0.0.1")
        page = client.get("/signin")
        answer = client.post("/signin", data={"login": "admin", "password": PASSWORD, "csrf": csrf_of(page.text)},
                             follow_redirects=False)
        assert "Secure" in answer.headers["set-cookie"]
        assert "max-age" in answer.headers.get("strict-transport-security", "")
        client.close()
    finally:
        made.client.close()
        made.app.close()


@pytest.mark.parametrize("url", ["/signin", "/sites", "/static/console.css", "/nowhere"])
def test_security_headers_on_every_answer(admin, url):
    headers = admin.client.get(url).headers
    assert headers["x-frame-options"] == "DENY"
    assert headers["content-security-policy"].startswith("default-src 'self'")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"


def test_every_action_is_audited_with_the_employees_login(admin):
    admin.post("/site/create-account", {"code": "NW"})
    row = admin.state.audit_log(1)[0]
    assert (row["who"], row["action"]) == ("admin", "create_account_from_site")
