//! A host's inventory: the items fleet stacking counts and baselines compare (see
//! [`dossier_plugin_api::policy::Item`] for keys and identities), read from a bundle's records
//! and the executables and listeners of its analysis.
//!
//! Keys, per kind:
//! - `unit`: unit name (`user:OWNER NAME` for a user's unit); SHA-256 of the fragment; detail:
//!   what it runs (`ExecStart`...), its drop-ins (path and hash) and `masked`;
//! - `cron`: `CRONTAB RUN_AS: COMMAND` (detail: the schedule), and `cron.*` scripts by path
//!   (with their SHA-256; detail: the period);
//! - `hook`, `generator`, `module_config`: the file's path and SHA-256 (detail: the commands it
//!   names, or a symlink's target);
//! - `ld_preload`: each library of `/etc/ld.so.preload`;
//! - `authorized_key`: `USER FINGERPRINT` (detail: the key options), when the ssh-keys plugin
//!   collected them;
//! - `executable`: canonical path and SHA-256 (`/bin/x` is `/usr/bin/x`);
//! - `listener`: `PROCESSES/PROTOCOL:PORT` (the address is left out: the same service listens
//!   on each host's own address);
//! - `account`: the name (detail: `uid N shell S`);
//! - `sudo_rule`: `SUDOERS_FILE: RULE TEXT`.

use crate::context::canonical;
use crate::input::BundleInput;
use dossier_plugin_api::analysis::HostAnalysis;
use dossier_plugin_api::policy::{Item, Seen};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Records of one kind, with their line numbers.
type Records = BTreeMap<String, Vec<(usize, serde_json::Value)>>;

// What the inventory reads of each record kind, borrowed from the parsed records (the other
// fields are skipped, not built).

#[derive(Deserialize)]
struct Src<'r> {
    #[serde(default, borrow)]
    path: &'r str,
    #[serde(default, borrow)]
    sha256: Option<&'r str>,
}

#[derive(Deserialize)]
struct TimerLite<'r> {
    #[serde(borrow)]
    unit: &'r str,
}

#[derive(Deserialize)]
struct UnitLite<'r> {
    #[serde(borrow)]
    name: &'r str,
    #[serde(borrow)]
    path: &'r str,
    #[serde(default, borrow)]
    owner: Option<&'r str>,
    #[serde(borrow)]
    source: Src<'r>,
    #[serde(default, borrow)]
    exec_start_pre: Vec<&'r str>,
    #[serde(default, borrow)]
    exec_start: Vec<&'r str>,
    #[serde(default, borrow)]
    exec_start_post: Vec<&'r str>,
    #[serde(default, borrow)]
    dropins: Vec<Src<'r>>,
    #[serde(default)]
    masked: bool,
    #[serde(default, borrow)]
    timer: Option<TimerLite<'r>>,
}

#[derive(Deserialize)]
struct CronLite<'r> {
    #[serde(borrow)]
    source: Src<'r>,
    #[serde(borrow)]
    run_as: &'r str,
    #[serde(borrow)]
    command: &'r str,
    #[serde(borrow)]
    schedule: &'r str,
}

/// A file record: cron script, hook, generator, module configuration.
#[derive(Deserialize)]
struct FileLite<'r> {
    #[serde(borrow)]
    path: &'r str,
    #[serde(default, borrow)]
    source: Option<Src<'r>>,
    #[serde(default, borrow)]
    link_target: Option<&'r str>,
    #[serde(default, borrow)]
    period: Option<&'r str>,
    #[serde(default, borrow)]
    commands: Vec<&'r str>,
}

#[derive(Deserialize)]
struct PreloadLite<'r> {
    #[serde(borrow)]
    entries: Vec<&'r str>,
}

#[derive(Deserialize)]
struct AccountLite<'r> {
    #[serde(borrow)]
    name: &'r str,
    uid: u32,
    #[serde(borrow)]
    shell: &'r str,
}

#[derive(Deserialize)]
struct SudoLite<'r> {
    #[serde(borrow)]
    source: Src<'r>,
    #[serde(borrow)]
    text: &'r str,
}

fn typed<'r, T: Deserialize<'r>>(
    records: &'r Records,
    collector: &str,
    kind: &str,
) -> Vec<(usize, T)> {
    records
        .get(collector)
        .into_iter()
        .flatten()
        .filter(|(_, v)| v["kind"] == kind)
        .filter_map(|(line, v)| T::deserialize(v).ok().map(|r| (*line, r)))
        .collect()
}

fn seen(
    kind: &str,
    key: String,
    sha256: Option<String>,
    detail: String,
    member: String,
    line: Option<usize>,
) -> Seen {
    Seen {
        item: Item {
            kind: kind.into(),
            key,
            sha256,
            detail,
        },
        member,
        line,
        path: None,
    }
}

fn rec_member(collector: &str) -> String {
    format!("records/{collector}.jsonl")
}

/// The inventory of one analyzed bundle: sorted, each identity once (the first record of it).
pub fn inventory(input: &BundleInput<'_>, a: &HostAnalysis) -> Vec<Seen> {
    of_records(&input.records, a)
}

