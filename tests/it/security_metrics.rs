//! `/metrics` needs its bearer token, and no request can add series to it: labels come from
//! fixed sets.

use actix_web::http::Method;
use actix_web::test::{call_service, TestRequest};

use crate::harness::{body_text, TestApp};

/// The metrics text with the configured token.
async fn scrape<S, B>(app: &S, t: &TestApp) -> String
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let token = t.state.config.metrics_token.clone().expect("a token");
    let res = call_service(
        app,
        TestRequest::get()
            .uri("/metrics")
            .insert_header(("Authorization", format!("Bearer {token}")))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    body_text(res).await
}

fn series(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.rsplit_once(' ').map(|(name, _)| name).unwrap_or(l))
        .collect()
}

#[actix_web::test]
async fn metrics_need_the_bearer_token() {
    let t = TestApp::new();
    let app = t.service().await;
    for auth in [None, Some("Bearer wrong"), Some("Basic eDp5")] {
        let mut req = TestRequest::get().uri("/metrics");
        if let Some(a) = auth {
            req = req.insert_header(("Authorization", a));
        }
        let res = call_service(&app, req.to_request()).await;
        assert_eq!(res.status(), 401, "{auth:?}");
        assert!(res
            .headers()
            .get("www-authenticate")
            .is_some_and(|v| v.to_str().unwrap().starts_with("Bearer")));
        let body = body_text(res).await;
        assert!(!body.contains("tokendesk_"), "{body}");
    }
    assert!(scrape(&app, &t)
        .await
        .contains("tokendesk_http_requests_total"));
}

#[actix_web::test]
async fn without_a_token_metrics_are_off() {
    let mut t = TestApp::new();
    t.state.config.metrics_token = None;
    let app = t.service().await;
    let res = call_service(&app, TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(res.status(), 404);
    assert!(body_text(res).await.contains("TOKENDESK_METRICS_TOKEN"));
}

#[actix_web::test]
async fn three_hundred_made_up_methods_and_paths_add_no_series() {
    let t = TestApp::new();
    let app = t.service().await;
    // One of each kind first, so that every series the loop below can touch exists; the
    // first scrape creates the series of `/metrics` itself.
    let paths = ["/login", "/apps", "/api/auth/token/update", "/nowhere"];
    for path in paths {
        let req = TestRequest::default()
            .method(Method::from_bytes(b"BREW").unwrap())
            .uri(path);
        call_service(&app, req.to_request()).await;
    }
    call_service(&app, TestRequest::get().uri("/made/up").to_request()).await;
    scrape(&app, &t).await;
    let before = scrape(&app, &t).await;

    for i in 0..300 {
        let method = format!("X{i}METHOD");
        let path = paths[i % 4];
        let req = TestRequest::default()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(&format!("{path}?n={i}"));
        let res = call_service(&app, req.to_request()).await;
        assert!(res.status().as_u16() < 500, "{method} {path}");
        let req = TestRequest::get().uri(&format!("/made/up/{i}"));
        call_service(&app, req.to_request()).await;
    }

    let after = scrape(&app, &t).await;
    assert!(!after.contains("METHOD"), "no made-up method is a label");
    assert!(!after.contains("/made/up"), "no raw path is a label");
    assert!(after.contains(r#"method="other""#), "{after}");
    assert!(after.contains(r#"route="unmatched""#), "{after}");
    assert_eq!(
        series(&after),
        series(&before),
        "the same series, only their values moved"
    );
    assert!(
        after.len() < before.len() + 200,
        "{} bytes before, {} after",
        before.len(),
        after.len()
    );
}
