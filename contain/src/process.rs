//! Suspend, resume and kill a process and its descendants (the steps `Suspend` and `Kill`
//! of [`Step`](crate::Step); the process part of a runtime neutralize is the same
//! [`Suspend`]).
//!
//! A step names a PID with its start time (field 22 of `/proc/PID/stat`) and, where known,
//! its exe's SHA-256; both are checked before anything is done, so a reused PID is refused.
//! Suspend prefers, in this order: the cgroup v2 `cgroup.freeze` of a cgroup the process has
//! to itself (that cgroup and those below it hold the process tree and nothing else), the
//! cgroup v1 freezer under the same condition, else SIGSTOP of every process of the tree,
//! parent first, re-scanning for new children until the tree is stable. The record says
//! which was used and which PIDs (with start times) were frozen; resume is the inverse (thaw,
//! or SIGCONT of those same PIDs whose start time still matches). Kill first hashes each
//! process's exe and memory map list into its state before (written in the `applying` record,
//! so they are on the host and in the ledger before the kill), then sends SIGKILL to the
//! tree; it cannot be undone.
//!
//! Everything goes through the [`Actuator`]: `/proc` is read with `/bin/cat`, signals are
//! sent with `kill` by absolute path, cgroup files are written by a fixed script that takes
//! the file (derived from `/proc/PID/cgroup` and checked) as `$1`.

pub mod procfs;

use crate::action::{Action, ActionError};
use crate::actuator::Actuator;
use procfs::{OwnCgroup, Proc};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long a freeze, thaw, stop, resume or kill may take to show.
pub const SETTLE: Duration = Duration::from_secs(10);
/// Pause between two looks while waiting.
const POLL: Duration = Duration::from_millis(50);
/// How many times the tree is re-scanned for new children before SIGSTOP gives up.
const MAX_ROUNDS: usize = 50;
/// How much of `/proc/PID/maps` is kept as text in the record (it is hashed whole).
pub const MAPS_KEPT: usize = 64 << 10;

/// How a tree was suspended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    CgroupV2Freeze,
    CgroupV1Freezer,
    Sigstop,
}

/// One process a suspend froze.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Member {
    pub pid: u32,
    pub start_time: u64,
    pub comm: String,
    /// It was stopped already before (resume leaves it stopped).
    pub already_stopped: bool,
}

/// A suspend's after-record: what resume needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Suspended {
    pub method: Method,
    /// The cgroup frozen (cgroup methods only).
    pub cgroup: Option<OwnCgroup>,
    pub processes: Vec<Member>,
}

/// The process a step names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    pid: u32,
    start_time: u64,
    exe_sha256: Option<String>,
}

impl Target {
    fn label(&self) -> String {
        let exe = match &self.exe_sha256 {
            Some(h) => format!(", exe sha256 {h}"),
            None => String::new(),
        };
        format!(
            "PID {} (start time {} ticks{exe})",
            self.pid, self.start_time
        )
    }

    /// The process now, refused unless its start time and exe hash are the plan's, and
    /// when it has exited already (a zombie: nothing to `act` on).
    fn identify(&self, a: &mut dyn Actuator, act: &str) -> Result<Proc, ActionError> {
        let reused =
            |why: String| ActionError::Refused(format!("PID reused or exe changed: {why}"));
        let p = procfs::stat_of(a, self.pid)?
            .ok_or_else(|| reused(format!("no process {} any more", self.pid)))?;
        if p.start_time != self.start_time {
            return Err(reused(format!(
                "PID {} started at {} ticks, the plan says {}",
                self.pid, p.start_time, self.start_time
            )));
        }
        if let Some(why) = p.exited(act) {
            return Err(ActionError::Refused(why));
        }
        if let Some(want) = &self.exe_sha256 {
            let got = procfs::sha256_of(a, &format!("/proc/{}/exe", self.pid)).map_err(|e| {
                reused(format!("the exe of PID {} cannot be hashed: {e}", self.pid))
            })?;
            if !got.eq_ignore_ascii_case(want) {
                return Err(reused(format!(
                    "the exe of PID {} has SHA-256 {got}, the plan says {want}",
                    self.pid
                )));
            }
        }
        Ok(p)
    }

