//! An async HTTP client against a real server (`TestApp::spawn_server`), for tests that need
//! many requests in flight at once: it keeps no state, so each caller holds its own cookie.

#![allow(dead_code)]

use reqwest::header::{HeaderMap, CONTENT_TYPE, COOKIE, SET_COOKIE};
use reqwest::redirect::Policy;

/// One answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// The value of the first hidden `csrf` field on the page.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker).expect("the page has a CSRF field") + marker.len();
        let end = self.body[start..].find('"').expect("closing quote") + start;
        self.body[start..end].to_string()
    }

    /// The session cookie set by this answer (`name=value`).
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .find(|pair| pair.starts_with(&format!("{}=", tokendesk::SESSION_COOKIE)))
            .map(str::to_string)
    }
}

/// A client that follows no redirect, so that the tests see every 303.
pub fn client() -> reqwest::Client {
    // reqwest's rustls needs the process's crypto provider, even for plain HTTP.
    tokendesk::http_client::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .expect("HTTP client")
}

/// Sends `req` and reads the whole answer.
pub async fn send(req: reqwest::RequestBuilder) -> Reply {
    let res = req.send().await.expect("request sent");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.text().await.expect("body");
    Reply {
        status,
        headers,
        body,
    }
}

/// A signed-out visitor's sign-in form: its session cookie and CSRF token.
pub async fn sign_in_form(client: &reqwest::Client, base: &str) -> (String, String) {
    let form = send(client.get(format!("{base}/login"))).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let cookie = form.session_cookie().expect("the form starts a session");
    (cookie, form.csrf())
}

/// Posts the sign-in form with `cookie` and `csrf` (and, when given, extra headers).
pub async fn post_sign_in(
    client: &reqwest::Client,
    base: &str,
    (cookie, csrf): &(String, String),
    login: &str,
    password: &str,
    headers: &[(&'static str, &str)],
) -> Reply {
    let body = serde_urlencoded::to_string([
        ("csrf", csrf.as_str()),
        ("login", login),
        ("password", password),
    ])
    .expect("form");
    let mut req = client
        .post(format!("{base}/login"))
        .header(COOKIE, cookie)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    send(req).await
}
