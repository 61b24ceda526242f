//! One read of a source file for both the copy and the parse: the bundle writer streams the
//! file into the bundle (reading, hashing and compressing it on this thread) and shows each
//! piece it stores to a [`Tee`] ([`EvidenceSink::copy_raw_observed`]), which hands a copy of
//! it to the parsing thread through a bounded channel and, meanwhile, records the event lines
//! that thread sends back. Each byte is read and hashed once, and the events are parsed from
//! the very bytes stored: the file cannot change between the copy and the parse.
//!
//! Memory is bounded: at most [`PIECES_IN_FLIGHT`] pieces wait for the parser (a full channel
//! makes the copy wait, recording event lines as they come, so the parser never waits on a
//! copy that waits on it), and the buffers go back and forth for reuse.

use dossier_plugin_api::collect::{CopyObserver, LineRecorder};
use std::io::Read;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::time::Duration;

/// Pieces of the file (a bundle writer's chunk each, 1 MiB) waiting for the parser at most.
pub(super) const PIECES_IN_FLIGHT: usize = 16;

/// The copy's side: gives the parser the pieces stored, records the event lines it sends.
pub(super) struct Tee<'c> {
    /// To the parser; None once it is gone (it stopped reading: the rest is not its).
    pieces: Option<SyncSender<Vec<u8>>>,
    /// Emptied piece buffers back from the parser.
    free: Receiver<Vec<u8>>,
    /// Batches of event lines from the parser, and their buffers back to it.
    lines: &'c Receiver<Vec<u8>>,
    lines_back: &'c Sender<Vec<u8>>,
    /// The collector whose records the lines are.
    collector: &'c str,
    /// Why the events could not all be recorded, the first time.
    pub(super) error: Option<String>,
}

/// The parser's side: the pieces as a reader.
pub(super) struct Pieces {
    rx: Receiver<Vec<u8>>,
    free: Sender<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
}

/// A tee and the reader of what it hands on.
pub(super) fn tee<'c>(
    lines: &'c Receiver<Vec<u8>>,
    lines_back: &'c Sender<Vec<u8>>,
    collector: &'c str,
) -> (Tee<'c>, Pieces) {
    let (tx, rx) = std::sync::mpsc::sync_channel(PIECES_IN_FLIGHT);
    let (free_tx, free_rx) = std::sync::mpsc::channel();
    (
        Tee {
            pieces: Some(tx),
            free: free_rx,
            lines,
            lines_back,
            collector,
            error: None,
        },
        Pieces {
            rx,
            free: free_tx,
            current: Vec::new(),
            at: 0,
        },
    )
}

impl Tee<'_> {
    /// Records a batch of event lines and hands its buffer back.
    fn record(&mut self, mut batch: Vec<u8>, records: &mut LineRecorder<'_>) {
        record_batch(&batch, self.collector, &mut self.error, &mut **records);
        batch.clear();
        let _ = self.lines_back.send(batch);
    }

    /// Ends the file for the parser: it reads to the end of what it was given.
    pub(super) fn close(&mut self) {
        self.pieces = None;
    }
}

/// Records the lines of `batch` through `records`, the first failure kept in `error` (and
/// the lines after it not tried).
pub(super) fn record_batch(
    batch: &[u8],
    collector: &str,
    error: &mut Option<String>,
    records: LineRecorder<'_>,
) {
    if error.is_some() {
        return;
    }
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', batch).chain(std::iter::once(batch.len())) {
        let line = &batch[start..end];
        start = end + 1;
        if line.is_empty() {
            continue;
        }
        if let Err(e) = records(collector, line) {
            *error = Some(format!("events not all recorded: {e}"));
            return;
        }
    }
}

