//! Trusted time in the commands: `collect`/`sweep --tsa URL` ask a TSA for an RFC 3161 token
//! over each finished bundle ([`timestamp`]: stored as `BUNDLE.zip.tsr`, recorded in the
//! custody ledger whether it worked or not), and `verify --tsa-cert` checks it offline
//! ([`check_token`]). The token format and its checks are `dossier_bundle::timestamp`.
//!
//! The TSA client is one HTTP/1.1 POST of a TimeStampReq (`application/timestamp-query`)
//! over a plain TCP connection, and the answer's body.
//!
//! RFC 3161 over HTTP is one request and one response, and the token is signed, so TSAs serve
//! plain `http://`; this is a few dozen lines of std rather than an HTTP crate: no TLS, no
//! redirects, no proxies, no keep-alive. Everything about the exchange is bounded: 15 s in
//! all (connect, send, receive), 64 KiB of headers, 1 MiB of body.

use dossier_bundle::ledger;
use dossier_bundle::reader::{Problem, Verification};
use dossier_bundle::signature::SigningKey;
use dossier_bundle::timestamp::{self, Request, Stamp, TsaCerts};
use dossier_bundle::writer::FinishedBundle;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a TSA has for the whole exchange.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// Largest answer read (a token is a few KiB).
const MAX_BODY: usize = 1 << 20;
const MAX_HEAD: usize = 64 << 10;

/// A token stored beside a bundle, and what it says.
#[derive(Debug, Clone)]
pub struct Stamped {
    pub path: PathBuf,
    pub stamp: Stamp,
}

/// Asks the TSA at `url` for a token over a finished bundle and stores it as
/// `BUNDLE.zip.tsr`; records the outcome in the custody ledger of `out_dir` (`timestamped`
/// with the TSA's name, genTime and serial, or `timestamp_failed` with why), and with `--sign`
/// signs the ledger head again so that entry is covered. The bundle stays either way.
pub fn timestamp(
    out_dir: &Path,
    bundle: &FinishedBundle,
    url: &TsaUrl,
    key: Option<&SigningKey>,
) -> Result<Stamped, String> {
    let got = request_token(bundle, url).map_err(|e| format!("TSA {}: {e}", url.url));
    let (action, detail) = match &got {
        Ok(s) => (
            "timestamped",
            format!(
                "TSA {}, genTime {}, serial {}, token {}",
                s.stamp.tsa,
                s.stamp.gen_time,
                s.stamp.serial,
                ledger::bundle_name(&s.path)
            ),
        ),
        Err(e) => ("timestamp_failed", e.clone()),
    };
    let recorded = ledger::append(
        out_dir,
        &ledger::Event {
            action,
            bundle: &ledger::bundle_name(&bundle.path),
            sha256: Some(&bundle.sha256),
            detail: Some(&detail),
        },
    )
    .map_err(|e| format!("the custody ledger was not updated: {e}"))
    .and_then(|_| match key {
        Some(k) => k
            .sign_ledger_head(out_dir)
            .map(drop)
            .map_err(|e| format!("the custody ledger's head was not signed again: {e}")),
        None => Ok(()),
    });
    match (got, recorded) {
        (Ok(s), Ok(())) => Ok(s),
        (Ok(_), Err(e)) => Err(format!("timestamped, but {e}")),
        (Err(e), Ok(())) => Err(e),
        (Err(e), Err(r)) => Err(format!("{e}; and {r}")),
    }
}

/// The exchange with the TSA, its answer checked, and the token written.
fn request_token(bundle: &FinishedBundle, url: &TsaUrl) -> Result<Stamped, String> {
    let imprint: [u8; 32] = dossier_plugin_api::encoding::unhex(&bundle.sha256)
        .and_then(|b| b.try_into().ok())
        .ok_or("the bundle's SHA-256 is not 64 hex digits")?;
    let request = Request::new(imprint).map_err(|e| e.to_string())?;
    let answer = post(url, request.der())?;
    let stamp = request.check_response(&answer).map_err(|e| e.to_string())?;
    let path = timestamp::write_token(&bundle.path, &answer).map_err(|e| e.to_string())?;
    Ok(Stamped { path, stamp })
}

