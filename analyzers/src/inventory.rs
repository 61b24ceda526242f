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
use dossier_plugin_api::records::{
    AccountRecord, CronEntry, CronScript, GeneratorRecord, HookRecord, LdPreloadRecord,
    ModuleConfigRecord, SudoRule, UnitRecord,
};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Records of one kind, with their line numbers.
type Records = BTreeMap<String, Vec<(usize, serde_json::Value)>>;

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
    let m = rec_member;
    for (line, u) in typed::<UnitRecord>(records, "systemd", "unit") {
        let mut runs: Vec<String> = u
            .exec_start_pre
            .iter()
            .chain(&u.exec_start)
            .chain(&u.exec_start_post)
            .cloned()
            .collect();
        if let Some(t) = &u.timer {
            runs.push(format!("timer for {}", t.unit));
        }
        let mut detail = runs.join(" ; ");
        for d in &u.dropins {
            let h = d.sha256.as_deref().unwrap_or("-");
            detail.push_str(&format!(" ; drop-in {}@{}", d.path, &h[..h.len().min(16)]));
        }
        if u.masked {
            detail.push_str(" ; masked");
        }
        let key = match &u.owner {
            Some(o) => format!("user:{o} {}", u.name),
            None => u.name.clone(),
        };
        let sha = u.source.sha256.clone();
        let mut s = seen("unit", key, sha, detail, m("systemd"), Some(line));
        s.path = Some(u.path.clone());
        out.push(s);
    }
    for (line, c) in typed::<CronEntry>(records, "cron", "cron_entry") {
        let key = format!("{} {}: {}", c.source.path, c.run_as, c.command);
        out.push(seen("cron", key, None, c.schedule, m("cron"), Some(line)));
    }
    for (line, c) in typed::<CronScript>(records, "cron", "cron_script") {
        let sha = c.source.as_ref().and_then(|s| s.sha256.clone());
        let detail = format!("{}{}", c.period, link(&c.link_target));
        out.push(seen("cron", c.path, sha, detail, m("cron"), Some(line)));
    }
    for (line, h) in typed::<HookRecord>(records, "hooks", "hook") {
        let sha = h.source.as_ref().and_then(|s| s.sha256.clone());
        let detail = format!("{}{}", h.commands.join(" ; "), link(&h.link_target));
        out.push(seen("hook", h.path, sha, detail, m("hooks"), Some(line)));
    }
    for (line, g) in typed::<GeneratorRecord>(records, "systemd", "systemd_generator") {
        let sha = g.source.as_ref().and_then(|s| s.sha256.clone());
        let detail = link(&g.link_target).trim_start().to_string();
        out.push(seen(
            "generator",
            g.path,
            sha,
            detail,
            m("systemd"),
            Some(line),
        ));
    }
    for (line, p) in typed::<LdPreloadRecord>(records, "kernel", "ld_preload") {
        for e in p.entries {
            out.push(seen(
                "ld_preload",
                e,
                None,
                String::new(),
                m("kernel"),
                Some(line),
            ));
        }
    }
    for (line, c) in typed::<ModuleConfigRecord>(records, "kernel", "module_config") {
        let sha = c.source.sha256.clone();
        let detail = c.commands.join(" ; ");
        out.push(seen(
            "module_config",
            c.path,
            sha,
            detail,
            m("kernel"),
            Some(line),
        ));
    }
    for (line, k) in typed::<serde_json::Value>(records, "ssh-keys", "authorized_key") {
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
            Some(line),
        ));
    }
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
    for (line, acc) in typed::<AccountRecord>(records, "accounts", "account") {
        let detail = format!("uid {} shell {}", acc.uid, acc.shell);
        out.push(seen(
            "account",
            acc.name,
            None,
            detail,
            m("accounts"),
            Some(line),
        ));
    }
    for (line, s) in typed::<SudoRule>(records, "accounts", "sudo_rule") {
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
    out.sort();
    out.dedup_by(|a, b| a.item == b.item);
    out
}

fn link(target: &Option<String>) -> String {
    target
        .as_ref()
        .map(|t| format!(" -> {t}"))
        .unwrap_or_default()
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
