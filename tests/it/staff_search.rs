//! Finding users, tokens and audit events from the support console, and the indexes that serve
//! each search.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use tokendesk::crypto::fingerprint;
use tokendesk::read_models::audit_log::{list_events_sql, AuditFilter};
use tokendesk::read_models::token_search::{search_tokens_sql, ExpiryFilter, TokenFilter};
use tokendesk::read_models::users::SEARCH_USERS_SQL;

use crate::fixtures::Tok;
use crate::harness::TestApp;
use crate::staff_client::{alice_printer, demo_token, signed_in};

fn unescaped(body: &str) -> String {
    body.replace("&#34;", "\"").replace("&#39;", "'")
}

#[actix_web::test]
async fn users_are_found_by_login_subject_or_name_prefix_in_any_case() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut sam = signed_in(&app, "sam").await;
    for (q, found, not_found) in [
        ("ALI", "alice", "bob"),
        ("carol n", "carol", "alice"),
        ("Bo", "bob", "carol"),
    ] {
        let page = sam
            .get(&app, &format!("/staff/users?q={}", q.replace(' ', "+")))
            .await;
        assert_eq!(page.status, 200);
        assert!(
            page.body
                .contains(&format!("href=\"/staff/users/{found}\"")),
            "{q}"
        );
        assert!(
            !page
                .body
                .contains(&format!("href=\"/staff/users/{not_found}\"")),
            "{q}"
        );
    }
    // Wildcards match themselves only.
    let page = sam.get(&app, "/staff/users?q=%25").await;
    assert!(page
        .body
        .contains("No user’s login, subject or name starts with"));
}

#[actix_web::test]
async fn tokens_are_found_by_hash_prefix_client_and_expiry() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut sam = signed_in(&app, "sam").await;
    let token = alice_printer(&t);
    let prefix = &token.access_token_hash[..8];
    let page = sam.get(&app, &format!("/staff/tokens?hash={prefix}")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains(&format!("href=\"/staff/tokens/{}\"", token.id)),
        "{}",
        page.body
    );

    // `?hash=` stays for the console's own links (a hash is no secret); the form has no such
    // field, so that nothing pasted ends up in an address.
    assert!(!page.body.contains("name=\"hash\""));
    let short = sam
        .get(&app, &format!("/staff/tokens?hash={}", &prefix[..7]))
        .await;
    assert_eq!(short.status, 422);
    assert!(
        short
            .body
            .contains("Type at least 8 and at most 43 characters of the hash."),
        "{}",
        short.body
    );
    let bad = sam.get(&app, "/staff/tokens?hash=abcd%25efgh").await;
    assert_eq!(bad.status, 422);
    let unknown = sam.get(&app, "/staff/tokens?client=no-such-app").await;
    assert_eq!(unknown.status, 422);
    assert!(
        unescaped(&unknown.body).contains(
            "id=\"client-error\">No client has a name, id or alias matching “no-such-app”."
        ),
        "{}",
        unknown.body
    );
    // Clients are picked by any part of their name, in any case.
    let by_name = sam.get(&app, "/staff/tokens?client=photo&expiry=any").await;
    assert_eq!(by_name.status, 200, "{}", by_name.body);
    assert!(by_name.body.contains(fingerprint(&token.access_token_hash)));
    let several = sam.get(&app, "/staff/tokens?client=a").await;
    assert_eq!(several.status, 422);
    assert!(
        unescaped(&several.body)
            .contains("Several clients’ names contain “a”: Backup Vault (1005)"),
        "{}",
        several.body
    );

    let expired = demo_token(&t, "alice", 1001, &["read"], true);
    let soon = demo_token(&t, "alice", 1001, &["read"], false); // expires in 20 days
    let page = sam
        .get(&app, "/staff/tokens?client=photo-printer&expiry=expired")
        .await;
    assert!(page.body.contains(fingerprint(&expired.access_token_hash)));
    assert!(!page.body.contains(fingerprint(&soon.access_token_hash)));
    let page = sam
        .get(&app, "/staff/tokens?client=1001&expiry=expiring&days=21")
        .await;
    assert!(page.body.contains(fingerprint(&soon.access_token_hash)));
    assert!(
        !page.body.contains(fingerprint(&token.access_token_hash)),
        "27 days away"
    );
    assert!(!page.body.contains(fingerprint(&expired.access_token_hash)));
    let bad_days = sam.get(&app, "/staff/tokens?expiry=expiring&days=0").await;
    assert_eq!(bad_days.status, 422);
    let by_subject = sam.get(&app, "/staff/tokens?subject=bob").await;
    assert!(!by_subject
        .body
        .contains(fingerprint(&token.access_token_hash)));
}

