//! [`Bundle`]: a verified bundle opened for analysis, giving its records and members.

use super::archive::read_capped;
use super::kept::Kept;
use super::limits::Limits;
use super::outcome::{Problem, Verification};
use super::source::{HashingReader, Source};
use super::verify::verify_keeping;
use crate::manifest::{Manifest, MemberEntry};
use dossier_plugin_api::encoding::hex;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use zip::ZipArchive;

/// Records with their 1-based line numbers in the records member.
pub type NumberedRecords = Vec<(usize, serde_json::Value)>;

/// A verified bundle opened for analysis.
pub struct Bundle {
    pub path: PathBuf,
    pub sha256: String,
    pub manifest: Manifest,
    zip: ZipArchive<Source>,
    index: HashMap<String, usize>,
    /// Verified content kept from verification (see [`Kept`]).
    kept: HashMap<String, Vec<u8>>,
    /// What [`Bundle::records`] may still load: (bytes, values).
    record_budget: (u64, u64),
}

/// Why a bundle could not be opened for analysis.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{path}: verification failed:\n{}", problems.iter().map(|p| format!("  - {}: {}", p.subject, p.message)).collect::<Vec<_>>().join("\n"))]
    Unverified {
        path: PathBuf,
        problems: Vec<Problem>,
    },
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
}

