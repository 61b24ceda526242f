//! What the process actions read from a target's `/proc` and cgroup file systems, through an
//! [`Actuator`] (so the same code reads a remote host): one process's `stat` line, every
//! process at once (for the tree walk), the SHA-256 of `/proc/PID/exe`, a process's cgroups
//! and whether it has one of its own. Every program is run by absolute path; the only scripts
//! are fixed strings whose arguments are positional parameters.

use crate::action::ActionError;
use crate::actuator::Actuator;
use crate::ops::{self, Kind, OP_TIMEOUT, OpError};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// One process as its `/proc/PID/stat` line shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Proc {
    pub pid: u32,
    pub ppid: u32,
    /// Field 22: clock ticks since boot when it started (tells a reused PID apart).
    pub start_time: u64,
    /// Field 3: `R`, `S`, `D`, `T` (stopped), `t` (traced), `Z`...
    pub state: char,
    /// Field 2 without its parentheses (may hold spaces, parentheses, newlines).
    pub comm: String,
}

impl Proc {
    /// Stopped by a signal (or by a tracer).
    pub fn stopped(&self) -> bool {
        matches!(self.state, 'T' | 't')
    }

    /// Exited (a zombie waiting for its parent, or dead): it runs no more.
    pub fn dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }

    /// Why there is nothing to `act` on (`freeze`, `kill`) when the process has exited
    /// already: `PID N is a zombie (exited, not reaped): nothing to freeze`.
    pub fn exited(&self, act: &str) -> Option<String> {
        match self.state {
            'Z' => Some(format!(
                "PID {} is a zombie (exited, not reaped): nothing to {act}",
                self.pid
            )),
            'X' | 'x' => Some(format!(
                "PID {} has exited (state {}, dead): nothing to {act}",
                self.pid, self.state
            )),
            _ => None,
        }
    }
}

/// Parses a `/proc/PID/stat` line. The command name sits between the first `" ("` and the
/// LAST `')'` (it may contain both); the numbered fields follow that `')'`.
pub fn parse_stat(text: &[u8]) -> Option<Proc> {
    let s = String::from_utf8_lossy(text);
    let open = s.find(" (")?;
    let close = s.rfind(')')?;
    if close < open + 1 {
        return None;
    }
    let rest: Vec<&str> = s[close + 1..].split_whitespace().collect();
    let state = rest.first()?;
    if state.chars().count() != 1 {
        return None;
    }
    Some(Proc {
        pid: s[..open].trim().parse().ok()?,
        ppid: rest.get(1)?.parse().ok()?,
        // rest[0] is field 3, so field 22 is rest[19].
        start_time: rest.get(19)?.parse().ok()?,
        state: state.chars().next()?,
        comm: s[open + 2..close].to_string(),
    })
}

/// Runs `/bin/cat -- path`: `Ok(None)` when it is not there (a process that has exited).
pub fn cat(a: &mut dyn Actuator, path: &str) -> Result<Option<Vec<u8>>, ActionError> {
    let o = a
        .run(&["/bin/cat", "--", path], b"", OP_TIMEOUT)
        .map_err(OpError::from)?;
    if o.success() {
        return Ok(Some(o.stdout));
    }
    let err = String::from_utf8_lossy(&o.stderr);
    if err.contains("No such file") || err.contains("No such process") {
        return Ok(None);
    }
    Err(OpError::Failed {
        what: "read",
        path: path.into(),
        reason: o.reason(),
    }
    .into())
}

/// Process `pid` now; `None` when there is none.
pub fn stat_of(a: &mut dyn Actuator, pid: u32) -> Result<Option<Proc>, ActionError> {
    let path = format!("/proc/{pid}/stat");
    match cat(a, &path)? {
        None => Ok(None),
        Some(bytes) => match parse_stat(&bytes) {
            Some(p) if p.pid == pid => Ok(Some(p)),
            _ => Err(ActionError::Failed(format!(
                "{path}: unexpected content: {}",
                String::from_utf8_lossy(&bytes).trim()
            ))),
        },
    }
}

/// Prints every process's `stat` line followed by a NUL byte (a command name cannot hold
/// one, but it can hold a newline). Fixed; it takes no arguments.
const SCAN: &str =
    "for f in /proc/[0-9]*/stat; do /bin/cat -- \"$f\" 2>/dev/null && printf '\\0'; done; exit 0";

