//! Parsing a manifest from an untrusted bundle: format and version first, then the structure.

use crate::manifest::{FORMAT, FORMAT_VERSION, Manifest};

/// The two fields read before the rest of a manifest. Every other field is skipped without
/// being built (no `serde_json::Value`: its memory can be 16 times the text's).
#[derive(serde::Deserialize)]
struct ManifestHead {
    #[serde(default)]
    format: Option<serde_json::Value>,
    #[serde(default)]
    format_version: Option<serde_json::Value>,
}

/// Parses a manifest, checking format and version before the structure so an unknown version
/// is reported as such. Memory stays proportional to what the manifest really holds.
pub fn parse_manifest(body: &[u8]) -> Result<Manifest, String> {
    // The common case in one pass: a well-formed manifest of this format and version.
    if let Ok(m) = serde_json::from_slice::<Manifest>(body) {
        if m.format == FORMAT && m.format_version == FORMAT_VERSION {
            return Ok(m);
        }
    }
    // Otherwise the checks in order, so the error names what is wrong first.
    let head: ManifestHead =
        serde_json::from_slice(body).map_err(|e| format!("not valid JSON: {e}"))?;
    match head.format.as_ref().map(|f| f.as_str()) {
        Some(Some(FORMAT)) => {}
        Some(Some(other)) => return Err(format!("format is `{other}`, not `{FORMAT}`")),
        Some(None) => return Err("`format` is not a string: not a dossier manifest".into()),
        None => return Err("no `format` field: not a dossier manifest".into()),
    }
    match head.format_version.as_ref().map(|v| v.as_u64()) {
        Some(Some(n)) if n == FORMAT_VERSION as u64 => {}
        Some(Some(n)) => {
            return Err(format!(
                "format version {n}; this dossier reads version {FORMAT_VERSION}"
            ));
        }
        Some(None) => return Err("`format_version` is not a number".into()),
        None => return Err("no `format_version` field".into()),
    }
    serde_json::from_slice(body).map_err(|e| format!("malformed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_versions() {
        assert!(parse_manifest(b"{}").unwrap_err().contains("no `format`"));
        assert!(
            parse_manifest(br#"{"format":"dossier-bundle","format_version":99}"#)
                .unwrap_err()
                .contains("version 99")
        );
        assert!(
            parse_manifest(b"[1,")
                .unwrap_err()
                .contains("not valid JSON")
        );
        assert!(
            parse_manifest(br#"{"format":"dossier-bundle","format_version":1}"#)
                .unwrap_err()
                .contains("malformed")
        );
    }
}
