//! Reads Jitsi's token settings (`app_id`, `app_secret`) from Prosody's host configuration
//! (`/etc/prosody/conf.avail/<host>.cfg.lua`), as the original's installer did, so the secret is kept
//! in one place (`jitsi.prosody_config`).
//!
//! Only what that file holds in practice is understood: `VirtualHost "name"` and `Component "name"`
//! section lines, and `key = "value"` (or `'value'`) assignments, with `--` comments. Values built with
//! Lua expressions are refused with a message rather than guessed.

/// The token settings of one VirtualHost.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSettings {
    pub host: String,
    pub app_id: String,
    pub app_secret: String,
}

impl std::fmt::Debug for TokenSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSettings").field("host", &self.host).field("app_id", &self.app_id).finish_non_exhaustive()
    }
}

/// The settings of the VirtualHost named `domain`, or of the only VirtualHost that has them.
pub fn token_settings(text: &str, domain: &str) -> Result<TokenSettings, String> {
    let mut hosts: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    // `None`: outside any VirtualHost (global settings or a Component).
    let mut current: Option<usize> = None;
    for raw in text.lines() {
        let line = strip_comment(raw).trim();
        if let Some(rest) = line.strip_prefix("VirtualHost") {
            current = quoted(rest.trim()).map(|(name, _)| {
                hosts.push((name, None, None));
                hosts.len() - 1
            });
            continue;
        }
        if line.starts_with("Component") {
            current = None;
            continue;
        }
        let Some(i) = current else { continue };
        let Some((key, value)) = line.split_once('=') else { continue };
        let key = key.trim();
        if key != "app_id" && key != "app_secret" {
            continue;
        }
        let Some((value, after)) = quoted(value.trim()) else {
            return Err(format!("{key} of VirtualHost \"{}\" is not a plain quoted string", hosts[i].0));
        };
        if !after.trim().trim_end_matches(';').trim().is_empty() {
            return Err(format!("{key} of VirtualHost \"{}\" is not a plain quoted string", hosts[i].0));
        }
        if key == "app_id" {
            hosts[i].1 = Some(value);
        } else {
            hosts[i].2 = Some(value);
        }
    }
    let complete: Vec<&(String, Option<String>, Option<String>)> =
        hosts.iter().filter(|h| h.1.is_some() && h.2.is_some()).collect();
    let chosen = match complete.iter().find(|h| h.0.eq_ignore_ascii_case(domain)) {
        Some(h) => *h,
        None => match complete.as_slice() {
            [only] => *only,
            [] => return Err("no VirtualHost sets both app_id and app_secret".into()),
            _ => {
                return Err(format!(
                    "several VirtualHosts set app_id and app_secret and none is named {domain:?} (set jitsi.domain)"
                ));
            }
        },
    };
    Ok(TokenSettings {
        host: chosen.0.clone(),
        app_id: chosen.1.clone().unwrap_or_default(),
        app_secret: chosen.2.clone().unwrap_or_default(),
    })
}

/// The line without its `--` comment (a `--` inside quotes is kept).
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q && prev != '\\' => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '-' && prev == '-' => return &line[..i - 1],
            None => {}
        }
        prev = c;
    }
    line
}

/// A leading `"…"` or `'…'` string (backslash escapes of the quote and of `\` understood), and what
/// follows it.
fn quoted(s: &str) -> Option<(String, &str)> {
    let q = s.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let mut out = String::new();
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == q {
            return Some((out, &s[i + 1..]));
        } else {
            out.push(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const JITSI: &str = r#"
plugin_paths = { "/usr/share/jitsi-meet/prosody-plugins/" }
-- domain mapper options, must at least have domain base set to use the mapper
muc_mapper_domain_base = "meet.example.org";

VirtualHost "meet.example.org"
    authentication = "token" -- do not change
    -- app_id = "commented-out"
    app_id="jitsi-auth"
    app_secret = "s3cr3t--with-dashes-0123456789abcdef";
    allow_empty_token = false
    modules_enabled = { "bosh"; "ping"; }

VirtualHost "guest.meet.example.org"
    authentication = "anonymous"
    c2s_require_encryption = false

Component "conference.meet.example.org" "muc"
    app_id = "not-this-one"
"#;

    #[test]
    fn reads_the_token_host() {
        let s = token_settings(JITSI, "meet.example.org").unwrap();
        assert_eq!(s.host, "meet.example.org");
        assert_eq!(s.app_id, "jitsi-auth");
        assert_eq!(s.app_secret, "s3cr3t--with-dashes-0123456789abcdef");
        // The only VirtualHost with token settings, whatever the domain.
        assert_eq!(token_settings(JITSI, "other.example.org").unwrap().app_id, "jitsi-auth");
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert!(
            token_settings("VirtualHost \"a\"\n  authentication = \"anonymous\"\n", "a")
                .unwrap_err()
                .contains("no VirtualHost")
        );
        let two = "VirtualHost \"a\"\napp_id='x'\napp_secret='y'\nVirtualHost \"b\"\napp_id='x'\napp_secret='z'\n";
        assert!(token_settings(two, "c").unwrap_err().contains("several"));
        assert_eq!(token_settings(two, "b").unwrap().app_secret, "z");
        let expr = "VirtualHost \"a\"\napp_id = 'x'\napp_secret = os.getenv('S')\n";
        assert!(token_settings(expr, "a").unwrap_err().contains("not a plain quoted string"));
        let escaped = "VirtualHost \"a\"\napp_id = 'x'\napp_secret = \"q\\\"uote\"\n";
        assert_eq!(token_settings(escaped, "a").unwrap().app_secret, "q\"uote");
    }
}
