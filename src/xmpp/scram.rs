//! SASL SCRAM (RFC 5802, RFC 7677) for the bot's sign-in, without channel binding: SCRAM-SHA-256 and
//! SCRAM-SHA-1 (Prosody's `internal_hashed` storage keeps SHA-1 keys by default, so that is what it
//! offers). The server's final signature is checked: a server that does not know the password cannot
//! pretend to.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Iteration counts above this are refused: a hostile server could otherwise make jmb spin (the
/// hashing runs on the async worker; Prosody's default is 4096).
const MAX_ITERATIONS: u32 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha1,
    Sha256,
}

impl Hash {
    pub fn mechanism(self) -> &'static str {
        match self {
            Hash::Sha1 => "SCRAM-SHA-1",
            Hash::Sha256 => "SCRAM-SHA-256",
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha1 => {
                let mut m = Hmac::<Sha1>::new_from_slice(key).expect("HMAC takes any key length");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            Hash::Sha256 => {
                let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha1 => Sha1::digest(data).to_vec(),
            Hash::Sha256 => Sha256::digest(data).to_vec(),
        }
    }

    /// PBKDF2 with this HMAC, one block (`Hi` of RFC 5802).
    fn hi(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        let mut first = salt.to_vec();
        first.extend_from_slice(&1u32.to_be_bytes());
        let mut u = self.hmac(password, &first);
        let mut out = u.clone();
        for _ in 1..iterations {
            u = self.hmac(password, &u);
            for (o, x) in out.iter_mut().zip(&u) {
                *o ^= x;
            }
        }
        out
    }
}

/// A SCRAM exchange in progress.
pub struct Scram {
    hash: Hash,
    client_nonce: String,
    client_first_bare: String,
    password: String,
    server_signature: Option<Vec<u8>>,
}

impl Scram {
    /// `username`: the JID's local part. `nonce`: fresh randomness (printable, no comma).
    pub fn new(hash: Hash, username: &str, password: &str, nonce: &str) -> Self {
        let name = username.replace('=', "=3D").replace(',', "=2C");
        Self {
            hash,
            client_nonce: nonce.to_string(),
            client_first_bare: format!("n={name},r={nonce}"),
            password: password.to_string(),
            server_signature: None,
        }
    }

    /// The initial response (`n,,` and the bare client-first message).
    pub fn client_first(&self) -> Vec<u8> {
        format!("n,,{}", self.client_first_bare).into_bytes()
    }

    /// Answers the server's first message with the proof.
    pub fn client_final(&mut self, server_first: &[u8]) -> Result<Vec<u8>, String> {
        let server_first = std::str::from_utf8(server_first).map_err(|_| "server-first is not UTF-8")?;
        let (mut nonce, mut salt, mut iterations) = (None, None, None);
        for part in server_first.split(',') {
            match part.split_at_checked(2) {
                Some(("r=", v)) => nonce = Some(v),
                Some(("s=", v)) => salt = Some(STANDARD.decode(v).map_err(|_| "salt is not base64")?),
                Some(("i=", v)) => iterations = Some(v.parse::<u32>().map_err(|_| "bad iteration count")?),
                Some(("m=", _)) => return Err("server requires an unknown SCRAM extension".into()),
                _ => {}
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err("server-first lacks r, s or i".into());
        };
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return Err("server nonce does not extend ours".into());
        }
        if !(1..=MAX_ITERATIONS).contains(&iterations) {
            return Err(format!("iteration count {iterations} out of range"));
        }
        let h = self.hash;
        let salted = h.hi(self.password.as_bytes(), &salt, iterations);
        let client_key = h.hmac(&salted, b"Client Key");
        let stored_key = h.digest(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let signature = h.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(&signature).map(|(k, s)| k ^ s).collect();
        let server_key = h.hmac(&salted, b"Server Key");
        self.server_signature = Some(h.hmac(&server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", STANDARD.encode(proof)).into_bytes())
    }

    /// Checks the server's final message (`v=` its signature).
    pub fn verify_server_final(&self, server_final: &[u8]) -> Result<(), String> {
        let text = std::str::from_utf8(server_final).map_err(|_| "server-final is not UTF-8")?;
        let Some(v) = text.split(',').find_map(|p| p.strip_prefix("v=")) else {
            return Err("server-final carries no signature".into());
        };
        let got = STANDARD.decode(v).map_err(|_| "server signature is not base64")?;
        let Some(expected) = &self.server_signature else { return Err("server-final before server-first".into()) };
        if bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_slice(), got.as_slice())) {
            Ok(())
        } else {
            Err("the server's SCRAM signature is wrong: it does not know the password".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5802 section 5 (SCRAM-SHA-1) and RFC 7677 section 3 (SCRAM-SHA-256) examples.
    #[test]
    fn rfc_examples() {
        let mut s = Scram::new(Hash::Sha1, "user", "pencil", "fyko+d2lbbFgONRv9qkxdawL");
        assert_eq!(s.client_first(), b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
        let last = s.client_final(b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096").unwrap();
        assert_eq!(
            String::from_utf8(last).unwrap(),
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
        );
        s.verify_server_final(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=").unwrap();
        assert!(s.verify_server_final(b"v=AAAApqV8S7suAoZWja4dJRkFsKQ=").is_err());

        let mut s = Scram::new(Hash::Sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
        let last = s
            .client_final(b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
            .unwrap();
        assert_eq!(
            String::from_utf8(last).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        s.verify_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").unwrap();
    }

    #[test]
    fn hostile_server_first_is_refused() {
        let mut s = Scram::new(Hash::Sha1, "u,=x", "p", "abc");
        assert_eq!(s.client_first(), b"n,,n=u=2C=3Dx,r=abc");
        assert!(s.client_final(b"r=xyz,s=QSXCR+Q6sek8bf92,i=4096").is_err(), "nonce not ours");
        assert!(s.client_final(b"r=abc,s=QSXCR+Q6sek8bf92,i=4096").is_err(), "nonce not extended");
        assert!(s.client_final(b"r=abcd,s=QSXCR+Q6sek8bf92,i=4000000000").is_err(), "too many iterations");
        assert!(s.client_final(b"r=abcd,s=QSXCR+Q6sek8bf92,i=100001").is_err(), "above the cap");
        assert!(s.client_final(b"r=abcd,s=QSXCR+Q6sek8bf92").is_err(), "no iteration count");
        assert!(s.verify_server_final(b"v=AAAA").is_err(), "final before first");
    }
}