/// `verify`'s look at a bundle's token: with `--tsa-cert`, a missing or bad token is a
/// problem of `v` (subject `timestamp`) and a good one gives the line to print; without, a
/// token present is reported as not checked.
pub fn check_token(certs: &TsaCerts, path: &Path, v: &mut Verification) -> Option<String> {
    if certs.is_empty() {
        return timestamp::has_token(path).then(|| {
            format!(
                "timestamp token {} present, not checked (no --tsa-cert)",
                timestamp::token_path(path).display()
            )
        });
    }
    let checked = match v.sha256.as_deref() {
        Some(sha256) => timestamp::verify_token(path, sha256, certs).map_err(|e| e.to_string()),
        None => Err("the bundle file could not be hashed".into()),
    };
    match checked {
        Ok(s) => Some(format!("timestamped by {} at {}", s.tsa, s.gen_time)),
        Err(message) => {
            v.problems.push(Problem {
                subject: "timestamp".into(),
                message,
            });
            None
        }
    }
}

/// A TSA URL, checked: `http://host[:port][/path]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsaUrl {
    /// As given (for messages and the ledger).
    pub url: String,
    host: String,
    port: u16,
    path: String,
}

impl TsaUrl {
    /// Parses `--tsa`: `http://` only (the token is signed; TLS adds nothing it needs).
    pub fn parse(url: &str) -> Result<TsaUrl, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            format!("--tsa {url}: only http:// TSA URLs are supported (the token is signed, so TSAs serve plain HTTP)")
        })?;
        if url.len() > 2048 || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(format!("--tsa {url}: not a URL"));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let bad_port = |p: &str| format!("--tsa {url}: bad port {p:?}");
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad_port(authority))?;
            match after.strip_prefix(':') {
                Some(p) => (h, p.parse::<u16>().map_err(|_| bad_port(p))?),
                None if after.is_empty() => (h, 80),
                None => return Err(bad_port(after)),
            }
        } else {
            match authority.split_once(':') {
                Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad_port(p))?),
                None => (authority, 80),
            }
        };
        if host.is_empty() || authority.contains('@') {
            return Err(format!(
                "--tsa {url}: no host (or user info, which is refused)"
            ));
        }
        Ok(TsaUrl {
            url: url.to_string(),
            host: host.to_string(),
            port,
            path: path.to_string(),
        })
    }

    /// The `Host` header's value.
    fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// POSTs `query` (a DER TimeStampReq) to the TSA and returns the body of its `200` answer,
/// all within [`TIMEOUT`].
pub fn post(url: &TsaUrl, query: &[u8]) -> Result<Vec<u8>, String> {
    post_within(url, query, TIMEOUT)
}

fn post_within(url: &TsaUrl, query: &[u8], timeout: Duration) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + timeout;
    let mut stream = connect(url, deadline)?;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: dossier/{}\r\nContent-Type: application/timestamp-query\r\nAccept: application/timestamp-reply\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        url.path,
        url.host_header(),
        env!("CARGO_PKG_VERSION"),
        query.len()
    );
    stream
        .write_all(&[head.as_bytes(), query].concat())
        .map_err(|e| format!("sending the request: {e}"))?;
    let answer = read_answer(&mut stream, deadline, timeout)?;
    body_of(&answer)
}

/// A connection to the first address of the TSA that answers before `deadline`.
fn connect(url: &TsaUrl, deadline: Instant) -> Result<TcpStream, String> {
    let addrs = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", url.host))?;
    let mut last = format!("{} has no address", url.host);
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => {
                let _ = s.set_write_timeout(Some(left));
                return Ok(s);
            }
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

/// Everything the TSA sends until it closes the connection (or the announced length is
/// in), within the deadline and the size bounds.
fn read_answer(
    stream: &mut TcpStream,
    deadline: Instant,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let late = || format!("no complete answer within {} s", timeout.as_secs());
    let mut data = Vec::new();
    let mut buf = [0u8; 16 << 10];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(late());
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        match stream.read(&mut buf) {
            Ok(0) => return Ok(data),
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(late());
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("reading the answer: {e}")),
        }
        if data.len() > MAX_HEAD + MAX_BODY {
            return Err("the answer is larger than 1 MiB".into());
        }
        if complete(&data) {
            return Ok(data);
        }
    }
}

