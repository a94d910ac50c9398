"""Schemathesis hooks for scripts/schemathesis (loaded through SCHEMATHESIS_HOOKS).

Authentication for the phases that do not follow links (and for link targets without a token):
each request to an operation that takes a bearer token gets a fresh one (a new user,
registered and logged in for it: logout, logout-all and password changes end sessions all
through the run, so a shared token would soon be revoked), and the revocation feed gets the resource server's HTTP Basic credentials that the
script configured. A real access token that a link passed on is kept.

Registration: three of four generated usernames get a unique suffix before they are sent.
Hypothesis replays its favourite values ("0", "alice"), so without it nearly every
registration after the first is a 409 and the stateful phase seldom gets past register to the
login link; every fourth is sent as generated, so 409 stays tested.
"""

import base64
import itertools
import json
import os
import secrets
import urllib.request

import schemathesis

BASE = os.environ["TESSERA_BASE_URL"]
FEED_NAME = os.environ["TESSERA_FEED_NAME"]
FEED_SECRET = os.environ["TESSERA_FEED_SECRET"]

BEARER_PATHS = [
    "/auth/me",
    "/auth/logout",
    "/auth/logout-all",
    "/auth/password",
    "/auth/sessions",
    "/auth/sessions/{id}",
]


def _post(path, body):
    request = urllib.request.Request(
        BASE + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@schemathesis.auth(refresh_interval=None, retry_on=[]).apply_to(path=BEARER_PATHS)
class FreshUser:
    def get(self, case, context):
        credentials = {
            "username": "st-" + secrets.token_hex(6),
            "password": "schemathesis " + secrets.token_urlsafe(12),
        }
        _post("/auth/register", credentials)
        return _post("/auth/login", credentials)["access_token"]

    def set(self, case, data, context):
        # Keep a real token that a link passed on; replace a generated one.
        case.headers = case.headers or {}
        if not _is_access_token(case.headers.get("Authorization")):
            case.headers["Authorization"] = f"Bearer {data}"


def _is_access_token(value):
    if not isinstance(value, str) or not value.startswith("Bearer ey"):
        return False
    return value.count(".") == 2 and len(value) > 100


@schemathesis.auth(refresh_interval=None, retry_on=[]).apply_to(path="/auth/revocations")
class ResourceServer:
    def get(self, case, context):
        pair = f"{FEED_NAME}:{FEED_SECRET}".encode()
        return "Basic " + base64.b64encode(pair).decode()

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = data


_registrations = itertools.count()


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.path != "/auth/register" or not isinstance(case.body, dict):
        return
    username = case.body.get("username")
    if isinstance(username, str) and next(_registrations) % 4 != 3:
        case.body["username"] = username[:50] + "-" + secrets.token_hex(6)
