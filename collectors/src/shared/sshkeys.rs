//! SSH key parsers shared by the `sshd` collector and the `ssh-keys` plugin (which re-exports
//! them as `dossier_ssh_keys::parse`): `authorized_keys` lines (options, key type, key, comment, OpenSSH fingerprint),
//! `sshd_config` (the keywords that say where keys come from), and `/etc/passwd`.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest, Sha256};

/// One key line of an `authorized_keys` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyLine {
    /// Options as written (`command="..."`, `from="..."`, `no-pty`).
    pub options: Vec<String>,
    pub key_type: String,
    /// Base64 key blob as written.
    pub blob: String,
    pub comment: String,
}

/// Whether `t` is an OpenSSH public key type.
pub fn is_key_type(t: &str) -> bool {
    matches!(t, "ssh-rsa" | "ssh-dss" | "ssh-ed25519" | "ssh-ed448")
        || t.starts_with("ecdsa-sha2-")
        || t.starts_with("sk-ecdsa-sha2-")
        || t.starts_with("sk-ssh-ed25519")
        || t.ends_with("-cert-v01@openssh.com")
}

/// Splits the options field: commas outside double quotes separate options; a backslash
/// escapes a quote inside quotes.
fn split_options(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The options field at the start of `line` (up to the first whitespace outside quotes) and
/// the rest.
fn take_options(line: &str) -> (&str, &str) {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => return (&line[..i], line[i..].trim_start()),
            _ => {}
        }
    }
    (line, "")
}

/// Parses one line; `Ok(None)` for blank lines and comments.
pub fn key_line(line: &str) -> Result<Option<KeyLine>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let first = line.split_whitespace().next().unwrap_or_default();
    let (options, rest) = if is_key_type(first) {
        (Vec::new(), line)
    } else {
        let (opts, rest) = take_options(line);
        (split_options(opts), rest)
    };
    let mut words = rest.splitn(3, char::is_whitespace);
    let key_type = words.next().unwrap_or_default().to_string();
    if !is_key_type(&key_type) {
        return Err(format!("`{key_type}` is not an SSH key type"));
    }
    let blob = words
        .next()
        .filter(|b| !b.is_empty())
        .ok_or("no key after the key type")?
        .to_string();
    let comment = words.next().unwrap_or_default().trim().to_string();
    Ok(Some(KeyLine {
        options,
        key_type,
        blob,
        comment,
    }))
}

/// The value of option `name` (`command="x"` -> `x`), unquoted and unescaped.
pub fn option_value(options: &[String], name: &str) -> Option<String> {
    options.iter().find_map(|o| {
        let (k, v) = o.split_once('=')?;
        if !k.eq_ignore_ascii_case(name) {
            return None;
        }
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        Some(v.replace("\\\"", "\""))
    })
}

/// OpenSSH's SHA-256 fingerprint of a key blob (`SHA256:` + unpadded base64 of the digest),
/// and the key type named inside the blob.
pub fn fingerprint(blob_b64: &str) -> Result<(String, String), String> {
    let blob = STANDARD
        .decode(blob_b64)
        .map_err(|e| format!("key is not valid base64: {e}"))?;
    let inner = blob
        .get(..4)
        .map(|l| u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize)
        .and_then(|n| blob.get(4..4 + n))
        .and_then(|t| std::str::from_utf8(t).ok())
        .ok_or("key blob does not start with its type")?
        .to_string();
    let digest = Sha256::digest(&blob);
    Ok((format!("SHA256:{}", STANDARD_NO_PAD.encode(digest)), inner))
}

/// One `/etc/passwd` account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub home: String,
    pub shell: String,
}

/// Accounts of a passwd file (malformed lines skipped).
pub fn passwd(text: &str) -> Vec<Account> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 7 || f[0].is_empty() {
                return None;
            }
            Some(Account {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                home: f[5].to_string(),
                shell: f[6].to_string(),
            })
        })
        .collect()
}

