//! A minimal, read-only SFTP version 3 client over any byte stream, with requests pipelined.
//!
//! Why our own: libssh2's SFTP waits for the server after nearly every request (a listing
//! costs four waits, a small file seven), and starts only as the `sftp` subsystem of the
//! login user. dossier speaks the protocol itself on an SSH channel: the login's `sftp`
//! subsystem, or `sudo -n <sftp-server> -R` on an exec channel to read as root (`dossier
//! sweep --sudo`); no maintained crate offers an SFTP client on top of an ssh2 channel. Only
//! what collection needs is implemented: `stat`, `lstat`, `readlink`, directory listing, and
//! open/read/fstat/close of files. Nothing here can write: no request that creates, changes
//! or removes anything is built, and under sudo the server also runs with `-R` (read-only).
//!
//! Pipelining: requests are queued and sent together when an answer is needed, and answers
//! are matched to requests by id (an answer to a request not asked is a protocol error).
//! A file is read with several READs in flight ([`reader::ReadAhead`]: up to
//! [`WINDOW_BYTES`] ahead, in reads of the server's announced `max-read-length`, 64 KiB when
//! it announces none); a listing asks for two batches of entries at a time; CLOSE is not
//! waited for. What is not waited for is still checked when its answer arrives (its id, its
//! length, its shape).
//!
//! Protocol: draft-ietf-secsh-filexfer-02 (version 3, what OpenSSH's sftp-server speaks),
//! with OpenSSH's `limits@openssh.com` extension when the server announces it. Every packet
//! is length-checked and capped.

mod packet;
pub mod reader;

use packet::{Cursor, Packet, proto};
use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};

pub use packet::Attrs;

/// Largest packet accepted from the server (OpenSSH sends at most 256 KiB of data + header).
const MAX_PACKET: u32 = 1 << 20;
/// Bytes asked for in one READ when the server does not say how much it serves (every
/// sftp-server version serves 64 KiB).
pub const READ_SIZE: u32 = 64 << 10;
/// Largest READ ever asked for, whatever the server announces.
const MAX_READ_SIZE: u32 = 256 << 10;
/// Bytes of one file asked for ahead of what was consumed (the host's memory per open file).
pub const WINDOW_BYTES: u32 = 1 << 20;
/// Requests sent and not yet answered, at most (beyond, the client waits first).
const MAX_OUTSTANDING: usize = 128;
/// Requests whose answers nobody waits for (CLOSE) kept queued, at most: they go with the
/// next requests that are waited for, instead of in a packet of their own each.
const MAX_DEFERRED: usize = 32;

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
const FXP_EXTENDED: u8 = 200;
const FXP_STATUS: u8 = 101;
const FXP_HANDLE: u8 = 102;
const FXP_DATA: u8 = 103;
const FXP_NAME: u8 = 104;
const FXP_ATTRS: u8 = 105;
const FXP_EXTENDED_REPLY: u8 = 201;

/// SFTP status codes (`SSH_FX_*`).
pub const FX_EOF: u32 = 1;
pub const FX_NO_SUCH_FILE: u32 = 2;
pub const FX_PERMISSION_DENIED: u32 = 3;

/// A directory's entries (names with their attributes), or why it could not be listed.
pub type Listing = Result<Vec<(Vec<u8>, Attrs)>, SftpError>;

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

/// One answer of the server.
#[derive(Debug)]
pub(crate) enum Reply {
    Status(u32, String),
    Handle(Vec<u8>),
    /// The packet and where its data starts (no copy of the data).
    Data(Vec<u8>, usize),
    Name(Vec<(Vec<u8>, Attrs)>),
    Attrs(Attrs),
    Extended(Vec<u8>),
}

impl Reply {
    fn data(&self) -> Option<&[u8]> {
        match self {
            Reply::Data(b, start) => Some(&b[*start..]),
            _ => None,
        }
    }
}

