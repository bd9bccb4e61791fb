//! Sign-in throttling under attack: parallel guesses against a real server get no more
//! password checks than the policy allows, a guesser at one address does not lock the real
//! user out elsewhere, and an attack on one login from many addresses slows it down without
//! keeping the real user out from an address they signed in from before.

use diesel::prelude::*;
use futures_util::future::join_all;
use tokendesk::db::schema::sign_in_throttle;
use tokendesk::throttle::{ADDRESS_LIMIT, LOGIN_FREE, PAIR_LIMIT};

use crate::harness::TestApp;
use crate::pages_client::Visitor;
use crate::parallel_http::{client, post_sign_in, sign_in_form};

/// Statuses of `replies`, counted: (303 signed in, 401 checked and wrong, 429 refused, other).
fn tally(statuses: &[u16]) -> (usize, usize, usize, usize) {
    let count = |s: u16| statuses.iter().filter(|x| **x == s).count();
    let other = statuses
        .iter()
        .filter(|s| ![303, 401, 429].contains(*s))
        .count();
    (count(303), count(401), count(429), other)
}

/// Fires one sign-in per password, all at once, each with its own session and CSRF token.
async fn parallel_sign_ins(base: &str, login: &str, passwords: &[&str]) -> Vec<u16> {
    let http = client();
    let forms = join_all(passwords.iter().map(|_| sign_in_form(&http, base))).await;
    let replies = join_all(
        forms
            .iter()
            .zip(passwords)
            .map(|(form, password)| post_sign_in(&http, base, form, login, password, &[])),
    )
    .await;
    replies.iter().map(|r| r.status).collect()
}

#[actix_web::test]
async fn a_hundred_parallel_guesses_get_exactly_the_pair_limit_of_password_checks() {
    let t = TestApp::with_demo();
    let base = t.spawn_server();
    let wrong: Vec<String> = (0..100).map(|i| format!("guess-{i}")).collect();
    let wrong: Vec<&str> = wrong.iter().map(String::as_str).collect();

    let statuses = parallel_sign_ins(&base, "bob", &wrong).await;

    let (signed_in, checked, refused, other) = tally(&statuses);
    assert_eq!(
        t.state.metrics.password_checks(),
        PAIR_LIMIT as u64,
        "argon2 ran once per allowed check, whatever the concurrency"
    );
    assert_eq!(
        (signed_in, checked, refused, other),
        (0, PAIR_LIMIT as usize, 100 - PAIR_LIMIT as usize, 0)
    );
    let attempts: i32 = sign_in_throttle::table
        .filter(sign_in_throttle::kind.eq("pair"))
        .select(sign_in_throttle::attempts)
        .first(&mut t.conn())
        .unwrap();
    assert_eq!(attempts, PAIR_LIMIT, "refused attempts are not counted");
}

#[actix_web::test]
async fn the_right_password_among_thirty_wrong_ones_does_not_sign_in_past_the_limit() {
    let t = TestApp::with_demo();
    let base = t.spawn_server();
    let first: Vec<&str> = vec!["wrong"; PAIR_LIMIT as usize];
    let (_, checked, _, _) = tally(&parallel_sign_ins(&base, "bob", &first).await);
    assert_eq!(checked, PAIR_LIMIT as usize);

    let mut burst: Vec<&str> = vec!["wrong"; 30];
    burst.insert(17, "demo-bob");
    let statuses = parallel_sign_ins(&base, "bob", &burst).await;

    assert_eq!(tally(&statuses), (0, 0, 31, 0), "{statuses:?}");
    assert_eq!(t.state.metrics.password_checks(), PAIR_LIMIT as u64);
}

#[actix_web::test]
async fn a_refusal_says_how_long_to_wait_and_gives_retry_after() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = Visitor::from_address("198.51.100.4:5000");
    for _ in 0..PAIR_LIMIT {
        assert_eq!(v.sign_in(&app, "bob", "guess").await.status, 401);
    }
    let res = v.sign_in(&app, "Bob", "demo-bob").await;
    assert_eq!(res.status, 429, "{}", res.body);
    assert!(
        res.body
            .contains("Too many failed sign-ins for this login from your network. Wait 15 minutes"),
        "{}",
        res.body
    );
    let retry: i64 = res
        .headers
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((800..=900).contains(&retry), "{retry}");
}

#[actix_web::test]
async fn guesses_from_one_address_do_not_lock_the_real_user_out_from_another() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut attacker = Visitor::from_address("203.0.113.66:5000");
    for _ in 0..PAIR_LIMIT {
        assert_eq!(attacker.sign_in(&app, "bob", "guess").await.status, 401);
    }
    assert_eq!(attacker.sign_in(&app, "bob", "demo-bob").await.status, 429);
    let mut bob = Visitor::from_address("192.0.2.10:5000");
    assert_eq!(bob.sign_in(&app, "bob", "demo-bob").await.status, 303);
    // The attacker is still refused: bob's success cleared only bob's own pair.
    let mut again = Visitor::from_address("203.0.113.66:5001");
    assert_eq!(again.sign_in(&app, "bob", "guess").await.status, 429);
}

