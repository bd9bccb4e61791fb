//! A small cookie-keeping client over the in-process app, for the page tests: it signs in,
//! follows nothing by itself, and reads the CSRF token out of the pages as a browser would.

use std::net::SocketAddr;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header;
use actix_web::test::{call_service, read_body, TestRequest};

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub location: Option<String>,
    pub request_id: Option<String>,
    pub headers: actix_web::http::header::HeaderMap,
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
}

/// One visitor: a session cookie, an address, and headers sent with every request (a proxy's
/// `X-Forwarded-For`).
pub struct Visitor {
    pub cookie: Option<String>,
    pub peer: SocketAddr,
    pub headers: Vec<(String, String)>,
}

impl Visitor {
    /// A visitor without a cookie, from 127.0.0.1.
    pub fn new() -> Self {
        Self::from_address("127.0.0.1:40000")
    }

    /// A visitor from the given address.
    pub fn from_address(addr: &str) -> Self {
        Visitor {
            cookie: None,
            peer: addr.parse().expect("socket address"),
            headers: Vec::new(),
        }
    }

    /// `GET path`.
    pub async fn get<S, B>(&mut self, app: &S, path: &str) -> Reply
    where
        S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
        B: MessageBody,
    {
        let req = self.with_cookie(TestRequest::get().uri(path));
        self.send(app, req).await
    }

    /// `POST path` with form fields, exactly as given (the test adds `csrf` itself).
    pub async fn post<S, B>(&mut self, app: &S, path: &str, fields: &[(&str, &str)]) -> Reply
    where
        S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
        B: MessageBody,
    {
        let body = serde_urlencoded::to_string(fields).expect("form encoding");
        let req = self.with_cookie(
            TestRequest::post()
                .uri(path)
                .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
                .set_payload(body),
        );
        self.send(app, req).await
    }

    /// Opens `page`, takes its CSRF token and posts `fields` with it to `action`.
    pub async fn submit<S, B>(
        &mut self,
        app: &S,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> Reply
    where
        S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
        B: MessageBody,
    {
        let shown = self.get(app, page).await;
        assert_eq!(shown.status, 200, "{page}: {}", shown.body);
        let csrf = shown.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(app, action, &all).await
    }

    /// Signs in through the form; returns the answer to the POST.
    pub async fn sign_in<S, B>(&mut self, app: &S, login: &str, password: &str) -> Reply
    where
        S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
        B: MessageBody,
    {
        self.submit(
            app,
            "/login",
            "/login",
            &[("login", login), ("password", password)],
        )
        .await
    }

    /// Sends any request with this visitor's cookie, address and headers.
    pub async fn send_request<S, B>(&mut self, app: &S, req: TestRequest) -> Reply
    where
        S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
        B: MessageBody,
    {
        let req = self.with_cookie(req);
        self.send(app, req).await
    }

    fn with_cookie(&self, req: TestRequest) -> TestRequest {
        let mut req = req.peer_addr(self.peer);
        for (name, value) in &self.headers {
            req = req.insert_header((name.as_str(), value.as_str()));
        }
        match &self.cookie {
            Some(c) => req.insert_header((header::COOKIE, c.clone())),
            None => req,
        }
    }

    async fn send<S, B>(&mut self, app: &S, req: TestRequest) -> Reply
    where
        S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
        B: MessageBody,
    {
        let res = call_service(app, req.to_request()).await;
        for value in res.headers().get_all(header::SET_COOKIE) {
            let text = value.to_str().expect("cookie header");
            let pair = text.split(';').next().unwrap_or("");
            if let Some(v) = pair.strip_prefix(&format!("{}=", tokendesk::SESSION_COOKIE)) {
                let removed = v.is_empty() || text.to_ascii_lowercase().contains("max-age=0");
                self.cookie = (!removed).then(|| pair.to_string());
            }
        }
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().expect("location").to_string());
        let request_id = res
            .headers()
            .get("x-request-id")
            .map(|v| v.to_str().expect("request id").to_string());
        let headers = res.headers().clone();
        let body = String::from_utf8_lossy(&read_body(res).await).into_owned();
        Reply {
            status,
            location,
            request_id,
            headers,
            body,
        }
    }
}