/// What `sshd_config` says about where keys come from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SshdKeys {
    /// `AuthorizedKeysFile` patterns in force for every login (first value wins, as sshd
    /// does); `None` when not set (the default then applies).
    pub files: Option<Vec<String>>,
    /// Patterns set only inside `Match` blocks.
    pub match_files: Vec<String>,
    pub command: Option<String>,
    pub command_user: Option<String>,
    pub permit_root_login: Option<String>,
    /// `Include` patterns, in order.
    pub includes: Vec<String>,
}

/// The default `AuthorizedKeysFile`.
pub const DEFAULT_FILES: [&str; 2] = [".ssh/authorized_keys", ".ssh/authorized_keys2"];

/// Words of a configuration line (`"a b"` quoting honoured).
fn config_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            c if (c.is_whitespace() || c == '=') && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Folds a configuration file into `k`, as sshd reads it: an `Include` is read where it
/// stands (`include` turns its pattern into the texts of the files it names, in order), and
/// the first value of a keyword wins. `in_match` carries over into included files.
pub fn sshd_config(
    text: &str,
    k: &mut SshdKeys,
    in_match: &mut bool,
    include: &mut dyn FnMut(&str) -> Vec<String>,
) {
    sshd_config_at(text, k, in_match, include, 0);
}

/// Deepest nesting of `Include` followed.
const MAX_DEPTH: usize = 16;

fn sshd_config_at(
    text: &str,
    k: &mut SshdKeys,
    in_match: &mut bool,
    include: &mut dyn FnMut(&str) -> Vec<String>,
    depth: usize,
) {
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let w = config_words(line);
        let Some(key) = w.first().map(|s| s.to_ascii_lowercase()) else {
            continue;
        };
        let args = &w[1..];
        match key.as_str() {
            "match" => *in_match = !args.iter().all(|a| a.eq_ignore_ascii_case("all")),
            "include" => {
                for a in args {
                    k.includes.push(a.clone());
                    if depth < MAX_DEPTH {
                        for t in include(a) {
                            sshd_config_at(&t, k, in_match, include, depth + 1);
                        }
                    }
                }
            }
            "authorizedkeysfile" if *in_match => k.match_files.extend(args.iter().cloned()),
            "authorizedkeysfile" if k.files.is_none() => k.files = Some(args.to_vec()),
            "authorizedkeyscommand" if !*in_match && k.command.is_none() => {
                k.command = Some(args.join(" "))
            }
            "authorizedkeyscommanduser" if !*in_match && k.command_user.is_none() => {
                k.command_user = args.first().cloned()
            }
            "permitrootlogin" if !*in_match && k.permit_root_login.is_none() => {
                k.permit_root_login = args.first().cloned()
            }
            _ => {}
        }
    }
}

