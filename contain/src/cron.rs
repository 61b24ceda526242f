//! `neutralize cron` ([`Step::NeutralizeCron`](crate::Step)): comments out the exact planned
//! lines of a crontab (`/etc/crontab`, `/etc/cron.d/*`, a user crontab in the cron spool)
//! with the marker `# dossier-contained <id>: `, or quarantines a whole at job.
//!
//! Check: the file is a regular file and each planned line number holds exactly the planned
//! text (else refused: changed since the plan); the record keeps the whole file (bytes,
//! SHA-256, owner, mode, times). Apply writes the new content into a new file in a root-only
//! staging folder next to the crontab (same filesystem), gives it the original's owner and
//! mode, checks the original's hash once more and renames the new file over it: the one
//! place containment replaces a file. In a user spool (`/var/spool/cron/crontabs/USER`) the
//! owner (USER, group crontab, mode 0600) is kept the same way and the spool folder is
//! touched so cron rereads it. An at job (`/var/spool/cron/atjobs/*`) is not edited: the whole
//! job file is moved into the quarantine folder (atd no longer sees it), and moved back on
//! undo. Undo refuses unless the crontab is exactly what was written, then writes the
//! original bytes with the original owner, mode and times the same way and verifies them.

use crate::action::{Action, ActionError, CronLine};
use crate::actuator::Actuator;
use crate::keep::{self, FileRec, How, QUARANTINE_DIR};
use crate::ops;
use serde_json::Value;

/// Largest crontab read (its bytes are kept in the record).
pub const MAX_CRONTAB: u64 = 1 << 20;

/// The marker put before each neutralized line (followed by the action id and `: `).
pub const MARKER: &str = "# dossier-contained ";

/// Where the file kinds live on a target (fields other than defaults only in tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronPlaces {
    /// Quarantine folder (at jobs go to `<quarantine>/<id>/`).
    pub quarantine: String,
    /// Folders of user crontabs (Debian, SUSE, Red Hat).
    pub user_spools: Vec<String>,
    /// Folders of at jobs.
    pub at_spools: Vec<String>,
}

impl Default for CronPlaces {
    fn default() -> Self {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();
        CronPlaces {
            quarantine: QUARANTINE_DIR.into(),
            user_spools: v(&[
                "/var/spool/cron/crontabs",
                "/var/spool/cron/tabs",
                "/var/spool/cron",
            ]),
            at_spools: v(&["/var/spool/cron/atjobs", "/var/spool/at"]),
        }
    }
}

/// What kind of file a step changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CronKind {
    /// `/etc/crontab`, `/etc/cron.d/*` (lines commented out).
    System,
    /// A user crontab in the spool (lines commented out, spool folder touched).
    User,
    /// An at job (the whole file quarantined).
    AtJob,
}

/// The neutralization of cron lines of one file.
#[derive(Debug, Clone)]
pub struct NeutralizeCron {
    path: String,
    lines: Vec<CronLine>,
    places: CronPlaces,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Before {
    kind: CronKind,
    file: FileRec,
    lines: Vec<CronLine>,
    /// The whole original file, as text when it is UTF-8, else as hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    original_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    original_hex: Option<String>,
}

impl Before {
    fn original(&self) -> Result<Vec<u8>, ActionError> {
        match (&self.original_text, &self.original_hex) {
            (Some(t), _) => Ok(t.as_bytes().to_vec()),
            (None, Some(h)) => from_hex(h)
                .ok_or_else(|| ActionError::Failed("the record's original_hex is not hex".into())),
            (None, None) => Err(ActionError::Failed(
                "the record keeps no original content".into(),
            )),
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "done", rename_all = "snake_case")]
enum After {
    /// The crontab now has this content (lines commented out).
    Commented { written: FileRec },
    /// The at job was moved into quarantine.
    Quarantined { to: String, how: How },
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The lines of `data` (split at `\n`; a final newline does not start a line).
fn split_lines(data: &[u8]) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    if data.ends_with(b"\n") || data.is_empty() {
        v.pop();
    }
    v
}

/// `None` when every planned line is there with its text, else why not.
fn mismatch(data: &[u8], lines: &[CronLine]) -> Option<String> {
    let have = split_lines(data);
    for l in lines {
        let got = l.number.checked_sub(1).and_then(|i| have.get(i));
        match got {
            Some(g) if *g == l.text.as_bytes() => {}
            Some(g) => {
                return Some(format!(
                    "line {} is now {:?}, planned {:?}",
                    l.number,
                    String::from_utf8_lossy(g),
                    l.text
                ));
            }
            None => {
                return Some(format!(
                    "line {} is not there ({} lines)",
                    l.number,
                    have.len()
                ));
            }
        }
    }
    None
}

/// `data` with each planned line prefixed by the marker naming `id`.
fn comment_out(data: &[u8], lines: &[CronLine], id: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + lines.len() * 64);
    let marker = format!("{MARKER}{id}: ");
    for (i, seg) in data.split(|b| *b == b'\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        if lines.iter().any(|l| l.number == i + 1) {
            out.extend_from_slice(marker.as_bytes());
        }
        out.extend_from_slice(seg);
    }
    out
}

