//! `SshHost`: a remote machine reached over SSH (ssh2 / bundled libssh2), read through SFTP.
//!
//! Files, directories, `stat`, `lstat` and `readlink` go through SFTP; the few commands a
//! collector asks for (`systemctl list-units`, `rpm -qa`) run on an exec channel as a quoted
//! argv under `/usr/bin/env -i` (a fixed environment), never as a shell string built from
//! collected data. Before any authentication the server's host key is checked against a
//! known_hosts file: an unknown key is refused unless the caller opted into trust on first use
//! (then it is appended to the file), a changed key is always refused.
//!
//! Every blocking libssh2 call has a timeout (libssh2's default, 0, waits forever), the TCP
//! connect has its own, and [`AbortHandle`] lets a watchdog cut the connection when a host's
//! deadline passes: every pending and later call then fails as `Disconnected`, which the
//! orchestrator records as "host lost" for the collectors that had not run.
//!
//! SFTP cannot open files with `O_NOATIME` and reports neither inode nor ctime: reads may
//! update access times on the target (as any SFTP client's would), and file metadata in the
//! bundle has `mtime`/`atime` at one-second resolution and no inode/ctime.

use crate::sftp_client::{Attrs, SftpClient, SftpError};
use base64::Engine;
use dossier_plugin_api::Timestamp;
use dossier_plugin_api::host::{
    DirEntry, ExecLimits, ExecOutput, FileKind, FileMeta, FileReader, Host, HostError,
    HostErrorKind, HostInfo, HostKind, ReadOutcome, exec_program,
};
use ssh2::{CheckResult, ErrorCode, HashType, KnownHostFileKind, MethodType, Session};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where and as whom to connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshTarget {
    /// The target as the user wrote it (or as discovered in a CIDR sweep).
    pub spec: String,
    /// Host name or address to connect to.
    pub host: String,
    pub port: u16,
    pub user: String,
}

impl SshTarget {
    /// `ssh:user@host:port`, the label recorded in bundles and used to resume sweeps.
    pub fn label(&self) -> String {
        if self.host.contains(':') {
            format!("ssh:{}@[{}]:{}", self.user, self.host, self.port)
        } else {
            format!("ssh:{}@{}:{}", self.user, self.host, self.port)
        }
    }

    /// The name under which the host key is stored in known_hosts (`[host]:port` when the
    /// port is not 22, as OpenSSH writes it).
    pub fn known_hosts_name(&self) -> String {
        if self.port == 22 {
            self.host.clone()
        } else {
            format!("[{}]:{}", self.host, self.port)
        }
    }
}

/// A secret held in memory only: never printed (its `Debug` is redacted).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: String) -> Self {
        Secret(s)
    }
    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// How to authenticate.
#[derive(Clone, Debug, Default)]
pub struct SshAuth {
    /// Private key files, tried in order.
    pub identities: Vec<PathBuf>,
    /// Try the keys of a running ssh-agent (`SSH_AUTH_SOCK`) first.
    pub use_agent: bool,
    /// Passphrase for encrypted identity files.
    pub passphrase: Option<Secret>,
    /// Password, tried after keys.
    pub password: Option<Secret>,
}

/// Connection policy.
#[derive(Clone, Debug)]
pub struct SshSettings {
    /// known_hosts file checked (and appended to with `accept_new`).
    pub known_hosts: PathBuf,
    /// Further known_hosts files checked, never written (`/etc/ssh/ssh_known_hosts`).
    pub extra_known_hosts: Vec<PathBuf>,
    /// Trust on first use: accept and record a key for a host that has none.
    pub accept_new: bool,
    /// TCP connect timeout, and the limit for the SSH handshake and authentication.
    pub connect_timeout: Duration,
    /// Limit for each SFTP operation.
    pub op_timeout: Duration,
    /// Run commands through `sudo -n` (for a non-root login).
    pub sudo: bool,
}

impl Default for SshSettings {
    fn default() -> Self {
        SshSettings {
            known_hosts: PathBuf::from("known_hosts"),
            extra_known_hosts: Vec::new(),
            accept_new: false,
            connect_timeout: Duration::from_secs(10),
            op_timeout: Duration::from_secs(30),
            sudo: false,
        }
    }
}

/// Why a connection was refused or failed; [`ConnectError::outcome`] is the sweep outcome.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("host key refused: {0}")]
    HostKeyUnknown(String),
    #[error("host key refused: {0}")]
    HostKeyChanged(String),
    #[error("authentication failed: {0}")]
    AuthFailed(String),
    #[error("SSH error: {0}")]
    Protocol(String),
}

impl ConnectError {
    /// The reason without the outcome prefix.
    pub fn detail(&self) -> &str {
        match self {
            ConnectError::Unreachable(s)
            | ConnectError::Timeout(s)
            | ConnectError::HostKeyUnknown(s)
            | ConnectError::HostKeyChanged(s)
            | ConnectError::AuthFailed(s)
            | ConnectError::Protocol(s) => s,
        }
    }