impl Bundle {
    /// Verifies a bundle and opens it. Refuses any bundle that does not verify.
    ///
    /// The archive analysed is the one verification read, on the same open file, and the
    /// content of records and small members is kept from verification (each checked against
    /// the manifest's SHA-256 there), so they are decompressed and hashed once.
    pub fn open(path: &Path, limits: &Limits) -> Result<(Bundle, Verification), OpenError> {
        let mut kept = Kept::new(limits);
        let (mut v, zip) = verify_keeping(path, limits, Some(&mut kept));
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
            },
            v,
        ))
    }

    /// The manifest entry of a member.
    pub fn member(&self, name: &str) -> Option<&MemberEntry> {
        self.manifest.members.iter().find(|m| m.name == name)
    }

    /// Reads a member whole (at most `cap` bytes), re-checking its SHA-256.
    pub fn read_member(&mut self, name: &str, cap: u64) -> Result<Vec<u8>, String> {
        let entry = self
            .member(name)
            .ok_or_else(|| format!("{name}: not in the manifest"))?
            .clone();
        if entry.size > cap {
            return Err(format!(
                "{name}: {} bytes, more than the {cap}-byte limit",
                entry.size
            ));
        }
        if let Some(data) = self.kept.get(name) {
            return Ok(data.clone());
        }
        let &i = self
            .index
            .get(name)
            .ok_or_else(|| format!("{name}: missing"))?;
        let data = read_capped(&mut self.zip, i, entry.size).map_err(|e| format!("{name}: {e}"))?;
        if hex(&Sha256::digest(&data)) != entry.sha256 {
            return Err(format!("{name}: SHA-256 differs from the manifest"));
        }
        Ok(data)
    }

    /// Records of one collector (`records/<name>.jsonl`), one JSON value per line. Lines that
    /// are not JSON are returned as errors with their line numbers.
    ///
    /// The member is streamed line by line and its SHA-256 re-checked at the end; what is
    /// loaded counts against the bundle's record budget ([`Limits::max_record_bytes`],
    /// [`Limits::max_record_values`]): a member that would exceed it is not loaded at all, and
    /// the error names it and the limit.
    pub fn records(
        &mut self,
        collector: &str,
        cap: u64,
    ) -> Result<(NumberedRecords, Vec<String>), String> {
        let name = format!("records/{collector}.jsonl");
        let Some(entry) = self.member(&name).cloned() else {
            return Ok((Vec::new(), Vec::new()));
        };
        let (bytes_left, values_left) = self.record_budget;
        let cap = cap.min(bytes_left);
        if entry.size > cap {
            return Err(format!(
                "{name}: {} bytes, more than the {cap} bytes of records left to load (limit); not analyzed",
                entry.size
            ));
        }
        // Kept from verification: already checked against the manifest, parsed in place.
        if let Some(data) = self.kept.remove(&name) {
            let mut out = Vec::new();
            let mut bad = Vec::new();
            let mut values = 0u64;
            for (i, line) in data.split(|b| *b == b'\n').enumerate() {
                let lineno = i + 1;
                values += json_values_bound(line);
                if values > values_left {
                    return Err(format!(
                        "{name}: more than the {values_left} JSON values of records left to load (limit) by line {lineno}; not analyzed"
                    ));
                }
                if line.len() + 1 > MAX_RECORD_LINE {
                    return Err(format!(
                        "{name}: line {lineno} is longer than {MAX_RECORD_LINE} bytes (limit); not analyzed"
                    ));
                }
                if !line.iter().all(u8::is_ascii_whitespace) {
                    match serde_json::from_slice(line) {
                        Ok(v) => out.push((lineno, v)),
                        Err(e) => bad.push(format!("{name} line {lineno}: {e}")),
                    }
                }
            }
            self.record_budget = (bytes_left - data.len() as u64, values_left - values);
            return Ok((out, bad));
        }
        // Otherwise streamed from the archive and its hash re-checked at the end.
        let &i = self
            .index
            .get(&name)
            .ok_or_else(|| format!("{name}: missing"))?;
        let f = self.zip.by_index(i).map_err(|e| format!("{name}: {e}"))?;
        let mut r = BufReader::with_capacity(1 << 16, HashingReader::new(f.take(entry.size + 1)));
        let mut out = Vec::new();
        let mut bad = Vec::new();
        let mut values = 0u64;
        let mut line = Vec::new();
        let mut lineno = 0usize;
        loop {
            // One line, counted as it is read: neither a huge line nor a line of a million
            // tiny values is ever held whole.
            use std::io::BufRead;
            let buf = r.fill_buf().map_err(|e| format!("{name}: {e}"))?;
            let eof = buf.is_empty();
            let (chunk, end) = match buf.iter().position(|b| *b == b'\n') {
                Some(p) => (&buf[..=p], true),
                None => (buf, eof),
            };
            values += json_values_bound(chunk);
            if values > values_left {
                return Err(format!(
                    "{name}: more than the {values_left} JSON values of records left to load (limit) by line {}; not analyzed",
                    lineno + 1
                ));
            }
            if line.len() + chunk.len() > MAX_RECORD_LINE {
                return Err(format!(
                    "{name}: line {} is longer than {MAX_RECORD_LINE} bytes (limit); not analyzed",
                    lineno + 1
                ));
            }
            line.extend_from_slice(chunk);
            let used = chunk.len();
            r.consume(used);
            if !end {
                continue;
            }
            if eof && line.is_empty() {
                break;
            }
            lineno += 1;
            if !line.iter().all(u8::is_ascii_whitespace) {
                match serde_json::from_slice(&line) {
                    Ok(v) => out.push((lineno, v)),
                    Err(e) => bad.push(format!("{name} line {lineno}: {e}")),
                }
            }
            line.clear();
            if eof {
                break;
            }
        }
        let (sha, total) = r.into_inner().finish();
        if total != entry.size || sha != entry.sha256 {
            return Err(format!("{name}: content differs from the manifest"));
        }
        self.record_budget = (bytes_left - total, values_left - values);
        Ok((out, bad))
    }
}

/// Longest line of a records member loaded for analysis (one record).
const MAX_RECORD_LINE: usize = 16 << 20;

/// An upper bound of the number of JSON values in one line of JSON text: one, plus one per
/// `,` `:` `[` `{` (outside strings too: an over-count is harmless).
fn json_values_bound(line: &[u8]) -> u64 {
    1 + line
        .iter()
        .filter(|b| matches!(b, b',' | b':' | b'[' | b'{'))
        .count() as u64
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