#[actix_web::test]
async fn one_pasted_field_finds_a_token_by_value_hash_or_fingerprint_and_never_echoes_it() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let token = Tok::new("pasted", 1001, "alice", &["read"]).insert(&mut t.conn());
    let mut sam = signed_in(&app, "sam").await;
    let page = sam.get(&app, "/staff/tokens").await;
    assert!(
        page.body
            .contains("<form method=\"post\" action=\"/staff/tokens/lookup\"")
            && page.body.contains("Token value, hash or fingerprint"),
        "{}",
        page.body
    );
    let fingerprint = tokendesk::crypto::fingerprint(&token.access_token_hash).to_string();
    for pasted in [
        " at-pasted ".to_string(),
        token.access_token_hash.clone(),
        fingerprint.clone(),
    ] {
        let res = sam
            .submit(
                &app,
                "/staff/tokens",
                "/staff/tokens/lookup",
                &[("token", &pasted)],
            )
            .await;
        assert_eq!(res.status, 303, "{pasted}: {}", res.body);
        assert_eq!(res.location, Some(format!("/staff/tokens/{}", token.id)));
    }
    let res = sam
        .submit(
            &app,
            "/staff/tokens",
            "/staff/tokens/lookup",
            &[("token", "at-unknown-value")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(
        res.body
            .contains("id=\"token-error\">No token has this value, hash or fingerprint"),
        "{}",
        res.body
    );
    assert!(
        !res.body.contains("at-unknown-value"),
        "the value is never shown back"
    );
    // Reloading the form's address shows the search page.
    let reload = sam.get(&app, "/staff/tokens/lookup").await;
    assert_eq!(reload.location.as_deref(), Some("/staff/tokens"));
}

#[actix_web::test]
async fn the_audit_log_filters_and_exports_the_same_view_as_csv() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut sam = signed_in(&app, "sam").await;
    let token = alice_printer(&t);
    let path = format!("/staff/tokens/{}", token.id);
    // One change by sam to have something of his in the log.
    let page = sam.get(&app, &path).await;
    let res = sam
        .post(
            &app,
            &format!("{path}/revoke"),
            &[
                ("csrf", page.csrf().as_str()),
                ("confirm", "1"),
                ("reason", "Leaked, \"urgent\""),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);

    let log = sam.get(&app, "/staff/audit?actor=sam").await;
    assert_eq!(log.status, 200);
    let text = unescaped(&log.body);
    assert!(text.contains("revoked token"), "{text}");
    assert!(text.contains("Leaked, \"urgent\""));
    assert!(text.contains("scopes: read write → (revoked)"), "{text}");
    // On a phone the filters would fill the screen: they are folded, and say how many apply.
    assert!(
        text.contains("<summary id=\"filters-summary\">Filter (1 active)</summary>"),
        "{text}"
    );
    assert!(text.contains("<details class=\"card filters\">"));
    let none = sam.get(&app, "/staff/audit?actor=sam&client=1002").await;
    assert!(none.body.contains("No event matches"));
    let by_subject = sam
        .get(
            &app,
            "/staff/audit?subject=alice&action=token.revoke&actor_kind=support",
        )
        .await;
    assert!(unescaped(&by_subject.body).contains("Leaked"));
    let from = (Utc::now() + Duration::hours(1))
        .format("%Y-%m-%d%%20%H:%M")
        .to_string();
    let later = sam
        .get(&app, &format!("/staff/audit?actor=sam&from={from}"))
        .await;
    assert!(later.body.contains("No event matches"));
    let bad = sam
        .get(&app, "/staff/audit?from=yesterday&actor_kind=robot")
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("id=\"from-error\""));
    assert!(bad.body.contains("id=\"actor_kind-error\""));
    assert!(
        bad.body.contains("<details class=\"card filters\" open>"),
        "refused: open"
    );
    assert!(
        bad.body.contains("value=\"yesterday\""),
        "the input is kept"
    );

    assert!(log.body.contains("href=\"/staff/audit.csv?actor=sam\""));
    let csv = sam.get(&app, "/staff/audit.csv?actor=sam").await;
    assert_eq!(csv.status, 200);
    let lines: Vec<&str> = csv.body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(lines[0].starts_with("occurred_at,actor_kind,actor_id,action,"));
    assert_eq!(lines.len(), 2, "{}", csv.body);
    assert!(lines[1].contains(",support,sam,token.revoke,1001,Photo Printer,alice,"));
    assert!(
        lines[1].contains("\"Leaked, \"\"urgent\"\"\""),
        "{}",
        lines[1]
    );
    let all = sam.get(&app, "/staff/audit.csv").await;
    assert!(
        all.body.split("\r\n").filter(|l| !l.is_empty()).count() > 2,
        "the demo's events too"
    );
    assert_eq!(
        sam.get(&app, "/staff/audit.csv?from=nope").await.status,
        422
    );
}