/// [`inventory`] from the records themselves.
pub fn of_records(records: &Records, a: &HostAnalysis) -> Vec<Seen> {
    let mut out = Vec::new();
    units(records, &mut out);
    cron_entries(records, &mut out);
    files(records, &mut out);
    ld_preload(records, &mut out);
    authorized_keys(records, &mut out);
    executables(a, &mut out);
    listeners(a, &mut out);
    accounts(records, &mut out);
    sudo_rules(records, &mut out);
    out.sort();
    out.dedup_by(|a, b| a.item == b.item);
    out
}

/// Systemd units (user units keyed by owner): what they run, their timer, drop-ins (with a
/// short hash) and masking.
fn units(records: &Records, out: &mut Vec<Seen>) {
    let m = rec_member;
    for (line, u) in typed::<UnitLite>(records, "systemd", "unit") {
        let mut runs: Vec<String> = u
            .exec_start_pre
            .iter()
            .chain(&u.exec_start)
            .chain(&u.exec_start_post)
            .map(|x| x.to_string())
            .collect();
        if let Some(t) = &u.timer {
            runs.push(format!("timer for {}", t.unit));
        }
        let mut detail = runs.join(" ; ");
        for d in &u.dropins {
            let h = d.sha256.unwrap_or("-");
            detail.push_str(&format!(" ; drop-in {}@{}", d.path, &h[..h.len().min(16)]));
        }
        if u.masked {
            detail.push_str(" ; masked");
        }
        let key = match u.owner {
            Some(o) => format!("user:{o} {}", u.name),
            None => u.name.to_string(),
        };
        let sha = u.source.sha256.map(str::to_string);
        let mut s = seen("unit", key, sha, detail, m("systemd"), Some(line));
        s.path = Some(u.path.to_string());
        out.push(s);
    }
}

/// Cron lines: source, user and command, with the schedule as detail.
fn cron_entries(records: &Records, out: &mut Vec<Seen>) {
    let m = rec_member;
    for (line, c) in typed::<CronLite>(records, "cron", "cron_entry") {
        let key = format!("{} {}: {}", c.source.path, c.run_as, c.command);
        let detail = c.schedule.to_string();
        out.push(seen("cron", key, None, detail, m("cron"), Some(line)));
    }
}

/// Files that run something (cron scripts, hooks, generators, module configs): path, hash,
/// period, commands and link target.
fn files(records: &Records, out: &mut Vec<Seen>) {
    let m = rec_member;
    for (kind, collector, record) in [
        ("cron", "cron", "cron_script"),
        ("hook", "hooks", "hook"),
        ("generator", "systemd", "systemd_generator"),
        ("module_config", "kernel", "module_config"),
    ] {
        for (line, f) in typed::<FileLite>(records, collector, record) {
            let sha = f.source.as_ref().and_then(|s| s.sha256).map(str::to_string);
            let mut detail = f.period.unwrap_or_default().to_string();
            if !f.commands.is_empty() {
                detail.push_str(&f.commands.join(" ; "));
            }
            if let Some(t) = f.link_target {
                if !detail.is_empty() {
                    detail.push(' ');
                }
                detail.push_str(&format!("-> {t}"));
            }
            out.push(seen(
                kind,
                f.path.to_string(),
                sha,
                detail,
                m(collector),
                Some(line),
            ));
        }
    }
}

/// Each `ld.so.preload` entry.
fn ld_preload(records: &Records, out: &mut Vec<Seen>) {
    let m = rec_member;
    for (line, p) in typed::<PreloadLite>(records, "kernel", "ld_preload") {
        for e in p.entries {
            out.push(seen(
                "ld_preload",
                e.to_string(),
                None,
                String::new(),
                m("kernel"),
                Some(line),
            ));
        }
    }
}

