//! Sessions recorded in PostgreSQL: a sign-out, a "sign out everywhere", an account disabled or
//! changed end the affected sessions at once, for every copy of their cookie and on every
//! instance; the time-outs are judged from the record; a signed-in page still costs one
//! statement for the session and the account together.

use actix_web::dev::{Service, ServiceResponse};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use tokendesk::config::Config;
use tokendesk::db::schema::{accounts, sessions};
use tokendesk::AppState;

use crate::harness::TestApp;
use crate::pages_client::{Reply, Visitor};
use crate::{fixtures, sql_count};

/// A visitor using a copy of `v`'s cookie, as someone who took it would.
fn copy_of(v: &Visitor) -> Visitor {
    Visitor {
        cookie: v.cookie.clone(),
        peer: "203.0.113.9:4000".parse().unwrap(),
        headers: Vec::new(),
    }
}

async fn signed_in<S, B>(app: &S, login: &str, password: &str, addr: &str) -> Visitor
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let mut v = Visitor::from_address(addr);
    let res = v.sign_in(app, login, password).await;
    assert_eq!(res.status, 303, "{}", res.body);
    v
}

fn assert_see_other(res: &Reply, location: &str) {
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.location.as_deref(), Some(location));
}

/// Live (not ended) session rows of `login`.
fn live_sessions(conn: &mut PgConnection, login: &str) -> i64 {
    sessions::table
        .inner_join(accounts::table)
        .filter(accounts::login.eq(login))
        .filter(sessions::ended_at.is_null())
        .count()
        .get_result(conn)
        .unwrap()
}

#[actix_web::test]
async fn a_cookie_copied_before_sign_out_no_longer_opens_pages() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = signed_in(&app, "alice", "demo-alice", "127.0.0.1:40000").await;
    let mut stolen = copy_of(&v);
    assert_eq!(stolen.get(&app, "/apps").await.status, 200);

    assert_eq!(v.submit(&app, "/apps", "/logout", &[]).await.status, 303);
    assert_see_other(
        &stolen.get(&app, "/apps").await,
        "/login?next=%2Fapps&expired=1",
    );
    let (ended, reason): (Option<chrono::DateTime<chrono::Utc>>, Option<String>) = sessions::table
        .select((sessions::ended_at, sessions::end_reason))
        .first(&mut t.conn())
        .unwrap();
    assert!(ended.is_some());
    assert_eq!(reason.as_deref(), Some("signed_out"));
}

#[actix_web::test]
async fn the_stored_record_knows_the_session_only_by_the_hash_of_its_id() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let v = signed_in(&app, "alice", "demo-alice", "127.0.0.1:40000").await;
    let hashes: Vec<String> = sessions::table
        .select(sessions::id_hash)
        .load(&mut t.conn())
        .unwrap();
    assert_eq!(hashes.len(), 1);
    assert!(tokendesk::crypto::looks_like_hash(&hashes[0]));
    // The cookie is encrypted, so its text shows neither the id nor its hash.
    assert!(!v.cookie.unwrap().contains(&hashes[0]));
    // A second sign-in gets a session of its own, with another id.
    signed_in(&app, "alice", "demo-alice", "127.0.0.2:40000").await;
    assert_eq!(live_sessions(&mut t.conn(), "alice"), 2);
}

