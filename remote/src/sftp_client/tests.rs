//! Tests of the SFTP client: against the local `sftp-server -R` over pipes (the same server a
//! target runs), and against hostile byte streams.

use super::reader::ReadAhead;
use super::*;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// The tests' skip-or-fail rule, shared with `dossier-tests` (which this crate cannot depend
/// on): the original is `tests/src/skip.rs`.
#[path = "../../../tests/src/skip.rs"]
mod skip;

/// The local `sftp-server -R` over pipes: the same server a target runs under sudo.
struct Pipes {
    _child: Child,
    inp: ChildStdin,
    out: ChildStdout,
}
impl Read for Pipes {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        self.out.read(b)
    }
}
impl Write for Pipes {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.inp.write(b)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inp.flush()
    }
}

fn server() -> Option<SftpClient<Pipes>> {
    let path = [
        "/usr/lib/openssh/sftp-server",
        "/usr/libexec/openssh/sftp-server",
        "/usr/lib/ssh/sftp-server",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists());
    let Some(path) = path else {
        skip::skip_or_fail("no sftp-server (package openssh-sftp-server)");
        return None;
    };
    let mut child = Command::new(path)
        .arg("-R")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let p = Pipes {
        inp: child.stdin.take().unwrap(),
        out: child.stdout.take().unwrap(),
        _child: child,
    };
    Some(SftpClient::new(p).unwrap())
}

fn b(p: &std::path::Path) -> Vec<u8> {
    p.as_os_str().as_encoded_bytes().to_vec()
}

/// Reads a whole file through [`ReadAhead`] with `buf`-sized reads.
fn read_ahead<S: Read + Write>(
    c: &mut SftpClient<S>,
    path: &[u8],
    size: u64,
    buf: usize,
) -> Vec<u8> {
    let h = c.open(path).unwrap();
    let mut r = ReadAhead::new(h, size);
    r.start(c).unwrap();
    let mut got = Vec::new();
    let mut chunk = vec![0u8; buf];
    loop {
        let n = r.read(c, &mut chunk).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&chunk[..n]);
    }
    let after = r.fstat_after(c).unwrap();
    assert!(after.size.is_some());
    r.close(c).unwrap();
    got
}

#[test]
fn reads_files_dirs_links_and_reports_errors() {
    let Some(mut c) = server() else { return };
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("f");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&f, &data).unwrap();
    std::os::unix::fs::symlink("f", d.path().join("l")).unwrap();

    let a = c.stat(&b(&f)).unwrap();
    assert_eq!(a.size, Some(200_000));
    assert_eq!(a.perm.unwrap() & 0o170000, 0o100000);
    assert_eq!(
        c.lstat(&b(&d.path().join("l"))).unwrap().perm.unwrap() & 0o170000,
        0o120000
    );
    assert_eq!(c.readlink(&b(&d.path().join("l"))).unwrap(), b"f");
    let mut names: Vec<_> = c
        .read_dir(&b(d.path()))
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n != b"." && n != b"..")
        .collect();
    names.sort();
    assert_eq!(names, vec![b"f".to_vec(), b"l".to_vec()]);

    let h = c.open(&b(&f)).unwrap();
    assert_eq!(c.fstat(&h).unwrap().size, Some(200_000));
    let mut got = Vec::new();
    loop {
        let chunk = c.read(&h, got.len() as u64, READ_SIZE).unwrap();
        if chunk.is_empty() {
            break;
        }
        got.extend(chunk);
    }
    c.close(&h).unwrap();
    assert_eq!(got, data);

    let e = c.stat(b"/no/such/file").unwrap_err();
    assert_eq!(e.status(), Some(FX_NO_SUCH_FILE));
    // Read-only server: nothing can be opened for writing even if asked.
    let w = c.handle(
        Packet::new(FXP_OPEN)
            .string(&b(&d.path().join("new")))
            .u32(0x08 | 0x02)
            .u32(0),
    );
    assert!(w.is_err());
    assert!(!d.path().join("new").exists());
}

