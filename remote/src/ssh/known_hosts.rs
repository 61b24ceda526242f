//! Host key checking against known_hosts files, before any authentication.
//!
//! Plain and hashed (`|1|salt|hmac`) entries are understood and `@revoked` keys refused. An
//! unknown key is refused unless the caller opted into trust on first use (then it is
//! appended to the primary file under a lock); a changed key, or a key of a type not recorded
//! for a host that has keys of other types, is always refused. The host key algorithm
//! preference puts the types already known for a host first.

use super::error::ConnectError;
use super::settings::{SshSettings, SshTarget};
use base64::Engine;
use ssh2::{CheckResult, HashType, KnownHostFileKind, Session};
use std::io::{Read, Write};
use std::path::Path;

fn key_type_name(t: ssh2::HostKeyType) -> &'static str {
    use ssh2::HostKeyType::*;
    match t {
        Rsa => "ssh-rsa",
        Dss => "ssh-dss",
        Ecdsa256 => "ecdsa-sha2-nistp256",
        Ecdsa384 => "ecdsa-sha2-nistp384",
        Ecdsa521 => "ecdsa-sha2-nistp521",
        Ed25519 => "ssh-ed25519",
        Unknown => "unknown",
    }
}

fn key_type_label(t: ssh2::HostKeyType) -> &'static str {
    use ssh2::HostKeyType::*;
    match t {
        Rsa => "RSA",
        Dss => "DSA",
        Ecdsa256 | Ecdsa384 | Ecdsa521 => "ECDSA",
        Ed25519 => "ED25519",
        Unknown => "UNKNOWN",
    }
}

/// Host key algorithms in preference order (what OpenSSH offers, without the SHA-1 ones).
const HOSTKEY_PREF: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
];

/// Whether a known_hosts host field (`name`, `[name]:port`, comma lists, or a hashed
/// `|1|salt|hmac` entry) names `name`. Patterns with wildcards are not matched here (libssh2
/// does not support them either).
fn host_field_matches(field: &str, name: &str) -> bool {
    if let Some(rest) = field.strip_prefix("|1|") {
        let Some((salt, hash)) = rest.split_once('|') else {
            return false;
        };
        let b64 = &base64::engine::general_purpose::STANDARD;
        let (Ok(salt), Ok(hash)) = (b64.decode(salt), b64.decode(hash)) else {
            return false;
        };
        use hmac::{KeyInit, Mac};
        let Ok(mut mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(&salt) else {
            return false;
        };
        mac.update(name.as_bytes());
        return mac.verify_slice(&hash).is_ok();
    }
    field.split(',').any(|h| h == name)
}

/// Key types recorded for `name` (plain and hashed entries; markers left out).
pub(super) fn known_key_types(text: &str, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('@') {
            continue;
        }
        let mut f = line.split_whitespace();
        if host_field_matches(f.next().unwrap_or(""), name) {
            if let Some(t) = f.next() {
                out.push(t.to_string());
            }
        }
    }
    out
}

/// Whether `key_b64` is listed in a `@revoked` line.
fn revoked(text: &str, key_b64: &str) -> bool {
    text.lines().any(|l| {
        let mut f = l.split_whitespace();
        f.next() == Some("@revoked") && f.nth(2) == Some(key_b64)
    })
}

/// Host key algorithm preference for a host: the types already known for it first, so a
/// host with both an ECDSA and an Ed25519 key is checked against the one we have.
pub(super) fn hostkey_pref(known: &[String]) -> String {
    let mut pref: Vec<&str> = Vec::new();
    for k in known {
        let algs: &[&str] = match k.as_str() {
            "ssh-rsa" => &["rsa-sha2-512", "rsa-sha2-256"],
            other => match HOSTKEY_PREF.iter().find(|a| **a == other) {
                Some(a) => std::slice::from_ref(a),
                None => &[],
            },
        };
        for a in algs {
            if !pref.contains(a) {
                pref.push(a);
            }
        }
    }
    for a in HOSTKEY_PREF {
        if !pref.contains(a) {
            pref.push(a);
        }
    }
    pref.join(",")
}

/// The text of every known_hosts file that exists, the primary one first.
pub(super) fn read_known_hosts(settings: &SshSettings) -> Result<String, ConnectError> {
    let mut text = String::new();
    for path in std::iter::once(&settings.known_hosts).chain(&settings.extra_known_hosts) {
        match std::fs::read(path) {
            Ok(b) => {
                text.push_str(&String::from_utf8_lossy(&b));
                text.push('\n');
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ConnectError::HostKeyUnknown(format!(
                    "cannot read known_hosts {}: {e}",
                    path.display()
                )));
            }
        }
    }
    Ok(text)
}

