//! PATH: programs in earlier PATH directories that shadow trusted tools.

use super::common::*;
use crate::config::AnalysisConfig;
use crate::context::Ctx;
use crate::context::what;
use crate::input::BundleInput;
use dossier_plugin_api::analysis::{Arg, Finding, Ioc, Message};

/// Names of programs that responders and administrators trust to see what runs, who is
/// logged in and what is on disk, or to authenticate: an intruder's favourite PATH hijacks.
pub(crate) const TRUSTED_TOOLS: &[&str] = &[
    "ps",
    "ls",
    "dir",
    "netstat",
    "ss",
    "top",
    "htop",
    "lsof",
    "pstree",
    "pgrep",
    "pkill",
    "kill",
    "killall",
    "w",
    "who",
    "whoami",
    "last",
    "lastb",
    "lastlog",
    "id",
    "find",
    "du",
    "df",
    "stat",
    "file",
    "strings",
    "md5sum",
    "sha1sum",
    "sha256sum",
    "grep",
    "egrep",
    "cat",
    "less",
    "more",
    "head",
    "tail",
    "sudo",
    "su",
    "passwd",
    "chpasswd",
    "login",
    "ssh",
    "scp",
    "sftp",
    "sshd",
    "ssh-keygen",
    "ssh-add",
    "systemctl",
    "journalctl",
    "service",
    "crontab",
    "ip",
    "ifconfig",
    "route",
    "arp",
    "iptables",
    "ip6tables",
    "nft",
    "tcpdump",
    "strace",
    "ltrace",
    "gdb",
    "lsmod",
    "modprobe",
    "insmod",
    "rmmod",
    "dmesg",
    "uname",
    "mount",
    "chattr",
    "lsattr",
    "dpkg",
    "apt",
    "apt-get",
    "rpm",
    "yum",
    "dnf",
    "debsums",
    "curl",
    "wget",
    "bash",
    "sh",
    "dash",
    "useradd",
    "usermod",
    "userdel",
    "adduser",
    "getent",
    "env",
    "which",
    "readlink",
    "ldd",
    "unhide",
    "rkhunter",
    "chkrootkit",
    "auditctl",
    "ausearch",
    "clamscan",
    "hostname",
    "date",
];

/// Why an unowned program shadowing a packaged one looks like a hijack (`Some`), or like a
/// locally built program (`None`): a script (`reason.hijack.script`), or a trusted tool's
/// name (`reason.hijack.trusted`). The copy in the bundle tells a script (`#!`) from a
/// compiled program; without a copy only the name decides.
pub(crate) fn hijack_reason(
    b: &dossier_plugin_api::records::LocalBinRecord,
    input: &mut BundleInput<'_>,
) -> Option<Message> {
    let script = b
        .copy
        .as_ref()
        .and_then(|c| c.member.as_deref())
        .and_then(|m| (input.read_member)(m, 2).ok())
        .is_some_and(|head| head.starts_with(b"#!"));
    if script {
        Some(Message::new("reason.hijack.script"))
    } else if TRUSTED_TOOLS.contains(&b.name.as_str()) {
        Some(Message::new("reason.hijack.trusted").text("name", &b.name))
    } else {
        None
    }
}

/// Unowned entries of /usr/local/{sbin,bin} that shadow a packaged program, with the
/// hijack reason of each (see [`hijack_reason`]).
pub(crate) fn shadowing(ctx: &Ctx, input: &mut BundleInput<'_>, hijack: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    for b in ctx
        .local_bins
        .iter()
        .filter(|b| !b.rec.shadows.is_empty() && b.rec.owned == Some(false))
    {
        let why = hijack_reason(&b.rec, input);
        if why.is_some() != hijack {
            continue;
        }
        let mut iocs = vec![Ioc::Path(b.rec.path.clone())];
        iocs.extend(b.rec.sha256.clone().map(Ioc::Sha256));
        let mut ev = ctx.ev(
            b,
            what("evidence.path-entry", &[("path", &b.rec.path)]),
            b.rec.copy.as_ref(),
        );
        ev.dedup_by(|a, b| a.member == b.member);
        let link = match b.rec.link_target.as_deref() {
            Some(t) => Message::new("finding.paths.link-to")
                .text("target", t)
                .into(),
            None => Arg::Text(String::new()),
        };
        let why = match why {
            Some(w) => Message::new("finding.paths.because").msg("why", w).into(),
            None => Arg::Text(String::new()),
        };
        let m = Message::new("finding.paths.shadow")
            .text("path", &b.rec.path)
            .text("shadows", b.rec.shadows.join(", "));
        out.push(explained(
            &b.rec.path,
            with_arg(with_arg(m, "link", link), "why", why),
            ev,
            iocs,
        ));
    }
    out
}

