//! The external sort of keyed lines: each line starts with a fixed-width key ([`KEY_LEN`] hex
//! digits, [`time_key`]: a time in nanoseconds, so that comparing keyed lines as bytes orders
//! them by time, then by the line itself). Used by the timeline (rows) and by the events stage
//! of `analyze` (imported events in time order). Lines are gathered in memory up to
//! a byte budget, then sorted and written as one run to an unnamed temporary file (mode 0600,
//! gone when closed); at the end the runs are merged (k-way, one buffered line per run in
//! memory) into the output, without their keys.
//!
//! Memory is bounded by the budget plus one read buffer ([`RUN_BUFFER`]) per run, whatever
//! the number of rows: a fleet of a thousand bundles of a few megabytes of rows each, with
//! the default budget of 64 MiB, makes some fifty runs. Sorting compares whole keyed lines as
//! bytes, so equal lines are interchangeable and the output is the same bytes whatever order
//! the rows were pushed in.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Length of the sort key in front of each keyed line.
pub(crate) const KEY_LEN: usize = 24;

/// The sort key of a time (`secs` since the epoch, `nanos` within the second): 24 hex digits,
/// offset so that times before 1970 sort before those after as unsigned hex.
pub(crate) fn time_key(secs: i64, nanos: u32) -> String {
    format!("{:016x}{nanos:08x}", (secs as u64) ^ (1u64 << 63))
}

/// Read buffer of each run during the merge.
const RUN_BUFFER: usize = 64 << 10;

/// Keyed lines being sorted.
pub(crate) struct Sorter {
    buf: Vec<String>,
    bytes: usize,
    budget: usize,
    /// Where runs are spilled (created at the first spill).
    dir: PathBuf,
    spill: Option<BufWriter<File>>,
    /// Each run's offset and length in the spill file.
    runs: Vec<(u64, u64)>,
    spilled: u64,
    rows: u64,
}

impl Sorter {
    /// A sorter holding at most about `budget` bytes of lines in memory, spilling runs to an
    /// unnamed temporary file in `dir`.
    pub(crate) fn new(dir: &Path, budget: usize) -> Sorter {
        Sorter {
            buf: Vec::new(),
            bytes: 0,
            budget: budget.max(1),
            dir: dir.to_path_buf(),
            spill: None,
            runs: Vec::new(),
            spilled: 0,
            rows: 0,
        }
    }

    /// Rows pushed so far.
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// Runs written to the temporary file so far.
    pub(crate) fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Adds one keyed line (no newline in it).
    pub(crate) fn push(&mut self, keyed: String) -> std::io::Result<()> {
        debug_assert!(keyed.len() >= KEY_LEN && !keyed.contains('\n'));
        self.bytes += keyed.len() + std::mem::size_of::<String>();
        self.buf.push(keyed);
        self.rows += 1;
        if self.bytes >= self.budget {
            self.spill_run()?;
        }
        Ok(())
    }

    /// Sorts what is in memory and appends it to the spill file as one run.
    fn spill_run(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if self.spill.is_none() {
            let f = tempfile::tempfile_in(&self.dir)?;
            self.spill = Some(BufWriter::with_capacity(1 << 20, f));
        }
        let out = self.spill.as_mut().expect("created above");
        self.buf.sort_unstable();
        let start = self.spilled;
        for line in self.buf.drain(..) {
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
            self.spilled += line.len() as u64 + 1;
        }
        self.runs.push((start, self.spilled - start));
        self.bytes = 0;
        Ok(())
    }

    /// Writes every line in order, without its key, each followed by a newline.
    pub(crate) fn finish(mut self, out: &mut dyn Write) -> std::io::Result<()> {
        let Some(spill) = self.spill.take() else {
            self.buf.sort_unstable();
            for line in &self.buf {
                out.write_all(&line.as_bytes()[KEY_LEN..])?;
                out.write_all(b"\n")?;
            }
            return Ok(());
        };
        self.spill = Some(spill);
        self.spill_run()?;
        let mut file = self
            .spill
            .take()
            .expect("spilled")
            .into_inner()
            .map_err(|e| e.into_error())?;
        file.rewind()?;
        merge(&file, &self.runs, out)
    }
}

