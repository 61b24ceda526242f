//! The recommended actions of the host report: containment, credentials, lateral hunt, logs
//! and offline analysis for a suspicious host; what to collect before calling a host clean
//! otherwise.

use crate::markdown::md;
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
pub(super) fn actions(o: &mut String, a: &HostAnalysis, iocs: &[Ioc]) {
    let _ = writeln!(o, "\n## Recommended actions\n");
    if a.score >= 30
        || a.findings
            .iter()
            .any(|f| f.severity >= dossier_plugin_api::analysis::Severity::High)
    {
        let units: Vec<String> = iocs
            .iter()
            .filter(|i| matches!(i, Ioc::Unit(_)))
            .map(|i| i.value())
            .collect();
        let stop_units = if units.is_empty() {
            String::new()
        } else {
            format!(
                "stop and mask the flagged units ({}) at runtime only (`systemctl mask --runtime`), ",
                units
                    .iter()
                    .map(|u| format!("`{}`", md(u)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let _ = writeln!(
            o,
            "1. **Contain without destroying evidence:** isolate the host from the network; {stop_units}comment out the flagged cron entries, and move flagged binaries to quarantine after this bundle (which already holds their hashes and copies). The plan for this host's findings, run in this report's folder (it prints every change and makes none; `--apply` carries it out, `--runtime` blocks without changing anything on disk): `{}`",
            contain_command(a)
        );
        let _ = writeln!(
            o,
            "2. **Rotate credentials:** root and service-account passwords, SSH keys (authorized_keys of every account), API tokens and any secret readable by the compromised accounts."
        );
        let hunted: Vec<String> = iocs
            .iter()
            .filter(|i| !matches!(i, Ioc::Pid(_)))
            .map(|i| format!("{} `{}`", i.kind().replace('_', " "), md(&i.value())))
            .collect();
        let _ = if hunted.is_empty() {
            writeln!(
                o,
                "3. **Hunt laterally:** no flagged subject gives an IOC to search for elsewhere; sweep the same network with `dossier sweep` and compare hosts with the fleet report."
            )
        } else {
            writeln!(
                o,
                "3. **Hunt laterally:** sweep the same network and cluster with `dossier sweep` for the IOCs of the flagged findings: {}; the fleet report's correlation shows where each was seen.",
                hunted.join(", ")
            )
        };
        let _ = writeln!(
            o,
            "4. **Review logs:** auth logs (`last`, `lastb`, journal of sshd), package-manager and command audit logs, web access logs for uploads and execution around {}.",
            a.collected_started
        );
        let _ = writeln!(
            o,
            "5. **Analyse offline:** the executable copies in the bundle (sandbox, YARA, reverse engineering); open a formal incident if compliance requires it."
        );
    } else {
        let _ = writeln!(
            o,
            "1. No action required by this analysis. Keep the bundle: re-analyse it with newer rules later (`dossier analyze`)."
        );
        let mut n = 2;
        if !a.not_evaluated.is_empty() {
            let _ = writeln!(
                o,
                "{n}. Some rules could not be evaluated (see above): collect the missing data before calling this host clean."
            );
            n += 1;
        }
        if a.partial_data() {
            let _ = writeln!(
                o,
                "{n}. Some rules ran on partial data (see above): collect again with the access that was missing (for example `--sudo`) before calling this host clean."
            );
        }
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
        let report = crate::host::render(&h);
        assert!(
            report.contains("`dossier contain TARGET --from ../findings.json`"),
            "{report}"
        );
    }
}
