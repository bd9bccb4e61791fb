//! The one review step of everything that cannot be undone (revoking an app or a token, ending
//! a token now) and of the support console's changes to every token of an app: a page that
//! says what will happen, token by token where it matters, and carries the form's fields to a
//! button that does it. Nothing changes until that button is pressed.

use askama::Template;
use askama_web::WebTemplate;

use super::view::Layout;

/// Tokens that hold the same scopes, and what the reviewed change does to each.
#[derive(Debug, Clone)]
pub struct ReviewGroup {
    /// "2 tokens (AbCdEf1234, XyZ0123456) holding read write".
    pub title: String,
    pub gains: Vec<String>,
    pub loses: Vec<String>,
}

/// A review page.
#[derive(Template, WebTemplate)]
#[template(path = "review.html")]
pub struct ReviewPage {
    pub layout: Layout,
    pub title: String,
    /// What will happen, sentence by sentence.
    pub lines: Vec<String>,
    /// Token by token (grouped by scopes), what a change of scopes does.
    pub groups: Vec<ReviewGroup>,
    /// A warning before the button (an addition of scopes the user did not grant).
    pub warning: Option<String>,
    /// Why the page is shown again (the tokens changed since the first review).
    pub notice: Option<String>,
    /// The staff member's reason, shown and carried.
    pub reason: Option<String>,
    /// Where the button posts, and the hidden fields it carries (besides the CSRF token and
    /// `confirm=1`).
    pub action: String,
    pub fields: Vec<(String, String)>,
    /// The button's words; `None`: nothing would change, so there is nothing to confirm.
    pub button: Option<String>,
    pub danger: bool,
    /// Where "Cancel" leads.
    pub back: String,
}

impl ReviewPage {
    /// A review of a change that cannot be undone (a danger button), to be filled in.
    pub fn new(layout: Layout, title: String, action: String, back: String) -> Self {
        ReviewPage {
            layout,
            title,
            lines: Vec::new(),
            groups: Vec::new(),
            warning: None,
            notice: None,
            reason: None,
            action,
            fields: Vec::new(),
            button: None,
            danger: true,
            back,
        }
    }

    /// Carries a hidden field to the confirmation.
    pub fn carry(mut self, name: &str, value: impl Into<String>) -> Self {
        self.fields.push((name.to_string(), value.into()));
        self
    }
}
