//! The AWS shared credentials file (`~/.aws/credentials`, or `AWS_SHARED_CREDENTIALS_FILE`):
//! the keys of the profile `AWS_PROFILE` (or `default`), read when the environment names no
//! key. Only the three key entries are read; the keys are never printed.

use std::path::PathBuf;

/// A profile's keys.
#[derive(Clone, PartialEq, Eq)]
pub struct Keys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(not shown)")
    }
}

/// The keys of the selected profile, `None` without a credentials file; an error names the
/// file and profile when the file exists but has no keys for the profile.
pub fn keys() -> Result<Option<Keys>, String> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let path = match env("AWS_SHARED_CREDENTIALS_FILE") {
        Some(p) => PathBuf::from(p),
        None => match env("HOME") {
            Some(h) => PathBuf::from(h).join(".aws/credentials"),
            None => return Ok(None),
        },
    };
    let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && env("AWS_PROFILE").is_none() => {
            return Ok(None);
        }
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    parse(&text, &profile)
        .map(Some)
        .ok_or_else(|| format!("{}: no keys for profile {profile}", path.display()))
}

/// The keys of `profile` in the text of a credentials file.
fn parse(text: &str, profile: &str) -> Option<Keys> {
    let mut inside = false;
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = section.trim() == profile;
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if !inside {
            continue;
        }
        let v = Some(v.trim().to_string());
        match k.trim() {
            "aws_access_key_id" => id = v,
            "aws_secret_access_key" => secret = v,
            "aws_session_token" => token = v,
            _ => {}
        }
    }
    Some(Keys {
        access_key_id: id?,
        secret_access_key: secret?,
        session_token: token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_named_profile_only() {
        let text = "[default]\naws_access_key_id = A\naws_secret_access_key = B\n\n\
                    # comment\n[case]\naws_access_key_id=C\naws_secret_access_key=D\naws_session_token=E\n";
        let d = parse(text, "default").unwrap();
        assert_eq!((d.access_key_id.as_str(), d.session_token), ("A", None));
        let c = parse(text, "case").unwrap();
        assert_eq!(c.secret_access_key, "D");
        assert_eq!(c.session_token.as_deref(), Some("E"));
        assert!(parse(text, "other").is_none());
        assert_eq!(format!("{c:?}"), "Keys(not shown)");
    }
}
