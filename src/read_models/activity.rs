//! The user's own audit events, in plain words: "You removed *write* from 2 tokens of Photo
//! Printer".

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

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
         WHERE e.subject = $1
         ORDER BY e.occurred_at DESC, e.id DESC
         LIMIT $2 OFFSET $3"
    ))
    .bind::<Text, _>(subject)
    .bind::<BigInt, _>(limit + 1)
    .bind::<BigInt, _>(offset)
    .load(conn)?)
}

/// A run of words of a description; `em` marks a name (a scope, an app).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub text: String,
    pub em: bool,
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
    fn list(mut self, names: &[String]) -> Self {
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                self = self.text(if i + 1 == names.len() { " and " } else { ", " });
            }
            self = self.em(name.clone());
        }
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
    let before = scopes_in(event.state_before.as_ref());
    let after = scopes_in(event.state_after.as_ref());
    let removed: Vec<String> = before
        .iter()
        .filter(|s| !after.contains(s))
        .cloned()
        .collect();
    let added: Vec<String> = after
        .iter()
        .filter(|s| !before.contains(s))
        .cloned()
        .collect();
    let one_token = event.token_hash.is_some() && count <= 1;
    let s = Sentence::default().text(format!("{who} "));
    let s = match event.action.as_str() {
        "authorization.update" => {
            // The tokens whose scopes changed; the domain also counts the ones left as they were.
            let changed = event
                .state_after
                .as_ref()
                .and_then(|a| a.get("changedTokens"))
                .and_then(|c| c.as_i64())
                .unwrap_or(count);
            scope_change(s, &removed, &added, &tokens(changed), &app)
        }
        "token.update" if removed.is_empty() && added.is_empty() => {
            s.text("changed a token of ").em(app)
        }
        "token.update" => scope_change(s, &removed, &added, "a token", &app),
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
                .map(|t| {
                    t.with_timezone(&Utc)
                        .format("%-d %b %Y, %H:%M UTC")
                        .to_string()
                })
                .unwrap_or_else(|| "a set time".into());
            s.text("limited the access of ")
                .em(app)
                .text(" until ")
                .em(until)
        }
        "grant.unlimit" => s.text("removed the time limit of ").em(app),
        other => s.text(format!("made a change ({other}) about ")).em(app),
    };
    ActivityEntry {
        occurred_at: event.occurred_at,
        sentence: s.0,
        reason: event.reason.clone().filter(|r| !r.trim().is_empty()),
    }
}

/// "removed *write* from 2 tokens of *Photo Printer*" (and what was added, for staff changes).
fn scope_change(
    s: Sentence,
    removed: &[String],
    added: &[String],
    what: &str,
    app: &str,
) -> Sentence {
    let s = match (removed.is_empty(), added.is_empty()) {
        (false, true) => s
            .text("removed ")
            .list(removed)
            .text(format!(" from {what} of ")),
        (true, false) => s.text("added ").list(added).text(format!(" to {what} of ")),
        (false, false) => s
            .text("removed ")
            .list(removed)
            .text(" and added ")
            .list(added)
            .text(format!(" on {what} of ")),
        (true, true) => s.text(format!("left the permissions of {what} of ")),
    };
    s.em(app)
}

fn tokens(n: i64) -> String {
    if n == 1 {
        "1 token".to_string()
    } else {
        format!("{n} tokens")
    }
}

/// The `scopes` list of an audit state (`state_before` / `state_after`).
fn scopes_in(state: Option<&serde_json::Value>) -> Vec<String> {
    state
        .and_then(|s| s.get("scopes"))
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
