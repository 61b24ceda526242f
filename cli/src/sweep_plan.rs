//! Turns `dossier sweep` arguments into a validated [`SweepPlan`]: targets from the command
//! line and host files (plain lists or Ansible inventories), `~/.ssh/config` (HostName, User,
//! Port, IdentityFile, UserKnownHostsFile), credentials (key files, ssh-agent, a password
//! from an environment variable or a prompt, never from argv) and the known_hosts file.
//!
//! Precedence, as in OpenSSH: a user or port written in the target wins, then `--user` /
//! `--port`, then `~/.ssh/config`, then root and 22. Hosts whose configuration needs what
//! the transport cannot do (ProxyJump, ProxyCommand) are refused with that reason, not
//! silently reached directly.
//!
//! With `--shard K/N`, only the targets of that shard ([`crate::shard`]) are kept, once host
//! files are read and networks expanded into addresses and before anything is contacted (a
//! network's addresses outside the shard are not even probed).

use crate::args::{SshArgs, SweepArgs};
use crate::orchestrate::Custody;
use crate::shard::{self, Tally};
use crate::sweep::{Access, NetworkTarget, SweepPlan, SweepTarget};
use crate::text::sanitize;
use anyhow::{Context, bail};
use dossier_remote::ssh::{Secret, SshAuth, SshSettings, SshTarget};
use dossier_remote::ssh_config::SshConfig;
use dossier_remote::targets::{self, TargetSpec};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variable holding the passphrase of encrypted identity files.
pub const PASSPHRASE_ENV: &str = "DOSSIER_KEY_PASSPHRASE";

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.dir)
        })
        .unwrap_or_else(|| PathBuf::from("/root"))
}

/// Builds the plan; `custody` and `playbook` are validated by the caller.
pub fn plan(
    a: &SweepArgs,
    custody: Custody,
    playbook: crate::playbook::Playbook,
) -> anyhow::Result<SweepPlan> {
    check_flags(a)?;
    let home = home();
    let (config_path, config) = ssh_config(&a.ssh, &home)?;
    let (specs, skipped) = target_specs(a)?;
    let mut tally = a.shard.map(Tally::new);
    let targets = resolve(
        &a.ssh,
        specs,
        skipped,
        (&config, &config_path),
        tally.as_mut(),
    );
    let access = access(&a.ssh, &config, &home)?;
    Ok(SweepPlan {
        hosts: targets.hosts,
        networks: targets.networks,
        refused: targets.refused,
        auth: access.auth,
        explicit_identities: access.explicit_identities,
        settings: access.settings,
        jobs: a.jobs,
        deadline: Duration::from_secs(a.host_timeout),
        probe_timeout: Duration::from_millis(a.probe_timeout),
        out: a.out.clone(),
        upload: None,
        playbook,
        custody,
        resume: a.resume,
        shard: tally.map(|t| t.record()),
    })
}

/// The credentials and settings of the SSH options: `-i` or the default keys, a password from
/// the environment or a prompt, the known_hosts files, the timeouts.
fn access(a: &SshArgs, config: &SshConfig, home: &Path) -> anyhow::Result<Access> {
    for w in config.warnings() {
        eprintln!("dossier: warning: {}", sanitize(w));
    }
    let global = config.resolve("*");
    let known_hosts = a
        .known_hosts
        .clone()
        .or(global.known_hosts.clone())
        .unwrap_or_else(|| home.join(".ssh/known_hosts"));
    let identities = identities(a, home)?;
    let password = password(a)?;
    let passphrase = std::env::var(PASSPHRASE_ENV).ok().map(Secret::new);
    Ok(Access {
        auth: SshAuth {
            identities,
            use_agent: a.identities.is_empty(),
            passphrase,
            password,
        },
        explicit_identities: a.identities.clone(),
        settings: SshSettings {
            known_hosts,
            // Also checked, never written: the system-wide files OpenSSH reads, and the user's
            // second file.
            extra_known_hosts: [
                home.join(".ssh/known_hosts2"),
                PathBuf::from("/etc/ssh/ssh_known_hosts"),
                PathBuf::from("/etc/ssh/ssh_known_hosts2"),
            ]
            .into_iter()
            .filter(|p| p.is_file())
            .collect(),
            accept_new: a.accept_new,
            connect_timeout: Duration::from_secs(a.connect_timeout),
            op_timeout: Duration::from_secs(a.op_timeout),
            sudo: a.sudo,
        },
    })
}