    /// The process and its descendants now (refused when the process is not the plan's).
    fn tree(&self, a: &mut dyn Actuator) -> Result<Vec<Proc>, ActionError> {
        let all = procfs::scan(a)?;
        procfs::tree_of(&all, self.pid, self.start_time).ok_or_else(|| {
            ActionError::Refused(format!(
                "PID reused or exe changed: PID {} with start time {} is gone",
                self.pid, self.start_time
            ))
        })
    }

    /// The before-record: pid, start time, comm, exe, state, descendants, cgroups, and the
    /// cgroup that would be frozen (if any).
    fn check(
        &self,
        a: &mut dyn Actuator,
        act: &str,
    ) -> Result<(Value, Vec<Proc>, Option<OwnCgroup>), ActionError> {
        let p = self.identify(a, act)?;
        let exe = procfs::exe_path(a, self.pid)?;
        let exe_sha256 = procfs::sha256_of(a, &format!("/proc/{}/exe", self.pid)).ok();
        let tree = self.tree(a)?;
        let groups = procfs::cgroups_of(a, self.pid)?.unwrap_or_default();
        let own = procfs::own_cgroup(a, &groups, &tree)?;
        let before = json!({
            "pid": p.pid,
            "start_time": p.start_time,
            "comm": p.comm,
            "exe": exe,
            "exe_sha256": exe_sha256,
            "state": p.state.to_string(),
            "descendants": tree.iter().skip(1).map(proc_json).collect::<Vec<_>>(),
            "cgroup": groups,
            "own_cgroup": own,
        });
        Ok((before, tree, own))
    }
}

fn proc_json(p: &Proc) -> Value {
    json!({
        "pid": p.pid,
        "ppid": p.ppid,
        "start_time": p.start_time,
        "comm": p.comm,
        "state": p.state.to_string(),
    })
}

