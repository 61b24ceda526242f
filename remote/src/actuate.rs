//! [`SshActuator`]: containment's [`Actuator`] over the SSH transport of [`crate::ssh`].
//!
//! Each argv becomes one exec request through [`command_line`]: a fixed environment under
//! `/usr/bin/env -i`, every argument quoted for the login shell, and `/usr/bin/sudo -n --` in
//! front when the login user is not root. The connection is made as a sweep makes it (strict
//! host-key checking against known_hosts, the same credentials and timeouts); right after it,
//! [`SshActuator::connect`] checks that commands really run as root (`id -u` says 0), so a
//! non-root login without password-less sudo is refused with the reason before any change.
//!
//! Standard input is written to the channel and closed (EOF) before the output is read; the
//! programs containment feeds (`cat > FILE`, `nft -f -`) read all of it before they write
//! anything, so the flow-control windows of the channel never fill both ways. Standard output
//! is read to its end, then standard error, each bounded by [`MAX_OUTPUT`].
//!
//! [`SshActuator::session_peer`] says where the session comes from as the target sees it
//! (`$SSH_CONNECTION` of the login, else the local end of the TCP connection): isolation keeps
//! that address and port reachable.

use crate::ssh::{self, ConnectError, SshAuth, SshHost, SshSettings, SshTarget, command_line, ms};
use dossier_contain::actuator::MAX_OUTPUT;
use dossier_contain::{ActError, Actuator, Output, Peer};
use std::io::{Read, Write};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Time limit of the checks made right after connecting.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an SSH actuator could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ActuateError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The login cannot run commands as root (not root, and `sudo -n` refused).
    #[error(
        "{label}: commands do not run as root ({reason}); containment needs a root login or \
         password-less sudo (`sudo -n`) for the login user"
    )]
    NotRoot { label: String, reason: String },
    #[error("{label}: {source}")]
    Act {
        label: String,
        #[source]
        source: ActError,
    },
}

/// Runs containment's commands on one SSH target, as root or through `sudo -n`.
pub struct SshActuator {
    host: SshHost,
    /// The target's host name (`/proc/sys/kernel/hostname`), as in its bundles.
    name: String,
    /// Whether commands go through `sudo -n` (the login user is not root).
    sudo: bool,
    auth: SshAuth,
    settings: SshSettings,
}

impl std::fmt::Debug for SshActuator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SshActuator({}, {})",
            self.name,
            self.host.target().label()
        )
    }
}

impl SshActuator {
    /// Connects as a sweep does (strict host-key checking; `settings.sudo` is ignored:
    /// `sudo -n` is used exactly when the login user is not root), then checks that commands
    /// run as root and reads the host name. Nothing on the target changes.
    pub fn connect(
        target: &SshTarget,
        auth: &SshAuth,
        settings: &SshSettings,
    ) -> Result<SshActuator, ActuateError> {
        // Files are read through the actuator's commands, not SFTP: no `sudo sftp-server`.
        let plain = SshSettings {
            sudo: false,
            ..settings.clone()
        };
        let host = ssh::connect(target, auth, &plain)?;
        let mut a = SshActuator {
            host,
            name: String::new(),
            sudo: target.user != "root",
            auth: auth.clone(),
            settings: plain,
        };
        let label = a.label();
        let act = |source| ActuateError::Act {
            label: label.clone(),
            source,
        };
        let o = a
            .run(&["/usr/bin/id", "-u"], b"", CHECK_TIMEOUT)
            .map_err(act)?;
        if !o.success() || String::from_utf8_lossy(&o.stdout).trim() != "0" {
            let reason = if o.success() {
                format!("`id -u` says {}", String::from_utf8_lossy(&o.stdout).trim())
            } else if a.sudo {
                format!("`sudo -n` refused: {}", o.reason())
            } else {
                o.reason()
            };
            return Err(ActuateError::NotRoot { label, reason });
        }
        let o = a
            .run(
                &["/bin/cat", "/proc/sys/kernel/hostname"],
                b"",
                CHECK_TIMEOUT,
            )
            .map_err(act)?;
        let name = String::from_utf8_lossy(&o.stdout).trim().to_string();
        a.name = if o.success() && !name.is_empty() {
            name
        } else {
            a.host.target().host.clone()
        };
        Ok(a)
    }

