//! What collection costs, measured: [`Counting`], a [`Host`] decorator that counts what each
//! collector asks of the target (bytes read, files opened, directory listings, metadata
//! look-ups, commands, the transport's round trips) and [`Meter`], which adds the collecting
//! thread's CPU time; and [`TargetCost`], the target's side of an SSH collection (CPU time
//! and disk reads of the SFTP server process), read over SFTP from `/proc/self` at the end
//! of the session. The figures go into each collector's line of the bundle log and into
//! `sweep.json` (per collector, totals and the target's side).

use dossier_plugin_api::host::{
    DirEntry, ExecLimits, ExecOutput, FileHash, FileMeta, FileReader, Host, HostError, HostInfo,
    ReadOutcome,
};
use nix::sys::resource::{UsageWho, getrusage};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// What one collector run (or, summed, a whole collection) asked of the target and cost the
/// collecting machine.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectorCost {
    /// The collector (empty, and not written, in totals).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Bytes of file content and command output read through the `Host` view (copies into
    /// the bundle included).
    pub bytes_read: u64,
    /// Files opened (each `open`, `read` and `hash_file` of the `Host` view).
    pub files_opened: u64,
    /// Directory listings.
    pub dir_listings: u64,
    /// Metadata look-ups: `stat`, `lstat`, `readlink`, extended attributes and the `fstat`
    /// that tells whether an open file changed while it was read.
    pub stats: u64,
    /// Commands run on the target.
    pub commands: u64,
    /// Round trips of the transport to the target (over SSH: SFTP requests sent and waited
    /// for, those sent together once; see [`Host::round_trips`]); absent for the local
    /// machine and images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round_trips: Option<u64>,
    /// CPU time of the collecting thread while the collector ran, user and system, in
    /// milliseconds. Not included: bundle compression (its own thread) and plugin collectors'
    /// own work (their child process).
    pub cpu_user_ms: u64,
    pub cpu_sys_ms: u64,
    /// Wall time.
    pub duration_ms: u64,
}

impl CollectorCost {
    /// The sum of `runs` (round trips only when some run has them).
    pub fn total(runs: &[CollectorCost]) -> CollectorCost {
        let mut t = CollectorCost::default();
        for r in runs {
            t.bytes_read += r.bytes_read;
            t.files_opened += r.files_opened;
            t.dir_listings += r.dir_listings;
            t.stats += r.stats;
            t.commands += r.commands;
            t.round_trips = match (t.round_trips, r.round_trips) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
            };
            t.cpu_user_ms += r.cpu_user_ms;
            t.cpu_sys_ms += r.cpu_sys_ms;
            t.duration_ms += r.duration_ms;
        }
        t
    }

    /// One line for the bundle log.
    pub fn describe(&self) -> String {
        let trips = self
            .round_trips
            .map(|n| format!(", {n} round trips"))
            .unwrap_or_default();
        format!(
            "read {} bytes, {} files opened, {} listings, {} stats, {} commands{trips}; \
             CPU {} ms user + {} ms system",
            self.bytes_read,
            self.files_opened,
            self.dir_listings,
            self.stats,
            self.commands,
            self.cpu_user_ms,
            self.cpu_sys_ms
        )
    }
}

/// The counters of a [`Counting`] host.
#[derive(Debug, Default)]
struct Counts {
    bytes: AtomicU64,
    opened: AtomicU64,
    listings: AtomicU64,
    stats: AtomicU64,
    commands: AtomicU64,
}

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// A [`Host`] that forwards every call to `inner` and counts it.
pub struct Counting<'a, H: Host + ?Sized> {
    inner: &'a H,
    counts: Counts,
    trips_at_start: Option<u64>,
}

impl<'a, H: Host + ?Sized> Counting<'a, H> {
    /// Starts counting calls to `inner` (and its round trips from now on).
    pub fn new(inner: &'a H) -> Self {
        Counting {
            inner,
            counts: Counts::default(),
            trips_at_start: inner.round_trips(),
        }
    }

    /// What was counted so far (CPU and wall time left at zero: see [`Meter`]).
    pub fn cost(&self) -> CollectorCost {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CollectorCost {
            name: String::new(),
            bytes_read: get(&self.counts.bytes),
            files_opened: get(&self.counts.opened),
            dir_listings: get(&self.counts.listings),
            stats: get(&self.counts.stats),
            commands: get(&self.counts.commands),
            round_trips: self
                .inner
                .round_trips()
                .map(|now| now.saturating_sub(self.trips_at_start.unwrap_or(0))),
            ..CollectorCost::default()
        }
    }
}

