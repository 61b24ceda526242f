//! The recommended actions of the host report: containment, credentials, lateral hunt, logs
//! and offline analysis for a suspicious host; what to collect before calling a host clean
//! otherwise.

use crate::markdown::md;
use crate::words::comma;
use dossier_i18n::Catalog;
use dossier_plugin_api::analysis::{HostAnalysis, Ioc};
use std::fmt::Write;

/// Whether `s` is safe to paste into a shell as one word.
fn plain_word(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:@[]".contains(&b))
}

/// The exact `dossier contain` command that plans the containment of this host from the
/// findings of this analysis (`../findings.json` from the host's report folder): the SSH
/// target it was swept as, nothing for a local collection (run it on the host), the host
/// name for an image (contain the machine it came from). A name a shell would not take as
/// one plain word is replaced by `TARGET`.
pub(crate) fn contain_command(a: &HostAnalysis) -> String {
    let target = if a.target == "local" {
        None
    } else if let Some(ssh) = a.target.strip_prefix("ssh:") {
        Some(ssh.to_string())
    } else {
        Some(a.hostname.clone())
    };
    match target {
        None => "dossier contain --from ../findings.json".into(),
        Some(t) if plain_word(&t) => format!("dossier contain {t} --from ../findings.json"),
        Some(_) => "dossier contain TARGET --from ../findings.json".into(),
    }
}

/// Recommended actions, from the score, the severities and the IOCs.
pub(super) fn actions(o: &mut String, a: &HostAnalysis, iocs: &[Ioc], c: &Catalog) {
    let _ = writeln!(o, "\n## {}\n", c.text("host.actions.heading"));
    if a.score >= 30
        || a.findings
            .iter()
            .any(|f| f.severity >= dossier_plugin_api::analysis::Severity::High)
    {
        let units: Vec<String> = iocs
            .iter()
            .filter(|i| matches!(i, Ioc::Unit(_)))
            .map(|i| format!("`{}`", md(&i.value())))
            .collect();
        let stop_units = if units.is_empty() {
            String::new()
        } else {
            c.format("host.actions.stop_units", &[("units", &comma(c, &units))])
        };
        let steps = [
            c.format(
                "host.actions.contain",
                &[
                    ("stop_units", &stop_units),
                    ("command", &contain_command(a)),
                ],
            ),
            c.text("host.actions.rotate").to_string(),
            hunt(iocs, c),
            c.format("host.actions.logs", &[("time", &a.collected_started)]),
            c.text("host.actions.offline").to_string(),
        ];
        for (n, step) in steps.iter().enumerate() {
            let _ = writeln!(o, "{}. {step}", n + 1);
        }
    } else {
        let mut steps = vec![c.text("host.actions.none")];
        if !a.not_evaluated.is_empty() {
            steps.push(c.text("host.actions.not_evaluated"));
        }
        if a.partial_data() {
            steps.push(c.text("host.actions.partial"));
        }
        for (n, step) in steps.iter().enumerate() {
            let _ = writeln!(o, "{}. {step}", n + 1);
        }
    }
}

/// The lateral hunt: the IOCs of the flagged findings to search for elsewhere (not PIDs).
fn hunt(iocs: &[Ioc], c: &Catalog) -> String {
    let hunted: Vec<String> = iocs
        .iter()
        .filter(|i| !matches!(i, Ioc::Pid(_)))
        .map(|i| {
            c.format(
                "host.actions.hunted",
                &[
                    ("kind", &c.text(&format!("ioc.{}", i.kind()))),
                    ("value", &md(&i.value())),
                ],
            )
        })
        .collect();
    if hunted.is_empty() {
        c.text("host.actions.hunt_none").to_string()
    } else {
        c.format("host.actions.hunt", &[("iocs", &comma(c, &hunted))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::host;
    use dossier_plugin_api::analysis::Severity;

    #[test]
    fn the_contain_command_names_the_target_as_swept() {
        let mut h = host("web01", "web01.zip", &[Severity::High]);
        h.target = "ssh:root@10.0.0.5:2222".into();
        assert_eq!(
            contain_command(&h),
            "dossier contain root@10.0.0.5:2222 --from ../findings.json"
        );
        h.target = "ssh:ops@[fe80::1]:22".into();
        assert_eq!(
            contain_command(&h),
            "dossier contain ops@[fe80::1]:22 --from ../findings.json"
        );
        h.target = "local".into();
        assert_eq!(
            contain_command(&h),
            "dossier contain --from ../findings.json"
        );
        h.target = "image:/mnt/disk".into();
        assert_eq!(
            contain_command(&h),
            "dossier contain web01 --from ../findings.json"
        );
        h.hostname = "x;rm -rf ~".into();
        assert_eq!(
            contain_command(&h),
            "dossier contain TARGET --from ../findings.json"
        );
        h.hostname = "-oProxyCommand=x".into();
        assert!(contain_command(&h).contains("TARGET"));
        let report = crate::host::render(&h, crate::words::english());
        assert!(
            report.contains("`dossier contain TARGET --from ../findings.json`"),
            "{report}"
        );
    }
}
