//! Command-line syntax (clap). These types stay here: `commands` turns them into validated
//! plans before anything else sees them.

use clap::{Args, CommandFactory, Parser, Subcommand};
use std::path::PathBuf;

/// The command tree as the binary parses it: the derived one, with the exit codes after the
/// help of the top command and of every subcommand (and so in `dossier man`).
pub fn command() -> clap::Command {
    Cli::command()
        .after_help(crate::messages::EXIT_CODES_HELP)
        .mut_subcommands(|s| s.after_help(crate::messages::EXIT_CODES_HELP))
}

/// dossier: forensic triage collection with hashed evidence bundles.
#[derive(Debug, Parser)]
#[command(name = "dossier", version = crate::build_info::VERSION_LINE, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per run: the size of the sweep's arguments costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Collect evidence from this machine (or a mounted image with --root) into a bundle.
    Collect(CollectArgs),
    /// Verify bundles: whole-file and per-member SHA-256, manifest, custody ledger.
    Verify(VerifyArgs),
    /// List the built-in collectors.
    Collectors(CollectorsArgs),
    /// Verify bundles, then analyze them: per-host reports, fleet report, findings JSON.
    Analyze(AnalyzeArgs),
    /// Verify bundles of known-good hosts and write a baseline of their units, cron entries,
    /// hooks, accounts, keys, sudo rules, executables and listeners (for --baseline).
    Baseline(BaselineArgs),
    /// List the analysis rules with their MITRE ids and weights (as set by a playbook).
    Rules(RulesArgs),
    /// Verify bundles (collected or imported) and write one Timesketch timeline (JSONL):
    /// file times, process starts, logins, units, cron entries, keys, imported events.
    Timeline(TimelineArgs),
    /// Collect many hosts over SSH (host names, addresses, CIDR networks, host lists,
    /// Ansible inventories): one verified bundle per host, then the fleet analysis.
    Sweep(SweepArgs),
    /// Merge the output folders of sweeps (shards, retries) into one fleet report,
    /// findings.json and sweep.json: every bundle verified, the newest verified bundle of a
    /// host analyzed and older ones listed as superseded, targets no folder collected kept.
    Merge(MergeArgs),
    /// List built-in and dynamic plugins: kind, version, source and library SHA-256.
    Plugins(PluginsArgs),
    /// List the built-in playbooks, or print one (`dossier playbooks show NAME`).
    Playbooks(PlaybooksArgs),
    /// Make an Ed25519 signing key pair in the minisign format (`dossier.key`, 0600, and
    /// `dossier.pub`); the passphrase is read from DOSSIER_SIGN_PASSPHRASE or asked for.
    Keygen(KeygenArgs),
    /// Plan the containment of this machine or of SSH targets (quarantine a file, suspend or
    /// kill a process, neutralize a unit or cron lines, isolate): prints every change and
    /// changes nothing without --apply. Root (or `sudo -n`) only with --apply.
    Contain(ContainArgs),
    /// List the action records of this machine or of SSH targets (id, state, step, times).
    Actions(ActionsArgs),
    /// Undo applied actions of this machine or of SSH targets, newest first, and check the result against
    /// their records.
    Restore(RestoreArgs),
    /// Take endpoint telemetry and audit logs into custody: each file (Defender for Endpoint
    /// advanced-hunting export, CSV or JSON; Linux audit.log; journalctl -o json; gzipped or
    /// not) stored in an import bundle with its events normalized, for `analyze` and
    /// `timeline`.
    Import(ImportArgs),
    /// Export findings for other tools: `ecs` (Elastic Common Schema NDJSON, one document per
    /// finding) or `stix` (a STIX 2.1 bundle of indicators for the IOCs of flagged findings),
    /// from bundles (verified, then analyzed) or report directories of `analyze`.
    Export(ExportArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout, e.g.
    /// `dossier completions bash > /etc/bash_completion.d/dossier`.
    Completions(CompletionsArgs),
    /// Write the manual pages (dossier.1 and one per subcommand, dossier-sweep.1, ...) into
    /// --out DIR, or print the top page (dossier.1) to stdout.
    Man(ManArgs),
}