fn b64_nopad(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(b)
}

/// Checks the server key against known_hosts. Returns its fingerprint and whether it was
/// trusted on first use in this run.
pub(super) fn check_host_key(
    session: &Session,
    target: &SshTarget,
    settings: &SshSettings,
    kh_text: &str,
) -> Result<(String, bool), ConnectError> {
    let (key, ktype) = session
        .host_key()
        .ok_or_else(|| ConnectError::Protocol("the server sent no host key".into()))?;
    let key = key.to_vec();
    let key_b64 = base64::engine::general_purpose::STANDARD.encode(&key);
    let fp = session
        .host_key_hash(HashType::Sha256)
        .map(|h| format!("{} SHA256:{}", key_type_label(ktype), b64_nopad(h)))
        .unwrap_or_else(|| key_type_label(ktype).to_string());
    let files = settings.known_hosts.display();
    let name = target.known_hosts_name();
    if revoked(kh_text, &key_b64) {
        return Err(ConnectError::HostKeyChanged(format!(
            "the host key of {name} ({fp}) is marked @revoked in the known_hosts files"
        )));
    }
    let mut kh = session
        .known_hosts()
        .map_err(|e| ConnectError::Protocol(e.to_string()))?;
    // libssh2 parses one line per call. Markers (@revoked, handled above; @cert-authority,
    // not supported) are left out; a line it cannot parse is skipped, and if it concerned
    // this host the key types check below refuses the host rather than trusting a new key.
    for line in kh_text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with('@') {
            continue;
        }
        let _ = kh.read_str(l, KnownHostFileKind::OpenSSH);
    }
    let known_types = known_key_types(kh_text, &name);
    // Look up exactly `[host]:port` (or `host` for port 22), as OpenSSH does: check_port
    // would also accept the key recorded for the plain host, i.e. for another port.
    match kh.check(&name, &key) {
        CheckResult::Match => Ok((fp, false)),
        CheckResult::Mismatch => Err(ConnectError::HostKeyChanged(format!(
            "the {} host key of {name} ({fp}) does not match the key recorded in {files}: \
             the key changed or someone is intercepting the connection; if the change is \
             expected, remove the old entry (`ssh-keygen -R '{name}' -f {files}`) and verify \
             the new key out of band",
            key_type_name(ktype),
        ))),
        CheckResult::NotFound if !known_types.is_empty() => {
            Err(ConnectError::HostKeyChanged(format!(
                "{name} offers a {} key ({fp}) that does not match any key recorded for it in \
                 {files} (which has {}): refused; verify the new key out of band",
                key_type_name(ktype),
                known_types.join(", ")
            )))
        }
        CheckResult::NotFound if settings.accept_new => {
            let line = format!("{name} {} {key_b64}\n", key_type_name(ktype));
            append_known_host(&settings.known_hosts, &name, &key_b64, &line).map_err(|e| {
                ConnectError::HostKeyUnknown(format!(
                    "--accept-new: the key of {name} ({fp}) was not recorded in {files}: {e}"
                ))
            })?;
            Ok((fp, true))
        }
        CheckResult::NotFound => Err(ConnectError::HostKeyUnknown(format!(
            "no host key for {name} in {files} (server offers {fp}); verify it and add it, or \
             run with --accept-new to trust keys on first use"
        ))),
        CheckResult::Failure => Err(ConnectError::HostKeyUnknown(format!(
            "host key check of {name} failed against {files}"
        ))),
    }
}

/// Appends one line to known_hosts under an exclusive lock (parallel workers append too).
/// Under the lock the file is read again: if another worker recorded a key for the same name
/// meanwhile, the same key is fine and another key is refused.
fn append_known_host(path: &Path, name: &str, key_b64: &str, line: &str) -> std::io::Result<()> {
    let mut f = open_for_append(path)?;
    let lock = nix::fcntl::Flock::lock(f.try_clone()?, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| std::io::Error::from(e))?;
    let mut now = String::new();
    f.read_to_string(&mut now)?;
    let recorded: Vec<&str> = now
        .lines()
        .filter(|l| {
            let mut x = l.split_whitespace();
            x.next().is_some_and(|h| host_field_matches(h, name))
        })
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    if recorded.contains(&key_b64) {
        return Ok(());
    }
    if !recorded.is_empty() {
        return Err(std::io::Error::other(
            "another key was recorded for this host meanwhile",
        ));
    }
    f.write_all(line.as_bytes())?;
    f.sync_all()?;
    drop(lock);
    Ok(())
}

