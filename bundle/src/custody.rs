//! The whole check of one bundle as `dossier verify` makes it: the bundle itself (see
//! [`crate::reader::verify`]), with trusted keys its signature and the signed head of the
//! custody ledger, and the ledger's chain and the bundle's `created` entry. What is wrong is
//! added to the [`Verification`]'s problems; nothing is written (recording the outcome in the
//! ledger is the caller's). The command and the flip test (tests/tests/e2e/flip.rs) both
//! call [`check`], so the test measures what the command does.

use crate::ledger::{self, LedgerBeside};
use crate::reader::{self, Limits, Problem, Verification};
use crate::signature::{self, LedgerHead, SignError, Signed, TrustedKey};
use std::path::Path;

/// What to check besides the bundle.
#[derive(Debug, Clone, Copy)]
pub struct Checks<'k> {
    /// Trusted public keys: when any, the bundle's signature is checked (a missing one fails).
    pub keys: &'k [TrustedKey],
    /// Check the custody ledger beside the bundle (not `--no-ledger`).
    pub ledger: bool,
    /// `--require-signature`: only changes how a missing signature is worded (with keys, a
    /// missing signature always fails).
    pub require_signature: bool,
    /// Identities that decrypt an encrypted bundle (`--identity`): without one, only the
    /// encrypted file is checked, not its contents.
    pub identities: &'k crate::crypt::Identities,
}

/// The outcome of [`check`].
#[derive(Debug)]
pub struct Checked {
    /// The bundle's verification, with every problem found (signature and ledger included).
    pub verification: Verification,
    /// The good signature and, unless `--no-ledger`, the good ledger head.
    pub signed: Option<(Signed, Option<LedgerHead>)>,
    /// The custody ledger beside the bundle (`Missing` with `ledger: false`).
    pub ledger: LedgerBeside,
}

/// Checks one bundle (see the module documentation).
pub fn check(path: &Path, limits: &Limits, checks: &Checks<'_>) -> Checked {
    let mut v = reader::verify_with(path, limits, checks.identities);
    let signed = check_signature(path, checks, &mut v);
    let ledger = if checks.ledger {
        ledger::check_ledger(path, &mut v)
    } else {
        LedgerBeside::Missing
    };
    Checked {
        verification: v,
        signed,
        ledger,
    }
}

/// With keys: the bundle's signature and, unless `--no-ledger`, the ledger's signed head,
/// which must exist beside a signed bundle (signing wrote it) and hold the bundle's `signed`
/// entry. A missing or bad one is a problem of `v`.
fn check_signature(
    path: &Path,
    checks: &Checks<'_>,
    v: &mut Verification,
) -> Option<(Signed, Option<LedgerHead>)> {
    if checks.keys.is_empty() {
        return None;
    }
    let checked = signature::verify_bundle(path, checks.keys).and_then(|s| {
        if !checks.ledger {
            return Ok((s, None));
        }
        let name = ledger::bundle_name(path);
        let head =
            signature::verify_ledger_head(ledger::bundle_dir(path), checks.keys, Some(&name))?;
        Ok((s, Some(head)))
    });
    match checked {
        Ok((s, head)) => {
            // The signature was checked on a second read of the file: the bytes it covers
            // must be those the first read verified (a file swapped in between is caught).
            if v.sha256.as_deref() != Some(s.sha256.as_str()) {
                v.problems.push(Problem {
                    subject: "signature".into(),
                    message: format!(
                        "the signed bundle has SHA-256 {}, the bundle verified has {}: the file changed while it was verified",
                        s.sha256,
                        v.sha256.as_deref().unwrap_or("?")
                    ),
                });
            }
            let claimed = v
                .manifest
                .as_ref()
                .and_then(|m| m.collection.signer_key_id.as_deref());
            if let Some(claimed) = claimed.filter(|c| *c != s.key_id) {
                v.problems.push(Problem {
                    subject: "signature".into(),
                    message: format!(
                        "the manifest says key {claimed} signed the bundle, but its signature is by key {}",
                        s.key_id
                    ),
                });
            }
            Some((s, head))
        }
        Err(e) => {
            let message = match (&e, checks.require_signature) {
                (SignError::Missing { .. }, true) => format!("{e} (--require-signature)"),
                _ => e.to_string(),
            };
            v.problems.push(Problem {
                subject: "signature".into(),
                message,
            });
            None
        }
    }
}