/// Every process on the target now.
pub fn scan(a: &mut dyn Actuator) -> Result<Vec<Proc>, ActionError> {
    let o = ops::run_ok(a, "list", "/proc", &["/bin/sh", "-c", SCAN], b"")?;
    Ok(o.stdout
        .split(|b| *b == 0)
        .filter(|r| !r.is_empty())
        .filter_map(parse_stat)
        .collect())
}

/// The process `pid` started at `start_time` and all its descendants in `all`, parent before
/// children (breadth first); `None` when that process is not in `all`.
pub fn tree_of(all: &[Proc], pid: u32, start_time: u64) -> Option<Vec<Proc>> {
    let root = all
        .iter()
        .find(|p| p.pid == pid && p.start_time == start_time)?;
    let mut children: BTreeMap<u32, Vec<&Proc>> = BTreeMap::new();
    for p in all {
        if p.pid != p.ppid {
            children.entry(p.ppid).or_default().push(p);
        }
    }
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([root]);
    while let Some(p) = queue.pop_front() {
        if !seen.insert(p.pid) {
            continue;
        }
        out.push(p.clone());
        for c in children.get(&p.pid).into_iter().flatten() {
            queue.push_back(c);
        }
    }
    Some(out)
}

/// The first of `candidates` (absolute paths) that exists on the target.
pub fn find_tool(
    a: &mut dyn Actuator,
    candidates: &[&'static str],
) -> Result<&'static str, ActionError> {
    for c in candidates {
        if ops::lstat(a, c)?.is_some() {
            return Ok(c);
        }
    }
    Err(ActionError::Unsupported(format!(
        "none of {} on the target",
        candidates.join(", ")
    )))
}

/// Where `kill` lives on the distributions dossier knows.
pub const KILL: &[&str] = &["/bin/kill", "/usr/bin/kill"];
const READLINK: &[&str] = &["/bin/readlink", "/usr/bin/readlink"];

/// Sends `signal` (`STOP`, `CONT`, `KILL`) to `pids`, in that order. A process that has exited
/// meanwhile is no error (the caller checks states afterwards).
pub fn signal(a: &mut dyn Actuator, sig: &str, pids: &[u32]) -> Result<(), ActionError> {
    if pids.is_empty() {
        return Ok(());
    }
    let kill = find_tool(a, KILL)?;
    let flag = format!("-{sig}");
    let list: Vec<String> = pids.iter().map(u32::to_string).collect();
    let mut argv = vec![kill, flag.as_str(), "--"];
    argv.extend(list.iter().map(String::as_str));
    let o = a.run(&argv, b"", OP_TIMEOUT).map_err(OpError::from)?;
    let err = String::from_utf8_lossy(&o.stderr);
    if o.success() || err.contains("No such process") {
        return Ok(());
    }
    Err(ActionError::Failed(format!("kill -{sig}: {}", o.reason())))
}

/// The target of `/proc/PID/exe` (`None` for a kernel thread or a process gone).
pub fn exe_path(a: &mut dyn Actuator, pid: u32) -> Result<Option<String>, ActionError> {
    let readlink = find_tool(a, READLINK)?;
    let link = format!("/proc/{pid}/exe");
    let o = a
        .run(&[readlink, "--", &link], b"", OP_TIMEOUT)
        .map_err(OpError::from)?;
    Ok(o.success().then(|| {
        String::from_utf8_lossy(&o.stdout)
            .trim_end_matches('\n')
            .to_string()
    }))
}

/// SHA-256 of the file at `path` read as it is (through `/proc`'s magic links too: the exe
/// of a process whose file was deleted still hashes).
pub fn sha256_of(a: &mut dyn Actuator, path: &str) -> Result<String, ActionError> {
    let o = ops::run_ok(
        a,
        "hash",
        path,
        &["/usr/bin/sha256sum", "-b", "--", path],
        b"",
    )?;
    let text = String::from_utf8_lossy(&o.stdout);
    let hex = text.split_whitespace().next().unwrap_or("");
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ActionError::Failed(format!(
            "{path}: unexpected sha256sum output: {}",
            text.trim()
        )));
    }
    Ok(hex.to_ascii_lowercase())
}

/// Which kernel mechanism freezes a process's cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Freezer {
    /// cgroup v2: `cgroup.freeze` 1/0, `cgroup.events` `frozen 1`.
    V2,
    /// cgroup v1 freezer controller: `freezer.state` FROZEN/THAWED.
    V1,
}

