//! `dossier export ecs|stix`: findings in the formats other tools ingest, from bundles and
//! report directories ([`inputs`]), through the pure functions of `dossier-exports`:
//! Elastic Common Schema NDJSON (one document per finding and per alert of imported events)
//! or one STIX 2.1 bundle of indicators for the IOCs of flagged findings and alerts.
//!
//! The hosts of every input are put in one order (hostname, bundle name), so the same inputs
//! in any order give the same bytes. The output goes to standard output (`--out -`, the
//! default) or to a file written under a temporary name (mode 0600, never through a link),
//! synced and renamed into place; the custody ledger beside each bundle exported records it.
//! What was exported or refused is said on stdout, or on stderr when the export goes to
//! stdout. Exit code 0 when every input was exported, 1 when some
//! input was refused (the others are exported; nothing is written when none is left), 2 when
//! the command could not run.

mod inputs;

use crate::args::{ExportArgs, ExportFormat};
use crate::playbook::{self, Playbook};
use crate::plugins::Registry;
use crate::text::sanitize;
use dossier_bundle::crypt::Identities;
use dossier_bundle::fsio::{sync_dir, write_unique_synced};
use dossier_exports::{Analyses, ecs, stix};
use dossier_plugin_api::encoding::hex;
use inputs::{Read1, Reader};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Where the export goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    File(PathBuf),
    /// `--out -`.
    Stdout,
}

/// `dossier export`.
pub struct ExportPlan {
    pub format: ExportFormat,
    pub inputs: Vec<PathBuf>,
    pub out: Output,
    pub playbook: Playbook,
    /// The built-in collectors and analyzers (no plugin is loaded).
    pub registry: Registry,
    pub identities: Identities,
}

/// Checks the flags of `dossier export`.
pub fn plan(a: ExportArgs) -> anyhow::Result<ExportPlan> {
    let out = if a.out.as_os_str() == "-" {
        Output::Stdout
    } else {
        if a.out.is_dir() {
            anyhow::bail!(
                "--out {}: a directory; name the file to write",
                a.out.display()
            );
        }
        Output::File(a.out)
    };
    let registry = Registry::builtin();
    let playbook = playbook::load(a.playbook.as_deref(), &registry)?;
    Ok(ExportPlan {
        format: a.format,
        inputs: a.inputs,
        out,
        playbook,
        registry,
        identities: Identities::load(&a.identities)?,
    })
}

/// How a format is named in messages and the custody ledger.
fn format_name(f: ExportFormat) -> &'static str {
    match f {
        ExportFormat::Ecs => "ECS",
        ExportFormat::Stix => "STIX",
    }
}

/// The text of the export.
fn render(format: ExportFormat, a: &Analyses) -> (String, String) {
    match format {
        ExportFormat::Ecs => {
            let text = ecs::ndjson(a);
            let what = format!(
                "{} ECS {} document(s)",
                text.lines().count(),
                ecs::ECS_VERSION
            );
            (text, what)
        }
        ExportFormat::Stix => {
            let b = stix::bundle(a);
            let objects = b["objects"].as_array().map_or(0, Vec::len);
            let indicators = b["objects"]
                .as_array()
                .map_or(0, |o| o.iter().filter(|o| o["type"] == "indicator").count());
            let mut text = serde_json::to_string_pretty(&b).expect("JSON values serialize");
            text.push('\n');
            (
                text,
                format!("STIX 2.1 bundle, {indicators} indicator(s), {objects} object(s)"),
            )
        }
    }
}

/// Runs `dossier export` (see the module documentation).
pub fn run(p: ExportPlan) -> anyhow::Result<ExitCode> {
    let to_stdout = p.out == Output::Stdout;
    let say = |line: String| {
        if to_stdout {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    let mut reader = Reader::new(&p.playbook, &p.registry, &p.identities);
    let mut all = Analyses::default();
    let mut refused = 0;
    let order = inputs::ordered(&p.inputs);
    for path in &order {
        match reader.read(path) {
            Read1::Analyses(a, kind) => {
                let findings: usize = a.hosts.iter().map(|h| h.findings.len()).sum();
                let alerts: usize = a.events.iter().map(|r| r.alerts.len()).sum();
                let alerts = if a.events.is_empty() {
                    String::new()
                } else {
                    format!(", {alerts} alert(s) of imported events")
                };
                say(format!(
                    "EXPORTED      {} ({kind}): {} host(s), {findings} finding(s){alerts}",
                    path.display(),
                    a.hosts.len()
                ));
                all.extend(a);
            }
            Read1::Refused(why) => {
                refused += 1;
                say(format!(
                    "NOT EXPORTED  {}: {}",
                    path.display(),
                    sanitize(&why)
                ));
            }
        }
    }
    let code = if refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    if refused == order.len() {
        say("export: not written (no input left)".into());
        return Ok(code);
    }
    all.normalize();
    let (text, what) = render(p.format, &all);
    let sha = hex(&Sha256::digest(text.as_bytes()));
    match &p.out {
        Output::Stdout => {
            let mut o = std::io::stdout().lock();
            o.write_all(text.as_bytes())
                .and_then(|()| o.flush())
                .map_err(|e| anyhow::anyhow!("standard output: {e}"))?;
            reader.record(
                &format!("the {} export to standard output", format_name(p.format)),
                &sha,
            );
            say(format!("export: standard output ({what}, sha256 {sha})"));
        }
        Output::File(f) => {
            write_file(f, text.as_bytes()).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
            reader.record(
                &format!("the {} export {}", format_name(p.format), f.display()),
                &sha,
            );
            say(format!("export: {} ({what}, sha256 {sha})", f.display()));
        }
    }
    Ok(code)
}

/// Writes `data` beside `path` under a temporary name, syncs it and renames it into place.
fn write_file(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let stem = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export".into());
    let tmp = write_unique_synced(dir, &format!(".{stem}."), ".partial", data)?;
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir);
    Ok(())
}
