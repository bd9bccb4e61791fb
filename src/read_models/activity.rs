//! The user's own audit events, in plain words: "You removed *write* from 2 tokens of Photo
//! Printer".

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

pub use super::audit_words::Part;
use super::audit_words::{scope_change_parts, tokens_noun, ScopeChanges};
use crate::audit::{NamedEvent, NAMED_EVENT_SELECT};
use crate::error::AppResult;

/// One page of events whose subject is `subject`, newest first: `limit + 1` rows are read so
/// that the caller knows whether another page follows. One statement.
pub fn activity(
    conn: &mut PgConnection,
    subject: &str,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<NamedEvent>> {
    Ok(diesel::sql_query(format!(
        "{NAMED_EVENT_SELECT}
         WHERE e.subject = $1 AND e.shard_key = $1
         ORDER BY e.occurred_at DESC, e.id DESC
         LIMIT $2 OFFSET $3"
    ))
    .bind::<Text, _>(subject)
    .bind::<BigInt, _>(limit + 1)
    .bind::<BigInt, _>(offset)
    .load(conn)?)
}

/// An event as the user reads it.
#[derive(Debug, Clone)]
pub struct ActivityEntry {
    pub occurred_at: DateTime<Utc>,
    pub sentence: Vec<Part>,
    /// The reason support staff gave, shown to the user.
    pub reason: Option<String>,
}

impl ActivityEntry {
    /// The sentence as plain text.
    pub fn plain(&self) -> String {
        self.sentence.iter().map(|p| p.text.as_str()).collect()
    }
}

#[derive(Default)]
struct Sentence(Vec<Part>);

impl Sentence {
    fn text(mut self, t: impl Into<String>) -> Self {
        self.0.push(Part {
            text: t.into(),
            em: false,
        });
        self
    }
    fn em(mut self, t: impl Into<String>) -> Self {
        self.0.push(Part {
            text: t.into(),
            em: true,
        });
        self
    }
    fn extend(mut self, parts: Vec<Part>) -> Self {
        self.0.extend(parts);
        self
    }
}

/// Describes `event` for the user whose subject is `subject`, from the actions the domain
/// writes (`crate::tokens`): `authorization.update` / `.delete` for a whole app,
/// `token.update` / `.revoke` / `.delete` / `.create` / `.replace` / `.sweep` for tokens.
pub fn describe(event: &NamedEvent, subject: &str) -> ActivityEntry {
    let who = match event.actor_kind.as_str() {
        "user" if event.actor_id == subject => "You",
        "user" => "Another user",
        "support" | "admin" => "Support",
        "api" => "The sign-in service",
        _ => "tokendesk",
    };
    let app = event
        .client_name
        .clone()
        .or_else(|| event.client_id.map(|id| format!("app {id}")))
        .unwrap_or_else(|| "an app".to_string());
    let count = event.affected_count.unwrap_or(1);
    let changes = ScopeChanges::of_event(event);
    let one_token = event.token_hash.is_some() && count <= 1;
    let s = Sentence::default().text(format!("{who} "));
    let s = match event.action.as_str() {
        "authorization.update" if changes.is_empty() => {
            s.text("made no change to the permissions of ").em(app)
        }
        "token.update" if changes.is_empty() => s.text("changed a token of ").em(app),
        // The same words as the flash message of the change (`audit_words`).
        "authorization.update" => s
            .extend(scope_change_parts(&changes, &tokens_noun))
            .text(" of ")
            .em(app),
        "token.update" => s
            .extend(scope_change_parts(&changes, &|_| "a token".to_string()))
            .text(" of ")
            .em(app),
        "authorization.delete" => s
            .text("revoked ")
            .em(app)
            .text(format!(" ({})", tokens(count))),
        "token.revoke" | "token.delete" if one_token => s.text("revoked a token of ").em(app),
        "token.revoke" | "token.delete" => s.text(format!("revoked {} of ", tokens(count))).em(app),
        "token.create" => s.text("issued a new token to ").em(app),
        "token.replace" => s.text(format!("replaced {} of ", tokens(count))).em(app),
        "token.sweep" => Sentence::default()
            .text(format!("{} of ", tokens(count)))
            .em(app)
            .text(" that had long expired were cleared away"),
        "account.create" => Sentence::default().text("Your account was created"),
        "grant.limit" => {
            let until = event
                .state_after
                .as_ref()
                .and_then(|a| a.get("validUntil"))
                .and_then(|v| v.as_str())
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| crate::clock::in_words(t.with_timezone(&Utc)))
                .unwrap_or_else(|| "a set time".into());
            s.text("limited the access of ")
                .em(app)
                .text(" until ")
                .em(until)
        }
        "grant.unlimit" => s.text("removed the time limit of ").em(app),
        "account.update" => s.text("changed your account"),
        "account.link" => {
            Sentence::default().text("Your account was linked to your identity provider's sign-in")
        }
        "session.end_all" => session_end(s, event, count),
        other => s.text(format!("made a change ({other}) about ")).em(app),
    };
    ActivityEntry {
        occurred_at: event.occurred_at,
        sentence: s.0,
        reason: event.reason.clone().filter(|r| !r.trim().is_empty()),
    }
}

/// "You signed out everywhere else: *2 other sessions* ended", "Support ended *1 session* of
/// yours when your account changed".
fn session_end(s: Sentence, event: &NamedEvent, count: i64) -> Sentence {
    let cause = event
        .state_after
        .as_ref()
        .and_then(|a| a.get("cause"))
        .and_then(|c| c.as_str());
    let sessions = crate::read_models::audit_words::sessions_words(count);
    match cause {
        // Only the person can do this, from one of their own sessions (staff included, whose
        // actor is their login rather than their subject).
        Some("signed_out_everywhere") => match count {
            0 => Sentence::default()
                .text("You signed out everywhere else (no other session was open)"),
            _ => Sentence::default()
                .text("You signed out everywhere else: ")
                .em(format!(
                    "{count} other session{}",
                    if count == 1 { "" } else { "s" }
                ))
                .text(" ended"),
        },
        Some("oidc_logout") => Sentence::default()
            .text("You signed out at your identity provider, which ended ")
            .em(sessions)
            .text(" here"),
        _ => s
            .text("ended ")
            .em(sessions)
            .text(" of yours when your account changed"),
    }
}

fn tokens(n: i64) -> String {
    if n == 1 {
        "1 token".to_string()
    } else {
        format!("{n} tokens")
    }
}