impl Freezer {
    /// The control file, its frozen and thawed values, the file that tells the state and the
    /// line it holds once frozen and once thawed.
    fn files(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Freezer::V2 => ("cgroup.freeze", "1", "0", "cgroup.events"),
            Freezer::V1 => ("freezer.state", "FROZEN", "THAWED", "freezer.state"),
        }
    }
}

/// A process's cgroup paths (relative to their hierarchy's root), from `/proc/PID/cgroup`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cgroups {
    /// The unified (v2) hierarchy's line `0::PATH`.
    pub v2: Option<String>,
    /// The v1 freezer controller's line `N:freezer:PATH`.
    pub freezer: Option<String>,
}

/// Parses `/proc/PID/cgroup`.
pub fn parse_cgroups(text: &str) -> Cgroups {
    let mut c = Cgroups::default();
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(id), Some(ctl), Some(path)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if id == "0" && ctl.is_empty() {
            c.v2 = Some(path.to_string());
        } else if ctl.split(',').any(|x| x == "freezer") {
            c.freezer = Some(path.to_string());
        }
    }
    c
}

/// A cgroup of its own: not the root, no `.`/`..`/empty component, no control character.
fn own_path(rel: &str) -> bool {
    rel.starts_with('/')
        && rel != "/"
        && rel[1..]
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
        && !rel.chars().any(char::is_control)
}

/// The file system type of `path` (`stat -f`), `None` when it is not there.
fn fs_type(a: &mut dyn Actuator, path: &str) -> Result<Option<String>, ActionError> {
    let o = a
        .run(
            &["/usr/bin/stat", "-f", "-c", "%T", "--", path],
            b"",
            OP_TIMEOUT,
        )
        .map_err(OpError::from)?;
    Ok(o.success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string()))
}

