//! A minimal, read-only SFTP version 3 client over any byte stream.
//!
//! Why our own: libssh2 starts SFTP only as the `sftp` subsystem of a session, which runs as
//! the login user. To read as root through `sudo -n` (a non-root login, `dossier sweep
//! --sudo`) dossier runs `sudo -n <sftp-server> -R` on an exec channel and speaks the protocol
//! itself over that channel; no maintained crate offers an SFTP client on top of an ssh2
//! channel. Only what collection needs is implemented: `stat`, `lstat`, `readlink`, directory
//! listing, and open/read/fstat/close of files. The server runs with `-R` (read-only mode),
//! so no request can modify the target even by mistake.
//!
//! Protocol: draft-ietf-secsh-filexfer-02 (version 3, what OpenSSH's sftp-server speaks).
//! Requests are answered in order; every packet is length-checked and capped.

use std::io::{Read, Write};

/// Largest packet accepted from the server (OpenSSH sends at most 256 KiB of data + header).
const MAX_PACKET: u32 = 1 << 20;
/// Bytes asked for in one READ request (every sftp-server version serves 64 KiB).
pub const READ_SIZE: u32 = 64 << 10;

const FXP_INIT: u8 = 1;
const FXP_VERSION: u8 = 2;
const FXP_OPEN: u8 = 3;
const FXP_CLOSE: u8 = 4;
const FXP_READ: u8 = 5;
const FXP_LSTAT: u8 = 7;
const FXP_FSTAT: u8 = 8;
const FXP_OPENDIR: u8 = 11;
const FXP_READDIR: u8 = 12;
const FXP_STAT: u8 = 17;
const FXP_READLINK: u8 = 19;
const FXP_STATUS: u8 = 101;
const FXP_HANDLE: u8 = 102;
const FXP_DATA: u8 = 103;
const FXP_NAME: u8 = 104;
const FXP_ATTRS: u8 = 105;

/// SFTP status codes (`SSH_FX_*`).
pub const FX_EOF: u32 = 1;
pub const FX_NO_SUCH_FILE: u32 = 2;
pub const FX_PERMISSION_DENIED: u32 = 3;

/// File attributes as the server sends them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attrs {
    pub size: Option<u64>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Mode including the file type bits.
    pub perm: Option<u32>,
    pub atime: Option<u32>,
    pub mtime: Option<u32>,
}

/// Failures of the client.
#[derive(Debug, thiserror::Error)]
pub enum SftpError {
    /// The server answered with a status other than OK.
    #[error("{message} (SFTP status {code})")]
    Status { code: u32, message: String },
    /// The stream failed (connection lost, timeout).
    #[error("SFTP stream: {0}")]
    Io(#[from] std::io::Error),
    /// The server sent something that is not SFTP v3.
    #[error("SFTP protocol: {0}")]
    Protocol(String),
}

impl SftpError {
    /// The SFTP status code, for a status error.
    pub fn status(&self) -> Option<u32> {
        match self {
            SftpError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }
}

fn proto(m: impl Into<String>) -> SftpError {
    SftpError::Protocol(m.into())
}

/// A reader over one received packet.
struct Cursor<'a> {
    b: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn u8(&mut self) -> Result<u8, SftpError> {
        let (&v, rest) = self.b.split_first().ok_or_else(|| proto("short packet"))?;
        self.b = rest;
        Ok(v)
    }
    fn u32(&mut self) -> Result<u32, SftpError> {
        if self.b.len() < 4 {
            return Err(proto("short packet"));
        }
        let (v, rest) = self.b.split_at(4);
        self.b = rest;
        Ok(u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
    }
    fn u64(&mut self) -> Result<u64, SftpError> {
        Ok((u64::from(self.u32()?) << 32) | u64::from(self.u32()?))
    }
    fn string(&mut self) -> Result<&'a [u8], SftpError> {
        let n = self.u32()? as usize;
        if self.b.len() < n {
            return Err(proto("string longer than its packet"));
        }
        let (v, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(v)
    }
    fn attrs(&mut self) -> Result<Attrs, SftpError> {
        let flags = self.u32()?;
        let mut a = Attrs::default();
        if flags & 0x1 != 0 {
            a.size = Some(self.u64()?);
        }
        if flags & 0x2 != 0 {
            a.uid = Some(self.u32()?);
            a.gid = Some(self.u32()?);
        }
        if flags & 0x4 != 0 {
            a.perm = Some(self.u32()?);
        }
        if flags & 0x8 != 0 {
            a.atime = Some(self.u32()?);
            a.mtime = Some(self.u32()?);
        }
        if flags & 0x8000_0000 != 0 {
            for _ in 0..self.u32()? {
                self.string()?;
                self.string()?;
            }
        }
        Ok(a)
    }
}

/// A request being built.
struct Packet(Vec<u8>);

impl Packet {
    fn new(kind: u8, id: u32) -> Self {
        let mut v = vec![0, 0, 0, 0, kind];
        v.extend_from_slice(&id.to_be_bytes());
        Packet(v)
    }
    fn string(mut self, s: &[u8]) -> Self {
        self.0.extend_from_slice(&(s.len() as u32).to_be_bytes());
        self.0.extend_from_slice(s);
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn finish(mut self) -> Vec<u8> {
        let n = (self.0.len() - 4) as u32;
        self.0[..4].copy_from_slice(&n.to_be_bytes());
        self.0
    }
}

/// An SFTP v3 session over `S`.
pub struct SftpClient<S: Read + Write> {
    stream: S,
    next_id: u32,
}

impl<S: Read + Write> std::fmt::Debug for SftpClient<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SftpClient")
    }
}

/// One answer of the server.
enum Reply {
    Status(u32, String),
    Handle(Vec<u8>),
    Data(Vec<u8>),
    Name(Vec<(Vec<u8>, Attrs)>),
    Attrs(Attrs),
}

impl<S: Read + Write> SftpClient<S> {
    /// Sends INIT and checks the server speaks version 3.
    pub fn new(mut stream: S) -> Result<Self, SftpError> {
        let mut init = vec![0, 0, 0, 5, FXP_INIT];
        init.extend_from_slice(&3u32.to_be_bytes());
        stream.write_all(&init)?;
        stream.flush()?;
        let mut c = SftpClient { stream, next_id: 1 };
        let body = c.read_packet()?;
        let mut cur = Cursor { b: &body };
        if cur.u8()? != FXP_VERSION {
            return Err(proto("the server did not answer INIT with VERSION"));
        }
        let v = cur.u32()?;
        if v < 3 {
            return Err(proto(format!("server speaks SFTP version {v}, need 3")));
        }
        Ok(c)
    }

