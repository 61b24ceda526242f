//! The case ledger side of containment: each transition of an action record is appended to
//! the output directory's `custody.jsonl` (`action_applying`, `action_applied`,
//! `action_failed`, `action_restoring`, `action_restored`, `action_restore_failed`), naming
//! the snapshot bundle and the record, and the ledger's signed head is signed again after
//! each entry when `--sign` is given. The `applying` entry is written before the change.

use dossier_bundle::ledger::{self, Event};
use dossier_bundle::signature::SigningKey;
use dossier_contain::engine::Hooks;
use dossier_contain::record::Record;
use dossier_contain::{Action, ActionError, LocalActuator};
use std::path::PathBuf;
use std::sync::Arc;

/// Appends records to the ledger of `out`.
pub struct LedgerHooks {
    pub out: PathBuf,
    pub signer: Option<Arc<SigningKey>>,
    /// Who runs this command (the record keeps who applied the action).
    pub examiner: String,
}

/// The ledger's `detail` of one record transition (JSON, one line).
pub fn detail(rec: &Record, examiner: &str) -> String {
    serde_json::json!({
        "id": rec.id,
        "host": rec.host,
        "plan": rec.plan_id,
        "state": rec.state.name(),
        "reason": rec.state.reason(),
        "step": rec.step,
        "examiner": examiner,
        "record": format!("{}.{}.json", rec.id, rec.seq),
    })
    .to_string()
}

impl Hooks for LedgerHooks {
    fn recorded(&mut self, rec: &Record) -> Result<(), String> {
        let action = format!("action_{}", rec.state.name());
        let snap = rec.snapshot.as_ref();
        let detail = detail(rec, &self.examiner);
        ledger::append(
            &self.out,
            &Event {
                action: &action,
                bundle: snap.map_or("", |s| s.bundle.as_str()),
                sha256: snap.map(|s| s.sha256.as_str()),
                detail: Some(&detail),
            },
        )
        .map_err(|e| e.to_string())?;
        if let Some(k) = &self.signer {
            k.sign_ledger_head(&self.out).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn confirm(&mut self, action: &dyn Action, rec: &Record) -> Result<(), ActionError> {
        // A fresh actuator: for this machine, the same as a new connection.
        let mut fresh = LocalActuator::new();
        action.confirm(&mut fresh, &rec.id, &rec.after)
    }
}
