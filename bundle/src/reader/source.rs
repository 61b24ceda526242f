//! Where a bundle's bytes are read from (the open file, or its bytes in memory), and the
//! readers and writers that hash what passes through them.

use dossier_plugin_api::encoding::hex;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// Largest bundle read whole into memory for analysis (see [`Source`]).
pub(super) const IN_MEMORY_MAX: u64 = 16 << 20;

/// What a bundle's zip is read from: the open file, or (bundles up to [`IN_MEMORY_MAX`]
/// opened for analysis) its bytes read once, hashed and checked in memory.
pub(super) enum Source {
    File(BufReader<File>),
    Memory(std::io::Cursor<Shared>),
    /// The file read at its own offset (`pread`), whoever else reads the descriptor.
    At(At),
    /// The plaintext of an encrypted bundle, decrypted as it is read (see [`crate::crypt`]).
    Age(Box<age::stream::StreamReader<Source>>),
}

/// A file read with `pread` at an offset of its own: two readers over one open file (the
/// archive and the central-directory check of an encrypted bundle) never move each other.
pub(super) struct At {
    file: File,
    pos: u64,
}

impl At {
    pub(super) fn new(file: File) -> At {
        At { file, pos: 0 }
    }
}

impl Read for At {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl std::io::Seek for At {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        use std::io::SeekFrom;
        let len = || self.file.metadata().map(|m| m.len());
        let target = match pos {
            SeekFrom::Start(o) => Some(o),
            SeekFrom::End(d) => len()?.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        Ok(self.pos)
    }
}

/// A bundle's bytes, shared between the archive reader and the central-directory check.
#[derive(Clone)]
pub(super) struct Shared(pub(super) std::sync::Arc<[u8]>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Source::File(f) => f.read(buf),
            Source::Memory(m) => m.read(buf),
            Source::At(f) => f.read(buf),
            Source::Age(r) => r.read(buf),
        }
    }
}

impl std::io::Seek for Source {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        match self {
            Source::File(f) => f.seek(pos),
            Source::Memory(m) => m.seek(pos),
            Source::At(f) => f.seek(pos),
            Source::Age(r) => r.seek(pos),
        }
    }
}

pub(super) fn hash_reader(mut r: impl Read) -> std::io::Result<(String, u64)> {
    // `io::copy` reads through an uninitialised stack buffer: no per-call allocation or
    // zeroing (a zeroed 1 MiB buffer per member was a fifth of analysis time).
    let mut w = HashingWriter(Sha256::new());
    let total = std::io::copy(&mut r, &mut w)?;
    Ok((hex(&w.0.finalize()), total))
}

/// Hashes what is written to it.
struct HashingWriter(Sha256);

impl std::io::Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Opens a bundle file for reading: a regular file, not a FIFO or device (checked on the
/// descriptor opened, so a path swapped after a check cannot make verification hang).
pub(super) fn open_regular(path: &Path) -> Result<(File, u64), String> {
    let f = crate::fsio::open_input(path).map_err(|e| format!("cannot read: {e}"))?;
    let meta = f.metadata().map_err(|e| format!("cannot read: {e}"))?;
    Ok((f, meta.len()))
}

/// Hashes what is read through it.
pub(super) struct HashingReader<R> {
    inner: R,
    hash: Sha256,
    total: u64,
}

impl<R: Read> HashingReader<R> {
    pub(super) fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hash: Sha256::new(),
            total: 0,
        }
    }

    /// SHA-256 (hex) and length of everything read.
    pub(super) fn finish(self) -> (String, u64) {
        (hex(&self.hash.finalize()), self.total)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.total += n as u64;
        Ok(n)
    }
}
