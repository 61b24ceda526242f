//! The analysis context: a bundle's records parsed once into typed form, with package
//! ownership, and helpers that turn a record into an evidence pointer (records member +
//! SHA-256 + line, and the raw member it was parsed from).

use crate::input::BundleInput;
use dossier_plugin_api::analysis::{Evidence, ExecutableSeen, Listener, Message};
use dossier_plugin_api::records::{
    AccountRecord, CronEntry, CronScript, GeneratorRecord, GroupRecord, HookRecord,
    KernelModuleRecord, LdPreloadRecord, LdSoConfRecord, LocalBinRecord, LoginRecord,
    ModuleConfigRecord, NetInterfaceRecord, PackageVerify, ProcessRecord, SocketRecord, SourceRef,
    SudoRule, UnitRecord,
};
use serde::de::DeserializeOwned;
use std::cell::OnceCell;
use std::collections::{BTreeMap, HashSet};

/// A record with its collector and line.
#[derive(Clone, Debug)]
pub struct At<T> {
    pub collector: &'static str,
    pub line: usize,
    pub rec: T,
}

/// Parsed records of one bundle.
pub struct Ctx {
    pub units: Vec<At<UnitRecord>>,
    pub cron: Vec<At<CronEntry>>,
    pub cron_scripts: Vec<At<CronScript>>,
    pub procs: Vec<At<ProcessRecord>>,
    pub sockets: Vec<At<SocketRecord>>,
    pub verify: Vec<At<PackageVerify>>,
    pub accounts: Vec<At<AccountRecord>>,
    pub groups: Vec<At<GroupRecord>>,
    pub sudo: Vec<At<SudoRule>>,
    /// `authorized_key` records of the `ssh-keys` plugin collector (when it ran).
    pub ssh_keys: Vec<At<serde_json::Value>>,
    pub hooks: Vec<At<HookRecord>>,
    pub generators: Vec<At<GeneratorRecord>>,
    pub ld_preload: Vec<At<LdPreloadRecord>>,
    pub ld_conf: Vec<At<LdSoConfRecord>>,
    pub modules: Vec<At<KernelModuleRecord>>,
    pub module_configs: Vec<At<ModuleConfigRecord>>,
    pub local_bins: Vec<At<LocalBinRecord>>,
    pub interfaces: Vec<At<NetInterfaceRecord>>,
    pub logins: Vec<At<LoginRecord>>,
    /// `(collector, kind)` pairs with at least one record.
    kinds: HashSet<(String, String)>,
    pub owned: HashSet<String>,
    pub has_package_db: bool,
    /// Names of packaged programs (in /usr/bin, /usr/sbin, /usr/libexec, with and without a
    /// version suffix) and stems of packaged units, built on first use.
    packaged_names: OnceCell<HashSet<String>>,
    members: BTreeMap<String, String>,
}

/// Records of one bundle grouped by (collector, kind), in line order: each typed list below is
/// read from its group instead of scanning every record once per kind.
type ByKind<'i> = BTreeMap<(&'i str, &'i str), Vec<&'i (usize, serde_json::Value)>>;

fn by_kind<'i>(input: &'i BundleInput<'_>) -> ByKind<'i> {
    let mut map: ByKind<'i> = BTreeMap::new();
    for (c, recs) in &input.records {
        for r in recs {
            if let Some(k) = r.1.get("kind").and_then(|k| k.as_str()) {
                map.entry((c.as_str(), k)).or_default().push(r);
            }
        }
    }
    map
}

fn typed_in<T: DeserializeOwned>(
    groups: &ByKind<'_>,
    collector: &'static str,
    kind: &str,
) -> Vec<At<T>> {
    groups
        .get(&(collector, kind))
        .into_iter()
        .flatten()
        .filter_map(|(line, v)| {
            // Deserialized from the borrowed value, not a clone of it: the typed records have
            // no `kind` field and ignore unknown fields, so the tag needs no removing.
            T::deserialize(v).ok().map(|rec| At {
                collector,
                line: *line,
                rec,
            })
        })
        .collect()
}

/// Records of one `(collector, kind)` read straight from the bundle input, for rules that read
/// a kind the shared context does not hold.
pub(crate) fn typed<T: DeserializeOwned>(
    input: &BundleInput<'_>,
    collector: &'static str,
    kind: &str,
) -> Vec<At<T>> {
    input
        .records
        .get(collector)
        .into_iter()
        .flatten()
        .filter(|(_, v)| v.get("kind").and_then(|k| k.as_str()) == Some(kind))
        .filter_map(|(line, v)| {
            T::deserialize(v).ok().map(|rec| At {
                collector,
                line: *line,
                rec,
            })
        })
        .collect()
}