/// Whether `data` holds the whole answer its `Content-Length` announces.
fn complete(data: &[u8]) -> bool {
    let Some(end) = find(data, b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&data[..end]);
    header(&head, "content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| data.len() >= end + 4 + n)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The value of header `name` (lower case) in `head`.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The body of a `200` answer (by `Content-Length`, chunked, or up to the close).
fn body_of(answer: &[u8]) -> Result<Vec<u8>, String> {
    let end = find(answer, b"\r\n\r\n")
        .filter(|&e| e <= MAX_HEAD)
        .ok_or("not an HTTP answer")?;
    let head = String::from_utf8_lossy(&answer[..end]);
    let status = head.lines().next().unwrap_or("");
    let mut parts = status.split_whitespace();
    let (version, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !version.starts_with("HTTP/1.") {
        return Err("not an HTTP answer".into());
    }
    if code != "200" {
        let line: String = status
            .chars()
            .filter(|c| !c.is_control())
            .take(100)
            .collect();
        return Err(format!("the TSA answered {line:?}"));
    }
    let rest = &answer[end + 4..];
    let chunked = header(&head, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = header(&head, "content-length") {
        let n: usize = n.parse().map_err(|_| "a bad Content-Length")?;
        rest.get(..n).ok_or("the answer was cut short")?.to_vec()
    } else {
        rest.to_vec()
    };
    if body.len() > MAX_BODY {
        return Err("the answer is larger than 1 MiB".into());
    }
    Ok(body)
}

/// Decodes a chunked body.
fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = find(data, b"\r\n").ok_or("a chunked answer cut short")?;
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "a bad chunk size")?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if size > MAX_BODY || data.len() < size + 2 {
            return Err("a chunked answer cut short".into());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = TsaUrl::parse("http://127.0.0.1:3180/tsa").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 3180, "/tsa")
        );
        assert_eq!(u.host_header(), "127.0.0.1:3180");
        let u = TsaUrl::parse("http://tsa.example").unwrap();
        assert_eq!(
            (u.port, u.path.as_str(), u.host_header().as_str()),
            (80, "/", "tsa.example")
        );
        let u = TsaUrl::parse("http://[::1]:81/x").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.host_header().as_str()),
            ("::1", 81, "[::1]:81")
        );
        for bad in [
            "https://tsa.example",
            "ftp://x",
            "http://",
            "http://a b/",
            "http://u@h/",
            "http://h:99999/",
        ] {
            assert!(TsaUrl::parse(bad).is_err(), "{bad}");
        }
    }

    /// A TSA on 127.0.0.1 that reads the request and then does `then` with the connection.
    fn local_tsa(then: fn(std::net::TcpStream)) -> TsaUrl {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = TsaUrl::parse(&format!("http://{}/", l.local_addr().unwrap())).unwrap();
        std::thread::spawn(move || {
            for mut c in l.incoming().flatten() {
                let mut buf = [0u8; 4096];
                let _ = c.read(&mut buf);
                then(c);
            }
        });
        url
    }

    #[test]
    fn a_silent_or_trickling_tsa_is_given_up_on_at_the_deadline() {
        let silent = local_tsa(|c| {
            std::thread::sleep(Duration::from_secs(5));
            drop(c);
        });
        let trickle = local_tsa(|mut c| {
            let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
            for _ in 0..50 {
                std::thread::sleep(Duration::from_millis(100));
                if c.write_all(b"x").is_err() {
                    return;
                }
            }
        });
        for url in [silent, trickle] {
            let clock = Instant::now();
            let e = post_within(&url, b"q", Duration::from_secs(1)).unwrap_err();
            assert_eq!(e, "no complete answer within 1 s");
            let took = clock.elapsed();
            assert!(
                took >= Duration::from_millis(900) && took < Duration::from_secs(3),
                "{took:?}"
            );
        }
        let ok = local_tsa(|mut c| {
            let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            std::thread::sleep(Duration::from_secs(5));
        });
        assert_eq!(
            post_within(&ok, b"q", Duration::from_secs(1)).unwrap(),
            b"ok"
        );
    }

    #[test]
    fn answers() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nContent-Length: 3\r\n\r\nabcdef";
        assert_eq!(body_of(ok).unwrap(), b"abc");
        assert!(complete(ok));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1;x\r\nc\r\n0\r\n\r\n";
        assert_eq!(body_of(chunked).unwrap(), b"abc");
        let close = b"HTTP/1.0 200 OK\r\n\r\nxyz";
        assert_eq!(body_of(close).unwrap(), b"xyz");
        let e = body_of(b"HTTP/1.1 503 Busy\x1b[2J\r\n\r\n").unwrap_err();
        assert_eq!(e, "the TSA answered \"HTTP/1.1 503 Busy[2J\"");
        for bad in [
            &b"garbage"[..],
            b"SSH-2.0-x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nff\r\nab",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ] {
            assert!(body_of(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
