//! Connecting: name resolution and TCP connect with time limits, the SSH handshake, the
//! host key check, authentication and the start of SFTP (the login user's subsystem, or
//! `sudo -n sftp-server -R` on an exec channel), giving an [`SshHost`].

use super::auth::authenticate;
use super::command::shell_quote;
use super::error::ConnectError;
use super::host::{AbortHandle, Fs, SshHost, ms};
use super::known_hosts::{check_host_key, hostkey_pref, known_key_types, read_known_hosts};
use super::settings::{SshAuth, SshSettings, SshTarget};
use crate::sftp_client::SftpClient;
use ssh2::{ErrorCode, MethodType, Session};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
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
        trips: Arc::new(AtomicU64::new(0)),
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

#[cfg(test)]
mod tests {
    use super::*;

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
