//! The first stage of analysis: open a bundle, verify it (whole-file and per-member SHA-256,
//! manifest) and check it against the custody ledger beside it. A bundle that fails either is
//! refused with a short reason (for the ledger) and the full one (for the reports). An
//! encrypted bundle is decrypted as it is read with the `--identity` keys, or refused.

use dossier_bundle::crypt::Identities;
use dossier_bundle::ledger::{self, Beside};
use dossier_bundle::reader::{Bundle, Limits, OpenError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The custody ledger of each bundle directory (`None`: there is none).
pub type Ledgers = HashMap<PathBuf, Option<Beside>>;

/// Why a bundle is refused: a short reason for the custody ledger, and the full one.
pub type Refusal = (&'static str, String);

/// Opens and verifies a bundle and checks it against its custody ledger (if any): the bundle,
/// or why it is refused (a short reason for the ledger, and the full one).
pub fn open_checked(
    path: &Path,
    custody: Option<&Beside>,
    limits: &Limits,
    identities: &Identities,
) -> Result<Bundle, Refusal> {
    open_checked_as(path, custody, limits, identities, false)
}

/// [`open_checked`] for the analysis: the imported events of an import bundle
/// (`records/events.jsonl`, when too large to keep) are checked as the events stage reads
/// them ([`Bundle::open_streaming`]: inflated and hashed once, not twice), which must then
/// refuse the bundle if they differ from its manifest.
pub(crate) fn open_checked_streaming(
    path: &Path,
    custody: Option<&Beside>,
    limits: &Limits,
    identities: &Identities,
) -> Result<Bundle, Refusal> {
    open_checked_as(path, custody, limits, identities, true)
}

fn open_checked_as(
    path: &Path,
    custody: Option<&Beside>,
    limits: &Limits,
    identities: &Identities,
    stream_events: bool,
) -> Result<Bundle, Refusal> {
    let name = ledger::bundle_name(path);
    let streamed: &[&str] = if stream_events {
        &[super::events::EVENTS_MEMBER]
    } else {
        &[]
    };
    // Any other bundle's member of that name is checked here.
    let opened =
        Bundle::open_streaming(path, limits, identities, streamed).and_then(|(mut b, _)| {
            if super::events::is_import(&b) {
                return Ok(b);
            }
            b.verify_deferred().map(|_| b).map_err(|e| OpenError::Read {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
        });
    match opened {
        Err(e @ OpenError::Encrypted { .. }) => Err(("encrypted, no identity", e.to_string())),
        Err(e) => Err(("failed verification", e.to_string().replace('\n', " "))),
        Ok(b) => {
            let problems = custody.map_or_else(Vec::new, |l| l.problems(&name, Some(&b.sha256)));
            if problems.is_empty() {
                Ok(b)
            } else {
                Err((
                    "custody ledger check failed",
                    format!(
                        "{}: custody ledger: {}",
                        path.display(),
                        problems
                            .iter()
                            .map(|p| p.message.as_str())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                ))
            }
        }
    }
}

/// The custody ledger beside `path` (noted once per directory when there is none).
pub fn custody_of<'l>(ledgers: &'l mut Ledgers, path: &Path) -> Option<&'l Beside> {
    ledgers
        .entry(ledger::bundle_dir(path).to_path_buf())
        .or_insert_with(|| {
            let l = Beside::of(path);
            if l.is_none() {
                eprintln!(
                    "dossier: note: no custody ledger beside {}: analyses of bundles in that directory are not recorded",
                    path.display()
                );
            }
            l
        })
        .as_ref()
}

/// Each directory's ledger as it is before a run appends to it (read before the workers
/// start; they only read it), in bundle order.
pub(crate) fn ledgers_of(order: &[&PathBuf]) -> Ledgers {
    let mut ledgers = Ledgers::new();
    for path in order {
        custody_of(&mut ledgers, path);
    }
    ledgers
}

/// The custody ledger of `path` already read into `ledgers`.
pub(crate) fn custody_in<'l>(ledgers: &'l Ledgers, path: &Path) -> Option<&'l Beside> {
    ledgers
        .get(ledger::bundle_dir(path))
        .and_then(Option::as_ref)
}
