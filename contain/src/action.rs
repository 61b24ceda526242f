//! What every containment action is: a step of a plan ([`Step`], its exact wire form, as
//! printed and recorded) and the [`Action`] that carries it out: read the state before (and
//! refuse when the target no longer matches the plan), apply, undo. The engine records the
//! state before on the host and in the ledger *before* it calls [`Action::apply`], and the
//! state after once it returns, so an interrupted run can be resumed and restored.

use crate::actuator::Actuator;
use crate::ops::OpError;
use serde_json::Value;

/// One change of a plan, exactly as planned (every field is checked again before it is
/// applied).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Freeze a process and its descendants (cgroup v2 freeze, v1 freezer, or SIGSTOP of the
    /// tree). `start_time` is field 22 of `/proc/PID/stat` (clock ticks since boot): with the
    /// exe's SHA-256 it tells a reused PID apart.
    Suspend {
        pid: u32,
        start_time: u64,
        exe_sha256: Option<String>,
    },
    /// Kill a process the plan suspends first (`--kill`), after its exe and memory map list are
    /// hashed into the record.
    Kill {
        pid: u32,
        start_time: u64,
        exe_sha256: Option<String>,
    },
    /// Stop a systemd unit (service, timer, path, socket) and, unless `runtime`, disable it and
    /// quarantine its unit file and drop-ins; with `runtime`, `mask --runtime` only (nothing
    /// on disk outside `/run` changes).
    NeutralizeUnit { unit: String, runtime: bool },
    /// Comment out exact lines of a crontab (system, `cron.d`, user spool) with a marker that
    /// names the action id. `lines` are 1-based numbers with the text expected there.
    NeutralizeCron { path: String, lines: Vec<CronLine> },
    /// Move a file into the root-only quarantine folder on its own filesystem, mode 000.
    Quarantine { path: String, sha256: String },
    /// nftables isolation keeping loopback and the responder's SSH session, rolled back after
    /// `rollback_secs` unless confirmed over a fresh connection.
    Isolate { keep: Vec<Peer>, rollback_secs: u64 },
}

impl Step {
    /// Whether this step cannot be applied once `other` (an earlier step of the same plan)
    /// failed: killing a process the plan suspends needs the suspension.
    pub fn depends_on(&self, other: &Step) -> bool {
        match (self, other) {
            (Step::Kill { pid, .. }, Step::Suspend { pid: p, .. }) => pid == p,
            _ => false,
        }
    }

    /// The step's kind as written in `--action` (`quarantine`, `suspend`...).
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Suspend { .. } => "suspend",
            Step::Kill { .. } => "kill",
            Step::NeutralizeUnit { .. } => "neutralize-unit",
            Step::NeutralizeCron { .. } => "neutralize-cron",
            Step::Quarantine { .. } => "quarantine",
            Step::Isolate { .. } => "isolate",
        }
    }
}

/// Where dossier keeps its own state on a target: action records and, when on the same
/// filesystem as a quarantined file, the quarantine; and the records of `--runtime` plans,
/// which change nothing on disk outside `/run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Places {
    /// `/var/lib/dossier` (or `--state-dir`, for tests).
    pub state_dir: String,
    /// `/run/dossier` (or `--runtime-dir`, for tests): the action records of `--runtime`
    /// plans, dropped at reboot together with the runtime masks they record.
    pub runtime_dir: String,
}

impl Places {
    /// The state folder of a real run.
    pub const DEFAULT: &'static str = "/var/lib/dossier";
    /// The runtime folder of a real run (a tmpfs a reboot empties).
    pub const DEFAULT_RUNTIME: &'static str = "/run/dossier";

    /// Places under `state_dir` (runtime records under [`Places::DEFAULT_RUNTIME`]).
    pub fn new(state_dir: impl Into<String>) -> Places {
        Places {
            state_dir: state_dir.into(),
            runtime_dir: Places::DEFAULT_RUNTIME.into(),
        }
    }

    /// The same with the runtime records under `runtime_dir`.
    #[must_use]
    pub fn with_runtime_dir(mut self, runtime_dir: impl Into<String>) -> Places {
        self.runtime_dir = runtime_dir.into();
        self
    }

    /// The folder of the action records.
    pub fn actions(&self) -> String {
        format!("{}/actions", self.state_dir.trim_end_matches('/'))
    }

    /// The folder of the action records of `--runtime` plans.
    pub fn runtime_actions(&self) -> String {
        format!("{}/actions", self.runtime_dir.trim_end_matches('/'))
    }

    /// The quarantine folder under the state folder.
    pub fn quarantine(&self) -> String {
        format!("{}/quarantine", self.state_dir.trim_end_matches('/'))
    }
}

impl Default for Places {
    fn default() -> Self {
        Places::new(Places::DEFAULT)
    }
}

/// A crontab line a plan changes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronLine {
    /// 1-based line number.
    pub number: usize,
    /// The line's text as it was when planned (without the newline).
    pub text: String,
}

/// An address and port that isolation keeps reachable (the responder's SSH session).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    /// The responder's address as the target sees it (IPv4 or IPv6).
    pub addr: String,
    /// The target's SSH port the session is connected to.
    pub port: u16,
}

/// Why an action did not happen or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The target is not as planned (PID reused, file changed, path occupied): nothing done.
    #[error("refused: {0}")]
    Refused(String),
    /// The target cannot do this (no nftables, no systemd as PID 1...): nothing done.
    #[error("not possible here: {0}")]
    Unsupported(String),
    /// It was started and failed; `Value` parts that were done are in the message.
    #[error("failed: {0}")]
    Failed(String),
    #[error(transparent)]
    Op(#[from] OpError),
}

/// Carries out one [`Step`] on a target. `id` is the action id (it names quarantine folders
/// and cron markers); `before` is what [`Action::check`] returned, `after` what
/// [`Action::apply`] returned: both are stored in the action record.
pub trait Action: Send + Sync {
    /// The plan line: exactly what will change.
    fn describe(&self) -> String;

    /// Reads the state the step will change and refuses when it is not what the plan says.
    fn check(&self, a: &mut dyn Actuator) -> Result<Value, ActionError>;

    /// Makes the change.
    fn apply(&self, a: &mut dyn Actuator, id: &str, before: &Value) -> Result<Value, ActionError>;

    /// Undoes it and checks the result against `before` (hash, owner, mode, times...);
    /// refuses when what it would overwrite changed since.
    fn undo(
        &self,
        a: &mut dyn Actuator,
        id: &str,
        before: &Value,
        after: &Value,
    ) -> Result<(), ActionError>;

    /// Whether the change removes itself unless confirmed (isolation's dead-man rollback).
    fn needs_confirmation(&self) -> bool {
        false
    }

    /// Confirms it over a fresh connection `a` (cancels the rollback).
    fn confirm(&self, _a: &mut dyn Actuator, _id: &str, _after: &Value) -> Result<(), ActionError> {
        Ok(())
    }
}