/// `/bin/x` and `/usr/bin/x` name the same file on merged-/usr systems.
pub fn canonical(path: &str) -> String {
    for d in ["/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/"] {
        if path.starts_with(d) {
            return format!("/usr{path}");
        }
    }
    path.to_string()
}

/// The program a command line runs (first word, when absolute), looking through `env` and
/// common wrappers.
pub fn program(cmd: &str) -> Option<String> {
    let words: Vec<&str> = cmd
        .trim_start_matches(['@', '-', ':', '+', '!'])
        .split_whitespace()
        .collect();
    let mut i = 0;
    while i < words.len() {
        let w = words[i].trim_matches(|c| c == '"' || c == '\'');
        let base = w.rsplit('/').next().unwrap_or(w);
        if matches!(
            base,
            "env" | "nohup" | "nice" | "ionice" | "setsid" | "exec"
        ) || w.contains('=') && !w.starts_with('/')
        {
            i += 1;
            continue;
        }
        // A `:`-separated list (`/root/.local/bin:$PATH`, the value of an assignment split off
        // by its quotes) names directories, not a program.
        return (w.starts_with('/') && !w.contains(':')).then(|| w.to_string());
    }
    None
}

impl Ctx {
    /// Parses the records of a bundle.
    pub fn new(input: &BundleInput<'_>) -> Ctx {
        let groups = by_kind(input);
        let mut owned = HashSet::new();
        for (_, v) in groups
            .get(&("packages", "package_files"))
            .into_iter()
            .flatten()
        {
            for f in v["files"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str())
            {
                owned.insert(canonical(f));
            }
        }
        let has_package_db = groups.contains_key(&("packages", "package"));
        Ctx {
            units: typed_in(&groups, "systemd", "unit"),
            cron: typed_in(&groups, "cron", "cron_entry"),
            cron_scripts: typed_in(&groups, "cron", "cron_script"),
            // The collecting dossier process is evidence of the collection, not of the host.
            procs: typed_in::<ProcessRecord>(&groups, "proc", "process")
                .into_iter()
                .filter(|p| !p.rec.collector_self)
                .collect(),
            sockets: typed_in(&groups, "sockets", "socket"),
            verify: typed_in(&groups, "packages", "package_verify"),
            accounts: typed_in(&groups, "accounts", "account"),
            groups: typed_in(&groups, "accounts", "group"),
            sudo: typed_in(&groups, "accounts", "sudo_rule"),
            ssh_keys: typed_in(&groups, "ssh-keys", "authorized_key"),
            hooks: typed_in(&groups, "hooks", "hook"),
            generators: typed_in(&groups, "systemd", "systemd_generator"),
            ld_preload: typed_in(&groups, "kernel", "ld_preload"),
            ld_conf: typed_in(&groups, "kernel", "ld_so_conf"),
            modules: typed_in(&groups, "kernel", "kernel_module"),
            module_configs: typed_in(&groups, "kernel", "module_config"),
            local_bins: typed_in(&groups, "local-bin", "local_bin"),
            interfaces: typed_in(&groups, "netif", "net_interface"),
            logins: typed_in(&groups, "sessions", "login"),
            kinds: groups
                .keys()
                .map(|(c, k)| (c.to_string(), k.to_string()))
                .collect(),
            owned,
            has_package_db,
            packaged_names: OnceCell::new(),
            members: input.members.clone(),
        }
    }

    /// `(collector, kind)` pairs with at least one record.
    pub fn kinds(&self) -> &HashSet<(String, String)> {
        &self.kinds
    }

    /// Whether `name` (any case) is a packaged program in a system binary directory (also
    /// once a version suffix is stripped on both sides: `python` and `python3.11`) or the
    /// stem of a packaged unit.
    pub fn packaged_name(&self, name: &str) -> bool {
        fn stem(n: &str) -> &str {
            n.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.' || c == '-' || c == '_')
        }
        let names = self.packaged_names.get_or_init(|| {
            let mut s = HashSet::new();
            for f in &self.owned {
                let (dir, base) = f.rsplit_once('/').unwrap_or(("", f));
                let base = base.to_ascii_lowercase();
                match dir {
                    "/usr/bin" | "/usr/sbin" | "/usr/libexec" => {
                        if !stem(&base).is_empty() {
                            s.insert(stem(&base).to_string());
                        }
                        s.insert(base);
                    }
                    "/usr/lib/systemd/system" | "/etc/systemd/system" => {
                        if let Some((u, _)) = base.rsplit_once('.') {
                            s.insert(u.to_string());
                        }
                    }
                    _ => {}
                }
            }
            s
        });
        let n = name.to_ascii_lowercase();
        names.contains(&n) || (!stem(&n).is_empty() && names.contains(stem(&n)))
    }