    /// Sweep outcome name.
    pub fn outcome(&self) -> &'static str {
        match self {
            ConnectError::Unreachable(_) => "unreachable",
            ConnectError::Timeout(_) => "timed_out",
            ConnectError::HostKeyUnknown(_) | ConnectError::HostKeyChanged(_) => "host_key_refused",
            ConnectError::AuthFailed(_) => "auth_failed",
            ConnectError::Protocol(_) => "failed",
        }
    }
}

/// Cuts a host's connection from another thread (deadline watchdog).
#[derive(Clone, Debug)]
pub struct AbortHandle(Arc<TcpStream>);

impl AbortHandle {
    /// Shuts the TCP connection down: every blocked and later operation fails.
    pub fn abort(&self) {
        let _ = self.0.shutdown(Shutdown::Both);
    }
}

/// How files are read: the login user's SFTP subsystem, or our own SFTP client talking to
/// `sudo -n sftp-server -R` on an exec channel (`--sudo`).
enum Fs {
    Subsystem(ssh2::Sftp),
    Sudo(Arc<Mutex<SftpClient<ssh2::Channel>>>),
}

/// Where `sftp-server` lives on common distributions (Debian/Ubuntu, RHEL/Fedora/SUSE, Arch,
/// Alpine, Gentoo).
const SFTP_SERVERS: &[&str] = &[
    "/usr/lib/openssh/sftp-server",
    "/usr/libexec/openssh/sftp-server",
    "/usr/lib/ssh/sftp-server",
    "/usr/libexec/sftp-server",
    "/usr/lib/misc/sftp-server",
];

/// A connected, authenticated host.
pub struct SshHost {
    session: Session,
    fs: Fs,
    target: SshTarget,
    stream: Arc<TcpStream>,
    sudo: bool,
    op_timeout: Duration,
    /// Host key fingerprint (`ED25519 SHA256:...`).
    fingerprint: String,
    /// Bytes of file content read over SFTP and of command output.
    bytes_read: Arc<AtomicU64>,
}

impl std::fmt::Debug for SshHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SshHost({})", self.target.label())
    }
}

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
fn known_key_types(text: &str, name: &str) -> Vec<String> {
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
fn hostkey_pref(known: &[String]) -> String {
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

fn ms(d: Duration) -> u32 {
    d.as_millis().clamp(1, u32::MAX as u128) as u32
}

/// Connects, checks the host key, authenticates and starts SFTP.
pub fn connect(
    target: &SshTarget,
    auth: &SshAuth,
    settings: &SshSettings,
) -> Result<SshHost, ConnectError> {
    connect_with(target, auth, settings, &mut |_| {})
}

/// Resolves a host name with a time limit (getaddrinfo has none of its own); the lookup
/// thread is left to finish on its own if it hangs.
fn resolve(host: &str, port: u16, limit: Duration) -> Result<Vec<SocketAddr>, ConnectError> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let name = host.to_string();
    std::thread::spawn(move || {
        let _ = tx.send((name.as_str(), port).to_socket_addrs().map(|a| a.collect()));
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ConnectError::Unreachable(format!(
            "cannot resolve {host}: {e}"
        ))),
        Err(_) => Err(ConnectError::Unreachable(format!(
            "cannot resolve {host}: no answer within {} s",
            limit.as_secs_f32()
        ))),
    }
}

/// [`connect`], calling `armed` with the connection's [`AbortHandle`] as soon as TCP is
/// connected, so a deadline watchdog covers the handshake, authentication and SFTP start too.
pub fn connect_with(
    target: &SshTarget,
    auth: &SshAuth,
    settings: &SshSettings,
    armed: &mut dyn FnMut(AbortHandle),
) -> Result<SshHost, ConnectError> {
    let start = Instant::now();
    let addrs = resolve(&target.host, target.port, settings.connect_timeout)?;
    let mut last = None;
    let mut stream = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, settings.connect_timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some((a, e)),
        }
    }
    let stream = match stream {
        Some(s) => s,
        None => {
            return Err(match last {
                Some((a, e)) if e.kind() == std::io::ErrorKind::TimedOut => {
                    ConnectError::Unreachable(format!(
                        "{a}: no answer to TCP connect within {} s",
                        settings.connect_timeout.as_secs_f32()
                    ))
                }
                Some((a, e)) => ConnectError::Unreachable(format!("{a}: {e}")),
                None => ConnectError::Unreachable(format!("{}: no address", target.host)),
            });
        }
    };
    let _ = stream.set_nodelay(true);
    let stream = Arc::new(stream);
    let abort = AbortHandle(stream.clone());
    armed(abort.clone());
    let mut session = Session::new().map_err(|e| ConnectError::Protocol(e.to_string()))?;
    // Handshake and authentication share the connect timeout; a server that accepts TCP and
    // never speaks is abandoned then.
    session.set_timeout(ms(settings.connect_timeout));
    let kh_text = read_known_hosts(settings)?;
    let pref = hostkey_pref(&known_key_types(&kh_text, &target.known_hosts_name()));
    session
        .method_pref(MethodType::HostKey, &pref)
        .map_err(|e| ConnectError::Protocol(format!("host key preference: {e}")))?;
    session.set_tcp_stream(ArcStream(stream.clone()));
    if let Err(e) = session.handshake() {
        abort.abort();
        return Err(handshake_error(e, settings.connect_timeout, start));
    }
    let (fingerprint, first_use) = check_host_key(&session, target, settings, &kh_text)?;
    // A key trusted on first use in this very run proves nothing about who answers: keys
    // and agents only prove our identity to it, but a password would be handed over.
    let auth = if first_use && auth.password.is_some() {
        &SshAuth {
            password: None,
            ..auth.clone()
        }
    } else {
        auth
    };
    authenticate(&session, target, auth).map_err(|e| match e {
        ConnectError::AuthFailed(m) if first_use => ConnectError::AuthFailed(format!(
            "{m}; no password is sent to a host whose key was first trusted in this run \
             (--accept-new): add its key to known_hosts and sweep it again"
        )),
        other => other,
    })?;
    session.set_timeout(ms(settings.op_timeout));
    let sftp = session
        .sftp()
        .map_err(|e| ConnectError::Protocol(format!("SFTP subsystem: {e}")))?;
    let fs = if settings.sudo {
        Fs::Sudo(Arc::new(Mutex::new(sudo_sftp(&session, &sftp)?)))
    } else {
        Fs::Subsystem(sftp)
    };
    Ok(SshHost {
        session,
        fs,
        target: target.clone(),
        stream,
        sudo: settings.sudo,
        op_timeout: settings.op_timeout,
        fingerprint,
        bytes_read: Arc::new(AtomicU64::new(0)),
    })
}

