//! The authorization code flow with PKCE (S256), `state` and `nonce`: [`RelyingParty::begin`]
//! gives the URL to send the browser to and what to remember until it comes back;
//! [`RelyingParty::finish`] checks the answer, exchanges the code, verifies the ID token
//! (signature with an allowed algorithm, `iss`, `aud`, `exp`, `iat`, `nonce`, `at_hash`), reads
//! UserInfo when the provider has it, and says who signed in.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClientAuthMethod,
    CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthType, AuthorizationCode, Client, ClientId, ClientSecret,
    CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields,
    IdTokenVerifier, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, RedirectUrl, RequestTokenError, Scope, StandardErrorResponse,
    StandardTokenResponse, TokenResponse, UserInfoError,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use super::claims::{self, Identity};
use super::error::SignInError;
use super::provider::{Discovered, RelyingParty};
use super::settings::{CALLBACK_PATH, POST_LOGOUT_PATH};

/// Every claim beyond the ones `openidconnect` names, kept as JSON (the role claim, `sid`, …).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    pub claims: Map<String, Value>,
}

impl AdditionalClaims for OtherClaims {}

type IdFields = IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type ProviderTokenResponse = StandardTokenResponse<IdFields, CoreTokenType>;
type ProviderClient = Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    ProviderTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What the browser's session keeps between sending the person to the provider and their
/// return: one use only. The PKCE verifier and the nonce never leave tokendesk otherwise (the
/// session cookie is encrypted).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingSignIn {
    state: String,
    nonce: String,
    pkce_verifier: String,
    /// The local path to return to after signing in.
    pub next: String,
    /// Unix seconds when the sign-in started.
    started_at: i64,
}

/// The query of the provider's redirect back to tokendesk.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// RFC 9207: the issuer of this answer, which providers that send it must send right.
    pub iss: Option<String>,
}