#[actix_web::test]
async fn signing_out_everywhere_ends_the_other_browsers_and_renews_this_one() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut here = signed_in(&app, "alice", "demo-alice", "127.0.0.1:40000").await;
    let mut phone = signed_in(&app, "alice", "demo-alice", "198.51.100.4:5000").await;
    let mut bob = signed_in(&app, "bob", "demo-bob", "127.0.0.3:40000").await;
    let mut copy_of_here = copy_of(&here);

    let page = here.get(&app, "/activity").await;
    assert!(
        page.body.contains("action=\"/logout/everywhere\""),
        "{}",
        page.body
    );
    let res = here
        .submit(&app, "/activity", "/logout/everywhere", &[])
        .await;
    assert_see_other(&res, "/activity");

    let page = here.get(&app, "/activity").await;
    assert_eq!(page.status, 200, "this browser stays signed in");
    assert!(
        page.body.contains(
            "Signed out of <em>1 other session</em>. You stay signed in here, with a new session."
        ),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("You signed out everywhere else: <em>1 other session</em> ended."),
        "{}",
        page.body
    );
    // The other browser, and a copy of this browser's cookie taken before, are signed out.
    assert_see_other(
        &phone.get(&app, "/apps").await,
        "/login?next=%2Fapps&expired=1",
    );
    assert_see_other(
        &copy_of_here.get(&app, "/apps").await,
        "/login?next=%2Fapps&expired=1",
    );
    assert_eq!(
        bob.get(&app, "/apps").await.status,
        200,
        "others keep theirs"
    );

    let mut conn = t.conn();
    assert_eq!(live_sessions(&mut conn, "alice"), 1);
    let events = fixtures::events(&mut conn, "session.end_all");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor_kind, "user");
    assert_eq!(events[0].actor_id, "alice");
    assert_eq!(events[0].subject.as_deref(), Some("alice"));
    assert_eq!(events[0].affected_count, Some(1));

    // Alone now: nothing else to end, and the page says so.
    let res = here
        .submit(&app, "/logout", "/logout/everywhere", &[])
        .await;
    assert_eq!(res.status, 303);
    let page = here.get(&app, "/activity").await;
    assert!(
        page.body.contains("No other session was open."),
        "{}",
        page.body
    );
}

#[actix_web::test]
async fn signing_out_everywhere_needs_the_form() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut here = signed_in(&app, "alice", "demo-alice", "127.0.0.1:40000").await;
    let mut phone = signed_in(&app, "alice", "demo-alice", "198.51.100.4:5000").await;
    let res = here
        .post(&app, "/logout/everywhere", &[("csrf", "forged")])
        .await;
    assert_eq!(res.status, 403);
    assert_eq!(phone.get(&app, "/apps").await.status, 200);
    assert!(fixtures::events(&mut t.conn(), "session.end_all").is_empty());
}

#[actix_web::test]
async fn disabling_an_account_in_the_database_ends_its_sessions_for_good() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = signed_in(&app, "carol", "demo-carol", "127.0.0.1:40000").await;
    let mut copy = copy_of(&v);
    let mut conn = t.conn();
    conn.batch_execute("UPDATE accounts SET disabled = true WHERE login = 'carol'")
        .unwrap();
    assert_eq!(live_sessions(&mut conn, "carol"), 0);
    assert_see_other(&v.get(&app, "/apps").await, "/login?next=%2Fapps&expired=1");
    // Enabled again, the old sessions stay ended: only a new sign-in opens pages.
    conn.batch_execute("UPDATE accounts SET disabled = false WHERE login = 'carol'")
        .unwrap();
    assert_eq!(copy.get(&app, "/apps").await.status, 303);
    let mut again = signed_in(&app, "carol", "demo-carol", "127.0.0.1:40000").await;
    assert_eq!(again.get(&app, "/apps").await.status, 200);
}

#[actix_web::test]
async fn a_role_or_password_changed_in_the_database_ends_the_sessions() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut sam = signed_in(&app, "sam", "demo-support", "127.0.0.1:40000").await;
    let mut alice = signed_in(&app, "alice", "demo-alice", "127.0.0.2:40000").await;
    let mut conn = t.conn();
    conn.batch_execute("UPDATE accounts SET role = 'user' WHERE login = 'sam'")
        .unwrap();
    assert_eq!(sam.get(&app, "/staff/users").await.status, 303);
    let hash = tokendesk::accounts::hash_password("a-new-password").unwrap();
    diesel::update(accounts::table.filter(accounts::login.eq("alice")))
        .set(accounts::password_hash.eq(hash))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(alice.get(&app, "/apps").await.status, 303);
    // A change that is none of these (the display name) leaves sessions alone.
    let mut bob = signed_in(&app, "bob", "demo-bob", "127.0.0.3:40000").await;
    conn.batch_execute("UPDATE accounts SET display_name = 'Robert' WHERE login = 'bob'")
        .unwrap();
    let page = bob.get(&app, "/apps").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Robert"),
        "the account is read per request"
    );
}

