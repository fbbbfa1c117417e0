//! Random identifiers and keys. Every id, room name and token comes from the operating system's CSPRNG
//! on the server; nothing a client sends ever chooses one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngExt;
use sha2::Sha256;

/// A secret token (feeds, sessions, CSRF; the random part of [`link_token`]): 192 bits, URL-safe
/// base64 (32 characters).
pub fn token() -> String {
    let mut bytes = [0u8; 24];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A meeting id: 20 characters of `[a-z0-9]`, the booking time in milliseconds (9 base-36 digits,
/// enough until the year 5138) then 11 random characters (about 57 bits).
///
/// Time first so that ids grow: a new meeting's rows land at the end of the meetings and attendees
/// indexes keyed by meeting id instead of on a random page of each (every such page a read and a
/// write of 4 KiB per booking at 100 000 meetings). An id is not a credential (pages and the API check
/// who asks); the original used bare nanosecond timestamps.
pub fn meeting_id() -> String {
    let mut id = time_prefix();
    id.push_str(&random_string(11, BASE36));
    id
}

/// A personal-link token: the time in milliseconds (9 base-36 digits, as in [`meeting_id`]) then a
/// [`token`] (192 random bits, the secret).
///
/// Time first so that new links land at the end of the attendees' token index instead of on a random
/// page of it: that index was 24 of the 86 pages a booking with 20 guests wrote. The prefix tells
/// only when the link was made, which the invitation says too.
pub fn link_token() -> String {
    let mut token = time_prefix();
    token.push_str(&self::token());
    token
}

const BASE36: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// The current time in milliseconds, 9 base-36 digits: sorts as it grows until the year 5138.
pub(crate) fn time_prefix() -> String {
    let mut millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    let mut time = [b'0'; 9];
    for digit in time.iter_mut().rev() {
        *digit = BASE36[(millis % 36) as usize];
        millis /= 36;
    }
    String::from_utf8(time.to_vec()).expect("ASCII digits")
}

/// A Jitsi room name: 16 lower-case letters (about 75 bits), as the original generated them; Jitsi
/// lower-cases room names, so only `[a-z]` is used.
pub fn room_name() -> String {
    random_string(16, b"abcdefghijklmnopqrstuvwxyz")
}

fn random_string(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char).collect()
}

/// Keys derived from the server secret, one per purpose, so a value signed for one use is never valid
/// for another.
#[derive(Clone)]
pub struct Keys {
    root: Vec<u8>,
}

impl Keys {
    pub fn new(secret: &[u8]) -> Self {
        Self { root: secret.to_vec() }
    }

    /// HMAC-SHA256 of `message` under the key for `purpose`, URL-safe base64.
    pub fn sign(&self, purpose: &str, message: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.root).expect("HMAC accepts any key length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(message.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Constant-time check of a signature made by [`Keys::sign`].
    pub fn verify(&self, purpose: &str, message: &str, signature: &str) -> bool {
        let expected = self.sign(purpose, message);
        subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), signature.as_bytes()).into()
    }
}

/// The shortest server secret accepted (as for every secret, see [`crate::config::MIN_SECRET_BYTES`]).
const MIN_SECRET_BYTES: usize = 32;

/// Reads the server secret from `path`; `None` when the file does not exist. Refuses a file holding
/// fewer than 32 bytes.
fn read_secret(path: &std::path::Path) -> std::io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.len() >= MIN_SECRET_BYTES => Ok(Some(bytes)),
        Ok(bytes) => Err(std::io::Error::other(format!(
            "{} holds {} bytes, fewer than {MIN_SECRET_BYTES}: remove it to let jmb generate one, or write one with `openssl rand -hex 32`",
            path.display(),
            bytes.len()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Checks, creating nothing, what [`load_or_create_secret`] needs: an existing file of at least 32
/// bytes, or a folder where one can be created.
pub fn check_secret_file(path: &std::path::Path) -> std::io::Result<()> {
    if read_secret(path)?.is_some() {
        return Ok(());
    }
    let mut dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    while !dir.exists() {
        dir = dir.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    }
    crate::db::check_folder_writable(dir)
        .map_err(|e| std::io::Error::other(format!("cannot create it in {}: {e}", dir.display())))
}

/// Reads the server secret from `path`, creating it (mode 0600) with 256 random bits when missing.
pub fn load_or_create_secret(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    match read_secret(path) {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                crate::db::create_private_dir(dir)?;
            }
            let secret = token() + &token();
            write_private(path, secret.as_bytes())?;
            Ok(secret.into_bytes())
        }
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let t = token();
        assert_eq!(t.len(), 32);
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        let r = room_name();
        assert_eq!(r.len(), 16);
        assert!(r.chars().all(|c| c.is_ascii_lowercase()));
        assert_ne!(room_name(), room_name());
        assert!(meeting_id().chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        let (first, second) = (meeting_id(), meeting_id());
        assert_eq!((first.len(), second.len()), (20, 20));
        assert_ne!(first, second);
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(meeting_id() > second, "ids grow with time");
        let link = link_token();
        assert_eq!(link.len(), 41);
        assert!(link.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert!(link[..9] > second[..9], "the time prefix, as in meeting ids");
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(link_token() > link, "links grow with time");
    }

    #[test]
    fn signatures_are_bound_to_purpose() {
        let k = Keys::new(b"0123456789abcdef0123456789abcdef");
        let s = k.sign("csrf", "abc");
        assert!(k.verify("csrf", "abc", &s));
        assert!(!k.verify("session", "abc", &s));
        assert!(!k.verify("csrf", "abd", &s));
    }

    #[test]
    fn secret_file_is_created_private() {
        let dir = crate::db::tempdir::TempDirGuard::new().unwrap();
        let p = dir.path().join("secret.key");
        let a = load_or_create_secret(&p).unwrap();
        assert_eq!(load_or_create_secret(&p).unwrap(), a);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
