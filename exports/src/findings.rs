//! Reads a `findings.json` document (what `dossier analyze` writes into its report directory:
//! schema `dossier-findings` version 1, see `dossier_reporters::json`) back into the analyses
//! it holds: the hosts and the fleet-level findings. Fields this reader does not need
//! (`mitre_names`, `stacking`, `unanalyzed`...) are ignored, as version 1 readers may.

use crate::Analyses;
use dossier_plugin_api::analysis::HostAnalysis;
use dossier_plugin_api::analyzer::FleetFinding;
use serde::Deserialize;

/// The schema name `findings.json` declares.
pub const SCHEMA: &str = "dossier-findings";
/// The schema version read.
pub const VERSION: u64 = 1;

/// Why a document is not a findings document this reader takes.
#[derive(Debug, thiserror::Error)]
pub enum FindingsError {
    #[error("not JSON of the dossier-findings schema: {0}")]
    Json(#[from] serde_json::Error),
    #[error("schema {found:?}, not {SCHEMA:?}")]
    Schema { found: String },
    #[error("dossier-findings version {found}; this dossier reads version {VERSION}")]
    Version { found: u64 },
}

#[derive(Deserialize)]
struct Document {
    schema: String,
    version: u64,
    hosts: Vec<HostAnalysis>,
    #[serde(default)]
    fleet_findings: Vec<FleetFinding>,
}

/// Parses a `findings.json` document.
pub fn parse(bytes: &[u8]) -> Result<Analyses, FindingsError> {
    // The schema is checked before the rest is read, so another JSON file is named for what
    // it is rather than for its first missing field.
    #[derive(Deserialize)]
    struct Head {
        schema: Option<String>,
        version: Option<u64>,
    }
    let head: Head = serde_json::from_slice(bytes)?;
    let schema = head.schema.unwrap_or_default();
    if schema != SCHEMA {
        return Err(FindingsError::Schema { found: schema });
    }
    if head.version != Some(VERSION) {
        return Err(FindingsError::Version {
            found: head.version.unwrap_or(0),
        });
    }
    let doc: Document = serde_json::from_slice(bytes)?;
    debug_assert_eq!((doc.schema.as_str(), doc.version), (SCHEMA, VERSION));
    Ok(Analyses {
        hosts: doc.hosts,
        fleet: doc.fleet_findings,
        events: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecs::tests::sample_host;

    #[test]
    fn a_findings_document_reads_back_its_hosts() {
        let h = sample_host();
        let mut host = serde_json::to_value(&h).unwrap();
        // What the reporter adds beside every `mitre` list is ignored.
        host["findings"][0]["mitre_names"] = serde_json::json!({"T1053.003": "Cron"});
        let doc = serde_json::json!({"attack": "MITRE ATT&CK v18.1", "fleet_findings": [],
            "hosts": [host], "not_collected": [], "schema": "dossier-findings",
            "unanalyzed": [], "version": 1});
        let a = parse(doc.to_string().as_bytes()).unwrap();
        assert_eq!(a.hosts, vec![h]);
        assert!(a.fleet.is_empty());
    }

    #[test]
    fn other_documents_are_named_for_what_they_are() {
        let e = parse(br#"{"schema": "dossier-events-report", "version": 1}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "schema \"dossier-events-report\", not \"dossier-findings\""
        );
        let e = parse(br#"{"schema": "dossier-findings", "version": 2, "hosts": []}"#).unwrap_err();
        assert!(e.to_string().contains("version 2"), "{e}");
        assert!(matches!(parse(b"[1, 2]"), Err(FindingsError::Json(_))));
        assert!(matches!(parse(b"{}"), Err(FindingsError::Schema { .. })));
    }
}