#[actix_web::test]
async fn two_instances_over_one_database_see_an_ending_at_once() {
    let t = TestApp::with_demo();
    // A second instance: its own pool, the same database and the same cookie key, as behind a
    // load balancer.
    let other = AppState::new(
        tokendesk::db::connect(&t.db.url, 2).unwrap(),
        Config {
            session: t.state.config.session.clone(),
            ..Config::for_tests()
        },
    )
    .unwrap();
    let one = t.service().await;
    let two = actix_web::test::init_service(tokendesk::app(other)).await;

    let mut v = signed_in(&one, "alice", "demo-alice", "127.0.0.1:40000").await;
    let mut w = signed_in(&two, "alice", "demo-alice", "127.0.0.2:40000").await;
    let mut copy = copy_of(&v);
    assert_eq!(
        v.get(&two, "/apps").await.status,
        200,
        "a session works on both"
    );
    assert_eq!(w.get(&one, "/apps").await.status, 200);

    // Signed out on instance two, the copy is refused by instance one at once.
    assert_eq!(v.submit(&two, "/apps", "/logout", &[]).await.status, 303);
    assert_eq!(copy.get(&one, "/apps").await.status, 303);
    assert_eq!(copy.get(&two, "/apps").await.status, 303);
    assert_eq!(
        w.get(&one, "/apps").await.status,
        200,
        "only that session ended"
    );

    // Signing out everywhere on instance one ends the session used on instance two.
    let mut x = signed_in(&two, "alice", "demo-alice", "127.0.0.3:40000").await;
    assert_eq!(
        w.submit(&one, "/activity", "/logout/everywhere", &[])
            .await
            .status,
        303
    );
    assert_eq!(x.get(&two, "/apps").await.status, 303);
    assert_eq!(w.get(&two, "/apps").await.status, 200, "renewed on both");
}

#[actix_web::test]
async fn the_time_outs_are_judged_from_the_record() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut idle = signed_in(&app, "alice", "demo-alice", "127.0.0.1:40000").await;
    let mut old = signed_in(&app, "bob", "demo-bob", "127.0.0.2:40000").await;
    let mut conn = t.conn();
    // Defaults: 30 minutes idle, 12 hours in all.
    conn.batch_execute(
        "UPDATE sessions SET last_seen_at = now() - interval '31 minutes'
         WHERE account_id = (SELECT id FROM accounts WHERE login = 'alice');
         UPDATE sessions SET created_at = now() - interval '12 hours 1 minute'
         WHERE account_id = (SELECT id FROM accounts WHERE login = 'bob')",
    )
    .unwrap();
    assert_see_other(
        &idle.get(&app, "/activity").await,
        "/login?next=%2Factivity&expired=1",
    );
    assert_see_other(
        &old.get(&app, "/apps").await,
        "/login?next=%2Fapps&expired=1",
    );
    // 29 minutes idle is still signed in.
    let mut fresh = signed_in(&app, "carol", "demo-carol", "127.0.0.3:40000").await;
    conn.batch_execute("UPDATE sessions SET last_seen_at = now() - interval '29 minutes'")
        .unwrap();
    assert_eq!(fresh.get(&app, "/apps").await.status, 200);
}

