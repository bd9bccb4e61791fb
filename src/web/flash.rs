//! Flash messages: set by a POST handler before its redirect, shown once by the next page
//! (Post/Redirect/Get). They travel in the session.

use actix_session::Session;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

const FLASH: &str = "flash";

/// One message, made of plain and emphasized parts so that names (scopes, apps) stand out
/// without putting markup into the session.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Flash {
    /// `ok` or `error`.
    pub kind: String,
    pub parts: Vec<FlashPart>,
    /// The id of the element where the change happened (a token's card, the tokens section):
    /// the page shows the message there, in view after the redirect to `#that-id`, instead of
    /// at its top. `None` (or an id the page does not show): at the top.
    #[serde(default)]
    pub at: Option<String>,
}

/// A run of text of a flash message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FlashPart {
    pub text: String,
    pub em: bool,
}

impl Flash {
    /// A success message.
    pub fn ok() -> Self {
        Flash {
            kind: "ok".into(),
            parts: Vec::new(),
            at: None,
        }
    }

    /// Appends plain text.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.parts.push(FlashPart {
            text: text.into(),
            em: false,
        });
        self
    }

    /// Appends emphasized text (a scope or app name).
    pub fn em(mut self, text: impl Into<String>) -> Self {
        self.parts.push(FlashPart {
            text: text.into(),
            em: true,
        });
        self
    }

    /// Appends the parts of a sentence built elsewhere (`read_models::audit_words`), with its
    /// first letter capitalized when it starts the message.
    pub fn parts(mut self, parts: Vec<crate::read_models::audit_words::Part>) -> Self {
        for (i, p) in parts.into_iter().enumerate() {
            let text = if i == 0 && self.parts.is_empty() {
                super::view::sentence_start(&p.text)
            } else {
                p.text
            };
            self.parts.push(FlashPart { text, em: p.em });
        }
        self
    }

    /// Shows the message at the element with this id (see [`Flash::at`]).
    pub fn at(mut self, id: impl Into<String>) -> Self {
        self.at = Some(id.into());
        self
    }

    /// Appends a list of names, each emphasized: "*a*", "*a* and *b*", "*a*, *b* and *c*".
    pub fn em_list(mut self, names: &[String]) -> Self {
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                self = self.text(if i + 1 == names.len() { " and " } else { ", " });
            }
            self = self.em(name.clone());
        }
        self
    }

    /// The message as plain text (for tests and logs).
    pub fn plain(&self) -> String {
        self.parts.iter().map(|p| p.text.as_str()).collect()
    }

    /// Keeps the message for the next page.
    pub fn set(self, session: &Session) -> Result<(), AppError> {
        super::session::insert(session, FLASH, self)
    }

    /// The waiting message, removed from the session. Without one the session is left as it
    /// is: a removal marks it changed, and a changed session is encrypted again and sent back
    /// as a new cookie with every page.
    pub fn take(session: &Session) -> Option<Flash> {
        if !session.contains_key(FLASH) {
            return None;
        }
        session.remove_as::<Flash>(FLASH).and_then(Result::ok)
    }
}

#[cfg(test)]
mod tests {
    use super::Flash;

    #[test]
    fn lists_read_like_a_sentence() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let f = Flash::ok()
            .text("Removed ")
            .em_list(&names(&["write", "email", "profile"]));
        assert_eq!(f.plain(), "Removed write, email and profile");
        assert_eq!(Flash::ok().em_list(&names(&["a", "b"])).plain(), "a and b");
    }
}