/// Merges sorted runs of `file` into `out`.
fn merge(file: &File, runs: &[(u64, u64)], out: &mut dyn Write) -> std::io::Result<()> {
    let mut readers: Vec<BufReader<Run<'_>>> = runs
        .iter()
        .map(|&(pos, len)| {
            BufReader::with_capacity(
                RUN_BUFFER,
                Run {
                    file,
                    pos,
                    end: pos + len,
                },
            )
        })
        .collect();
    let mut heap = BinaryHeap::new();
    for (i, r) in readers.iter_mut().enumerate() {
        if let Some(line) = next_line(r)? {
            heap.push(Reverse((line, i)));
        }
    }
    while let Some(Reverse((line, i))) = heap.pop() {
        out.write_all(&line[KEY_LEN..])?;
        out.write_all(b"\n")?;
        if let Some(next) = next_line(&mut readers[i])? {
            heap.push(Reverse((next, i)));
        }
    }
    Ok(())
}

/// The next line of a run, without its newline.
fn next_line(r: &mut impl BufRead) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    if r.read_until(b'\n', &mut line)? == 0 {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    if line.len() < KEY_LEN {
        return Err(std::io::Error::other(
            "timeline sort: a short line in a run",
        ));
    }
    Ok(Some(line))
}

/// One run of the spill file, read with positioned reads (the runs share the file).
struct Run<'f> {
    file: &'f File,
    pos: u64,
    end: u64,
}

impl Read for Run<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = (self.end - self.pos).min(buf.len() as u64) as usize;
        if left == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..left], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(n: u32, seed: u32) -> Vec<String> {
        // A permutation of n lines (7 and n coprime), three to a time.
        (0..n)
            .map(|i| {
                let j = (i * 7 + seed) % n;
                let t = 1_700_000_000 + i64::from(j / 3);
                format!("{}{{\"t\":{t},\"row\":{j}}}", time_key(t, 0))
            })
            .collect()
    }

    fn sorted(lines: Vec<String>, budget: usize) -> (String, usize) {
        let d = tempfile::tempdir().unwrap();
        let mut s = Sorter::new(d.path(), budget);
        for l in lines {
            s.push(l).unwrap();
        }
        let runs = s.runs();
        let mut out = Vec::new();
        s.finish(&mut out).unwrap();
        (String::from_utf8(out).unwrap(), runs)
    }

    #[test]
    fn spilled_runs_merge_to_the_same_bytes_as_an_in_memory_sort() {
        let (whole, runs) = sorted(lines(1000, 0), 64 << 20);
        assert_eq!(runs, 0);
        let (merged, runs) = sorted(lines(1000, 17), 4096);
        assert!(runs > 10, "{runs} runs");
        assert_eq!(whole, merged);
        let times: Vec<i64> = whole
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["t"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert_eq!(times.len(), 1000);
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        // Lines of one time are ordered by their bytes.
        assert!(whole.starts_with("{\"t\":1700000000,\"row\":0}\n{\"t\":1700000000,\"row\":1}\n"));
    }

    #[test]
    fn keys_sort_as_bytes_in_time_order_before_and_after_1970() {
        let mut keys = [
            time_key(1_700_000_000, 5),
            time_key(-10, 0),
            time_key(1_700_000_000, 0),
            time_key(0, 0),
            time_key(99, 999_999_999),
            time_key(100, 0),
        ];
        keys.sort();
        assert_eq!(
            keys,
            [
                time_key(-10, 0),
                time_key(0, 0),
                time_key(99, 999_999_999),
                time_key(100, 0),
                time_key(1_700_000_000, 0),
                time_key(1_700_000_000, 5),
            ]
        );
        assert!(keys.iter().all(|k| k.len() == KEY_LEN));
    }

    #[test]
    fn nothing_pushed_writes_nothing() {
        let (out, runs) = sorted(Vec::new(), 10);
        assert_eq!((out.as_str(), runs), ("", 0));
    }
}