impl RelyingParty {
    fn client(&self, discovered: &Discovered) -> Result<ProviderClient, SignInError> {
        let metadata = discovered.metadata.clone();
        // client_secret_basic unless the provider says it only takes client_secret_post.
        let auth_type = match metadata.token_endpoint_auth_methods_supported() {
            Some(methods)
                if !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
                    && methods.contains(&CoreClientAuthMethod::ClientSecretPost) =>
            {
                AuthType::RequestBody
            }
            _ => AuthType::BasicAuth,
        };
        let redirect = RedirectUrl::new(self.settings.url(CALLBACK_PATH))
            .map_err(|e| SignInError::BadAnswer(format!("redirect URL: {e}")))?;
        Ok(ProviderClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            self.settings.client_secret.clone().map(ClientSecret::new),
        )
        .set_auth_type(auth_type)
        .set_redirect_uri(redirect))
    }

    /// Starts a sign-in: the provider's authorization URL (code flow, PKCE S256, fresh `state`
    /// and `nonce`) and what to keep until the browser comes back.
    pub async fn begin(&self, next: String) -> Result<(String, PendingSignIn), SignInError> {
        let discovered = self.discovered().await?;
        let client = self.client(&discovered)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.settings.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        Ok((
            url.to_string(),
            PendingSignIn {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                next,
                started_at: Utc::now().timestamp(),
            },
        ))
    }

    /// Completes a sign-in from the provider's answer. `pending` is what [`Self::begin`] gave
    /// (`None` when the session holds no sign-in).
    pub async fn finish(
        &self,
        pending: Option<PendingSignIn>,
        callback: Callback,
    ) -> Result<Identity, SignInError> {
        let pending = pending.ok_or(SignInError::UnknownFlow)?;
        let state_matches = callback.state.as_deref().is_some_and(|s| {
            s.len() == pending.state.len()
                && bool::from(s.as_bytes().ct_eq(pending.state.as_bytes()))
        });
        if !state_matches {
            return Err(SignInError::UnknownFlow);
        }
        if let Some(error) = callback.error {
            tracing::info!(error = %error, description = ?callback.error_description, "the provider refused the sign-in");
            return Err(SignInError::Refused { error });
        }
        let age = Utc::now().timestamp() - pending.started_at;
        if age < 0 || age as u64 > self.settings.flow_lifetime.as_secs() {
            return Err(SignInError::Expired);
        }
        if let Some(iss) = callback.iss.as_deref() {
            if iss != self.settings.issuer {
                return Err(SignInError::BadAnswer(format!(
                    "the answer names another issuer: {iss}"
                )));
            }
        }
        let code = callback
            .code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| SignInError::BadAnswer("the answer has no code".into()))?;

        let mut discovered = self.discovered().await?;
        let client = self.client(&discovered)?;
        let token = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| SignInError::BadAnswer(format!("token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        let id_token = token
            .id_token()
            .ok_or_else(|| SignInError::BadAnswer("the token response has no ID token".into()))?;
        let nonce = Nonce::new(pending.nonce);

        let mut refreshed = false;
        let (id_claims, subject) = loop {
            // The verifier borrows the key set, so it is dropped before the keys may be fetched
            // again.
            let outcome = {
                let verifier = self.id_token_verifier(&discovered);
                id_token.claims(&verifier, &nonce).map(|c| {
                    if let Some(expected) = c.access_token_hash() {
                        let alg = id_token.signing_alg().map_err(bad)?;
                        let key = id_token.signing_key(&verifier).map_err(bad)?;
                        let actual = AccessTokenHash::from_token(token.access_token(), alg, key)
                            .map_err(bad)?;
                        if actual != *expected {
                            return Err(SignInError::BadAnswer(
                                "at_hash does not match the access token".into(),
                            ));
                        }
                    }
                    Ok((serde_json::to_value(c).map_err(bad)?, c.subject().clone()))
                })
            };
            match outcome {
                Ok(checked) => break checked?,
                Err(openidconnect::ClaimsVerificationError::SignatureVerification(
                    openidconnect::SignatureVerificationError::NoMatchingKey,
                )) if !refreshed => {
                    refreshed = true;
                    match self.refresh_keys(&discovered).await? {
                        Some(d) => discovered = d,
                        None => {
                            return Err(SignInError::BadAnswer(
                                "the ID token is signed with an unknown key".into(),
                            ))
                        }
                    }
                }
                Err(e) => return Err(SignInError::BadAnswer(format!("ID token: {e}"))),
            }
        };
        let id_claims = match id_claims {
            Value::Object(map) => map,
            _ => {
                return Err(SignInError::BadAnswer(
                    "ID token claims are not an object".into(),
                ))
            }
        };

        let userinfo = match client.user_info(token.access_token().clone(), Some(subject)) {
            Ok(request) => {
                let claims: openidconnect::UserInfoClaims<OtherClaims, CoreGenderClaim> = request
                    .request_async(&self.http)
                    .await
                    .map_err(userinfo_error)?;
                match serde_json::to_value(claims).map_err(bad)? {
                    Value::Object(map) => Some(map),
                    _ => None,
                }
            }
            // The provider has no UserInfo endpoint: the ID token says all there is.
            Err(_) => None,
        };
        let merged = claims::merge(id_claims, userinfo);
        claims::identity(&self.settings.issuer, &merged, &self.settings.roles)
            .ok_or_else(|| SignInError::BadAnswer("the ID token has no subject".into()))
    }

    fn id_token_verifier<'a>(
        &self,
        discovered: &'a Arc<Discovered>,
    ) -> IdTokenVerifier<'a, CoreJsonWebKey> {
        let skew = chrono::Duration::seconds(60);
        let max_age = chrono::Duration::from_std(self.settings.flow_lifetime).unwrap_or(skew);
        IdTokenVerifier::new_public_client(
            ClientId::new(self.settings.client_id.clone()),
            discovered.metadata.issuer().clone(),
            discovered.metadata.jwks().clone(),
        )
        .set_allowed_algs(self.settings.algorithms.clone())
        .set_issue_time_verifier_fn(move |iat: DateTime<Utc>| {
            let now = Utc::now();
            if iat > now + skew {
                Err(format!("issued in the future ({iat})"))
            } else if iat < now - max_age - skew {
                Err(format!("issued too long ago ({iat})"))
            } else {
                Ok(())
            }
        })
    }

    /// Where to send the browser to sign out at the provider too (RP-initiated logout), coming
    /// back to tokendesk's sign-in page; `None` when the provider has no end-session endpoint
    /// or cannot be reached (signing out of tokendesk then still works).
    pub async fn end_session_url(&self) -> Option<String> {
        let discovered = match self.discovered().await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "cannot sign out at the provider");
                return None;
            }
        };
        let endpoint = discovered
            .metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()?;
        let back = PostLogoutRedirectUrl::new(self.settings.url(POST_LOGOUT_PATH)).ok()?;
        Some(
            openidconnect::LogoutRequest::from(endpoint)
                .set_client_id(ClientId::new(self.settings.client_id.clone()))
                .set_post_logout_redirect_uri(back)
                .http_get_url()
                .to_string(),
        )
    }
}

fn bad(e: impl std::fmt::Display) -> SignInError {
    SignInError::BadAnswer(e.to_string())
}

fn token_error(
    e: RequestTokenError<super::http::HttpError, StandardErrorResponse<CoreErrorResponseType>>,
) -> SignInError {
    match e {
        RequestTokenError::ServerResponse(r) => {
            tracing::info!(error = %r, "the provider refused to exchange the code");
            SignInError::Refused {
                error: r.error().as_ref().to_string(),
            }
        }
        RequestTokenError::Request(e) => SignInError::Unavailable(e.to_string()),
        RequestTokenError::Parse(e, _) => SignInError::BadAnswer(format!("token response: {e}")),
        RequestTokenError::Other(m) => SignInError::BadAnswer(format!("token response: {m}")),
    }
}

fn userinfo_error(e: UserInfoError<super::http::HttpError>) -> SignInError {
    match e {
        UserInfoError::Request(e) => SignInError::Unavailable(e.to_string()),
        UserInfoError::Response(status, _, m) if status.is_server_error() => {
            SignInError::Unavailable(format!("UserInfo {status}: {m}"))
        }
        other => SignInError::BadAnswer(format!("UserInfo: {other}")),
    }
}
