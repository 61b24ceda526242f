//! Validated plans, one per command, built from the parsed flags in one place ([`plan`]):
//! plugins loaded, playbook validated, baseline read, custody text checked, sweep targets and
//! credentials resolved (the SSH half of that is [`crate::sweep_plan`]). Commands take a
//! plan, never raw flags, so a command runs only once all its flags are valid; a flag that
//! is not is an error before anything is collected, read or written.

use crate::args::{
    AnalyzeArgs, BaselineArgs, CollectArgs, Command, KeygenArgs, PlaybooksAction, PlaybooksArgs,
    PluginsArgs, RulesArgs, SweepArgs, TimelineArgs, VerifyArgs,
};
use crate::inputs;
use crate::orchestrate::Custody;
use crate::playbook::{self, Playbook};
use crate::plugins::Registry;
use crate::sweep::SweepPlan;
use dossier_analyzers::baseline::BaselineIndex;
use dossier_bundle::crypt::{Identities, Recipients};
use dossier_bundle::signature::{SigningKey, TrustedKey};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The environment variable a signing key's passphrase is read from (never from argv).
pub const PASSPHRASE_ENV: &str = "DOSSIER_SIGN_PASSPHRASE";

/// The plan of a command.
// Built once per run: the size of the larger plans costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
pub enum Plan {
    Collect(CollectPlan),
    Verify(VerifyPlan),
    /// `dossier collectors` (`--json`).
    Collectors(bool),
    Analyze(AnalyzePlan),
    Baseline(BaselinePlan),
    Rules(RulesPlan),
    Timeline(crate::timeline::TimelinePlan),
    Sweep(SweepRun),
    Plugins(PluginsPlan),
    Playbooks(PlaybooksPlan),
    Keygen(KeygenPlan),
    Contain(crate::contain::ContainPlan),
    Actions(crate::contain::ActionsPlan),
    Restore(crate::contain::RestorePlan),
    Import(crate::import::ImportPlan),
    Export(crate::export::ExportPlan),
    Merge(crate::merge::MergePlan),
    /// `dossier completions SHELL`.
    Completions(clap_complete::Shell),
    /// `dossier man [--out DIR]`: the folder, or `None` for the top page on stdout.
    Man(Option<PathBuf>),
}

/// `dossier keygen`.
pub struct KeygenPlan {
    /// The directory for the key files (checked or created 0700).
    pub out: PathBuf,
    pub passphrase: String,
}

/// `dossier collect`.
pub struct CollectPlan {
    /// The mounted image or directory tree (a directory), or `None` for the running system.
    pub root: Option<PathBuf>,
    /// The output folder (the local staging folder with `--out s3://...`).
    pub out: PathBuf,
    /// With `--out s3://...`: where the output goes once written.
    pub upload: Option<crate::store::Upload>,
    pub custody: Custody,
    pub playbook: Playbook,
    pub registry: Registry,
    pub quiet: bool,
    /// Analyze the bundle once written (not `--no-analyze`).
    pub analyze: bool,
}

/// `dossier verify`.
pub struct VerifyPlan {
    pub bundles: Vec<PathBuf>,
    /// Check and append to the custody ledger beside each bundle (not `--no-ledger`).
    pub ledger: bool,
    /// Trusted public keys (`--pubkey`): when any, each bundle's signature is checked.
    pub pubkeys: Vec<TrustedKey>,
    /// `--require-signature`.
    pub require_signature: bool,
    /// `--tsa-cert`: when any, each bundle's timestamp token is checked.
    pub tsa_certs: dossier_bundle::timestamp::TsaCerts,
    /// `--identity`: decrypt encrypted bundles to check their contents too.
    pub identities: Identities,
    /// `--json`: one JSON document on stdout instead of text.
    pub json: bool,
}

/// `dossier analyze`.
pub struct AnalyzePlan {
    pub bundles: Vec<PathBuf>,
    pub out: PathBuf,
    pub playbook: Playbook,
    pub registry: Registry,
    pub baseline: Option<BaselineIndex>,
    /// Trusted public keys (`--pubkey`, `--trusted-keys`): when any, only bundles whose
    /// signature verifies are analyzed.
    pub keys: Vec<TrustedKey>,
    /// `--identity`: decrypts encrypted bundles.
    pub identities: Identities,
    /// `--json`: one JSON document on stdout instead of text.
    pub json: bool,
}

