//! [`ReadAhead`]: one open file read with several READs in flight.
//!
//! READs are sized to the file as `stat` saw it: the whole of a small file in one READ,
//! a large one in reads of the server's size, at most [`super::WINDOW_BYTES`] ahead of what
//! was consumed; then one READ at the end of the file, which should answer end of file, sent
//! with an FSTAT so the metadata after the read comes back with it. A short answer (the
//! file shrank, or a `/proc` file that says it is empty) drops what is in flight after it
//! and goes on from where the data stopped; data past the end the file had (it grew) is
//! read on, one READ at a time until it ends. Bytes are handed out in order, never twice,
//! never with a gap: the file's content as the server serves it.

use super::{Reply, SftpClient, SftpError, WINDOW_BYTES, read_answer};
use std::collections::VecDeque;
use std::io::{Read, Write};

/// A file being read ahead.
#[derive(Debug)]
pub struct ReadAhead {
    handle: Vec<u8>,
    /// Where the file ends as far as known (its size when opened, then how far data came).
    end: u64,
    /// Next offset to ask for.
    next: u64,
    /// READs in flight: id, offset, length asked.
    inflight: VecDeque<(u32, u64, u32)>,
    /// The data packet being handed out and the position in it.
    cur: Option<(Reply, usize)>,
    eof: bool,
    /// An FSTAT sent after the READ that should answer end of file.
    fstat_after: Option<u32>,
    /// The READ at `end` is in flight: nothing more is asked until it answers.
    probing: bool,
    failed: bool,
}

impl ReadAhead {
    /// A reader of `handle`, for a file of `size` bytes by its `stat`.
    pub fn new(handle: Vec<u8>, size: u64) -> Self {
        ReadAhead {
            handle,
            end: size,
            next: 0,
            inflight: VecDeque::new(),
            cur: None,
            eof: false,
            fstat_after: None,
            probing: false,
            failed: false,
        }
    }

    /// The file's handle.
    pub fn handle(&self) -> &[u8] {
        &self.handle
    }

    /// Queues the READs of the window (sent with the next request waited for).
    pub fn start<S: Read + Write>(&mut self, c: &mut SftpClient<S>) -> Result<(), SftpError> {
        let r = self.top_up(c);
        if r.is_err() {
            self.abandon(c);
        }
        r
    }

    fn top_up<S: Read + Write>(&mut self, c: &mut SftpClient<S>) -> Result<(), SftpError> {
        let rs = c.read_size();
        let window = (WINDOW_BYTES / rs).max(1) as usize;
        while self.inflight.len() < window && !self.probing && !self.eof {
            let len = if self.next < self.end {
                (self.end - self.next).min(u64::from(rs)) as u32
            } else {
                rs
            };
            let id = c.send_read(&self.handle, self.next, len)?;
            self.inflight.push_back((id, self.next, len));
            if self.next >= self.end {
                self.probing = true;
                // The metadata after the read, asked with the READ that ends it (a `/proc`
                // file saying it is empty is not asked yet: its data comes first).
                if self.next > 0 && self.fstat_after.is_none() {
                    self.fstat_after = Some(c.send_fstat(&self.handle)?);
                }
            }
            self.next += u64::from(len);
        }
        Ok(())
    }

    /// Drops everything in flight (answers are dropped when they come).
    fn drop_inflight<S: Read + Write>(&mut self, c: &mut SftpClient<S>) {
        for (id, ..) in self.inflight.drain(..) {
            c.forget(id);
        }
        self.probing = false;
    }

    fn abandon<S: Read + Write>(&mut self, c: &mut SftpClient<S>) {
        self.failed = true;
        self.drop_inflight(c);
        if let Some(id) = self.fstat_after.take() {
            c.forget(id);
        }
    }

    /// Reads into `buf`; 0 at end of file.
    pub fn read<S: Read + Write>(
        &mut self,
        c: &mut SftpClient<S>,
        buf: &mut [u8],
    ) -> Result<usize, SftpError> {
        if self.failed {
            return Err(SftpError::Protocol("read after a failed read".into()));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let r = self.read_inner(c, buf);
        if r.is_err() {
            self.abandon(c);
        }
        r
    }

    fn read_inner<S: Read + Write>(
        &mut self,
        c: &mut SftpClient<S>,
        buf: &mut [u8],
    ) -> Result<usize, SftpError> {
        loop {
            if let Some((pkt, pos)) = &mut self.cur {
                let d = &pkt.data().unwrap_or_default()[*pos..];
                if !d.is_empty() {
                    let n = d.len().min(buf.len());
                    buf[..n].copy_from_slice(&d[..n]);
                    *pos += n;
                    return Ok(n);
                }
                self.cur = None;
            }
            if self.eof {
                return Ok(0);
            }
            self.top_up(c)?;
            let Some((id, off, len)) = self.inflight.pop_front() else {
                return Err(SftpError::Protocol("no read in flight".into()));
            };
            let answer = c.wait(id)?;
            let pkt = match read_answer(answer, len)? {
                Some(p) if p.data().is_some_and(|d| !d.is_empty()) => p,
                // End of file (an empty DATA says the same).
                _ => {
                    self.eof = true;
                    self.drop_inflight(c);
                    continue;
                }
            };
            let n = pkt.data().map_or(0, <[u8]>::len) as u64;
            let was_probe = off >= self.end;
            if n < u64::from(len) || was_probe {
                // Short (the rest must be asked again from where the data stopped), or data
                // past the known end (the file grew): what is in flight is dropped, and the
                // FSTAT asked with the end-of-file READ is stale.
                self.drop_inflight(c);
                if let Some(id) = self.fstat_after.take() {
                    c.forget(id);
                }
                self.next = off + n;
                // Data as long as asked past the end: more is likely, read ahead again.
                self.end = if was_probe && n == u64::from(len) {
                    off + n * 4
                } else {
                    self.end.max(off + n)
                };
                if self.next < self.end {
                    self.probing = false;
                }
            }
            self.cur = Some((pkt, 0));
        }
    }

    /// The file's attributes after the read: the answer of the FSTAT sent with the READ
    /// that ended it, or a new FSTAT.
    pub fn fstat_after<S: Read + Write>(
        &mut self,
        c: &mut SftpClient<S>,
    ) -> Result<super::Attrs, SftpError> {
        match self.fstat_after.take() {
            Some(id) => c.attrs_answer(id),
            None => c.fstat(&self.handle),
        }
    }

    /// Closes the file without waiting; answers still to come are dropped.
    pub fn close<S: Read + Write>(mut self, c: &mut SftpClient<S>) -> Result<(), SftpError> {
        self.abandon(c);
        c.close_later(&self.handle)
    }
}
