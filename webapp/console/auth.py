"""Signing in and out: local accounts (``rolecall create-admin``, ``rolecall passwd``), or a
username set by a trusted proxy in the header named by ``ROLECALL_TRUSTED_HEADER``.

A local sign-in starts a server-side session (:class:`rolecall.core.accounts.ConsoleSessions`):
the signed cookie carries only its random id, which every request looks up. Signing out deletes
it, so a copy of the cookie replayed afterwards is worth nothing; a password change or a
retirement ends every session of the account; a session ends ``ROLECALL_SESSION_LIFETIME``
seconds after sign-in however it is used.

Failed attempts are throttled per (account, client address), per client address, and per
account from every address together with a higher ceiling, counted in the database for every
web process (:class:`rolecall.core.accounts.SignInThrottle`); a locked key is answered
with 429 and says how long to wait. The client address is
:func:`rolecall.webapp.context.client_address`: behind reverse proxies, the forwarded one when
``ROLECALL_TRUSTED_PROXIES`` says how many there are.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from rolecall.core.accounts import ConsoleSessions, SignInThrottle, sign_in_keys
from rolecall.core.reads import user_hit

from ..context import client_address
from . import blueprint, csrf
from .common import SESSIONS, THROTTLE, rc, safe_next

MAX_USERNAME = 254


SESSION_ID = "sid"
"""The key of the session id in the signed cookie."""


def signed_in_user() -> str | None:
    """The trusted header's username when the deployment names one and the request carries it,
    else the user of the cookie's session, looked up server-side; only an active user
    counts."""
    header = current_app.config.get("ROLECALL_TRUSTED_HEADER")
    name = request.headers.get(header) if header else None
    if not name and SESSION_ID in session:
        name = _sessions().user(session.get(SESSION_ID))
        if name is None:  # signed out, expired or ended elsewhere: forget it
            session.pop(SESSION_ID, None)
    if not name:
        return None
    hit = user_hit(rc(), name)
    if hit is None or not hit.active or hit.username != name:
        return None
    return name


def _sessions() -> ConsoleSessions:
    sessions: ConsoleSessions = current_app.extensions[SESSIONS]
    return sessions


def _throttle() -> SignInThrottle:
    throttle: SignInThrottle = current_app.extensions[THROTTLE]
    return throttle


def _wait(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{(seconds + 59) // 60} minutes"


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    target = safe_next(request.values.get("next")) or url_for("console.home")
    if request.method == "GET":
        if signed_in_user() is not None:
            return redirect(target)
        return render_template("console/login.html", next=target, username="", error=None)
    username = request.form.get("username", "").strip()[:MAX_USERNAME]
    password = request.form.get("password", "")
    address = client_address()
    # This account from this address, this address, and this account from everywhere (a
    # higher ceiling): a stranger elsewhere cannot lock the owner out with a few failures.
    keys = sign_in_keys(username, address)
    throttle = _throttle()
    wait = throttle.retry_after(keys)
    if wait:
        message = (
            "Too many failed sign-ins for this account or from this address. For your "
            f"safety, signing in is paused: try again in {_wait(wait)}."
        )
        body = render_template("console/login.html", next=target, username=username, error=message)
        return Response(body, status=429, headers={"Retry-After": str(wait)})
    if not username or not password or not rc().accounts.verify_password(username, password):
        throttle.failed(keys)
        error = "That username and password do not match an account. Check them and try again."
        return render_template(
            "console/login.html", next=target, username=username, error=error
        ), 401
    # A successful sign-in clears this account's count from this address only: the address
    # keeps its failures, so one valid account does not reset guessing at others, and the
    # account's ceiling keeps counting a guess spread over other addresses.
    throttle.succeeded(keys[:1])
    session.clear()
    session.permanent = True
    session[SESSION_ID] = _sessions().start(
        username, float(current_app.config["ROLECALL_SESSION_LIFETIME"])
    )
    csrf.renew()
    flash(f"Signed in as {username}.", "success")
    return redirect(target)


@blueprint.post("/logout")
def logout() -> Response:
    _sessions().end(session.get(SESSION_ID))
    session.clear()
    csrf.renew()
    flash("You are signed out.", "success")
    return redirect(url_for("console.login"))
