//! What `dossier contain TARGET...` acts on: each target named as `sweep` names them, with the
//! same SSH options ([`crate::args::SshArgs`]: user, port, identities, known_hosts,
//! `~/.ssh/config`, password), reached through [`SshActuator`] (strict host-key checking;
//! `--accept-new` is refused: a command that changes a host connects only to a host whose key
//! is already known); this machine ([`LocalActuator`]) when no target is named.
//!
//! Every target is connected (and its root access checked) before anything is planned, so a
//! target that cannot be reached, or a login without root or sudo, stops the command before
//! any change on any host.

use super::snapshot::Reach;
use crate::args::SshArgs;
use crate::sweep::{Access, SweepTarget, target_access};
use crate::sweep_plan;
use dossier_contain::{Actuator, LocalActuator};
use dossier_remote::actuate::SshActuator;
use dossier_remote::ssh::{SshAuth, SshSettings};

/// One connected target.
pub enum Connected {
    Local(LocalActuator),
    Ssh {
        actuator: Box<SshActuator>,
        auth: SshAuth,
        settings: SshSettings,
    },
}

impl Connected {
    /// The actuator every step of this host goes through.
    pub fn actuator(&mut self) -> &mut dyn Actuator {
        match self {
            Connected::Local(a) => a,
            Connected::Ssh { actuator, .. } => actuator.as_mut(),
        }
    }

    /// For an SSH target, how to open a new connection to it (an isolation is confirmed over
    /// one); `None` for this machine.
    pub fn fresh(&self) -> Option<super::ledger::Fresh> {
        match self {
            Connected::Local(_) => None,
            Connected::Ssh {
                actuator,
                auth,
                settings,
            } => {
                let (target, auth, settings) =
                    (actuator.target().clone(), auth.clone(), settings.clone());
                Some(Box::new(move || {
                    SshActuator::connect(&target, &auth, &settings).map_err(|e| e.to_string())
                }))
            }
        }
    }

    /// How a snapshot of this host is collected (its own connection for SSH).
    pub fn reach(&self) -> Reach<'_> {
        match self {
            Connected::Local(_) => Reach::Local,
            Connected::Ssh {
                actuator,
                auth,
                settings,
            } => Reach::Ssh {
                target: actuator.target(),
                auth,
                settings,
            },
        }
    }

    /// For an SSH target, where this session comes from as the target sees it (what an
    /// isolation of that target must keep reachable); `None` for this machine.
    pub fn session_peer(&mut self) -> anyhow::Result<Option<dossier_contain::Peer>> {
        match self {
            Connected::Local(_) => Ok(None),
            Connected::Ssh { actuator, .. } => Ok(Some(actuator.session_peer()?)),
        }
    }

    /// `local`, or `ssh:user@host:port`.
    pub fn label(&self) -> String {
        match self {
            Connected::Local(_) => "local".into(),
            Connected::Ssh { actuator, .. } => actuator.label(),
        }
    }
}

/// Checks the targets and SSH options without connecting: the hosts to reach (none: this
/// machine) and their credentials.
pub fn resolve(
    targets: &[String],
    ssh: &SshArgs,
) -> anyhow::Result<Option<(Vec<SweepTarget>, Access)>> {
    if targets.is_empty() {
        return Ok(None);
    }
    anyhow::ensure!(
        !ssh.accept_new,
        "--accept-new: dossier contain connects only to hosts whose key is already in \
         known_hosts (sweep them first, or add the key); nothing was changed"
    );
    Ok(Some(sweep_plan::named_hosts(targets, ssh)?))
}

/// Connects to every target (or this machine when none is named); the first that fails
/// stops the command, before any change.
pub fn connect(targets: &[String], ssh: &SshArgs) -> anyhow::Result<Vec<Connected>> {
    let Some((hosts, access)) = resolve(targets, ssh)? else {
        return Ok(vec![Connected::Local(LocalActuator::new())]);
    };
    let mut out = Vec::new();
    for t in &hosts {
        let (auth, settings) = target_access(&access, t);
        let actuator = SshActuator::connect(&t.ssh, &auth, &settings)
            .map_err(|e| anyhow::anyhow!("{e}; nothing was changed on any host"))?;
        out.push(Connected::Ssh {
            actuator: Box::new(actuator),
            auth,
            settings,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        targets: Vec<String>,
        #[command(flatten)]
        ssh: SshArgs,
    }

    fn parse(args: &[&str]) -> T {
        T::parse_from(std::iter::once("t").chain(args.iter().copied()))
    }

    #[test]
    fn targets_resolve_as_in_sweep_and_risky_ones_are_refused() {
        let t = parse(&[]);
        assert!(resolve(&t.targets, &t.ssh).unwrap().is_none(), "local");
        let t = parse(&[
            "ops@web01:2222",
            "db02",
            "--ssh-config",
            "/dev/null",
            "-u",
            "admin",
            "--known-hosts",
            "/nonexistent/kh",
        ]);
        let (hosts, access) = resolve(&t.targets, &t.ssh).unwrap().unwrap();
        let labels: Vec<String> = hosts.iter().map(|h| h.ssh.label()).collect();
        assert_eq!(labels, ["ssh:ops@web01:2222", "ssh:admin@db02:22"]);
        assert_eq!(
            access.settings.known_hosts,
            std::path::PathBuf::from("/nonexistent/kh")
        );
        assert!(!access.settings.accept_new);
        let t = parse(&["10.0.0.0/24", "--ssh-config", "/dev/null"]);
        let e = resolve(&t.targets, &t.ssh).err().unwrap().to_string();
        assert!(e.contains("a network; name each host"), "{e}");
        let t = parse(&["web01", "--accept-new", "--ssh-config", "/dev/null"]);
        let e = resolve(&t.targets, &t.ssh).err().unwrap().to_string();
        assert!(e.contains("--accept-new"), "{e}");
        let t = parse(&["--ssh-config", "/dev/null", "--", "-oProxyCommand=x"]);
        assert!(resolve(&t.targets, &t.ssh).is_err());
    }
}
