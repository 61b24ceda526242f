//! Loader variables in units: `Environment=LD_PRELOAD=...` / `LD_LIBRARY_PATH` / `LD_AUDIT`
//! in unit files and drop-ins (and in the files `EnvironmentFile=` names), judged by the
//! library they load.

use super::common::*;
use crate::config::AnalysisConfig;
use crate::context::what;
use crate::context::{At, Ctx};
use crate::input::BundleInput;
use dossier_plugin_api::analysis::{Finding, Ioc, Message};
use dossier_plugin_api::records::UnitRecord;

/// Where libraries normally live.
const LIB_DIRS: &[&str] = &[
    "/usr/lib",
    "/lib",
    "/usr/local/lib",
    "/opt/",
    "/usr/lib64",
    "/lib64",
];

/// `(variable, value, where)` of every loader variable a unit sets.
pub fn loader_vars(u: &UnitRecord) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for v in u
        .properties
        .get("Service.Environment")
        .into_iter()
        .flatten()
    {
        for a in shell_words(v) {
            if let Some((k, val)) = a.split_once('=') {
                if matches!(k, "LD_PRELOAD" | "LD_LIBRARY_PATH" | "LD_AUDIT") {
                    out.push((k.to_string(), val.to_string(), "Environment=".to_string()));
                }
            }
        }
    }
    for a in &u.env_file_ld {
        if let Some((k, val)) = a.split_once('=') {
            out.push((
                k.to_string(),
                val.to_string(),
                "EnvironmentFile=".to_string(),
            ));
        }
    }
    out
}