/// Named SSH hosts (no networks, no host files) resolved as `sweep` resolves them, with their
/// credentials: what `contain` connects to. Targets refused by `~/.ssh/config` fail.
pub fn named_hosts(targets: &[String], a: &SshArgs) -> anyhow::Result<(Vec<SweepTarget>, Access)> {
    check_ssh_flags(a)?;
    let home = home();
    let (config_path, config) = ssh_config(a, &home)?;
    let mut specs = Vec::new();
    for t in targets {
        let spec = targets::parse_target(t)?;
        if matches!(spec, TargetSpec::Network { .. }) {
            bail!("target {t:?}: a network; name each host to contain");
        }
        specs.push(spec);
    }
    let r = resolve(
        a,
        targets::dedup(specs),
        Vec::new(),
        (&config, &config_path),
        None,
    );
    if let Some((spec, _, reason)) = r.refused.first() {
        bail!("target {spec}: {reason}");
    }
    Ok((r.hosts, access(a, &config, &home)?))
}

/// The flags checked on their own: jobs, timeouts, user, port.
fn check_flags(a: &SweepArgs) -> anyhow::Result<()> {
    if a.jobs == 0 || a.jobs > 256 {
        bail!("-j/--jobs must be between 1 and 256");
    }
    if a.host_timeout == 0 || a.probe_timeout == 0 {
        bail!("timeouts must be positive");
    }
    check_ssh_flags(&a.ssh)
}

/// The SSH options checked on their own: timeouts, user, port.
fn check_ssh_flags(a: &SshArgs) -> anyhow::Result<()> {
    if a.connect_timeout == 0 || a.op_timeout == 0 {
        bail!("timeouts must be positive");
    }
    if let Some(u) = &a.user {
        // The same rules as a user written in a target.
        targets::parse_target(&format!("{u}@localhost"))
            .map_err(|e| anyhow::anyhow!("--user {u:?}: {e}"))?;
    }
    if a.port == Some(0) {
        bail!("--port must be between 1 and 65535");
    }
    Ok(())
}

/// The SSH client configuration to honour, and where it is.
fn ssh_config(a: &SshArgs, home: &Path) -> anyhow::Result<(PathBuf, SshConfig)> {
    let config_path = a
        .ssh_config
        .clone()
        .unwrap_or_else(|| home.join(".ssh/config"));
    // `--ssh-config /dev/null` ignores the user's configuration, as `ssh -F /dev/null` does.
    let config = if config_path == Path::new("/dev/null") {
        SshConfig::empty()
    } else {
        SshConfig::load(&config_path).with_context(|| {
            format!("reading SSH client configuration {}", config_path.display())
        })?
    };
    Ok((config_path, config))
}

/// The targets of the command line and the host files, without duplicates, and the entries
/// of host files that were skipped.
fn target_specs(a: &SweepArgs) -> anyhow::Result<(Vec<TargetSpec>, Vec<targets::SkippedEntry>)> {
    let mut specs: Vec<TargetSpec> = Vec::new();
    for t in &a.targets {
        specs.push(targets::parse_target(t)?);
    }
    let mut skipped = Vec::new();
    for f in &a.hosts {
        let parsed = targets::load_hosts_file(f)?;
        specs.extend(parsed.targets);
        skipped.extend(parsed.skipped);
    }
    let specs = targets::dedup(specs);
    if specs.is_empty() {
        if a.targets.is_empty() && !a.hosts.is_empty() {
            let files: Vec<String> = a.hosts.iter().map(|f| f.display().to_string()).collect();
            bail!(
                "--hosts {}: no targets in it (only blank lines, comments or skipped entries); put one host, address or network a line",
                files.join(", ")
            );
        }
        bail!("no targets: name hosts, addresses or networks, or --hosts FILE");
    }
    Ok((specs, skipped))
}