/// An SFTP v3 session over `S`. `S` is written without buffering: its `flush` is never
/// called (an ssh2 channel's `flush` discards data received and not yet read).
pub struct SftpClient<S: Read + Write> {
    stream: S,
    next_id: u32,
    /// Requests built and not yet written.
    queued: Vec<u8>,
    /// Their ids.
    queued_ids: Vec<u32>,
    /// Requests sent (or queued) and not yet answered.
    outstanding: HashSet<u32>,
    /// Answers that came before they were waited for.
    early: HashMap<u32, Reply>,
    /// Requests whose answers are dropped (after their shape is checked): CLOSE, reads
    /// abandoned.
    ignored: HashSet<u32>,
    /// Times the client waited for the server.
    waits: u64,
    /// Bytes asked for in one READ.
    read_size: u32,
}

impl<S: Read + Write> std::fmt::Debug for SftpClient<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SftpClient")
    }
}

impl<S: Read + Write> SftpClient<S> {
    /// Sends INIT, checks the server speaks version 3, and learns its read limit when it
    /// announces `limits@openssh.com`.
    pub fn new(mut stream: S) -> Result<Self, SftpError> {
        let mut init = vec![0, 0, 0, 5, FXP_INIT];
        init.extend_from_slice(&3u32.to_be_bytes());
        stream.write_all(&init)?;
        let mut c = Self::over(stream);
        c.waits = 1;
        let body = c.read_packet()?;
        let mut cur = Cursor::new(&body);
        if cur.u8()? != FXP_VERSION {
            return Err(proto("the server did not answer INIT with VERSION"));
        }
        let v = cur.u32()?;
        if v < 3 {
            return Err(proto(format!("server speaks SFTP version {v}, need 3")));
        }
        let mut limits = false;
        while !cur.is_empty() {
            let name = cur.string()?;
            cur.string()?;
            limits |= name == b"limits@openssh.com";
        }
        if limits {
            c.read_size = c.limits()?;
        }
        Ok(c)
    }

    /// A client over `stream`, before INIT.
    fn over(stream: S) -> Self {
        SftpClient {
            stream,
            next_id: 1,
            queued: Vec::new(),
            queued_ids: Vec::new(),
            outstanding: HashSet::new(),
            early: HashMap::new(),
            ignored: HashSet::new(),
            waits: 0,
            read_size: READ_SIZE,
        }
    }

    /// `max-read-length` of `limits@openssh.com`, kept within [4 KiB, [`MAX_READ_SIZE`]]
    /// (0, "no limit", gives the default).
    fn limits(&mut self) -> Result<u32, SftpError> {
        let p = Packet::new(FXP_EXTENDED).string(b"limits@openssh.com");
        match self.request(p)? {
            Reply::Extended(b) => {
                let mut c = Cursor::new(&b);
                let _max_packet = c.u64()?;
                let max_read = c.u64()?;
                Ok(match max_read {
                    0 => READ_SIZE,
                    n => n.clamp(4096, u64::from(MAX_READ_SIZE)) as u32,
                })
            }
            // Announced but refused: the safe default.
            Reply::Status(..) => Ok(READ_SIZE),
            _ => Err(proto("expected EXTENDED_REPLY")),
        }
    }

    /// Bytes asked for in one READ (the server's limit, or [`READ_SIZE`]).
    pub fn read_size(&self) -> u32 {
        self.read_size
    }

