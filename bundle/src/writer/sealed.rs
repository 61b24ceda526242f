//! Where the zip's bytes go: straight to the bundle file, or (a bundle encrypted to
//! recipients) through the age encryptor first, so only ciphertext reaches the disk. Either
//! way the file's SHA-256 is of the bytes on disk, so the sidecar, the signature and the
//! custody ledger of an encrypted bundle can be checked without its key.

use super::hashing_file::HashingFile;
use std::io::Write;

/// The zip's output.
pub(super) enum Out {
    Plain(HashingFile),
    Age(Box<age::stream::StreamWriter<HashingFile>>),
}

impl Out {
    /// Ends the output (for an encrypted bundle, writes its last chunk) and gives the file.
    pub(super) fn finish(self) -> std::io::Result<HashingFile> {
        match self {
            Out::Plain(f) => Ok(f),
            Out::Age(w) => w.finish(),
        }
    }
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Out::Plain(f) => f.write(buf),
            Out::Age(w) => w.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Out::Plain(f) => f.write_all(buf),
            Out::Age(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Out::Plain(f) => f.flush(),
            Out::Age(w) => w.flush(),
        }
    }
}