impl NeutralizeCron {
    /// The step for `path` and its planned lines, on a real target.
    pub fn new(path: &str, lines: Vec<CronLine>) -> NeutralizeCron {
        NeutralizeCron::with_places(path, lines, CronPlaces::default())
    }

    /// The same with other folders (tests).
    pub fn with_places(path: &str, lines: Vec<CronLine>, places: CronPlaces) -> NeutralizeCron {
        NeutralizeCron {
            path: path.into(),
            lines,
            places,
        }
    }

    fn kind(&self) -> CronKind {
        let dir = keep::parent(&self.path);
        if self.places.at_spools.iter().any(|d| d == dir) {
            CronKind::AtJob
        } else if self.places.user_spools.iter().any(|d| d == dir) {
            CronKind::User
        } else {
            CronKind::System
        }
    }

    fn staging(&self, id: &str) -> String {
        format!("{}/.dossier-staging-{id}", keep::parent(&self.path))
    }

    /// Writes `data` into a new file in the staging folder with `meta`'s owner and mode (and
    /// times when `times`), checks the file at `self.path` still has `expect` as SHA-256, and
    /// renames the new file over it.
    fn replace(
        &self,
        a: &mut dyn Actuator,
        id: &str,
        data: &[u8],
        meta: &ops::Meta,
        times: bool,
        expect: &str,
    ) -> Result<(), ActionError> {
        let stage = self.staging(id);
        ops::mkdir_private(a, &stage)?;
        let staged = format!("{stage}/{}", keep::base(&self.path));
        let r = self.replace_in(a, &staged, data, meta, times, expect);
        let _ = a.run(&["/bin/rm", "-f", "--", &staged], b"", ops::OP_TIMEOUT);
        let _ = a.run(&["/bin/rmdir", "--", &stage], b"", ops::OP_TIMEOUT);
        r
    }

    fn replace_in(
        &self,
        a: &mut dyn Actuator,
        staged: &str,
        data: &[u8],
        meta: &ops::Meta,
        times: bool,
        expect: &str,
    ) -> Result<(), ActionError> {
        ops::write_new(a, staged, data, 0o600)?;
        let written = ops::sha256(a, staged)?;
        if written != keep::sha256_of(data) {
            return Err(ActionError::Failed(format!(
                "{staged}: written content has SHA-256 {written}, not the one sent"
            )));
        }
        if times {
            keep::set_meta(a, staged, meta)?;
        } else {
            let owner = format!("{}:{}", meta.uid, meta.gid);
            let mode = format!("{:o}", meta.mode);
            ops::run_ok(
                a,
                "chown",
                staged,
                &["/bin/chown", "-h", &owner, "--", staged],
                b"",
            )?;
            ops::run_ok(
                a,
                "chmod",
                staged,
                &["/bin/chmod", &mode, "--", staged],
                b"",
            )?;
        }
        // Right before the rename: the file is still the one the record describes.
        let now = ops::sha256(a, &self.path)?;
        if now != expect {
            return Err(ActionError::Refused(format!(
                "{} changed meanwhile (SHA-256 {now}, expected {expect}): not replaced",
                self.path
            )));
        }
        ops::run_ok(
            a,
            "replace",
            &self.path,
            &["/bin/mv", "-f", "-T", "--", staged, &self.path],
            b"",
        )?;
        Ok(())
    }

    fn touch_spool(&self, a: &mut dyn Actuator) -> Result<(), ActionError> {
        if self.kind() == CronKind::User {
            let dir = keep::parent(&self.path);
            ops::run_ok(a, "touch", dir, &["/bin/touch", "-c", "--", dir], b"")?;
        }
        Ok(())
    }
}

fn before_of(v: &Value) -> Result<Before, ActionError> {
    serde_json::from_value(v.clone())
        .map_err(|e| ActionError::Failed(format!("unreadable cron record: {e}")))
}

