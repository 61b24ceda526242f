//! The framing between dossier and a plugin host child: each message is a small JSON head
//! ([`Head`]) and two byte blobs, each length-prefixed (little-endian `u32` for the head,
//! `u64` for the blobs). The blobs carry the existing JSON of the plugin ABI (method input and
//! output, callback input and answer) and raw data, unchanged.
//!
//! Lengths are bounded and a blob is read as it arrives, so a child that lies about a length
//! cannot make dossier allocate more than it really sends.

use dossier_plugin_abi::bridge::LibMeta;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};

/// Largest head.
const MAX_HEAD: u32 = 1 << 20;
/// Largest blob (method input and output, callback data).
pub const MAX_BLOB: u64 = 1 << 30;

/// What a frame says; its blobs `a` and `b` are described per variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case", deny_unknown_fields)]
pub enum Head {
    /// dossier: set the memory limit, then load the library at path `a` (bytes).
    Load { memory: u64 },
    /// dossier: make instance `id` of `kind` with JSON config `a`.
    Create { id: u64, kind: u32 },
    /// dossier: run `method` of instance `id` with JSON input `a`; with `callbacks`, the
    /// plugin gets host callbacks, which come back as [`Head::Callback`].
    Call {
        id: u64,
        method: u32,
        callbacks: bool,
    },
    /// dossier: destroy instance `id`.
    Destroy { id: u64 },
    /// dossier: the answer to a callback: JSON `a`, raw data `b`.
    Reply { status: i32 },
    /// child: the library file's SHA-256, sent before the library is loaded.
    Hashed { sha256: String },
    /// child: the library is loaded and its metadata passed the checks.
    Loaded { meta: LibMeta },
    /// child: the library cannot be used, because of the file or folder at `path`.
    Refused { path: String, message: String },
    /// child: the plugin calls back with operation `op`, JSON input `a`, raw data `b`.
    Callback { op: u32 },
    /// child: the request is done with `status`; output (JSON or an error) in `a`.
    Done { status: i32 },
}

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub head: Head,
    pub a: Vec<u8>,
    pub b: Vec<u8>,
}

impl Frame {
    /// A frame with blob `a` only.
    pub fn new(head: Head, a: Vec<u8>) -> Frame {
        Frame {
            head,
            a,
            b: Vec::new(),
        }
    }
}

/// Writes one frame and flushes.
pub fn write(w: &mut impl Write, f: &Frame) -> std::io::Result<()> {
    let head = serde_json::to_vec(&f.head).map_err(std::io::Error::other)?;
    w.write_all(&(head.len() as u32).to_le_bytes())?;
    w.write_all(&head)?;
    for blob in [&f.a, &f.b] {
        w.write_all(&(blob.len() as u64).to_le_bytes())?;
        w.write_all(blob)?;
    }
    w.flush()
}

fn bad(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
}

/// Reads `len` bytes, growing the buffer only as they arrive.
fn blob(r: &mut impl Read, len: u64) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::with_capacity(len.min(1 << 16) as usize);
    r.take(len).read_to_end(&mut v)?;
    if v.len() as u64 != len {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(v)
}

/// Reads one frame; `Ok(None)` at a clean end of stream (before a frame starts).
pub fn read(r: &mut impl Read) -> std::io::Result<Option<Frame>> {
    let mut n = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut n[got..])? {
            0 if got == 0 => return Ok(None),
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            k => got += k,
        }
    }
    let n = u32::from_le_bytes(n);
    if n > MAX_HEAD {
        return Err(bad(format!("frame head of {n} bytes")));
    }
    let head = blob(r, u64::from(n))?;
    let head: Head = serde_json::from_slice(&head).map_err(|e| bad(e.to_string()))?;
    let mut blobs = [Vec::new(), Vec::new()];
    for b in &mut blobs {
        let mut len = [0u8; 8];
        r.read_exact(&mut len)?;
        let len = u64::from_le_bytes(len);
        if len > MAX_BLOB {
            return Err(bad(format!("frame blob of {len} bytes")));
        }
        *b = blob(r, len)?;
    }
    let [a, b] = blobs;
    Ok(Some(Frame { head, a, b }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_lies_are_refused() {
        let f = Frame {
            head: Head::Call {
                id: 7,
                method: 3,
                callbacks: true,
            },
            a: b"{\"config\":{}}".to_vec(),
            b: vec![0, 1, 2],
        };
        let mut buf = Vec::new();
        write(&mut buf, &f).unwrap();
        write(&mut buf, &Frame::new(Head::Done { status: 0 }, vec![])).unwrap();
        let mut r = &buf[..];
        assert_eq!(read(&mut r).unwrap().as_ref(), Some(&f));
        assert_eq!(
            read(&mut r).unwrap().unwrap().head,
            Head::Done { status: 0 }
        );
        assert_eq!(read(&mut r).unwrap(), None);
        // Cut anywhere inside a frame: an error, not a frame or a clean end.
        let mut one = Vec::new();
        write(&mut one, &f).unwrap();
        for cut in 1..one.len() {
            assert!(read(&mut &one[..cut]).is_err(), "cut {cut}");
        }
        // A blob length beyond the bound, or longer than what follows: refused, without
        // allocating what it claims.
        let mut lie = Vec::new();
        let head = serde_json::to_vec(&Head::Done { status: 0 }).unwrap();
        lie.extend((head.len() as u32).to_le_bytes());
        lie.extend(&head);
        lie.extend((MAX_BLOB + 1).to_le_bytes());
        assert!(read(&mut &lie[..]).is_err());
        let n = lie.len() - 8;
        lie.truncate(n);
        lie.extend((MAX_BLOB / 2).to_le_bytes());
        lie.extend([1, 2, 3]);
        assert_eq!(
            read(&mut &lie[..]).unwrap_err().kind(),
            std::io::ErrorKind::UnexpectedEof
        );
        let mut big = Vec::new();
        big.extend((MAX_HEAD + 1).to_le_bytes());
        assert!(read(&mut &big[..]).is_err());
    }
}