/// An open file whose reads are counted.
struct CountedReader<'a> {
    inner: Box<dyn FileReader + 'a>,
    counts: &'a Counts,
}

impl Read for CountedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        add(&self.counts.bytes, n as u64);
        Ok(n)
    }
}

impl FileReader for CountedReader<'_> {
    fn meta(&self) -> &FileMeta {
        self.inner.meta()
    }
    fn meta_now(&mut self) -> Result<FileMeta, HostError> {
        add(&self.counts.stats, 1);
        self.inner.meta_now()
    }
}

impl<H: Host + ?Sized> Host for Counting<'_, H> {
    fn info(&self) -> HostInfo {
        self.inner.info()
    }

    fn lstat(&self, path: &Path) -> Result<FileMeta, HostError> {
        add(&self.counts.stats, 1);
        self.inner.lstat(path)
    }

    fn stat(&self, path: &Path) -> Result<FileMeta, HostError> {
        add(&self.counts.stats, 1);
        self.inner.stat(path)
    }

    fn lstat_many(&self, paths: &[PathBuf]) -> Vec<Result<FileMeta, HostError>> {
        add(&self.counts.stats, paths.len() as u64);
        self.inner.lstat_many(paths)
    }

    fn read_link(&self, path: &Path) -> Result<PathBuf, HostError> {
        add(&self.counts.stats, 1);
        self.inner.read_link(path)
    }

    fn read_links(&self, paths: &[PathBuf]) -> Vec<Result<PathBuf, HostError>> {
        add(&self.counts.stats, paths.len() as u64);
        self.inner.read_links(paths)
    }

    fn read_dir(&self, path: &Path) -> Result<Vec<DirEntry>, HostError> {
        add(&self.counts.listings, 1);
        self.inner.read_dir(path)
    }

    fn read_dirs(&self, paths: &[PathBuf]) -> Vec<Result<Vec<DirEntry>, HostError>> {
        add(&self.counts.listings, paths.len() as u64);
        self.inner.read_dirs(paths)
    }

    fn open(&self, path: &Path) -> Result<Box<dyn FileReader + '_>, HostError> {
        add(&self.counts.opened, 1);
        let inner = self.inner.open(path)?;
        Ok(Box::new(CountedReader {
            inner,
            counts: &self.counts,
        }))
    }

    fn xattr(&self, path: &Path, name: &str) -> Result<Option<Vec<u8>>, HostError> {
        add(&self.counts.stats, 1);
        self.inner.xattr(path, name)
    }

    fn exec(&self, argv: &[&str], limits: &ExecLimits) -> Result<ExecOutput, HostError> {
        add(&self.counts.commands, 1);
        let out = self.inner.exec(argv, limits)?;
        add(
            &self.counts.bytes,
            (out.stdout.len() + out.stderr.len()) as u64,
        );
        Ok(out)
    }

    fn read(&self, path: &Path, limit: u64) -> Result<ReadOutcome, HostError> {
        add(&self.counts.opened, 1);
        let out = self.inner.read(path, limit)?;
        add(&self.counts.bytes, out.data.len() as u64);
        Ok(out)
    }

    fn read_many(&self, paths: &[PathBuf], limit: u64) -> Vec<Result<ReadOutcome, HostError>> {
        add(&self.counts.opened, paths.len() as u64);
        let outs = self.inner.read_many(paths, limit);
        for o in outs.iter().flatten() {
            add(&self.counts.bytes, o.data.len() as u64);
        }
        outs
    }

    fn hash_file(&self, path: &Path, limit: u64) -> Result<FileHash, HostError> {
        add(&self.counts.opened, 1);
        let h = self.inner.hash_file(path, limit)?;
        add(&self.counts.bytes, h.bytes);
        Ok(h)
    }

    fn round_trips(&self) -> Option<u64> {
        self.inner.round_trips()
    }
}