    fn read_packet(&mut self) -> Result<Vec<u8>, SftpError> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len)?;
        let n = u32::from_be_bytes(len);
        if n == 0 || n > MAX_PACKET {
            return Err(proto(format!("packet of {n} bytes")));
        }
        let mut body = vec![0u8; n as usize];
        self.stream.read_exact(&mut body)?;
        Ok(body)
    }

    fn request(&mut self, p: Packet) -> Result<Reply, SftpError> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let mut bytes = p.finish();
        bytes[5..9].copy_from_slice(&id.to_be_bytes());
        self.stream.write_all(&bytes)?;
        self.stream.flush()?;
        let body = self.read_packet()?;
        let mut c = Cursor { b: &body };
        let kind = c.u8()?;
        let got = c.u32()?;
        if got != id {
            return Err(proto(format!("answer to request {got}, expected {id}")));
        }
        Ok(match kind {
            FXP_STATUS => {
                let code = c.u32()?;
                let msg = c
                    .string()
                    .map(|m| String::from_utf8_lossy(m).into_owned())
                    .unwrap_or_default();
                Reply::Status(code, msg)
            }
            FXP_HANDLE => Reply::Handle(c.string()?.to_vec()),
            FXP_DATA => Reply::Data(c.string()?.to_vec()),
            FXP_NAME => {
                let n = c.u32()?;
                let mut v = Vec::new();
                for _ in 0..n {
                    let name = c.string()?.to_vec();
                    c.string()?; // long name
                    v.push((name, c.attrs()?));
                }
                Reply::Name(v)
            }
            FXP_ATTRS => Reply::Attrs(c.attrs()?),
            other => return Err(proto(format!("unexpected packet type {other}"))),
        })
    }

    fn status_error(code: u32, msg: String) -> SftpError {
        SftpError::Status { code, message: msg }
    }

    fn attrs_of(&mut self, kind: u8, path: &[u8]) -> Result<Attrs, SftpError> {
        match self.request(Packet::new(kind, 0).string(path))? {
            Reply::Attrs(a) => Ok(a),
            Reply::Status(c, m) => Err(Self::status_error(c, m)),
            _ => Err(proto("expected ATTRS")),
        }
    }

    /// `stat` (follows symlinks).
    pub fn stat(&mut self, path: &[u8]) -> Result<Attrs, SftpError> {
        self.attrs_of(FXP_STAT, path)
    }

    /// `lstat` (does not follow a final symlink).
    pub fn lstat(&mut self, path: &[u8]) -> Result<Attrs, SftpError> {
        self.attrs_of(FXP_LSTAT, path)
    }

    /// Target of a symlink.
    pub fn readlink(&mut self, path: &[u8]) -> Result<Vec<u8>, SftpError> {
        match self.request(Packet::new(FXP_READLINK, 0).string(path))? {
            Reply::Name(mut v) if v.len() == 1 => Ok(v.remove(0).0),
            Reply::Status(c, m) => Err(Self::status_error(c, m)),
            _ => Err(proto("expected one NAME")),
        }
    }

    fn handle(&mut self, p: Packet) -> Result<Vec<u8>, SftpError> {
        match self.request(p)? {
            Reply::Handle(h) => Ok(h),
            Reply::Status(c, m) => Err(Self::status_error(c, m)),
            _ => Err(proto("expected HANDLE")),
        }
    }

    /// Closes a handle.
    pub fn close(&mut self, handle: &[u8]) -> Result<(), SftpError> {
        match self.request(Packet::new(FXP_CLOSE, 0).string(handle))? {
            Reply::Status(0, _) => Ok(()),
            Reply::Status(c, m) => Err(Self::status_error(c, m)),
            _ => Err(proto("expected STATUS")),
        }
    }

    /// Entries of a directory (names with their lstat attributes), `.` and `..` included as
    /// the server sends them.
    pub fn read_dir(&mut self, path: &[u8]) -> Result<Vec<(Vec<u8>, Attrs)>, SftpError> {
        let h = self.handle(Packet::new(FXP_OPENDIR, 0).string(path))?;
        let mut out = Vec::new();
        let r = loop {
            match self.request(Packet::new(FXP_READDIR, 0).string(&h)) {
                Ok(Reply::Name(v)) => out.extend(v),
                Ok(Reply::Status(FX_EOF, _)) => break Ok(()),
                Ok(Reply::Status(c, m)) => break Err(Self::status_error(c, m)),
                Ok(_) => break Err(proto("expected NAME")),
                Err(e) => break Err(e),
            }
        };
        let closed = self.close(&h);
        r?;
        closed?;
        Ok(out)
    }

    /// Opens a file for reading; returns its handle.
    pub fn open(&mut self, path: &[u8]) -> Result<Vec<u8>, SftpError> {
        // pflags READ (1), no attributes.
        self.handle(Packet::new(FXP_OPEN, 0).string(path).u32(1).u32(0))
    }

    /// Attributes of an open file.
    pub fn fstat(&mut self, handle: &[u8]) -> Result<Attrs, SftpError> {
        match self.request(Packet::new(FXP_FSTAT, 0).string(handle))? {
            Reply::Attrs(a) => Ok(a),
            Reply::Status(c, m) => Err(Self::status_error(c, m)),
            _ => Err(proto("expected ATTRS")),
        }
    }

    /// Up to `len` bytes at `offset`; empty at end of file.
    pub fn read(&mut self, handle: &[u8], offset: u64, len: u32) -> Result<Vec<u8>, SftpError> {
        match self.request(
            Packet::new(FXP_READ, 0)
                .string(handle)
                .u64(offset)
                .u32(len.min(READ_SIZE)),
        )? {
            Reply::Data(d) if d.len() <= len as usize => Ok(d),
            Reply::Data(_) => Err(proto("server sent more data than asked for")),
            Reply::Status(FX_EOF, _) => Ok(Vec::new()),
            Reply::Status(c, m) => Err(Self::status_error(c, m)),
            _ => Err(proto("expected DATA")),
        }
    }

    /// The underlying stream.
    pub fn stream_mut(&mut self) -> &mut S {
        &mut self.stream
    }
}

