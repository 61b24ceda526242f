//! The files and links of several processes asked for together ([`Ahead`]): over SSH one
//! batch of requests for a few processes instead of a round trip per file (the collector
//! reads five files and nine links of each process).
//!
//! Reading ahead changes when the files are read, never what the collector does with them:
//! each process is still taken in PID order, and each answer (data or error) is taken at the
//! point where the collector used to read it, which stores, parses or records it exactly as
//! before. An answer nobody takes (the files of a process found to be a kernel thread or gone)
//! is dropped unstored; a read the collector makes that was not read ahead (or with another
//! limit) is made then, as before.

use super::{LINKS, PF_KTHREAD, SMALL, parse_stat, status_kthread};
use dossier_plugin_api::host::{Host, HostError, ReadOutcome};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Processes read ahead together.
pub(super) const PIDS: usize = 8;
/// The limit `environ` is read with (only the `LD_*` variables are kept).
pub(super) const ENVIRON: u64 = 1 << 20;

/// Answers read ahead, each taken once.
#[derive(Default)]
pub(super) struct Ahead {
    /// Path → the limit it was read with and the answer.
    files: HashMap<PathBuf, (u64, Result<ReadOutcome, HostError>)>,
    /// `/proc/PID` → the answers for [`LINKS`], in their order.
    links: HashMap<PathBuf, Vec<Result<PathBuf, HostError>>>,
}

impl Ahead {
    /// Reads ahead for `pids`: `stat` and `status` of each, then, of those that may be
    /// user-space processes (not seen to be kernel threads or gone), `cmdline`, `cgroup`,
    /// `environ` and the links.
    pub(super) fn fetch(host: &dyn Host, pids: &[u32]) -> Ahead {
        let mut a = Ahead::default();
        let dirs: Vec<PathBuf> = pids
            .iter()
            .map(|p| PathBuf::from(format!("/proc/{p}")))
            .collect();
        a.read(host, &dirs, &["stat", "status"], SMALL);
        let users: Vec<PathBuf> = dirs.into_iter().filter(|d| a.may_be_user(d)).collect();
        if users.is_empty() {
            return a;
        }
        a.read(host, &users, &["cmdline", "cgroup"], SMALL);
        a.read(host, &users, &["environ"], ENVIRON);
        let paths: Vec<PathBuf> = users
            .iter()
            .flat_map(|d| LINKS.map(|l| d.join(l)))
            .collect();
        let mut answers = host.read_links(&paths).into_iter();
        for d in users {
            a.links
                .insert(d, answers.by_ref().take(LINKS.len()).collect());
        }
        a
    }

    /// Reads `names` of each of `dirs` with `limit`, kept by path.
    fn read(&mut self, host: &dyn Host, dirs: &[PathBuf], names: &[&str], limit: u64) {
        let paths: Vec<PathBuf> = dirs
            .iter()
            .flat_map(|d| names.iter().map(move |n| d.join(n)))
            .collect();
        let answers = host.read_many(&paths, limit);
        for (p, r) in paths.into_iter().zip(answers) {
            self.files.insert(p, (limit, r));
        }
    }

    /// Whether the process of `dir` may be read further: its `stat` was read and parsed and
    /// neither it nor `status` says kernel thread (when unsure, yes: an answer read ahead
    /// and not used is only dropped).
    fn may_be_user(&self, dir: &Path) -> bool {
        let data = |name: &str| match self.files.get(&dir.join(name)) {
            Some((_, Ok(r))) => Some(r.data.as_slice()),
            _ => None,
        };
        let Some(stat) = data("stat").and_then(parse_stat) else {
            return false;
        };
        stat.flags & PF_KTHREAD == 0 && !data("status").is_some_and(status_kthread)
    }

    /// [`Host::read`] of `path` with `limit`: the answer read ahead, or read now.
    pub(super) fn read_file(
        &mut self,
        host: &dyn Host,
        path: &Path,
        limit: u64,
    ) -> Result<ReadOutcome, HostError> {
        match self.files.remove(path) {
            Some((l, r)) if l == limit => r,
            _ => host.read(path, limit),
        }
    }

    /// [`Host::read_links`] of [`LINKS`] of `dir`: the answers read ahead, or read now.
    pub(super) fn links_of(
        &mut self,
        host: &dyn Host,
        dir: &Path,
    ) -> Vec<Result<PathBuf, HostError>> {
        match self.links.remove(dir) {
            Some(v) => v,
            None => host.read_links(&LINKS.map(|l| dir.join(l))),
        }
    }
}