/// CPU time (user, system) of the calling thread, in microseconds; zeros if the kernel
/// does not say.
fn thread_cpu_us() -> (u64, u64) {
    let us = |t: nix::sys::time::TimeVal| {
        (t.tv_sec().max(0) as u64) * 1_000_000 + t.tv_usec().max(0) as u64
    };
    getrusage(UsageWho::RUSAGE_THREAD)
        .map(|u| (us(u.user_time()), us(u.system_time())))
        .unwrap_or((0, 0))
}

/// Wall and CPU time of the calling thread from its start; the collector runs on that thread.
pub struct Meter {
    wall: Instant,
    cpu: (u64, u64),
}

impl Meter {
    /// Starts measuring on the calling thread.
    pub fn start() -> Self {
        Meter {
            wall: Instant::now(),
            cpu: thread_cpu_us(),
        }
    }

    /// `counted`, named `name`, with the time since [`Meter::start`] (call on the same
    /// thread).
    pub fn finish(&self, name: &str, counted: CollectorCost) -> CollectorCost {
        let (u, s) = thread_cpu_us();
        CollectorCost {
            name: name.to_string(),
            cpu_user_ms: u.saturating_sub(self.cpu.0) / 1000,
            cpu_sys_ms: s.saturating_sub(self.cpu.1) / 1000,
            duration_ms: self.wall.elapsed().as_millis() as u64,
            ..counted
        }
    }
}

/// The target's side of an SSH collection: the process serving SFTP (`sftp-server`, or with
/// `internal-sftp` the child `sshd` forks for the subsystem) and its parent (the `sshd`
/// session process, which does the session's encryption), as `/proc` on the target says at
/// the end of the session. Read over SFTP (`/proc/self` is the process serving the
/// request): nothing is run on the target.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetCost {
    /// The SFTP server's command name (`sftp-server`; `sshd` or `sshd-session` with
    /// `internal-sftp`).
    pub sftp_server: String,
    /// Its CPU time, user + system, in milliseconds (from clock ticks at 100 a second, the
    /// unit of `/proc/PID/stat` on Linux).
    pub sftp_server_cpu_ms: u64,
    /// Bytes it caused to be read from storage (`read_bytes` of `/proc/self/io`), when
    /// readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sftp_server_read_bytes: Option<u64>,
    /// Bytes it read through system calls (`rchar`, page cache included), when readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sftp_server_rchar: Option<u64>,
    /// Its parent (the `sshd` session process under the SFTP subsystem, `sudo` with
    /// `--sudo`): command name and CPU time, when readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_cpu_ms: Option<u64>,
}

/// Fields of a `/proc/PID/stat` line: command name, parent PID and CPU time in ms.
fn parse_stat(text: &str) -> Option<(String, u32, u64)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    // After ")": state(3) ppid(4) ... utime(14) stime(15), counted from field 3.
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    let ppid = rest.get(1)?.parse().ok()?;
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    Some((comm, ppid, (utime + stime) * 10))
}

/// A `key: value` number of `/proc/PID/io`.
fn io_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
}