    /// Round trips so far: times the client sent requests and waited for an answer
    /// (requests sent together count once; waiting again for answers to requests already
    /// sent, such as READs in flight, does not count).
    pub fn waits(&self) -> u64 {
        self.waits
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

    /// Queues a request; returns its id. Sent at the next wait (or now, when too many are
    /// queued).
    pub(crate) fn send(&mut self, p: Packet) -> Result<u32, SftpError> {
        if self.outstanding.len() >= MAX_OUTSTANDING {
            // Make room: the oldest request's answer is taken now and kept until asked for
            // (or dropped if nobody will ask).
            let oldest = *self.outstanding.iter().min().unwrap_or(&0);
            let r = self.wait(oldest)?;
            if !self.ignored.remove(&oldest) {
                self.early.insert(oldest, r);
            }
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.queued.extend_from_slice(&p.finish(id));
        self.queued_ids.push(id);
        self.outstanding.insert(id);
        Ok(id)
    }

    /// Drops the answer of `id` when it comes (or now, if it came).
    pub(crate) fn forget(&mut self, id: u32) {
        if self.early.remove(&id).is_none() && self.outstanding.contains(&id) {
            self.ignored.insert(id);
        }
    }

    /// Writes what is queued.
    fn send_queued(&mut self) -> Result<(), SftpError> {
        if !self.queued.is_empty() {
            let q = std::mem::take(&mut self.queued);
            self.stream.write_all(&q)?;
            self.queued = q;
            self.queued.clear();
            self.queued_ids.clear();
        }
        Ok(())
    }

    /// The answer to request `id`, sending what is queued first.
    pub(crate) fn wait(&mut self, id: u32) -> Result<Reply, SftpError> {
        if let Some(r) = self.early.remove(&id) {
            return Ok(r);
        }
        if !self.outstanding.contains(&id) {
            return Err(proto(format!("no request {id} is waiting for an answer")));
        }
        // A round trip is requests sent and waited for: answers to requests sent earlier
        // (READs in flight) come without a new one. Queued requests whose answers nobody
        // waits for (a CLOSE) stay queued while the answer waited for is already on its
        // way, until requests that are waited for go, or too many wait.
        let waited_for = self.queued_ids.contains(&id)
            || self.queued_ids.iter().any(|q| !self.ignored.contains(q));
        if waited_for {
            self.waits += 1;
        }
        if waited_for || self.queued_ids.len() >= MAX_DEFERRED {
            self.send_queued()?;
        }
        loop {
            let body = self.read_packet()?;
            let (got, reply) = parse_reply(body)?;
            if !self.outstanding.remove(&got) {
                return Err(proto(format!(
                    "answer to request {got}, which was not asked"
                )));
            }
            if got == id {
                return Ok(reply);
            }
            if !self.ignored.remove(&got) {
                self.early.insert(got, reply);
            }
        }
    }

    fn request(&mut self, p: Packet) -> Result<Reply, SftpError> {
        let id = self.send(p)?;
        self.wait(id)
    }

    fn attrs_of(&mut self, kind: u8, path: &[u8]) -> Result<Attrs, SftpError> {
        expect_attrs(self.request(Packet::new(kind).string(path))?)
    }

    /// `stat` (follows symlinks).
    pub fn stat(&mut self, path: &[u8]) -> Result<Attrs, SftpError> {
        self.attrs_of(FXP_STAT, path)
    }

    /// `lstat` (does not follow a final symlink).
    pub fn lstat(&mut self, path: &[u8]) -> Result<Attrs, SftpError> {
        self.attrs_of(FXP_LSTAT, path)
    }

    /// `lstat` of each of `paths`, all sent together, in the order of `paths`.
    pub fn lstats(&mut self, paths: &[&[u8]]) -> Vec<Result<Attrs, SftpError>> {
        let ids: Vec<Result<u32, SftpError>> = paths
            .iter()
            .map(|p| self.send(Packet::new(FXP_LSTAT).string(p)))
            .collect();
        ids.into_iter()
            .map(|id| id.and_then(|id| self.attrs_answer(id)))
            .collect()
    }

    /// Target of a symlink.
    pub fn readlink(&mut self, path: &[u8]) -> Result<Vec<u8>, SftpError> {
        match self.request(Packet::new(FXP_READLINK).string(path))? {
            Reply::Name(mut v) if v.len() == 1 => Ok(v.remove(0).0),
            Reply::Status(c, m) => Err(status_error(c, m)),
            _ => Err(proto("expected one NAME")),
        }
    }

    /// `lstat` and `readlink` of each of `paths`, all sent together (one wait), in the
    /// order of `paths`.
    #[allow(clippy::type_complexity)]
    pub fn lstat_readlinks(
        &mut self,
        paths: &[&[u8]],
    ) -> Vec<(Result<Attrs, SftpError>, Result<Vec<u8>, SftpError>)> {
        let ids: Vec<Result<(u32, u32), SftpError>> = paths
            .iter()
            .map(|p| {
                let a = self.send(Packet::new(FXP_LSTAT).string(p))?;
                Ok((a, self.send(Packet::new(FXP_READLINK).string(p))?))
            })
            .collect();
        ids.into_iter()
            .map(|ids| {
                let (a, l) = match ids {
                    Ok(ids) => ids,
                    Err(e) => return (Err(e), Err(proto("not sent"))),
                };
                let attrs = self.wait(a).and_then(expect_attrs);
                let link = self.wait(l).and_then(|r| match r {
                    Reply::Name(mut v) if v.len() == 1 => Ok(v.remove(0).0),
                    Reply::Status(c, m) => Err(status_error(c, m)),
                    _ => Err(proto("expected one NAME")),
                });
                (attrs, link)
            })
            .collect()
    }

    fn handle(&mut self, p: Packet) -> Result<Vec<u8>, SftpError> {
        match self.request(p)? {
            Reply::Handle(h) => Ok(h),
            Reply::Status(c, m) => Err(status_error(c, m)),
            _ => Err(proto("expected HANDLE")),
        }
    }

    /// Closes a handle and waits for the answer.
    pub fn close(&mut self, handle: &[u8]) -> Result<(), SftpError> {
        match self.request(Packet::new(FXP_CLOSE).string(handle))? {
            Reply::Status(0, _) => Ok(()),
            Reply::Status(c, m) => Err(status_error(c, m)),
            _ => Err(proto("expected STATUS")),
        }
    }

    /// Closes a handle without waiting: the answer (a read-only handle's close cannot fail
    /// in a way that matters) is dropped when it comes.
    pub fn close_later(&mut self, handle: &[u8]) -> Result<(), SftpError> {
        let id = self.send(Packet::new(FXP_CLOSE).string(handle))?;
        self.forget(id);
        Ok(())
    }

    /// Entries of a directory (names with their lstat attributes), `.` and `..` included as
    /// the server sends them. Two READDIRs are in flight at a time (OpenSSH sends at most
    /// 100 entries per answer, then end of directory), and CLOSE is not waited for: a
    /// directory of up to 100 entries costs two waits.
    pub fn read_dir(&mut self, path: &[u8]) -> Result<Vec<(Vec<u8>, Attrs)>, SftpError> {
        let h = self.handle(Packet::new(FXP_OPENDIR).string(path))?;
        let mut out = Vec::new();
        let r = self.read_dir_entries(&h, &mut out);
        let closed = self.close_later(&h);
        r?;
        closed?;
        Ok(out)
    }

    /// [`SftpClient::read_dir`] of several directories at once: their OPENDIRs sent
    /// together, then two READDIRs of each open one, batch after batch until each ends; the
    /// whole usually costs two waits. Results in the order of `paths`.
    pub fn read_dirs(&mut self, paths: &[&[u8]]) -> Vec<Listing> {
        let opens: Vec<Result<u32, SftpError>> = paths
            .iter()
            .map(|p| self.send(Packet::new(FXP_OPENDIR).string(p)))
            .collect();
        let mut out: Vec<Listing> = Vec::new();
        // Open directories: index in `out` and handle.
        let mut open: Vec<(usize, Vec<u8>)> = Vec::new();
        for (i, id) in opens.into_iter().enumerate() {
            let h = id.and_then(|id| self.wait(id)).and_then(|r| match r {
                Reply::Handle(h) => Ok(h),
                Reply::Status(c, m) => Err(status_error(c, m)),
                _ => Err(proto("expected HANDLE")),
            });
            match h {
                Ok(h) => {
                    open.push((i, h));
                    out.push(Ok(Vec::new()));
                }
                Err(e) => out.push(Err(e)),
            }
        }
        while !open.is_empty() {
            let mut sent = Vec::new();
            for (i, h) in &open {
                let a = self.send(Packet::new(FXP_READDIR).string(h));
                let b = self.send(Packet::new(FXP_READDIR).string(h));
                sent.push((*i, a, b));
            }
            let mut still = Vec::new();
            for ((i, a, b), (_, h)) in sent.into_iter().zip(std::mem::take(&mut open)) {
                let done = match (a, b) {
                    (Ok(a), Ok(b)) => match self.listing_step(a, &mut out[i]) {
                        Ok(true) => match self.listing_step(b, &mut out[i]) {
                            Ok(more) => !more,
                            Err(e) => {
                                out[i] = Err(e);
                                true
                            }
                        },
                        Ok(false) => {
                            self.forget(b);
                            true
                        }
                        Err(e) => {
                            self.forget(b);
                            out[i] = Err(e);
                            true
                        }
                    },
                    (Err(e), _) | (_, Err(e)) => {
                        out[i] = Err(e);
                        true
                    }
                };
                if done {
                    if let Err(e) = self.close_later(&h) {
                        out[i] = Err(e);
                    }
                } else {
                    still.push((i, h));
                }
            }
            open = still;
        }
        out
    }

    /// One READDIR's answer into `out`: whether the listing goes on.
    fn listing_step(&mut self, id: u32, out: &mut Listing) -> Result<bool, SftpError> {
        match self.wait(id)? {
            Reply::Name(v) => {
                if let Ok(o) = out {
                    o.extend(v);
                }
                Ok(true)
            }
            Reply::Status(FX_EOF, _) => Ok(false),
            Reply::Status(c, m) => Err(status_error(c, m)),
            _ => Err(proto("expected NAME")),
        }
    }

    fn read_dir_entries(
        &mut self,
        h: &[u8],
        out: &mut Vec<(Vec<u8>, Attrs)>,
    ) -> Result<(), SftpError> {
        let mut ids = std::collections::VecDeque::new();
        loop {
            while ids.len() < 2 {
                ids.push_back(self.send(Packet::new(FXP_READDIR).string(h))?);
            }
            let Some(id) = ids.pop_front() else {
                return Ok(());
            };
            let r = self.wait(id);
            let end = match r {
                Ok(Reply::Name(v)) => {
                    out.extend(v);
                    continue;
                }
                Ok(Reply::Status(FX_EOF, _)) => Ok(()),
                Ok(Reply::Status(c, m)) => Err(status_error(c, m)),
                Ok(_) => Err(proto("expected NAME")),
                Err(e) => Err(e),
            };
            // The READDIR still in flight answers end of directory (or the same error).
            for id in ids {
                self.forget(id);
            }
            return end;
        }
    }

    /// Opens a file for reading; returns its handle.
    pub fn open(&mut self, path: &[u8]) -> Result<Vec<u8>, SftpError> {
        // pflags READ (1), no attributes.
        self.handle(Packet::new(FXP_OPEN).string(path).u32(1).u32(0))
    }

    /// Attributes of an open file.
    pub fn fstat(&mut self, handle: &[u8]) -> Result<Attrs, SftpError> {
        expect_attrs(self.request(Packet::new(FXP_FSTAT).string(handle))?)
    }

    /// Queues a STAT; its answer is [`SftpClient::attrs_answer`].
    pub(crate) fn send_stat(&mut self, path: &[u8]) -> Result<u32, SftpError> {
        self.send(Packet::new(FXP_STAT).string(path))
    }

    /// Queues an OPEN for reading; its answer is [`SftpClient::handle_answer`].
    pub(crate) fn send_open(&mut self, path: &[u8]) -> Result<u32, SftpError> {
        self.send(Packet::new(FXP_OPEN).string(path).u32(1).u32(0))
    }

    /// The handle answering request `id`.
    pub(crate) fn handle_answer(&mut self, id: u32) -> Result<Vec<u8>, SftpError> {
        match self.wait(id)? {
            Reply::Handle(h) => Ok(h),
            Reply::Status(c, m) => Err(status_error(c, m)),
            _ => Err(proto("expected HANDLE")),
        }
    }

    /// Queues an FSTAT; its answer is [`SftpClient::attrs_answer`].
    pub(crate) fn send_fstat(&mut self, handle: &[u8]) -> Result<u32, SftpError> {
        self.send(Packet::new(FXP_FSTAT).string(handle))
    }

    /// The attributes answering request `id`.
    pub(crate) fn attrs_answer(&mut self, id: u32) -> Result<Attrs, SftpError> {
        expect_attrs(self.wait(id)?)
    }

    /// Queues a READ of `len` bytes at `offset` (at most the server's read size).
    pub(crate) fn send_read(
        &mut self,
        handle: &[u8],
        offset: u64,
        len: u32,
    ) -> Result<u32, SftpError> {
        self.send(
            Packet::new(FXP_READ)
                .string(handle)
                .u64(offset)
                .u32(len.min(self.read_size)),
        )
    }

    /// Up to `len` bytes at `offset`, one request; empty at end of file.
    pub fn read(&mut self, handle: &[u8], offset: u64, len: u32) -> Result<Vec<u8>, SftpError> {
        let len = len.min(self.read_size);
        let id = self.send_read(handle, offset, len)?;
        match read_answer(self.wait(id)?, len)? {
            Some(r) => Ok(r.data().unwrap_or_default().to_vec()),
            None => Ok(Vec::new()),
        }
    }

    /// The underlying stream.
    pub fn stream_mut(&mut self) -> &mut S {
        &mut self.stream
    }
}

/// A READ's answer: the data packet (`None` at end of file), checked against what was asked.
pub(crate) fn read_answer(r: Reply, asked: u32) -> Result<Option<Reply>, SftpError> {
    match r {
        Reply::Data(..) if r.data().is_some_and(|d| d.len() > asked as usize) => {
            Err(proto("server sent more data than asked for"))
        }
        Reply::Data(..) => Ok(Some(r)),
        Reply::Status(FX_EOF, _) => Ok(None),
        Reply::Status(c, m) => Err(status_error(c, m)),
        _ => Err(proto("expected DATA")),
    }
}

fn expect_attrs(r: Reply) -> Result<Attrs, SftpError> {
    match r {
        Reply::Attrs(a) => Ok(a),
        Reply::Status(c, m) => Err(status_error(c, m)),
        _ => Err(proto("expected ATTRS")),
    }
}

fn status_error(code: u32, message: String) -> SftpError {
    SftpError::Status { code, message }
}

/// The request id and the answer in one packet from the server.
fn parse_reply(body: Vec<u8>) -> Result<(u32, Reply), SftpError> {
    let mut c = Cursor::new(&body);
    let kind = c.u8()?;
    let id = c.u32()?;
    let reply = match kind {
        FXP_STATUS => {
            let code = c.u32()?;
            let msg = c
                .string()
                .map(|m| String::from_utf8_lossy(m).into_owned())
                .unwrap_or_default();
            Reply::Status(code, msg)
        }
        FXP_HANDLE => Reply::Handle(c.string()?.to_vec()),
        FXP_DATA => {
            let n = c.string()?.len();
            let start = body.len() - c.remaining() - n;
            return Ok((id, Reply::Data(body, start)));
        }
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
        FXP_EXTENDED_REPLY => Reply::Extended(c.rest().to_vec()),
        other => return Err(proto(format!("unexpected packet type {other}"))),
    };
    Ok((id, reply))
}

#[cfg(test)]
mod tests;
