//! Host facts: hostname, machine-id, boot id, kernel, OS release, uptime, boot time, time zone,
//! and the account the collection runs as. Read from files only, so the same code serves live
//! hosts, images and SSH targets.

use crate::shared::boot::parse_btime;
use crate::util::{Accounts, DEFAULT_TEXT_CAP};
use dossier_plugin_api::collect::{CollectError, IssueKind};
use dossier_plugin_api::records::{HostFacts, Record, SourceRef};
use dossier_plugin_api::{CollectContext, Collector, CollectorInfo};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The `facts` collector.
pub struct FactsCollector;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {}

impl Collector for FactsCollector {
    fn info(&self) -> CollectorInfo {
        CollectorInfo {
            name: "facts".into(),
            version: crate::util::VERSION.into(),
            description: "Host identity: hostname, machine-id, boot id, kernel, OS release, uptime, collecting account".into(),
            after: vec![],
        }
    }

    fn validate_config(&self, config: &serde_json::Value) -> Result<(), String> {
        serde_json::from_value::<Config>(config.clone())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        let facts = gather(ctx);
        ctx.emit(&Record::HostFacts(facts))
    }
}

fn first_line(data: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(data);
    let l = s.lines().next()?.trim().to_string();
    (!l.is_empty()).then_some(l)
}

/// Parses os-release text (`KEY=value`, values optionally quoted).
pub fn parse_os_release(data: &[u8]) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for line in String::from_utf8_lossy(data).lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
                .unwrap_or(v);
            if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                m.insert(k.to_string(), v.replace("\\\"", "\"").replace("\\\\", "\\"));
            }
        }
    }
    m
}

/// Reads the facts, capturing every file used.
pub fn gather(ctx: &mut CollectContext<'_>) -> HostFacts {
    let live = ctx.is_live();
    let mut f = HostFacts {
        transport: Some(ctx.host().info()),
        ..Default::default()
    };
    let mut sources: Vec<SourceRef> = Vec::new();
    let mut read = |ctx: &mut CollectContext<'_>, p: &str| -> Option<Vec<u8>> {
        let c = ctx.capture(Path::new(p), DEFAULT_TEXT_CAP)?;
        sources.push(c.source_ref(Path::new(p)));
        Some(c.data)
    };
    let hostname = if live {
        read(ctx, "/proc/sys/kernel/hostname").and_then(|d| first_line(&d))
    } else {
        None
    };
    f.hostname = hostname
        .or_else(|| read(ctx, "/etc/hostname").and_then(|d| first_line(&d)))
        .unwrap_or_else(|| "unknown-host".to_string());
    f.machine_id = read(ctx, "/etc/machine-id")
        .and_then(|d| first_line(&d))
        .or_else(|| read(ctx, "/var/lib/dbus/machine-id").and_then(|d| first_line(&d)));
    if let Some(d) = read(ctx, "/etc/os-release").or_else(|| read(ctx, "/usr/lib/os-release")) {
        let m = parse_os_release(&d);
        f.os_pretty_name = m.get("PRETTY_NAME").cloned();
        f.os_release = m
            .into_iter()
            .filter(|(k, _)| {
                [
                    "ID",
                    "ID_LIKE",
                    "VERSION_ID",
                    "VERSION_CODENAME",
                    "NAME",
                    "VERSION",
                    "BUILD_ID",
                ]
                .contains(&k.as_str())
            })
            .collect();
    }
    f.timezone = read(ctx, "/etc/timezone")
        .and_then(|d| first_line(&d))
        .or_else(|| {
            let t = ctx.read_link(Path::new("/etc/localtime"))?;
            let s = t.to_string_lossy().to_string();
            Some(
                s.split_once("zoneinfo/")
                    .map(|(_, z)| z.to_string())
                    .unwrap_or(s),
            )
        });
    if live {
        f.boot_id = read(ctx, "/proc/sys/kernel/random/boot_id").and_then(|d| first_line(&d));
        f.kernel_release = read(ctx, "/proc/sys/kernel/osrelease").and_then(|d| first_line(&d));
        f.kernel_version = read(ctx, "/proc/version").and_then(|d| first_line(&d));
        f.uptime_seconds = read(ctx, "/proc/uptime")
            .and_then(|d| first_line(&d))
            .and_then(|l| l.split_whitespace().next()?.parse().ok());
        f.boot_time = read(ctx, "/proc/stat").and_then(|d| parse_btime(&d));
        if let Some(d) = read(ctx, "/proc/self/status") {
            f.collected_as_uid = status_uid(&d);
        }
    } else {
        ctx.not_available("/proc", "not a running system: boot id, kernel, uptime and the collecting account are not available offline");
        // The newest kernel installed is the best offline hint.
        if let Some(entries) = ctx.list_dir(Path::new("/lib/modules")) {
            let mut names: Vec<String> = entries
                .iter()
                .map(|e| e.name.to_string_lossy().to_string())
                .collect();
            names.sort();
            if let Some(last) = names.last() {
                f.kernel_release = Some(last.clone());
                ctx.log(&format!("kernel release taken from /lib/modules (installed, not necessarily running): {last}"));
            }
        }
    }
    let accounts = Accounts::load(ctx);
    f.collected_as_user = f
        .collected_as_uid
        .and_then(|u| accounts.name(u).map(str::to_string));
    if f.hostname == "unknown-host" {
        ctx.issue(
            "hostname",
            IssueKind::NotAvailable,
            "no hostname found in /proc/sys/kernel/hostname or /etc/hostname",
        );
    }
    f.sources = sources;
    f
}