/// libssh2 takes a raw fd; this keeps the stream (and so the fd) alive with the session
/// while the watchdog holds another reference to shut it down.
struct ArcStream(Arc<TcpStream>);

impl std::os::fd::AsRawFd for ArcStream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}

fn handshake_error(e: ssh2::Error, limit: Duration, start: Instant) -> ConnectError {
    match e.code() {
        ErrorCode::Session(-9) | ErrorCode::Session(-30) => ConnectError::Timeout(format!(
            "the server accepted TCP but did not complete the SSH handshake within {:.1} s",
            limit.as_secs_f32().max(start.elapsed().as_secs_f32())
        )),
        ErrorCode::Session(-2) | ErrorCode::Session(-13) | ErrorCode::Session(-43) => {
            ConnectError::Protocol(format!(
                "the server closed the connection during the SSH handshake ({})",
                e.message()
            ))
        }
        _ => ConnectError::Protocol(format!("SSH handshake failed: {}", e.message())),
    }
}

/// The text of every known_hosts file that exists, the primary one first.
fn read_known_hosts(settings: &SshSettings) -> Result<String, ConnectError> {
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
fn check_host_key(
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
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
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

/// Most public-key attempts made before the password: sshd's MaxAuthTries (6 by default)
/// closes the connection after that many failures.
const MAX_KEY_ATTEMPTS: usize = 5;

fn authenticate(session: &Session, target: &SshTarget, auth: &SshAuth) -> Result<(), ConnectError> {
    let user = &target.user;
    let mut tried: Vec<String> = Vec::new();
    let timed_out = |e: &ssh2::Error| matches!(e.code(), ErrorCode::Session(-9 | -30));
    let lost = |e: &ssh2::Error| matches!(e.code(), ErrorCode::Session(-13 | -43 | -7));
    let check = |e: ssh2::Error, what: &str, tried: &[String]| -> Result<(), ConnectError> {
        if timed_out(&e) {
            Err(ConnectError::Timeout(format!(
                "no answer during authentication ({what})"
            )))
        } else if lost(&e) {
            // sshd closes the connection after MaxAuthTries failures.
            Err(ConnectError::AuthFailed(format!(
                "{user}@{}: the server closed the connection during authentication ({what}) \
                 after {} attempt(s): {}",
                target.host,
                tried.len() + 1,
                e.message()
            )))
        } else {
            Ok(())
        }
    };
    let mut keys_tried = 0usize;
    if auth.use_agent && std::env::var_os("SSH_AUTH_SOCK").is_some() {
        // Every key the agent holds (ssh2's userauth_agent tries only the first).
        if let Ok(mut agent) = session.agent() {
            if agent.connect().is_ok() && agent.list_identities().is_ok() {
                for id in agent.identities().unwrap_or_default() {
                    if keys_tried >= MAX_KEY_ATTEMPTS {
                        break;
                    }
                    keys_tried += 1;
                    let what = format!("agent key {}", id.comment());
                    match agent.userauth(user, &id) {
                        Ok(()) if session.authenticated() => return Ok(()),
                        Ok(()) => {}
                        Err(e) => check(e, &what, &tried)?,
                    }
                    tried.push(what);
                }
                let _ = agent.disconnect();
            }
        }
    }
    for id in &auth.identities {
        if !id.is_file() || keys_tried >= MAX_KEY_ATTEMPTS {
            continue;
        }
        keys_tried += 1;
        let pass = auth.passphrase.as_ref().map(Secret::expose);
        let what = format!("key {}", id.display());
        match session.userauth_pubkey_file(user, None, id, pass) {
            Ok(()) if session.authenticated() => return Ok(()),
            Ok(()) => {}
            Err(e) => check(e, &what, &tried)?,
        }
        tried.push(what);
    }
    if let Some(pw) = &auth.password {
        match session.userauth_password(user, pw.expose()) {
            Ok(()) if session.authenticated() => return Ok(()),
            Ok(()) => {}
            Err(e) => check(e, "password", &tried)?,
        }
        tried.push("password".into());
    }
    let offered = session
        .auth_methods(user)
        .map(|s| s.to_string())
        .unwrap_or_else(|_| "?".into());
    Err(ConnectError::AuthFailed(format!(
        "{user}@{}: {} refused (server accepts: {offered})",
        target.host,
        if tried.is_empty() {
            "no credential available (no key file, no agent, no password)".to_string()
        } else {
            tried.join(", ")
        }
    )))
}

/// Starts `sudo -n <sftp-server> -R` on an exec channel and an SFTP session over it.
fn sudo_sftp(
    session: &Session,
    sftp: &ssh2::Sftp,
) -> Result<SftpClient<ssh2::Channel>, ConnectError> {
    let server = SFTP_SERVERS
        .iter()
        .find(|p| sftp.stat(Path::new(p)).is_ok_and(|st| st.is_file()))
        .ok_or_else(|| {
            ConnectError::Protocol(format!(
                "--sudo: no sftp-server found on the target (looked for {})",
                SFTP_SERVERS.join(", ")
            ))
        })?;
    let mut ch = session
        .channel_session()
        .map_err(|e| ConnectError::Protocol(format!("--sudo: exec channel: {e}")))?;
    let cmd = ["/usr/bin/sudo", "-n", "--", server, "-R"]
        .map(shell_quote)
        .join(" ");
    ch.exec(&cmd)
        .map_err(|e| ConnectError::Protocol(format!("--sudo: {e}")))?;
    match SftpClient::new(ch) {
        Ok(c) => Ok(c),
        Err(e) => {
            // sudo said why on stderr (a password is required, not in sudoers...).
            Err(ConnectError::AuthFailed(format!(
                "--sudo: `sudo -n {server} -R` did not start an SFTP server ({e}); the login \
                 user needs password-less sudo for it, or sweep without --sudo"
            )))
        }
    }
}

/// Quotes one argument for a POSIX shell (the remote login shell runs exec requests).
pub fn shell_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.,:=@%+".contains(&b))
    {
        return arg.to_string();
    }
    format!("'{}'", arg.replace('\'', "'\\''"))
}

/// The command line sent for `argv`: fixed environment, each argument quoted.
pub fn command_line(argv: &[&str], sudo: bool) -> String {
    let mut parts: Vec<String> = Vec::new();
    if sudo {
        parts.extend(["/usr/bin/sudo", "-n", "--"].map(String::from));
    }
    parts.extend(
        [
            "/usr/bin/env",
            "-i",
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            "LC_ALL=C",
            "SYSTEMD_COLORS=0",
            "SYSTEMD_PAGER=",
        ]
        .map(String::from),
    );
    parts.extend(argv.iter().map(|a| a.to_string()));
    parts
        .iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

fn sftp_error(e: ssh2::Error, path: &Path, what: &str) -> HostError {
    let (kind, msg) = match e.code() {
        ErrorCode::SFTP(2) | ErrorCode::SFTP(10) => (HostErrorKind::NotFound, "no such file"),
        ErrorCode::SFTP(3) => (HostErrorKind::PermissionDenied, "permission denied"),
        ErrorCode::SFTP(19) => (HostErrorKind::NotADirectory, "not a directory"),
        ErrorCode::SFTP(21) => (HostErrorKind::Loop, "too many levels of symbolic links"),
        ErrorCode::SFTP(6) | ErrorCode::SFTP(7) => {
            (HostErrorKind::Disconnected, "SFTP connection lost")
        }
        ErrorCode::SFTP(4) => (
            HostErrorKind::Other,
            "failure reported by the server (e.g. symlink loop or I/O error)",
        ),
        ErrorCode::Session(-9) | ErrorCode::Session(-30) => {
            (HostErrorKind::Timeout, "no answer from the host in time")
        }
        ErrorCode::Session(-13 | -43 | -7 | -1 | -26) => {
            (HostErrorKind::Disconnected, "connection to the host lost")
        }
        _ => (HostErrorKind::Other, e.message()),
    };
    let msg = if what.is_empty() {
        msg.to_string()
    } else {
        format!("{what}: {msg}")
    };
    HostError::new(kind, path, msg)
}

fn io_error(e: std::io::Error, path: &Path, session: &Session) -> HostError {
    // ssh2 turns its errors into io::Error and keeps only timeouts and not-found as kinds;
    // the session's last error tells the rest (a lost connection, a server failure).
    match e.kind() {
        std::io::ErrorKind::TimedOut => HostError::new(
            HostErrorKind::Timeout,
            path,
            "read: no answer from the host in time",
        ),
        std::io::ErrorKind::NotFound => {
            HostError::new(HostErrorKind::NotFound, path, "read: no such file")
        }
        std::io::ErrorKind::PermissionDenied => HostError::new(
            HostErrorKind::PermissionDenied,
            path,
            "read: permission denied",
        ),
        // From the sudo SFTP client: its stream broke or the server sent garbage.
        std::io::ErrorKind::ConnectionAborted
        | std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::BrokenPipe => {
            HostError::new(HostErrorKind::Disconnected, path, format!("read: {e}"))
        }
        _ => match ssh2::Error::last_session_error(session) {
            Some(se) if se.code() != ErrorCode::Session(0) => sftp_error(se, path, "read"),
            _ => HostError::new(HostErrorKind::Other, path, format!("read failed: {e}")),
        },
    }
}

/// `FileMeta` from SFTP attributes (no inode, ctime or nlink over SFTP).
pub fn meta_from_sftp(st: &ssh2::FileStat) -> FileMeta {
    meta_from_attrs(&Attrs {
        size: st.size,
        uid: st.uid,
        gid: st.gid,
        perm: st.perm,
        atime: st.atime.map(|t| t.min(u32::MAX as u64) as u32),
        mtime: st.mtime.map(|t| t.min(u32::MAX as u64) as u32),
    })
}

/// `FileMeta` from SFTP v3 attributes.
pub fn meta_from_attrs(a: &Attrs) -> FileMeta {
    let perm = a.perm.unwrap_or(0);
    let ts = |s: Option<u32>| s.and_then(|s| Timestamp::from_unix(i64::from(s), 0));
    FileMeta {
        kind: FileKind::from_mode(perm),
        mode: perm & 0o7777,
        uid: a.uid.unwrap_or(u32::MAX),
        gid: a.gid.unwrap_or(u32::MAX),
        size: a.size.unwrap_or(0),
        nlink: None,
        mtime: ts(a.mtime),
        ctime: None,
        atime: ts(a.atime),
        dev: None,
        inode: None,
    }
}

/// A host error from our SFTP client's error.
fn client_error(e: SftpError, path: &Path, what: &str) -> HostError {
    let (kind, msg) = match &e {
        SftpError::Status { code, message } => match *code {
            2 | 10 => (HostErrorKind::NotFound, "no such file".to_string()),
            3 => (HostErrorKind::PermissionDenied, "permission denied".into()),
            19 => (HostErrorKind::NotADirectory, "not a directory".into()),
            21 => (
                HostErrorKind::Loop,
                "too many levels of symbolic links".into(),
            ),
            _ => (HostErrorKind::Other, message.clone()),
        },
        SftpError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => (
            HostErrorKind::Timeout,
            "no answer from the host in time".into(),
        ),
        // A broken stream or garbage from the server: the SFTP session cannot go on.
        SftpError::Io(_) | SftpError::Protocol(_) => (HostErrorKind::Disconnected, e.to_string()),
    };
    let msg = if what.is_empty() {
        msg
    } else {
        format!("{what}: {msg}")
    };
    HostError::new(kind, path, msg)
}

fn path_bytes(p: &Path) -> &[u8] {
    p.as_os_str().as_encoded_bytes()
}

/// A file open through the sudo SFTP client.
struct SudoFile {
    client: Arc<Mutex<SftpClient<ssh2::Channel>>>,
    handle: Vec<u8>,
    offset: u64,
    meta: FileMeta,
    counter: Arc<AtomicU64>,
}

impl Read for SudoFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = buf.len().min(crate::sftp_client::READ_SIZE as usize) as u32;
        let data = {
            let mut c = self.client.lock().unwrap_or_else(|e| e.into_inner());
            c.read(&self.handle, self.offset, want)
        }
        .map_err(|e| {
            let kind = match &e {
                SftpError::Io(io) => io.kind(),
                SftpError::Status { code: 3, .. } => std::io::ErrorKind::PermissionDenied,
                SftpError::Status { .. } => std::io::ErrorKind::Other,
                SftpError::Protocol(_) => std::io::ErrorKind::ConnectionAborted,
            };
            std::io::Error::new(kind, e.to_string())
        })?;
        buf[..data.len()].copy_from_slice(&data);
        self.offset += data.len() as u64;
        self.counter.fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(data.len())
    }
}

