//! `GET /.well-known/ssf-configuration` (SSF §7.1, with what the CAEP interoperability profile
//! requires: `spec_version`, `delivery_methods_supported`, `jwks_uri`, the configuration,
//! status and verification endpoints, `authorization_schemes`) and `GET /.well-known/jwks.json`,
//! the keys SETs are signed with. Both are public.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::error::SsfError;
use super::paths;
use crate::config::Config;
use crate::db::{self, PgPool};
use crate::signals::{POLL, PUSH};

/// The transmitter configuration metadata.
pub async fn configuration(config: web::Data<Config>) -> HttpResponse {
    let s = &config.signals;
    HttpResponse::Ok().json(json!({
        "spec_version": "1_0",
        "issuer": s.issuer,
        "jwks_uri": s.url(paths::JWKS),
        "delivery_methods_supported": [PUSH, POLL],
        "configuration_endpoint": s.url(paths::STREAMS),
        "status_endpoint": s.url(paths::STATUS),
        "add_subject_endpoint": s.url(paths::ADD_SUBJECT),
        "remove_subject_endpoint": s.url(paths::REMOVE_SUBJECT),
        "verification_endpoint": s.url(paths::VERIFY),
        // Receivers authenticate with a credential an administrator gives them, presented as
        // an OAuth 2.0 bearer token (RFC 6750).
        "authorization_schemes": [{ "spec_urn": "urn:ietf:rfc:6749" }],
        "default_subjects": s.default_subjects.as_str(),
    }))
}

/// The published key set: the key that signs and those still within their grace period.
pub async fn jwks(
    config: web::Data<Config>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, SsfError> {
    let keys = config.signals.keys.clone();
    let set = db::run(pool.get_ref(), move |c| keys.jwks(c))
        .await
        .map_err(SsfError::from_app)?;
    Ok(HttpResponse::Ok().json(set))
}
