//! The service-wide policy (the one `service_settings` row): default lifetimes, the furthest
//! support may move an expiry, the two policies about scopes and tokens, and the three refresh
//! policies (Authlete's `refreshTokenKept`, `refreshTokenDurationKept`,
//! `refreshTokenDurationReset`; docs/LIFECYCLE.md).
//!
//! Each setting is described once in [`SETTINGS`]: its name (the form field and the command
//! line flag), its words, and its kind. The admin form and the command line are built from that
//! list, so a new setting is one entry there, one column, and one arm in [`ServiceSettings`]'s
//! accessors below.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::audit::{self, Actor};
use crate::db::models::{NewAuditEvent, ServiceSettings};
use crate::db::schema::service_settings;
use crate::error::{AppError, AppResult, FieldError};
use crate::validate;

/// How a setting is typed and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    /// A lifetime in seconds, typed as `30d`, `12h`, `90m`, `3600s`.
    Duration,
    /// On or off.
    Flag,
}

/// One setting.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The form field and command line flag (`--access-token-duration`); also its audit key
    /// in camelCase.
    pub name: &'static str,
    pub label: &'static str,
    /// What it changes, shown under the field.
    pub hint: &'static str,
    pub kind: SettingKind,
}

/// Every setting, in the order the form shows them.
pub const SETTINGS: &[Setting] = &[
    Setting {
        name: "access-token-duration",
        label: "Access token lifetime",
        hint: "For tokens issued without a lifetime of their own or of their scopes. Tokens \
               already issued keep their expiry.",
        kind: SettingKind::Duration,
    },
    Setting {
        name: "refresh-token-duration",
        label: "Refresh token lifetime",
        hint: "The same for refresh tokens.",
        kind: SettingKind::Duration,
    },
    Setting {
        name: "max-staff-token-lifetime",
        label: "Longest expiry support may set",
        hint: "How far from now support staff may move a token's expiry.",
        kind: SettingKind::Duration,
    },
    Setting {
        name: "single-access-token-per-subject",
        label: "One token per user and app",
        hint: "Issuing a token deletes the user's older tokens of the same app (clients may \
               also ask for this one by one).",
        kind: SettingKind::Flag,
    },
    Setting {
        name: "supported-scopes-only",
        label: "Only known scopes",
        hint: "Scopes that are not in the scope list are dropped from token updates and refused \
               when a token is issued.",
        kind: SettingKind::Flag,
    },
    Setting {
        name: "refresh-token-kept",
        label: "Keep refresh tokens",
        hint: "A refresh keeps the app's refresh token instead of replacing it (off: every \
               refresh rotates it, and a replaced one presented again revokes the whole token).",
        kind: SettingKind::Flag,
    },
    Setting {
        name: "refresh-token-duration-kept",
        label: "Rotated refresh tokens keep their expiry",
        hint: "A new refresh token expires when the one it replaces would have (off: it gets a \
               fresh lifetime).",
        kind: SettingKind::Flag,
    },
    Setting {
        name: "refresh-token-duration-reset",
        label: "Kept refresh tokens get a fresh lifetime",
        hint: "With refresh tokens kept, each refresh starts the refresh token's lifetime again.",
        kind: SettingKind::Flag,
    },
];

/// A setting's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingValue {
    Seconds(i64),
    Flag(bool),
}

impl SettingValue {
    /// The value as a form shows it (`1d`, `on`/`off` for flags).
    pub fn text(self) -> String {
        match self {
            SettingValue::Seconds(s) => validate::duration_text(s),
            SettingValue::Flag(true) => "on".into(),
            SettingValue::Flag(false) => "off".into(),
        }
    }

    fn json(self) -> serde_json::Value {
        match self {
            SettingValue::Seconds(s) => s.into(),
            SettingValue::Flag(f) => f.into(),
        }
    }
}

/// The setting called `name`.
pub fn setting(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}

/// Reads a typed value: a duration (`30d`, `12h`, …, more than 0 and at most 100 years) or a
/// flag (`on`/`off`, `true`/`false`, `yes`/`no`, `1`/`0`).
pub fn parse_value(setting: &Setting, text: &str) -> Result<SettingValue, FieldError> {
    match setting.kind {
        SettingKind::Duration => {
            validate::parse_lifetime(setting.name, text).map(SettingValue::Seconds)
        }
        SettingKind::Flag => match text.trim().to_ascii_lowercase().as_str() {
            "on" | "true" | "yes" | "1" => Ok(SettingValue::Flag(true)),
            "off" | "false" | "no" | "0" | "" => Ok(SettingValue::Flag(false)),
            _ => Err(FieldError::new(setting.name, "must be on or off")),
        },
    }
}