impl FileReader for SudoFile {
    fn meta(&self) -> &FileMeta {
        &self.meta
    }
    fn meta_now(&mut self) -> Result<FileMeta, HostError> {
        let mut c = self.client.lock().unwrap_or_else(|e| e.into_inner());
        c.fstat(&self.handle)
            .map(|a| meta_from_attrs(&a))
            .map_err(|e| client_error(e, Path::new("(open file)"), "fstat"))
    }
}

impl Drop for SudoFile {
    fn drop(&mut self) {
        let mut c = self.client.lock().unwrap_or_else(|e| e.into_inner());
        let _ = c.close(&self.handle);
    }
}

struct SshFile {
    file: ssh2::File,
    meta: FileMeta,
    counter: Arc<AtomicU64>,
}

impl Read for SshFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl FileReader for SshFile {
    fn meta(&self) -> &FileMeta {
        &self.meta
    }
    fn meta_now(&mut self) -> Result<FileMeta, HostError> {
        self.file
            .stat()
            .map(|s| meta_from_sftp(&s))
            .map_err(|e| sftp_error(e, Path::new("(open file)"), "fstat"))
    }
}

/// Chunk handed to libssh2 per read: it splits a large read into pipelined SFTP requests.
const READ_CHUNK: usize = 256 << 10;

