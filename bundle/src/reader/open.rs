//! [`Bundle`]: a verified bundle opened for analysis, giving its records and members.

use super::archive::read_capped;
use super::deadline::Deadline;
use super::error::{MemberError, OpenError};
use super::kept::Kept;
use super::limits::Limits;
use super::outcome::{Encryption, Verification};
use super::source::Source;
use super::verify::verify_keeping;
use crate::crypt::Identities;
use crate::manifest::{Manifest, MemberEntry};
use dossier_plugin_api::encoding::hex;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use zip::ZipArchive;

/// A verified bundle opened for analysis.
pub struct Bundle {
    pub path: PathBuf,
    pub sha256: String,
    pub manifest: Manifest,
    pub(super) zip: ZipArchive<Source>,
    pub(super) index: HashMap<String, usize>,
    /// Verified content kept from verification (see [`Kept`]).
    pub(super) kept: HashMap<String, Vec<u8>>,
    /// What [`Bundle::records`] may still load: (bytes, values).
    pub(super) record_budget: (u64, u64),
    /// Members whose content was not checked yet ([`Bundle::open_streaming`]).
    pub(super) deferred: Vec<String>,
    /// A second reader of the bundle's bytes, for [`Bundle::spawn_deferred`].
    reopen: Option<Source>,
}

impl Bundle {
    /// Verifies a bundle and opens it. Refuses any bundle that does not verify.
    ///
    /// The archive analysed is the one verification read, on the same open file, and the
    /// content of records and small members is kept from verification (each checked against
    /// the manifest's SHA-256 there), so they are decompressed and hashed once.
    pub fn open(path: &Path, limits: &Limits) -> Result<(Bundle, Verification), OpenError> {
        Self::open_with(path, limits, &Identities::none())
    }

    /// [`Bundle::open`], decrypting an encrypted bundle with one of `identities` as it is
    /// read (never to disk). An encrypted bundle without an identity is refused
    /// ([`OpenError::Encrypted`]).
    pub fn open_with(
        path: &Path,
        limits: &Limits,
        identities: &Identities,
    ) -> Result<(Bundle, Verification), OpenError> {
        Self::open_streaming(path, limits, identities, &[])
    }

    /// [`Bundle::open_with`], where the `streamed` members that are too large to keep (64
    /// MiB) are checked as the caller reads them, not before: verification checks their
    /// declared sizes only, and [`Bundle::member_lines`] inflates and hashes them once, then
    /// fails if they differ from the manifest. The caller must read each of them to its end
    /// with [`Bundle::member_lines`], or call [`Bundle::verify_deferred`], and discard what it
    /// made of a member that then fails; [`Bundle::deferred`] lists those not checked yet.
    pub fn open_streaming(
        path: &Path,
        limits: &Limits,
        identities: &Identities,
        streamed: &[&str],
    ) -> Result<(Bundle, Verification), OpenError> {
        Self::open_kept(
            path,
            limits,
            identities,
            Kept::new(limits).streaming(streamed),
        )
    }

    /// Opens with `kept` saying what to keep and defer.
    pub(super) fn open_kept(
        path: &Path,
        limits: &Limits,
        identities: &Identities,
        mut kept: Kept,
    ) -> Result<(Bundle, Verification), OpenError> {
        let (mut v, zip) = verify_keeping(path, limits, identities, Some(&mut kept));
        if v.ok() && v.encryption == Encryption::NotDecrypted {
            return Err(OpenError::Encrypted {
                path: path.to_path_buf(),
            });
        }
        if !v.ok() {
            return Err(OpenError::Unverified {
                path: path.to_path_buf(),
                problems: v.problems,
            });
        }
        let read = |message: String| OpenError::Read {
            path: path.to_path_buf(),
            message,
        };
        let mut zip = zip.ok_or_else(|| read("no archive".into()))?;
        let mut index = HashMap::new();
        for i in 0..zip.len() {
            let f = zip.by_index_raw(i).map_err(|e| read(e.to_string()))?;
            let name = f.name().map_err(|e| read(e.to_string()))?.to_string();
            index.insert(name, i);
        }
        let manifest = v
            .manifest
            .take()
            .ok_or_else(|| read("no manifest".into()))?;
        let sha256 = v.sha256.clone().unwrap_or_default();
        Ok((
            Bundle {
                path: path.to_path_buf(),
                sha256,
                manifest,
                zip,
                index,
                kept: kept.members,
                record_budget: (limits.max_record_bytes, limits.max_record_values),
                deferred: kept.deferred,
                reopen: kept.reopen,
            },
            v,
        ))
    }

    /// The members whose content is not checked yet (see [`Bundle::open_streaming`]).
    pub fn deferred(&self) -> &[String] {
        &self.deferred
    }

    /// Inflates and hashes every member not checked yet (see [`Bundle::open_streaming`]):
    /// the first that differs from the manifest is the error.
    pub fn verify_deferred(&mut self) -> Result<(), MemberError> {
        while let Some(name) = self.deferred.first().cloned() {
            self.check_streamed(&name, std::io::sink())?;
        }
        Ok(())
    }

