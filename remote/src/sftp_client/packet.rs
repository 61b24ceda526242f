//! SFTP packets: [`Packet`], a request being built, and [`Cursor`], a checked reader over a
//! received one (every length is checked against the packet); [`Attrs`], file attributes.

use super::SftpError;

pub(super) fn proto(m: impl Into<String>) -> SftpError {
    SftpError::Protocol(m.into())
}

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

/// A reader over one received packet.
pub(super) struct Cursor<'a> {
    b: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub(super) fn new(b: &'a [u8]) -> Self {
        Cursor { b }
    }
    pub(super) fn is_empty(&self) -> bool {
        self.b.is_empty()
    }
    pub(super) fn remaining(&self) -> usize {
        self.b.len()
    }
    pub(super) fn rest(&self) -> &'a [u8] {
        self.b
    }
    pub(super) fn u8(&mut self) -> Result<u8, SftpError> {
        let (&v, rest) = self.b.split_first().ok_or_else(|| proto("short packet"))?;
        self.b = rest;
        Ok(v)
    }
    pub(super) fn u32(&mut self) -> Result<u32, SftpError> {
        if self.b.len() < 4 {
            return Err(proto("short packet"));
        }
        let (v, rest) = self.b.split_at(4);
        self.b = rest;
        Ok(u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
    }
    pub(super) fn u64(&mut self) -> Result<u64, SftpError> {
        Ok((u64::from(self.u32()?) << 32) | u64::from(self.u32()?))
    }
    pub(super) fn string(&mut self) -> Result<&'a [u8], SftpError> {
        let n = self.u32()? as usize;
        if self.b.len() < n {
            return Err(proto("string longer than its packet"));
        }
        let (v, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(v)
    }
    pub(super) fn attrs(&mut self) -> Result<Attrs, SftpError> {
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

/// A request being built (the id is written when it is sent).
pub(crate) struct Packet(Vec<u8>);

impl Packet {
    pub(super) fn new(kind: u8) -> Self {
        Packet(vec![0, 0, 0, 0, kind, 0, 0, 0, 0])
    }
    pub(super) fn string(mut self, s: &[u8]) -> Self {
        self.0.extend_from_slice(&(s.len() as u32).to_be_bytes());
        self.0.extend_from_slice(s);
        self
    }
    pub(super) fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub(super) fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// The bytes to send, with their length and request id.
    pub(super) fn finish(mut self, id: u32) -> Vec<u8> {
        let n = (self.0.len() - 4) as u32;
        self.0[..4].copy_from_slice(&n.to_be_bytes());
        self.0[5..9].copy_from_slice(&id.to_be_bytes());
        self.0
    }
}
