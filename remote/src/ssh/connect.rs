//! Connecting: name resolution and TCP connect with time limits, the SSH handshake, the
//! host key check, authentication and the start of SFTP (our client on the login user's
//! subsystem, or on `sudo -n sftp-server -R` on an exec channel), giving an [`SshHost`].

use super::auth::authenticate;
use super::command::shell_quote;
use super::error::ConnectError;
use super::host::{AbortHandle, SshHost, ms};
use super::known_hosts::{check_host_key, hostkey_pref, known_key_types, read_known_hosts};
use super::listed::Listed;
use super::settings::{SshAuth, SshSettings, SshTarget};
use crate::sftp_client::SftpClient;
use ssh2::{ErrorCode, MethodType, Session};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where `sftp-server` lives on common distributions (Debian/Ubuntu, RHEL/Fedora/SUSE, Arch,
/// Alpine, Gentoo).
const SFTP_SERVERS: &[&str] = &[
    "/usr/lib/openssh/sftp-server",
    "/usr/libexec/openssh/sftp-server",
    "/usr/lib/ssh/sftp-server",
    "/usr/libexec/sftp-server",
    "/usr/lib/misc/sftp-server",
];

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
    prefer_aes_gcm(&session)?;
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
    let sftp = subsystem_sftp(&session)?;
    let client = if settings.sudo {
        sudo_sftp(&session, sftp)?
    } else {
        sftp
    };
    // Listings answer lstat only from OpenSSH's sftp-server (see `listed`).
    let openssh = session
        .banner()
        .is_some_and(|b| b.starts_with("SSH-2.0-OpenSSH_"));
    Ok(SshHost {
        listed: Mutex::new(Listed::new(openssh)),
        session,
        client: Arc::new(Mutex::new(client)),
        target: target.clone(),
        stream,
        sudo: settings.sudo,
        op_timeout: settings.op_timeout,
        fingerprint,
        bytes_read: Arc::new(AtomicU64::new(0)),
    })
}

/// Ciphers tried first, both directions, when the server has them: AES-GCM runs on the
/// AES instructions of both ends (libssh2's ChaCha20-Poly1305, its default first choice, is
/// portable C and cost the most client CPU per byte of a sweep).
const GCM_FIRST: &[&str] = &["aes256-gcm@openssh.com", "aes128-gcm@openssh.com"];

/// The cipher preference: [`GCM_FIRST`], then every other cipher this libssh2 supports, in
/// its own order (ChaCha20-Poly1305 and AES-CTR stay as fallbacks; nothing is added that
/// libssh2 would not offer anyway).
fn cipher_pref(supported: &[&str]) -> String {
    GCM_FIRST
        .iter()
        .filter(|c| supported.contains(c))
        .chain(supported.iter().filter(|c| !GCM_FIRST.contains(c)))
        .copied()
        .collect::<Vec<_>>()
        .join(",")
}

fn prefer_aes_gcm(session: &Session) -> Result<(), ConnectError> {
    for m in [MethodType::CryptCs, MethodType::CryptSc] {
        let supported = session
            .supported_algs(m)
            .map_err(|e| ConnectError::Protocol(format!("cipher list: {e}")))?;
        session
            .method_pref(m, &cipher_pref(&supported))
            .map_err(|e| ConnectError::Protocol(format!("cipher preference: {e}")))?;
    }
    Ok(())
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

/// Our SFTP client on the login user's `sftp` subsystem.
fn subsystem_sftp(session: &Session) -> Result<SftpClient<ssh2::Channel>, ConnectError> {
    let err = |e: &dyn std::fmt::Display| ConnectError::Protocol(format!("SFTP subsystem: {e}"));
    let mut ch = session.channel_session().map_err(|e| err(&e))?;
    ch.subsystem("sftp").map_err(|e| err(&e))?;
    SftpClient::new(ch).map_err(|e| err(&e))
}

/// Starts `sudo -n <sftp-server> -R` on an exec channel and an SFTP session over it (the
/// server found through the login's SFTP session, which is then closed).
fn sudo_sftp(
    session: &Session,
    mut sftp: SftpClient<ssh2::Channel>,
) -> Result<SftpClient<ssh2::Channel>, ConnectError> {
    let server = SFTP_SERVERS
        .iter()
        .find(|p| {
            sftp.stat(p.as_bytes())
                .is_ok_and(|a| a.perm.is_some_and(|m| m & 0o170000 == 0o100000))
        })
        .ok_or_else(|| {
            ConnectError::Protocol(format!(
                "--sudo: no sftp-server found on the target (looked for {})",
                SFTP_SERVERS.join(", ")
            ))
        })?;
    let _ = sftp.stream_mut().close();
    drop(sftp);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_gcm_comes_first_and_the_rest_stays() {
        let s = Session::new().unwrap();
        let supported = s.supported_algs(MethodType::CryptCs).unwrap();
        assert!(
            supported.contains(&"aes256-gcm@openssh.com"),
            "{supported:?}"
        );
        let pref = cipher_pref(&supported);
        let got: Vec<&str> = pref.split(',').collect();
        assert_eq!(got[..2], GCM_FIRST[..]);
        let mut a = got.clone();
        let mut b = supported.clone();
        a.sort();
        b.sort();
        assert_eq!(a, b, "the same ciphers, reordered");
        assert!(got.contains(&"chacha20-poly1305@openssh.com"));
        assert!(got.contains(&"aes128-ctr"));
        // A libssh2 without GCM: its own order, unchanged.
        assert_eq!(
            cipher_pref(&["aes128-ctr", "aes256-ctr"]),
            "aes128-ctr,aes256-ctr"
        );
        prefer_aes_gcm(&s).unwrap();
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
