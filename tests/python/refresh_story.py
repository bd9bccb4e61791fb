"""The refresh story through Authlete's own Python library (authlete 1.3.0), against a real
tokendesk server: an authorization server creates a token with `read write`, the end user takes
`write` back on the app page, the granted scopes say `read`, a refresh gives `read` only, asking for `write` is `invalid_scope`,
and replaying a rotated refresh token revokes the whole family.

Usage: refresh_story.py CONFIG_JSON   (base, mode "V2"/"V3", apiKey, apiSecret, serviceId,
serviceAccessToken, clientId, clientSecret, login, password)

Prints one JSON object per step, `{"step": ..., ...}`; the Rust test asserts on them and on the
database. Exits non-zero on the first surprise.
"""

import json
import re
import sys

import requests
from authlete.api import AuthleteApiImpl
from authlete.conf import AuthleteConfiguration
from authlete.dto import TokenCreateAction, TokenCreateRequest, TokenRequest
from authlete.types import GrantType

cfg = json.loads(sys.argv[1])
base = cfg["base"]


def say(step, **fields):
    print(json.dumps(dict(step=step, **fields)), flush=True)


def api():
    conf = AuthleteConfiguration()
    conf.baseUrl = base
    conf.apiVersion = cfg["mode"]
    if cfg["mode"] == "V3":
        conf.serviceApiKey = cfg["serviceId"]
        conf.serviceAccessToken = cfg["serviceAccessToken"]
    else:
        conf.serviceApiKey = cfg["apiKey"]
        conf.serviceApiSecret = cfg["apiSecret"]
    return AuthleteApiImpl(conf)


authlete = api()

# 1. The authorization server issues a token with `read write`.
create = TokenCreateRequest()
create.grantType = GrantType.AUTHORIZATION_CODE
create.clientId = int(cfg["clientId"])
create.subject = cfg["login"]
create.scopes = ["read", "write"]
created = authlete.tokenCreate(create)
assert created.action == TokenCreateAction.OK, created.resultMessage
say("create", action=created.action.name, scopes=created.scopes,
    refreshTokenScopes=created.refreshTokenScopes)
first_refresh = created.refreshToken

# 2. The end user takes `write` back on the app page, as a browser would.
page = requests.Session()


def csrf(html):
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


login = page.get(base + "/login")
signed_in = page.post(base + "/login", data={
    "csrf": csrf(login.text), "next": "", "login": cfg["login"], "password": cfg["password"],
}, allow_redirects=False)
assert signed_in.status_code == 303, signed_in.status_code
app_page = page.get(base + "/apps/" + cfg["clientId"])
assert app_page.status_code == 200, app_page.status_code
narrowed = page.post(base + "/apps/" + cfg["clientId"] + "/scopes", data=[
    ("csrf", csrf(app_page.text)), ("shown", "read"), ("shown", "write"), ("scopes", "read"),
], allow_redirects=False)
say("narrow", status=narrowed.status_code)

# 2b. What the user granted the app, as Authlete's library reads it: `read` only now.
granted = authlete.getGrantedScopes(int(cfg["clientId"]), cfg["login"])
say("granted", latest=granted.latestGrantedScopes, merged=granted.mergedGrantedScopes,
    modifiedAt=granted.modifiedAt)


def refresh(refresh_token, extra=""):
    request = TokenRequest()
    request.parameters = "grant_type=refresh_token&refresh_token=" + refresh_token + extra
    request.clientId = cfg["clientId"]
    request.clientSecret = cfg["clientSecret"]
    return authlete.token(request)


# 3. A refresh gives `read` only.
refreshed = refresh(first_refresh)
content = json.loads(refreshed.responseContent)
say("refresh", action=refreshed.action.name, scopes=refreshed.scopes,
    scope=content.get("scope"), grantType=refreshed.grantType.name,
    rotated=refreshed.refreshToken != first_refresh,
    accessTokenExpiresAt=refreshed.accessTokenExpiresAt)
second_refresh = refreshed.refreshToken

# 4. Asking for `write` is invalid_scope.
wider = refresh(second_refresh, "&scope=read%20write")
say("wider", action=wider.action.name, error=json.loads(wider.responseContent)["error"],
    resultCode=wider.resultCode)

# 5. The first refresh token again: reuse, the family goes.
replay = refresh(first_refresh)
say("replay", action=replay.action.name, error=json.loads(replay.responseContent)["error"],
    resultCode=replay.resultCode)
after = refresh(second_refresh)
say("after", action=after.action.name, error=json.loads(after.responseContent)["error"],
    resultCode=after.resultCode)
