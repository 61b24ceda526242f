//! Carries out a plan and undoes it. [`apply`]: for each step, its action's `check` (a
//! refusal fails that step and the steps that depend on it, the others go on), then the
//! record `applying` with the state before, written on the host AND passed to the caller's
//! [`Hooks::recorded`] (the case ledger) BEFORE the change; then the change, confirmed
//! through [`Hooks::confirm`] when the action removes itself unless confirmed; then the
//! record `applied` with the state after (or `failed`). Re-running the same plan continues:
//! a step with an `applied` record (of this plan or another) that is not restored is
//! skipped; one left `applying` by an interrupted run, or `failed` after `applying` (an
//! action should undo its part-made change when it fails, but may not manage to), fails
//! until `restore` has undone it (every undo must cope with a change never made). [`restore`] undoes applied
//! actions newest first and records `restoring`, then `restored` or `restore_failed`.

use crate::action::{Action, ActionError, Places, Step};
use crate::actuator::Actuator;
use crate::record::{Record, Snapshot, State, new_id};
use crate::store::{Store, StoreError};
use sha2::{Digest, Sha256};

/// The changes planned for one host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// The host's name (as its bundles name it).
    pub host: String,
    pub steps: Vec<Step>,
}

impl Plan {
    /// The plan's id: the first 16 hex digits of the SHA-256 of its JSON (the same plan
    /// made again has the same id, so a re-run continues it).
    pub fn id(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        Sha256::digest(&json)[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Who runs a plan and what the host's records name.
#[derive(Debug, Clone)]
pub struct Context {
    pub places: Places,
    /// `--examiner`, else the user name.
    pub examiner: String,
    /// The host's snapshot bundle taken before the first change.
    pub snapshot: Option<Snapshot>,
    /// A `--runtime` plan: its records go in the runtime folder (`/run/dossier/actions`),
    /// so that nothing under `/var` changes.
    pub runtime: bool,
}

/// What the caller adds to a run.
pub trait Hooks {
    /// The action of a step (the real one unless a test says otherwise).
    fn action(&mut self, step: &Step, places: &Places) -> Box<dyn Action> {
        step.action(places)
    }

    /// Called once each transition of a record is written on the host: the caller appends
    /// it to the case ledger. An error before a change stops the run before that change.
    fn recorded(&mut self, rec: &Record) -> Result<(), String>;

    /// Confirms an applied action that removes itself unless confirmed (over a fresh
    /// connection); an error leaves it to remove itself.
    fn confirm(&mut self, action: &dyn Action, rec: &Record) -> Result<(), ActionError>;
}

/// Errors that stop a whole run (the host's records or the ledger cannot be written).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the case ledger could not record action {id}: {message} (stopped before the change)")]
    Ledger { id: String, message: String },
}

/// What happened to one step or one restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done now (record `id`).
    Done { id: String },
    /// Nothing to do: already done by record `id`.
    AlreadyDone { id: String },
    /// Refused or failed (with the record `id` when one was written).
    Failed { id: Option<String>, reason: String },
}

impl Outcome {
    /// Whether the step or restore failed.
    pub fn failed(&self) -> bool {
        matches!(self, Outcome::Failed { .. })
    }
}

/// Writes `rec` in `state` on the host and passes it to the ledger hook.
fn transition(
    a: &mut dyn Actuator,
    store: &Store,
    hooks: &mut dyn Hooks,
    rec: &mut Record,
    state: State,
) -> Result<(), EngineError> {
    let by = rec.examiner.clone();
    transition_by(a, store, hooks, rec, state, &by)
}

/// [`transition`] made by examiner `by`.
fn transition_by(
    a: &mut dyn Actuator,
    store: &Store,
    hooks: &mut dyn Hooks,
    rec: &mut Record,
    state: State,
    by: &str,
) -> Result<(), EngineError> {
    rec.enter_by(state, by);
    store.write(a, rec)?;
    hooks.recorded(rec).map_err(|message| EngineError::Ledger {
        id: rec.id.clone(),
        message,
    })
}

/// Applies `plan` on the host behind `a` (see the module documentation). Returns one
/// outcome per step, in plan order.
pub fn apply(
    plan: &Plan,
    a: &mut dyn Actuator,
    ctx: &Context,
    hooks: &mut dyn Hooks,
) -> Result<Vec<Outcome>, EngineError> {
    let store = Store::new(&ctx.places);
    let plan_id = plan.id();
    let existing = store.list(a)?.records;
    let mut outcomes: Vec<Outcome> = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        // The change may be in place already, made by this plan or another one.
        let earlier = existing.iter().rfind(|r| r.step == *step && undoable(r));
        if let Some(r) = earlier {
            if matches!(
                r.state,
                State::Applied | State::Restoring | State::RestoreFailed(_)
            ) {
                outcomes.push(Outcome::AlreadyDone { id: r.id.clone() });
            } else {
                outcomes.push(Outcome::Failed {
                    id: Some(r.id.clone()),
                    reason: format!(
                        "action {} was interrupted or failed while it was applied (it is {}): `dossier restore {}` first, then run the plan again",
                        r.id,
                        r.state.name(),
                        r.id
                    ),
                });
            }
            continue;
        }
        let blocked = plan.steps[..i]
            .iter()
            .zip(&outcomes)
            .find(|(s, o)| o.failed() && step.depends_on(s));
        let mut rec = Record::new(
            new_id(),
            a.host(),
            &plan_id,
            step.clone(),
            &ctx.examiner,
            ctx.snapshot.clone(),
        );
        rec.runtime = ctx.runtime;
        if let Some((s, _)) = blocked {
            let reason = format!("not applied: it needs the {} step, which failed", s.kind());
            transition(a, &store, hooks, &mut rec, State::Failed(reason.clone()))?;
            outcomes.push(Outcome::Failed {
                id: Some(rec.id),
                reason,
            });
            continue;
        }
        let action = hooks.action(step, &ctx.places);
        outcomes.push(apply_one(a, &store, hooks, action.as_ref(), rec)?);
    }
    Ok(outcomes)
}