/// The plan of `sql` with `enable_seqscan` off: which indexes can serve it (on a tiny table the
/// planner would rightly scan it instead).
fn plan(
    conn: &mut PgConnection,
    query: diesel::query_builder::BoxedSqlQuery<
        '_,
        diesel::pg::Pg,
        diesel::query_builder::SqlQuery,
    >,
) -> String {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        line: String,
    }
    diesel::sql_query("SET enable_seqscan = off")
        .execute(conn)
        .unwrap();
    let lines: Vec<Line> = query.load(conn).unwrap();
    lines
        .into_iter()
        .map(|l| l.line)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_search_is_served_by_an_index() {
    let t = TestApp::with_demo();
    let c = &mut t.conn();
    let users = plan(
        c,
        diesel::sql_query(format!("EXPLAIN {SEARCH_USERS_SQL}"))
            .into_boxed()
            .bind::<Text, _>("ali%")
            .bind::<BigInt, _>(21)
            .bind::<BigInt, _>(0),
    );
    for index in [
        "accounts_login_lower_pattern_idx",
        "accounts_subject_lower_idx",
        "accounts_display_name_lower_idx",
    ] {
        assert!(users.contains(index), "{index}:\n{users}");
    }

    let filter = TokenFilter {
        hash_prefix: Some("abcdefgh".into()),
        ..Default::default()
    };
    let by_hash = plan(
        c,
        diesel::sql_query(format!("EXPLAIN {}", search_tokens_sql(&filter)))
            .into_boxed()
            .bind::<Nullable<Text>, _>(Some("abcdefgh%"))
            .bind::<Nullable<BigInt>, _>(None::<i64>)
            .bind::<Nullable<Text>, _>(None::<String>)
            .bind::<Timestamptz, _>(Utc::now())
            .bind::<Nullable<Timestamptz>, _>(None::<chrono::DateTime<Utc>>)
            .bind::<BigInt, _>(26)
            .bind::<BigInt, _>(0),
    );
    assert!(
        by_hash.contains("access_tokens_hash_pattern_idx"),
        "{by_hash}"
    );

    let filter = TokenFilter {
        client_id: Some(1001),
        expiry: ExpiryFilter::ExpiringWithin(7),
        ..Default::default()
    };
    let by_client = plan(
        c,
        diesel::sql_query(format!("EXPLAIN {}", search_tokens_sql(&filter)))
            .into_boxed()
            .bind::<Nullable<Text>, _>(None::<String>)
            .bind::<Nullable<BigInt>, _>(Some(1001i64))
            .bind::<Nullable<Text>, _>(None::<String>)
            .bind::<Timestamptz, _>(Utc::now())
            .bind::<Nullable<Timestamptz>, _>(Some(Utc::now() + Duration::days(7)))
            .bind::<BigInt, _>(26)
            .bind::<BigInt, _>(0),
    );
    // On the demo's few rows either (client_id, expires) or (expires) fits; never a scan.
    assert!(
        by_client.contains("access_tokens_client_idx")
            || by_client.contains("access_tokens_expires_idx"),
        "{by_client}"
    );
    assert!(!by_client.contains("Seq Scan"), "{by_client}");

    let filter = AuditFilter {
        actor: Some("sam".into()),
        ..Default::default()
    };
    let by_actor = plan(
        c,
        diesel::sql_query(format!("EXPLAIN {}", list_events_sql(&filter, None)))
            .into_boxed()
            .bind::<Nullable<Text>, _>(Some("sam"))
            .bind::<Nullable<Text>, _>(None::<String>)
            .bind::<Nullable<Text>, _>(None::<String>)
            .bind::<Nullable<BigInt>, _>(None::<i64>)
            .bind::<Nullable<Text>, _>(None::<String>)
            .bind::<Nullable<Timestamptz>, _>(None::<chrono::DateTime<Utc>>)
            .bind::<Nullable<Timestamptz>, _>(None::<chrono::DateTime<Utc>>)
            .bind::<Nullable<Timestamptz>, _>(None::<chrono::DateTime<Utc>>)
            .bind::<Nullable<BigInt>, _>(None::<i64>)
            .bind::<BigInt, _>(31)
            .bind::<BigInt, _>(0),
    );
    assert!(by_actor.contains("audit_events_actor_id_idx"), "{by_actor}");
}