/// The target's side, read through `host` (an SSH host: `/proc/self` there is the SFTP
/// server); `None` when its `/proc/self/stat` cannot be read.
pub fn target_cost(host: &dyn Host) -> Option<TargetCost> {
    let text = |p: &str| {
        host.read(Path::new(p), 64 << 10)
            .ok()
            .map(|o| String::from_utf8_lossy(&o.data).into_owned())
    };
    let (comm, ppid, cpu) = parse_stat(&text("/proc/self/stat")?)?;
    let io = text("/proc/self/io");
    let parent = (ppid > 1)
        .then(|| text(&format!("/proc/{ppid}/stat")))
        .flatten()
        .and_then(|t| parse_stat(&t));
    Some(TargetCost {
        sftp_server: comm,
        sftp_server_cpu_ms: cpu,
        sftp_server_read_bytes: io.as_deref().and_then(|t| io_field(t, "read_bytes")),
        sftp_server_rchar: io.as_deref().and_then(|t| io_field(t, "rchar")),
        parent_cpu_ms: parent.as_ref().map(|p| p.2),
        parent: parent.map(|p| p.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::LocalHost;

    #[test]
    fn counting_host_counts_every_kind_of_call_and_forwards_answers() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/sub")).unwrap();
        std::fs::write(dir.path().join("etc/a"), b"hello world\n").unwrap();
        std::fs::write(dir.path().join("etc/b"), vec![7u8; 5000]).unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("etc/l")).unwrap();
        let image = LocalHost::image(dir.path()).unwrap();
        let host = Counting::new(&image);
        assert_eq!(host.info(), image.info());
        let listed = host.read_dir(Path::new("/etc")).unwrap();
        assert_eq!(listed.len(), 4);
        assert_eq!(host.stat(Path::new("/etc/a")).unwrap().size, 12);
        host.lstat(Path::new("/etc/l")).unwrap();
        assert_eq!(
            host.read_link(Path::new("/etc/l")).unwrap(),
            PathBuf::from("a")
        );
        let mut f = host.open(Path::new("/etc/b")).unwrap();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        f.meta_now().unwrap();
        drop(f);
        let r = host.read(Path::new("/etc/a"), 5).unwrap();
        assert!(r.truncated);
        assert_eq!(r.data, b"hello");
        let h = host.hash_file(Path::new("/etc/a"), 1 << 20).unwrap();
        assert_eq!(h.bytes, 12);
        // A failed call is counted too: it was asked of the target.
        assert!(host.open(Path::new("/etc/missing")).is_err());
        let c = host.cost();
        assert_eq!(c.dir_listings, 1);
        assert_eq!(c.files_opened, 4);
        assert_eq!(c.bytes_read, 5000 + 5 + 12);
        assert_eq!(c.stats, 4);
        assert_eq!(c.commands, 0);
        assert_eq!(c.round_trips, None, "an image has no round trips");
    }

    #[test]
    fn meter_measures_this_threads_cpu_and_totals_add_up() {
        let meter = Meter::start();
        // Spin until this thread has used 30 ms of CPU (on a busy machine that takes longer
        // than 30 ms of wall time).
        let (u0, s0) = thread_cpu_us();
        let mut x = 0u64;
        let t = Instant::now();
        while {
            let (u, s) = thread_cpu_us();
            (u + s) - (u0 + s0) < 30_000 && t.elapsed().as_secs() < 20
        } {
            for _ in 0..10_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
        }
        std::hint::black_box(x);
        let a = meter.finish(
            "a",
            CollectorCost {
                bytes_read: 10,
                round_trips: Some(3),
                ..CollectorCost::default()
            },
        );
        assert_eq!(a.name, "a");
        assert!(a.cpu_user_ms + a.cpu_sys_ms >= 29, "{a:?}");
        assert!(a.duration_ms >= 29, "{a:?}");
        let b = CollectorCost {
            name: "b".into(),
            bytes_read: 5,
            files_opened: 2,
            ..CollectorCost::default()
        };
        let t = CollectorCost::total(&[a.clone(), b]);
        assert_eq!(t.name, "");
        assert_eq!((t.bytes_read, t.files_opened), (15, 2));
        assert_eq!(t.round_trips, Some(3));
        assert_eq!(t.cpu_user_ms, a.cpu_user_ms);
        assert!(a.describe().contains("read 10 bytes") && a.describe().contains("3 round trips"));
    }

    #[test]
    fn proc_stat_and_io_are_parsed() {
        let stat = "4242 (sftp-server) S 4241 4241 4241 0 -1 4194560 300 0 0 0 \
                    37 12 0 0 20 0 1 0 123456 8000000 400 18446744073709551615";
        assert_eq!(parse_stat(stat), Some(("sftp-server".into(), 4241, 490)));
        // A name with spaces and parentheses: the last ')' ends it.
        let odd = "7 (a) b) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0";
        assert_eq!(parse_stat(odd), Some(("a) b".into(), 1, 30)));
        assert_eq!(parse_stat("garbage"), None);
        let io = "rchar: 20971520\nwchar: 100\nsyscr: 9\nsyscw: 2\nread_bytes: 4096\n\
                  write_bytes: 0\ncancelled_write_bytes: 0\n";
        assert_eq!(io_field(io, "read_bytes"), Some(4096));
        assert_eq!(io_field(io, "rchar"), Some(20_971_520));
        assert_eq!(io_field(io, "missing"), None);
    }

    #[test]
    fn target_cost_reads_proc_self_through_the_host() {
        // The local machine stands in for a target: its /proc/self is this test process.
        let host = LocalHost::live();
        let t = target_cost(&host).expect("/proc/self/stat readable");
        assert!(!t.sftp_server.is_empty());
        assert!(t.parent.is_some());
    }
}
