//! The bundle file being written: bytes pass to disk through a SHA-256, with background
//! `fdatasync`s so disk writes overlap with hashing and compression.

use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::mpsc;

/// Passes bytes to a file and hashes them on the way. Every [`SYNC_EVERY`] bytes it asks a
/// background thread to `fdatasync` what was written so far, so the disk writes overlap with
/// hashing and compression instead of all waiting for the final fsync.
pub(super) struct HashingFile {
    pub(super) out: BufWriter<File>,
    pub(super) hash: Sha256,
    pub(super) written: u64,
    synced_mark: u64,
    syncer: Option<(mpsc::SyncSender<()>, std::thread::JoinHandle<()>)>,
}

/// Bytes between background syncs.
const SYNC_EVERY: u64 = 64 << 20;

impl HashingFile {
    pub(super) fn new(file: File) -> Self {
        let syncer = file.try_clone().ok().and_then(|clone| {
            let (tx, rx) = mpsc::sync_channel::<()>(1);
            std::thread::Builder::new()
                .name("dossier-sync".into())
                .spawn(move || {
                    while rx.recv().is_ok() {
                        let _ = clone.sync_data();
                    }
                })
                .ok()
                .map(|h| (tx, h))
        });
        HashingFile {
            out: BufWriter::with_capacity(1 << 20, file),
            hash: Sha256::new(),
            written: 0,
            synced_mark: 0,
            syncer,
        }
    }

    /// Stops the background syncer (the caller does the final fsync). Dropping the file
    /// without this also ends the thread: its channel closes.
    pub(super) fn stop_syncer(&mut self) {
        if let Some((tx, h)) = self.syncer.take() {
            drop(tx);
            let _ = h.join();
        }
    }
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hash.update(&buf[..n]);
        self.written += n as u64;
        if self.written - self.synced_mark >= SYNC_EVERY {
            if let Some((tx, _)) = &self.syncer {
                self.out.flush()?;
                // A sync already pending covers these bytes too: never block on it.
                let _ = tx.try_send(());
            }
            self.synced_mark = self.written;
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