/// The format of `dossier export`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// Elastic Common Schema (NDJSON).
    Ecs,
    /// STIX 2.1 (one JSON bundle).
    Stix,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// What to write: ecs or stix.
    #[arg(value_enum, value_name = "FORMAT")]
    pub format: ExportFormat,
    /// Bundles (verified, then analyzed with the playbook) and report directories written by
    /// `dossier analyze` (their findings.json; a findings.json may be named directly).
    #[arg(required = true, value_name = "BUNDLE_OR_REPORT_DIR")]
    pub inputs: Vec<PathBuf>,
    /// File to write, or `-` for standard output.
    #[arg(long, value_name = "FILE", default_value = "-")]
    pub out: PathBuf,
    /// Built-in playbook name or path to a playbook TOML file, for the analysis of bundles.
    #[arg(long, value_name = "NAME|FILE")]
    pub playbook: Option<String>,
    /// Identity that decrypts encrypted bundles (`.zip.age`; repeatable), as for `analyze`.
    #[arg(long = "identity", value_name = "FILE")]
    pub identities: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CollectorsArgs {
    /// Print one JSON document instead of text (fields in the README, "Machine-readable
    /// output").
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Folder for the pages (created 0700); without it the top page goes to stdout.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Source files to import (one import bundle for all of them).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Their format, when it cannot be told from the content: defender-csv, defender-json,
    /// audit, journal.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// The host of events whose record names none (an audit.log without `node=`), also the
    /// bundle's name.
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Output directory for the bundle and the custody ledger (created 0700).
    #[arg(long, value_name = "DIR", default_value = "dossier-out")]
    pub out: PathBuf,
    /// Case identifier recorded in the manifest.
    #[arg(long, value_name = "ID")]
    pub case: Option<String>,
    /// Examiner name recorded in the manifest.
    #[arg(long, value_name = "NAME")]
    pub examiner: Option<String>,
    /// Sign the bundle with this minisign secret key (`dossier keygen`).
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// Ask this RFC 3161 time-stamping authority (http:// URL) for a token over the bundle.
    #[arg(long, value_name = "URL")]
    pub tsa: Option<String>,
    /// Encrypt the bundle to this recipient (repeatable; as for `collect`).
    #[arg(long = "encrypt-to", value_name = "RECIPIENT")]
    pub encrypt_to: Vec<String>,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ContainArgs {
    /// A change (repeatable): `quarantine:PATH`, `suspend:PID`, `kill:PID`,
    /// `neutralize-unit:NAME`, `neutralize-cron:PATH:LINE[,LINE]`, `isolate`.
    #[arg(long = "action", value_name = "KIND:WHAT")]
    pub actions: Vec<String>,
    /// Carry the plan out (without it the plan is printed and nothing is changed).
    #[arg(long)]
    pub apply: bool,
    /// A verified bundle of the host taken before, used instead of collecting a fresh one.
    #[arg(long, value_name = "BUNDLE")]
    pub snapshot: Option<PathBuf>,
    /// Oldest --snapshot accepted, in minutes since its collection finished.
    #[arg(long, value_name = "MINUTES", default_value_t = 30)]
    pub snapshot_max_age: u64,
    /// The case: ledger, examiner, signing key, state folder.
    #[command(flatten)]
    pub case: CaseArgs,
    /// Hosts to act on, named as for `sweep` (`host`, `user@host:port`, an address), reached
    /// over SSH with the options below (`sudo -n` for a non-root login); none: this machine.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// How to reach and log in to each target.
    #[command(flatten)]
    pub ssh: SshArgs,
    /// Plan from an analysis: the flagged behaviour findings of each host in this
    /// `findings.json` (processes suspended, units neutralized, cron lines commented out,
    /// unpackaged executables quarantined).
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
    /// With --from: block at once without changing anything on disk (units stopped and
    /// masked under /run, processes frozen; cron lines and files left as they are; the
    /// action records kept under /run/dossier, dropped at reboot with the masks).
    #[arg(long)]
    pub runtime: bool,
    /// Also kill each process the plan suspends (--from findings, --action suspend:PID): a
    /// kill step after each suspend, applied only once the process is frozen and its exe and
    /// memory map list are hashed into the action record. A kill cannot be undone.
    #[arg(long)]
    pub kill: bool,
    /// With --action isolate: seconds after which the isolation removes itself unless a
    /// fresh SSH connection confirms it (30 to 3600; default 120).
    #[arg(long, value_name = "SECONDS")]
    pub rollback_secs: Option<u64>,
    /// Built-in playbook name or playbook file of the snapshot collected before the first
    /// change (default triage).
    #[arg(long, value_name = "NAME|FILE")]
    pub playbook: Option<String>,
}

/// Where `contain` and `restore` record what they do, and who does it.
#[derive(Debug, Args)]
pub struct CaseArgs {
    /// Case directory whose custody ledger records each action and restore.
    #[arg(long, value_name = "DIR", default_value = "dossier-out")]
    pub out: PathBuf,
    /// Examiner name recorded in each action record and ledger entry (default: the user who
    /// ran sudo, else the user name).
    #[arg(long, value_name = "NAME")]
    pub examiner: Option<String>,
    /// Re-sign the custody ledger's head with this minisign secret key after each entry.
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// dossier's state folder on each target (action records, quarantine; for tests).
    #[arg(long, value_name = "DIR", default_value = "/var/lib/dossier")]
    pub state_dir: String,
    /// dossier's runtime folder on each target (the action records of --runtime plans,
    /// dropped at reboot; for tests).
    #[arg(long, value_name = "DIR", default_value = "/run/dossier")]
    pub runtime_dir: String,
}

#[derive(Debug, Args)]
pub struct ActionsArgs {
    /// dossier's state folder on each target.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/dossier")]
    pub state_dir: String,
    /// dossier's runtime folder on each target (the records of --runtime plans).
    #[arg(long, value_name = "DIR", default_value = "/run/dossier")]
    pub runtime_dir: String,
    /// Hosts to act on, named as for `sweep` (`host`, `user@host:port`, an address), reached
    /// over SSH with the options below (`sudo -n` for a non-root login); none: this machine.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// How to reach and log in to each target.
    #[command(flatten)]
    pub ssh: SshArgs,
    /// Print one JSON document instead of text (fields in the README, "Machine-readable
    /// output").
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Hosts to restore, named as for `sweep` (none: this machine), and the action ids to undo
    /// there (see `dossier actions`), or --all. An argument in the form of an action id is
    /// an id; any other is a host.
    #[arg(value_name = "TARGET|ID")]
    pub ids: Vec<String>,
    /// Undo every applied action.
    #[arg(long)]
    pub all: bool,
    /// The case: ledger, examiner, signing key, state folder.
    #[command(flatten)]
    pub case: CaseArgs,
    /// How to reach and log in to each target (the hosts named before the action ids).
    #[command(flatten)]
    pub ssh: SshArgs,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Directory for the key files (created 0700; existing key files are never overwritten).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct PluginsArgs {
    /// Plugin library or directory of libraries to load (repeatable).
    #[arg(long = "plugin", value_name = "PATH")]
    pub plugins: Vec<PathBuf>,
    /// Also load the plugins of DOSSIER_PLUGIN_PATH (files or directories separated by `:`);
    /// without this flag that variable is ignored.
    #[arg(long)]
    pub plugin_env: bool,
    /// Print one JSON document instead of text (fields in the README, "Machine-readable
    /// output").
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PlaybooksArgs {
    #[command(subcommand)]
    pub action: Option<PlaybooksAction>,
    /// Print one JSON document instead of text (fields in the README, "Machine-readable
    /// output").
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum PlaybooksAction {
    /// Print a built-in playbook (or a playbook file) exactly as used (its SHA-256 first).
    Show {
        /// Built-in playbook name or path to a playbook TOML file.
        #[arg(value_name = "NAME|FILE")]
        name: String,
    },
}

/// How to reach and log in to SSH targets: the options `sweep` and `contain` share.
#[derive(Debug, Clone, Args)]
pub struct SshArgs {
    /// Login user when a target names none (default: from ~/.ssh/config, else root).
    #[arg(long, short = 'u', value_name = "USER")]
    pub user: Option<String>,
    /// SSH port when a target names none (default: from ~/.ssh/config, else 22).
    #[arg(long, short = 'p', value_name = "PORT")]
    pub port: Option<u16>,
    /// Private key file (repeatable). Without one: ssh-agent, ~/.ssh/config, ~/.ssh/id_*.
    #[arg(long = "identity", short = 'i', value_name = "KEY")]
    pub identities: Vec<PathBuf>,
    /// known_hosts file to check host keys against (default: ~/.ssh/config's
    /// UserKnownHostsFile, else ~/.ssh/known_hosts).
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Trust on first use: accept keys of hosts not in known_hosts and record them there.
    /// A changed key is refused regardless.
    #[arg(long)]
    pub accept_new: bool,
    /// OpenSSH client configuration to honour (default ~/.ssh/config).
    #[arg(long, value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
    /// Read the login password from this environment variable (never from the command line).
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Ask for the login password once, without echo.
    #[arg(long, conflicts_with = "password_env")]
    pub ask_password: bool,
    /// Run the few commands collectors need through `sudo -n` (non-root logins).
    #[arg(long)]
    pub sudo: bool,
    /// Seconds allowed for TCP connect, SSH handshake and authentication.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub connect_timeout: u64,
    /// Seconds allowed for each SFTP operation.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub op_timeout: u64,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Targets: `host`, `user@host:port`, an IP address, `[v6]:port`, or a CIDR network
    /// (every address is probed on the SSH port first).
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// File with one target a line (`#` comments), or an Ansible INI inventory.
    #[arg(long, value_name = "FILE")]
    pub hosts: Vec<PathBuf>,
    /// Hosts collected at the same time.
    #[arg(short = 'j', long, value_name = "N", default_value_t = 8)]
    pub jobs: usize,
    /// How to reach and log in to each target.
    #[command(flatten)]
    pub ssh: SshArgs,
    /// Seconds allowed for a whole host (connect and collect); then it is abandoned and
    /// reported, and what was collected is kept in its bundle.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub host_timeout: u64,
    /// Milliseconds allowed for the TCP probe of each address of a CIDR network.
    #[arg(long, value_name = "MS", default_value_t = 1500)]
    pub probe_timeout: u64,
    /// Output directory for bundles, sweep.json, the custody ledger and analysis/, or
    /// `s3://bucket/prefix` (README "Object storage").
    #[arg(long, value_name = "DIR", default_value = "dossier-out")]
    pub out: PathBuf,
    /// Built-in playbook name or path to a playbook TOML file.
    #[arg(long, value_name = "NAME|FILE")]
    pub playbook: Option<String>,
    /// Case identifier recorded in every manifest.
    #[arg(long, value_name = "ID")]
    pub case: Option<String>,
    /// Examiner name recorded in every manifest.
    #[arg(long, value_name = "NAME")]
    pub examiner: Option<String>,
    /// Skip targets that already have a complete, verified bundle in the output directory.
    #[arg(long)]
    pub resume: bool,
    /// Collect only shard K of N (K from 0 to N-1, as $JOB_COMPLETION_INDEX): the targets
    /// whose SHA-256 of `host:port` falls in it, chosen after host files and networks are
    /// expanded and before any connection. N sweeps with K = 0..N-1 cover every target once;
    /// `dossier merge` joins their output folders.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<crate::shard::Shard>,
    /// Only collect: no analysis and reports.
    #[arg(long)]
    pub no_analyze: bool,
    /// Sign each bundle with this minisign secret key (`dossier keygen`): writes
    /// `BUNDLE.minisig`. The passphrase is read from DOSSIER_SIGN_PASSPHRASE or asked for.
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// Ask this RFC 3161 time-stamping authority (http:// URL) for a token over each bundle:
    /// writes `BUNDLE.tsr`. A TSA that fails leaves the bundle, a warning and exit status 1.
    #[arg(long, value_name = "URL")]
    pub tsa: Option<String>,
    /// Encrypt each bundle to this recipient (repeatable): an age public key (`age1...`, from
    /// `age-keygen`), an SSH public key line (`ssh-ed25519 ...`, `ssh-rsa ...`), or the path
    /// of a recipients file (one of those a line). Writes `BUNDLE.zip.age` (the stock `age`
    /// tool decrypts it); its sidecar, signature and ledger entries are over the encrypted
    /// file. No plaintext is written to disk, so the bundle is not analyzed here.
    #[arg(long = "encrypt-to", value_name = "RECIPIENT")]
    pub encrypt_to: Vec<String>,
    /// Baseline of known-good hosts for the analysis (`dossier baseline`).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Language of the host, fleet and events reports: en (the default) or zh-CN. Wins over
    /// the playbook's `[report] lang`. JSON outputs (findings.json, events.json, sweep.json)
    /// are the same in every language.
    #[arg(long, value_name = "LANG", value_parser = parse_lang)]
    pub lang: Option<dossier_i18n::Lang>,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
    /// Plugin library or directory of libraries to load (repeatable).
    #[arg(long = "plugin", value_name = "PATH")]
    pub plugins: Vec<PathBuf>,
    /// Also load the plugins of DOSSIER_PLUGIN_PATH (files or directories separated by `:`);
    /// without this flag that variable is ignored.
    #[arg(long)]
    pub plugin_env: bool,
    /// Print one JSON document instead of text (fields in the README, "Machine-readable
    /// output").
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Output folders of `dossier sweep` (with their sweep.json), or folders of bundles; an
    /// `s3://bucket/prefix` is the folder at that prefix.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Folder for the merged sweep.json and analysis/ (fleet report, findings.json, host
    /// reports); not one of the folders merged.
    #[arg(long, value_name = "DIR", required = true)]
    pub out: PathBuf,
    /// Playbook to analyze with (default: the one the sweeps recorded, which must still have
    /// the SHA-256 they recorded).
    #[arg(long, value_name = "NAME|FILE")]
    pub playbook: Option<String>,
    /// Baseline of known-good hosts for the analysis (`dossier baseline`).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Identity that decrypts encrypted bundles (`.zip.age`, from `sweep --encrypt-to`;
    /// repeatable), as for `analyze`. Without one they are listed as not verified.
    #[arg(long = "identity", value_name = "FILE")]
    pub identities: Vec<PathBuf>,
    /// Language of the host, fleet and events reports: en (the default) or zh-CN. Wins over
    /// the playbook's `[report] lang`. JSON outputs (findings.json, events.json, sweep.json)
    /// are the same in every language.
    #[arg(long, value_name = "LANG", value_parser = parse_lang)]
    pub lang: Option<dossier_i18n::Lang>,
    /// Plugin library or directory of libraries to load (repeatable).
    #[arg(long = "plugin", value_name = "PATH")]
    pub plugins: Vec<PathBuf>,
    /// Also load the plugins of DOSSIER_PLUGIN_PATH (files or directories separated by `:`);
    /// without this flag that variable is ignored.
    #[arg(long)]
    pub plugin_env: bool,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Bundles to analyze (an `s3://bucket/prefix` is every bundle there).
    #[arg(required = true, value_name = "BUNDLE")]
    pub bundles: Vec<PathBuf>,
    /// Trusted minisign public key (repeatable): a bundle is analyzed only when its signature
    /// verifies with one of them (and the custody ledger's signed head, when there is a ledger).
    #[arg(long = "pubkey", value_name = "FILE")]
    pub pubkeys: Vec<PathBuf>,
    /// File of trusted public keys, as for `verify --trusted-keys`.
    #[arg(long, value_name = "FILE")]
    pub trusted_keys: Option<PathBuf>,
    /// Output directory for reports (created 0700).
    #[arg(long, value_name = "DIR", default_value = "dossier-report")]
    pub out: PathBuf,
    /// Built-in playbook name or path to a playbook TOML file (rules, weights, thresholds).
    #[arg(long, value_name = "NAME|FILE")]
    pub playbook: Option<String>,
    /// Plugin library or directory of libraries to load (repeatable).
    #[arg(long = "plugin", value_name = "PATH")]
    pub plugins: Vec<PathBuf>,
    /// Also load the plugins of DOSSIER_PLUGIN_PATH (files or directories separated by `:`);
    /// without this flag that variable is ignored.
    #[arg(long)]
    pub plugin_env: bool,
    /// Baseline of known-good hosts (`dossier baseline`): matching items are known, exact
    /// matches leave the score, reports add "Changed since baseline".
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Identity that decrypts encrypted bundles (`.zip.age`; repeatable): an age identity
    /// file (`age-keygen -o`) or an unencrypted OpenSSH private key, mode 0600. Bundles are
    /// decrypted as they are read, never to disk.
    #[arg(long = "identity", value_name = "FILE")]
    pub identities: Vec<PathBuf>,
    /// Language of the host, fleet and events reports: en (the default) or zh-CN. Wins over
    /// the playbook's `[report] lang`. JSON outputs (findings.json, events.json, sweep.json)
    /// are the same in every language.
    #[arg(long, value_name = "LANG", value_parser = parse_lang)]
    pub lang: Option<dossier_i18n::Lang>,
    /// Print one JSON document instead of text (fields in the README, "Machine-readable
    /// output").
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TimelineArgs {
    /// Bundles to put in the timeline (collected or imported; in any order: the timeline is
    /// sorted by time).
    #[arg(required = true, value_name = "BUNDLE")]
    pub bundles: Vec<PathBuf>,
    /// Timeline file to write (JSONL; Timesketch imports files named `*.jsonl`), or `-` for
    /// standard output.
    #[arg(long, value_name = "FILE", required = true)]
    pub out: PathBuf,
    /// Identity that decrypts encrypted bundles (`.zip.age`; repeatable), as for `analyze`.
    #[arg(long = "identity", value_name = "FILE")]
    pub identities: Vec<PathBuf>,
    /// Trusted minisign public key (repeatable): a bundle is in the timeline only when its
    /// signature verifies with one of them (and its custody ledger's signed head), as for
    /// `analyze`.
    #[arg(long = "pubkey", value_name = "FILE")]
    pub pubkeys: Vec<PathBuf>,
    /// File of trusted public keys, as for `verify --trusted-keys`.
    #[arg(long, value_name = "FILE")]
    pub trusted_keys: Option<PathBuf>,
    /// MiB of rows held in memory while sorting; more are sorted in runs on disk and merged.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    pub sort_memory: usize,
}

#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// Bundles of known-good hosts (a golden host, or an earlier sweep).
    #[arg(required = true, value_name = "BUNDLE")]
    pub bundles: Vec<PathBuf>,
    /// Baseline file to write (JSON, schema dossier-baseline).
    #[arg(long, value_name = "FILE", required = true)]
    pub out: PathBuf,
    /// Built-in playbook name or path to a playbook TOML file.
    #[arg(long, value_name = "NAME|FILE")]
    pub playbook: Option<String>,
    /// Plugin library or directory of libraries to load (repeatable).
    #[arg(long = "plugin", value_name = "PATH")]
    pub plugins: Vec<PathBuf>,
    /// Also load the plugins of DOSSIER_PLUGIN_PATH (files or directories separated by `:`);
    /// without this flag that variable is ignored.
    #[arg(long)]
    pub plugin_env: bool,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Playbook whose weights and settings to show.
    #[arg(long, value_name = "NAME|FILE")]
    pub playbook: Option<String>,
    /// Also print each rule's description and false positives.
    #[arg(long)]
    pub long: bool,
    /// Plugin library or directory of libraries to load (repeatable).
    #[arg(long = "plugin", value_name = "PATH")]
    pub plugins: Vec<PathBuf>,
    /// Also load the plugins of DOSSIER_PLUGIN_PATH (files or directories separated by `:`);
    /// without this flag that variable is ignored.
    #[arg(long)]
    pub plugin_env: bool,
    /// Print one JSON document instead of text (fields in the README, "Machine-readable
    /// output").
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Collect from a mounted image or directory tree instead of the running system.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Output directory for bundles and the custody ledger (created 0700), or
    /// `s3://bucket/prefix` (README "Object storage").
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
    /// Sign each bundle with this minisign secret key (`dossier keygen`): writes
    /// `BUNDLE.minisig`. The passphrase is read from DOSSIER_SIGN_PASSPHRASE or asked for.
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// Ask this RFC 3161 time-stamping authority (http:// URL) for a token over each bundle:
    /// writes `BUNDLE.tsr`. A TSA that fails leaves the bundle, a warning and exit status 1.
    #[arg(long, value_name = "URL")]
    pub tsa: Option<String>,
    /// Encrypt each bundle to this recipient (repeatable): an age public key (`age1...`, from
    /// `age-keygen`), an SSH public key line (`ssh-ed25519 ...`, `ssh-rsa ...`), or the path
    /// of a recipients file (one of those a line). Writes `BUNDLE.zip.age` (the stock `age`
    /// tool decrypts it); its sidecar, signature and ledger entries are over the encrypted
    /// file. No plaintext is written to disk, so the bundle is not analyzed here.
    #[arg(long = "encrypt-to", value_name = "RECIPIENT")]
    pub encrypt_to: Vec<String>,
    /// Language of the host, fleet and events reports: en (the default) or zh-CN. Wins over
    /// the playbook's `[report] lang`. JSON outputs (findings.json, events.json, sweep.json)
    /// are the same in every language.
    #[arg(long, value_name = "LANG", value_parser = parse_lang)]
    pub lang: Option<dossier_i18n::Lang>,
    /// Plugin library or directory of libraries to load (repeatable).
    #[arg(long = "plugin", value_name = "PATH")]
    pub plugins: Vec<PathBuf>,
    /// Also load the plugins of DOSSIER_PLUGIN_PATH (files or directories separated by `:`);
    /// without this flag that variable is ignored.
    #[arg(long)]
    pub plugin_env: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Bundles to verify (an `s3://bucket/prefix` is every bundle there).
    #[arg(required = true, value_name = "BUNDLE")]
    pub bundles: Vec<PathBuf>,
    /// Do not check or append to the custody ledger beside each bundle.
    #[arg(long)]
    pub no_ledger: bool,
    /// Trusted minisign public key (repeatable): each bundle's `BUNDLE.minisig` must verify
    /// with one of them; a missing or bad signature fails the bundle.
    #[arg(long = "pubkey", value_name = "FILE")]
    pub pubkeys: Vec<PathBuf>,
    /// File of trusted minisign public keys (`.pub` files one after the other, each with its
    /// `untrusted comment:` line naming who holds it); used like --pubkey. Refused when group
    /// or others may write it or its folder, or it is not yours or root's.
    #[arg(long, value_name = "FILE")]
    pub trusted_keys: Option<PathBuf>,
    /// Fail bundles without a signature (needs --pubkey or --trusted-keys).
    #[arg(long)]
    pub require_signature: bool,
    /// Trusted TSA certificate, or the CA that issued it (PEM, repeatable): each bundle's
    /// `BUNDLE.tsr` timestamp token must verify with one of them; a missing or bad token fails
    /// the bundle. Without it a token present is reported as not checked.
    #[arg(long = "tsa-cert", value_name = "FILE")]
    pub tsa_certs: Vec<PathBuf>,
    /// Identity that decrypts encrypted bundles (`.zip.age`; repeatable): an age identity
    /// file (`age-keygen -o`) or an unencrypted OpenSSH private key, mode 0600. Bundles are
    /// decrypted as they are read, never to disk.
    #[arg(long = "identity", value_name = "FILE")]
    pub identities: Vec<PathBuf>,
    /// Print one JSON document instead of text (fields in the README, "Machine-readable
    /// output").
    #[arg(long)]
    pub json: bool,
}

/// `--lang`: a report language (`en`, `zh-CN`; `zh`, `zh_CN`, `en-US`... too).
fn parse_lang(s: &str) -> Result<dossier_i18n::Lang, dossier_i18n::UnknownLang> {
    dossier_i18n::Lang::parse(s)
}