/// The camelCase key of a setting in audit states and JSON output.
pub fn json_key(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

impl ServiceSettings {
    /// The value of the setting called `name`.
    pub fn value(&self, name: &str) -> Option<SettingValue> {
        Some(match name {
            "access-token-duration" => SettingValue::Seconds(self.access_token_duration),
            "refresh-token-duration" => SettingValue::Seconds(self.refresh_token_duration),
            "max-staff-token-lifetime" => SettingValue::Seconds(self.max_staff_token_lifetime),
            "single-access-token-per-subject" => {
                SettingValue::Flag(self.single_access_token_per_subject)
            }
            "supported-scopes-only" => SettingValue::Flag(self.supported_scopes_only),
            "refresh-token-kept" => SettingValue::Flag(self.refresh_token_kept),
            "refresh-token-duration-kept" => SettingValue::Flag(self.refresh_token_duration_kept),
            "refresh-token-duration-reset" => SettingValue::Flag(self.refresh_token_duration_reset),
            _ => return None,
        })
    }

    /// Every setting as its audit state and `--json` output show it.
    pub fn state(&self) -> serde_json::Value {
        let map = SETTINGS
            .iter()
            .filter_map(|s| Some((json_key(s.name), self.value(s.name)?.json())))
            .collect::<serde_json::Map<_, _>>();
        serde_json::Value::Object(map)
    }
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = service_settings)]
struct SettingsChangeset {
    access_token_duration: Option<i64>,
    refresh_token_duration: Option<i64>,
    max_staff_token_lifetime: Option<i64>,
    single_access_token_per_subject: Option<bool>,
    supported_scopes_only: Option<bool>,
    refresh_token_kept: Option<bool>,
    refresh_token_duration_kept: Option<bool>,
    refresh_token_duration_reset: Option<bool>,
}

impl SettingsChangeset {
    fn set(&mut self, name: &str, value: SettingValue) -> Result<(), FieldError> {
        match (name, value) {
            ("access-token-duration", SettingValue::Seconds(s)) => {
                self.access_token_duration = Some(s)
            }
            ("refresh-token-duration", SettingValue::Seconds(s)) => {
                self.refresh_token_duration = Some(s)
            }
            ("max-staff-token-lifetime", SettingValue::Seconds(s)) => {
                self.max_staff_token_lifetime = Some(s)
            }
            ("single-access-token-per-subject", SettingValue::Flag(f)) => {
                self.single_access_token_per_subject = Some(f)
            }
            ("supported-scopes-only", SettingValue::Flag(f)) => {
                self.supported_scopes_only = Some(f)
            }
            ("refresh-token-kept", SettingValue::Flag(f)) => self.refresh_token_kept = Some(f),
            ("refresh-token-duration-kept", SettingValue::Flag(f)) => {
                self.refresh_token_duration_kept = Some(f)
            }
            ("refresh-token-duration-reset", SettingValue::Flag(f)) => {
                self.refresh_token_duration_reset = Some(f)
            }
            _ => return Err(FieldError::new(name, "is not a setting of this kind")),
        }
        Ok(())
    }
}

/// The settings after [`update_settings`].
#[derive(Debug, Clone)]
pub struct SettingsUpdated {
    pub settings: ServiceSettings,
    /// The names of the settings that changed (none: nothing was written, no audit event).
    pub changed: Vec<&'static str>,
    pub before: serde_json::Value,
}

/// Changes the settings named in `changes`, with one `settings.update` audit event (before →
/// after). With `expected_updated_at` (the form's), a save made after someone else's is
/// [`AppError::Conflict`].
pub fn update_settings(
    conn: &mut PgConnection,
    changes: &[(&str, SettingValue)],
    expected_updated_at: Option<DateTime<Utc>>,
    actor: &Actor,
) -> AppResult<SettingsUpdated> {
    crate::db::transaction(conn, |c| {
        let before: ServiceSettings = service_settings::table
            .find(1i16)
            .select(ServiceSettings::as_select())
            .for_update()
            .first(c)?;
        if expected_updated_at.is_some_and(|seen| seen != before.updated_at) {
            return Err(AppError::Conflict(
                "the settings were changed by someone else since you opened them; look at \
                 them again and redo your change"
                    .into(),
            ));
        }
        let mut set = SettingsChangeset::default();
        let mut changed = Vec::new();
        let mut errors = Vec::new();
        for (name, value) in changes {
            let Some(setting) = setting(name) else {
                errors.push(FieldError::new(*name, "is not a setting"));
                continue;
            };
            if before.value(name) == Some(*value) {
                continue;
            }
            match set.set(name, *value) {
                Ok(()) => changed.push(setting.name),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let before_state = before.state();
        if changed.is_empty() {
            return Ok(SettingsUpdated {
                settings: before,
                changed,
                before: before_state,
            });
        }
        let settings: ServiceSettings = diesel::update(service_settings::table.find(1i16))
            .set((&set, service_settings::updated_at.eq(diesel::dsl::now)))
            .returning(ServiceSettings::as_returning())
            .get_result(c)?;
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "settings.update".into(),
                state_before: Some(before_state.clone()),
                state_after: Some(settings.state()),
                ..Default::default()
            },
        )?;
        Ok(SettingsUpdated {
            settings,
            changed,
            before: before_state,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_has_a_value_and_a_way_to_be_set() {
        let row = ServiceSettings {
            id: 1,
            supported_scopes_only: true,
            access_token_duration: 3600,
            refresh_token_duration: 86400,
            single_access_token_per_subject: false,
            max_staff_token_lifetime: 7200,
            updated_at: Utc::now(),
            refresh_token_kept: false,
            refresh_token_duration_kept: false,
            refresh_token_duration_reset: false,
            service_id: 1,
            issuer: None,
        };
        let mut set = SettingsChangeset::default();
        for s in SETTINGS {
            let value = row.value(s.name).expect("a value");
            assert!(set.set(s.name, value).is_ok(), "{}", s.name);
            assert_eq!(parse_value(s, &value.text()), Ok(value), "{}", s.name);
        }
        assert_eq!(row.state()["accessTokenDuration"], 3600);
        assert_eq!(
            json_key("max-staff-token-lifetime"),
            "maxStaffTokenLifetime"
        );
        assert!(parse_value(&SETTINGS[0], "0").is_err());
        assert!(parse_value(&SETTINGS[3], "maybe").is_err());
    }
}
