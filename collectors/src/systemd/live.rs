//! The live state of units: from `systemctl list-units` when systemd is PID 1 and the host
//! allows running it, otherwise from the cgroups of the processes the `proc` collector saw.

use dossier_plugin_api::CollectContext;
use dossier_plugin_api::collect::IssueKind;
use dossier_plugin_api::host::{ExecLimits, FileKind};
use dossier_plugin_api::records::ProcessRecord;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// What runs: unit states and the processes of each unit.
#[derive(Default)]
pub(super) struct LiveStates {
    /// unit → (active, sub, source)
    pub(super) states: BTreeMap<String, (String, String, &'static str)>,
    pub(super) pids: BTreeMap<String, Vec<u32>>,
}

/// The live states of this host's units (`query_systemctl`: ask systemctl when it can).
pub(super) fn live_states(ctx: &mut CollectContext<'_>, query_systemctl: bool) -> LiveStates {
    let mut ls = LiveStates::default();
    for v in ctx.prior("proc") {
        if let Ok(p) = serde_json::from_value::<ProcessRecord>(strip_kind(v)) {
            if let Some(u) = p.systemd_unit {
                ls.pids.entry(u).or_default().push(p.pid);
            }
        }
    }
    let pid1_systemd = ctx
        .host()
        .read(Path::new("/proc/1/comm"), 64)
        .map(|r| r.data.starts_with(b"systemd"))
        .unwrap_or(false);
    if query_systemctl && pid1_systemd && ctx.host().info().can_exec {
        let limits = ExecLimits {
            max_output: 32 << 20,
            timeout: Duration::from_secs(30),
        };
        let prog = ["/usr/bin/systemctl", "/bin/systemctl"]
            .into_iter()
            .find(|p| {
                ctx.host()
                    .stat(Path::new(p))
                    .is_ok_and(|m| m.kind == FileKind::File)
            });
        if let Some(prog) = prog {
            let argv = [
                prog,
                "list-units",
                "--all",
                "--full",
                "--plain",
                "--no-legend",
                "--no-pager",
            ];
            match ctx.host().exec(&argv, &limits) {
                Ok(out) if out.status == Some(0) => {
                    for (unit, active, sub) in parse_list_units(&out.stdout) {
                        ls.states.insert(unit, (active, sub, "systemctl"));
                    }
                    ctx.log(&format!(
                        "active state from `{}` ({} units)",
                        argv.join(" "),
                        ls.states.len()
                    ));
                }
                Ok(out) => ctx.issue(
                    "systemctl",
                    IssueKind::Incomplete,
                    format!(
                        "systemctl list-units exited with {:?}: {}",
                        out.status,
                        String::from_utf8_lossy(&out.stderr).trim()
                    ),
                ),
                Err(e) => ctx.host_error(&e),
            }
        }
    }
    if ls.states.is_empty() {
        if !pid1_systemd {
            ctx.log("systemd is not PID 1: active state inferred from process cgroups only");
        }
        for u in ls.pids.keys() {
            ls.states
                .insert(u.clone(), ("active".into(), "running".into(), "cgroup"));
        }
    }
    ls
}

/// Parses `systemctl list-units --plain --no-legend` output: unit, load, active, sub, description.
pub fn parse_list_units(out: &[u8]) -> Vec<(String, String, String)> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let mut unit = it.next()?;
            if unit == "●" || unit == "*" {
                unit = it.next()?;
            }
            let _load = it.next()?;
            Some((
                unit.to_string(),
                it.next()?.to_string(),
                it.next()?.to_string(),
            ))
        })
        .collect()
}

/// A prior record without its `kind` tag, to read as its record type.
fn strip_kind(v: &serde_json::Value) -> serde_json::Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("kind");
    }
    v
}
