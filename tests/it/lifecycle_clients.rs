//! The token life through real client libraries against a real server: Authlete's own Python
//! library for the refresh story (2.x paths with Basic, 3.0 paths with Bearer), and Authlib's
//! resource-server and client sides for RFC 7662 / RFC 7009.

use diesel::prelude::*;
use serde_json::{json, Value};
use tokendesk::accounts::{create_account, AccountInput};
use tokendesk::audit::Actor;
use tokendesk::db::models::Role;
use tokendesk::db::schema::access_tokens;

use crate::fixtures::{self, events, token, Tok, JOURNAL, PRINTER};
use crate::harness::{TestApp, SERVICE_ID};
use crate::python::python;

const PASSWORD: &str = "correct horse battery staple";

fn script(name: &str) -> String {
    format!("{}/tests/python/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs a script of `tests/python` with one JSON argument, off the server's runtime; returns
/// its steps by name.
async fn run(name: &str, config: Value) -> std::collections::HashMap<String, Value> {
    let path = script(name);
    let out = actix_web::rt::task::spawn_blocking(move || {
        std::process::Command::new(python())
            .arg(path)
            .arg(config.to_string())
            .output()
            .expect("python runs")
    })
    .await
    .expect("joined");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
        .map(|v| (v["step"].as_str().unwrap().to_string(), v))
        .collect()
}

fn setup() -> (TestApp, Value) {
    let t = TestApp::new();
    let c = &mut t.conn();
    fixtures::catalog(c);
    create_account(
        c,
        &AccountInput {
            login: "dana".into(),
            subject: "dana".into(),
            display_name: "Dana".into(),
            role: Role::User,
            password: PASSWORD.into(),
        },
        &Actor::system("test"),
    )
    .expect("account");
    let key =
        tokendesk::api_keys::create_api_key(c, "auth-server", &Actor::system("test")).expect("key");
    let service = tokendesk::service_credentials::create_service_token(
        c,
        "auth-server-v3",
        &Actor::system("test"),
    )
    .expect("service token");
    let secret = tokendesk::client_auth::set_client_secret(c, PRINTER, &Actor::system("test"))
        .expect("secret");
    // The 3.0 paths name this service: the library calls /api/{serviceId}/….
    assert_eq!(service.service_id, SERVICE_ID.to_string());
    let config = json!({
        "apiKey": key.api_key, "apiSecret": key.api_secret,
        "serviceId": service.service_id, "serviceAccessToken": service.service_access_token,
        "clientId": PRINTER.to_string(), "clientSecret": secret,
        "login": "dana", "password": PASSWORD,
    });
    (t, config)
}

async fn refresh_story(mode: &str, actor: &str) {
    let (t, mut config) = setup();
    config["base"] = json!(t.spawn_server());
    config["mode"] = json!(mode);
    let steps = run("refresh_story.py", config).await;

    assert_eq!(steps["create"]["scopes"], json!(["read", "write"]));
    assert_eq!(
        steps["create"]["refreshTokenScopes"],
        json!(["read", "write"])
    );
    assert_eq!(steps["narrow"]["status"], 303, "the page took write back");
    assert_eq!(
        steps["granted"]["merged"],
        json!(["read"]),
        "{}",
        steps["granted"]
    );
    assert_eq!(steps["granted"]["latest"], json!(["read"]));
    assert!(steps["granted"]["modifiedAt"]
        .as_i64()
        .is_some_and(|m| m > 0));
    let refresh = &steps["refresh"];
    assert_eq!(refresh["action"], "OK", "{refresh}");
    assert_eq!(refresh["scopes"], json!(["read"]));
    assert_eq!(refresh["scope"], "read");
    assert_eq!(refresh["grantType"], "REFRESH_TOKEN");
    assert_eq!(refresh["rotated"], true);
    assert_eq!(
        (
            steps["wider"]["action"].as_str(),
            steps["wider"]["error"].as_str()
        ),
        (Some("BAD_REQUEST"), Some("invalid_scope"))
    );
    assert_eq!(
        (
            steps["replay"]["error"].as_str(),
            steps["replay"]["resultCode"].as_str()
        ),
        (Some("invalid_grant"), Some("T006007"))
    );
    assert_eq!(
        steps["after"]["error"], "invalid_grant",
        "the family is gone"
    );

    let c = &mut t.conn();
    let left: i64 = access_tokens::table
        .filter(access_tokens::subject.eq("dana"))
        .count()
        .get_result(c)
        .unwrap();
    assert_eq!(left, 0, "reuse revoked the whole token");
    let refreshes = events(c, "token.refresh");
    assert_eq!(refreshes.len(), 1);
    assert_eq!(refreshes[0].actor_id, actor);
    assert_eq!(events(c, "token.refresh_reuse").len(), 1);
    let narrowed = events(c, "authorization.update");
    assert_eq!(narrowed.len(), 1, "the page's change is in the trail");
    assert_eq!(narrowed[0].actor_kind, "user");
}

#[actix_web::test]
async fn authletes_library_refreshes_on_2x_paths_with_basic() {
    refresh_story("V2", "auth-server").await;
}

#[actix_web::test]
async fn authletes_library_refreshes_on_3_0_paths_with_bearer() {
    refresh_story("V3", "auth-server-v3").await;
}

#[actix_web::test]
async fn authlib_introspects_and_revokes_through_the_rfc_endpoints() {
    let (t, config) = setup();
    let c = &mut t.conn();
    Tok::new("read", PRINTER, "dana", &["read"]).insert(c);
    Tok::new("write", PRINTER, "dana", &["read", "write"]).insert(c);
    Tok::new("other", JOURNAL, "dana", &["read"]).insert(c);
    let rs = tokendesk::api_keys::create_api_key(c, "photos-api", &Actor::system("test")).unwrap();
    let base = t.spawn_server();
    let steps = run(
        "standard_clients.py",
        json!({
            "base": base, "rsKey": rs.api_key, "rsSecret": rs.api_secret,
            "clientId": config["clientId"], "clientSecret": config["clientSecret"],
            "readToken": "at-read", "writeToken": "at-write", "refreshToken": "rt-write",
            "otherClientToken": "at-other",
        }),
    )
    .await;

    assert_eq!(
        steps["metadata"]["introspection"],
        json!(format!("{base}/oauth2/introspect"))
    );
    assert_eq!(steps["rs-read"]["allowed"], true, "{}", steps["rs-read"]);
    assert_eq!(steps["rs-read"]["sub"], "dana");
    assert_eq!(steps["rs-write"]["error"], "insufficient_scope");
    assert_eq!(steps["rs-unknown"]["error"], "invalid_token");
    let own = &steps["client-introspect"];
    assert_eq!(
        (own["status"].as_i64(), own["active"].as_bool()),
        (Some(200), Some(true))
    );
    assert_eq!(own["scope"], "read write");
    assert_eq!(steps["client-introspect-other"]["active"], false);
    assert_eq!(steps["revoke"]["status"], 200);
    assert_eq!(steps["revoke"]["body"], "");
    assert_eq!(
        steps["rs-after-revoke"]["error"], "invalid_token",
        "both halves went"
    );
    assert_eq!(steps["revoke-other"]["status"], 400);
    assert_eq!(steps["revoke-other"]["error"], "unauthorized_client");
    assert_eq!(steps["revoke-wrong-secret"]["status"], 401);
    assert_eq!(steps["revoke-wrong-secret"]["error"], "invalid_client");

    assert!(token(c, "write").is_none());
    assert!(token(c, "read").is_some() && token(c, "other").is_some());
    let revoked = events(c, "token.revoke");
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].actor_id, format!("client {PRINTER}"));
}
