//! A local S3-compatible server for the object-storage tests: `moto` in server mode
//! (`DOSSIER_MOTO_SERVER`, or `moto_server` on the PATH; `.ci/run` installs it in a virtual
//! environment), on 127.0.0.1 at a free port, started and stopped by PID; plain HTTP requests
//! to it that need no signature (moto's own API, bucket creation and listings); and a proxy
//! that forwards to it until it is cut, for a server that dies in the middle of an upload.

use crate::skip_or_fail;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The moto server program (`None`: skipped outside CI, a failure under it).
fn moto_program() -> Option<PathBuf> {
    let p = std::env::var_os("DOSSIER_MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("moto_server"));
    let runs = Command::new(&p)
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if runs {
        Some(p)
    } else {
        skip_or_fail(&format!(
            "{} does not run (pip install 'moto[server]', or set DOSSIER_MOTO_SERVER; .ci/run \
             makes a virtual environment with it)",
            p.display()
        ));
        None
    }
}

/// A free TCP port on 127.0.0.1 (free when asked; the server binds it right after).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running moto server; killed (by its PID) and reaped when dropped.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    /// Starts moto on a free loopback port and waits until it answers (`None`: skipped).
    pub fn start() -> Option<Moto> {
        let program = moto_program()?;
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(&program)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start moto_server");
            let mut m = Moto { child, port };
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if m.child.try_wait().ok().flatten().is_some() {
                    break;
                }
                if m.request("GET", "/moto-api/data.json", b"").0 == 200 {
                    return Some(m);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            drop(m);
        }
        panic!("moto_server did not start on 127.0.0.1");
    }

    /// The endpoint URL (`AWS_ENDPOINT_URL`).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One HTTP/1.0 request to the server: status and body (status 0 when unreachable).
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        request(self.port, method, path, body)
    }

    /// Creates `bucket`.
    pub fn create_bucket(&self, bucket: &str) {
        let (status, body) = self.request("PUT", &format!("/{bucket}"), b"");
        assert_eq!(status, 200, "create bucket {bucket}: {body}");
    }

    /// From now on every request needs credentials the server's IAM knows (none do), so
    /// any key is refused as S3 refuses an unknown one.
    pub fn require_auth(&self) {
        let (status, body) = self.request("POST", "/moto-api/reset-auth", b"0");
        assert_eq!(status, 200, "reset-auth: {body}");
    }

    /// The keys in `bucket` (all of them, sorted).
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let (status, body) = self.request("GET", &format!("/{bucket}?list-type=2"), b"");
        assert_eq!(status, 200, "list {bucket}: {body}");
        let mut keys: Vec<String> = body
            .split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(str::to_string)
            .collect();
        keys.sort();
        keys
    }

    /// The multipart uploads started and neither completed nor aborted in `bucket`.
    pub fn open_uploads(&self, bucket: &str) -> usize {
        let (status, body) = self.request("GET", &format!("/{bucket}?uploads"), b"");
        assert_eq!(status, 200, "list uploads {bucket}: {body}");
        body.matches("<Upload>").count()
    }

    /// The bytes of object `key` of `bucket`.
    pub fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        let (status, body) = raw(self.port, "GET", &format!("/{bucket}/{key}"), b"");
        assert_eq!(status, 200, "get {key}");
        body
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Environment for a `dossier` process that talks to `endpoint`: test keys, a region, no
/// other AWS variable of the machine (no profile, no credentials file).
pub fn env_for(cmd: &mut Command, endpoint: &str) {
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(|k| k.starts_with("AWS_")) {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_ACCESS_KEY_ID", "dossier-test")
        .env("AWS_SECRET_ACCESS_KEY", "dossier-test-secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/dossier-tests")
        .env("AWS_ENDPOINT_URL", endpoint);
}

fn raw(port: u16, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, vec![]);
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    // moto checks no signature, but answers an anonymous GET of an object with 403: an
    // Authorization header of the shape S3 expects makes the request the default account's.
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=dossier-test/20261203/us-east-1/s3/\
         aws4_request, SignedHeaders=host, Signature=00\r\n\r\n",
        body.len()
    );
    if s.write_all(head.as_bytes())
        .and_then(|_| s.write_all(body))
        .is_err()
    {
        return (0, vec![]);
    }
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let Some(split) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return (0, vec![]);
    };
    let status = String::from_utf8_lossy(&answer[..split])
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, answer[split + 4..].to_vec())
}

fn request(port: u16, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let (status, body) = raw(port, method, path, body);
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// A TCP proxy on a free loopback port to a server, that dies (closes every connection and
/// stops listening) once `cut_after` bytes have gone towards the server.
pub struct CutProxy {
    pub port: u16,
    pub cut: Arc<AtomicBool>,
}

impl CutProxy {
    /// Starts the proxy to 127.0.0.1:`to`.
    pub fn start(to: u16, cut_after: u64) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let cut = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let flag = cut.clone();
        std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let _ = client.set_nonblocking(false);
                let Ok(server) = TcpStream::connect(("127.0.0.1", to)) else {
                    continue;
                };
                if let Ok(mut o) = open.lock() {
                    o.extend(client.try_clone().ok());
                    o.extend(server.try_clone().ok());
                }
                pump(client.try_clone().unwrap(), server.try_clone().unwrap(), {
                    let (sent, flag, open) = (sent.clone(), flag.clone(), open.clone());
                    Some(move |n: u64| {
                        if sent.fetch_add(n, Ordering::SeqCst) + n > cut_after {
                            flag.store(true, Ordering::SeqCst);
                            if let Ok(o) = open.lock() {
                                for s in o.iter() {
                                    let _ = s.shutdown(Shutdown::Both);
                                }
                            }
                            return false;
                        }
                        true
                    })
                });
                pump(server, client, None::<fn(u64) -> bool>);
            }
            // The listener is dropped here: new connections are refused.
        });
        CutProxy { port, cut }
    }
}

/// Copies `from` to `to` on a thread; `count` sees each chunk's size before it is sent and
/// stops the copy by returning false.
fn pump<F: FnMut(u64) -> bool + Send + 'static>(
    mut from: TcpStream,
    mut to: TcpStream,
    mut count: Option<F>,
) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if count.as_mut().is_some_and(|c| !c(n as u64)) {
                break;
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// A relay on 127.0.0.1 inside the network namespace `netns` (a lab's, where its sweeps run)
/// to the server on this namespace's 127.0.0.1:`to`: returns the relay's port in `netns`.
/// Connections are accepted by a thread inside `netns` and made to the server by one outside.
pub fn relay_from_netns(netns: &str, to: u16) -> u16 {
    let ns = std::path::Path::new("/run/netns").join(netns);
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let (conn_tx, conn_rx) = std::sync::mpsc::channel::<TcpStream>();
    std::thread::spawn(move || {
        for client in conn_rx {
            let Ok(server) = TcpStream::connect(("127.0.0.1", to)) else {
                continue;
            };
            let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                continue;
            };
            pump(c2, s2, None::<fn(u64) -> bool>);
            pump(server, client, None::<fn(u64) -> bool>);
        }
    });
    std::thread::spawn(move || {
        crate::tsa::enter_netns(&ns);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay");
        port_tx
            .send(listener.local_addr().expect("relay address").port())
            .expect("send the relay's port");
        for c in listener.incoming().flatten() {
            if conn_tx.send(c).is_err() {
                return;
            }
        }
    });
    port_rx.recv().expect("the relay's port")
}
