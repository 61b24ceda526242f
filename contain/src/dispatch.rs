//! The action of each kind of [`Step`]: `Step::action`. It lives apart from `action.rs`
//! (which every action module names) so no module forms a cycle with its siblings. Each
//! action module adds its arm here.

use crate::action::{Action, ActionError, Places, Step};
use crate::actuator::Actuator;
use serde_json::Value;

impl Step {
    /// The action that carries this step out on a target whose dossier state folder is
    /// `places`.
    pub fn action(&self, places: &Places) -> Box<dyn Action> {
        match self {
            Step::Quarantine { path, sha256 } => Box::new(crate::quarantine::Quarantine::new(
                path.clone(),
                sha256.clone(),
                places.clone(),
            )),
            Step::Suspend { .. }
            | Step::Kill { .. }
            | Step::NeutralizeUnit { .. }
            | Step::NeutralizeCron { .. }
            | Step::Isolate { .. } => Box::new(NotInThisBuild(self.clone())),
        }
    }
}

/// A step this build of dossier can plan and print but not carry out: its check refuses
/// with [`ActionError::Unsupported`], so `--apply` records it as failed and changes nothing.
struct NotInThisBuild(Step);

impl Action for NotInThisBuild {
    fn describe(&self) -> String {
        let json = serde_json::to_string(&self.0).unwrap_or_default();
        format!(
            "{} {json} (this build of dossier cannot carry it out yet: refused at --apply)",
            self.0.kind()
        )
    }

    fn check(&self, _a: &mut dyn Actuator) -> Result<Value, ActionError> {
        Err(self.refusal())
    }

    fn apply(&self, _a: &mut dyn Actuator, _id: &str, _b: &Value) -> Result<Value, ActionError> {
        Err(self.refusal())
    }

    fn undo(&self, _: &mut dyn Actuator, _: &str, _: &Value, _: &Value) -> Result<(), ActionError> {
        Err(self.refusal())
    }
}

impl NotInThisBuild {
    fn refusal(&self) -> ActionError {
        ActionError::Unsupported(format!(
            "`{}` is not built into this dossier yet; nothing was changed",
            self.0.kind()
        ))
    }
}