/// Targets resolved with the flags and `~/.ssh/config`.
struct Resolved {
    hosts: Vec<SweepTarget>,
    networks: Vec<NetworkTarget>,
    /// Refused before any connection: (spec, outcome, reason).
    refused: Vec<(String, String, String)>,
}

/// Resolves every target: user, port, host name, identity and known_hosts files; hosts whose
/// configuration needs what the transport cannot do are refused. With a shard's `tally`, only
/// the targets of the shard are kept (and counted): hosts by their resolved `host:port`,
/// each address of a network by `address:port`, refused entries by the host they name.
fn resolve(
    a: &SshArgs,
    specs: Vec<TargetSpec>,
    skipped: Vec<targets::SkippedEntry>,
    (config, config_path): (&SshConfig, &Path),
    mut tally: Option<&mut Tally>,
) -> Resolved {
    let default_port = a.port.unwrap_or(22);
    let mut keep = |host: &str, port: u16| {
        tally
            .as_deref_mut()
            .is_none_or(|t| t.keep(&shard::key(host, port)))
    };
    let mut r = Resolved {
        hosts: Vec::new(),
        networks: Vec::new(),
        refused: skipped
            .into_iter()
            .filter(|s| keep(&s.name, default_port))
            .map(|s| {
                (
                    format!("{} ({})", s.name, s.origin),
                    "refused".to_string(),
                    s.reason,
                )
            })
            .collect(),
    };
    for spec in specs {
        match &spec {
            TargetSpec::Host(t) => match host_target(a, t, config, config_path) {
                Ok(h) => {
                    if keep(&h.ssh.host, h.ssh.port) {
                        r.hosts.push(h);
                    }
                }
                Err(refusal) => {
                    if keep(&t.host, t.port.unwrap_or(default_port)) {
                        r.refused.push(refusal);
                    }
                }
            },
            TargetSpec::Network { user, port, .. } => {
                let net_port = port.or(a.port).unwrap_or(22);
                let addresses: Vec<_> = spec
                    .addresses()
                    .filter(|ip| keep(&ip.to_string(), net_port))
                    .collect();
                r.networks.push(NetworkTarget {
                    spec: spec.to_string(),
                    addresses,
                    user: user
                        .clone()
                        .or_else(|| a.user.clone())
                        .unwrap_or_else(|| "root".into()),
                    port: net_port,
                });
            }
        }
    }
    r
}

/// One host target resolved: a user or port in the target, then --user/--port, then the
/// config file; or why it is refused (spec, outcome, reason).
fn host_target(
    a: &SshArgs,
    t: &targets::Target,
    config: &SshConfig,
    config_path: &Path,
) -> Result<SweepTarget, (String, String, String)> {
    let hc = config.resolve_with(
        &t.host,
        t.user.as_deref().or(a.user.as_deref()),
        t.port.or(a.port),
    );
    if !hc.unsupported.is_empty() {
        return Err((
            t.spec.clone(),
            "refused".into(),
            format!(
                "{} in {}: not supported by dossier's SSH transport (no proxying); \
                 run dossier from a host with direct access",
                hc.unsupported.join(", "),
                config_path.display()
            ),
        ));
    }
    let ssh = SshTarget {
        spec: t.spec.clone(),
        host: hc.hostname.clone().unwrap_or_else(|| t.host.clone()),
        port: hc.port.unwrap_or(22),
        user: hc.user.clone().unwrap_or_else(|| "root".into()),
    };
    for w in &hc.warnings {
        eprintln!("dossier: warning: {}: {}", t.spec, sanitize(w));
    }
    Ok(SweepTarget {
        ssh,
        identities: hc.identity_files.clone(),
        via: None,
        identities_only: hc.identities_only,
        known_hosts: if a.known_hosts.is_some() {
            None
        } else {
            hc.known_hosts.clone()
        },
    })
}