/// Real uid from `/proc/PID/status` text.
pub fn status_uid(data: &[u8]) -> Option<u32> {
    let s = String::from_utf8_lossy(data);
    s.lines()
        .find(|l| l.starts_with("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::testing::{MemHost, run_collector};

    #[test]
    fn live_facts() {
        let h = MemHost::new(true)
            .file("/proc/sys/kernel/hostname", "web01\n")
            .file("/etc/hostname", "stale-name\n")
            .file("/etc/machine-id", "0123456789abcdef0123456789abcdef\n")
            .file(
                "/etc/os-release",
                "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
            )
            .file("/proc/sys/kernel/random/boot_id", "b0e1\n")
            .file("/proc/sys/kernel/osrelease", "6.1.0-18-amd64\n")
            .file("/proc/uptime", "12345.67 2000.00\n")
            .file("/proc/stat", "cpu 1 2 3\nbtime 1755750000\n")
            .file("/proc/self/status", "Name:\tdossier\nUid:\t0\t0\t0\t0\n")
            .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
            .link("/etc/localtime", "/usr/share/zoneinfo/Asia/Shanghai");
        let (sink, r) = run_collector(
            &FactsCollector,
            &h,
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        let rec = &sink.of_kind("facts", "host_facts")[0];
        assert_eq!(rec["hostname"], "web01");
        assert_eq!(rec["os_pretty_name"], "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(rec["os_release"]["VERSION_ID"], "12");
        assert_eq!(rec["boot_time"], "2025-08-21T04:20:00Z");
        assert_eq!(rec["uptime_seconds"], 12345.67);
        assert_eq!(rec["collected_as_user"], "root");
        assert_eq!(rec["timezone"], "Asia/Shanghai");
        assert!(sink.raw.contains_key("raw/etc/machine-id"));
    }

    #[test]
    fn offline_facts_say_what_is_missing() {
        let h = MemHost::new(false)
            .file("/etc/hostname", "esxi-web01\n")
            .dir("/lib/modules/6.1.0-17-amd64")
            .dir("/lib/modules/6.1.0-18-amd64");
        let (sink, r) = run_collector(
            &FactsCollector,
            &h,
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        let rec = &sink.of_kind("facts", "host_facts")[0];
        assert_eq!(rec["hostname"], "esxi-web01");
        assert_eq!(rec["kernel_release"], "6.1.0-18-amd64");
        assert!(rec.get("boot_id").is_none());
        assert_eq!(sink.issues_about("/proc").len(), 1);
    }
}
