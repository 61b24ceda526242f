//! The one interface through which containment touches a target: run a program (absolute
//! path, argument vector, optional stdin bytes) with a fixed environment and a time limit.
//! [`LocalActuator`] runs it on this machine; the SSH actuator (in `dossier-remote`) sends the
//! same argv, each argument quoted, on an exec channel, under `sudo -n` where the login is not
//! root.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Largest stdout or stderr kept from one command (the rest is drained and dropped).
pub const MAX_OUTPUT: usize = 16 << 20;

/// The environment every command runs with (nothing of the caller's).
pub const ENV: &[(&str, &str)] = &[
    ("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
    ("LC_ALL", "C"),
    ("SYSTEMD_COLORS", "0"),
    ("SYSTEMD_PAGER", ""),
];

/// What a command gave back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// Exit status; `None` when it was killed by a signal.
    pub status: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    /// Exit status 0.
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// The first line of stderr (or stdout when stderr is empty), for messages.
    pub fn reason(&self) -> String {
        let text = if self.stderr.iter().any(|b| !b.is_ascii_whitespace()) {
            &self.stderr
        } else {
            &self.stdout
        };
        let s = String::from_utf8_lossy(text);
        let line = s.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        match self.status {
            Some(c) => format!("exit status {c}: {}", line.trim()),
            None => format!("killed by a signal: {}", line.trim()),
        }
    }
}

/// A command that could not be run (not one that ran and failed: see [`Output::status`]).
#[derive(Debug, thiserror::Error)]
pub enum ActError {
    #[error("{program}: not an absolute path")]
    NotAbsolute { program: String },
    #[error("{program}: could not start: {message}")]
    Start { program: String, message: String },
    #[error("{program}: timed out after {secs} s")]
    Timeout { program: String, secs: u64 },
    #[error("connection to {host} lost: {message}")]
    Lost { host: String, message: String },
    #[error("{0}")]
    Other(String),
}

/// Runs programs on one target. Implementations never pass arguments through a shell
/// unquoted and never add the caller's environment.
pub trait Actuator: Send {
    /// The target's name (as in its bundles: the host name).
    fn host(&self) -> &str;

    /// Whether this is the machine dossier runs on.
    fn is_local(&self) -> bool;

    /// Runs `argv[0]` (an absolute path) with `argv[1..]`, `stdin` as its standard input, as
    /// root (or `sudo -n`), killed after `timeout`.
    fn run(&mut self, argv: &[&str], stdin: &[u8], timeout: Duration) -> Result<Output, ActError>;
}

/// Runs programs on this machine (dossier must be root for most actions).
#[derive(Debug, Clone)]
pub struct LocalActuator {
    host: String,
}

impl LocalActuator {
    /// An actuator for this machine, named by its host name.
    pub fn new() -> LocalActuator {
        let host = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "localhost".into());
        LocalActuator { host }
    }
}

impl Default for LocalActuator {
    fn default() -> Self {
        LocalActuator::new()
    }
}

/// Reads at most [`MAX_OUTPUT`] bytes of `r`, draining the rest.
fn read_bounded(mut r: impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 64 << 10];
    while let Ok(n) = r.read(&mut buf) {
        if n == 0 {
            break;
        }
        let room = MAX_OUTPUT.saturating_sub(out.len());
        out.extend_from_slice(&buf[..n.min(room)]);
    }
    out
}

impl Actuator for LocalActuator {
    fn host(&self) -> &str {
        &self.host
    }

    fn is_local(&self) -> bool {
        true
    }

    fn run(&mut self, argv: &[&str], stdin: &[u8], timeout: Duration) -> Result<Output, ActError> {
        let program = argv.first().copied().unwrap_or("");
        if !program.starts_with('/') {
            return Err(ActError::NotAbsolute {
                program: program.into(),
            });
        }
        let mut child = Command::new(program)
            .args(&argv[1..])
            .env_clear()
            .envs(ENV.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| ActError::Start {
                program: program.into(),
                message: e.to_string(),
            })?;
        let mut input = child.stdin.take();
        let data = stdin.to_vec();
        let writer = std::thread::spawn(move || {
            if let Some(w) = input.as_mut() {
                let _ = w.write_all(&data);
            }
        });
        let out = child
            .stdout
            .take()
            .map(|o| std::thread::spawn(move || read_bounded(o)));
        let err = child
            .stderr
            .take()
            .map(|e| std::thread::spawn(move || read_bounded(e)));
        let deadline = Instant::now() + timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(ActError::Timeout {
                        program: program.into(),
                        secs: timeout.as_secs(),
                    });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(ActError::Other(format!("{program}: {e}"))),
            }
        };
        let _ = writer.join();
        Ok(Output {
            status: status.code(),
            stdout: out.and_then(|h| h.join().ok()).unwrap_or_default(),
            stderr: err.and_then(|h| h.join().ok()).unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_with_stdin_fixed_environment_and_a_time_limit() {
        let mut a = LocalActuator::new();
        let t = Duration::from_secs(10);
        let o = a.run(&["/bin/cat"], b"hello", t).unwrap();
        assert_eq!(o.stdout, b"hello");
        assert!(o.success());
        let o = a.run(&["/usr/bin/env"], b"", t).unwrap();
        let env = String::from_utf8(o.stdout).unwrap();
        assert!(env.contains("LC_ALL=C"));
        assert!(!env.contains("HOME="), "caller's environment leaked: {env}");
        let o = a
            .run(&["/bin/sh", "-c", "echo no >&2; exit 3"], b"", t)
            .unwrap();
        assert_eq!(o.status, Some(3));
        assert_eq!(o.reason(), "exit status 3: no");
        assert!(matches!(
            a.run(&["sh"], b"", t),
            Err(ActError::NotAbsolute { .. })
        ));
        let started = Instant::now();
        assert!(matches!(
            a.run(&["/bin/sleep", "30"], b"", Duration::from_millis(300)),
            Err(ActError::Timeout { .. })
        ));
        assert!(started.elapsed() < Duration::from_secs(20));
    }
}