/// The identity files of `-i` (each must exist), else the default ones of `~/.ssh`.
fn identities(a: &SshArgs, home: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut identities = a.identities.clone();
    for id in &identities {
        if !id.is_file() {
            bail!("--identity {}: no such file", id.display());
        }
    }
    if identities.is_empty() {
        for n in ["id_ed25519", "id_ecdsa", "id_rsa"] {
            let p = home.join(".ssh").join(n);
            if p.is_file() {
                identities.push(p);
            }
        }
    }
    Ok(identities)
}

/// The login password: from the environment variable of `--password-env`, or asked once.
fn password(a: &SshArgs) -> anyhow::Result<Option<Secret>> {
    Ok(if let Some(var) = &a.password_env {
        Some(Secret::new(std::env::var(var).map_err(|_| {
            anyhow::anyhow!("--password-env {var}: the variable is not set")
        })?))
    } else if a.ask_password {
        Some(Secret::new(
            rpassword::prompt_password("dossier: SSH password: ")
                .context("reading the password from the terminal")?,
        ))
    } else {
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::Shard;

    fn ssh_args() -> SshArgs {
        SshArgs {
            user: None,
            port: None,
            identities: vec![],
            known_hosts: None,
            accept_new: false,
            ssh_config: None,
            password_env: None,
            ask_password: false,
            sudo: false,
            connect_timeout: 10,
            op_timeout: 30,
        }
    }

    /// Hosts, the addresses of a network and a skipped inventory entry, resolved for `shard`.
    fn resolved(shard: Option<Shard>) -> (Resolved, Option<Tally>) {
        let mut specs: Vec<TargetSpec> = (0..20)
            .map(|i| targets::parse_target(&format!("web{i}.corp")).unwrap())
            .collect();
        specs.push(targets::parse_target("10.9.0.0/28").unwrap());
        let skipped = vec![targets::SkippedEntry {
            name: "winbox".into(),
            origin: "hosts.ini:3".into(),
            reason: "ansible_connection=winrm: not an SSH target".into(),
        }];
        let mut tally = shard.map(Tally::new);
        let r = resolve(
            &ssh_args(),
            specs,
            skipped,
            (&SshConfig::empty(), Path::new("/dev/null")),
            tally.as_mut(),
        );
        (r, tally)
    }

    #[test]
    fn shards_split_hosts_addresses_and_refusals_before_any_connection() {
        let (all, none) = resolved(None);
        assert!(none.is_none());
        let total = all.hosts.len() + all.networks[0].addresses.len() + all.refused.len();
        let mut hosts = Vec::new();
        let mut addresses = Vec::new();
        let mut refused = 0;
        for index in 0..3 {
            let (r, tally) = resolved(Some(Shard { index, count: 3 }));
            let rec = tally.unwrap().record();
            let kept = r.hosts.len() + r.networks[0].addresses.len() + r.refused.len();
            assert_eq!((rec.kept, rec.of), (kept, total));
            for h in &r.hosts {
                assert_eq!(
                    crate::shard::shard_of(&crate::shard::key(&h.ssh.host, 22), 3),
                    index
                );
            }
            hosts.extend(r.hosts.into_iter().map(|h| h.ssh.host));
            addresses.extend(r.networks[0].addresses.iter().copied());
            refused += r.refused.len();
        }
        // Every target in exactly one shard.
        hosts.sort();
        let mut want: Vec<String> = all.hosts.iter().map(|h| h.ssh.host.clone()).collect();
        want.sort();
        assert_eq!(hosts, want);
        addresses.sort();
        assert_eq!(addresses, all.networks[0].addresses);
        assert_eq!(refused, 1);
    }
}