/// Authorized keys (records of the `ssh-keys` collector): user and fingerprint, options as
/// detail.
fn authorized_keys(records: &Records, out: &mut Vec<Seen>) {
    let m = rec_member;
    for (line, k) in records
        .get("ssh-keys")
        .into_iter()
        .flatten()
        .filter(|(_, v)| v["kind"] == "authorized_key")
    {
        let (Some(user), Some(fp)) = (k["user"].as_str(), k["fingerprint"].as_str()) else {
            continue;
        };
        let detail = k["options"]
            .as_array()
            .map(|o| {
                o.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .or_else(|| k["options"].as_str().map(str::to_string))
            .unwrap_or_default();
        out.push(seen(
            "authorized_key",
            format!("{user} {fp}"),
            None,
            detail,
            m("ssh-keys"),
            Some(*line),
        ));
    }
}

/// Executables the analysis saw, with the member their evidence came from.
fn executables(a: &HostAnalysis, out: &mut Vec<Seen>) {
    let m = rec_member;
    for e in &a.executables {
        let member = e.member.clone().unwrap_or_else(|| {
            if e.referenced_by.iter().all(|r| r.starts_with("process ")) {
                m("proc")
            } else {
                m("packages")
            }
        });
        out.push(seen(
            "executable",
            canonical(&e.path),
            e.sha256.clone(),
            String::new(),
            member,
            None,
        ));
    }
}

/// Listening ports: processes, protocol (v4 and v6 alike) and port.
fn listeners(a: &HostAnalysis, out: &mut Vec<Seen>) {
    let m = rec_member;
    for l in &a.listeners {
        let proto = l.protocol.trim_end_matches('6');
        let key = format!("{}/{proto}:{}", l.processes.join(","), l.port);
        out.push(seen(
            "listener",
            key,
            None,
            String::new(),
            m("sockets"),
            None,
        ));
    }
}

/// Accounts: name, with uid and shell as detail.
fn accounts(records: &Records, out: &mut Vec<Seen>) {
    let m = rec_member;
    for (line, acc) in typed::<AccountLite>(records, "accounts", "account") {
        let detail = format!("uid {} shell {}", acc.uid, acc.shell);
        let key = acc.name.to_string();
        out.push(seen(
            "account",
            key,
            None,
            detail,
            m("accounts"),
            Some(line),
        ));
    }
}

/// Sudo rules: source file and the rule's text with its spaces normalized.
fn sudo_rules(records: &Records, out: &mut Vec<Seen>) {
    let m = rec_member;
    for (line, s) in typed::<SudoLite>(records, "accounts", "sudo_rule") {
        let text = s.text.split_whitespace().collect::<Vec<_>>().join(" ");
        let key = format!("{}: {text}", s.source.path);
        out.push(seen(
            "sudo_rule",
            key,
            None,
            String::new(),
            m("accounts"),
            Some(line),
        ));
    }
}

/// The SHA-256 values a path has in an inventory (any kind with a hash; canonical paths).
pub fn hashes_of<'i>(inv: &'i [Seen], path: &str) -> Vec<&'i str> {
    let c = canonical(path);
    let mut v: Vec<&str> = inv
        .iter()
        .filter(|s| s.item.sha256.is_some() && s.file().is_some_and(|f| canonical(f) == c))
        .filter_map(|s| s.item.sha256.as_deref())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Analyses for unit tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use dossier_plugin_api::analysis::HostAnalysis;
    use serde_json::json;

    /// A host with no finding, one executable and one listener.
    pub(crate) fn empty() -> HostAnalysis {
        serde_json::from_value(json!({
            "hostname": "h", "bundle": "b.zip", "bundle_sha256": "0", "target": "local",
            "collected_started": "2026-01-01T00:00:00Z", "collected_finished": "2026-01-01T00:00:00Z",
            "playbook": "p", "playbook_sha256": "1", "tool": "t", "score": 0,
            "verdict": "Unclear/Benign", "hits": [], "findings": [], "not_evaluated": [],
            "executables": [{"path": "/bin/sleep", "sha256": "aa", "referenced_by": ["unit x.service"]}],
            "listeners": [{"protocol": "tcp6", "address": "::", "port": 22, "processes": ["sshd"], "pids": [1]}],
            "gaps": []
        }))
        .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_are_keyed_and_identified_per_kind() {
        let unit = |sha: &str| {
            json!({"kind": "unit", "name": "hb.service", "unit_type": "service", "scope": "system",
                "path": "/etc/systemd/system/hb.service", "unit_dir": "/etc/systemd/system",
                "source": {"path": "/etc/systemd/system/hb.service", "member": "raw/x", "sha256": sha},
                "exec_start": ["/usr/bin/sleep infinity"], "enabled": true})
        };
        let records: Records = [
            (
                "systemd".to_string(),
                vec![(1, unit("ab")), (2, unit("ab")), (3, unit("cd"))],
            ),
            (
                "accounts".to_string(),
                vec![(
                    4,
                    json!({"kind": "account", "name": "svc", "uid": 998, "gid": 998, "home": "/",
                    "shell": "/usr/sbin/nologin", "password": "locked", "line": 3,
                    "source": {"path": "/etc/passwd"}}),
                )],
            ),
        ]
        .into_iter()
        .collect();
        let inv = of_records(&records, &tests_support::empty());
        let units: Vec<&Seen> = inv.iter().filter(|s| s.item.kind == "unit").collect();
        // Identical records count once; another hash is another item.
        assert_eq!(units.len(), 2);
        assert_eq!(units[0].item.detail, "/usr/bin/sleep infinity");
        assert_eq!(units[0].line, Some(1));
        let acc = inv.iter().find(|s| s.item.kind == "account").unwrap();
        assert_eq!(acc.item.key, "svc");
        assert_eq!(acc.item.detail, "uid 998 shell /usr/sbin/nologin");
        let exe = inv.iter().find(|s| s.item.kind == "executable").unwrap();
        assert_eq!(exe.item.key, "/usr/bin/sleep");
        assert_eq!(exe.member, "records/packages.jsonl");
        let l = inv.iter().find(|s| s.item.kind == "listener").unwrap();
        assert_eq!(l.item.key, "sshd/tcp:22");
        assert_eq!(hashes_of(&inv, "/bin/sleep"), ["aa"]);
    }
}