/// `dossier baseline`.
pub struct BaselinePlan {
    pub bundles: Vec<PathBuf>,
    /// The baseline file to write.
    pub out: PathBuf,
    pub playbook: Playbook,
    pub registry: Registry,
}

/// `dossier rules`.
pub struct RulesPlan {
    pub playbook: Playbook,
    pub registry: Registry,
    /// Each rule's description and false positives too.
    pub long: bool,
    /// `--json`: one JSON document on stdout instead of text.
    pub json: bool,
}

/// `dossier sweep`: the sweep itself and what follows it.
pub struct SweepRun {
    pub sweep: SweepPlan,
    pub registry: Registry,
    /// Used by the analysis (`None` with `--no-analyze`).
    pub baseline: Option<BaselineIndex>,
    /// Analyze the bundles once collected (not `--no-analyze`).
    pub analyze: bool,
    pub quiet: bool,
    /// `--json`: one JSON document on stdout instead of text.
    pub json: bool,
}

/// `dossier plugins`.
pub struct PluginsPlan {
    pub registry: Registry,
    /// `--json`: one JSON document on stdout instead of text.
    pub json: bool,
}

/// `dossier playbooks`.
pub enum PlaybooksPlan {
    /// List the built-in playbooks (`--json`: as one JSON document).
    List(bool),
    /// Print a built-in playbook or a playbook file (a name or path, read when printed).
    Show(String),
}

/// Turns a parsed command line into its plan.
pub fn plan(command: Command) -> anyhow::Result<Plan> {
    Ok(match command {
        Command::Collect(a) => Plan::Collect(collect(a)?),
        Command::Verify(a) => Plan::Verify(verify(a)?),
        Command::Collectors(a) => Plan::Collectors(a.json),
        Command::Analyze(a) => Plan::Analyze(analyze(a)?),
        Command::Baseline(a) => Plan::Baseline(baseline(a)?),
        Command::Rules(a) => Plan::Rules(rules(a)?),
        Command::Timeline(a) => Plan::Timeline(timeline(a)?),
        Command::Sweep(a) => Plan::Sweep(sweep(a)?),
        Command::Plugins(a) => Plan::Plugins(plugins(a)?),
        Command::Playbooks(a) => Plan::Playbooks(playbooks(a)),
        Command::Keygen(a) => Plan::Keygen(keygen(a)?),
        Command::Contain(a) => Plan::Contain(contain(a)?),
        Command::Actions(a) => Plan::Actions(crate::contain::plan_actions(a)?),
        Command::Restore(a) => Plan::Restore(restore(a)?),
        Command::Import(a) => Plan::Import(import(a)?),
        Command::Export(a) => Plan::Export(crate::export::plan(a)?),
        Command::Merge(a) => Plan::Merge(merge(a)?),
        Command::Completions(a) => Plan::Completions(a.shell),
        Command::Man(a) => {
            if let Some(out) = &a.out {
                inputs::out_dir("--out", out)?;
            }
            Plan::Man(a.out)
        }
    })
}

