//! Off-thread compression of bundle members.
//!
//! A member whose bytes are already in memory (and whose SHA-256 is therefore already known)
//! is compressed on a worker thread into a `zip` [`PreparedZipFile`]; the bundle writer appends
//! finished members to the archive in submission order. On a two-core machine this keeps both
//! cores busy (one reading and hashing the next file, one compressing) and is what lets the
//! writer outrun `sha256sum` alone. Memory is bounded: submission blocks while more than
//! [`MAX_IN_FLIGHT`] bytes (or the lower limit of [`Pool::limit_in_flight`]) wait for
//! compression.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;
use zip::PreparedZipFile;
use zip::write::{SimpleFileOptions, ZipFileBuilder};

/// Uncompressed bytes allowed to wait for or be in compression.
pub const MAX_IN_FLIGHT: u64 = 192 << 20;

struct Job {
    seq: u64,
    name: String,
    options: SimpleFileOptions,
    data: Vec<u8>,
}

type Done = (u64, u64, Result<PreparedZipFile, String>);

/// Worker threads and the members they are compressing.
pub struct Pool {
    jobs: Option<SyncSender<Job>>,
    done: Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
    next_seq: u64,
    next_out: u64,
    ready: BTreeMap<u64, (u64, Result<PreparedZipFile, String>)>,
    in_flight: u64,
    /// Uncompressed bytes allowed in flight ([`MAX_IN_FLIGHT`] unless lowered).
    max_in_flight: u64,
}

impl Pool {
    /// Starts one worker per available core (at least one, at most four).
    pub fn new() -> Self {
        let n = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 4);
        let (jobs_tx, jobs_rx) = mpsc::sync_channel::<Job>(n * 2);
        let jobs_rx = std::sync::Arc::new(std::sync::Mutex::new(jobs_rx));
        let (done_tx, done) = mpsc::channel::<Done>();
        let workers = (0..n)
            .map(|i| {
                let rx = jobs_rx.clone();
                let tx = done_tx.clone();
                std::thread::Builder::new()
                    .name(format!("dossier-deflate-{i}"))
                    .spawn(move || {
                        loop {
                            let job = match rx.lock() {
                                Ok(guard) => guard.recv(),
                                Err(_) => return,
                            };
                            let Ok(job) = job else { return };
                            let size = job.data.len() as u64;
                            let r = compress(&job.name, job.options, &job.data);
                            if tx.send((job.seq, size, r)).is_err() {
                                return;
                            }
                        }
                    })
                    .expect("spawn compression worker")
            })
            .collect();
        Pool {
            jobs: Some(jobs_tx),
            done,
            workers,
            next_seq: 0,
            next_out: 0,
            ready: BTreeMap::new(),
            in_flight: 0,
            max_in_flight: MAX_IN_FLIGHT,
        }
    }

    /// Lowers the bytes allowed to wait for or be in compression (a member larger than that
    /// still goes, alone).
    pub fn limit_in_flight(&mut self, bytes: u64) {
        self.max_in_flight = bytes.min(MAX_IN_FLIGHT);
    }

    /// Whether every submitted member has been handed back.
    pub fn idle(&self) -> bool {
        self.next_out == self.next_seq
    }

    /// Queues a member for compression. Blocks while the in-flight limit is exceeded, handing
    /// finished members to `sink` meanwhile.
    pub fn submit(
        &mut self,
        name: &str,
        options: SimpleFileOptions,
        data: Vec<u8>,
        sink: &mut dyn FnMut(Result<PreparedZipFile, String>),
    ) -> Result<(), String> {
        let size = data.len() as u64;
        while self.in_flight > 0 && self.in_flight + size > self.max_in_flight {
            self.take(true, sink);
        }
        let job = Job {
            seq: self.next_seq,
            name: name.to_string(),
            options,
            data,
        };
        self.next_seq += 1;
        self.in_flight += size;
        self.jobs
            .as_ref()
            .ok_or("compression pool closed")?
            .send(job)
            .map_err(|_| "compression workers stopped".to_string())?;
        self.take(false, sink);
        Ok(())
    }

    /// Hands finished members to `sink` in submission order; with `block`, waits for at least
    /// the next one.
    pub fn take(&mut self, block: bool, sink: &mut dyn FnMut(Result<PreparedZipFile, String>)) {
        loop {
            let got = if block && !self.ready.contains_key(&self.next_out) && !self.idle() {
                self.done.recv().ok()
            } else {
                self.done.try_recv().ok()
            };
            match got {
                Some((seq, size, r)) => {
                    self.ready.insert(seq, (size, r));
                }
                None => break,
            }
            if block && self.ready.contains_key(&self.next_out) {
                break;
            }
        }
        while let Some((size, r)) = self.ready.remove(&self.next_out) {
            self.next_out += 1;
            self.in_flight -= size;
            sink(r);
        }
    }

    /// Waits for every submitted member.
    pub fn drain(&mut self, sink: &mut dyn FnMut(Result<PreparedZipFile, String>)) {
        while !self.idle() {
            self.take(true, sink);
        }
    }
}

impl Default for Pool {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

fn compress(
    name: &str,
    options: SimpleFileOptions,
    data: &[u8],
) -> Result<PreparedZipFile, String> {
    let mut b = ZipFileBuilder::new(name, options).map_err(|e| e.to_string())?;
    b.write_all(data).map_err(|e| e.to_string())?;
    b.finish().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_come_back_in_submission_order() {
        let mut pool = Pool::new();
        let mut names = Vec::new();
        let mut sink = |r: Result<PreparedZipFile, String>| {
            names.push(String::from_utf8_lossy(r.unwrap().file_name_raw()).into_owned())
        };
        for i in 0..20 {
            let data = vec![b'a' + (i % 26) as u8; 100_000 * (20 - i as usize)];
            pool.submit(
                &format!("m{i}"),
                SimpleFileOptions::default(),
                data,
                &mut sink,
            )
            .unwrap();
        }
        pool.drain(&mut sink);
        assert_eq!(names, (0..20).map(|i| format!("m{i}")).collect::<Vec<_>>());
    }
}
