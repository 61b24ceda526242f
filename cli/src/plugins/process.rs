//! dossier's side of a plugin host child: starting `dossier __plugin-host` (this same binary,
//! `/proc/self/exe`) with a cleaned environment and piped standard descriptors, exchanging
//! frames with a time limit per request, serving the plugin's callbacks, and turning a child
//! that dies or hangs into a one-line reason (`killed by SIGSEGV`, `timed out after 60 s`).
//! The pool of children of one library, and the `Transport` over it, are in [`super::pool`].

use super::child::HOST_ARG;
use super::frame::{self, Frame, Head};
use super::{PluginLoadError, load_error};
use dossier_plugin_abi::bridge::{Handler, LibMeta, Reply};
use dossier_plugin_abi::{STATUS_BAD_INPUT, WireError};
use std::collections::{HashSet, VecDeque};
use std::io::{BufRead, BufReader, BufWriter, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Lines of a child's stderr passed on to dossier's stderr; later ones are counted only.
const MAX_STDERR_LINES: usize = 200;
/// Longest stderr line passed on (longer ones are cut).
const MAX_STDERR_LINE: usize = 1024;
/// Last stderr lines kept to explain a death.
const TAIL: usize = 8;

/// Environment variables a plugin host keeps; every other one is removed (SSH agent socket,
/// passphrase and password variables, ...). Names starting with `DOSSIER_PLUGIN_` are kept
/// too: they are for plugins.
const KEPT_ENV: [&str; 8] = [
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR",
];

/// Whether a child keeps environment variable `name`.
pub fn kept_env(name: &str) -> bool {
    KEPT_ENV.contains(&name) || name.starts_with("LC_") || name.starts_with("DOSSIER_PLUGIN_")
}

/// What the stderr thread of a child keeps.
#[derive(Default)]
struct StderrLog {
    tail: VecDeque<String>,
    passed: usize,
    dropped: usize,
    done: bool,
}

/// One running plugin host child.
pub(super) struct HostProcess {
    child: Child,
    /// Its input; `None` once closed.
    stdin: Option<BufWriter<ChildStdin>>,
    frames: Receiver<std::io::Result<Frame>>,
    stderr: Arc<(Mutex<StderrLog>, std::sync::Condvar)>,
    /// What it was started for, for messages: the library's file name, then its plugin name.
    prefix: Arc<Mutex<String>>,
    /// dossier's ids of the instances made in it.
    pub(super) instances: HashSet<u64>,
    /// The memory limit it was started with (bytes).
    pub(super) memory: u64,
}

impl std::fmt::Debug for HostProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostProcess")
            .field("pid", &self.child.id())
            .finish()
    }
}

/// Passes a child's stderr on, each line prefixed, at most [`MAX_STDERR_LINES`].
fn forward_stderr(
    err: std::process::ChildStderr,
    log: Arc<(Mutex<StderrLog>, std::sync::Condvar)>,
    prefix: Arc<Mutex<String>>,
) {
    let mut r = BufReader::new(err);
    let mut line = Vec::new();
    loop {
        line.clear();
        match r
            .by_ref()
            .take(MAX_STDERR_LINE as u64)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        let mut l = log.0.lock().unwrap_or_else(|e| e.into_inner());
        if l.passed < MAX_STDERR_LINES {
            l.passed += 1;
            let p = prefix.lock().map(|p| p.clone()).unwrap_or_default();
            eprintln!("plugin {p}: {text}");
        } else {
            l.dropped += 1;
        }
        l.tail.push_back(text);
        if l.tail.len() > TAIL {
            l.tail.pop_front();
        }
    }
    let mut l = log.0.lock().unwrap_or_else(|e| e.into_inner());
    if l.dropped > 0 {
        let p = prefix.lock().map(|p| p.clone()).unwrap_or_default();
        eprintln!(
            "plugin {p}: ... {} more line(s) of its stderr not shown",
            l.dropped
        );
    }
    l.done = true;
    log.1.notify_all();
}

/// Why a request to a child failed: the child is gone (killed when it was not).
pub(super) type Gone = String;