    /// A new, separate connection to the same target with the same credentials (isolation
    /// confirms over one: it proves a fresh login still gets in).
    pub fn reconnect(&self) -> Result<SshActuator, ActuateError> {
        SshActuator::connect(self.host.target(), &self.auth, &self.settings)
    }

    /// `ssh:user@host:port`.
    pub fn label(&self) -> String {
        self.host.target().label()
    }

    /// The target as connected to.
    pub fn target(&self) -> &SshTarget {
        self.host.target()
    }

    /// Whether commands run through `sudo -n`.
    pub fn uses_sudo(&self) -> bool {
        self.sudo
    }

    /// The server's host key fingerprint.
    pub fn fingerprint(&self) -> &str {
        self.host.fingerprint()
    }

    /// Where this session comes from as the target sees it: the responder's address and the
    /// target's SSH port. From the login's `$SSH_CONNECTION` (right through NAT), else the
    /// two ends of the TCP connection.
    pub fn session_peer(&mut self) -> Result<Peer, ActError> {
        // A fixed command line for the login shell: `env -i` and sudo would drop the
        // variable, and nothing in it comes from the target.
        let o = self.exec_line("printf '%s\\n' \"$SSH_CONNECTION\"", b"", CHECK_TIMEOUT)?;
        if o.success()
            && let Some(p) = parse_ssh_connection(&String::from_utf8_lossy(&o.stdout))
        {
            return Ok(p);
        }
        let local = self
            .host
            .local_addr()
            .map_err(|e| self.lost(e.to_string()))?;
        let peer = self
            .host
            .peer_addr()
            .map_err(|e| self.lost(e.to_string()))?;
        Ok(Peer {
            addr: local.ip().to_canonical().to_string(),
            port: peer.port(),
        })
    }

    /// Ends the session politely.
    pub fn close(self) {
        self.host.close();
    }

    fn lost(&self, message: String) -> ActError {
        ActError::Lost {
            host: self.label(),
            message,
        }
    }

    /// An ssh2 error as an [`ActError`]: a time limit, or the connection gone.
    fn ssh_error(&self, e: &ssh2::Error, what: &str, secs: u64) -> ActError {
        match e.code() {
            ssh2::ErrorCode::Session(-9) | ssh2::ErrorCode::Session(-30) => ActError::Timeout {
                program: what.into(),
                secs,
            },
            _ => self.lost(format!("{what}: {}", e.message())),
        }
    }

    fn io_error(&self, e: &std::io::Error, what: &str, secs: u64) -> ActError {
        if e.kind() == std::io::ErrorKind::TimedOut {
            return ActError::Timeout {
                program: what.into(),
                secs,
            };
        }
        self.lost(format!("{what}: {e}"))
    }

    /// Runs one command line on an exec channel: `stdin` written then closed, stdout then
    /// stderr read (bounded), the exit status. The session's per-call timeout is `timeout`
    /// meanwhile.
    fn exec_line(&self, cmd: &str, stdin: &[u8], timeout: Duration) -> Result<Output, ActError> {
        let session = self.host.session();
        session.set_timeout(ms(timeout));
        let r = self.exec_inner(cmd, stdin, timeout);
        session.set_timeout(ms(self.host.op_timeout()));
        r
    }

