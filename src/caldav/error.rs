//! CalDAV errors and their HTTP form: preconditions become 403 with an XML `<d:error>` body,
//! client mistakes 4xx with a short text, backend failures a generic 500 (logged once, never
//! echoed to the client).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::BackendError;
use super::xml::{XmlError, XmlOut};

/// A WebDAV/CalDAV precondition or postcondition that failed (RFC 4918 §16, RFC 4791 §1.3,
/// RFC 6578 §3.2, RFC 3253, RFC 5323 §5.17).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precondition {
    NeedPrivileges,
    PropfindFiniteDepth,
    SupportedReport,
    SupportedFilter,
    SupportedCollation,
    ValidFilter,
    ValidSyncToken,
    /// Answered with 507, not 403: see [`DavError::TooManyMatches`].
    NumberOfMatchesWithinLimits,
}

impl Precondition {
    fn element(self) -> &'static str {
        match self {
            Precondition::NeedPrivileges => "d:need-privileges",
            Precondition::PropfindFiniteDepth => "d:propfind-finite-depth",
            Precondition::SupportedReport => "d:supported-report",
            Precondition::SupportedFilter => "c:supported-filter",
            Precondition::SupportedCollation => "c:supported-collation",
            Precondition::ValidFilter => "c:valid-filter",
            Precondition::ValidSyncToken => "d:valid-sync-token",
            Precondition::NumberOfMatchesWithinLimits => "d:number-of-matches-within-limits",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DavError {
    #[error("authentication required")]
    Unauthorized,
    #[error("not found")]
    NotFound,
    #[error("precondition failed: {0:?}")]
    Forbidden(Precondition),
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("bad request body: {0}")]
    Xml(#[from] XmlError),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The answer would exceed a limit: the client's `<d:limit>` on an initial sync, or the size
    /// ceiling of a multistatus. 507 with `number-of-matches-within-limits` (RFC 5323 §5.17,
    /// RFC 6578 §3.7); clients then ask for less (DAVx5 and Evolution multiget in batches).
    #[error("answer exceeds the limits")]
    TooManyMatches,
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl DavError {
    pub fn status_code(&self) -> StatusCode {
        match self {
            DavError::Unauthorized => StatusCode::UNAUTHORIZED,
            DavError::NotFound => StatusCode::NOT_FOUND,
            DavError::Forbidden(_) => StatusCode::FORBIDDEN,
            DavError::BadRequest(_) | DavError::Xml(_) => StatusCode::BAD_REQUEST,
            DavError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            DavError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            DavError::TooManyMatches => StatusCode::INSUFFICIENT_STORAGE,
            DavError::Backend(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<super::xml::AnswerTooLarge> for DavError {
    fn from(_: super::xml::AnswerTooLarge) -> Self {
        DavError::TooManyMatches
    }
}

/// The `<d:error>` body of a failed precondition.
pub(crate) fn precondition_body(p: Precondition) -> Vec<u8> {
    let mut out = XmlOut::new("d:error", 256);
    out.empty(p.element());
    out.finish("d:error")
}

impl IntoResponse for DavError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        match self {
            DavError::Unauthorized => {
                // Apple clients always probe without credentials first: not worth more than debug.
                tracing::debug!("caldav: 401, credentials missing or wrong");
                let mut res = (status, "authentication required\n").into_response();
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Basic realm="jmb", charset="UTF-8""#),
                );
                res
            }
            DavError::Forbidden(p) => {
                tracing::debug!(precondition = ?p, "caldav: 403");
                (status, [(header::CONTENT_TYPE, super::XML_CONTENT_TYPE)], precondition_body(p)).into_response()
            }
            DavError::MethodNotAllowed => {
                (status, [(header::ALLOW, super::ALLOW)], "method not allowed\n").into_response()
            }
            DavError::TooManyMatches => {
                tracing::debug!("caldav: 507, answer over the limits");
                let body = precondition_body(Precondition::NumberOfMatchesWithinLimits);
                (status, [(header::CONTENT_TYPE, super::XML_CONTENT_TYPE)], body).into_response()
            }
            DavError::Backend(e) => {
                tracing::error!(error.message = %e, error.cause_chain = ?e, "caldav: backend failure");
                (status, "internal error\n").into_response()
            }
            other => {
                tracing::debug!(error = %other, "caldav: client error");
                (status, format!("{other}\n")).into_response()
            }
        }
    }
}