impl SshHost {
    fn client<'a>(
        &self,
        c: &'a Mutex<SftpClient<ssh2::Channel>>,
    ) -> std::sync::MutexGuard<'a, SftpClient<ssh2::Channel>> {
        c.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether files are read as root through `sudo -n sftp-server -R`.
    pub fn reads_with_sudo(&self) -> bool {
        matches!(self.fs, Fs::Sudo(_))
    }

    /// A handle that cuts this host's connection (for a deadline watchdog).
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle(self.stream.clone())
    }

    /// The server's host key fingerprint (`ED25519 SHA256:...`).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Bytes of file content and command output read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    /// The target this host was reached as.
    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    /// Ends the session politely.
    pub fn close(self) {
        let _ = self
            .session
            .disconnect(None, "dossier collection finished", None);
    }
}

impl Host for SshHost {
    fn info(&self) -> HostInfo {
        HostInfo {
            kind: HostKind::Ssh,
            label: self.target.label(),
            live: true,
            can_exec: true,
            own_pids: Vec::new(),
        }
    }

    fn lstat(&self, path: &Path) -> Result<FileMeta, HostError> {
        match &self.fs {
            Fs::Subsystem(sftp) => sftp
                .lstat(path)
                .map(|s| meta_from_sftp(&s))
                .map_err(|e| sftp_error(e, path, "")),
            Fs::Sudo(c) => self
                .client(c)
                .lstat(path_bytes(path))
                .map(|a| meta_from_attrs(&a))
                .map_err(|e| client_error(e, path, "")),
        }
    }