fn import(a: crate::args::ImportArgs) -> anyhow::Result<crate::import::ImportPlan> {
    let format = a
        .format
        .as_deref()
        .map(crate::import::parse_format)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    if let Some(h) = &a.host {
        anyhow::ensure!(
            !h.is_empty() && h.len() <= 253 && !h.chars().any(|c| c.is_control() || c == '/'),
            "--host {h:?}: not a host name"
        );
    }
    for f in &a.files {
        inputs::input_file(
            "source file",
            f,
            "give exported telemetry files (Defender for Endpoint CSV or JSON, audit.log, journalctl -o json)",
        )?;
    }
    inputs::out_dir("--out", &a.out)?;
    let mut custody = custody(a.case, a.examiner)?;
    custody.signer = signer(a.sign.as_deref())?;
    custody.tsa = a
        .tsa
        .as_deref()
        .map(crate::tsa::TsaUrl::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    custody.recipients = recipients(&a.encrypt_to)?;
    Ok(crate::import::ImportPlan {
        files: a.files,
        format,
        host: a.host,
        out: a.out,
        custody,
        quiet: a.quiet,
    })
}

/// Loads the plugins of `--plugin`, `DOSSIER_PLUGIN_PATH` (with `--plugin-env`) and the
/// per-user directory.
fn registry(flags: &[PathBuf], use_env: bool) -> anyhow::Result<Registry> {
    let r = Registry::load(flags, use_env)?;
    r.print_warnings();
    Ok(r)
}

/// The plugins, then the playbook of `--playbook` validated against them.
fn registry_and_playbook(
    (flags, use_env): (&[PathBuf], bool),
    spec: Option<&str>,
) -> anyhow::Result<(Registry, Playbook)> {
    if let Some(s) = spec {
        inputs::playbook_file(s)?;
    }
    let registry = registry(flags, use_env)?;
    let playbook = playbook::load(spec, &registry)?;
    registry.set_limits(&playbook.plugin_limits);
    Ok((registry, playbook))
}

/// `--case` or `--examiner`: at most 256 characters, none a control character.
fn check_text(what: &str, v: Option<String>) -> anyhow::Result<Option<String>> {
    match v {
        Some(s) if s.len() > 256 || s.chars().any(char::is_control) => {
            anyhow::bail!("--{what} must be at most 256 characters without control characters")
        }
        other => Ok(other),
    }
}

/// `--case` and `--examiner`, checked.
fn custody(case: Option<String>, examiner: Option<String>) -> anyhow::Result<Custody> {
    Ok(Custody {
        case_id: check_text("case", case)?,
        examiner: check_text("examiner", examiner)?,
        signer: None,
        tsa: None,
        recipients: None,
    })
}

fn collect(a: CollectArgs) -> anyhow::Result<CollectPlan> {
    if let Some(r) = &a.root {
        inputs::root_dir(r)?;
    }
    let (out, upload) = crate::store::out("--out", &a.out)?;
    let (registry, playbook) =
        registry_and_playbook((&a.plugins, a.plugin_env), a.playbook.as_deref())?;
    let mut custody = custody(a.case, a.examiner)?;
    custody.signer = signer(a.sign.as_deref())?;
    custody.tsa = a
        .tsa
        .as_deref()
        .map(crate::tsa::TsaUrl::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    custody.recipients = recipients(&a.encrypt_to)?;
    Ok(CollectPlan {
        registry,
        root: a.root,
        out,
        upload,
        analyze: analyze_unless_encrypted(!a.no_analyze, &custody),
        custody,
        playbook: playbook.with_lang(a.lang),
        quiet: a.quiet,
    })
}

fn verify(a: VerifyArgs) -> anyhow::Result<VerifyPlan> {
    inputs::bundles(&a.bundles)?;
    let pubkeys = trusted_keys(&a.pubkeys, a.trusted_keys.as_deref())?;
    if a.require_signature && pubkeys.is_empty() {
        anyhow::bail!("--require-signature needs --pubkey or --trusted-keys");
    }
    Ok(VerifyPlan {
        bundles: a.bundles,
        ledger: !a.no_ledger,
        pubkeys,
        require_signature: a.require_signature,
        tsa_certs: {
            inputs::input_files("--tsa-cert", &a.tsa_certs, inputs::hint::TSA_CERT)?;
            dossier_bundle::timestamp::TsaCerts::load(&a.tsa_certs)?
        },
        identities: identities(&a.identities)?,
        json: a.json,
    })
}

/// The identities of `--identity`, each an existing file.
fn identities(paths: &[PathBuf]) -> anyhow::Result<Identities> {
    inputs::input_files("--identity", paths, inputs::hint::IDENTITY)?;
    Ok(Identities::load(paths)?)
}

/// The baseline of `--baseline`, an existing file.
fn load_baseline(path: &Path) -> anyhow::Result<BaselineIndex> {
    inputs::input_file("--baseline", path, inputs::hint::BASELINE)?;
    Ok(crate::baseline::load(path)?)
}

/// The keys of `--pubkey` (each a minisign `.pub` file) and `--trusted-keys` (a list).
fn trusted_keys(pubkeys: &[PathBuf], list: Option<&Path>) -> anyhow::Result<Vec<TrustedKey>> {
    inputs::input_files("--pubkey", pubkeys, inputs::hint::PUBKEY)?;
    if let Some(list) = list {
        inputs::input_file("--trusted-keys", list, inputs::hint::TRUSTED_KEYS)?;
    }
    let mut keys = pubkeys
        .iter()
        .map(|p| TrustedKey::load(p))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(list) = list {
        keys.extend(TrustedKey::load_list(list)?);
    }
    Ok(keys)
}

/// The recipients of `--encrypt-to` (none: bundles are not encrypted).
fn recipients(given: &[String]) -> anyhow::Result<Option<Arc<Recipients>>> {
    if given.is_empty() {
        return Ok(None);
    }
    Ok(Some(Arc::new(Recipients::parse(given)?)))
}

/// Whether to analyze what is collected: not when it is encrypted, since the reports would
/// put its contents on disk in the clear (and the identity is not here).
fn analyze_unless_encrypted(analyze: bool, custody: &Custody) -> bool {
    if analyze && custody.recipients.is_some() {
        eprintln!(
            "dossier: note: encrypted bundles are not analyzed here (reports would be plaintext); run `dossier analyze --identity KEY BUNDLE.zip.age` where the key is"
        );
        return false;
    }
    analyze
}

fn keygen(a: KeygenArgs) -> anyhow::Result<KeygenPlan> {
    inputs::out_dir("--out", &a.out)?;
    dossier_bundle::fsio::ensure_out_dir(&a.out)?;
    Ok(KeygenPlan {
        out: a.out,
        passphrase: passphrase(None)?,
    })
}

/// The passphrase of a signing key: from [`PASSPHRASE_ENV`], else asked for without echo
/// (twice for a new key, `key` `None`). A new key's passphrase may not be empty.
fn passphrase(key: Option<&Path>) -> anyhow::Result<String> {
    let given = match std::env::var(PASSPHRASE_ENV) {
        Ok(p) => p,
        Err(_) => match key {
            Some(k) => rpassword::prompt_password(format!(
                "dossier: passphrase of signing key {}: ",
                k.display()
            ))?,
            None => {
                let a = rpassword::prompt_password("dossier: passphrase for the new key: ")?;
                let b = rpassword::prompt_password("dossier: the same passphrase again: ")?;
                anyhow::ensure!(a == b, "the passphrases differ");
                a
            }
        },
    };
    anyhow::ensure!(
        key.is_some() || !given.is_empty(),
        "a new key needs a passphrase (set {PASSPHRASE_ENV} or type one)"
    );
    Ok(given)
}

/// The signing key of `--sign`, unlocked before anything is collected.
fn signer(key: Option<&Path>) -> anyhow::Result<Option<Arc<SigningKey>>> {
    let Some(key) = key else { return Ok(None) };
    inputs::input_file("--sign", key, inputs::hint::SIGN)?;
    let pass = passphrase(Some(key))?;
    Ok(Some(Arc::new(SigningKey::load(key, &pass)?)))
}

fn analyze(a: AnalyzeArgs) -> anyhow::Result<AnalyzePlan> {
    inputs::bundles(&a.bundles)?;
    inputs::out_dir("--out", &a.out)?;
    let (registry, playbook) =
        registry_and_playbook((&a.plugins, a.plugin_env), a.playbook.as_deref())?;
    let baseline = a.baseline.as_deref().map(load_baseline).transpose()?;
    let keys = trusted_keys(&a.pubkeys, a.trusted_keys.as_deref())?;
    Ok(AnalyzePlan {
        bundles: a.bundles,
        out: a.out,
        playbook: playbook.with_lang(a.lang),
        registry,
        baseline,
        keys,
        identities: identities(&a.identities)?,
        json: a.json,
    })
}

fn baseline(a: BaselineArgs) -> anyhow::Result<BaselinePlan> {
    inputs::bundles(&a.bundles)?;
    inputs::out_file("--out", &a.out)?;
    let (registry, playbook) =
        registry_and_playbook((&a.plugins, a.plugin_env), a.playbook.as_deref())?;
    Ok(BaselinePlan {
        bundles: a.bundles,
        out: a.out,
        playbook,
        registry,
    })
}

fn rules(a: RulesArgs) -> anyhow::Result<RulesPlan> {
    let (registry, playbook) =
        registry_and_playbook((&a.plugins, a.plugin_env), a.playbook.as_deref())?;
    Ok(RulesPlan {
        playbook,
        registry,
        long: a.long,
        json: a.json,
    })
}

fn timeline(a: TimelineArgs) -> anyhow::Result<crate::timeline::TimelinePlan> {
    use crate::timeline::Output;
    let out = if a.out.as_os_str() == "-" {
        Output::Stdout
    } else {
        if a.out.is_dir() {
            anyhow::bail!(
                "--out {}: a directory; name the timeline file",
                a.out.display()
            );
        }
        if a.out.extension().is_none_or(|e| e != "jsonl") {
            eprintln!(
                "dossier: note: Timesketch imports only files named *.jsonl; {} is not",
                a.out.display()
            );
        }
        inputs::out_file("--out", &a.out)?;
        Output::File(a.out)
    };
    anyhow::ensure!(
        (1..=1 << 20).contains(&a.sort_memory),
        "--sort-memory must be between 1 and 1048576 MiB"
    );
    Ok(crate::timeline::TimelinePlan {
        bundles: a.bundles,
        out,
        identities: identities(&a.identities)?,
        keys: trusted_keys(&a.pubkeys, a.trusted_keys.as_deref())?,
        budget: a.sort_memory << 20,
    })
}

fn sweep(a: SweepArgs) -> anyhow::Result<SweepRun> {
    if a.resume && a.out.to_str().is_some_and(|o| o.starts_with("s3://")) {
        anyhow::bail!(
            "--resume keeps the bundles of an output folder; with --out s3://... give each run its own prefix"
        );
    }
    let (out, upload) = crate::store::out("--out", &a.out)?;
    if let Some(c) = a
        .ssh
        .ssh_config
        .as_deref()
        .filter(|c| *c != Path::new("/dev/null"))
    {
        inputs::input_file("--ssh-config", c, inputs::hint::SSH_CONFIG)?;
    }
    for h in &a.hosts {
        inputs::input_file(
            "--hosts",
            h,
            "give a file with one target a line, or an Ansible INI inventory",
        )?;
    }
    let (registry, playbook) =
        registry_and_playbook((&a.plugins, a.plugin_env), a.playbook.as_deref())?;
    let mut custody = custody(a.case.clone(), a.examiner.clone())?;
    custody.signer = signer(a.sign.as_deref())?;
    custody.tsa = a
        .tsa
        .as_deref()
        .map(crate::tsa::TsaUrl::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    custody.recipients = recipients(&a.encrypt_to)?;
    let analyze = analyze_unless_encrypted(!a.no_analyze, &custody);
    // A bad baseline stops the sweep before any connection.
    let baseline = match (&a.baseline, !analyze) {
        (Some(p), false) => Some(load_baseline(p)?),
        (Some(_), true) => {
            eprintln!("dossier: note: --baseline is not used with --no-analyze");
            None
        }
        _ => None,
    };
    let mut sweep = crate::sweep_plan::plan(&a, custody, playbook.with_lang(a.lang))?;
    sweep.out = out;
    sweep.upload = upload;
    Ok(SweepRun {
        sweep,
        registry,
        baseline,
        analyze,
        quiet: a.quiet,
        json: a.json,
    })
}

/// `dossier contain`: `--examiner` and `--sign` checked here, the rest by the command.
fn contain(a: crate::args::ContainArgs) -> anyhow::Result<crate::contain::ContainPlan> {
    if let Some(f) = &a.from {
        inputs::input_file("--from", f, inputs::hint::FINDINGS)?;
    }
    let examiner = check_text("examiner", a.case.examiner.clone())?;
    let signer = signer(a.case.sign.as_deref())?;
    crate::contain::plan_contain(a, examiner, signer)
}

/// `dossier restore`: `--examiner` and `--sign` checked here, the rest by the command.
fn restore(a: crate::args::RestoreArgs) -> anyhow::Result<crate::contain::RestorePlan> {
    let examiner = check_text("examiner", a.case.examiner.clone())?;
    let signer = signer(a.case.sign.as_deref())?;
    crate::contain::plan_restore(a, examiner, signer)
}

/// `dossier merge`: the plugins here, the folders and playbook by [`crate::merge::plan`].
fn merge(a: crate::args::MergeArgs) -> anyhow::Result<crate::merge::MergePlan> {
    let registry = registry(&a.plugins, a.plugin_env)?;
    crate::merge::plan(a, registry)
}

fn plugins(a: PluginsArgs) -> anyhow::Result<PluginsPlan> {
    Ok(PluginsPlan {
        registry: registry(&a.plugins, a.plugin_env)?,
        json: a.json,
    })
}

fn playbooks(a: PlaybooksArgs) -> PlaybooksPlan {
    match a.action {
        None => PlaybooksPlan::List(a.json),
        Some(PlaybooksAction::Show { name }) => PlaybooksPlan::Show(name),
    }
}