/// Polls `done` until it says yes or [`SETTLE`] has passed; gives its last answer.
fn wait_until(
    a: &mut dyn Actuator,
    mut done: impl FnMut(&mut dyn Actuator) -> Result<bool, ActionError>,
) -> Result<bool, ActionError> {
    let deadline = Instant::now() + SETTLE;
    loop {
        if done(a)? {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(POLL);
    }
}

/// Waits until each member still alive (same PID and start time) satisfies `ok`; returns
/// the ones that never did.
fn wait_states(
    a: &mut dyn Actuator,
    members: &[Member],
    ok: impl Fn(&Proc) -> bool,
) -> Result<Vec<Member>, ActionError> {
    let mut pending = members.to_vec();
    wait_until(a, |a| {
        let all = procfs::scan(a)?;
        pending.retain(|m| {
            all.iter()
                .find(|p| p.pid == m.pid && p.start_time == m.start_time)
                .is_some_and(|p| !p.dead() && !ok(p))
        });
        Ok(pending.is_empty())
    })?;
    Ok(pending)
}

fn pids(ms: &[Member]) -> String {
    ms.iter()
        .map(|m| m.pid.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn member(p: &Proc) -> Member {
    Member {
        pid: p.pid,
        start_time: p.start_time,
        comm: p.comm.clone(),
        already_stopped: p.stopped(),
    }
}

/// SIGSTOP of the tree, parent first, re-scanning until no new process shows up.
fn stop_tree(a: &mut dyn Actuator, t: &Target) -> Result<Vec<Member>, ActionError> {
    let mut sent: BTreeMap<(u32, u64), Member> = BTreeMap::new();
    let mut order: Vec<(u32, u64)> = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let tree = match t.tree(a) {
            Ok(tree) => tree,
            // Gone after some were stopped: say which (they stay stopped for the responder).
            Err(e) if !order.is_empty() => {
                let done: Vec<String> = order.iter().map(|(p, _)| p.to_string()).collect();
                return Err(ActionError::Failed(format!(
                    "{e}; PIDs {} were stopped and stay stopped",
                    done.join(" ")
                )));
            }
            Err(e) => return Err(e),
        };
        let new: Vec<&Proc> = tree
            .iter()
            .filter(|p| !p.dead() && !sent.contains_key(&(p.pid, p.start_time)))
            .collect();
        if new.is_empty() {
            let members: Vec<Member> = order.iter().filter_map(|k| sent.remove(k)).collect();
            let left = wait_states(a, &members, Proc::stopped)?;
            if !left.is_empty() {
                return Err(ActionError::Failed(format!(
                    "SIGSTOP sent, but PIDs {} are not stopped",
                    pids(&left)
                )));
            }
            return Ok(members);
        }
        let list: Vec<u32> = new.iter().map(|p| p.pid).collect();
        procfs::signal(a, "STOP", &list)?;
        for p in new {
            order.push((p.pid, p.start_time));
            sent.insert((p.pid, p.start_time), member(p));
        }
    }
    Err(ActionError::Failed(format!(
        "the tree of PID {} kept growing after {MAX_ROUNDS} rounds of SIGSTOP",
        t.pid
    )))
}

/// Freezes `cg` and waits for the kernel to say it is frozen (thawing it again if not).
fn freeze_cgroup(a: &mut dyn Actuator, cg: &OwnCgroup) -> Result<(), ActionError> {
    cg.set(a, true)?;
    if wait_until(a, |a| Ok(cg.frozen(a)? == Some(true)))? {
        return Ok(());
    }
    cg.set(a, false)?;
    Err(ActionError::Failed(format!(
        "{} did not report frozen within {} s (thawed again)",
        cg.dir,
        SETTLE.as_secs()
    )))
}

/// Freezes `cg` and checks that the tree (scanned again, now that it cannot fork) is all in
/// it: the frozen members, or `None` (thawed again) when a process of the tree is outside.
fn freeze_whole_tree(
    a: &mut dyn Actuator,
    t: &Target,
    cg: &OwnCgroup,
    tree: &[Proc],
) -> Result<Option<Vec<Member>>, ActionError> {
    // Stopped before the freeze: resume must leave them stopped.
    let was_stopped: Vec<(u32, u64)> = tree
        .iter()
        .filter(|p| p.stopped())
        .map(|p| (p.pid, p.start_time))
        .collect();
    freeze_cgroup(a, cg)?;
    let now = t.tree(a)?;
    let inside = cg.members(a)?;
    if now.iter().any(|p| !p.dead() && !inside.contains(&p.pid)) {
        cg.set(a, false)?;
        return Ok(None);
    }
    let members = now.iter().filter(|p| !p.dead()).map(|p| Member {
        already_stopped: was_stopped.contains(&(p.pid, p.start_time)),
        ..member(p)
    });
    Ok(Some(members.collect()))
}

/// `Step::Suspend`: freeze a process and its descendants; undo resumes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspend {
    target: Target,
}

impl Suspend {
    /// Suspend process `pid` that started at `start_time` (with that exe, when given).
    pub fn new(pid: u32, start_time: u64, exe_sha256: Option<String>) -> Suspend {
        Suspend {
            target: Target {
                pid,
                start_time,
                exe_sha256,
            },
        }
    }
}

impl Action for Suspend {
    fn describe(&self) -> String {
        format!(
            "suspend {} and its descendants: cgroup v2 freeze where it has a cgroup of its own, \
             else the cgroup v1 freezer, else SIGSTOP of the whole tree (refused if the PID was \
             reused or the exe changed); memory and open files stay for acquisition; restore \
             resumes it",
            self.target.label()
        )
    }

    fn check(&self, a: &mut dyn Actuator) -> Result<Value, ActionError> {
        Ok(self.target.check(a, "freeze")?.0)
    }

    fn apply(
        &self,
        a: &mut dyn Actuator,
        _id: &str,
        _before: &Value,
    ) -> Result<Value, ActionError> {
        let (_, tree, own) = self.target.check(a, "freeze")?;
        let frozen = match &own {
            Some(cg) => freeze_whole_tree(a, &self.target, cg, &tree)?,
            None => None,
        };
        let (method, processes, own) = match (frozen, own) {
            (Some(processes), Some(cg)) => {
                let method = match cg.freezer {
                    procfs::Freezer::V2 => Method::CgroupV2Freeze,
                    procfs::Freezer::V1 => Method::CgroupV1Freezer,
                };
                (method, processes, Some(cg))
            }
            _ => (Method::Sigstop, stop_tree(a, &self.target)?, None),
        };
        let record = Suspended {
            method,
            cgroup: own,
            processes,
        };
        let mut after = serde_json::to_value(&record)
            .map_err(|e| ActionError::Failed(format!("record: {e}")))?;
        after["frozen_at"] = json!(chrono::Utc::now().to_rfc3339());
        Ok(after)
    }

    fn undo(
        &self,
        a: &mut dyn Actuator,
        _id: &str,
        _before: &Value,
        after: &Value,
    ) -> Result<(), ActionError> {
        let rec: Suspended = serde_json::from_value(after.clone())
            .map_err(|e| ActionError::Refused(format!("the suspend record cannot be read: {e}")))?;
        resume(a, &rec)
    }
}

/// Resume: thaw the cgroup, or SIGCONT (children first) each member whose start time still
/// matches and that was not stopped before; then check they run again (a member that has
/// exited, killed by a later `Kill` step for instance, has nothing to resume).
pub fn resume(a: &mut dyn Actuator, rec: &Suspended) -> Result<(), ActionError> {
    if let Some(cg) = rec
        .cgroup
        .as_ref()
        .filter(|_| rec.method != Method::Sigstop)
    {
        // A cgroup removed since holds no process (it could not be removed otherwise), so
        // there is nothing to thaw; the check below says whether the processes run.
        if cg.exists(a)? {
            cg.set(a, false)?;
            if !wait_until(a, |a| Ok(cg.frozen(a)? == Some(false)))? {
                return Err(ActionError::Failed(format!("{} did not thaw", cg.dir)));
            }
        }
    } else {
        let mut same = Vec::new();
        for m in rec.processes.iter().rev().filter(|m| !m.already_stopped) {
            if procfs::stat_of(a, m.pid)?.is_some_and(|p| p.start_time == m.start_time) {
                same.push(m.clone());
            }
        }
        let list: Vec<u32> = same.iter().map(|m| m.pid).collect();
        procfs::signal(a, "CONT", &list)?;
    }
    let mine: Vec<Member> = rec
        .processes
        .iter()
        .filter(|m| !m.already_stopped)
        .cloned()
        .collect();
    let left = wait_states(a, &mine, |p| !p.stopped())?;
    if !left.is_empty() {
        return Err(ActionError::Failed(format!(
            "resumed, but PIDs {} are still stopped",
            pids(&left)
        )));
    }
    Ok(())
}

/// Whether the tree is suspended now: its own cgroup frozen, or every live process stopped.
fn suspended(
    a: &mut dyn Actuator,
    tree: &[Proc],
    own: Option<&OwnCgroup>,
) -> Result<bool, ActionError> {
    if let Some(cg) = own {
        if cg.frozen(a)? == Some(true) {
            return Ok(true);
        }
    }
    Ok(tree.iter().all(|p| p.dead() || p.stopped()))
}

/// `Step::Kill`: hash the exe and memory map list of a suspended process tree into the
/// record, then SIGKILL it. It cannot be undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kill {
    target: Target,
}

