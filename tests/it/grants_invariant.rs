//! Grants stay equal to what their tokens say after every kind of change, from every door: a
//! randomized sequence through the JSON API, the user's pages, the support console's domain
//! calls, the sweep, the seed and direct inserts; the same from several threads at once; and
//! the migration's backfill. After each, `grants_check` rebuilds the summary from the tokens,
//! and the token directory is compared with the tokens' hashes (`token_directory`).

use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokendesk::accounts::{create_account, AccountInput};
use tokendesk::audit::{Actor, ActorKind};
use tokendesk::db::models::Role;
use tokendesk::error::AppError;
use tokendesk::grants::{self, LimitChange};
use tokendesk::tokens::{self, NewToken, RevokeTarget, ScopeMode, TokenRef, TokenUpdate};

use crate::api_client::{app_with_key, post_json, request, send};
use crate::fixtures::{self, actor, Tok, JOURNAL, PRINTER};
use crate::grants_check::assert_grants_match_tokens;
use crate::harness::{TestApp, TestDb};
use crate::pages_client::Visitor;
use crate::token_directory::assert_directory_matches_tokens;

const SUBJECTS: [&str; 3] = ["ann", "ben", "cy"];
const CLIENTS: [i64; 2] = [PRINTER, JOURNAL];
const SCOPES: [&str; 4] = ["read", "write", "profile", "payments"];

fn some_scopes(rng: &mut StdRng) -> Vec<&'static str> {
    let mut picked: Vec<&str> = SCOPES
        .iter()
        .copied()
        .filter(|_| rng.random_bool(0.5))
        .collect();
    if picked.is_empty() {
        picked.push("read");
    }
    picked
}

fn account(conn: &mut PgConnection, login: &str, role: Role) {
    create_account(
        conn,
        &AccountInput {
            login: login.into(),
            subject: login.into(),
            display_name: login.into(),
            role,
            password: "a-long-password".into(),
        },
        &Actor::system("test"),
    )
    .expect("account");
}

/// An id and value of a random live-or-not token of the table (any subject).
fn any_token(
    conn: &mut PgConnection,
    rng: &mut StdRng,
) -> Option<(i64, String, Option<String>, i64)> {
    use tokendesk::db::schema::access_tokens as t;
    let rows: Vec<(i64, String, Option<String>, i64)> = t::table
        .select((t::id, t::access_token_hash, t::subject, t::client_id))
        .load(conn)
        .expect("tokens");
    (!rows.is_empty()).then(|| rows[rng.random_range(0..rows.len())].clone())
}

