//! From a plan's [`Step`] to the [`Action`] that carries it out: `Step::action`. It lives
//! apart from `action.rs` (which every action module names) so no module forms a cycle with
//! its siblings.

use crate::action::{Action, Places, Step};

impl Step {
    /// The action that carries this step out on a target whose dossier state folder is
    /// `places` (quarantine folders of units, cron files and files are under it unless a file
    /// is quarantined on its own filesystem).
    pub fn action(&self, places: &Places) -> Box<dyn Action> {
        match self {
            Step::Quarantine { path, sha256 } => Box::new(crate::quarantine::Quarantine::new(
                path.clone(),
                sha256.clone(),
                places.clone(),
            )),
            Step::Suspend {
                pid,
                start_time,
                exe_sha256,
            } => Box::new(crate::process::Suspend::new(
                *pid,
                *start_time,
                exe_sha256.clone(),
            )),
            Step::Kill {
                pid,
                start_time,
                exe_sha256,
            } => Box::new(crate::process::Kill::new(
                *pid,
                *start_time,
                exe_sha256.clone(),
            )),
            Step::NeutralizeUnit { unit, runtime } => {
                let p = crate::units::UnitPlaces {
                    quarantine: places.quarantine(),
                    ..Default::default()
                };
                Box::new(crate::units::NeutralizeUnit::with_places(unit, *runtime, p))
            }
            Step::NeutralizeCron { path, lines } => {
                let p = crate::cron::CronPlaces {
                    quarantine: places.quarantine(),
                    ..Default::default()
                };
                Box::new(crate::cron::NeutralizeCron::with_places(
                    path,
                    lines.clone(),
                    p,
                ))
            }
            Step::Isolate {
                keep,
                rollback_secs,
            } => Box::new(crate::isolate::Isolate::new(keep.clone(), *rollback_secs)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::CronLine;

    #[test]
    fn every_step_has_its_action() {
        let places = Places::new("/var/lib/dossier");
        let u = Step::NeutralizeUnit {
            unit: "miner.service".into(),
            runtime: true,
        };
        let d = u.action(&places).describe();
        assert!(
            d.contains("miner.service") && d.contains("mask --runtime"),
            "{d}"
        );
        let c = Step::NeutralizeCron {
            path: "/etc/cron.d/miner".into(),
            lines: vec![CronLine {
                number: 2,
                text: "@reboot root /tmp/.x/kworker".into(),
            }],
        };
        let d = c.action(&places).describe();
        assert!(
            d.contains("/etc/cron.d/miner") && d.contains("line(s) 2"),
            "{d}"
        );
        let q = Step::Quarantine {
            path: "/tmp/x".into(),
            sha256: "0".repeat(64),
        };
        assert!(q.action(&places).describe().contains("/tmp/x"));
    }
}