pub(crate) fn path_hijack(
    ctx: &Ctx,
    _: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    shadowing(ctx, input, true)
}

pub(crate) fn path_shadow_unowned(
    ctx: &Ctx,
    _: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    shadowing(ctx, input, false)
}

#[cfg(test)]
mod tests {
    use crate::config::AnalysisConfig;
    use crate::engine::analyze;
    use crate::testkit::input;
    use serde_json::json;

    #[test]
    fn path_hijack_rule() {
        let bin = |line: usize, path: &str, owned: bool, shadows: &[&str]| {
            let name = path.rsplit('/').next().unwrap();
            (
                line,
                json!({"kind": "local_bin", "path": path, "name": name, "owned": owned, "shadows": shadows, "sha256": "e".repeat(64), "copy": {"path": path, "member": format!("raw{path}")}}),
            )
        };
        let recs = vec![
            // A trusted tool's name: a hijack whatever it is.
            bin(1, "/usr/local/bin/ls", false, &["/usr/bin/ls"]),
            bin(2, "/usr/local/bin/backup-db", false, &[]),
            bin(3, "/usr/local/bin/git", true, &["/usr/bin/git"]),
            // A script standing in for an untrusted name: a hijack.
            bin(4, "/usr/local/bin/tar", false, &["/usr/bin/tar"]),
            // A locally built program: shadowing, scored low.
            bin(5, "/usr/local/bin/vim", false, &["/usr/bin/vim"]),
            // No copy (too large): the name decides.
            (
                6,
                json!({"kind": "local_bin", "path": "/usr/local/bin/python3", "name": "python3", "owned": false, "shadows": ["/usr/bin/python3"]}),
            ),
        ];
        let packages = vec![(
            1,
            json!({"kind": "package", "manager": "dpkg", "name": "coreutils", "version": "1", "source": {"path": "/var/lib/dpkg/status"}}),
        )];
        let records = [
            ("local-bin".to_string(), recs),
            ("packages".to_string(), packages),
        ]
        .into_iter()
        .collect();
        let mut read = |m: &str, limit: u64| {
            let data: &[u8] = match m {
                "raw/usr/local/bin/tar" => b"#!/bin/sh\n/usr/bin/tar \"$@\" 2>/dev/null\n",
                "raw/usr/local/bin/ls" | "raw/usr/local/bin/vim" => b"\x7fELF\x02\x01\x01",
                _ => return Err("none".to_string()),
            };
            Ok(data[..data.len().min(limit as usize)].to_vec())
        };
        let mut inp = input(records, &mut read);
        let a = analyze(&mut inp, &AnalysisConfig::default());
        let of = |rule: &str| -> Vec<&str> {
            a.findings
                .iter()
                .chain(&a.context)
                .filter(|f| f.rule == rule)
                .map(|f| f.subject.as_str())
                .collect()
        };
        assert_eq!(
            of("path-hijack"),
            ["/usr/local/bin/ls", "/usr/local/bin/tar"]
        );
        assert_eq!(
            of("path-shadow-unowned"),
            ["/usr/local/bin/python3", "/usr/local/bin/vim"]
        );
        let tar = a
            .findings
            .iter()
            .find(|f| f.subject == "/usr/local/bin/tar")
            .unwrap();
        assert!(
            tar.explanation.contains("a script stands in"),
            "{}",
            tar.explanation
        );
    }
}