#[actix_web::test]
async fn random_changes_from_every_door_keep_grants_equal_to_their_tokens() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    account(c, "ann", Role::User);
    account(c, "sam", Role::Support);
    let app = t.service().await;
    let mut ann = Visitor::new();
    assert_eq!(
        ann.sign_in(&app, "ann", "a-long-password").await.status,
        303
    );
    let staff = actor(ActorKind::Support, "sam");
    let mut rng = StdRng::seed_from_u64(9);
    let mut values: Vec<String> = Vec::new();
    let mut compared = 0;

    for step in 0..220 {
        let subject = SUBJECTS[rng.random_range(0..SUBJECTS.len())];
        let client = CLIENTS[rng.random_range(0..CLIENTS.len())];
        let scopes = some_scopes(&mut rng);
        match rng.random_range(0..16) {
            0..=3 => {
                // API: a new token; some short-lived, some without refresh token.
                let grant = ["AUTHORIZATION_CODE", "IMPLICIT", "CLIENT_CREDENTIALS"]
                    [rng.random_range(0..3)];
                let scopes: Vec<&str> = if client == JOURNAL {
                    scopes
                        .into_iter()
                        .filter(|s| ["read", "write"].contains(s))
                        .collect()
                } else {
                    scopes
                };
                let access = [1, 2, 3600][rng.random_range(0..3)];
                let refresh = [2, 86400][rng.random_range(0..2)];
                let a = send(
                    &app,
                    post_json(
                        "/api/auth/token/create",
                        &auth,
                        &json!({
                            "grantType": grant, "clientId": client,
                            "subject": (grant != "CLIENT_CREDENTIALS").then_some(subject),
                            "scopes": scopes,
                            "accessTokenDuration": access,
                            "refreshTokenDuration": refresh,
                        }),
                    ),
                )
                .await;
                assert_eq!(a.status, 200, "{:?}", a.body);
                if let Some(v) = a.body["accessToken"].as_str() {
                    values.push(v.to_string());
                }
            }
            4 | 5 if !values.is_empty() => {
                // API: one token's scopes and expiry, sometimes a new value.
                let i = rng.random_range(0..values.len());
                let rotate = rng.random_bool(0.2);
                let a = send(
                    &app,
                    post_json(
                        "/api/auth/token/update",
                        &auth,
                        &json!({
                            "accessToken": values[i], "scopes": scopes,
                            "accessTokenExpiresAt": (Utc::now()
                                + Duration::seconds(rng.random_range(1..7200)))
                                .timestamp_millis(),
                            "accessTokenValueUpdated": rotate,
                        }),
                    ),
                )
                .await;
                assert_eq!(a.status, 200, "{:?}", a.body);
                if let (true, Some(v)) = (rotate, a.body["accessToken"].as_str()) {
                    values[i] = v.to_string();
                }
            }
            6 => {
                let a = send(
                    &app,
                    post_json(
                        &format!("/api/client/authorization/update/{client}"),
                        &auth,
                        &json!({"subject": subject, "scopes": scopes}),
                    ),
                )
                .await;
                assert!([200, 404].contains(&a.status), "{:?}", a.body);
            }
            7 => {
                let target = match rng.random_range(0..4) {
                    0 => json!({"clientIdentifier": client.to_string(), "subject": subject}),
                    1 => json!({"subject": subject}),
                    2 if !values.is_empty() => {
                        json!({"accessTokenIdentifier": values[rng.random_range(0..values.len())]})
                    }
                    _ => json!({"clientIdentifier": client.to_string()}),
                };
                let a = send(&app, post_json("/api/auth/token/revoke", &auth, &target)).await;
                assert_eq!(a.status, 200, "{:?}", a.body);
            }
            8 if !values.is_empty() => {
                let v = &values[rng.random_range(0..values.len())];
                let a = send(
                    &app,
                    request(
                        actix_web::http::Method::DELETE,
                        &format!("/api/auth/token/delete/{v}"),
                        &auth,
                    ),
                )
                .await;
                assert!([204, 404].contains(&a.status));
            }
            9 if !values.is_empty() => {
                let v = &values[rng.random_range(0..values.len())];
                let a = send(
                    &app,
                    post_json(
                        "/api/auth/introspection",
                        &auth,
                        &json!({"token": v, "scopes": ["read"]}),
                    ),
                )
                .await;
                assert_eq!(a.status, 200);
            }
            10 => {
                // ann's pages: the permissions form, one token's revocation, a time limit.
                let page = format!("/apps/{client}");
                let shown = ann.get(&app, &page).await;
                if shown.status != 200 {
                    continue;
                }
                let fields: Vec<(&str, &str)> = match rng.random_range(0..3) {
                    0 => scopes.iter().map(|s| ("scopes", *s)).collect(),
                    1 => vec![("until", ["7", "30", "90", "none"][rng.random_range(0..4)])],
                    _ => Vec::new(),
                };
                let action = match fields.first() {
                    Some(("scopes", _)) => format!("{page}/scopes"),
                    Some(_) => format!("{page}/limit"),
                    None => {
                        let marker = "/tokens/";
                        let Some(at) = shown.body.find(&format!("{page}{marker}")) else {
                            continue;
                        };
                        let rest = &shown.body[at + page.len() + marker.len()..];
                        let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
                        format!("{page}/tokens/{id}/revoke")
                    }
                };
                let mut all = vec![("csrf", shown.csrf())];
                all.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
                let sent: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let answer = ann.post(&app, &action, &sent).await;
                assert!(
                    [303, 422].contains(&answer.status),
                    "{action}: {}",
                    answer.body
                );
            }
            11 => {
                // Support: a token's expiry, or "expire now"; a pair's scopes.
                if let Some((id, _, Some(_), _)) = any_token(c, &mut rng) {
                    let changes = if rng.random_bool(0.5) {
                        TokenUpdate {
                            expire_now: true,
                            reason: Some("user asked".into()),
                            ..Default::default()
                        }
                    } else {
                        TokenUpdate {
                            access_token_expires_at: Some(
                                Utc::now() + Duration::hours(rng.random_range(1..48)),
                            ),
                            reason: Some("user asked".into()),
                            ..Default::default()
                        }
                    };
                    expect_domain(tokens::update_token(c, TokenRef::Id(id), changes, &staff));
                }
            }
            12 => {
                let change = if rng.random_bool(0.3) {
                    LimitChange::Lift
                } else {
                    LimitChange::Until(Utc::now() + Duration::seconds(rng.random_range(1..600)))
                };
                expect_domain(grants::set_limit(
                    c,
                    subject,
                    client,
                    change,
                    &staff,
                    Some("ticket 42"),
                    Utc::now(),
                ));
            }
            13 => {
                expect_domain(tokens::update_pair_scopes(
                    c,
                    client,
                    subject,
                    &fixtures::strings(&scopes),
                    ScopeMode::Set,
                    &staff,
                    Some("ticket 7"),
                ));
            }
            14 => {
                // The sweep (CLI), of what expired a moment ago.
                tokens::sweep_expired(c, Duration::zero(), &Actor::system("sweep")).unwrap();
            }
            _ => {
                // Tokens from a migration: inserted directly, with their grant brought up to
                // date.
                let name: &'static str = Box::leak(format!("mig-{step}").into_boxed_str());
                let scopes: &'static [&'static str] = Box::leak(scopes.into_boxed_slice());
                let scopes: &'static [&'static str] =
                    if client == JOURNAL { &["read"] } else { scopes };
                Tok::new(name, client, subject, scopes)
                    .expires_in(rng.random_range(-100..100))
                    .refresh_in(rng.random_bool(0.5).then(|| rng.random_range(-50..200)))
                    .insert(c);
            }
        }
        if step % 20 == 19 {
            compared = assert_grants_match_tokens(c);
            assert_directory_matches_tokens(c);
        }
        if step == 100 {
            // The bulk loader.
            tokendesk::seed::seed_sized(
                c,
                &tokendesk::seed::SizedSeed {
                    users: 3,
                    clients: 2,
                    apps_per_user: 2,
                    tokens_per_app: 3,
                    heavy_tokens_per_app: 0,
                    expired_ratio: 0.3,
                    seed: 5,
                },
            )
            .unwrap();
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let end = assert_grants_match_tokens(c);
    assert_directory_matches_tokens(c);
    assert!(
        compared > 3 && end > 3,
        "the sequence made grants ({compared}, {end})"
    );
}

