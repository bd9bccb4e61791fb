//! The transmitter's discovery documents, its signing key kept in PostgreSQL (generated once,
//! rotated with a grace period), and a delivered SET checked by an independent JOSE
//! implementation (Python `jwcrypto`) against the published key set.

use std::time::Duration;

use diesel::prelude::*;
use serde_json::Value;
use tokendesk::audit::{Actor, ActorKind};
use tokendesk::signals::{keys, POLL, PUSH};

use crate::fixtures::{actor, Tok, PRINTER};
use crate::python::run_python;
use crate::ssf_support::Rig;

async fn get_json(url: &str) -> (u16, Value) {
    let res = reqwest::get(url).await.expect("GET");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[actix_web::test]
async fn the_configuration_names_every_endpoint_and_both_delivery_methods() {
    let rig = Rig::without_stream(|_| {});
    let (status, c) = get_json(&format!("{}/.well-known/ssf-configuration", rig.base)).await;
    assert_eq!(status, 200, "{c}");
    let base = rig.base.as_str();
    assert_eq!(c["spec_version"], "1_0");
    assert_eq!(c["issuer"], base);
    assert_eq!(c["jwks_uri"], format!("{base}/.well-known/jwks.json"));
    assert_eq!(
        c["delivery_methods_supported"],
        serde_json::json!([PUSH, POLL])
    );
    assert_eq!(c["configuration_endpoint"], format!("{base}/ssf/streams"));
    assert_eq!(c["status_endpoint"], format!("{base}/ssf/status"));
    assert_eq!(
        c["add_subject_endpoint"],
        format!("{base}/ssf/subjects/add")
    );
    assert_eq!(
        c["remove_subject_endpoint"],
        format!("{base}/ssf/subjects/remove")
    );
    assert_eq!(c["verification_endpoint"], format!("{base}/ssf/verify"));
    assert_eq!(c["default_subjects"], "ALL");
    assert!(c["authorization_schemes"][0]["spec_urn"].is_string(), "{c}");
    // Every advertised endpoint exists: without a credential each answers 401, never 404.
    for key in [
        "configuration_endpoint",
        "status_endpoint",
        "verification_endpoint",
    ] {
        let res = reqwest::get(c[key].as_str().unwrap()).await.unwrap();
        assert!(
            [401, 405].contains(&res.status().as_u16()),
            "{key}: {}",
            res.status()
        );
    }
}

#[actix_web::test]
async fn a_key_is_generated_once_kept_in_postgresql_and_rotated_with_a_grace_period() {
    let rig = Rig::without_stream(|_| {});
    let mut c = rig.t.conn();
    // A deployment's first start: no key yet.
    diesel::sql_query("DELETE FROM ssf_signing_keys")
        .execute(&mut c)
        .unwrap();
    rig.t.state.config.signals.keys.invalidate();
    let jwks_url = format!("{}/.well-known/jwks.json", rig.base);
    let (status, set) = get_json(&jwks_url).await;
    assert_eq!(status, 200, "{set}");
    let published = set["keys"].as_array().expect("keys").clone();
    assert_eq!(published.len(), 1, "{set}");
    let key = &published[0];
    assert_eq!(
        (key["kty"].as_str(), key["alg"].as_str()),
        (Some("RSA"), Some("RS256"))
    );
    assert_eq!(key["use"], "sig");
    assert!(key.get("d").is_none(), "never the private part: {key}");
    let n = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        key["n"].as_str().unwrap(),
    )
    .unwrap();
    assert!(n.len() * 8 >= 2048, "{} bits", n.len() * 8);
    let stored: Vec<String> = diesel::sql_query("SELECT kid FROM ssf_signing_keys")
        .load::<Kid>(&mut c)
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(stored, vec![key["kid"].as_str().unwrap().to_string()]);
    // Asked again (another instance, a restart): the same key, none generated.
    rig.t.state.config.signals.keys.invalidate();
    let (_, again) = get_json(&jwks_url).await;
    assert_eq!(again, set);

    let new_kid =
        keys::rotate(&mut c, Duration::from_secs(3600), &Actor::system("test")).expect("rotated");
    rig.t.state.config.signals.keys.invalidate();
    let (_, rotated) = get_json(&jwks_url).await;
    let kids: Vec<&str> = rotated["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 2, "{rotated}");
    assert!(kids.contains(&new_kid.as_str()));
    assert!(kids.contains(&key["kid"].as_str().unwrap()));
    let signer = rig.t.state.config.signals.keys.signer(&mut c).unwrap();
    assert_eq!(signer.kid(), new_kid);
    // The rotation is audited.
    let audited: i64 = {
        use tokendesk::db::schema::audit_events::dsl as a;
        a::audit_events
            .filter(a::action.like("ssf.key%"))
            .count()
            .get_result(&mut c)
            .unwrap()
    };
    assert!(audited >= 1);
}

#[derive(QueryableByName)]
struct Kid {
    #[diesel(sql_type = diesel::sql_types::Text)]
    kid: String,
}

/// Verifies a compact SET with jwcrypto against the key set at `jwks_url`'s JSON (`jwks`),
/// RS256 only; prints the header and the claims as JSON.
const VERIFY: &str = r#"
import json, sys
from jwcrypto import jwk, jws
keys = jwk.JWKSet.from_json(sys.argv[1])
token = jws.JWS()
token.deserialize(sys.argv[2])
token.verify(keys, alg="RS256")
print(json.dumps({"header": token.jose_header, "claims": json.loads(token.payload)}))
"#;

#[actix_web::test]
async fn a_delivered_set_verifies_with_jwcrypto_against_the_published_keys() {
    let rig = Rig::push().await;
    let mut c = rig.t.conn();
    let tok = Tok::new("j1", PRINTER, "alice", &["read", "write"]).insert(&mut c);
    tokendesk::tokens::revoke_token(
        &mut c,
        &tok.access_token_hash,
        Some("alice"),
        &actor(ActorKind::User, "alice"),
        None,
    )
    .expect("revoked");
    let got = rig.receiver.wait_accepted(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "{:?}", rig.receiver.received());
    let (_, jwks) = get_json(&format!("{}/.well-known/jwks.json", rig.base)).await;
    let out = run_python(VERIFY, &[&jwks.to_string(), &got[0].raw]);
    assert!(
        out.status.success(),
        "jwcrypto refused the SET: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(seen["header"]["typ"], "secevent+jwt");
    assert_eq!(seen["header"]["alg"], "RS256");
    let claims = &seen["claims"];
    assert_eq!(claims["iss"], rig.base.as_str());
    assert!(
        claims.get("sub").is_none() && claims.get("exp").is_none(),
        "{claims}"
    );
    assert!(claims["txn"].is_string() && claims["jti"].is_string());
    let events = claims["events"].as_object().unwrap();
    assert_eq!(events.len(), 1);
    let event = &events[tokendesk::signals::SESSION_REVOKED];
    assert_eq!(event["initiating_entity"], "user");
    // The token's value is nowhere in the SET; its fingerprint names the session.
    let value = crate::fixtures::value("j1");
    assert!(!got[0].raw.contains(&value));
    assert!(!claims.to_string().contains(&value));
    assert_eq!(
        claims["sub_id"]["session"]["id"],
        tok.access_token_hash.as_str()
    );

    // The same check fails on a SET whose payload was changed: the test can tell.
    let mut parts: Vec<String> = got[0].raw.split('.').map(str::to_string).collect();
    let mut forged = claims.clone();
    forged["aud"] = Value::String("https://attacker.example".into());
    parts[1] = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        forged.to_string(),
    );
    let out = run_python(VERIFY, &[&jwks.to_string(), &parts.join(".")]);
    assert!(!out.status.success(), "a forged SET must not verify");
}