    fn stat(&self, path: &Path) -> Result<FileMeta, HostError> {
        match &self.fs {
            Fs::Subsystem(sftp) => sftp
                .stat(path)
                .map(|s| meta_from_sftp(&s))
                .map_err(|e| sftp_error(e, path, "")),
            Fs::Sudo(c) => self
                .client(c)
                .stat(path_bytes(path))
                .map(|a| meta_from_attrs(&a))
                .map_err(|e| client_error(e, path, "")),
        }
    }

    fn read_link(&self, path: &Path) -> Result<PathBuf, HostError> {
        let m = self.lstat(path)?;
        if m.kind != FileKind::Symlink {
            return Err(HostError::new(HostErrorKind::Other, path, "not a symlink"));
        }
        match &self.fs {
            Fs::Subsystem(sftp) => sftp
                .readlink(path)
                .map_err(|e| sftp_error(e, path, "readlink")),
            Fs::Sudo(c) => self
                .client(c)
                .readlink(path_bytes(path))
                .map(|b| PathBuf::from(OsString::from_vec(b)))
                .map_err(|e| client_error(e, path, "readlink")),
        }
    }

    fn xattr(&self, path: &Path, _name: &str) -> Result<Option<Vec<u8>>, HostError> {
        // SFTP version 3 has no request for extended attributes, and reading them otherwise
        // would mean running a program on the target.
        Err(HostError::new(
            HostErrorKind::Unsupported,
            path,
            "extended attributes (file capabilities) are not available over SFTP",
        ))
    }

