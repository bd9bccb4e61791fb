//! The stream management API (SSF §8.1) over real HTTP: a receiver's own credential, its own
//! streams only, every field checked with an answer that names it, and the database left as it
//! was by a refused request.

use diesel::prelude::*;
use serde_json::json;
use tokendesk::audit::Actor;
use tokendesk::signals::{receivers, POLL, PUSH, SESSION_REVOKED, TOKEN_CLAIMS_CHANGE};

use crate::ssf_support::{call_as, Rig, AUDIENCE};

fn stream_count(rig: &Rig) -> i64 {
    use tokendesk::db::schema::ssf_streams::dsl as s;
    s::ssf_streams
        .count()
        .get_result(&mut rig.t.conn())
        .expect("count")
}

#[actix_web::test]
async fn missing_or_wrong_credentials_are_401_and_another_receivers_stream_is_404() {
    let rig = Rig::push().await;
    for auth in ["", "Bearer not-a-credential", "Basic dXNlcjpwYXNz"] {
        let (status, body) = call_as(&rig.base, auth, "GET", "/ssf/streams", None).await;
        assert_eq!(status, 401, "{auth:?}: {body}");
    }
    let other = receivers::create(
        &mut rig.t.conn(),
        "another app",
        Some("https://other.example.com"),
        &Actor::system("test"),
    )
    .expect("receiver");
    let other_auth = format!("Bearer {}", other.secret);
    let path = format!("/ssf/streams?stream_id={}", rig.stream_id);
    let (status, body) = call_as(&rig.base, &other_auth, "GET", &path, None).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = call_as(&rig.base, &other_auth, "DELETE", &path, None).await;
    assert_eq!(status, 404);
    let (status, _) = call_as(
        &rig.base,
        &other_auth,
        "POST",
        "/ssf/status",
        Some(&json!({"stream_id": rig.stream_id, "status": "disabled"})),
    )
    .await;
    assert_eq!(status, 404);
    // Its own list is empty; the owner's stream is untouched.
    let (status, list) = call_as(&rig.base, &other_auth, "GET", "/ssf/streams", None).await;
    assert_eq!((status, list), (200, json!([])));
    let (status, body) = rig.call("GET", &path, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["stream_id"], rig.stream_id.as_str());
    let (_, st) = rig
        .call(
            "GET",
            &format!("/ssf/status?stream_id={}", rig.stream_id),
            None,
        )
        .await;
    assert_eq!(st["status"], "enabled");
}