impl Kill {
    /// Kill process `pid` that started at `start_time` (with that exe, when given).
    pub fn new(pid: u32, start_time: u64, exe_sha256: Option<String>) -> Kill {
        Kill {
            target: Target {
                pid,
                start_time,
                exe_sha256,
            },
        }
    }
}

/// The exe and memory map hashes of one process (and the maps text, bounded, when `text`).
fn evidence(a: &mut dyn Actuator, p: &Proc, text: bool) -> Result<Value, ActionError> {
    let exe = procfs::exe_path(a, p.pid)?;
    let exe_sha256 = procfs::sha256_of(a, &format!("/proc/{}/exe", p.pid)).ok();
    let maps = procfs::cat(a, &format!("/proc/{}/maps", p.pid))?.unwrap_or_default();
    let mut v = json!({
        "pid": p.pid,
        "start_time": p.start_time,
        "comm": p.comm,
        "exe": exe,
        "exe_sha256": exe_sha256,
        "maps_sha256": hex(&maps),
        "maps_bytes": maps.len(),
    });
    if text {
        let kept = &maps[..maps.len().min(MAPS_KEPT)];
        v["maps"] = json!(String::from_utf8_lossy(kept));
        v["maps_truncated"] = json!(maps.len() > MAPS_KEPT);
    }
    Ok(v)
}