/// A refusal the rules allow (the pair is gone, a limit in the past, a spent token); anything
/// else (a failed statement, a broken constraint) fails the test.
fn expect_domain<T>(r: Result<T, AppError>) {
    match r {
        Ok(_)
        | Err(AppError::NotFound)
        | Err(AppError::Invalid(_))
        | Err(AppError::Expired(_))
        | Err(AppError::Conflict(_))
        | Err(AppError::Forbidden) => {}
        Err(e) => panic!("unexpected failure: {e:?}"),
    }
}

#[test]
fn concurrent_changes_to_the_same_pairs_keep_grants_equal_to_their_tokens() {
    let t = TestApp::new();
    fixtures::catalog(&mut t.conn());
    // Long-expired tokens of the same pairs, for a sweep in small batches beside the changes.
    for subject in &SUBJECTS[..2] {
        for i in 0..30 {
            let name: &'static str = Box::leak(format!("old-{subject}-{i}").into_boxed_str());
            Tok::new(name, PRINTER, subject, &["read", "write"])
                .expires_in(-7200 - i)
                .refresh_in((i % 3 == 0).then_some(-7200))
                .insert(&mut t.conn());
        }
    }
    let url = t.db.url.clone();
    let sweeper = std::thread::spawn(move || {
        let c = &mut tokendesk::db::connect_one(&url).expect("connection");
        let mut swept = 0;
        for _ in 0..15 {
            swept += tokens::sweep_expired_with_progress(
                c,
                Duration::zero(),
                &Actor::system("sweep"),
                &mut tokens::BatchSizer::fixed(3),
                &mut |_| {},
            )
            .expect("sweep")
            .deleted;
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        swept
    });
    let threads: Vec<_> = (0..4u64)
        .map(|n| {
            let url = t.db.url.clone();
            std::thread::spawn(move || {
                let c = &mut tokendesk::db::connect_one(&url).expect("connection");
                let mut rng = StdRng::seed_from_u64(100 + n);
                let api = actor(ActorKind::Api, "as");
                let user = |s: &str| actor(ActorKind::User, s);
                let usage = grants::UsageCounter::new();
                let mut values: Vec<String> = Vec::new();
                for _ in 0..40 {
                    let subject = SUBJECTS[rng.random_range(0..2)];
                    let client = PRINTER;
                    let scopes = fixtures::strings(&some_scopes(&mut rng));
                    match rng.random_range(0..8) {
                        0 | 1 => {
                            let created = tokens::create_token(
                                c,
                                NewToken {
                                    grant_type: "AUTHORIZATION_CODE".into(),
                                    client: client.to_string(),
                                    subject: Some(subject.into()),
                                    scopes,
                                    access_token_duration: Some(rng.random_range(1..4000)),
                                    ..Default::default()
                                },
                                &api,
                            );
                            if let Ok(t) = &created {
                                values.push(t.access_token.clone());
                            }
                            expect_domain(created);
                        }
                        2 => expect_domain(tokens::update_pair_scopes(
                            c,
                            client,
                            subject,
                            &scopes,
                            ScopeMode::Narrow,
                            &user(subject),
                            None,
                        )),
                        3 => expect_domain(tokens::update_pair_scopes(
                            c,
                            client,
                            subject,
                            &scopes,
                            ScopeMode::Set,
                            &api,
                            None,
                        )),
                        4 => {
                            if let Some((_, hash, Some(s), _)) = any_token(c, &mut rng) {
                                expect_domain(tokens::revoke_token(
                                    c,
                                    &hash,
                                    Some(&s),
                                    &user(&s),
                                    None,
                                ));
                            }
                        }
                        5 => {
                            if let Some((id, hash, _, _)) = any_token(c, &mut rng) {
                                let changes = TokenUpdate {
                                    scopes: Some(scopes),
                                    access_token_expires_at: Some(
                                        Utc::now() + Duration::seconds(rng.random_range(1..4000)),
                                    ),
                                    ..Default::default()
                                };
                                let target = if rng.random_bool(0.5) {
                                    TokenRef::Id(id)
                                } else {
                                    TokenRef::Hash(hash)
                                };
                                expect_domain(tokens::update_token(c, target, changes, &api));
                            }
                        }
                        6 => expect_domain(grants::set_limit(
                            c,
                            subject,
                            client,
                            LimitChange::Until(
                                Utc::now() + Duration::seconds(rng.random_range(60..4000)),
                            ),
                            &user(subject),
                            None,
                            Utc::now(),
                        )),
                        _ if rng.random_bool(0.3) => expect_domain(tokens::revoke_tokens(
                            c,
                            &RevokeTarget::Pair {
                                client_id: client,
                                subject: subject.into(),
                            },
                            &api,
                            None,
                        )),
                        _ if !values.is_empty() => {
                            // Introspection writes last_used_at and "last needed" beside every
                            // change.
                            let token = values[rng.random_range(0..values.len())].clone();
                            expect_domain(tokens::introspect_at(
                                c,
                                &tokens::IntrospectionRequest {
                                    token,
                                    scopes: Some(vec!["read".into(), "write".into()]),
                                    subject: None,
                                },
                                Utc::now() + Duration::minutes(rng.random_range(0..5)),
                                Some(&usage),
                            ));
                        }
                        _ => {}
                    }
                }
            })
        })
        .collect();
    for th in threads {
        th.join().expect("a worker failed");
    }
    sweeper.join().expect("the sweeper failed");
    let c = &mut t.conn();
    assert_grants_match_tokens(c);
    assert_directory_matches_tokens(c);
    // What the sweeps left (grants busy when their batch came) goes with the next one.
    tokens::sweep_expired(c, Duration::zero(), &Actor::system("sweep")).expect("last sweep");
    assert_eq!(
        tokens::count_sweepable(c, Duration::hours(1)).expect("count"),
        0
    );
    assert_grants_match_tokens(c);
    assert_directory_matches_tokens(c);
}

#[test]
fn the_migration_backfills_grants_from_the_tokens_already_there() {
    let db = TestDb::new();
    let c = &mut db.conn();
    fixtures::catalog(c);
    for (name, client, subject, scopes, expires, refresh) in [
        (
            "b1",
            PRINTER,
            "ann",
            &["read", "write"][..],
            3600,
            Some(7200),
        ),
        ("b2", PRINTER, "ann", &["read"][..], -60, None),
        ("b3", JOURNAL, "ann", &["write"][..], -60, Some(600)),
        ("b4", PRINTER, "ben", &["payments"][..], -3600, Some(-60)),
    ] {
        Tok::new(name, client, subject, scopes)
            .expires_in(expires)
            .refresh_in(refresh)
            .insert(c);
    }
    diesel::sql_query("UPDATE access_tokens SET last_used_at = now() - interval '1 hour' WHERE refresh_token_hash IS NOT NULL")
        .execute(c)
        .unwrap();
    // Back to the schema before grants existed (its tables dropped), then forward again.
    let migrations = diesel::migration::MigrationSource::<diesel::pg::Pg>::migrations(
        &tokendesk::db::MIGRATIONS,
    )
    .expect("migrations");
    let mine = migrations
        .iter()
        .find(|m| m.name().to_string().ends_with("_grants"))
        .expect("the grants migration");
    c.revert_migration(mine.as_ref()).expect("revert");
    let exists: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
        "to_regclass('grants') IS NOT NULL",
    ))
    .get_result(c)
    .unwrap();
    assert!(!exists);
    c.run_migration(mine.as_ref()).expect("migrate again");
    assert_eq!(assert_grants_match_tokens(c), 3);
}
