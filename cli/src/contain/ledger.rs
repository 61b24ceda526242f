//! The case ledger side of containment: each transition of an action record is appended to
//! the output directory's `custody.jsonl` (`action_applying`, `action_applied`,
//! `action_failed`, `action_restoring`, `action_restored`, `action_restore_failed`), naming
//! the snapshot bundle and the record, and the ledger's signed head is signed again after
//! each entry when `--sign` is given. The `applying` entry is written before the change.

use dossier_bundle::ledger::{self, Event};
use dossier_bundle::signature::SigningKey;
use dossier_contain::engine::Hooks;
use dossier_contain::record::Record;
use dossier_contain::store;
use dossier_contain::{Action, ActionError, LocalActuator, Step};
use std::path::PathBuf;
use std::sync::Arc;

/// Appends records to the ledger of `out`.
pub struct LedgerHooks {
    pub out: PathBuf,
    pub signer: Option<Arc<SigningKey>>,
    /// Who runs this command (the record keeps who applied the action).
    pub examiner: String,
    /// Opens a fresh connection to the target for a confirmation (an SSH target); `None`
    /// for this machine, where a new local actuator is the same as a new connection.
    pub fresh: Option<Fresh>,
}

/// Connects anew to the target a confirmation is for.
pub type Fresh = Box<dyn Fn() -> Result<dossier_remote::actuate::SshActuator, String>>;

/// The ledger's `detail` of one record transition (JSON, one line): the record's file and
/// the SHA-256 of its bytes on the host; for a kill, the exe and memory map hashes of each
/// process of the frozen tree (in the `applying` entry: before the kill).
pub fn detail(rec: &Record, examiner: &str) -> String {
    let record_sha256 = store::record_bytes(rec).ok().map(|b| {
        <sha2::Sha256 as sha2::Digest>::digest(&b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    });
    let mut d = serde_json::json!({
        "id": rec.id,
        "host": rec.host,
        "plan": rec.plan_id,
        "state": rec.state.name(),
        "reason": rec.state.reason(),
        "step": rec.step,
        "examiner": examiner,
        "record": format!("{}.{}.json", rec.id, rec.seq),
        "record_sha256": record_sha256,
    });
    if let (Step::Kill { .. }, Some(procs)) = (&rec.step, rec.before["processes"].as_array()) {
        let hashed: Vec<serde_json::Value> = procs
            .iter()
            .map(|p| {
                serde_json::json!({
                    "pid": p["pid"],
                    "start_time": p["start_time"],
                    "exe_sha256": p["exe_sha256"],
                    "maps_sha256": p["maps_sha256"],
                })
            })
            .collect();
        d["hashed"] = serde_json::json!(hashed);
    }
    if rec.runtime {
        d["runtime"] = serde_json::json!(true);
    }
    d.to_string()
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
        // A fresh connection to the target: it proves that a new session still gets in.
        let Some(connect) = &self.fresh else {
            // This machine: a new local actuator is the same as a new connection.
            return action.confirm(&mut LocalActuator::new(), &rec.id, &rec.after);
        };
        let mut fresh = connect().map_err(|e| {
            ActionError::Failed(format!("no fresh connection to confirm over: {e}"))
        })?;
        let r = action.confirm(&mut fresh, &rec.id, &rec.after);
        fresh.close();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_bundle::signature::{self, TrustedKey};
    use dossier_contain::record::{Snapshot, State, new_id};

    #[test]
    fn each_transition_is_a_chained_entry_and_the_signed_head_follows_it() {
        let d = tempfile::tempdir().unwrap();
        let keys = d.path().join("keys");
        std::fs::create_dir(&keys).unwrap();
        let k = signature::keygen(&keys, "pw").unwrap();
        let signer = SigningKey::load(&k.secret, "pw").unwrap();
        let trusted = vec![TrustedKey::load(&k.public).unwrap()];
        let out = d.path().join("case");
        std::fs::create_dir(&out).unwrap();
        let mut hooks = LedgerHooks {
            out: out.clone(),
            signer: Some(Arc::new(signer)),
            examiner: "ada".into(),
            fresh: None,
        };
        let step = Step::Quarantine {
            path: "/tmp/x".into(),
            sha256: "ab".repeat(32),
        };
        let mut rec = Record::new(new_id(), "h", "p", step, "ada", None);
        rec.snapshot = Some(Snapshot {
            bundle: "h-1.zip".into(),
            sha256: "cd".repeat(32),
        });
        for s in [State::Applying, State::Applied] {
            rec.enter(s);
            rec.seq += 1;
            hooks.recorded(&rec).unwrap();
            let head = signature::verify_ledger_head(&out, &trusted, None).unwrap();
            assert_eq!(head.unsigned_after, 0);
            assert_eq!(head.signed_lines, rec.seq as usize);
        }
        let entries = ledger::check(&out.join(ledger::LEDGER_NAME)).unwrap();
        let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["action_applying", "action_applied"]);
        assert_eq!(entries[0].bundle, "h-1.zip");
        let detail: serde_json::Value =
            serde_json::from_str(entries[1].detail.as_deref().unwrap()).unwrap();
        assert_eq!(detail["id"], rec.id.as_str());
        assert_eq!(detail["record"], format!("{}.2.json", rec.id));
        assert_eq!(detail["step"]["path"], "/tmp/x");
        let sha: String =
            <sha2::Sha256 as sha2::Digest>::digest(store::record_bytes(&rec).unwrap())
                .iter()
                .map(|x| format!("{x:02x}"))
                .collect();
        assert_eq!(detail["record_sha256"], sha.as_str());
        assert!(detail.get("hashed").is_none() && detail.get("runtime").is_none());
    }

    #[test]
    fn a_kill_entry_carries_the_hashes_taken_before_it() {
        let step = Step::Kill {
            pid: 42,
            start_time: 7,
            exe_sha256: None,
        };
        let mut rec = Record::new(new_id(), "h", "p", step, "ada", None);
        rec.runtime = true;
        rec.before = serde_json::json!({"pid": 42, "processes": [
            {"pid": 42, "start_time": 7, "exe_sha256": "aa", "maps_sha256": "bb", "maps": "long text"},
            {"pid": 43, "start_time": 8, "exe_sha256": "cc", "maps_sha256": "dd"}]});
        rec.enter(State::Applying);
        let d: serde_json::Value = serde_json::from_str(&detail(&rec, "ada")).unwrap();
        assert_eq!(
            d["hashed"],
            serde_json::json!([
                {"pid": 42, "start_time": 7, "exe_sha256": "aa", "maps_sha256": "bb"},
                {"pid": 43, "start_time": 8, "exe_sha256": "cc", "maps_sha256": "dd"}])
        );
        assert_eq!(d["runtime"], true);
    }
}