    /// Whether a package owns `path`.
    pub fn is_owned(&self, path: &str) -> bool {
        self.owned.contains(&canonical(path))
    }

    /// Verification record of a path, if the packages collector checked it.
    pub fn verified(&self, path: &str) -> Option<&At<PackageVerify>> {
        let c = canonical(path);
        self.verify.iter().find(|v| canonical(&v.rec.path) == c)
    }

    /// Evidence pointing at a record line, plus the raw member it came from. `what` says what
    /// in the record matters (see [`what`]); `Evidence.what` keeps its English rendering.
    pub fn ev<T>(&self, at: &At<T>, what: Message, source: Option<&SourceRef>) -> Vec<Evidence> {
        let member = format!("records/{}.jsonl", at.collector);
        let mut v = vec![Evidence {
            sha256: self.members.get(&member).cloned().unwrap_or_default(),
            member,
            line: Some(at.line),
            what: english(&what),
            what_message: Some(what),
        }];
        if let Some(src) = source {
            if let (Some(m), Some(s)) = (&src.member, &src.sha256) {
                let raw = Message::new("evidence.raw-copy").text("path", &src.path);
                v.push(Evidence {
                    member: m.clone(),
                    sha256: s.clone(),
                    line: None,
                    what: english(&raw),
                    what_message: Some(raw),
                });
            }
        }
        v
    }

    /// Evidence for a raw member by name.
    pub fn member_ev(&self, member: &str, what: Message) -> Option<Evidence> {
        self.members.get(member).map(|s| Evidence {
            member: member.into(),
            sha256: s.clone(),
            line: None,
            what: english(&what),
            what_message: Some(what),
        })
    }

    /// Executables referenced by processes, units and cron, with hashes where known.
    pub fn executables(&self) -> Vec<ExecutableSeen> {
        let mut map: BTreeMap<String, ExecutableSeen> = BTreeMap::new();
        let mut add = |path: &str, sha: Option<String>, why: String, member: Option<String>| {
            let e = map
                .entry(path.to_string())
                .or_insert_with(|| ExecutableSeen {
                    path: path.into(),
                    sha256: None,
                    referenced_by: vec![],
                    referenced_by_messages: vec![],
                    member: None,
                    packaged: false,
                });
            if e.sha256.is_none() {
                e.sha256 = sha;
            }
            if e.member.is_none() {
                e.member = member;
            }
            if !e.referenced_by.contains(&why) {
                e.referenced_by.push(why);
            }
        };
        for p in &self.procs {
            if let Some(exe) = &p.rec.exe {
                let why = match crate::suspended::label(&p.rec) {
                    Some(state) => format!("process {} ({state})", p.rec.pid),
                    None => format!("process {}", p.rec.pid),
                };
                add(exe, p.rec.exe_sha256.clone(), why, p.rec.exe_member.clone());
            }
        }
        for v in &self.verify {
            // Hook files (profiles, udev rules...) are configuration, and preloaded libraries
            // are libraries: not executables.
            for r in v.rec.referenced_by.iter().filter(|r| {
                // Verified for what they are, not because something runs them: setuid,
                // setgid and capability files, libraries a unit preloads.
                !r.starts_with("hook ")
                    && *r != "ld.so.preload"
                    && !r.starts_with("LD_PRELOAD of ")
                    && !matches!(
                        r.as_str(),
                        "setuid file" | "setgid file" | "file capabilities"
                    )
            }) {
                add(
                    &v.rec.path,
                    v.rec.sha256.clone(),
                    r.clone(),
                    v.rec.copy.as_ref().and_then(|c| c.member.clone()),
                );
            }
        }
        let mut out: Vec<ExecutableSeen> = map.into_values().collect();
        for e in &mut out {
            e.referenced_by.sort();
            e.referenced_by_messages = e.referenced_by.iter().map(|r| referrer::parse(r)).collect();
            e.packaged = self.packaged_unchanged(&e.path, e.sha256.as_deref());
        }
        out
    }

    /// Whether `path` is owned by a package and every verification of it found its content
    /// unchanged (status `ok`), with the same SHA-256 as `sha256` when both are known.
    pub fn packaged_unchanged(&self, path: &str, sha256: Option<&str>) -> bool {
        let c = canonical(path);
        let mut checks = self
            .verify
            .iter()
            .filter(|v| canonical(&v.rec.path) == c)
            .peekable();
        checks.peek().is_some()
            && checks.all(|v| {
                v.rec.status == "ok"
                    && match (sha256, v.rec.sha256.as_deref()) {
                        (Some(a), Some(b)) => a == b,
                        _ => true,
                    }
            })
    }

