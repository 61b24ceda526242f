//! What verification found: the problems of a bundle, each naming what it concerns.

use crate::manifest::Manifest;
use std::path::PathBuf;

/// One thing wrong with a bundle.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// What it concerns: `bundle`, `sidecar`, `manifest`, or a member name.
    pub subject: String,
    pub message: String,
}

/// The outcome of [`verify`](super::verify()).
#[derive(Debug)]
pub struct Verification {
    pub path: PathBuf,
    /// SHA-256 of the bundle file as read now.
    pub sha256: Option<String>,
    pub size: u64,
    pub members_checked: usize,
    pub manifest: Option<Manifest>,
    pub problems: Vec<Problem>,
    /// Whether the bundle file is encrypted (age), and whether its contents were checked.
    pub encryption: Encryption,
}

/// Whether a bundle file is encrypted to recipients, and whether it was decrypted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Encryption {
    /// A plain zip.
    #[default]
    None,
    /// Encrypted and decrypted with an identity: its contents were checked too.
    Decrypted,
    /// Encrypted, and no identity was given: only the file (sidecar, signature, ledger) was
    /// checked, not its contents.
    NotDecrypted,
}

impl Verification {
    /// No problem found.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    pub(crate) fn problem(&mut self, subject: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            subject: subject.into(),
            message: message.into(),
        });
    }
}