impl CopyObserver for Tee<'_> {
    fn chunk(&mut self, bytes: &[u8], mut records: LineRecorder<'_>) {
        while let Ok(batch) = self.lines.try_recv() {
            self.record(batch, &mut records);
        }
        let Some(tx) = self.pieces.clone() else {
            return;
        };
        let mut piece = self.free.try_recv().unwrap_or_default();
        piece.clear();
        piece.extend_from_slice(bytes);
        loop {
            match tx.try_send(piece) {
                Ok(()) => return,
                Err(TrySendError::Disconnected(_)) => {
                    self.pieces = None;
                    return;
                }
                Err(TrySendError::Full(p)) => {
                    piece = p;
                    // The parser is behind: record what it made meanwhile (it may be waiting
                    // for that), then try again.
                    match self.lines.recv_timeout(Duration::from_millis(2)) {
                        Ok(batch) => self.record(batch, &mut records),
                        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
                    }
                }
            }
        }
    }
}

impl Read for Pieces {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.at == self.current.len() {
            let Ok(next) = self.rx.recv() else {
                return Ok(0);
            };
            let done = std::mem::replace(&mut self.current, next);
            self.at = 0;
            if done.capacity() > 0 {
                let _ = self.free.send(done);
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parser_reads_every_piece_in_order_and_lines_are_recorded_meanwhile() {
        let (lines_tx, lines_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
        let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let (mut t, mut pieces) = tee(&lines_rx, &back_tx, "events");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut recorded = Vec::new();
        std::thread::scope(|s| {
            let parser = s.spawn(move || {
                // A slow reader that makes many lines: the tee must record them while it
                // waits, or both would wait forever.
                let mut got = Vec::new();
                let mut buf = [0u8; 100];
                loop {
                    let n = pieces.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                    let mut batch = back_rx.try_recv().unwrap_or_default();
                    batch.extend_from_slice(format!("{{\"n\":{n}}}\n").as_bytes());
                    lines_tx.send(batch).unwrap();
                }
                got
            });
            for piece in data.chunks(1000) {
                t.chunk(piece, &mut |c, l| {
                    assert_eq!(c, "events");
                    recorded.push(l.to_vec());
                    Ok(())
                });
            }
            t.close();
            // What the parser sends after the end, until it is done.
            for b in lines_rx.iter() {
                record_batch(&b, "events", &mut t.error, &mut |_, l| {
                    recorded.push(l.to_vec());
                    Ok(())
                });
            }
            let got = parser.join().unwrap();
            assert_eq!(got, data);
        });
        assert_eq!(recorded.len(), 2000);
        assert!(recorded.iter().all(|l| l == b"{\"n\":100}"));
        assert!(t.error.is_none());
    }

    #[test]
    fn a_batch_is_recorded_line_by_line_without_its_empty_lines() {
        for (batch, want) in [
            (&b""[..], vec![]),
            (b"\n\n", vec![]),
            (b"{}", vec![&b"{}"[..]]),
            (b"{\"a\":1}\n{}\n", vec![b"{\"a\":1}", b"{}"]),
            (b"\n{}\n\n{\"b\":2}", vec![b"{}", b"{\"b\":2}"]),
        ] {
            let mut got = Vec::new();
            let mut error = None;
            record_batch(batch, "events", &mut error, &mut |c, l| {
                assert_eq!(c, "events");
                got.push(l.to_vec());
                Ok(())
            });
            assert!(error.is_none());
            assert_eq!(got, want.iter().map(|l| l.to_vec()).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_parser_gone_takes_nothing_more_and_a_failed_record_is_kept() {
        let (_lines_tx, lines_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
        let (back_tx, _back_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let (mut t, pieces) = tee(&lines_rx, &back_tx, "events");
        drop(pieces);
        t.chunk(b"abc", &mut |_, _| Ok(()));
        assert!(t.pieces.is_none());
        let mut error = None;
        record_batch(b"{}\n{}\n", "events", &mut error, &mut |_, _| {
            Err("full".into())
        });
        assert_eq!(error.as_deref(), Some("events not all recorded: full"));
    }
}