    /// Checks the deferred members but `except` (see [`Bundle::open_streaming`]) on a thread
    /// of its own, over a second reader of the same bytes (the same open file, or the bytes
    /// in memory), while the caller reads `except`: they are no longer [`Bundle::deferred`],
    /// and the caller must join the thread, whose error is the first member that differs
    /// from the manifest. None when there is nothing to check there (or no second reader:
    /// an encrypted bundle's deferred members stay deferred).
    #[must_use = "the deferred members are checked only when the thread is joined"]
    pub fn spawn_deferred(
        &mut self,
        except: &str,
    ) -> Option<std::thread::JoinHandle<Result<(), MemberError>>> {
        let names: Vec<String> = self
            .deferred
            .iter()
            .filter(|d| *d != except)
            .cloned()
            .collect();
        if names.is_empty() {
            return None;
        }
        let source = self.reopen.take()?;
        let entries: Vec<MemberEntry> = names
            .iter()
            .filter_map(|n| self.member(n).cloned())
            .collect();
        if entries.len() != names.len() {
            self.reopen = Some(source);
            return None;
        }
        self.deferred.retain(|d| d == except);
        Some(std::thread::spawn(move || check_apart(source, &entries)))
    }

    /// The manifest entry of a member.
    pub fn member(&self, name: &str) -> Option<&MemberEntry> {
        self.manifest.members.iter().find(|m| m.name == name)
    }

    /// Reads a member whole (at most `cap` bytes), re-checking its SHA-256.
    pub fn read_member(&mut self, name: &str, cap: u64) -> Result<Vec<u8>, MemberError> {
        let entry = self
            .member(name)
            .ok_or_else(|| MemberError::NotListed {
                name: name.to_string(),
            })?
            .clone();
        if entry.size > cap {
            return Err(MemberError::TooLarge {
                name: name.to_string(),
                size: entry.size,
                cap,
            });
        }
        if let Some(data) = self.kept.get(name) {
            return Ok(data.clone());
        }
        let &i = self.index.get(name).ok_or_else(|| MemberError::Missing {
            name: name.to_string(),
        })?;
        let data =
            read_capped(&mut self.zip, i, entry.size, Deadline::none()).map_err(|message| {
                MemberError::Read {
                    name: name.to_string(),
                    message,
                }
            })?;
        if hex(&Sha256::digest(&data)) != entry.sha256 {
            return Err(MemberError::Hash {
                name: name.to_string(),
            });
        }
        self.deferred.retain(|d| d != name);
        Ok(data)
    }
}

/// Inflates and hashes each of `entries` from `source` (a zip archive read apart from the
/// bundle's own), against its manifest entry.
fn check_apart(source: Source, entries: &[MemberEntry]) -> Result<(), MemberError> {
    let read = |name: &str, e: &dyn std::fmt::Display| MemberError::Read {
        name: name.to_string(),
        message: e.to_string(),
    };
    let mut zip = ZipArchive::new(source).map_err(|e| read("bundle", &e))?;
    for m in entries {
        let f = zip.by_name(&m.name).map_err(|e| read(&m.name, &e))?;
        let mut r = super::source::HashingReader::new(std::io::Read::take(f, m.size + 1));
        std::io::copy(&mut r, &mut std::io::sink()).map_err(|e| read(&m.name, &e))?;
        let (sha, total) = r.finish();
        if total != m.size || sha != m.sha256 {
            return Err(MemberError::Content {
                name: m.name.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::sidecar_path;
    use crate::reader::verify;

    fn fixture_bundle() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/bundles/esxi-web01-snapshot.zip")
    }

    #[test]
    fn content_kept_from_verification_reads_as_the_archive_does() {
        let (mut kept, _) = Bundle::open(&fixture_bundle(), &Limits::default()).unwrap();
        assert!(
            kept.kept.keys().any(|k| k.starts_with("records/")),
            "records kept from verification"
        );
        let (mut streamed, _) = Bundle::open(&fixture_bundle(), &Limits::default()).unwrap();
        streamed.kept.clear();
        let members: Vec<String> = kept
            .manifest
            .members
            .iter()
            .map(|m| m.name.clone())
            .collect();
        for name in &members {
            if let Some(c) = name
                .strip_prefix("records/")
                .and_then(|n| n.strip_suffix(".jsonl"))
            {
                let a = kept.records(c, u64::MAX).unwrap();
                let b = streamed.records(c, u64::MAX).unwrap();
                assert_eq!(a, b, "{name}");
            } else {
                assert_eq!(
                    kept.read_member(name, u64::MAX).unwrap(),
                    streamed.read_member(name, u64::MAX).unwrap(),
                    "{name}"
                );
            }
        }
        // The whole file was read into memory, hashed there, and that hash is the bundle's.
        let sidecar = std::fs::read_to_string(sidecar_path(&fixture_bundle())).unwrap();
        assert_eq!(kept.sha256, sidecar[..64]);
    }

    #[test]
    fn a_member_changed_after_the_manifest_is_refused_in_memory_too() {
        let d = tempfile::tempdir().unwrap();
        let mut data = std::fs::read(fixture_bundle()).unwrap();
        // Flip one byte of the compressed content of a records member (after its local
        // header), then write a matching sidecar so only the member checks can catch it.
        let name = b"records/cron.jsonl";
        let header = data
            .windows(4)
            .enumerate()
            .find(|(i, w)| *w == b"PK\x03\x04" && data[i + 30..].starts_with(name))
            .map(|(i, _)| i)
            .expect("local header of records/cron.jsonl");
        let le16 = |o: usize| u16::from_le_bytes([data[o], data[o + 1]]) as usize;
        let content = header + 30 + le16(header + 26) + le16(header + 28);
        data[content + 10] ^= 0x55;
        let p = d.path().join("b.zip");
        std::fs::write(&p, &data).unwrap();
        std::fs::write(
            sidecar_path(&p),
            format!("{}  b.zip\n", hex(&Sha256::digest(&data))),
        )
        .unwrap();
        assert!(Bundle::open(&p, &Limits::default()).is_err());
        assert!(!verify(&p, &Limits::default()).ok());
    }
}
