//! A local RFC 3161 time-stamping authority for the trusted-time tests: a test CA, a TSA
//! certificate it issued (extendedKeyUsage critical timeStamping) and an unrelated CA, made
//! with the `openssl` CLI, and a tiny HTTP listener on 127.0.0.1 (of this process's network
//! namespace, or of the SSH lab's) that answers each POST with `openssl ts -reply`, or with
//! garbage.

use crate::{have, skip_or_fail, stderr, stdout};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};

/// What the test TSA answers.
#[derive(Clone, Copy)]
pub enum Answer {
    /// A token from `openssl ts -reply`.
    Token,
    /// `200 OK` with a body that is not a TimeStampResp.
    Garbage,
}

/// A local TSA: a test CA, a TSA certificate it issued (extendedKeyUsage critical
/// timeStamping), an unrelated CA, and an HTTP listener on 127.0.0.1 answering each POST.
pub struct Tsa {
    dir: tempfile::TempDir,
    pub url: String,
}

impl Tsa {
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The path of a file of the TSA (`ca.pem`, `tsa.pem`, `other.pem`).
    pub fn file(&self, name: &str) -> String {
        self.dir().join(name).to_str().unwrap().to_string()
    }
}

fn openssl(dir: &Path, args: &[&str]) -> Output {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}{}",
        stdout(&o),
        stderr(&o)
    );
    o
}

/// Starts a TSA answering `answer` on 127.0.0.1; `None` (after saying why) without the
/// openssl CLI.
pub fn start_tsa(answer: Answer) -> Option<Tsa> {
    start_tsa_in(answer, None)
}

/// [`start_tsa`], listening on 127.0.0.1 of the network namespace `netns` (`/run/netns/NAME`,
/// as the SSH lab's `Lab::netns`) when given, so that a `dossier` run in it can reach it.
pub fn start_tsa_in(answer: Answer, netns: Option<&str>) -> Option<Tsa> {
    if !have("openssl") {
        skip_or_fail("the openssl CLI (Debian package openssl) runs the test TSA");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    for (name, subject) in [
        ("ca", "/CN=dossier e2e CA"),
        ("other", "/CN=dossier other CA"),
    ] {
        let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
        let mut args = vec!["req", "-x509"];
        args.extend(ec);
        args.extend([
            "-keyout", &key, "-out", &pem, "-subj", subject, "-days", "30",
        ]);
        openssl(d, &args);
    }
    let mut args = vec!["req"];
    args.extend(ec);
    args.extend(["-keyout", "tsa.key", "-out", "tsa.csr"]);
    args.extend(["-subj", "/O=dossier e2e/CN=dossier e2e TSA"]);
    openssl(d, &args);
    std::fs::write(
        d.join("ext"),
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "tsa.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "7",
            "-days",
            "30",
            "-extfile",
            "ext",
            "-out",
            "tsa.pem",
        ],
    );
    std::fs::write(
        d.join("tsa.cnf"),
        format!(
            "[tsa]\ndefault_tsa=t\n[t]\nserial={}/serial\nsigner_digest=sha256\ndefault_policy=1.2.3.4.1\nother_policies=1.2.3.4.1\ndigests=sha256\naccuracy=secs:1\nordering=no\ntsa_name=yes\ness_cert_id_chain=no\ness_cert_id_alg=sha256\n",
            d.display()
        ),
    )
    .unwrap();
    std::fs::write(d.join("serial"), "01\n").unwrap();
    let root = d.to_path_buf();
    let netns = netns.map(|n| Path::new("/run/netns").join(n));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if let Some(ns) = &netns {
            enter_netns(ns);
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        tx.send(listener.local_addr().unwrap()).unwrap();
        for (i, conn) in listener.incoming().enumerate() {
            if let Ok(conn) = conn {
                serve(conn, &root, i, answer);
            }
        }
    });
    let url = format!("http://{}/tsa", rx.recv().unwrap());
    Some(Tsa { dir, url })
}

/// Moves the calling thread (only it) into the network namespace at `ns`.
pub(crate) fn enter_netns(ns: &Path) {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(ns).unwrap_or_else(|e| panic!("{}: {e}", ns.display()));
    // SAFETY: setns on a descriptor we hold open, for this thread only; no memory involved.
    let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(
        r,
        0,
        "setns {}: {}",
        ns.display(),
        std::io::Error::last_os_error()
    );
}

/// Answers one HTTP POST: its body through `openssl ts -reply`, or garbage.
fn serve(mut conn: TcpStream, root: &Path, i: usize, answer: Answer) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let body_at = loop {
        let n = conn.read(&mut buf).unwrap_or(0);
        if n == 0 {
            return;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(p) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..body_at]).to_lowercase();
    assert!(head.starts_with("post /tsa http/1.1"), "{head}");
    assert!(
        head.contains("content-type: application/timestamp-query"),
        "{head}"
    );
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .unwrap();
    while data.len() < body_at + len {
        let n = conn.read(&mut buf).unwrap_or(0);
        if n == 0 {
            return;
        }
        data.extend_from_slice(&buf[..n]);
    }
    let body = match answer {
        Answer::Garbage => b"this is not a TimeStampResp".to_vec(),
        Answer::Token => {
            let (q, r) = (
                root.join(format!("q{i}.tsq")),
                root.join(format!("r{i}.tsr")),
            );
            std::fs::write(&q, &data[body_at..body_at + len]).unwrap();
            let s = |p: &Path| p.to_str().unwrap().to_string();
            let cnf = s(&root.join("tsa.cnf"));
            let (key, pem) = (s(&root.join("tsa.key")), s(&root.join("tsa.pem")));
            openssl(
                root,
                &[
                    "ts",
                    "-reply",
                    "-config",
                    &cnf,
                    "-queryfile",
                    &s(&q),
                    "-inkey",
                    &key,
                    "-signer",
                    &pem,
                    "-out",
                    &s(&r),
                ],
            );
            std::fs::read(&r).unwrap()
        }
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(&[head.as_bytes(), &body].concat());
}
