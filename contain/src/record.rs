//! The action record: one JSON document per transition of one applied step (what it is,
//! which plan and host, who ran it, the snapshot bundle taken before, the state before and
//! after, and when each transition happened). The store keeps every transition as its own
//! file, so a record's history is append-only and its newest file is its state.

use crate::action::Step;
use serde_json::Value;

/// Where an action is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "name", content = "reason", rename_all = "snake_case")]
pub enum State {
    /// In a plan, not started.
    Planned,
    /// Its state before is recorded; the change is being made (a record left in this state
    /// was interrupted: the change may or may not be there).
    Applying,
    /// The change is made.
    Applied,
    /// Refused or failed: what happened is the reason.
    Failed(String),
    /// Being undone.
    Restoring,
    /// Undone and checked against the state before.
    Restored,
    /// The undo was refused or failed (the change may still be there): why.
    RestoreFailed(String),
}

impl State {
    /// The state's name as printed (`applied`, `restore_failed`...).
    pub fn name(&self) -> &'static str {
        match self {
            State::Planned => "planned",
            State::Applying => "applying",
            State::Applied => "applied",
            State::Failed(_) => "failed",
            State::Restoring => "restoring",
            State::Restored => "restored",
            State::RestoreFailed(_) => "restore_failed",
        }
    }

    /// The reason of a failed state.
    pub fn reason(&self) -> Option<&str> {
        match self {
            State::Failed(r) | State::RestoreFailed(r) => Some(r),
            _ => None,
        }
    }
}

/// The snapshot bundle of the host taken (and verified) before its first change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// The bundle's file name.
    pub bundle: String,
    /// SHA-256 of the bundle file.
    pub sha256: String,
}

/// When a record entered a state (UTC, RFC 3339), and who made it enter it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    pub state: String,
    pub time: String,
    /// The examiner who ran the command (the applier for `applying`..., the restorer for
    /// `restoring`...).
    #[serde(default)]
    pub by: String,
}

/// One action record (as stored in `<id>.<seq>.json`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Unique and sortable: `YYYYMMDDTHHMMSS.ffffffZ-` and 8 random hex digits.
    pub id: String,
    /// Number of this transition (1 for the first file of the record).
    pub seq: u32,
    /// The host name of the target.
    pub host: String,
    /// The plan's id (see `Plan::id`): the same plan re-run has the same id.
    pub plan_id: String,
    pub step: Step,
    /// Who ran it (`--examiner`, else the user name).
    pub examiner: String,
    /// The snapshot bundle of the host taken before the first change.
    #[serde(default)]
    pub snapshot: Option<Snapshot>,
    pub state: State,
    /// Kept in the runtime folder (`/run/dossier/actions`): a record of a `--runtime` plan,
    /// which a reboot drops together with the runtime mask. The store reads it only there.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub runtime: bool,
    /// What was there before (the action's `check`).
    #[serde(default)]
    pub before: Value,
    /// What the change left (the action's `apply`).
    #[serde(default)]
    pub after: Value,
    /// Every state the record went through, oldest first.
    pub transitions: Vec<Transition>,
    /// The dossier version that wrote this transition.
    pub tool: String,
}

/// The current UTC time in RFC 3339 with microseconds.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A new action id: UTC time (sortable) and a random suffix.
pub fn new_id() -> String {
    let mut r = [0u8; 4];
    // Without randomness, the nanoseconds of the clock keep ids of one run apart (the time
    // prefix is unique per process anyway unless two ids are made in the same microsecond).
    if getrandom::fill(&mut r).is_err() {
        r = chrono::Utc::now().timestamp_subsec_nanos().to_le_bytes();
    }
    let t = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
    let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
    format!("{t}-{hex}")
}

/// Whether `id` has the form [`new_id`] makes (so it is safe in a file name).
pub fn valid_id(id: &str) -> bool {
    id.len() <= 64
        && !id.is_empty()
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

impl Record {
    /// A record of `step` entering `state` now (transition 1).
    pub fn new(
        id: String,
        host: &str,
        plan_id: &str,
        step: Step,
        examiner: &str,
        snapshot: Option<Snapshot>,
    ) -> Record {
        Record {
            id,
            seq: 0,
            host: host.into(),
            plan_id: plan_id.into(),
            step,
            examiner: examiner.into(),
            snapshot,
            state: State::Planned,
            runtime: false,
            before: Value::Null,
            after: Value::Null,
            transitions: Vec::new(),
            tool: format!("dossier {}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// Moves the record to `state` now, by its examiner (the store writes it as the next
    /// transition).
    pub fn enter(&mut self, state: State) {
        let by = self.examiner.clone();
        self.enter_by(state, &by);
    }

    /// Moves the record to `state` now, by `by` (a restore by another examiner).
    pub fn enter_by(&mut self, state: State, by: &str) {
        self.transitions.push(Transition {
            state: state.name().into(),
            time: now(),
            by: by.into(),
        });
        self.state = state;
        self.tool = format!("dossier {}", env!("CARGO_PKG_VERSION"));
    }

    /// When the record entered its first state named `name`.
    pub fn time_of(&self, name: &str) -> Option<&str> {
        self.transitions
            .iter()
            .find(|t| t.state == name)
            .map(|t| t.time.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_sortable_and_safe() {
        let a = new_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id();
        assert!(a < b, "{a} !< {b}");
        assert!(valid_id(&a) && valid_id(&b));
        assert_eq!(a.len(), "20261202T151000.123456Z-0011aabb".len());
        assert!(!valid_id("../x") && !valid_id("") && !valid_id(".hidden"));
    }

    #[test]
    fn a_record_round_trips_with_its_transitions() {
        let step = Step::Quarantine {
            path: "/tmp/x".into(),
            sha256: "ab".repeat(32),
        };
        let mut r = Record::new(new_id(), "h", "p1", step, "ex", None);
        r.enter(State::Applying);
        r.enter(State::Failed("refused: changed".into()));
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains(r#""state":{"name":"failed","reason":"refused: changed"}"#));
        let back: Record = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.state.name(), "failed");
        assert!(back.time_of("applying").is_some());
        assert_eq!(back.transitions.len(), 2);
        assert_eq!(back.transitions[0].by, "ex");
        r.enter_by(State::Restoring, "other");
        assert_eq!(r.transitions[2].by, "other");
        assert!(r.tool.starts_with("dossier "));
    }
}
