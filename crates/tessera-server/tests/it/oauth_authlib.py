"""private_key_jwt and introspection through authlib, an independent OAuth implementation.

Run by oauth_libs.rs with the python of .venv-oauth-libs (scripts/oauth-libs --install):

    oauth_authlib.py BASE_URL CLIENT_ID PRIVATE_KEY_PEM KID SERVER_NOW

The client was registered with the public half of the key. The script reads the server's
RFC 8414 metadata, fetches a client_credentials token with authlib's OAuth2Session
authenticating with PrivateKeyJWT (RFC 7523), introspects it with authlib (RFC 7662),
revokes it, replays one fixed assertion, and sends an assertion living an hour. It prints one
JSON object for the Rust side to check, or exits non-zero saying what went wrong.

SERVER_NOW is the test server's clock (a manual clock, not the real time): assertions carry
it as iat. The assertion's aud is the metadata's token_endpoint (the issuer's URL), while the
requests go to BASE_URL, as for a server behind a proxy.
"""

import json
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from joserfc.jwk import ECKey

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def fail(message):
    print(f"oauth_authlib.py: {message}", file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


class AtServerTime(PrivateKeyJWT):
    """PrivateKeyJWT whose assertions are issued at the server's clock and live `lifetime`.

    authlib writes the jti it generates into the claims dict it is given, so a dict shared
    between requests would repeat the jti: each assertion gets a dict of its own.
    """

    def __init__(self, now, lifetime, **kwargs):
        super().__init__(**kwargs)
        self.now = now
        self.lifetime = lifetime

    def sign(self, auth, token_endpoint):
        self.claims = {"iat": self.now, "exp": self.now + self.lifetime}
        return super().sign(auth, token_endpoint)


def main():
    base, client_id, key_path, kid, now = sys.argv[1:6]
    now = int(now)
    with open(key_path, "rb") as f:
        key = ECKey.import_key(f.read())

    metadata = requests.get(f"{base}/.well-known/oauth-authorization-server", timeout=10).json()
    check("private_key_jwt" in metadata["token_endpoint_auth_methods_supported"], "metadata")
    check("ES256" in metadata["token_endpoint_auth_signing_alg_values_supported"], "ES256")
    audience = metadata["token_endpoint"]
    token_url, introspect_url, revoke_url = (
        f"{base}/oauth/{p}" for p in ("token", "introspect", "revoke")
    )

    auth = AtServerTime(now, 300, token_endpoint=audience, alg="ES256", headers={"kid": kid})
    session = OAuth2Session(
        client_id,
        key,
        token_endpoint_auth_method=auth,
        revocation_endpoint_auth_method=auth,
        scope="reports:read",
    )
    token = session.fetch_token(token_url, grant_type="client_credentials")
    check(token.get("token_type") == "Bearer", f"token_type in {token}")
    check(token.get("scope") == "reports:read", f"scope in {token}")
    check("refresh_token" not in token, f"no refresh token for client credentials: {token}")
    access_token = token["access_token"]

    answer = session.introspect_token(introspect_url, token=access_token)
    check(answer.status_code == 200, f"introspection: {answer.status_code} {answer.text}")
    introspection = answer.json()
    for field in ("active", "client_id", "sub", "scope", "exp", "iat", "iss", "token_type"):
        check(field in introspection, f"{field} in {introspection}")
    check(introspection["active"] is True, f"active: {introspection}")
    check(introspection["client_id"] == client_id, f"client_id: {introspection}")
    check(introspection["sub"] == client_id, f"sub: {introspection}")
    check(introspection["iss"] == metadata["issuer"], f"iss: {introspection}")
    check(introspection["iat"] <= now < introspection["exp"], f"iat, exp: {introspection}")

    revoked = session.revoke_token(revoke_url, token=access_token, token_type_hint="access_token")
    check(revoked.status_code == 200, f"revocation: {revoked.status_code} {revoked.text}")
    revoked_introspection = session.introspect_token(introspect_url, token=access_token).json()

    # One assertion, sent twice: the jti may be used once.
    assertion = private_key_jwt_sign(
        key,
        client_id,
        audience,
        alg="ES256",
        claims={"iat": now, "exp": now + 300},
        header={"kid": kid},
    )
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    first = requests.post(token_url, data=form, timeout=10)
    second = requests.post(token_url, data=form, timeout=10)
    replay = {
        "first": first.status_code,
        "second": second.status_code,
        "error": second.json().get("error"),
    }

    # authlib's default lifetime, an hour: longer than the server's five minutes.
    long_lived = private_key_jwt_sign(
        key,
        client_id,
        audience,
        alg="ES256",
        claims={"iat": now, "exp": now + 3600},
        header={"kid": kid},
    )
    refused = requests.post(token_url, data={**form, "client_assertion": long_lived}, timeout=10)
    one_hour = {"status": refused.status_code, "error": refused.json().get("error")}

    print(
        json.dumps(
            {
                "access_token": access_token,
                "introspection": introspection,
                "revoked_introspection": revoked_introspection,
                "replay": replay,
                "one_hour": one_hour,
            }
        )
    )


if __name__ == "__main__":
    main()