    /// Listening sockets.
    pub fn listeners(&self) -> Vec<Listener> {
        let mut v: Vec<Listener> = self
            .sockets
            .iter()
            .filter(|s| s.rec.listening)
            .map(|s| Listener {
                protocol: s.rec.protocol.clone(),
                address: s.rec.local_addr.clone(),
                port: s.rec.local_port,
                processes: s.rec.processes.clone(),
                pids: s.rec.pids.clone(),
            })
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// An evidence description (`unit python.service`): the catalogue message `id` (an
/// `evidence.*` id) with its arguments as text (names, paths, lines: never translated).
pub fn what(id: &str, args: &[(&str, &dyn std::fmt::Display)]) -> Message {
    args.iter()
        .fold(Message::new(id), |m, (name, value)| m.text(name, value))
}

/// A message rendered in English (what `Evidence.what` and other English fields keep).
fn english(m: &Message) -> String {
    dossier_i18n::catalog(dossier_i18n::Lang::En).render(m)
}

/// What refers to a program or file (`process 812`, `unit x.service`, `cron FILE:LINE`...),
/// as catalogue messages (`reason.referrer.*`) for explanations: built here for the rules'
/// own referrers, or parsed from the `referenced_by` strings of package verification records
/// (written by the packages collector).
pub mod referrer {
    use dossier_plugin_api::analysis::Message;

    /// `process PID`.
    pub fn process(pid: u32) -> Message {
        Message::new("reason.referrer.process").text("pid", pid)
    }

    /// `process PID (COMM)`.
    pub fn process_named(pid: u32, comm: &str) -> Message {
        Message::new("reason.referrer.process-named")
            .text("pid", pid)
            .text("comm", comm)
    }

    /// `unit NAME`.
    pub fn unit(name: &str) -> Message {
        Message::new("reason.referrer.unit").text("unit", name)
    }

    /// `cron FILE:LINE`.
    pub fn cron(file: &str, line: impl ToString) -> Message {
        Message::new("reason.referrer.cron")
            .text("file", file)
            .text("line", line.to_string())
    }

    /// A `referenced_by` string of a package verification record as a message: the forms the
    /// packages collector writes (`process N`, `unit U`, `LD_PRELOAD of unit U`, `cron F:L`,
    /// `cron.PERIOD`, `hook CLASS`, `CLASS hook PATH`, `setuid file`, `setgid file`, `file
    /// capabilities`), and `process N (suspended, state T)` as [`super::Ctx::executables`]
    /// names a suspended process; anything else is kept as it is (`reason.referrer.other`).
    pub fn parse(s: &str) -> Message {
        let other = || Message::new("reason.referrer.other").text("text", s);
        if let Some(rest) = s.strip_prefix("process ") {
            // `process N`, or `process N (suspended, state T)` as `Ctx::executables` names a
            // process a responder suspended.
            let (pid, state) = match rest.split_once(" (suspended, ") {
                Some((pid, how)) => (pid, how.strip_suffix(')')),
                None => (rest, None),
            };
            let how = match state {
                Some("state T") => Some("finding.suspended.state-t"),
                Some("cgroup frozen") => Some("finding.suspended.cgroup-frozen"),
                Some(_) => return other(),
                None => None,
            };
            return match (pid.parse::<u32>(), how) {
                (Ok(pid), None) => process(pid),
                (Ok(pid), Some(how)) => Message::new("reason.referrer.process-suspended")
                    .text("pid", pid)
                    .msg("how", Message::new(how)),
                (Err(_), _) => other(),
            };
        }
        if let Some(u) = s.strip_prefix("LD_PRELOAD of unit ") {
            return Message::new("reason.referrer.preload-unit").text("unit", u);
        }
        if let Some(u) = s.strip_prefix("unit ") {
            return unit(u);
        }
        if let Some((file, line)) = s
            .strip_prefix("cron ")
            .and_then(|r| r.rsplit_once(':'))
            .filter(|(_, l)| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
        {
            return cron(file, line);
        }
        if let Some(period) = s.strip_prefix("cron.") {
            return Message::new("reason.referrer.cron-dir").text("period", period);
        }
        if let Some(class) = s.strip_prefix("hook ") {
            return Message::new("reason.referrer.hook").text("class", class);
        }
        if let Some((class, path)) = s
            .split_once(" hook ")
            .filter(|(c, p)| !c.contains(' ') && p.starts_with('/'))
        {
            return Message::new("reason.referrer.hook-at")
                .text("class", class)
                .text("path", path);
        }
        match s {
            "setuid file" => Message::new("reason.referrer.setuid"),
            "setgid file" => Message::new("reason.referrer.setgid"),
            "file capabilities" => Message::new("reason.referrer.capabilities"),
            _ => other(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_and_canonical_paths() {
        assert_eq!(
            program("/var/log/log >/dev/null 2>&1").as_deref(),
            Some("/var/log/log")
        );
        assert_eq!(
            program("-/usr/bin/env FOO=1 /opt/x --y").as_deref(),
            Some("/opt/x")
        );
        assert_eq!(program("cd / && run-parts"), None);
        assert_eq!(program("/root/.local/bin:$PATH"), None);
        assert_eq!(canonical("/bin/kill"), "/usr/bin/kill");
        assert_eq!(canonical("/opt/x"), "/opt/x");
    }

    #[test]
    fn referrers_parse_into_messages_that_render_as_they_were_written() {
        use dossier_i18n::{Lang, catalog};
        for (s, id) in [
            ("process 812", "reason.referrer.process"),
            (
                "process 812 (suspended, state T)",
                "reason.referrer.process-suspended",
            ),
            (
                "process 9 (suspended, cgroup frozen)",
                "reason.referrer.process-suspended",
            ),
            ("process 9 (running)", "reason.referrer.other"),
            ("unit x.service", "reason.referrer.unit"),
            (
                "LD_PRELOAD of unit y.service",
                "reason.referrer.preload-unit",
            ),
            ("cron /etc/crontab:12", "reason.referrer.cron"),
            ("cron.daily", "reason.referrer.cron-dir"),
            ("hook profile", "reason.referrer.hook"),
            ("pam hook /etc/pam.d/sshd", "reason.referrer.hook-at"),
            ("setuid file", "reason.referrer.setuid"),
            ("setgid file", "reason.referrer.setgid"),
            ("file capabilities", "reason.referrer.capabilities"),
            ("ld.so.preload", "reason.referrer.other"),
            ("process x", "reason.referrer.other"),
        ] {
            let m = referrer::parse(s);
            assert_eq!(m.id, id, "{s}");
            assert_eq!(catalog(Lang::En).render(&m), s);
            assert!(!catalog(Lang::ZhCn).render(&m).contains('{'), "{s}");
        }
    }

    #[test]
    fn packaged_unchanged_executables_are_marked_and_others_not() {
        use crate::testkit::{input, proc};
        use serde_json::json;
        let sha = "ab".repeat(32);
        let other = "cd".repeat(32);
        let verify = |path: &str, status: &str, sha: &str| {
            json!({"kind": "package_verify", "path": path, "status": status, "sha256": sha,
                   "referenced_by": ["process 7"]})
        };
        let records = [
            (
                "proc".to_string(),
                vec![
                    (
                        1,
                        proc(
                            7,
                            "python3",
                            &["python3", "app.py"],
                            "/usr/bin/python3.11",
                            json!({"exe_sha256": sha}),
                        ),
                    ),
                    (
                        2,
                        proc(
                            8,
                            "sshd",
                            &["sshd"],
                            "/usr/sbin/sshd",
                            json!({"exe_sha256": other}),
                        ),
                    ),
                    (3, proc(9, "x", &["x"], "/tmp/x", json!({}))),
                    (
                        4,
                        proc(
                            10,
                            "bash",
                            &["bash"],
                            "/bin/bash",
                            json!({"exe_sha256": other}),
                        ),
                    ),
                ],
            ),
            (
                "packages".to_string(),
                vec![
                    (1, verify("/usr/bin/python3.11", "ok", &sha)),
                    (2, verify("/usr/sbin/sshd", "mismatch", &other)),
                    // Verified, but the running process's executable (/bin/bash) has another hash.
                    (3, verify("/usr/bin/bash", "ok", &sha)),
                ],
            ),
        ]
        .into_iter()
        .collect();
        let mut read = |_: &str, _: u64| Err("none".to_string());
        let input = input(records, &mut read);
        let ctx = Ctx::new(&input);
        let packaged: Vec<(String, bool)> = ctx
            .executables()
            .into_iter()
            .map(|e| (e.path, e.packaged))
            .collect();
        assert_eq!(
            packaged,
            [
                ("/bin/bash".to_string(), false),
                ("/tmp/x".to_string(), false),
                // The file there verifies; the process above ran another content.
                ("/usr/bin/bash".to_string(), true),
                ("/usr/bin/python3.11".to_string(), true),
                ("/usr/sbin/sshd".to_string(), false),
            ]
        );
    }
}