    fn read_dir(&self, path: &Path) -> Result<Vec<DirEntry>, HostError> {
        let mut out = Vec::new();
        let mut push = |name: Vec<u8>, perm: Option<u32>| {
            if name != b"." && name != b".." && !name.is_empty() {
                out.push(DirEntry {
                    name: OsString::from_vec(name),
                    kind: perm.map(FileKind::from_mode),
                    mode: perm.map(|p| p & 0o7777),
                });
            }
        };
        match &self.fs {
            Fs::Subsystem(sftp) => {
                let mut dir = sftp
                    .opendir(path)
                    .map_err(|e| sftp_error(e, path, "opendir"))?;
                loop {
                    match dir.readdir() {
                        Ok((name, st)) => push(name.into_os_string().into_vec(), st.perm),
                        // libssh2 reports the end of the listing as LIBSSH2_ERROR_FILE.
                        Err(e) if e.code() == ErrorCode::Session(-16) => break,
                        Err(e) => return Err(sftp_error(e, path, "readdir")),
                    }
                }
            }
            Fs::Sudo(c) => {
                let entries = self
                    .client(c)
                    .read_dir(path_bytes(path))
                    .map_err(|e| client_error(e, path, "readdir"))?;
                for (name, a) in entries {
                    push(name, a.perm);
                }
            }
        }
        Ok(out)
    }

    fn open(&self, path: &Path) -> Result<Box<dyn FileReader + '_>, HostError> {
        // Look before opening: opening a FIFO would block the server's SFTP process.
        let probe = self.stat(path)?;
        if probe.kind != FileKind::File {
            return Err(HostError::new(
                HostErrorKind::NotRegular,
                path,
                format!(
                    "{} refused: not a regular file (not opened)",
                    probe.kind.name()
                ),
            ));
        }
        let replaced = |st: &FileMeta| {
            st.kind != FileKind::File || st.uid != probe.uid || st.mode != probe.mode
        };
        let msg = "file was replaced while it was being opened; not read";
        match &self.fs {
            Fs::Subsystem(sftp) => {
                let mut file = sftp.open(path).map_err(|e| sftp_error(e, path, "open"))?;
                let st = file
                    .stat()
                    .map(|s| meta_from_sftp(&s))
                    .map_err(|e| sftp_error(e, path, "fstat"))?;
                if replaced(&st) {
                    return Err(HostError::new(HostErrorKind::NotRegular, path, msg));
                }
                Ok(Box::new(SshFile {
                    file,
                    meta: st,
                    counter: self.bytes_read.clone(),
                }))
            }
            Fs::Sudo(c) => {
                let (handle, st) = {
                    let mut client = self.client(c);
                    let h = client
                        .open(path_bytes(path))
                        .map_err(|e| client_error(e, path, "open"))?;
                    match client.fstat(&h) {
                        Ok(a) => (h, meta_from_attrs(&a)),
                        Err(e) => {
                            let _ = client.close(&h);
                            return Err(client_error(e, path, "fstat"));
                        }
                    }
                };
                let f = SudoFile {
                    client: c.clone(),
                    handle,
                    offset: 0,
                    meta: st,
                    counter: self.bytes_read.clone(),
                };
                if replaced(&f.meta) {
                    return Err(HostError::new(HostErrorKind::NotRegular, path, msg));
                }
                Ok(Box::new(f))
            }
        }
    }

    fn read(&self, path: &Path, limit: u64) -> Result<ReadOutcome, HostError> {
        // Large reads: libssh2 pipelines the SFTP requests of one read call, so a small file
        // costs one round trip instead of the handful `read_to_end`'s growing buffer needs.
        let mut f = self.open(path)?;
        let meta = f.meta().clone();
        let mut data = Vec::with_capacity(meta.size.min(limit).min(16 << 20) as usize);
        // Fitted to the file: libssh2 asks ahead for four times the buffer in 30 kB requests,
        // so a 256 KiB buffer for a 200-byte /proc file costs 35 SFTP READs instead of 2.
        let fit = meta
            .size
            .min(limit)
            .saturating_add(1)
            .clamp(4096, READ_CHUNK as u64);
        let mut chunk = vec![0u8; fit as usize];
        let mut truncated = false;
        loop {
            let n = f
                .read(&mut chunk)
                .map_err(|e| io_error(e, path, &self.session))?;
            if n == 0 {
                break;
            }
            let room = (limit - data.len() as u64) as usize;
            if n > room {
                data.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            data.extend_from_slice(&chunk[..n]);
            // Longer than its size said (a /proc file says 0): ask for more at a time.
            if n == chunk.len() && chunk.len() < READ_CHUNK {
                chunk.resize(chunk.len() * 2, 0);
            }
            if data.len() as u64 == limit {
                let mut probe = [0u8; 1];
                truncated = f
                    .read(&mut probe)
                    .map_err(|e| io_error(e, path, &self.session))?
                    > 0;
                break;
            }
        }
        let after = f.meta_now().ok();
        Ok(ReadOutcome::new(data, truncated, meta, after))
    }

    fn exec(&self, argv: &[&str], limits: &ExecLimits) -> Result<ExecOutput, HostError> {
        let path = Path::new(exec_program(argv)?);
        let cmd = command_line(argv, self.sudo);
        self.session.set_timeout(ms(limits.timeout));
        let r = self.exec_inner(&cmd, limits, path);
        self.session.set_timeout(ms(self.op_timeout));
        r
    }
}