#[actix_web::test]
async fn a_stream_is_created_read_updated_replaced_and_deleted() {
    let rig = Rig::push().await;
    let path = format!("/ssf/streams?stream_id={}", rig.stream_id);
    let (status, s) = rig.call("GET", &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(s["iss"], rig.base.as_str());
    assert_eq!(s["aud"], AUDIENCE);
    assert_eq!(s["delivery"]["method"], PUSH);
    assert_eq!(s["delivery"]["endpoint_url"], rig.receiver.url.as_str());
    let delivered: Vec<String> = serde_json::from_value(s["events_delivered"].clone()).unwrap();
    assert!(delivered.contains(&SESSION_REVOKED.to_string()), "{s}");
    assert!(delivered.contains(&TOKEN_CLAIMS_CHANGE.to_string()), "{s}");

    // PATCH: only what is given changes.
    let (status, s) = rig
        .call(
            "PATCH",
            "/ssf/streams",
            Some(&json!({"stream_id": rig.stream_id, "events_requested": [SESSION_REVOKED]})),
        )
        .await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["events_delivered"], json!([SESSION_REVOKED]));
    assert_eq!(s["description"], "the resource server's cache");

    // PUT: the receiver's fields not given are gone.
    let (status, s) = rig
        .call(
            "PUT",
            "/ssf/streams",
            Some(&json!({
                "stream_id": rig.stream_id,
                "delivery": {"method": PUSH, "endpoint_url": rig.receiver.url},
                "events_requested": [TOKEN_CLAIMS_CHANGE],
            })),
        )
        .await;
    assert_eq!(status, 200, "{s}");
    assert!(s.get("description").is_none_or(|d| d.is_null()), "{s}");
    assert_eq!(s["events_delivered"], json!([TOKEN_CLAIMS_CHANGE]));

    // A second stream, polled: its endpoint is the transmitter's.
    let (status, p) = rig
        .call(
            "POST",
            "/ssf/streams",
            Some(&json!({"delivery": {"method": POLL}})),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    let poll_url = p["delivery"]["endpoint_url"].as_str().unwrap().to_string();
    assert!(
        poll_url.starts_with(&format!("{}/ssf/poll/", rig.base)),
        "{p}"
    );
    let (_, list) = rig.call("GET", "/ssf/streams", None).await;
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");

    let (status, _) = rig.call("DELETE", &path, None).await;
    assert_eq!(status, 204);
    let (status, _) = rig.call("GET", &path, None).await;
    assert_eq!(status, 404);
    assert_eq!(stream_count(&rig), 1);
}

#[actix_web::test]
async fn every_field_is_checked_by_name_and_a_refusal_changes_nothing() {
    let rig = Rig::push().await;
    let before = stream_count(&rig);
    let cases = [
        (
            json!({"delivery": {"method": "urn:example:carrier-pigeon"}}),
            "delivery.method",
        ),
        (
            json!({"delivery": {"method": PUSH}}),
            "delivery.endpoint_url",
        ),
        (
            json!({"delivery": {"method": PUSH, "endpoint_url": "not a url"}}),
            "delivery.endpoint_url",
        ),
        (
            json!({"delivery": {"method": POLL}, "events_requested": "everything"}),
            "events_requested",
        ),
        (
            json!({"delivery": {"method": POLL}, "description": 7}),
            "description",
        ),
        (
            json!({"delivery": {"method": POLL}, "colour": "red"}),
            "colour",
        ),
        (json!([1, 2]), ""),
    ];
    for (body, field) in cases {
        let (status, answer) = rig.call("POST", "/ssf/streams", Some(&body)).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        assert_eq!(answer["err"], "invalid_request", "{answer}");
        let description = answer["description"].as_str().unwrap_or_default();
        assert!(description.contains(field), "{body}: {description}");
    }
    // Not JSON at all.
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{}/ssf/streams", rig.base))
        .header("Authorization", &rig.credential)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    // A bad status and an unknown stream.
    let (status, answer) = rig
        .call(
            "POST",
            "/ssf/status",
            Some(&json!({"stream_id": rig.stream_id, "status": "asleep"})),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["description"].as_str().unwrap().contains("status"));
    let (status, _) = rig
        .call(
            "POST",
            "/ssf/subjects/add",
            Some(&json!({"stream_id": "AAAAAAAAAAAAAAAAAAAAAAAA",
                         "subject": {"format": "iss_sub", "iss": "https://as.example.com",
                                     "sub": "alice"}})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, answer) = rig
        .call(
            "POST",
            "/ssf/subjects/add",
            Some(&json!({"stream_id": rig.stream_id,
                         "subject": {"format": "email", "email": "a@example.com"}})),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["description"]
        .as_str()
        .unwrap()
        .contains("subject.format"));
    assert_eq!(stream_count(&rig), before);
    let subjects: i64 = {
        use tokendesk::db::schema::ssf_stream_subjects::dsl as f;
        f::ssf_stream_subjects
            .count()
            .get_result(&mut rig.t.conn())
            .unwrap()
    };
    assert_eq!(subjects, 0);
}

#[actix_web::test]
async fn status_subjects_and_verification_are_the_receivers_to_set() {
    let rig = Rig::push().await;
    let (status, st) = rig
        .call(
            "POST",
            "/ssf/status",
            Some(&json!({"stream_id": rig.stream_id, "status": "paused", "reason": "maintenance"})),
        )
        .await;
    assert_eq!(status, 200, "{st}");
    assert_eq!(st["status"], "paused");
    let (_, st) = rig
        .call(
            "GET",
            &format!("/ssf/status?stream_id={}", rig.stream_id),
            None,
        )
        .await;
    assert_eq!(st["status"], "paused");
    let subject = json!({"format": "complex",
                         "user": {"format": "iss_sub", "iss": "https://as.example.com",
                                  "sub": "alice"}});
    let (status, body) = rig
        .call(
            "POST",
            "/ssf/subjects/remove",
            Some(&json!({"stream_id": rig.stream_id, "subject": subject})),
        )
        .await;
    assert!(status == 204 || status == 200, "{status} {body}");
    let (status, body) = rig
        .call(
            "POST",
            "/ssf/status",
            Some(&json!({"stream_id": rig.stream_id, "status": "enabled"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = rig
        .call(
            "POST",
            "/ssf/verify",
            Some(&json!({"stream_id": rig.stream_id, "state": "check-123"})),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let got = rig
        .receiver
        .wait_accepted(1, std::time::Duration::from_secs(5))
        .await;
    let verification = got
        .iter()
        .find(|r| r.event_type() == tokendesk::signals::VERIFICATION)
        .unwrap_or_else(|| panic!("a verification event: {:?}", rig.receiver.received()));
    assert!(
        verification.problems.is_empty(),
        "{:?}",
        verification.problems
    );
    assert_eq!(verification.event()["state"], "check-123");
    assert_eq!(verification.claims["sub_id"]["format"], "opaque");
    assert_eq!(verification.claims["sub_id"]["id"], rig.stream_id.as_str());
}