/// [`evidence`] of every live process of `tree` (the map text of the first one with `text`).
fn tree_evidence(
    a: &mut dyn Actuator,
    tree: &[Proc],
    text: bool,
) -> Result<Vec<Value>, ActionError> {
    tree.iter()
        .filter(|p| !p.dead())
        .enumerate()
        .map(|(i, p)| evidence(a, p, text && i == 0))
        .collect()
}

fn hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Action for Kill {
    fn describe(&self) -> String {
        format!(
            "kill {} and its descendants with SIGKILL, only while suspended (after the suspend \
             of the same PID), once each one's exe SHA-256 and memory map list (/proc/PID/maps, \
             hashed and kept) are in the record; this cannot be undone: restore refuses it (a \
             killed process cannot be brought back)",
            self.target.label()
        )
    }

    /// The process as [`Suspend`] records it, and the evidence of the frozen tree (each
    /// process's exe SHA-256 and memory map list, hashed; the main process's map text too):
    /// the engine writes it in the `applying` record, before the kill.
    fn check(&self, a: &mut dyn Actuator) -> Result<Value, ActionError> {
        let (mut before, tree, own) = self.target.check(a, "kill")?;
        if !suspended(a, &tree, own.as_ref())? {
            return Err(ActionError::Refused(format!(
                "PID {} is not suspended: a process is killed only after its suspend",
                self.target.pid
            )));
        }
        before["hashed_at"] = json!(chrono::Utc::now().to_rfc3339());
        before["processes"] = json!(tree_evidence(a, &tree, true)?);
        Ok(before)
    }

    fn apply(
        &self,
        a: &mut dyn Actuator,
        _id: &str,
        _before: &Value,
    ) -> Result<Value, ActionError> {
        let (_, tree, own) = self.target.check(a, "kill")?;
        if !suspended(a, &tree, own.as_ref())? {
            return Err(ActionError::Refused(format!(
                "PID {} is not suspended any more",
                self.target.pid
            )));
        }
        // Hashed again (the record `before` has them from the check): a frozen process's
        // maps do not change, so a difference shows a tree that ran in between.
        let hashed_at = chrono::Utc::now().to_rfc3339();
        let hashed = tree_evidence(a, &tree, false)?;
        let live: Vec<Member> = tree.iter().filter(|p| !p.dead()).map(member).collect();
        let list: Vec<u32> = live.iter().map(|m| m.pid).collect();
        procfs::signal(a, "KILL", &list)?;
        // A v1-frozen task dies only once thawed (v2-frozen and stopped ones die at once).
        if let Some(cg) = own.as_ref().filter(|c| c.freezer == procfs::Freezer::V1) {
            cg.set(a, false)?;
        }
        let left = wait_states(a, &live, |_| false)?;
        if !left.is_empty() {
            return Err(ActionError::Failed(format!(
                "SIGKILL sent, but PIDs {} still run",
                pids(&left)
            )));
        }
        Ok(json!({
            "hashed_at": hashed_at,
            "processes": hashed,
            "killed": live,
            "killed_at": chrono::Utc::now().to_rfc3339(),
        }))
    }

    fn undo(
        &self,
        _a: &mut dyn Actuator,
        _id: &str,
        before: &Value,
        after: &Value,
    ) -> Result<(), ActionError> {
        // The evidence is in `before` (written before the kill); an older record had it in
        // `after` only.
        let hashed = if before["processes"].is_array() {
            before
        } else {
            after
        };
        let when = hashed["hashed_at"].as_str().unwrap_or("(unknown time)");
        let sha = hashed["processes"][0]["exe_sha256"]
            .as_str()
            .unwrap_or("unknown");
        Err(ActionError::Refused(format!(
            "a killed process cannot be brought back; its exe was hashed at {when} (SHA-256 {sha})"
        )))
    }
}