#[test]
fn pipelined_reads_give_every_byte_once_in_order_whatever_the_size_said() {
    let Some(mut c) = server() else { return };
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("f");
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&f, &data).unwrap();
    let p = b(&f);
    // The size as stat said, smaller (the file grew), zero (a /proc file), larger (it
    // shrank); small and odd reads of the caller.
    for (size, buf) in [
        (3_000_000, 256 << 10),
        (3_000_000, 1000),
        (100_000, 64 << 10),
        (0, 4096),
        (5_000_000, 7),
    ] {
        let waits = c.waits();
        let got = read_ahead(&mut c, &p, size, buf);
        assert!(got == data, "size {size}, buf {buf}: {} bytes", got.len());
        assert!(c.waits() > waits);
    }
    // Empty and one-byte files.
    std::fs::write(&f, b"").unwrap();
    assert!(read_ahead(&mut c, &p, 0, 10).is_empty());
    std::fs::write(&f, b"x").unwrap();
    assert_eq!(read_ahead(&mut c, &p, 1, 10), b"x");
    // A whole small file, its end and its metadata after: one wait after the open.
    std::fs::write(&f, vec![1u8; 5000]).unwrap();
    let h = c.open(&p).unwrap();
    let mut r = ReadAhead::new(h, 5000);
    r.start(&mut c).unwrap();
    let before = c.waits();
    let mut buf = vec![0u8; 8192];
    assert_eq!(r.read(&mut c, &mut buf).unwrap(), 5000);
    assert_eq!(r.read(&mut c, &mut buf).unwrap(), 0);
    assert_eq!(r.fstat_after(&mut c).unwrap().size, Some(5000));
    assert_eq!(c.waits() - before, 1);
    r.close(&mut c).unwrap();
    // The client is still in step: closes were not waited for, their answers dropped.
    assert_eq!(c.stat(&p).unwrap().size, Some(5000));
    assert!(c.outstanding.is_empty() && c.early.is_empty() && c.ignored.is_empty());
}

#[test]
fn a_file_abandoned_half_read_leaves_the_client_in_step() {
    let Some(mut c) = server() else { return };
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("f");
    std::fs::write(&f, vec![9u8; 2_000_000]).unwrap();
    let h = c.open(&b(&f)).unwrap();
    let mut r = ReadAhead::new(h, 2_000_000);
    r.start(&mut c).unwrap();
    let mut buf = [0u8; 10];
    assert_eq!(r.read(&mut c, &mut buf).unwrap(), 10);
    r.close(&mut c).unwrap();
    let mut names: Vec<_> = c.read_dir(&b(d.path())).unwrap();
    names.retain(|(n, _)| n == b"f");
    assert_eq!(names.len(), 1);
    // The answers not waited for (closes, the READs abandoned) come before this one's.
    assert!(c.stat(&b(&f)).is_ok());
    assert!(c.outstanding.is_empty() && c.early.is_empty() && c.ignored.is_empty());
}

#[test]
fn large_directories_are_listed_whole() {
    let Some(mut c) = server() else { return };
    let d = tempfile::tempdir().unwrap();
    for i in 0..450 {
        std::fs::write(d.path().join(format!("f{i}")), b"").unwrap();
    }
    let v = c.read_dir(&b(d.path())).unwrap();
    assert_eq!(v.len(), 452, "450 files, . and ..");
    let e = c.read_dir(b"/no/such/dir").unwrap_err();
    assert_eq!(e.status(), Some(FX_NO_SUCH_FILE));
    assert!(c.outstanding.is_empty() && c.early.is_empty() && c.ignored.is_empty());
}