/// The tests' skip-or-fail rule, shared with `dossier-tests` (which this crate cannot depend
/// on): the original is `tests/src/skip.rs`.
#[cfg(test)]
#[path = "../../tests/src/skip.rs"]
mod skip;

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

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

    #[test]
    fn reads_files_dirs_links_and_reports_errors() {
        let Some(mut c) = server() else { return };
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&f, &data).unwrap();
        std::os::unix::fs::symlink("f", d.path().join("l")).unwrap();
        let b = |p: &std::path::Path| p.as_os_str().as_encoded_bytes().to_vec();

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
            Packet::new(FXP_OPEN, 0)
                .string(&b(&d.path().join("new")))
                .u32(0x08 | 0x02)
                .u32(0),
        );
        assert!(w.is_err());
        assert!(!d.path().join("new").exists());
    }

    #[test]
    fn hostile_packets_are_refused() {
        // A server claiming a 4 GiB packet.
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
        let e = SftpClient::new(Fake(std::io::Cursor::new(vec![0xff, 0xff, 0xff, 0xff, 2])))
            .unwrap_err();
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
        let mut c = SftpClient {
            stream: Fake(std::io::Cursor::new(vec![
                0, 0, 0, 13, FXP_NAME, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 200,
            ])),
            next_id: 1,
        };
        assert!(c.readlink(b"/x").is_err());
    }
}