/// Opens known_hosts for reading and appending, created (0600, exclusively) when missing. Never
/// through a symbolic link (a link planted there would have the key appended to whatever it
/// points at), and only a regular file: the name is first held as an `O_PATH` descriptor
/// whose type is checked, and only then opened, through that descriptor, so a FIFO or device
/// is refused without being opened. (As `dossier_bundle::fsio` does for every output file;
/// this crate does not link the bundle crate.)
fn open_for_append(path: &Path) -> std::io::Result<std::fs::File> {
    use nix::fcntl::OFlag;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    for _ in 0..8 {
        match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags((OFlag::O_PATH | OFlag::O_NOFOLLOW).bits())
            .open(path)
        {
            Ok(pinned) => {
                let t = pinned.metadata()?.file_type();
                if !t.is_file() {
                    let what = if t.is_symlink() {
                        "a symbolic link"
                    } else {
                        "not a regular file"
                    };
                    return Err(std::io::Error::other(format!(
                        "{} is {what}: refused (not opened; a key is only appended to a regular file)",
                        path.display()
                    )));
                }
                return std::fs::OpenOptions::new()
                    .read(true)
                    .append(true)
                    .open(format!("/proc/self/fd/{}", pinned.as_raw_fd()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        match std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(OFlag::O_NOFOLLOW.bits())
            .open(path)
        {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            r => return r,
        }
    }
    Err(std::io::Error::other(format!(
        "{}: its name keeps appearing and disappearing: refused",
        path.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_hosts_names_and_preferences() {
        let t = SshTarget {
            spec: "x".into(),
            host: "198.18.0.2".into(),
            port: 2222,
            user: "root".into(),
        };
        assert_eq!(t.known_hosts_name(), "[198.18.0.2]:2222");
        assert_eq!(t.label(), "ssh:root@198.18.0.2:2222");
        let kh = "# comment\n[198.18.0.2]:2222 ecdsa-sha2-nistp256 AAAA\n|1|hash|x ssh-ed25519 AAAA\n198.18.0.2 ssh-rsa AAAA\nother,[198.18.0.2]:2222 ssh-rsa BBBB\n";
        let types = known_key_types(kh, "[198.18.0.2]:2222");
        assert_eq!(types, vec!["ecdsa-sha2-nistp256", "ssh-rsa"]);
        // A hashed entry (made by `ssh-keygen -H`) is recognised for its name only.
        let hashed = "|1|v7Bs2JlGWbCnagI2eyMUwOyHdd4=|qitBQAVeqE8ls8X76A0rewfKkO8= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKXU+fTy9FPKfUJ74x22RdbQwLBerIQA9AXimpflMMyb";
        assert_eq!(
            known_key_types(hashed, "[198.18.0.10]:2222"),
            vec!["ssh-ed25519"]
        );
        assert!(known_key_types(hashed, "198.18.0.10").is_empty());
        assert!(known_key_types(hashed, "[198.18.0.10]:22").is_empty());
        assert!(revoked("@revoked * ssh-ed25519 AAAAkey\n", "AAAAkey"));
        assert!(!revoked("host ssh-ed25519 AAAAkey\n", "AAAAkey"));
        let pref = hostkey_pref(&types);
        assert!(pref.starts_with("ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256,ssh-ed25519"));
        assert!(!pref.contains("ssh-rsa,") && !pref.ends_with("ssh-rsa"));
        assert_eq!(hostkey_pref(&[]), HOSTKEY_PREF.join(","));
    }

    #[test]
    fn a_new_host_key_is_never_appended_through_a_link_or_to_a_fifo() {
        let d = tempfile::tempdir().unwrap();
        let line = "[198.18.0.2]:2222 ssh-ed25519 AAAAkey\n";
        let add = |p: &Path| append_known_host(p, "[198.18.0.2]:2222", "AAAAkey", line);
        // A symbolic link planted as known_hosts: the file it points at is left alone.
        let victim = d.path().join("authorized_keys");
        std::fs::write(&victim, "keep\n").unwrap();
        let link = d.path().join("known_hosts");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let e = add(&link).unwrap_err();
        assert!(e.to_string().contains("a symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep\n");
        // A FIFO: refused at once, not waited on.
        let fifo = d.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let e = add(&fifo).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        // A regular file (or none): appended once, created 0600.
        let plain = d.path().join("new_known_hosts");
        add(&plain).unwrap();
        add(&plain).unwrap();
        assert_eq!(std::fs::read_to_string(&plain).unwrap(), line);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&plain).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