/// A server that answers with the bytes given, whatever is asked.
struct Fake(std::io::Cursor<Vec<u8>>);
impl Read for Fake {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(b)
    }
}
impl Write for Fake {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn fake(bytes: Vec<u8>) -> SftpClient<Fake> {
    SftpClient::over(Fake(std::io::Cursor::new(bytes)))
}

/// A packet of `kind` answering request `id`, with `rest` after the id.
fn answer(kind: u8, id: u32, rest: &[u8]) -> Vec<u8> {
    let mut v = ((rest.len() + 5) as u32).to_be_bytes().to_vec();
    v.push(kind);
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(rest);
    v
}

#[test]
fn hostile_packets_are_refused() {
    // A server claiming a 4 GiB packet.
    let e =
        SftpClient::new(Fake(std::io::Cursor::new(vec![0xff, 0xff, 0xff, 0xff, 2]))).unwrap_err();
    assert!(e.to_string().contains("packet of"), "{e}");
    // VERSION 2 only.
    let e = SftpClient::new(Fake(std::io::Cursor::new(vec![
        0,
        0,
        0,
        5,
        FXP_VERSION,
        0,
        0,
        0,
        2,
    ])))
    .unwrap_err();
    assert!(e.to_string().contains("version 2"), "{e}");
    // A truncated NAME packet.
    let mut c = fake(vec![
        0, 0, 0, 13, FXP_NAME, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 200,
    ]);
    assert!(c.readlink(b"/x").is_err());
    // An answer to a request never sent.
    let mut c = fake(answer(FXP_ATTRS, 77, &[0, 0, 0, 0]));
    let e = c.stat(b"/x").unwrap_err();
    assert!(e.to_string().contains("not asked"), "{e}");
    // More data than asked for, in a pipelined read.
    let mut data = 8u32.to_be_bytes().to_vec();
    data.extend_from_slice(b"12345678");
    let mut c = fake(answer(FXP_DATA, 1, &data));
    let mut r = ReadAhead::new(b"h".to_vec(), 4);
    r.start(&mut c).unwrap();
    let e = r.read(&mut c, &mut [0u8; 16]).unwrap_err();
    assert!(e.to_string().contains("more data than asked"), "{e}");
    // ... and the reader does not go on after it.
    assert!(r.read(&mut c, &mut [0u8; 16]).is_err());
    // A DATA string longer than its packet.
    let mut c = fake(answer(FXP_DATA, 1, &[0, 0, 1, 0, 1, 2]));
    let mut r = ReadAhead::new(b"h".to_vec(), 4);
    r.start(&mut c).unwrap();
    assert!(r.read(&mut c, &mut [0u8; 16]).is_err());
}

#[test]
fn the_read_size_is_the_servers_limit_within_bounds() {
    // VERSION 3 announcing limits@openssh.com, then its reply: max-read-length 1 GiB.
    let mut v = vec![];
    let mut ver = 3u32.to_be_bytes().to_vec();
    for s in [&b"limits@openssh.com"[..], b"1"] {
        ver.extend_from_slice(&(s.len() as u32).to_be_bytes());
        ver.extend_from_slice(s);
    }
    let mut init = ((ver.len() + 1) as u32).to_be_bytes().to_vec();
    init.push(FXP_VERSION);
    init.extend_from_slice(&ver);
    v.extend_from_slice(&init);
    let mut limits = Vec::new();
    for n in [256u64 << 10, 1 << 30, 0, 64] {
        limits.extend_from_slice(&n.to_be_bytes());
    }
    v.extend(answer(FXP_EXTENDED_REPLY, 1, &limits));
    let c = SftpClient::new(Fake(std::io::Cursor::new(v))).unwrap();
    assert_eq!(c.read_size(), MAX_READ_SIZE);
    // The local sftp-server: what it announces, or 64 KiB.
    if let Some(c) = server() {
        assert!((4096..=MAX_READ_SIZE).contains(&c.read_size()));
    }
}

#[test]
fn several_directories_are_listed_in_one_batch() {
    let Some(mut c) = server() else { return };
    let d = tempfile::tempdir().unwrap();
    for (dir, n) in [("a", 3), ("big", 250), ("empty", 0)] {
        std::fs::create_dir(d.path().join(dir)).unwrap();
        for i in 0..n {
            std::fs::write(d.path().join(dir).join(format!("f{i}")), b"").unwrap();
        }
    }
    std::fs::write(d.path().join("file"), b"").unwrap();
    let paths: Vec<Vec<u8>> = ["a", "missing", "big", "file", "empty"]
        .iter()
        .map(|n| b(&d.path().join(n)))
        .collect();
    let refs: Vec<&[u8]> = paths.iter().map(Vec::as_slice).collect();
    let before = c.waits();
    let got = c.read_dirs(&refs);
    let names = |r: &Result<Vec<(Vec<u8>, Attrs)>, SftpError>| {
        let mut v: Vec<Vec<u8>> = r.as_ref().unwrap().iter().map(|(n, _)| n.clone()).collect();
        v.retain(|n| n != b"." && n != b"..");
        v.sort();
        v
    };
    assert_eq!(
        names(&got[0]),
        vec![b"f0".to_vec(), b"f1".to_vec(), b"f2".to_vec()]
    );
    assert_eq!(got[1].as_ref().unwrap_err().status(), Some(FX_NO_SUCH_FILE));
    assert_eq!(names(&got[2]).len(), 250);
    assert!(got[3].is_err(), "a file is not a directory");
    assert!(names(&got[4]).is_empty());
    // OPENDIRs together, READDIRs together, and one more batch for the big one.
    assert!(c.waits() - before <= 4, "{}", c.waits() - before);
    assert!(c.stat(&paths[0]).is_ok());
    assert!(c.outstanding.is_empty() && c.early.is_empty() && c.ignored.is_empty());
}

#[test]
fn closes_wait_for_the_next_requests_that_are_waited_for() {
    let Some(mut c) = server() else { return };
    let d = tempfile::tempdir().unwrap();
    for i in 0..3 {
        std::fs::write(d.path().join(format!("f{i}")), b"x").unwrap();
    }
    let hs: Vec<Vec<u8>> = (0..3)
        .map(|i| c.open(&b(&d.path().join(format!("f{i}")))).unwrap())
        .collect();
    let ids: Vec<u32> = hs.iter().map(|h| c.send_read(h, 0, 10).unwrap()).collect();
    let before = c.waits();
    for (h, id) in hs.iter().zip(ids) {
        let r = read_answer(c.wait(id).unwrap(), 10).unwrap().unwrap();
        assert_eq!(r.data(), Some(&b"x"[..]));
        c.close_later(h).unwrap();
    }
    // The READs went together; each CLOSE waits, queued, behind answers already on their way.
    assert_eq!(c.waits() - before, 1);
    assert_eq!(c.queued_ids.len(), 3);
    // The next request waited for takes them along, and their answers are dropped.
    assert!(c.stat(&b(d.path())).is_ok());
    assert!(c.outstanding.is_empty() && c.ignored.is_empty() && c.queued_ids.is_empty());
}
