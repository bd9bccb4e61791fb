//! Every staff change and its audit event are one transaction: when the event cannot be
//! written, the change does not happen either.

use diesel::prelude::*;
use tokendesk::audit::ActorKind;
use tokendesk::tokens::{self, ScopeMode, TokenRef, TokenUpdate};

use crate::fixtures::{actor, snapshot, strings};
use crate::harness::TestApp;
use crate::staff_client::alice_printer;

#[test]
fn a_change_whose_audit_event_fails_is_undone() {
    let t = TestApp::with_demo();
    let c = &mut t.conn();
    let token = alice_printer(&t);
    // Refuse any event by sam, as a full disk or a broken constraint would.
    diesel::sql_query(
        "CREATE FUNCTION refuse_sam() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.actor_id = 'sam' THEN RAISE EXCEPTION 'audit refused'; END IF;
             RETURN NEW;
         END $$",
    )
    .execute(c)
    .unwrap();
    diesel::sql_query(
        "CREATE TRIGGER refuse_sam BEFORE INSERT ON audit_events
         FOR EACH ROW EXECUTE FUNCTION refuse_sam()",
    )
    .execute(c)
    .unwrap();
    let sam = actor(ActorKind::Support, "sam");
    let before = snapshot(c);

    let single = tokens::update_token(
        c,
        TokenRef::Id(token.id),
        TokenUpdate {
            access_token_expires_at: Some(
                token.access_token_expires_at + chrono::Duration::days(30),
            ),
            expected_version: Some(token.version),
            reason: Some("extend".into()),
            ..Default::default()
        },
        &sam,
    );
    assert!(single.is_err());
    let pair = tokens::update_pair_scopes(
        c,
        1001,
        "alice",
        &strings(&["read"]),
        ScopeMode::Set,
        &sam,
        Some("narrow"),
    );
    assert!(pair.is_err());
    let revoke = tokens::revoke_token(c, &token.access_token_hash, None, &sam, Some("leak"));
    assert!(revoke.is_err());
    let app = tokens::delete_pair(c, 1001, "alice", &sam, Some("compromised"));
    assert!(app.is_err());
    assert_eq!(snapshot(c), before, "no change without its audit event");
}
