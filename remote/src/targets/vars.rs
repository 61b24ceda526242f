//! Inventory variables dossier uses (`ansible_host`, `ansible_port`, `ansible_user`,
//! `ansible_connection` and their old `ansible_ssh_*` names), and how group variables, the
//! host pattern and the host line's own variables combine.

use super::error::{TargetError, shown};
use super::parse::{normalize_host, parse_port, validate_user};
use super::target::TargetSpec;
use std::collections::BTreeMap;

/// Values of the inventory variables dossier uses, with the line that set them.
#[derive(Clone, Debug, Default)]
pub(super) struct Vars(pub(super) BTreeMap<&'static str, (String, usize)>);

impl Vars {
    pub(super) fn set(&mut self, key: &str, value: &str, line: usize) {
        if let Some(k) = canonical_var(key) {
            self.0.insert(k, (value.to_string(), line));
        }
    }
    pub(super) fn merge(&mut self, other: &Vars) {
        for (k, v) in &other.0 {
            self.0.insert(k, v.clone());
        }
    }
}

/// The variables that matter for a connection; `ansible_ssh_*` are old names of the same.
pub(super) fn canonical_var(key: &str) -> Option<&'static str> {
    Some(match key {
        "ansible_host" | "ansible_ssh_host" => "host",
        "ansible_port" | "ansible_ssh_port" => "port",
        "ansible_user" | "ansible_ssh_user" => "user",
        "ansible_connection" => "connection",
        _ => return None,
    })
}

/// Connection plugins that are SSH.
pub(super) const SSH_CONNECTIONS: &[&str] = &[
    "ssh",
    "smart",
    "paramiko",
    "paramiko_ssh",
    "ansible.builtin.ssh",
    "ansible.builtin.paramiko_ssh",
];

/// Applies group variables, the host pattern's own `user@`/`:port`, then host-line variables.
pub(super) fn apply_vars(
    file: &str,
    spec: TargetSpec,
    group_vars: &Vars,
    host_vars: &Vars,
) -> Result<TargetSpec, TargetError> {
    let at = |line: usize, message: String| TargetError::Inventory {
        file: file.to_string(),
        line,
        message,
    };
    let pick = |key: &str| host_vars.0.get(key).or_else(|| group_vars.0.get(key));
    let group_only = |key: &str| {
        if host_vars.0.contains_key(key) {
            None
        } else {
            group_vars.0.get(key)
        }
    };
    let user = |written: Option<String>| -> Result<Option<String>, TargetError> {
        match (host_vars.0.get("user"), written, group_only("user")) {
            (Some((u, line)), _, _) => validate_user(u)
                .map(Some)
                .map_err(|m| at(*line, format!("ansible_user: {m}"))),
            (None, Some(w), _) => Ok(Some(w)),
            (None, None, Some((u, line))) => validate_user(u)
                .map(Some)
                .map_err(|m| at(*line, format!("ansible_user: {m}"))),
            (None, None, None) => Ok(None),
        }
    };
    let port = |written: Option<u16>| -> Result<Option<u16>, TargetError> {
        match (host_vars.0.get("port"), written, group_only("port")) {
            (Some((p, line)), _, _) => parse_port(p)
                .map(Some)
                .map_err(|m| at(*line, format!("ansible_port: {m}"))),
            (None, Some(w), _) => Ok(Some(w)),
            (None, None, Some((p, line))) => parse_port(p)
                .map(Some)
                .map_err(|m| at(*line, format!("ansible_port: {m}"))),
            (None, None, None) => Ok(None),
        }
    };
    match spec {
        TargetSpec::Host(mut t) => {
            if let Some((h, line)) = pick("host") {
                if h.starts_with('[') || h.contains('@') || h.matches(':').count() == 1 {
                    return Err(at(
                        *line,
                        format!(
                            "ansible_host {}: expected a host name or an IP address",
                            shown(h)
                        ),
                    ));
                }
                t.host = normalize_host(h)
                    .map_err(|m| at(*line, format!("ansible_host {}: {m}", shown(h))))?;
            }
            t.user = user(t.user.take())?;
            t.port = port(t.port)?;
            Ok(TargetSpec::Host(t))
        }
        TargetSpec::Network {
            net,
            user: u,
            port: p,
        } => {
            if let Some((_, line)) = pick("host") {
                return Err(at(
                    *line,
                    format!("ansible_host cannot apply to the network {net}"),
                ));
            }
            Ok(TargetSpec::Network {
                net,
                user: user(u)?,
                port: port(p)?,
            })
        }
    }
}