/// Expands an `AuthorizedKeysFile` pattern for an account (`%%`, `%h`, `%u`, `%U`; relative
/// to the home directory); `None` for `none`.
pub fn expand(pattern: &str, a: &Account) -> Option<String> {
    if pattern.eq_ignore_ascii_case("none") {
        return None;
    }
    let mut out = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('h') => out.push_str(&a.home),
            Some('u') => out.push_str(&a.name),
            Some('U') => out.push_str(&a.uid.to_string()),
            Some(o) => {
                out.push('%');
                out.push(o);
            }
            None => out.push('%'),
        }
    }
    if out.starts_with('/') {
        Some(out)
    } else {
        Some(format!("{}/{out}", a.home.trim_end_matches('/')))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The public key of `ssh-keygen -t ed25519` for a fixed seed, built by hand.
    fn ed25519(seed: u8) -> String {
        let mut blob = Vec::new();
        blob.extend_from_slice(&11u32.to_be_bytes());
        blob.extend_from_slice(b"ssh-ed25519");
        blob.extend_from_slice(&32u32.to_be_bytes());
        blob.extend_from_slice(&[seed; 32]);
        STANDARD.encode(blob)
    }

    #[test]
    fn key_lines_with_and_without_options() {
        let k = ed25519(1);
        let l = key_line(&format!("ssh-ed25519 {k} alice@laptop"))
            .unwrap()
            .unwrap();
        assert!(l.options.is_empty());
        assert_eq!(
            (l.key_type.as_str(), l.comment.as_str()),
            ("ssh-ed25519", "alice@laptop")
        );
        let l = key_line(&format!(
            "command=\"/bin/echo \\\"hi, there\\\"\",from=\"10.0.0.0/8,!10.0.0.1\",no-pty ssh-ed25519 {k} backup key"
        ))
        .unwrap()
        .unwrap();
        assert_eq!(l.options.len(), 3);
        assert_eq!(
            option_value(&l.options, "command").unwrap(),
            "/bin/echo \"hi, there\""
        );
        assert_eq!(
            option_value(&l.options, "from").unwrap(),
            "10.0.0.0/8,!10.0.0.1"
        );
        assert_eq!(l.comment, "backup key");
        assert_eq!(key_line("# comment").unwrap(), None);
        assert_eq!(key_line("   ").unwrap(), None);
        assert!(key_line("no-pty bogus AAAA").is_err());
        assert!(key_line("ssh-rsa").is_err());
    }

    #[test]
    fn fingerprints_match_openssh() {
        // ssh-keygen -lf on this key prints this fingerprint (checked by hand once; the
        // value is SHA-256 of the decoded blob, base64 without padding).
        let (fp, inner) = fingerprint(&ed25519(1)).unwrap();
        assert_eq!(inner, "ssh-ed25519");
        let digest = Sha256::digest(STANDARD.decode(ed25519(1)).unwrap());
        assert_eq!(fp, format!("SHA256:{}", STANDARD_NO_PAD.encode(digest)));
        assert!(!fp.ends_with('='));
        assert!(fingerprint("!!!").is_err());
        assert!(fingerprint(&STANDARD.encode([0, 0, 0, 9, b'x'])).is_err());
    }

    #[test]
    fn sshd_config_first_value_wins_and_match_blocks_are_separate() {
        let mut k = SshdKeys::default();
        let mut m = false;
        let mut inc = |p: &str| {
            assert_eq!(p, "/etc/ssh/sshd_config.d/*.conf");
            vec!["PermitRootLogin=prohibit-password\n".to_string()]
        };
        sshd_config(
            "Include /etc/ssh/sshd_config.d/*.conf\nAuthorizedKeysFile .ssh/authorized_keys /etc/ssh/keys/%u\nAuthorizedKeysFile ignored\nPermitRootLogin yes\nMatch User backup\n  AuthorizedKeysFile /srv/backup/keys\nMatch all\nAuthorizedKeysCommand /usr/bin/sss_ssh_authorizedkeys %u\n",
            &mut k,
            &mut m,
            &mut inc,
        );
        assert_eq!(
            k.files.as_deref(),
            Some(
                &[
                    ".ssh/authorized_keys".to_string(),
                    "/etc/ssh/keys/%u".to_string()
                ][..]
            )
        );
        assert_eq!(k.match_files, ["/srv/backup/keys"]);
        assert_eq!(k.permit_root_login.as_deref(), Some("prohibit-password"));
        assert_eq!(
            k.command.as_deref(),
            Some("/usr/bin/sss_ssh_authorizedkeys %u")
        );
        assert_eq!(k.includes, ["/etc/ssh/sshd_config.d/*.conf"]);
        let a = Account {
            name: "bob".into(),
            uid: 1001,
            home: "/home/bob/".into(),
            shell: "/bin/sh".into(),
        };
        assert_eq!(
            expand(".ssh/authorized_keys", &a).unwrap(),
            "/home/bob/.ssh/authorized_keys"
        );
        assert_eq!(expand("/k/%u.%U.%%", &a).unwrap(), "/k/bob.1001.%");
        assert_eq!(expand("none", &a), None);
        assert_eq!(passwd("root:x:0:0:root:/root:/bin/bash\nbad\n").len(), 1);
    }
}