/// Check, record `applying`, apply (and confirm), record `applied` or `failed`.
fn apply_one(
    a: &mut dyn Actuator,
    store: &Store,
    hooks: &mut dyn Hooks,
    action: &dyn Action,
    mut rec: Record,
) -> Result<Outcome, EngineError> {
    let failed = |a: &mut dyn Actuator, hooks: &mut dyn Hooks, mut rec: Record, reason: String| {
        transition(a, store, hooks, &mut rec, State::Failed(reason.clone()))?;
        Ok(Outcome::Failed {
            id: Some(rec.id),
            reason,
        })
    };
    let before = match action.check(a) {
        Ok(b) => b,
        Err(e) => return failed(a, hooks, rec, e.to_string()),
    };
    rec.before = before;
    rec.enter(State::Applying);
    store.write(a, &mut rec)?;
    if let Err(message) = hooks.recorded(&rec) {
        let reason = format!("not applied: the case ledger could not record it: {message}");
        rec.enter(State::Failed(reason));
        store.write(a, &mut rec)?;
        return Err(EngineError::Ledger {
            id: rec.id,
            message,
        });
    }
    let after = match action.apply(a, &rec.id, &rec.before) {
        Ok(v) => v,
        Err(e) => return failed(a, hooks, rec, e.to_string()),
    };
    rec.after = after;
    if action.needs_confirmation() {
        if let Err(e) = hooks.confirm(action, &rec) {
            let reason = format!("applied, then not confirmed (it removes itself): {e}");
            return failed(a, hooks, rec, reason);
        }
    }
    transition(a, store, hooks, &mut rec, State::Applied)?;
    Ok(Outcome::Done { id: rec.id })
}

/// Which actions to undo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every action applied (or interrupted) and not restored.
    All,
    /// These ids.
    Ids(Vec<String>),
}

/// Whether a record may have something to undo: its change is in place, or may be in part
/// (interrupted, or failed once it was started: `applying` was recorded).
pub fn undoable(r: &Record) -> bool {
    match r.state {
        State::Applied | State::Applying | State::Restoring | State::RestoreFailed(_) => true,
        State::Failed(_) => r.time_of("applying").is_some(),
        State::Planned | State::Restored => false,
    }
}

