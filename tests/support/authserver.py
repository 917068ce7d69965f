"""An OAuth 2.0 authorization server for the tests, on loopback, built on Authlib (a
maintained OAuth 2.0 server library) and Flask.

It implements what bouncedoc and Dovecot use:
- the token endpoint: client credentials (RFC 6749 4.4), refresh with rotation (6; the old
  refresh token stops working), the device code grant (RFC 8628), the authorization code
  grant with PKCE (RFC 7636) for native apps on a loopback redirect (RFC 8252), as Google
  requires for Gmail;
- the authorization endpoint (/authorize): the test plays the browser; the person who
  approves is the one named by /admin/approve-next;
- the device authorization endpoint (RFC 8628 3.1);
- token introspection (RFC 7662), which Dovecot's oauth2 passdb calls at every login.

And, for the tests only, /admin/*: approve a device login as a user (the test plays the
person), revoke a user's tokens, read counters. Everything lives in memory.

Usage: authserver.py PORT CLIENTS.json LIFETIME_SECONDS
CLIENTS.json: [{"client_id", "client_secret" (or null for a public client), "grant_types",
"scope", "username" (whom an app token stands for: its domain is what Dovecot compares)}]
"""

import json
import os
import sys
import threading
import time

# Loopback only, in tests: plain HTTP (Authlib refuses it otherwise).
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

from flask import Flask, jsonify, request  # noqa: E402

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants, ClientMixin, TokenMixin
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc8628 import (
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    DeviceCredentialDict,
)

PORT = int(sys.argv[1])
CLIENTS = json.load(open(sys.argv[2]))
LIFETIME = int(sys.argv[3])

lock = threading.Lock()
tokens = {}  # access token -> Token
refresh = {}  # refresh token -> Token
devices = {}  # device_code -> dict
grants_by_user_code = {}  # user_code -> (username, approved)
codes = {}  # authorization code -> AuthorizationCode
next_approver = {"username": None}
counters = {"issued": {}, "introspected": 0, "introspected_active": 0}


class Client(ClientMixin):
    def __init__(self, c):
        self.c = c

    def get_client_id(self):
        return self.c["client_id"]

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        allowed = set(scope_to_list(self.c["scope"]))
        return " ".join(s for s in scope_to_list(scope or "") if s in allowed)

    def check_redirect_uri(self, redirect_uri):
        # RFC 8252 7.3: a native app's loopback redirect, on any port.
        return redirect_uri.startswith("http://127.0.0.1:")

    def check_client_secret(self, client_secret):
        return self.c.get("client_secret") is not None and client_secret == self.c["client_secret"]

    def check_endpoint_auth_method(self, method, endpoint):
        if self.c.get("client_secret") is None:
            return method == "none"
        return method in ("client_secret_post", "client_secret_basic")

    def check_response_type(self, response_type):
        return response_type == "code" and "authorization_code" in self.c["grant_types"]

    def check_grant_type(self, grant_type):
        return grant_type in self.c["grant_types"]


class Token(TokenMixin):
    def __init__(self, data, client_id, username, scope, grant_scope):
        self.data = data
        self.client_id = client_id
        self.username = username
        # What this access token may do, and what its refresh token may ask for (the whole
        # grant, as Microsoft and Google keep it, not narrowed by one refresh).
        self.scope = scope
        self.grant_scope = grant_scope
        self.issued = time.time()
        self.revoked = False

    def check_client(self, client):
        return client.get_client_id() == self.client_id

    def get_scope(self):
        return self.grant_scope

    def get_expires_in(self):
        return self.data.get("expires_in", LIFETIME)

    def is_expired(self):
        return time.time() > self.issued + self.get_expires_in()

    def is_revoked(self):
        return self.revoked


class AuthorizationCode:
    def __init__(self, code, req):
        self.code = code
        self.client_id = req.client_id
        self.redirect_uri = req.redirect_uri
        self.scope = req.scope
        self.username = req.user
        self.code_challenge = req.data.get("code_challenge")
        self.code_challenge_method = req.data.get("code_challenge_method")
        self.issued = time.time()

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope


def query_client(client_id):
    for c in CLIENTS:
        if c["client_id"] == client_id:
            return Client(c)
    return None


def save_token(data, req):
    client = req.client
    user = getattr(req, "user", None)
    username = user if isinstance(user, str) else client.c.get("username")
    credential = getattr(req, "credential", None)
    scope = data.get("scope", "")
    grant_scope = credential.grant_scope if isinstance(credential, Token) else scope
    t = Token(data, client.get_client_id(), username, scope, grant_scope)
    with lock:
        tokens[data["access_token"]] = t
        if data.get("refresh_token"):
            refresh[data["refresh_token"]] = t
        kind = req.grant_type or "?"
        counters["issued"][kind] = counters["issued"].get(kind, 0) + 1


app = Flask(__name__)
app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {
    "client_credentials": LIFETIME,
    "refresh_token": LIFETIME,
    DeviceCodeGrant.GRANT_TYPE: LIFETIME,
}
app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True
server = AuthorizationServer(app, query_client=query_client, save_token=save_token)

