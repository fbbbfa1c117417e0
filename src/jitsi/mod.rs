//! The Jitsi contract: HS256 tokens exactly as Prosody's token authentication expects them, and the
//! room URLs people are sent to.
//!
//! The token is signed here with `hmac` and `sha2` rather than with a JWT crate: `jsonwebtoken` needs
//! a whole RSA and elliptic-curve backend compiled in just to sign HS256, and a JWS compact
//! serialisation with HS256 is three base64url parts and one HMAC (RFC 7515 §3.1, RFC 7518 §3.2).
//! The tests decode it with `jsonwebtoken` and the interop suite with PyJWT, as Prosody would.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::config::{Config, ConfigError};

/// Who a token is for.
#[derive(Debug, Clone)]
pub struct TokenUser {
    pub id: String,
    pub name: String,
    pub email: String,
}

#[derive(Debug, Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    room: &'a str,
    nbf: i64,
    exp: i64,
    context: Context<'a>,
}

#[derive(Debug, Serialize)]
struct Context<'a> {
    user: UserClaim<'a>,
}

/// Prosody rejects non-string values here, so every field is a string, `moderator` included.
#[derive(Debug, Serialize)]
struct UserClaim<'a> {
    id: &'a str,
    name: &'a str,
    email: &'a str,
    moderator: &'static str,
    affiliation: &'static str,
}

/// A room name as one URL path segment. Generated rooms are `[a-z]` and pass unchanged; a private
/// room is named after a uid, which may hold `#`, `?`, `/` or spaces: unencoded, `x#frag` sent the
/// browser to room `x` with the rest (and any token after it) as a fragment.
pub fn room_segment(room: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(room, SEGMENT).to_string()
}

/// Prosody's luajwtjitsi requires `typ` to be `JWT` and `alg` the configured algorithm.
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Mints moderator tokens and builds room URLs.
pub struct Jitsi {
    key: Hmac<Sha256>,
    base_url: String,
    app_id: String,
    audience: String,
    domain: String,
    pub signed_in_lifetime: i64,
    pub external_lifetime: i64,
}

impl Jitsi {
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let secret = config.jitsi_secret()?;
        if secret.is_empty() {
            return Err(ConfigError::Invalid { key: "jitsi.app_secret", reason: "is empty".into() });
        }
        Ok(Self {
            key: Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
                .map_err(|e| ConfigError::Invalid { key: "jitsi.app_secret", reason: e.to_string() })?,
            base_url: config.jitsi.base_url.trim_end_matches('/').to_string(),
            app_id: config.jitsi_app_id()?,
            audience: config.jitsi.audience.clone(),
            domain: config.jitsi_domain(),
            signed_in_lifetime: config.jitsi.token_lifetime_seconds as i64,
            external_lifetime: config.jitsi.external_moderator_token_lifetime_seconds as i64,
        })
    }

    /// A moderator token for `room`, valid from five seconds ago for `lifetime` seconds.
    pub fn moderator_token(&self, room: &str, user: &TokenUser, now: DateTime<Utc>, lifetime: i64) -> String {
        let now = now.timestamp();
        let claims = Claims {
            iss: &self.app_id,
            aud: &self.audience,
            sub: &self.domain,
            room,
            nbf: now - 5,
            exp: now + lifetime,
            context: Context {
                user: UserClaim {
                    id: &user.id,
                    name: &user.name,
                    email: &user.email,
                    moderator: "true",
                    affiliation: "owner",
                },
            },
        };
        // Serialising a struct of strings and integers cannot fail.
        let payload = serde_json::to_vec(&claims).unwrap_or_default();
        let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(HEADER), URL_SAFE_NO_PAD.encode(payload));
        let mut mac = self.key.clone();
        mac.update(signing_input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{signature}")
    }

    /// The plain room URL, for guests (they wait for a moderator).
    pub fn room_url(&self, room: &str) -> String {
        format!("{}/{}", self.base_url, room_segment(room))
    }

    /// The room URL carrying a moderator token.
    pub fn room_url_with_token(&self, room: &str, token: &str) -> String {
        format!("{}/{}?jwt={}", self.base_url, room_segment(room), token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};

    #[test]
    fn token_claims_match_prosody_contract() {
        let mut config = Config::embedded_default();
        config.jitsi.base_url = "https://meet.example.org/".into();
        let jitsi = Jitsi::from_config(&config).unwrap();
        let now: DateTime<Utc> = "2026-12-05T09:00:00Z".parse().unwrap();
        let user = TokenUser {
            id: "jdupont".into(),
            name: "Jean \"JD\" Dupont".into(),
            email: "jean.dupont@example.org".into(),
        };
        let token = jitsi.moderator_token("abcdefghijklmnop", &user, now, 900);
        let header = decode_header(&token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        assert_eq!(header.alg, Algorithm::HS256);
        let mut v = Validation::new(Algorithm::HS256);
        v.set_audience(&["jitsi"]);
        v.validate_exp = false;
        v.validate_nbf = false;
        let data = decode::<serde_json::Value>(
            &token,
            &DecodingKey::from_secret(config.jitsi.app_secret.expose().as_bytes()).unwrap(),
            &v,
        )
        .unwrap();
        let c = data.claims;
        assert_eq!(c["iss"], "jitsi-auth");
        assert_eq!(c["sub"], "meet.example.org");
        assert_eq!(c["room"], "abcdefghijklmnop");
        assert_eq!(c["nbf"], now.timestamp() - 5);
        assert_eq!(c["exp"], now.timestamp() + 900);
        assert_eq!(c["context"]["user"]["name"], "Jean \"JD\" Dupont");
        assert_eq!(c["context"]["user"]["moderator"], "true");
        assert_eq!(c["context"]["user"]["affiliation"], "owner");
        assert_eq!(jitsi.room_url("r"), "https://meet.example.org/r");
        assert_eq!(jitsi.room_url("x#frag"), "https://meet.example.org/x%23frag");
        assert_eq!(jitsi.room_url_with_token("a b/c?d", "t"), "https://meet.example.org/a%20b%2Fc%3Fd?jwt=t");
    }
}
