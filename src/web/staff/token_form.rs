//! The token edit form: its fields as stored or as typed, and the domain change they ask for.
//! No rule lives here: the form is read as it was sent, and `tokens::update_token` decides.

use chrono::{DateTime, Duration, Utc};

use crate::db::models::Property;
use crate::error::FieldError;
use crate::read_models::audit_log::parse_utc_datetime;
use crate::tokens::TokenUpdate;
use crate::web::forms::FormFields;

use super::token_edit::Loaded;

/// Empty property rows offered for adding properties without JavaScript.
const BLANK_PROPERTY_ROWS: usize = 2;
/// The most property rows a form may send.
const MAX_PROPERTY_ROWS: usize = 60;

/// The value of an expiry field: the console's one format, in UTC, to the second
/// (`2026-12-29 09:17:20`).
pub fn local_value(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// How the page says what it read from an expiry field.
pub fn read_as(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A scope checkbox.
#[derive(Debug, Clone)]
pub struct ScopeChoice {
    pub name: String,
    pub description: Option<String>,
    pub checked: bool,
    /// `false`: the token holds it but the client may no longer hold it.
    pub allowed: bool,
}

/// A row of the properties table.
#[derive(Debug, Clone, Default)]
pub struct PropertyRow {
    pub index: usize,
    pub key: String,
    /// Empty for a stored hidden property: pages never show hidden values.
    pub value: String,
    pub hidden: bool,
    /// The row shows a stored hidden property whose value is kept unless a new one is typed.
    pub stored_hidden: bool,
    pub remove: bool,
}

impl PropertyRow {
    /// An empty row: nothing to add.
    fn is_blank(&self) -> bool {
        self.key.is_empty() && self.value.is_empty()
    }
}

/// The edit form's fields, as stored or as typed.
#[derive(Debug, Clone)]
pub struct TokenForm {
    pub version: i64,
    /// The expiry when the form was opened (RFC 3339, to the microsecond): quick actions count
    /// from it, and a date field left as it was means "unchanged".
    pub expires_was: String,
    pub expires: String,
    /// The same two for the refresh token; empty when the token has none.
    pub refresh_expires_was: String,
    pub refresh_expires: String,
    /// What the expiry fields were read as, when they were typed and refused: the field echoes
    /// the value it parsed ("read as 2026-12-29 09:17:20 UTC"), or says it could not.
    pub expires_read: Option<String>,
    pub refresh_expires_read: Option<String>,
    pub scopes: Vec<ScopeChoice>,
    pub properties: Vec<PropertyRow>,
    pub reason: String,
}

/// The form as the token is stored.
pub fn stored_form(loaded: &Loaded) -> TokenForm {
    let t = &loaded.token;
    let properties = t
        .property_list()
        .into_iter()
        .map(|p| PropertyRow {
            key: p.key,
            value: if p.hidden { String::new() } else { p.value },
            stored_hidden: p.hidden,
            hidden: p.hidden,
            ..Default::default()
        })
        .collect();
    TokenForm {
        version: t.version,
        expires_was: t
            .access_token_expires_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        expires: local_value(t.access_token_expires_at),
        refresh_expires_was: t
            .refresh_token_expires_at
            .map(|r| r.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
            .unwrap_or_default(),
        refresh_expires: t
            .refresh_token_expires_at
            .map(local_value)
            .unwrap_or_default(),
        expires_read: None,
        refresh_expires_read: None,
        scopes: scope_choices(loaded, &t.scopes),
        properties: with_blank_rows(properties),
        reason: String::new(),
    }
}

pub fn scope_choices(loaded: &Loaded, ticked: &[String]) -> Vec<ScopeChoice> {
    let mut choices: Vec<ScopeChoice> = loaded
        .allowed
        .iter()
        .map(|(name, description)| ScopeChoice {
            name: name.clone(),
            description: Some(description.clone()),
            checked: ticked.contains(name),
            allowed: true,
        })
        .collect();
    // Scopes the token holds that the client may no longer hold stay visible, so that saving
    // the form never drops them unseen.
    for name in loaded.token.scopes.iter().chain(ticked) {
        if !choices.iter().any(|c| &c.name == name) {
            choices.push(ScopeChoice {
                name: name.clone(),
                description: None,
                checked: ticked.contains(name),
                allowed: false,
            });
        }
    }
    choices
}

fn with_blank_rows(mut rows: Vec<PropertyRow>) -> Vec<PropertyRow> {
    rows.extend((0..BLANK_PROPERTY_ROWS).map(|_| PropertyRow::default()));
    for (i, row) in rows.iter_mut().enumerate() {
        row.index = i;
    }
    rows
}

/// The form as sent.
pub struct Submitted {
    pub form: TokenForm,
    /// `plus1d`, `plus30d` or empty (a plain save).
    pub quick: String,
    /// The expiry when the form was opened, read back.
    pub expires_was: Option<DateTime<Utc>>,
    /// The refresh token's expiry when the form was opened, read back.
    pub refresh_expires_was: Option<DateTime<Utc>>,
}

pub fn read_form(fields: &FormFields, loaded: &Loaded) -> Submitted {
    let count = fields
        .get("property_rows")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_PROPERTY_ROWS);
    let properties = (0..count)
        .map(|i| {
            let f = |name: &str| fields.text(&format!("prop-{i}-{name}"));
            PropertyRow {
                index: i,
                key: f("key").trim().to_string(),
                value: f("value"),
                hidden: !f("hidden").is_empty(),
                stored_hidden: !f("stored_hidden").is_empty(),
                remove: !f("remove").is_empty(),
            }
        })
        .collect();
    let ticked = fields.all("scopes");
    let expires_was = fields.text("expires_was");
    let refresh_expires_was = fields.text("refresh_expires_was");
    let rfc3339 = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    Submitted {
        quick: fields.text("quick"),
        expires_was: rfc3339(&expires_was),
        refresh_expires_was: rfc3339(&refresh_expires_was),
        form: TokenForm {
            version: fields
                .get("version")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            expires_was,
            expires: fields.text("expires").trim().to_string(),
            refresh_expires_was,
            refresh_expires: fields.text("refresh_expires").trim().to_string(),
            expires_read: None,
            refresh_expires_read: None,
            scopes: scope_choices(loaded, &ticked),
            properties,
            reason: fields.text("reason"),
        },
    }
}

/// The words beside an expiry field that was typed: what it was read as.
fn echo(typed: &str, was: Option<DateTime<Utc>>) -> Option<String> {
    if typed.is_empty() || was.is_some_and(|w| local_value(w) == typed) {
        return None;
    }
    Some(match parse_utc_datetime(typed) {
        Some(t) => format!("You typed “{typed}”, read as {}.", read_as(t)),
        None => format!("You typed “{typed}”, which is not a date and time."),
    })
}

impl Submitted {
    /// Fills in what the typed expiry fields were read as, for a form shown again.
    pub fn echo_expiries(&mut self) {
        self.form.expires_read = echo(&self.form.expires, self.expires_was);
        self.form.refresh_expires_read = echo(&self.form.refresh_expires, self.refresh_expires_was);
    }
}

/// The domain change the form asks for, or the refusals of what cannot even be read.
pub fn change_of(s: &Submitted) -> Result<TokenUpdate, Vec<FieldError>> {
    let mut update = TokenUpdate {
        expected_version: Some(s.form.version),
        reason: Some(s.form.reason.clone()),
        keep_hidden_values: true,
        scopes: Some(
            s.form
                .scopes
                .iter()
                .filter(|c| c.checked)
                .map(|c| c.name.clone())
                .collect(),
        ),
        properties: Some(
            s.form
                .properties
                .iter()
                .filter(|p| !p.remove && !p.is_blank())
                .map(|p| Property {
                    key: p.key.clone(),
                    value: p.value.clone(),
                    hidden: p.hidden,
                })
                .collect(),
        ),
        ..Default::default()
    };
    let was = s.expires_was;
    let plus = |days: i64| {
        was.map(|w| w + Duration::days(days))
            .ok_or_else(|| vec![FieldError::new("expires", "reload the page and try again")])
    };
    let unreadable = |field: &str| {
        FieldError::new(
            field,
            "Give a date and time in UTC such as 2026-12-01 10:00.",
        )
    };
    let mut errors = Vec::new();
    match s.quick.as_str() {
        "plus1d" => update.access_token_expires_at = Some(plus(1)?),
        "plus30d" => update.access_token_expires_at = Some(plus(30)?),
        _ if was.is_some_and(|w| local_value(w) == s.form.expires) => {}
        _ => match parse_utc_datetime(&s.form.expires) {
            Some(at) => update.access_token_expires_at = Some(at),
            None => errors.push(unreadable("expires")),
        },
    }
    let refresh_was = s.refresh_expires_was;
    let typed = &s.form.refresh_expires;
    if refresh_was.is_some()
        && !typed.is_empty()
        && refresh_was.is_none_or(|w| local_value(w) != *typed)
    {
        match parse_utc_datetime(typed) {
            Some(at) => update.refresh_token_expires_at = Some(at),
            None => errors.push(unreadable("refresh_expires")),
        }
    }
    if errors.is_empty() {
        Ok(update)
    } else {
        Err(errors)
    }
}

/// The domain's field names as the form's.
pub fn form_field(field: &str) -> String {
    match field {
        "accessTokenExpiresAt" | "accessTokenPersistent" => "expires",
        "refreshTokenExpiresAt" => "refresh_expires",
        other => other,
    }
    .to_string()
}