# Errors worded as Microsoft's identity platform words them (Authlib gives none), so that the
# tests can check the server's own words reach the log and check-config verbatim.
DESCRIPTIONS = {
    "invalid_client": "AADSTS7000215: Invalid client secret provided.",
    "invalid_grant": "AADSTS70008: The refresh token has expired or was revoked.",
}


def described(response):
    try:
        body = json.loads(response.get_data())
    except ValueError:
        return response
    if isinstance(body, dict) and body.get("error") in DESCRIPTIONS and "error_description" not in body:
        body["error_description"] = DESCRIPTIONS[body["error"]]
        response.set_data(json.dumps(body))
    return response


class ClientCredentials(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def save_authorization_code(self, code, req):
        with lock:
            codes[code] = AuthorizationCode(code, req)

    def query_authorization_code(self, code, client):
        with lock:
            c = codes.get(code)
        if c and c.client_id == client.get_client_id() and time.time() < c.issued + 600:
            return c
        return None

    def delete_authorization_code(self, authorization_code):
        with lock:
            codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code):
        return authorization_code.username


class RefreshToken(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    # Rotation: every refresh gives a new refresh token and the old one stops working.
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        with lock:
            t = refresh.get(refresh_token)
        if t and not t.revoked:
            return t
        return None

    def authenticate_user(self, credential):
        return credential.username

    def revoke_old_credential(self, credential):
        with lock:
            credential.revoked = True


class DeviceCode(DeviceCodeGrant):
    def query_device_credential(self, device_code):
        with lock:
            d = devices.get(device_code)
        return DeviceCredentialDict(d) if d else None

    def query_user_grant(self, user_code):
        with lock:
            return grants_by_user_code.get(user_code)

    def should_slow_down(self, credential):
        return False


class DeviceAuthorization(DeviceAuthorizationEndpoint):
    INTERVAL = 1

    def get_verification_uri(self):
        return f"http://127.0.0.1:{PORT}/device"

    def save_device_credential(self, client_id, scope, data):
        d = dict(data)
        d["client_id"] = client_id
        d["scope"] = scope
        d["expires_at"] = int(time.time()) + data["expires_in"]
        with lock:
            devices[data["device_code"]] = d


class Introspection(IntrospectionEndpoint):
    # The resource server (Dovecot, on loopback) asks without credentials of its own.
    def authenticate_endpoint_client(self, req):
        req.client = None
        return None

    def check_permission(self, token, client, req):
        return True

    def query_token(self, token_string, token_type_hint):
        with lock:
            counters["introspected"] += 1
            return tokens.get(token_string)

    def introspect_token(self, token):
        with lock:
            counters["introspected_active"] += 1
        return {
            "active": True,
            "client_id": token.client_id,
            "username": token.username,
            "scope": token.scope,
            "token_type": "Bearer",
            "exp": int(token.issued + token.get_expires_in()),
        }


server.register_grant(ClientCredentials)
server.register_grant(RefreshToken)
server.register_grant(DeviceCode)
server.register_grant(AuthorizationCodeGrant, [CodeChallenge(required=True)])
server.register_endpoint(DeviceAuthorization)
server.register_endpoint(Introspection)


@app.route("/token", methods=["POST"])
def token():
    return described(server.create_token_response())


@app.route("/authorize", methods=["GET"])
def authorize():
    # The person signs in and consents: the test names them beforehand.
    user = next_approver["username"]
    return server.create_authorization_response(grant_user=user)


@app.route("/admin/approve-next", methods=["POST"])
def approve_next():
    next_approver["username"] = request.form["username"]
    return jsonify({"approver": next_approver["username"]})


@app.route("/devicecode", methods=["POST"])
def devicecode():
    return server.create_endpoint_response(DeviceAuthorization.ENDPOINT_NAME)


@app.route("/introspect", methods=["POST"])
def introspect():
    return server.create_endpoint_response(Introspection.ENDPOINT_NAME)


@app.route("/admin/approve", methods=["POST"])
def approve():
    with lock:
        pending = [d for d in devices.values() if d["user_code"] not in grants_by_user_code]
        if not pending:
            return jsonify({"approved": None}), 404
        d = pending[-1]
        grants_by_user_code[d["user_code"]] = (request.form["username"], True)
    return jsonify({"approved": d["user_code"]})


@app.route("/admin/revoke", methods=["POST"])
def revoke():
    who = request.form["username"]
    n = 0
    with lock:
        for t in list(tokens.values()) + list(refresh.values()):
            if t.username == who and not t.revoked:
                t.revoked = True
                n += 1
    return jsonify({"revoked": n})


@app.route("/admin/stats", methods=["GET"])
def stats():
    with lock:
        pending = sum(1 for d in devices.values() if d["user_code"] not in grants_by_user_code)
        return jsonify(dict(counters, devices_pending=pending))


@app.route("/admin/tokens", methods=["GET"])
def all_tokens():
    # Every access and refresh token issued: the tests check none of them is ever logged.
    with lock:
        return jsonify(sorted(set(tokens) | set(refresh)))


@app.route("/ready", methods=["GET"])
def ready():
    return "ok"


if __name__ == "__main__":
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app.run(host="127.0.0.1", port=PORT, threaded=True)