/// Undoes the selected actions on the host behind `a`, newest first, as examiner `by`.
/// Returns `(id, outcome)` for each, in the order undone (an unknown id fails without stopping the rest).
pub fn restore(
    a: &mut dyn Actuator,
    places: &Places,
    which: &Selection,
    by: &str,
    hooks: &mut dyn Hooks,
) -> Result<Vec<(String, Outcome)>, EngineError> {
    let store = Store::new(places);
    let listing = store.list(a)?;
    let mut out = Vec::new();
    let mut chosen: Vec<Record> = match which {
        Selection::All => listing.records.into_iter().filter(undoable).collect(),
        Selection::Ids(ids) => {
            let mut v = Vec::new();
            for id in ids {
                match listing.records.iter().find(|r| r.id == *id) {
                    Some(r) if r.state == State::Restored => {
                        out.push((id.clone(), Outcome::AlreadyDone { id: id.clone() }));
                    }
                    Some(r) if !undoable(r) => out.push((
                        id.clone(),
                        Outcome::Failed {
                            id: Some(id.clone()),
                            reason: format!("nothing to undo: the action is {}", r.state.name()),
                        },
                    )),
                    Some(r) => v.push(r.clone()),
                    None => out.push((
                        id.clone(),
                        Outcome::Failed {
                            id: None,
                            reason: format!("no readable action record {id} on {}", a.host()),
                        },
                    )),
                }
            }
            v
        }
    };
    chosen.sort_by(|x, y| y.id.cmp(&x.id));
    chosen.dedup_by(|x, y| x.id == y.id);
    for mut rec in chosen {
        let action = hooks.action(&rec.step, places);
        transition_by(a, &store, hooks, &mut rec, State::Restoring, by)?;
        let outcome = match action.undo(a, &rec.id, &rec.before, &rec.after) {
            Ok(()) => {
                transition_by(a, &store, hooks, &mut rec, State::Restored, by)?;
                Outcome::Done { id: rec.id.clone() }
            }
            Err(e) => {
                let reason = e.to_string();
                transition_by(
                    a,
                    &store,
                    hooks,
                    &mut rec,
                    State::RestoreFailed(reason.clone()),
                    by,
                )?;
                Outcome::Failed {
                    id: Some(rec.id.clone()),
                    reason,
                }
            }
        };
        out.push((rec.id, outcome));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actuator::LocalActuator;
    use serde_json::Value;
    use std::sync::{Arc, Mutex};

    type Log = Arc<Mutex<Vec<String>>>;

    /// Records its calls; refuses, fails or needs confirmation by its path's name.
    struct Fake {
        name: String,
        log: Log,
    }

    fn name_of(step: &Step) -> String {
        match step {
            Step::Quarantine { path, .. } => path.clone(),
            other => other.kind().to_string(),
        }
    }

    impl Action for Fake {
        fn describe(&self) -> String {
            self.name.clone()
        }
        fn check(&self, _a: &mut dyn Actuator) -> Result<Value, ActionError> {
            self.log
                .lock()
                .unwrap()
                .push(format!("check {}", self.name));
            if self.name.contains("refuse") {
                return Err(ActionError::Refused("changed since the plan".into()));
            }
            Ok(serde_json::json!({ "was": self.name }))
        }
        fn apply(&self, _a: &mut dyn Actuator, id: &str, b: &Value) -> Result<Value, ActionError> {
            assert_eq!(b["was"], self.name.as_str());
            self.log
                .lock()
                .unwrap()
                .push(format!("apply {} {id}", self.name));
            if self.name.contains("fail") {
                return Err(ActionError::Failed("broke".into()));
            }
            Ok(serde_json::json!({ "now": self.name }))
        }
        fn undo(
            &self,
            _a: &mut dyn Actuator,
            id: &str,
            b: &Value,
            af: &Value,
        ) -> Result<(), ActionError> {
            assert_eq!(b["was"], self.name.as_str());
            self.log
                .lock()
                .unwrap()
                .push(format!("undo {} {id} {}", self.name, af["now"]));
            if self.name.contains("occupied") {
                return Err(ActionError::Refused("the original path is occupied".into()));
            }
            Ok(())
        }
        fn needs_confirmation(&self) -> bool {
            self.name.contains("confirm")
        }
    }

    struct FakeHooks {
        log: Log,
        ledger_fails: bool,
    }

    impl Hooks for FakeHooks {
        fn action(&mut self, step: &Step, _p: &Places) -> Box<dyn Action> {
            Box::new(Fake {
                name: name_of(step),
                log: self.log.clone(),
            })
        }
        fn recorded(&mut self, rec: &Record) -> Result<(), String> {
            self.log.lock().unwrap().push(format!(
                "ledger {} {} {}",
                name_of(&rec.step),
                rec.state.name(),
                rec.id
            ));
            if self.ledger_fails {
                return Err("disk full".into());
            }
            Ok(())
        }
        fn confirm(&mut self, action: &dyn Action, _rec: &Record) -> Result<(), ActionError> {
            self.log
                .lock()
                .unwrap()
                .push(format!("confirm {}", action.describe()));
            Err(ActionError::Failed("no fresh connection".into()))
        }
    }

    fn q(name: &str) -> Step {
        Step::Quarantine {
            path: name.into(),
            sha256: "00".repeat(32),
        }
    }

    fn setup() -> (tempfile::TempDir, Context, FakeHooks, Log) {
        let d = tempfile::tempdir().unwrap();
        let ctx = Context {
            places: Places::new(d.path().to_str().unwrap()),
            examiner: "tester".into(),
            snapshot: Some(Snapshot {
                bundle: "b.zip".into(),
                sha256: "11".repeat(32),
            }),
            runtime: false,
        };
        let log: Log = Arc::default();
        let hooks = FakeHooks {
            log: log.clone(),
            ledger_fails: false,
        };
        (d, ctx, hooks, log)
    }

    fn take(log: &Log) -> Vec<String> {
        std::mem::take(&mut *log.lock().unwrap())
    }

    #[test]
    fn records_before_applying_continues_after_a_refusal_and_is_idempotent() {
        let (_d, ctx, mut hooks, log) = setup();
        let a: &mut dyn Actuator = &mut LocalActuator::new();
        let plan = Plan {
            host: a.host().into(),
            steps: vec![q("one"), q("refuse"), q("fail"), q("two")],
        };
        let out = apply(&plan, a, &ctx, &mut hooks).unwrap();
        assert!(matches!(out[0], Outcome::Done { .. }));
        assert!(
            matches!(&out[1], Outcome::Failed { reason, .. } if reason.contains("changed since the plan"))
        );
        assert!(matches!(&out[2], Outcome::Failed { reason, .. } if reason.contains("broke")));
        assert!(matches!(out[3], Outcome::Done { .. }));
        let calls = take(&log);
        let pos = |p: &str| calls.iter().position(|c| c.starts_with(p)).unwrap();
        // The ledger hears of `applying` after the check and before the change.
        assert!(pos("check one") < pos("ledger one applying"));
        assert!(pos("ledger one applying") < pos("apply one"));
        assert!(pos("apply one") < pos("ledger one applied"));
        assert!(!calls.iter().any(|c| c.starts_with("apply refuse")));
        assert!(pos("ledger refuse failed") < pos("check fail"));

        let store = Store::new(&ctx.places);
        let l = store.list(a).unwrap();
        assert!(l.problems.is_empty());
        let states: Vec<&str> = l.records.iter().map(|r| r.state.name()).collect();
        assert_eq!(states, ["applied", "failed", "failed", "applied"]);
        let one = &l.records[0];
        assert_eq!(one.before["was"], "one");
        assert_eq!(one.after["now"], "one");
        assert_eq!(one.examiner, "tester");
        assert_eq!(one.snapshot.as_ref().unwrap().bundle, "b.zip");
        assert_eq!(one.plan_id, plan.id());
        let h = store.history(a, &one.id).unwrap();
        assert_eq!(
            h.iter().map(|r| r.state.name()).collect::<Vec<_>>(),
            ["applying", "applied"]
        );
        assert!(h[1].time_of("applying").unwrap() <= h[1].time_of("applied").unwrap());

        // The same plan again: applied steps are skipped, a refused one is tried again, one
        // that failed part-way must be restored first.
        let again = apply(&plan, a, &ctx, &mut hooks).unwrap();
        assert_eq!(again[0], Outcome::AlreadyDone { id: one.id.clone() });
        assert!(again[1].failed());
        assert!(
            matches!(&again[2], Outcome::Failed { reason, .. } if reason.contains("restore")),
            "{again:?}"
        );
        assert!(matches!(again[3], Outcome::AlreadyDone { .. }));
        let calls = take(&log);
        assert!(calls.iter().any(|c| c == "check refuse"), "{calls:?}");
        assert!(
            !calls
                .iter()
                .any(|c| c.starts_with("apply") || c == "check fail"),
            "{calls:?}"
        );

        // Restore undoes what was applied (and what failed part-way), newest first, once.
        let r = restore(a, &ctx.places, &Selection::All, "tester", &mut hooks).unwrap();
        assert_eq!(r.len(), 3);
        assert!(r.iter().all(|(_, o)| matches!(o, Outcome::Done { .. })));
        let calls = take(&log);
        let undos: Vec<&String> = calls.iter().filter(|c| c.starts_with("undo")).collect();
        assert!(
            undos[0].starts_with("undo two")
                && undos[1].starts_with("undo fail")
                && undos[2].starts_with("undo one"),
            "{undos:?}"
        );
        assert!(undos[1].ends_with(" null"), "no state after: {undos:?}");
        assert!(
            undos[2].ends_with("\"one\""),
            "undo gets the state after: {undos:?}"
        );
        assert!(
            restore(a, &ctx.places, &Selection::All, "tester", &mut hooks)
                .unwrap()
                .is_empty()
        );
        let r = restore(
            a,
            &ctx.places,
            &Selection::Ids(vec![one.id.clone(), "nope".into()]),
            "tester",
            &mut hooks,
        )
        .unwrap();
        assert_eq!(r[0].1, Outcome::AlreadyDone { id: one.id.clone() });
        assert!(r[1].1.failed());
        let h = store.history(a, &one.id).unwrap();
        assert_eq!(
            h.iter().map(|r| r.state.name()).collect::<Vec<_>>(),
            ["applying", "applied", "restoring", "restored"]
        );
    }

    #[test]
    fn a_refused_restore_is_recorded_and_a_dependent_step_not_tried() {
        let (_d, ctx, mut hooks, log) = setup();
        let a: &mut dyn Actuator = &mut LocalActuator::new();
        let suspend = Step::Suspend {
            pid: 1,
            start_time: 5,
            exe_sha256: None,
        };
        let kill = Step::Kill {
            pid: 1,
            start_time: 5,
            exe_sha256: None,
        };
        let plan = Plan {
            host: "h".into(),
            steps: vec![q("refuse"), q("occupied"), q("confirm")],
        };
        let out = apply(&plan, a, &ctx, &mut hooks).unwrap();
        assert!(out[0].failed());
        assert!(matches!(out[1], Outcome::Done { .. }));
        assert!(
            matches!(&out[2], Outcome::Failed { reason, .. } if reason.contains("not confirmed"))
        );
        assert!(take(&log).iter().any(|c| c == "confirm confirm"));
        let r = restore(a, &ctx.places, &Selection::All, "tester", &mut hooks).unwrap();
        // The unconfirmed one (failed after `applying`) is undone too, newest first.
        assert_eq!(r.len(), 2);
        assert!(matches!(r[0].1, Outcome::Done { .. }));
        assert!(matches!(&r[1].1, Outcome::Failed { reason, .. } if reason.contains("occupied")));
        let l = Store::new(&ctx.places).list(a).unwrap();
        assert_eq!(l.records[1].state.name(), "restore_failed");
        assert_eq!(l.records[2].state.name(), "restored");
        // Restore may be tried again after a refusal.
        assert_eq!(
            restore(a, &ctx.places, &Selection::All, "tester", &mut hooks)
                .unwrap()
                .len(),
            1
        );

        // A kill whose suspension failed is not even checked.
        take(&log);
        let plan = Plan {
            host: "h".into(),
            steps: vec![suspend, kill],
        };
        // The fakes refuse by name: "suspend" is not refused, so make the hooks refuse it.
        let mut refusing = FakeHooks {
            log: log.clone(),
            ledger_fails: false,
        };
        let out = apply(&plan, a, &ctx, &mut RefuseSuspend(&mut refusing)).unwrap();
        assert!(out[0].failed());
        assert!(
            matches!(&out[1], Outcome::Failed { reason, .. } if reason.contains("needs the suspend step"))
        );
        assert!(!take(&log).iter().any(|c| c == "check kill"));
    }

    struct RefuseSuspend<'a>(&'a mut FakeHooks);

    impl Hooks for RefuseSuspend<'_> {
        fn action(&mut self, step: &Step, p: &Places) -> Box<dyn Action> {
            let name = if step.kind() == "suspend" {
                "refuse suspend"
            } else {
                step.kind()
            };
            let _ = p;
            Box::new(Fake {
                name: name.into(),
                log: self.0.log.clone(),
            })
        }
        fn recorded(&mut self, rec: &Record) -> Result<(), String> {
            self.0.recorded(rec)
        }
        fn confirm(&mut self, action: &dyn Action, rec: &Record) -> Result<(), ActionError> {
            self.0.confirm(action, rec)
        }
    }

    #[test]
    fn a_ledger_that_cannot_record_stops_the_run_before_the_change() {
        let (_d, ctx, mut hooks, log) = setup();
        hooks.ledger_fails = true;
        let a: &mut dyn Actuator = &mut LocalActuator::new();
        let plan = Plan {
            host: "h".into(),
            steps: vec![q("one"), q("two")],
        };
        assert!(matches!(
            apply(&plan, a, &ctx, &mut hooks),
            Err(EngineError::Ledger { .. })
        ));
        let calls = take(&log);
        assert!(
            !calls
                .iter()
                .any(|c| c.starts_with("apply") || c.contains("two")),
            "{calls:?}"
        );
        let l = Store::new(&ctx.places).list(a).unwrap();
        assert_eq!(l.records.len(), 1);
        assert!(
            l.records[0]
                .state
                .reason()
                .unwrap()
                .contains("could not record")
        );
    }

    #[test]
    fn a_runtime_plan_is_recorded_and_restored_in_the_runtime_folder_only() {
        let (d, mut ctx, mut hooks, log) = setup();
        let state = d.path().join("state");
        let run = d.path().join("run");
        ctx.places = Places::new(state.to_str().unwrap()).with_runtime_dir(run.to_str().unwrap());
        ctx.runtime = true;
        let a: &mut dyn Actuator = &mut LocalActuator::new();
        let plan = Plan {
            host: "h".into(),
            steps: vec![q("one")],
        };
        let out = apply(&plan, a, &ctx, &mut hooks).unwrap();
        let Outcome::Done { id } = &out[0] else {
            panic!("{out:?}")
        };
        assert!(
            !state.exists(),
            "something was written under the state folder"
        );
        assert!(run.join("actions").join(format!("{id}.2.json")).is_file());
        // Applied again (by a plan that is not --runtime): already done, wherever recorded.
        ctx.runtime = false;
        assert_eq!(
            apply(&plan, a, &ctx, &mut hooks).unwrap()[0],
            Outcome::AlreadyDone { id: id.clone() }
        );
        let r = restore(a, &ctx.places, &Selection::All, "tester", &mut hooks).unwrap();
        assert_eq!(r, vec![(id.clone(), Outcome::Done { id: id.clone() })]);
        assert!(run.join("actions").join(format!("{id}.4.json")).is_file());
        assert!(!state.exists());
        assert!(take(&log).iter().any(|c| c.starts_with("undo one")));
    }

    #[test]
    fn plan_ids_are_stable() {
        let p = Plan {
            host: "h".into(),
            steps: vec![q("a")],
        };
        assert_eq!(p.id(), p.clone().id());
        assert_eq!(p.id().len(), 16);
        assert_ne!(
            p.id(),
            Plan {
                host: "h2".into(),
                steps: vec![q("a")]
            }
            .id()
        );
    }
}
