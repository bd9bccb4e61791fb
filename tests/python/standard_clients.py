"""RFC 7662 and RFC 7009 through Authlib (1.9.10), against a real tokendesk server: a resource
server protects an API with Authlib's ResourceProtector and IntrospectTokenValidator calling
/oauth2/introspect with its credentials; the client introspects and revokes its own tokens with
Authlib's OAuth2Session (client_secret_basic). The metadata document tells both where to go.

Usage: standard_clients.py CONFIG_JSON   (base, rsKey, rsSecret, clientId, clientSecret,
readToken, writeToken, refreshToken, otherClientToken)

Prints one JSON object per step; the Rust test asserts on them and on the database.
"""

import json
import os
import sys

import requests

# tokendesk runs on plain HTTP on the loopback in this test.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

from authlib.integrations.requests_client import OAuth2Session  # noqa: E402
from authlib.oauth2.rfc6749 import ResourceProtector  # noqa: E402
from authlib.oauth2.rfc6749.requests import JsonRequest  # noqa: E402
from authlib.oauth2.rfc6750 import InsufficientScopeError, InvalidTokenError  # noqa: E402
from authlib.oauth2.rfc7662 import IntrospectTokenValidator  # noqa: E402

cfg = json.loads(sys.argv[1])
base = cfg["base"]


def say(step, **fields):
    print(json.dumps(dict(step=step, **fields)), flush=True)


metadata = requests.get(base + "/.well-known/oauth-authorization-server").json()
say("metadata", introspection=metadata["introspection_endpoint"],
    revocation=metadata["revocation_endpoint"])


class TokendeskIntrospection(IntrospectTokenValidator):
    """The resource server's side: ask tokendesk whether a bearer token is active."""

    def introspect_token(self, token_string):
        resp = requests.post(metadata["introspection_endpoint"], data={"token": token_string},
                             auth=(cfg["rsKey"], cfg["rsSecret"]))
        resp.raise_for_status()
        return resp.json()


protector = ResourceProtector()
protector.register_token_validator(TokendeskIntrospection())


def call_api(token, scope):
    request = JsonRequest("GET", "http://photos.example/api/photos",
                          headers={"Authorization": "Bearer " + token})
    try:
        info = protector.validate_request(scopes=[scope], request=request)
        return {"allowed": True, "sub": info.get("sub"), "scope": info.get("scope")}
    except InsufficientScopeError as e:
        return {"allowed": False, "error": e.error}
    except InvalidTokenError as e:
        return {"allowed": False, "error": e.error}


say("rs-read", **call_api(cfg["readToken"], "read"))
say("rs-write", **call_api(cfg["readToken"], "write"))
say("rs-unknown", **call_api("not-a-token", "read"))

client = OAuth2Session(cfg["clientId"], cfg["clientSecret"],
                       token_endpoint_auth_method="client_secret_basic")
own = client.introspect_token(metadata["introspection_endpoint"], token=cfg["writeToken"])
say("client-introspect", status=own.status_code, **own.json())
other = client.introspect_token(metadata["introspection_endpoint"],
                                token=cfg["otherClientToken"])
say("client-introspect-other", status=other.status_code, **other.json())

revoked = client.revoke_token(metadata["revocation_endpoint"], token=cfg["refreshToken"],
                              token_type_hint="refresh_token")
say("revoke", status=revoked.status_code, body=revoked.text)
say("rs-after-revoke", **call_api(cfg["writeToken"], "write"))
refused = client.revoke_token(metadata["revocation_endpoint"], token=cfg["otherClientToken"])
say("revoke-other", status=refused.status_code, **refused.json())

wrong = OAuth2Session(cfg["clientId"], "wrong-secret",
                      token_endpoint_auth_method="client_secret_basic")
denied = wrong.revoke_token(metadata["revocation_endpoint"], token=cfg["readToken"])
say("revoke-wrong-secret", status=denied.status_code, **denied.json())