impl SshHost {
    fn exec_inner(
        &self,
        cmd: &str,
        limits: &ExecLimits,
        path: &Path,
    ) -> Result<ExecOutput, HostError> {
        let deadline = Instant::now() + limits.timeout;
        let mut ch = self
            .session
            .channel_session()
            .map_err(|e| sftp_error(e, path, "exec channel"))?;
        ch.exec(cmd).map_err(|e| sftp_error(e, path, "exec"))?;
        let mut out = ExecOutput::default();
        let mut buf = vec![0u8; 64 << 10];
        let mut timed_out = false;
        // stdout first (capped, the rest drained), then stderr: both are small for the
        // commands collectors run, and libssh2 queues the other stream meanwhile.
        loop {
            match ch.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    self.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
                    let room = (limits.max_output as usize).saturating_sub(out.stdout.len());
                    out.stdout.extend_from_slice(&buf[..n.min(room)]);
                    if n > room {
                        out.truncated = true;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    timed_out = true;
                    break;
                }
                Err(e) => return Err(io_error(e, path, &self.session)),
            }
            if Instant::now() >= deadline {
                timed_out = true;
                break;
            }
        }
        if !timed_out {
            let mut err = ch.stderr();
            let _ = Read::by_ref(&mut err)
                .take(64 << 10)
                .read_to_end(&mut out.stderr)
                .map_err(|e| io_error(e, path, &self.session));
            // exit_status() says 0 when no exit-status message came: trust it only after a
            // clean close.
            if ch.wait_close().is_ok() {
                out.status = ch.exit_status().ok();
            }
            if ch.exit_signal().ok().and_then(|s| s.exit_signal).is_some() {
                out.status = None;
            }
        } else {
            let _ = ch.close();
        }
        out.timed_out = timed_out;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_every_argument_one_word() {
        assert_eq!(shell_quote("-qa"), "-qa");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("%{NAME}\\t"), "'%{NAME}\\t'");
        assert_eq!(shell_quote("a'b; rm -rf /"), "'a'\\''b; rm -rf /'");
        assert_eq!(shell_quote("$(id)"), "'$(id)'");
        let c = command_line(&["/usr/bin/rpm", "-qa", "--qf", "%{NAME}\\n"], false);
        assert_eq!(
            c,
            "/usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C SYSTEMD_COLORS=0 \
             SYSTEMD_PAGER= /usr/bin/rpm -qa --qf '%{NAME}\\n'"
        );
        assert!(command_line(&["/bin/true"], true).starts_with("/usr/bin/sudo -n -- /usr/bin/env"));
    }

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
    fn secrets_do_not_print() {
        let a = SshAuth {
            password: Some(Secret::new("hunter2".into())),
            ..Default::default()
        };
        assert!(!format!("{a:?}").contains("hunter2"));
    }

    #[test]
    fn unreachable_is_reported_fast() {
        // Port 1 on loopback: nothing listens, the kernel refuses at once.
        let t = SshTarget {
            spec: "127.0.0.1:1".into(),
            host: "127.0.0.1".into(),
            port: 1,
            user: "root".into(),
        };
        let e = connect(&t, &SshAuth::default(), &SshSettings::default()).unwrap_err();
        assert_eq!(e.outcome(), "unreachable", "{e}");
    }

    #[test]
    fn silent_server_times_out_in_the_handshake() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let hold = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            std::thread::sleep(Duration::from_secs(3));
            drop(s);
        });
        let t = SshTarget {
            spec: "silent".into(),
            host: "127.0.0.1".into(),
            port,
            user: "root".into(),
        };
        let s = SshSettings {
            connect_timeout: Duration::from_millis(500),
            ..Default::default()
        };
        let start = Instant::now();
        let e = connect(&t, &SshAuth::default(), &s).unwrap_err();
        assert_eq!(e.outcome(), "timed_out", "{e}");
        assert!(start.elapsed() < Duration::from_secs(3));
        hold.join().unwrap();
    }
}
