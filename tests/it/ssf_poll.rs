//! Poll delivery (RFC 8936) over real HTTP from the same outbox as push: SETs handed out,
//! acknowledged (`ack`), reported as unprocessable (`setErrs`), handed out again when not
//! acknowledged in time, and a long poll that answers as soon as a change commits.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokendesk::audit::ActorKind;
use tokendesk::signals::{keys, POLL, SESSION_REVOKED, TOKEN_CLAIMS_CHANGE};

use crate::fixtures::{actor, strings, Tok, PRINTER};
use crate::ssf_support::{outbox_rows, Rig};

/// A poll stream of the rig's receiver; returns its poll path.
async fn poll_stream(rig: &mut Rig) -> String {
    let (status, s) = rig
        .call(
            "POST",
            "/ssf/streams",
            Some(&json!({"delivery": {"method": POLL}})),
        )
        .await;
    assert_eq!(status, 201, "{s}");
    rig.stream_id = s["stream_id"].as_str().unwrap().to_string();
    let url = s["delivery"]["endpoint_url"].as_str().unwrap();
    url.strip_prefix(&rig.base).unwrap().to_string()
}

/// The claims of a compact SET, its signature checked against the published key set.
async fn verified(rig: &Rig, compact: &str) -> Value {
    let jwks: Value = reqwest::get(format!("{}/.well-known/jwks.json", rig.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    let payload = keys::verify_rs256(
        compact,
        key["n"].as_str().unwrap(),
        key["e"].as_str().unwrap(),
    )
    .expect("signature");
    serde_json::from_slice(&payload).unwrap()
}

fn sets(answer: &Value) -> Vec<(String, String)> {
    answer["sets"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

#[actix_web::test]
async fn polled_sets_are_acknowledged_reported_and_handed_out_again_when_not() {
    let mut rig = Rig::without_stream(|s| s.workers = 0);
    let path = poll_stream(&mut rig).await;
    let mut c = rig.t.conn();
    let t = Tok::new("q1", PRINTER, "alice", &["read", "write"]).insert(&mut c);
    Tok::new("q2", PRINTER, "bob", &["read", "write"]).insert(&mut c);
    tokendesk::tokens::remove_pair_scopes(
        &mut c,
        PRINTER,
        "alice",
        &strings(&["write"]),
        &actor(ActorKind::User, "alice"),
        None,
    )
    .unwrap();
    tokendesk::tokens::revoke_token(
        &mut c,
        &t.access_token_hash,
        None,
        &actor(ActorKind::Admin, "ada"),
        Some("lost"),
    )
    .unwrap();
    tokendesk::tokens::delete_pair(
        &mut c,
        PRINTER,
        "bob",
        &actor(ActorKind::Admin, "ada"),
        Some("gone"),
    )
    .unwrap();

    // Alice's two events keep their order: only the first is handed out; Bob's goes beside it.
    let (status, a) = rig
        .call("POST", &path, Some(&json!({"returnImmediately": true})))
        .await;
    assert_eq!(status, 200, "{a}");
    let first = sets(&a);
    assert_eq!(first.len(), 2, "{a}");
    let mut kinds = Vec::new();
    for (jti, set) in &first {
        let claims = verified(&rig, set).await;
        assert_eq!(&claims["jti"], jti.as_str());
        kinds.push((
            claims["sub_id"]["user"]["sub"]
                .as_str()
                .unwrap()
                .to_string(),
            claims["events"]
                .as_object()
                .unwrap()
                .keys()
                .next()
                .unwrap()
                .clone(),
        ));
    }
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            ("alice".to_string(), TOKEN_CLAIMS_CHANGE.to_string()),
            ("bob".to_string(), SESSION_REVOKED.to_string())
        ]
    );
    // Acknowledge both, report nothing: Alice's second event comes next.
    let acks: Vec<&String> = first.iter().map(|(j, _)| j).collect();
    let (_, b) = rig
        .call(
            "POST",
            &path,
            Some(&json!({"ack": acks, "returnImmediately": true})),
        )
        .await;
    let second = sets(&b);
    assert_eq!(second.len(), 1, "{b}");
    let claims = verified(&rig, &second[0].1).await;
    assert!(claims["events"][SESSION_REVOKED].is_object(), "{claims}");
    assert_eq!(
        claims["events"][SESSION_REVOKED]["reason_admin"]["en"],
        "lost"
    );

    // Not acknowledged: handed out again after the redelivery time (1 s in the rig), same jti.
    actix_web::rt::time::sleep(Duration::from_millis(1200)).await;
    let (_, again) = rig
        .call("POST", &path, Some(&json!({"returnImmediately": true})))
        .await;
    assert_eq!(
        sets(&again).iter().map(|s| &s.0).collect::<Vec<_>>(),
        vec![&second[0].0]
    );

    // Reported as unprocessable: a dead letter with the receiver's words.
    let (status, _) = rig
        .call(
            "POST",
            &path,
            Some(&json!({"setErrs": {second[0].0.clone(): {"err": "invalid_key", "description": "no such key"}},
                         "returnImmediately": true})),
        )
        .await;
    assert_eq!(status, 200);
    let rows = outbox_rows(&mut c, &rig.stream_id);
    // In id order: Alice's narrowing, Alice's revocation (reported), Bob's revocation.
    let states: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(states, vec!["delivered", "dead", "delivered"], "{rows:?}");
    assert_eq!(rows[1].2, 2, "handed out twice");
    assert!(
        rows[1].3.as_deref().unwrap().contains("invalid_key"),
        "{rows:?}"
    );

    // Bad poll parameters are named.
    let (status, e) = rig
        .call("POST", &path, Some(&json!({"maxEvents": "ten"})))
        .await;
    assert_eq!(status, 400);
    assert!(
        e["description"].as_str().unwrap().contains("maxEvents"),
        "{e}"
    );
}

#[actix_web::test]
async fn a_long_poll_answers_when_a_change_commits() {
    let mut rig = Rig::without_stream(|s| {
        s.workers = 0;
        s.poll_wait = Duration::from_secs(5);
    });
    let path = poll_stream(&mut rig).await;
    let mut c = rig.t.conn();
    Tok::new("w1", PRINTER, "alice", &["read", "write"]).insert(&mut c);
    let (base, cred, p) = (rig.base.clone(), rig.credential.clone(), path.clone());
    let waiting = actix_web::rt::spawn(async move {
        crate::ssf_support::call_as(&base, &cred, "POST", &p, Some(&json!({}))).await
    });
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let committed = Instant::now();
    tokendesk::tokens::remove_pair_scopes(
        &mut c,
        PRINTER,
        "alice",
        &strings(&["write"]),
        &actor(ActorKind::User, "alice"),
        None,
    )
    .unwrap();
    let (status, answer) = waiting.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(sets(&answer).len(), 1, "{answer}");
    assert!(
        committed.elapsed() < Duration::from_secs(2),
        "{:?}",
        committed.elapsed()
    );
}
