//! The input rule on every Shared Signals route: NUL, invalid UTF-8 and over-long values in the
//! query string, the path and any JSON string answer 400 naming the field (never a 500), and
//! change nothing.

use diesel::prelude::*;

use crate::security_input::SSF_INPUTS;
use crate::ssf_support::Rig;

fn counts(rig: &Rig) -> (i64, i64, i64) {
    use tokendesk::db::schema::{audit_events, ssf_stream_subjects, ssf_streams};
    let mut c = rig.t.conn();
    (
        ssf_streams::table.count().get_result(&mut c).unwrap(),
        ssf_stream_subjects::table
            .count()
            .get_result(&mut c)
            .unwrap(),
        audit_events::table.count().get_result(&mut c).unwrap(),
    )
}

#[actix_web::test]
async fn bad_input_on_any_ssf_route_answers_400_naming_the_field_and_changes_nothing() {
    let rig = Rig::push().await;
    let before = counts(&rig);
    let client = reqwest::Client::new();
    let long = "a".repeat(10_000);
    for (method, pattern, query) in SSF_INPUTS {
        let path = pattern.replace("{stream_id}", &rig.stream_id);
        let mut cases: Vec<(String, String, Option<Vec<u8>>)> = Vec::new();
        for name in *query {
            for bad in ["al%00ice", "%FF%FEx", long.as_str()] {
                cases.push((name.to_string(), format!("{path}?{name}={bad}"), None));
            }
        }
        if *method != "get" && *method != "delete" {
            let bodies: [(&str, Vec<u8>); 3] = [
                ("stream_id", br#"{"stream_id": "a\u0000b"}"#.to_vec()),
                ("body", b"{\"stream_id\": \"\xff\xfe\"}".to_vec()),
                (
                    "description",
                    format!(r#"{{"description": "{long}"}}"#).into_bytes(),
                ),
            ];
            for (field, body) in bodies {
                cases.push((field.to_string(), path.clone(), Some(body)));
            }
        }
        if pattern.contains("{stream_id}") {
            cases.push((
                "stream_id".into(),
                pattern.replace("{stream_id}", "a%00b"),
                Some(b"{}".to_vec()),
            ));
        }
        for (field, uri, body) in cases {
            let mut req = client
                .request(
                    method.to_uppercase().parse().unwrap(),
                    format!("{}{uri}", rig.base),
                )
                .header("Authorization", &rig.credential);
            if let Some(b) = body {
                req = req.header("Content-Type", "application/json").body(b);
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let text = res.text().await.unwrap_or_default();
            assert_ne!(status / 100, 5, "{method} {uri}: {text}");
            if pattern.starts_with("/.well-known/") {
                continue;
            }
            assert_eq!(status, 400, "{method} {uri} ({field}): {text}");
            let answer: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            assert_eq!(answer["err"], "invalid_request", "{text}");
            if field != "body" {
                assert!(
                    answer["description"]
                        .as_str()
                        .unwrap_or("")
                        .contains(&field),
                    "{method} {uri}: {text}"
                );
            }
        }
    }
    assert_eq!(counts(&rig), before, "nothing changed");
}
