//! Command-line syntax (clap). These types stay here: `commands` turns them into validated
//! plans before anything else sees them.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// dossier: forensic triage collection with hashed evidence bundles.
#[derive(Debug, Parser)]
#[command(name = "dossier", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Collect evidence from this machine (or a mounted image with --root) into a bundle.
    Collect(CollectArgs),
    /// Verify bundles: whole-file and per-member SHA-256, manifest, custody ledger.
    Verify(VerifyArgs),
    /// List the built-in collectors.
    Collectors,
    /// Verify bundles, then analyze them: per-host reports, fleet report, findings JSON.
    Analyze(AnalyzeArgs),
    /// List the analysis rules with their MITRE ids and weights (as set by a playbook).
    Rules(RulesArgs),
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Bundles to analyze.
    #[arg(required = true, value_name = "BUNDLE")]
    pub bundles: Vec<PathBuf>,
    /// Output directory for reports (created 0700).
    #[arg(long, value_name = "DIR", default_value = "dossier-report")]
    pub out: PathBuf,
    /// Built-in playbook name or path to a playbook TOML file (rules, weights, thresholds).
    #[arg(long, value_name = "NAME|FILE")]
    pub playbook: Option<String>,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Playbook whose weights and settings to show.
    #[arg(long, value_name = "NAME|FILE")]
    pub playbook: Option<String>,
    /// Also print each rule's description and false positives.
    #[arg(long)]
    pub long: bool,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Collect from a mounted image or directory tree instead of the running system.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Output directory for bundles and the custody ledger (created 0700).
    #[arg(long, value_name = "DIR", default_value = "dossier-out")]
    pub out: PathBuf,
    /// Case identifier recorded in the manifest.
    #[arg(long, value_name = "ID")]
    pub case: Option<String>,
    /// Examiner name recorded in the manifest.
    #[arg(long, value_name = "NAME")]
    pub examiner: Option<String>,
    /// Built-in playbook name or path to a playbook TOML file.
    #[arg(long, value_name = "NAME|FILE")]
    pub playbook: Option<String>,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
    /// Only collect: do not analyze the bundle and write reports.
    #[arg(long)]
    pub no_analyze: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Bundles to verify.
    #[arg(required = true, value_name = "BUNDLE")]
    pub bundles: Vec<PathBuf>,
    /// Do not check or append to the custody ledger beside each bundle.
    #[arg(long)]
    pub no_ledger: bool,
}
