//! From a plan's [`Step`] to the [`Action`] that carries it out: `Step::action()`. It lives
//! here, not in `action.rs`, because it names every action module and each of them uses
//! `action.rs` (the trait and its errors): in `action.rs` it would make a module cycle.

use crate::action::{Action, Step};
use crate::cron::NeutralizeCron;
use crate::units::NeutralizeUnit;

impl Step {
    /// The action that carries this step out on a real target; `None` for a kind whose
    /// action is not in this build.
    pub fn action(&self) -> Option<Box<dyn Action>> {
        match self {
            Step::NeutralizeUnit { unit, runtime } => {
                Some(Box::new(NeutralizeUnit::new(unit, *runtime)))
            }
            Step::NeutralizeCron { path, lines } => {
                Some(Box::new(NeutralizeCron::new(path, lines.clone())))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::CronLine;

    #[test]
    fn unit_and_cron_steps_have_their_actions() {
        let u = Step::NeutralizeUnit {
            unit: "miner.service".into(),
            runtime: true,
        };
        let d = u.action().unwrap().describe();
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
        let d = c.action().unwrap().describe();
        assert!(
            d.contains("/etc/cron.d/miner") && d.contains("line(s) 2"),
            "{d}"
        );
    }
}