#[actix_web::test]
async fn last_seen_is_written_at_most_once_a_minute() {
    sql_count::install();
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = signed_in(&app, "alice", "demo-alice", "127.0.0.1:40000").await;
    let mut conn = t.conn();
    let seen = |conn: &mut PgConnection| -> chrono::DateTime<chrono::Utc> {
        sessions::table
            .select(sessions::last_seen_at)
            .first(conn)
            .unwrap()
    };
    let first = seen(&mut conn);
    let cost = |before: u64| sql_count::statements(&t.db.name) - before;
    for _ in 0..3 {
        let before = sql_count::statements(&t.db.name);
        assert_eq!(v.get(&app, "/activity").await.status, 200);
        assert_eq!(cost(before), 2, "the session with the account, the page");
    }
    assert_eq!(seen(&mut conn), first, "no write within the minute");

    conn.batch_execute("UPDATE sessions SET last_seen_at = now() - interval '61 seconds'")
        .unwrap();
    let before = sql_count::statements(&t.db.name);
    assert_eq!(v.get(&app, "/activity").await.status, 200);
    assert_eq!(cost(before), 3, "one write once the minute is over");
    let touched = seen(&mut conn);
    assert!(chrono::Utc::now() - touched < chrono::Duration::seconds(10));
}

#[actix_web::test]
async fn a_signed_in_page_reads_its_session_and_account_in_one_statement() {
    sql_count::install();
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = signed_in(&app, "alice", "demo-alice", "127.0.0.1:40000").await;
    let first = sql_count::texts(&t.db.name).len();
    assert_eq!(v.get(&app, "/apps").await.status, 200);
    let statements = sql_count::texts(&t.db.name).split_off(first);
    assert_eq!(statements.len(), 2, "{statements:#?}");
    let reads_session = |s: &&String| s.contains("\"sessions\"");
    let session_reads: Vec<&String> = statements.iter().filter(reads_session).collect();
    assert_eq!(session_reads.len(), 1, "{statements:#?}");
    assert!(
        session_reads[0].contains("INNER JOIN \"accounts\""),
        "{}",
        session_reads[0]
    );
    assert!(
        !statements
            .iter()
            .any(|s| !reads_session(&s) && s.contains("FROM \"accounts\"")),
        "no separate account read: {statements:#?}"
    );
}

#[actix_web::test]
async fn signing_in_again_ends_the_session_the_browser_had() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = signed_in(&app, "alice", "demo-alice", "127.0.0.1:40000").await;
    let mut copy = copy_of(&v);
    assert_eq!(v.sign_in(&app, "bob", "demo-bob").await.status, 303);
    assert_eq!(copy.get(&app, "/apps").await.status, 303);
    assert_eq!(live_sessions(&mut t.conn(), "alice"), 0);
    assert_eq!(live_sessions(&mut t.conn(), "bob"), 1);
}

#[actix_web::test]
async fn a_page_sends_the_cookie_back_only_when_the_session_changed() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = signed_in(&app, "alice", "demo-alice", "127.0.0.1:40000").await;
    let sets_cookie = |r: &Reply| r.headers.contains_key(actix_web::http::header::SET_COOKIE);
    let _ = v.get(&app, "/apps").await;
    let page = v.get(&app, "/apps").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!sets_cookie(&page), "{:?}", page.headers);
    // A flash message is taken out of the session by the page that shows it: that page sends
    // the changed cookie, the next one nothing.
    let res = v.submit(&app, "/activity", "/logout/everywhere", &[]).await;
    assert_see_other(&res, "/activity");
    let shown = v.get(&app, "/activity").await;
    assert!(
        shown.body.contains("You stay signed in here"),
        "{}",
        shown.body
    );
    assert!(sets_cookie(&shown), "{:?}", shown.headers);
    let next = v.get(&app, "/activity").await;
    assert!(
        !next.body.contains("You stay signed in here"),
        "{}",
        next.body
    );
    assert!(!sets_cookie(&next), "{:?}", next.headers);
}
