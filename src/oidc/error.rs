//! Why a sign-in through the provider, or a logout token, was refused — in terms the page
//! can turn into a clear message. Details for operators go to the log, never to the page.

/// Why a sign-in through the provider did not complete.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The provider could not be reached, timed out, or answered with a server error; trying
    /// again later may work.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider answered, but what it sent did not pass verification or could not be
    /// read (a bad signature, a wrong audience, a nonce that does not match, …).
    #[error("the provider's answer was refused: {0}")]
    BadAnswer(String),
    /// The provider refused the sign-in (`error=access_denied` and the like), or refused to
    /// exchange the code.
    #[error("the provider refused the sign-in: {error}")]
    Refused {
        /// The OAuth error code (`access_denied`, `invalid_grant`, …).
        error: String,
    },
    /// The answer does not belong to a sign-in started in this browser (no sign-in pending,
    /// a different `state`, or a code already used).
    #[error("the answer does not belong to a sign-in started here")]
    UnknownFlow,
    /// The sign-in started longer ago than it may take.
    #[error("the sign-in took too long")]
    Expired,
}

impl SignInError {
    /// Whether the person cancelled or was refused at the provider (rather than a fault).
    pub fn is_access_denied(&self) -> bool {
        matches!(self, SignInError::Refused { error } if error == "access_denied")
    }
}

/// Why a back-channel logout token was not acted upon.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogoutTokenError {
    /// The token is not a valid logout token from the provider for tokendesk (the endpoint
    /// answers 400 with the reason).
    #[error("{0}")]
    Invalid(String),
    /// The provider's keys could not be fetched to check it (503: the provider may retry).
    #[error("the provider's keys are unavailable: {0}")]
    Unavailable(String),
}

impl LogoutTokenError {
    /// A refusal with its reason.
    pub fn invalid(reason: impl Into<String>) -> Self {
        LogoutTokenError::Invalid(reason.into())
    }
}