impl HostProcess {
    /// Starts a plugin host child and has it load `path` under `memory` bytes of address
    /// space; returns it with the library's metadata, or why it cannot be used.
    pub(super) fn start(
        path: &Path,
        memory: u64,
        timeout: Duration,
    ) -> Result<(HostProcess, LibMeta), PluginLoadError> {
        let mut cmd = Command::new("/proc/self/exe");
        cmd.arg(HOST_ARG)
            .env_clear()
            .envs(std::env::vars_os().filter(|(k, _)| k.to_str().is_some_and(kept_env)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| load_error(path, format!("cannot start the plugin host: {e}")))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(load_error(path, "the plugin host has no pipes"));
        };
        let (tx, frames) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::with_capacity(1 << 16, stdout);
            loop {
                match frame::read(&mut r) {
                    Ok(Some(f)) => {
                        if tx.send(Ok(f)).is_err() {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        break;
                    }
                }
            }
        });
        let shown = path
            .file_name()
            .map(|n| String::from_utf8_lossy(n.as_bytes()).into_owned())
            .unwrap_or_default();
        let prefix = Arc::new(Mutex::new(shown));
        let stderr_log = Arc::new((Mutex::default(), std::sync::Condvar::new()));
        {
            let (log, prefix) = (stderr_log.clone(), prefix.clone());
            std::thread::spawn(move || forward_stderr(stderr, log, prefix));
        }
        let mut p = HostProcess {
            child,
            stdin: Some(BufWriter::with_capacity(1 << 16, stdin)),
            frames,
            stderr: stderr_log,
            prefix,
            instances: HashSet::new(),
            memory,
        };
        let meta = p.load(path, timeout)?;
        Ok((p, meta))
    }

    /// Has the child hash and load the library: first the hash (sent before the library's
    /// code runs), then the metadata, which must name the same hash.
    fn load(&mut self, path: &Path, timeout: Duration) -> Result<LibMeta, PluginLoadError> {
        let p = self;
        let load = Frame::new(
            Head::Load { memory: p.memory },
            path.as_os_str().as_bytes().to_vec(),
        );
        let hashed = match p.exchange(&load, None, timeout) {
            Ok(Frame {
                head: Head::Hashed { sha256 },
                ..
            }) => p.receive(None, timeout).map(|f| (Some(sha256), f)),
            other => other.map(|f| (None, f)),
        };
        match hashed {
            Ok((
                Some(sha256),
                Frame {
                    head: Head::Loaded { meta },
                    ..
                },
            )) if meta.sha256 == sha256 => {
                if let Ok(mut x) = p.prefix.lock() {
                    x.clone_from(&meta.name);
                }
                Ok(meta)
            }
            Ok((
                _,
                Frame {
                    head: Head::Refused { path, message },
                    ..
                },
            )) => Err(PluginLoadError { path, message }),
            Ok((
                Some(sha256),
                Frame {
                    head: Head::Loaded { meta },
                    ..
                },
            )) => Err(load_error(
                path,
                p.kill(format!(
                    "refused: the library reported SHA-256 {}, but the file hashed to {sha256} \
                     before it was loaded",
                    meta.sha256
                )),
            )),
            Ok((_, other)) => Err(load_error(
                path,
                p.kill(format!("plugin host answered {:?} out of turn", other.head)),
            )),
            Err(gone) => Err(load_error(
                path,
                format!("the plugin host failed while loading the library: {gone}"),
            )),
        }
    }

    /// Sends a request and serves callbacks until its answer; the time the child runs counts
    /// against `timeout` (the time dossier spends serving a callback does not).
    pub(super) fn exchange(
        &mut self,
        req: &Frame,
        handler: Option<Handler<'_>>,
        timeout: Duration,
    ) -> Result<Frame, Gone> {
        if let Err(e) = self.send(req) {
            return Err(self.died(&format!("closed its input ({e})")));
        }
        self.receive(handler, timeout)
    }

    /// Serves callbacks until the next other frame from the child (see [`Self::exchange`]).
    pub(super) fn receive(
        &mut self,
        mut handler: Option<Handler<'_>>,
        timeout: Duration,
    ) -> Result<Frame, Gone> {
        let mut deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let f = match self.frames.recv_timeout(left) {
                Ok(Ok(f)) => f,
                // Cut in the middle of a frame: it died while writing.
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Err(self.died("closed its output"));
                }
                Ok(Err(e)) => return Err(self.kill(format!("broke the protocol ({e})"))),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(self.kill(format!("timed out after {} s", timeout.as_secs())));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(self.died("closed its output"));
                }
            };
            let Head::Callback { op } = f.head else {
                return Ok(f);
            };
            let served = Instant::now();
            let reply = match handler.as_mut() {
                Some(h) => h(op, &f.a, &f.b),
                None => Reply {
                    status: STATUS_BAD_INPUT,
                    json: WireError::new("bad_input", "no callbacks in this call").to_json(),
                    data: Vec::new(),
                },
            };
            deadline += served.elapsed();
            let answer = Frame {
                head: Head::Reply {
                    status: reply.status,
                },
                a: reply.json,
                b: reply.data,
            };
            if let Err(e) = self.send(&answer) {
                return Err(self.died(&format!("closed its input ({e})")));
            }
        }
    }

    fn send(&mut self, f: &Frame) -> std::io::Result<()> {
        match self.stdin.as_mut() {
            Some(w) => frame::write(w, f),
            None => Err(std::io::ErrorKind::BrokenPipe.into()),
        }
    }

    /// Kills the child (its PID, which this process started), reaps it and returns `reason`.
    pub(super) fn kill(&mut self, reason: String) -> Gone {
        let _ = self.child.kill();
        let _ = self.child.wait();
        reason
    }

    /// Why the child stopped answering: its exit status or signal, from its last words.
    fn died(&mut self, what: &str) -> Gone {
        let until = Instant::now() + Duration::from_secs(2);
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(5)),
                _ => break None,
            }
        };
        let Some(status) = status else {
            return self.kill(format!("{what} but did not exit"));
        };
        let tail = self.stderr_tail(Duration::from_millis(500));
        let mut reason = match (status.signal(), status.code()) {
            (Some(sig), _) => format!("killed by {}", signal_name(sig)),
            (None, Some(code)) => format!("exited with status {code}"),
            _ => format!("ended ({status})"),
        };
        if tail.iter().any(|l| l.contains("memory allocation of")) {
            reason.push_str(&format!(
                " (out of memory: limit {} MiB)",
                self.memory >> 20
            ));
        } else if tail.iter().any(|l| l.contains("has overflowed its stack")) {
            reason.push_str(" (stack overflow)");
        }
        reason
    }

    /// The last lines of the child's stderr, once its stderr ended (or after `wait`).
    fn stderr_tail(&self, wait: Duration) -> Vec<String> {
        let (lock, cv) = &*self.stderr;
        let g = lock.lock().unwrap_or_else(|e| e.into_inner());
        let (g, _) = cv
            .wait_timeout_while(g, wait, |l| !l.done)
            .unwrap_or_else(|e| e.into_inner());
        g.tail.iter().cloned().collect()
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        // End of input: the child returns from its loop and exits; one that does not within
        // a moment is killed.
        drop(self.stdin.take());
        let until = Instant::now() + Duration::from_millis(200);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(2)),
                Ok(None) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return;
                }
            }
        }
    }
}

/// `SIGSEGV` for 11, ...
fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {sig}"))
}