#[actix_web::test]
async fn console_pages_cost_the_same_statements_for_a_light_and_a_heavy_user() {
    use tokendesk::seed::{seed_sized, SizedSeed};
    crate::sql_count::install();
    let t = TestApp::with_demo();
    seed_sized(
        &mut t.conn(),
        &SizedSeed {
            users: 1,
            clients: 50,
            apps_per_user: 1,
            tokens_per_app: 1,
            heavy_tokens_per_app: 200,
            expired_ratio: 0.1,
            seed: 1,
        },
    )
    .unwrap();
    let app = t.service().await;
    let mut sam = signed_in(&app, "sam").await;
    let pages = |subject: &str, client: i64| {
        vec![
            format!("/staff/users/{subject}"),
            format!("/staff/users/{subject}/apps/{client}"),
            format!("/staff/tokens?subject={subject}&expiry=expiring&days=30"),
            format!("/staff/audit?subject={subject}"),
        ]
    };
    let mut costs = Vec::new();
    for (subject, client) in [("carol", 1002), ("bench-heavy", 100001)] {
        let mut cost = Vec::new();
        for path in pages(subject, client) {
            let before = crate::sql_count::statements(&t.db.name);
            let page = sam.get(&app, &path).await;
            assert_eq!(page.status, 200, "{path}: {}", page.body);
            cost.push(crate::sql_count::statements(&t.db.name) - before);
        }
        costs.push(cost);
    }
    assert_eq!(costs[0], costs[1], "a heavy user costs no more statements");
    // The account check, then: account + apps; app + tokens + scopes + daily use; one search;
    // one page.
    assert_eq!(costs[0], vec![3, 5, 2, 2]);
}