    fn exec_inner(&self, cmd: &str, stdin: &[u8], timeout: Duration) -> Result<Output, ActError> {
        let secs = timeout.as_secs();
        let what = cmd
            .split(' ')
            .find(|w| w.starts_with('/'))
            .unwrap_or("command");
        let what = if self.sudo { "sudo" } else { what };
        let deadline = Instant::now() + timeout;
        let session = self.host.session();
        let mut ch = session
            .channel_session()
            .map_err(|e| self.ssh_error(&e, "exec channel", secs))?;
        ch.exec(cmd).map_err(|e| self.ssh_error(&e, what, secs))?;
        if !stdin.is_empty() {
            ch.write_all(stdin)
                .map_err(|e| self.io_error(&e, "standard input", secs))?;
        }
        ch.send_eof()
            .map_err(|e| self.ssh_error(&e, "standard input", secs))?;
        let mut out = Output::default();
        read_bounded(&mut ch, &mut out.stdout, deadline)
            .map_err(|e| self.io_error(&e, what, secs))?;
        read_bounded(&mut ch.stderr(), &mut out.stderr, deadline)
            .map_err(|e| self.io_error(&e, what, secs))?;
        // exit_status() says 0 when no exit-status message came: trust it only after a
        // clean close.
        ch.wait_close()
            .map_err(|e| self.ssh_error(&e, what, secs))?;
        out.status = ch.exit_status().ok();
        if ch.exit_signal().ok().and_then(|s| s.exit_signal).is_some() {
            out.status = None;
        }
        Ok(out)
    }
}

/// Reads `r` to its end into `buf`, keeping at most [`MAX_OUTPUT`] bytes (the rest drained);
/// a timeout once `deadline` has passed.
fn read_bounded(r: &mut dyn Read, buf: &mut Vec<u8>, deadline: Instant) -> std::io::Result<()> {
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = r.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        let room = MAX_OUTPUT.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..n.min(room)]);
        if Instant::now() >= deadline {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
    }
}

/// `$SSH_CONNECTION` (`client-address client-port server-address server-port`) as the
/// [`Peer`] isolation keeps: the client's address and the server's port.
fn parse_ssh_connection(s: &str) -> Option<Peer> {
    let f: Vec<&str> = s.split_whitespace().collect();
    if f.len() != 4 {
        return None;
    }
    let addr: IpAddr = f[0].parse().ok()?;
    f[1].parse::<u16>().ok()?;
    let port: u16 = f[3].parse().ok()?;
    Some(Peer {
        addr: addr.to_canonical().to_string(),
        port,
    })
}

impl Actuator for SshActuator {
    fn host(&self) -> &str {
        &self.name
    }

    fn is_local(&self) -> bool {
        false
    }

    fn run(&mut self, argv: &[&str], stdin: &[u8], timeout: Duration) -> Result<Output, ActError> {
        let program = argv.first().copied().unwrap_or("");
        if !program.starts_with('/') {
            return Err(ActError::NotAbsolute {
                program: program.into(),
            });
        }
        let cmd = command_line(argv, self.sudo);
        let r = self.exec_line(&cmd, stdin, timeout);
        // Name the program, not the wrapper, in time limits.
        match r {
            Err(ActError::Timeout { secs, .. }) => Err(ActError::Timeout {
                program: program.into(),
                secs,
            }),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_connection_gives_the_client_address_and_the_server_port() {
        let p = parse_ssh_connection("198.18.0.1 40022 198.18.0.11 22\n").unwrap();
        assert_eq!((p.addr.as_str(), p.port), ("198.18.0.1", 22));
        let p = parse_ssh_connection("::ffff:10.0.0.5 5 ::1 2222").unwrap();
        assert_eq!((p.addr.as_str(), p.port), ("10.0.0.5", 2222));
        let p = parse_ssh_connection("fe80::1 5 fe80::2 22").unwrap();
        assert_eq!(p.addr, "fe80::1");
        assert!(parse_ssh_connection("").is_none());
        assert!(parse_ssh_connection("x 1 y 22").is_none());
        assert!(parse_ssh_connection("10.0.0.1 1 10.0.0.2 99999").is_none());
    }

    #[test]
    fn reading_is_bounded_and_drains_the_rest() {
        let data = vec![7u8; MAX_OUTPUT + 100];
        let mut buf = Vec::new();
        let far = Instant::now() + Duration::from_secs(60);
        read_bounded(&mut data.as_slice(), &mut buf, far).unwrap();
        assert_eq!(buf.len(), MAX_OUTPUT);
        let past = Instant::now() - Duration::from_secs(1);
        let e = read_bounded(&mut &b"x"[..], &mut Vec::new(), past).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    }
}
