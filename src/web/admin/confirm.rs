//! The console's confirmation step, and the page that shows a secret once.

use askama::Template;
use askama_web::WebTemplate;

use crate::web::view::Layout;

use super::Tabs;

/// A page that says what a change will do before it is made; nothing changes until its button
/// is pressed.
#[derive(Template, WebTemplate)]
#[template(path = "admin/confirm.html")]
pub struct ConfirmPage {
    pub layout: Layout,
    pub tabs: Tabs,
    pub title: String,
    /// What will happen, sentence by sentence.
    pub lines: Vec<String>,
    pub action: String,
    pub button: String,
    pub danger: bool,
    /// Where "Cancel" leads.
    pub back: String,
    /// Hidden fields the form sends back (name, value): the version of what it was opened on.
    pub hidden: Vec<(String, String)>,
}

/// A secret shown once (a generated password, a credential's secret): the page is sent with
/// `Cache-Control: no-store`, and the secret is never stored nor shown again.
#[derive(Template, WebTemplate)]
#[template(path = "admin/secret.html")]
pub struct SecretPage {
    pub layout: Layout,
    pub tabs: Tabs,
    pub title: String,
    pub lead: String,
    /// (label, value, element id), e.g. ("Password", "k7qvz-…", "new-password").
    pub values: Vec<(String, String, String)>,
    /// Lines of advice under the values (how to use it).
    pub notes: Vec<String>,
    /// An example command using the secret, if any.
    pub example: Option<String>,
    pub next: String,
    pub next_label: String,
}