#[actix_web::test]
async fn an_attack_from_many_addresses_slows_the_login_down_but_spares_a_known_address() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    // Alice signed in from home before.
    let mut home = Visitor::from_address("192.0.2.20:5000");
    assert_eq!(home.sign_in(&app, "alice", "demo-alice").await.status, 303);

    for i in 0..LOGIN_FREE {
        let mut bot = Visitor::from_address(&format!("10.7.0.{i}:5000"));
        assert_eq!(bot.sign_in(&app, "alice", "guess").await.status, 401, "{i}");
    }
    // Past the ceiling, checks of this login are spaced out, for every new address...
    let mut bot = Visitor::from_address("10.7.1.1:5000");
    let res = bot.sign_in(&app, "alice", "guess").await;
    assert_eq!(res.status, 429);
    assert!(res.body.contains("its attempts are being slowed down"));
    let mut cafe = Visitor::from_address("198.51.100.30:5000");
    assert_eq!(cafe.sign_in(&app, "alice", "demo-alice").await.status, 429);
    // ...but not for the address Alice signed in from before.
    let mut home = Visitor::from_address("192.0.2.20:5001");
    assert_eq!(home.sign_in(&app, "alice", "demo-alice").await.status, 303);

    // The delay doubles with every check past the ceiling, and refusals add nothing to it.
    for i in 0..LOGIN_FREE {
        let mut bot = Visitor::from_address(&format!("10.8.0.{i}:5000"));
        bot.sign_in(&app, "alice", "guess").await;
    }
    let mut waits = Vec::new();
    for round in 0..3 {
        let mut bot = Visitor::from_address(&format!("10.9.0.{round}:5000"));
        let refused = bot.sign_in(&app, "alice", "guess").await;
        assert_eq!(refused.status, 429);
        let wait: u64 = refused
            .headers
            .get("retry-after")
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        waits.push(wait);
        std::thread::sleep(std::time::Duration::from_millis(wait * 1000 + 100));
        assert_eq!(bot.sign_in(&app, "alice", "guess").await.status, 401);
    }
    assert_eq!(waits, vec![1, 2, 4]);
}

#[actix_web::test]
async fn one_address_guessing_many_logins_is_refused_but_not_other_addresses() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = Visitor::from_address("192.0.2.7:1234");
    for i in 0..ADDRESS_LIMIT {
        assert_eq!(
            v.sign_in(&app, &format!("nobody{i}"), "x").await.status,
            401
        );
    }
    let res = v.sign_in(&app, "alice", "demo-alice").await;
    assert_eq!(res.status, 429);
    assert!(res
        .body
        .contains("Too many failed sign-ins from your network"));
    let mut elsewhere = Visitor::from_address("192.0.2.8:1234");
    assert_eq!(
        elsewhere.sign_in(&app, "alice", "demo-alice").await.status,
        303
    );
}

#[actix_web::test]
async fn successful_sign_ins_give_their_check_back_so_an_office_is_never_refused() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = Visitor::from_address("192.0.2.40:1000");
    for _ in 0..4 {
        assert_eq!(v.sign_in(&app, "alice", "guess").await.status, 401);
    }
    assert_eq!(v.sign_in(&app, "alice", "demo-alice").await.status, 303);
    let kinds: Vec<(String, i32)> = sign_in_throttle::table
        .select((sign_in_throttle::kind, sign_in_throttle::attempts))
        .order(sign_in_throttle::kind)
        .load(&mut t.conn())
        .unwrap();
    assert_eq!(
        kinds,
        vec![("address".to_string(), 4), ("known".to_string(), 1)],
        "the login and pair counts start over; the address keeps only the failures"
    );
    // Many more people behind the same address sign in than the address limit.
    for i in 0..(ADDRESS_LIMIT + 5) {
        let mut colleague = Visitor::from_address(&format!("192.0.2.40:{}", 2000 + i));
        let login = ["alice", "bob", "carol"][i as usize % 3];
        let password = format!("demo-{login}");
        assert_eq!(
            colleague.sign_in(&app, login, &password).await.status,
            303,
            "{i}"
        );
    }
}

#[test]
fn sweeping_forgets_only_counters_whose_time_is_over() {
    use diesel::connection::SimpleConnection;
    let db = crate::harness::TestDb::new();
    let mut c = db.conn();
    c.batch_execute(
        "INSERT INTO sign_in_throttle (kind, key, attempts, window_started_at, not_before) VALUES
           ('pair', E'10.0.0.1\\nold', 5, now() - interval '16 minutes', NULL),
           ('pair', E'10.0.0.1\\nnew', 5, now() - interval '14 minutes', NULL),
           ('address', '10.0.0.9', 20, now() - interval '1 day', NULL),
           ('login', 'slowed', 30, now() - interval '2 hours', now() + interval '1 minute'),
           ('login', 'done', 30, now() - interval '2 hours', now() - interval '1 minute'),
           ('known', E'10.0.0.1\\nalice', 3, now() - interval '31 days', NULL),
           ('known', E'10.0.0.1\\nbob', 3, now() - interval '29 days', NULL)",
    )
    .unwrap();
    assert_eq!(tokendesk::throttle::forget_stale(&mut c).unwrap(), 4);
    let mut left: Vec<String> = sign_in_throttle::table
        .select(sign_in_throttle::key)
        .load(&mut c)
        .unwrap();
    left.sort();
    assert_eq!(left, vec!["10.0.0.1\nbob", "10.0.0.1\nnew", "slowed"]);
}