impl Action for NeutralizeCron {
    fn describe(&self) -> String {
        let nums: Vec<String> = self.lines.iter().map(|l| l.number.to_string()).collect();
        match self.kind() {
            CronKind::AtJob => format!(
                "neutralize at job {}: move the whole job file into {}/<id>/ (mode 000)",
                self.path, self.places.quarantine
            ),
            CronKind::User | CronKind::System => format!(
                "neutralize cron {}: comment out line(s) {} with \"{MARKER}<id>: \" ({})",
                self.path,
                nums.join(", "),
                self.lines
                    .iter()
                    .map(|l| format!("{}: {:?}", l.number, l.text))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        }
    }

    fn check(&self, a: &mut dyn Actuator) -> Result<Value, ActionError> {
        let kind = self.kind();
        if self.lines.is_empty() && kind != CronKind::AtJob {
            return Err(ActionError::Refused(format!(
                "{}: no lines planned (a whole cron.d file is a quarantine step)",
                self.path
            )));
        }
        let meta = match ops::lstat(a, &self.path)? {
            Some(m) if m.kind == ops::Kind::Regular => m,
            Some(m) => {
                return Err(ActionError::Refused(format!(
                    "{} is not a regular file ({:?})",
                    self.path, m.kind
                )));
            }
            None => return Err(ActionError::Refused(format!("{} is not there", self.path))),
        };
        let data = ops::read(a, &self.path, MAX_CRONTAB)?;
        // The hash of exactly the bytes kept (apply and undo compare the file with it).
        let sha256 = keep::sha256_of(&data);
        if let Some(why) = mismatch(&data, &self.lines) {
            return Err(ActionError::Refused(format!(
                "{} changed since the plan: {why}",
                self.path
            )));
        }
        let (original_text, original_hex) = match String::from_utf8(data) {
            Ok(t) => (Some(t), None),
            Err(e) => (None, Some(to_hex(e.as_bytes()))),
        };
        let b = Before {
            kind,
            file: FileRec {
                path: self.path.clone(),
                sha256,
                meta,
            },
            lines: self.lines.clone(),
            original_text,
            original_hex,
        };
        serde_json::to_value(b).map_err(|e| ActionError::Failed(e.to_string()))
    }

    fn apply(&self, a: &mut dyn Actuator, id: &str, before: &Value) -> Result<Value, ActionError> {
        keep::check_id(id)?;
        let b = before_of(before)?;
        let after = if b.kind == CronKind::AtJob {
            let dir = format!("{}/{id}", self.places.quarantine);
            ops::mkdir_private(a, &dir)?;
            let to = format!("{dir}/atjob-{}", keep::base(&self.path));
            let how = keep::move_out(a, &b.file, &to)?;
            After::Quarantined { to, how }
        } else {
            let original = b.original()?;
            let new = comment_out(&original, &b.lines, id);
            self.replace(a, id, &new, &b.file.meta, false, &b.file.sha256)?;
            self.touch_spool(a)?;
            After::Commented {
                written: FileRec::read(a, &self.path)?,
            }
        };
        serde_json::to_value(after).map_err(|e| ActionError::Failed(e.to_string()))
    }

    fn undo(
        &self,
        a: &mut dyn Actuator,
        id: &str,
        before: &Value,
        after: &Value,
    ) -> Result<(), ActionError> {
        keep::check_id(id)?;
        let b = before_of(before)?;
        let af: After = serde_json::from_value(after.clone())
            .map_err(|e| ActionError::Failed(format!("unreadable cron record: {e}")))?;
        match af {
            After::Quarantined { to, .. } => {
                keep::move_back(a, &b.file, &to)?;
                let dir = format!("{}/{id}", self.places.quarantine);
                let _ = a.run(&["/bin/rmdir", "--", &dir], b"", ops::OP_TIMEOUT);
                Ok(())
            }
            After::Commented { written } => {
                let now = match ops::lstat(a, &self.path)? {
                    Some(m) if m.kind == ops::Kind::Regular => ops::sha256(a, &self.path)?,
                    _ => String::from("(not a regular file)"),
                };
                if now != written.sha256 {
                    return Err(ActionError::Refused(format!(
                        "{} changed since it was neutralized (SHA-256 {now}, written {}): \
                         not overwritten",
                        self.path, written.sha256
                    )));
                }
                let original = b.original()?;
                let got = keep::sha256_of(&original);
                if got != b.file.sha256 {
                    return Err(ActionError::Failed(format!(
                        "the record's original content has SHA-256 {got}, recorded {}",
                        b.file.sha256
                    )));
                }
                self.replace(a, id, &original, &b.file.meta, true, &written.sha256)?;
                keep::verify_meta(a, &self.path, &b.file.meta)?;
                self.touch_spool(a)
            }
        }
    }
}

#[cfg(test)]
#[path = "cron_tests.rs"]
mod tests;
