//! The [`SignedIn`] extractor: handlers that take it require an identity.
//! A refused request is answered in the caller's format: a problem document under `/api/`, a page (or
//! a redirect to the demo sign-in) elsewhere. Every refusal of an untrusted peer is logged.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use super::{AuthError, peer_of};
use crate::identity::{Actor, Identity};
use crate::state::AppState;
use crate::web::PageError;
use crate::web::problem::Problem;

/// A signed-in caller, with whether they may create meetings.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub identity: Identity,
    pub is_editor: bool,
    /// The editor policy could not decide (the directory did not answer): `is_editor` is false.
    pub editor_undecided: bool,
}

impl SignedIn {
    /// Refuses a caller who may not book: [`BookingError::NotEditor`], or
    /// [`BookingError::EditorUndecided`] when the directory did not answer.
    pub fn ensure_editor(&self) -> Result<(), crate::booking::BookingError> {
        match (self.is_editor, self.editor_undecided) {
            (true, _) => Ok(()),
            (false, true) => Err(crate::booking::BookingError::EditorUndecided),
            (false, false) => Err(crate::booking::BookingError::NotEditor),
        }
    }

    /// The caller as the core sees them.
    pub fn actor(&self) -> Actor {
        Actor { identity: self.identity.clone(), is_editor: self.is_editor }
    }
}

pub struct AuthRejection {
    error: AuthError,
    api: bool,
    login: Option<String>,
    tr: crate::i18n::Tr,
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        if self.api {
            let (status, id, args) = match &self.error {
                AuthError::Anonymous => (StatusCode::UNAUTHORIZED, "error-unauthorized", vec![]),
                AuthError::UntrustedPeer => (StatusCode::FORBIDDEN, "error-untrusted-proxy", vec![]),
                AuthError::Malformed(d) => {
                    (StatusCode::FORBIDDEN, "error-bad-identity", vec![("detail", d.to_string())])
                }
            };
            return Problem::new(status, self.tr.ta(id, &args)).into_response();
        }
        match self.error {
            AuthError::Anonymous => match self.login {
                Some(url) => Redirect::to(&url).into_response(),
                None => PageError::Unauthorized.into_response(),
            },
            AuthError::UntrustedPeer => PageError::forbidden("error-untrusted-proxy").into_response(),
            AuthError::Malformed(d) => {
                PageError::forbidden_with("error-bad-identity", vec![("detail", d.to_string())]).into_response()
            }
        }
    }
}

async fn identify(parts: &Parts, state: &AppState) -> Result<SignedIn, AuthRejection> {
    let peer = peer_of(parts);
    match state.identity.identify(parts, peer).await {
        Ok(identity) => {
            let (is_editor, editor_undecided) = match state.editors.is_editor(&identity).await {
                Ok(yes) => (yes, false),
                Err(crate::identity::Undecided) => (false, true),
            };
            Ok(SignedIn { identity, is_editor, editor_undecided })
        }
        Err(error) => {
            match &error {
                AuthError::UntrustedPeer => {
                    tracing::warn!(target: "audit", ?peer, path = %parts.uri.path(), "identity headers refused: peer is not a trusted proxy")
                }
                AuthError::Malformed(d) => {
                    tracing::warn!(target: "audit", ?peer, detail = d, "identity headers refused: malformed")
                }
                AuthError::Anonymous => tracing::debug!(path = %parts.uri.path(), "anonymous request"),
            }
            let next = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            Err(AuthRejection {
                error,
                api: parts.uri.path().starts_with("/api/"),
                login: state.identity.login_url(next),
                tr: state.tr(&parts.headers),
            })
        }
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(cached) = parts.extensions.get::<SignedIn>() {
            return Ok(cached.clone());
        }
        let user = identify(parts, state).await?;
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}