/// Where the hierarchy of `kind` is mounted (the fixed places systemd and distributions use).
fn hierarchy(a: &mut dyn Actuator, kind: Freezer) -> Result<Option<&'static str>, ActionError> {
    let (places, fs): (&[&'static str], &str) = match kind {
        Freezer::V2 => (&["/sys/fs/cgroup", "/sys/fs/cgroup/unified"], "cgroup2fs"),
        Freezer::V1 => (&["/sys/fs/cgroup/freezer"], "cgroupfs"),
    };
    for p in places {
        if fs_type(a, p)?.as_deref() == Some(fs) {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// A cgroup folder on the target that freezes a process tree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OwnCgroup {
    pub freezer: Freezer,
    /// Absolute folder, under `/sys/fs/cgroup`.
    pub dir: String,
}

impl OwnCgroup {
    fn file(&self, name: &str) -> String {
        format!("{}/{name}", self.dir)
    }

    /// Whether the folder is still a cgroup folder with its control file.
    pub fn exists(&self, a: &mut dyn Actuator) -> Result<bool, ActionError> {
        let (ctl, ..) = self.freezer.files();
        let dir = ops::lstat(a, &self.dir)?.map(|m| m.kind);
        let file = ops::lstat(a, &self.file(ctl))?.map(|m| m.kind);
        Ok(dir == Some(Kind::Directory) && file == Some(Kind::Regular))
    }

    /// PIDs in this cgroup and every cgroup below it.
    pub fn members(&self, a: &mut dyn Actuator) -> Result<BTreeSet<u32>, ActionError> {
        let argv = [
            "/usr/bin/find",
            &self.dir,
            "-name",
            "cgroup.procs",
            "-type",
            "f",
            "-exec",
            "/bin/cat",
            "--",
            "{}",
            "+",
        ];
        let o = ops::run_ok(a, "list", &self.dir, &argv, b"")?;
        Ok(String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect())
    }

    /// Writes the frozen (`true`) or thawed value into the control file: a fixed script, the
    /// file (checked: a regular file under `/sys/fs/cgroup/`) and the value are its `$1`, `$2`.
    pub fn set(&self, a: &mut dyn Actuator, frozen: bool) -> Result<(), ActionError> {
        let (ctl, on, off, _) = self.freezer.files();
        let file = self.file(ctl);
        let plain = file.strip_prefix("/sys/fs/cgroup/").is_some_and(|rest| {
            rest.split('/')
                .all(|c| !c.is_empty() && c != "." && c != "..")
        });
        if !plain || !self.exists(a)? {
            return Err(ActionError::Refused(format!(
                "{file}: not a cgroup control file"
            )));
        }
        let value = if frozen { on } else { off };
        let script = "printf '%s\\n' \"$2\" > \"$1\"";
        ops::run_ok(
            a,
            "write",
            &file,
            &["/bin/sh", "-c", script, "sh", &file, value],
            b"",
        )?;
        Ok(())
    }

    /// Whether the kernel reports the cgroup frozen (`Some(true)`), thawed (`Some(false)`), or
    /// in between (`None`: v1's FREEZING, v2 not yet settled).
    pub fn frozen(&self, a: &mut dyn Actuator) -> Result<Option<bool>, ActionError> {
        let (.., state) = self.freezer.files();
        let path = self.file(state);
        let text = cat(a, &path)?
            .ok_or_else(|| ActionError::Failed(format!("{path}: the cgroup is gone")))?;
        let text = String::from_utf8_lossy(&text);
        Ok(match self.freezer {
            Freezer::V2 => match text.lines().find_map(|l| l.strip_prefix("frozen ")) {
                Some("1") => Some(true),
                Some("0") => Some(false),
                _ => None,
            },
            Freezer::V1 => match text.trim() {
                "FROZEN" => Some(true),
                "THAWED" => Some(false),
                _ => None,
            },
        })
    }
}

/// The cgroups of process `pid` (`None` when it is gone).
pub fn cgroups_of(a: &mut dyn Actuator, pid: u32) -> Result<Option<Cgroups>, ActionError> {
    Ok(
        cat(a, &format!("/proc/{pid}/cgroup"))?
            .map(|b| parse_cgroups(&String::from_utf8_lossy(&b))),
    )
}

/// The cgroup that freezes exactly `tree` (v2 first, then the v1 freezer): the root
/// process's own cgroup, holding (with the cgroups below it) every live process of the tree
/// and nothing else. `None` when there is none.
pub fn own_cgroup(
    a: &mut dyn Actuator,
    groups: &Cgroups,
    tree: &[Proc],
) -> Result<Option<OwnCgroup>, ActionError> {
    let pids: BTreeSet<u32> = tree.iter().map(|p| p.pid).collect();
    let live: BTreeSet<u32> = tree.iter().filter(|p| !p.dead()).map(|p| p.pid).collect();
    for (freezer, rel) in [(Freezer::V2, &groups.v2), (Freezer::V1, &groups.freezer)] {
        let Some(rel) = rel.as_deref().filter(|r| own_path(r)) else {
            continue;
        };
        let Some(root) = hierarchy(a, freezer)? else {
            continue;
        };
        let cg = OwnCgroup {
            freezer,
            dir: format!("{root}{rel}"),
        };
        if !cg.exists(a)? {
            continue;
        }
        let members = cg.members(a)?;
        if members.is_subset(&pids) && live.is_subset(&members) {
            return Ok(Some(cg));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_command_names() {
        let line = b"4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n";
        let p = parse_stat(line).unwrap();
        assert_eq!(p.pid, 4242);
        assert_eq!(p.comm, "a) b (c)");
        assert_eq!((p.state, p.ppid, p.start_time), ('S', 1, 987_654));
        let nl = b"7 (x\ny) T 3 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0";
        let p = parse_stat(nl).unwrap();
        assert_eq!((p.comm.as_str(), p.state, p.start_time), ("x\ny", 'T', 55));
        assert!(p.stopped());
        assert!(parse_stat(b"7 (short) S 1 2").is_none());
        assert!(parse_stat(b"garbage").is_none());
    }

    #[test]
    fn cgroup_lines_and_own_paths() {
        let c = parse_cgroups("6:freezer:/a/b\n4:memory:/m\n0::/user.slice/x.scope\n");
        assert_eq!(c.v2.as_deref(), Some("/user.slice/x.scope"));
        assert_eq!(c.freezer.as_deref(), Some("/a/b"));
        assert!(own_path("/user.slice/x.scope"));
        for bad in ["/", "", "x", "/a/../b", "/a//b", "/a/.", "/a\nb", "/../x"] {
            assert!(!own_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn tree_is_parent_first_and_needs_the_start_time() {
        let p = |pid, ppid, start_time| Proc {
            pid,
            ppid,
            start_time,
            state: 'S',
            comm: "x".into(),
        };
        let all = [
            p(1, 0, 1),
            p(10, 1, 5),
            p(12, 11, 7),
            p(11, 10, 6),
            p(20, 1, 9),
        ];
        let t: Vec<u32> = tree_of(&all, 10, 5)
            .unwrap()
            .iter()
            .map(|p| p.pid)
            .collect();
        assert_eq!(t, [10, 11, 12]);
        assert!(tree_of(&all, 10, 4).is_none());
    }
}