/// Words of an `Environment=` value (double or single quotes group, as systemd reads them).
fn shell_words(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in v.chars() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            (_, c) => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Behaviour (`Ok`) or context (`Err`) reading of one library or directory, if any.
fn judge(ctx: &Ctx, var: &str, path: &str) -> Option<Result<Message, Message>> {
    if !path.starts_with('/') {
        return None;
    }
    if let Some(why) = unusual_location_msg(path) {
        return Some(Ok(why));
    }
    if var == "LD_LIBRARY_PATH" {
        return None;
    }
    let standard = LIB_DIRS.iter().any(|d| path.starts_with(d));
    let reason = |what: &str| Message::new(format!("reason.unitenv.{what}"));
    match ctx.verified(path).map(|v| v.rec.status.as_str()) {
        Some("missing") => Some(Ok(reason("library-missing"))),
        Some("mismatch") => Some(Ok(reason("library-changed"))),
        Some("not_owned") if !standard => Some(Ok(reason("unowned-outside"))),
        Some("not_owned") => Some(Err(reason("unowned"))),
        _ => None,
    }
}

fn findings(ctx: &Ctx, behaviour: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in &ctx.units {
        for (var, val, from) in loader_vars(&u.rec) {
            for path in val.split([':', ' ']).filter(|p| !p.is_empty()) {
                let why = match (judge(ctx, &var, path), behaviour) {
                    (Some(Ok(w)), true) | (Some(Err(w)), false) => w,
                    _ => continue,
                };
                out.push(unit_finding(ctx, u, &var, path, &from, why));
            }
        }
    }
    out
}

fn unit_finding(
    ctx: &Ctx,
    u: &At<UnitRecord>,
    var: &str,
    path: &str,
    from: &str,
    why: Message,
) -> Finding {
    let mut ev = ctx.ev(
        u,
        what("evidence.unit", &[("name", &u.rec.name)]),
        Some(&u.rec.source),
    );
    if let Some(v) = ctx.verified(path) {
        ev.extend(ctx.ev(
            v,
            what("evidence.package-verify", &[("path", &path)]),
            v.rec.copy.as_ref(),
        ));
    }
    let mut iocs = vec![Ioc::Unit(u.rec.name.clone()), Ioc::Path(path.to_string())];
    iocs.extend(
        ctx.verified(path)
            .and_then(|v| v.rec.sha256.clone())
            .map(Ioc::Sha256),
    );
    explained(
        format!("unit {}", u.rec.name),
        Message::new("finding.unitenv.loader-var")
            .text("unit", &u.rec.name)
            .text("var", var)
            .text("path", path)
            .text("from", from)
            .msg("why", why),
        ev,
        iocs,
    )
}

/// [`unit_ld_preload_findings`], each with the fact it reports.
pub(crate) fn unit_ld_preload(
    ctx: &Ctx,
    cfg: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    unit_ld_preload_findings(ctx, cfg, input)
        .into_iter()
        .map(|f| {
            let fact = format!(
                "ld-preload:{}:{}",
                f.subject,
                f.iocs
                    .iter()
                    .find_map(|i| match i {
                        Ioc::Path(p) => Some(p.as_str()),
                        _ => None,
                    })
                    .unwrap_or("")
            );
            f.with_fact(fact)
        })
        .collect()
}

fn unit_ld_preload_findings(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    findings(ctx, true)
}

pub(crate) fn unit_ld_preload_context(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    findings(ctx, false)
}

#[cfg(test)]
mod tests {
    use crate::config::AnalysisConfig;
    use crate::engine::analyze;
    use crate::testkit::input;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn unit(name: &str, env: &[&str], env_file: &[&str]) -> serde_json::Value {
        json!({"kind": "unit", "name": name, "unit_type": "service", "scope": "system", "path": format!("/etc/systemd/system/{name}"),
            "unit_dir": "/etc/systemd/system", "source": {"path": "x"}, "enabled": true, "exec_start": ["/usr/sbin/x"],
            "properties": {"Service.Environment": env}, "env_file_ld": env_file})
    }

    #[test]
    fn odd_preloads_are_behaviour_packaged_ones_nothing() {
        let mut r = BTreeMap::new();
        r.insert(
            "systemd".to_string(),
            vec![
                (
                    1,
                    unit("a.service", &["\"LD_PRELOAD=/dev/shm/.l.so\" X=1"], &[]),
                ),
                (
                    2,
                    unit(
                        "b.service",
                        &[],
                        &["LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"],
                    ),
                ),
                (
                    3,
                    unit("c.service", &["LD_PRELOAD=/usr/local/lib/libhook.so"], &[]),
                ),
                (4, unit("d.service", &["LD_PRELOAD=/srv/app/libx.so"], &[])),
                (5, unit("e.service", &["LD_LIBRARY_PATH=/opt/app/lib"], &[])),
            ],
        );
        r.insert(
            "packages".to_string(),
            vec![
                (0, json!({"kind": "package", "manager": "dpkg", "name": "libjemalloc2", "version": "5", "source": {"path": "/var/lib/dpkg/status"}})),
                (1, json!({"kind": "package_verify", "path": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "status": "ok", "referenced_by": ["LD_PRELOAD of unit b.service"]})),
                (2, json!({"kind": "package_verify", "path": "/usr/local/lib/libhook.so", "status": "not_owned", "referenced_by": ["LD_PRELOAD of unit c.service"]})),
                (3, json!({"kind": "package_verify", "path": "/srv/app/libx.so", "status": "missing", "referenced_by": ["LD_PRELOAD of unit d.service"]})),
            ],
        );
        let mut read = |_: &str, _: u64| -> Result<Vec<u8>, String> { Err("none".into()) };
        let mut inp = input(r, &mut read);
        let a = analyze(&mut inp, &AnalysisConfig::default());
        let of = |rule: &str| -> Vec<String> {
            a.findings
                .iter()
                .chain(&a.context)
                .filter(|f| f.rule == rule)
                .map(|f| f.subject.clone())
                .collect()
        };
        assert_eq!(of("unit-ld-preload"), ["unit a.service", "unit d.service"]);
        assert_eq!(of("unit-ld-preload-context"), ["unit c.service"]);
        assert!(
            of("exec-unowned").is_empty(),
            "a preloaded library is not a program"
        );
    }
}
