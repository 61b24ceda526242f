//! Files that run with privileges they were given: setuid/setgid files and file capabilities
//! outside package ownership, copies of shells, and packaged ones whose content changed.

use super::common::*;
use crate::config::AnalysisConfig;
use crate::context::what;
use crate::context::{At, Ctx, typed};
use crate::input::BundleInput;
use dossier_plugin_api::analysis::{Arg, Evidence, Finding, Ioc, Message};
use dossier_plugin_api::records::PrivilegedFileRecord;

/// Capabilities that amount to root (or to reading and changing anything).
pub const DANGEROUS_CAPS: &[&str] = &[
    "cap_setuid",
    "cap_setgid",
    "cap_sys_admin",
    "cap_dac_override",
    "cap_dac_read_search",
    "cap_sys_ptrace",
    "cap_sys_module",
    "cap_chown",
    "cap_fowner",
    "cap_setfcap",
    "cap_setpcap",
    "cap_sys_rawio",
    "cap_bpf",
];

/// Writable or temporary places a privileged file has no business in.
const WRITABLE: &[&str] = &["/home/", "/root/", "/srv/", "/var/"];

/// Package standing of a file: `Some(false)` unowned, `Some(true)` owned, `None` unknown.
fn owned(ctx: &Ctx, path: &str) -> Option<bool> {
    match ctx.verified(path) {
        Some(v) if v.rec.status == "not_owned" => Some(false),
        Some(_) => Some(true),
        None if ctx.has_package_db => Some(ctx.is_owned(path)),
        None => None,
    }
}

fn records(input: &BundleInput<'_>) -> Vec<At<PrivilegedFileRecord>> {
    typed(input, "privileged", "privileged_file")
}

fn ev(ctx: &Ctx, p: &At<PrivilegedFileRecord>) -> Vec<Evidence> {
    let mut ev = ctx.ev(
        p,
        what("evidence.privileged-file", &[("path", &p.rec.path)]),
        None,
    );
    if let Some(v) = ctx.verified(&p.rec.path) {
        ev.extend(ctx.ev(
            v,
            what("evidence.package-verify", &[("path", &p.rec.path)]),
            v.rec.copy.as_ref(),
        ));
    }
    ev
}

fn iocs(p: &PrivilegedFileRecord) -> Vec<Ioc> {
    let mut v = vec![Ioc::Path(p.path.clone())];
    v.extend(p.sha256.clone().map(Ioc::Sha256));
    v
}

/// What makes a privileged file worse, a writable or hidden place, a copy of a shell, as a
/// suffix for its explanation (`; it lives in /tmp; it is a byte-identical copy of
/// /usr/bin/bash`), or empty.
fn aggravating(p: &PrivilegedFileRecord) -> Arg {
    let mut v: Vec<Arg> = Vec::new();
    if let Some(why) = unusual_location_msg(&p.path) {
        v.push(why.into());
    } else if let Some(d) = WRITABLE.iter().find(|d| p.path.starts_with(*d)) {
        v.push(
            Message::new("reason.privileged.lives-under")
                .text("dir", d.trim_end_matches('/'))
                .into(),
        );
    }
    if let Some(c) = &p.copy_of {
        v.push(
            Message::new("reason.privileged.copy-of")
                .text("original", c)
                .into(),
        );
    }
    if v.is_empty() {
        return Arg::Text(String::new());
    }
    Message::new("reason.privileged.more")
        .list("items", v)
        .into()
}

/// The privileges a file gives (`setuid uid 0, capabilities cap_setuid=ep`).
fn privilege_words(p: &PrivilegedFileRecord) -> Arg {
    let mut w = Vec::new();
    if p.setuid {
        w.push(Message::new("reason.privileged.setuid").text("uid", p.meta.uid));
    }
    if p.setgid {
        w.push(Message::new("reason.privileged.setgid").text("gid", p.meta.gid));
    }
    if let Some(c) = &p.capabilities {
        w.push(Message::new("reason.privileged.capabilities").text("caps", &c.text));
    }
    comma_list(w)
}

/// A message about a privileged file: its path and what it gives.
fn about(id: &str, p: &PrivilegedFileRecord) -> Message {
    with_arg(
        Message::new(id).text("path", &p.path),
        "privileges",
        privilege_words(p),
    )
}

/// Adds what makes a privileged file worse to a message about it.
fn worse(m: Message, p: &PrivilegedFileRecord) -> Message {
    with_arg(m, "more", aggravating(p))
}

/// [`setuid_unowned_findings`], each with the fact it reports.
pub(crate) fn setuid_unowned(
    ctx: &Ctx,
    cfg: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    facts_by_subject(setuid_unowned_findings(ctx, cfg, input), "privileged-file")
}

fn setuid_unowned_findings(
    ctx: &Ctx,
    _: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    records(input)
        .iter()
        .filter(|p| (p.rec.setuid && p.rec.meta.uid == 0) || p.rec.setgid)
        .filter(|p| owned(ctx, &p.rec.path) == Some(false))
        .map(|p| {
            explained(
                p.rec.path.clone(),
                worse(
                    about("finding.privileged.setuid-unowned", &p.rec)
                        .text("mode", format!("{:04o}", p.rec.meta.mode)),
                    &p.rec,
                ),
                ev(ctx, p),
                iocs(&p.rec),
            )
        })
        .collect()
}

/// [`file_capability_dangerous_findings`], each with the fact it reports.
pub(crate) fn file_capability_dangerous(
    ctx: &Ctx,
    cfg: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    facts_by_subject(
        file_capability_dangerous_findings(ctx, cfg, input),
        "privileged-file",
    )
}

fn file_capability_dangerous_findings(
    ctx: &Ctx,
    _: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    records(input)
        .iter()
        .filter(|p| owned(ctx, &p.rec.path) == Some(false))
        .filter_map(|p| {
            let caps = p.rec.capabilities.as_ref()?;
            let bad: Vec<&str> = caps
                .permitted
                .iter()
                .map(String::as_str)
                .filter(|c| DANGEROUS_CAPS.contains(c))
                .collect();
            if bad.is_empty() {
                return None;
            }
            Some(explained(
                p.rec.path.clone(),
                worse(
                    Message::new("finding.privileged.capability-dangerous")
                        .text("path", &p.rec.path)
                        .text("caps", &caps.text)
                        .text("dangerous", bad.join(", ")),
                    &p.rec,
                ),
                ev(ctx, p),
                iocs(&p.rec),
            ))
        })
        .collect()
}

/// [`privileged_file_modified_findings`], each with the fact it reports.
pub(crate) fn privileged_file_modified(
    ctx: &Ctx,
    cfg: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    facts_by_subject(
        privileged_file_modified_findings(ctx, cfg, input),
        "file-modified",
    )
}

fn privileged_file_modified_findings(
    ctx: &Ctx,
    _: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    records(input)
        .iter()
        .filter_map(|p| {
            let v = ctx
                .verified(&p.rec.path)
                .filter(|v| v.rec.status == "mismatch")?;
            Some(explained(
                p.rec.path.clone(),
                about("finding.privileged.modified", &p.rec)
                    .text("package", v.rec.package.as_deref().unwrap_or("?"))
                    .text("actual", v.rec.actual.as_deref().unwrap_or("?"))
                    .text("expected", v.rec.expected.as_deref().unwrap_or("?")),
                ev(ctx, p),
                iocs(&p.rec),
            ))
        })
        .collect()
}

pub(crate) fn privileged_file_context(
    ctx: &Ctx,
    _: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    records(input)
        .iter()
        .filter(|p| owned(ctx, &p.rec.path) == Some(false))
        .filter(|p| {
            let root_id = (p.rec.setuid && p.rec.meta.uid == 0) || p.rec.setgid;
            let bad_caps = p.rec.capabilities.as_ref().is_some_and(|c| {
                c.permitted
                    .iter()
                    .any(|n| DANGEROUS_CAPS.contains(&n.as_str()))
            });
            !root_id && !bad_caps
        })
        .map(|p| {
            explained(
                p.rec.path.clone(),
                about("finding.privileged.unowned", &p.rec),
                ev(ctx, p),
                iocs(&p.rec),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::config::AnalysisConfig;
    use crate::engine::analyze;
    use crate::testkit::input;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn pf(path: &str, mode: u32, caps: Option<&str>, copy_of: Option<&str>) -> serde_json::Value {
        let setuid = mode & 0o4000 != 0;
        let setgid = mode & 0o2000 != 0;
        let mut v = json!({"kind": "privileged_file", "path": path, "setuid": setuid, "setgid": setgid,
            "meta": {"kind": "file", "mode": mode, "uid": 0, "gid": 0, "size": 10}, "sha256": "ab", "copy_of": copy_of});
        if let Some(c) = caps {
            v["capabilities"] = json!({"revision": 2, "effective": true, "permitted": [c], "text": format!("{c}=ep")});
        }
        v
    }

    fn verify(path: &str, status: &str) -> serde_json::Value {
        json!({"kind": "package_verify", "path": path, "status": status, "package": if status == "not_owned" { None } else { Some("iputils-ping") },
               "expected": "1", "actual": "2", "referenced_by": ["setuid file"]})
    }

    #[test]
    fn unowned_setuid_and_dangerous_caps_are_behaviour_packaged_ping_is_nothing() {
        let mut r = BTreeMap::new();
        r.insert(
            "privileged".to_string(),
            vec![
                (
                    1,
                    pf("/var/tmp/.x/bash", 0o4755, None, Some("/usr/bin/bash")),
                ),
                (2, pf("/usr/bin/ping", 0o755, Some("cap_net_raw"), None)),
                (3, pf("/opt/tool/bin/t", 0o755, Some("cap_setuid"), None)),
                (
                    4,
                    pf(
                        "/opt/exporter/bin/exp",
                        0o755,
                        Some("cap_net_bind_service"),
                        None,
                    ),
                ),
                (5, pf("/usr/bin/passwd", 0o4755, None, None)),
            ],
        );
        r.insert(
            "packages".to_string(),
            vec![
                (1, json!({"kind": "package", "manager": "dpkg", "name": "iputils-ping", "version": "1", "source": {"path": "/var/lib/dpkg/status"}})),
                (2, verify("/var/tmp/.x/bash", "not_owned")),
                (3, verify("/usr/bin/ping", "ok")),
                (4, verify("/opt/tool/bin/t", "not_owned")),
                (5, verify("/opt/exporter/bin/exp", "not_owned")),
                (6, verify("/usr/bin/passwd", "mismatch")),
            ],
        );
        let mut read = |_: &str, _: u64| -> Result<Vec<u8>, String> { Err("none".into()) };
        let mut inp = input(r, &mut read);
        let a = analyze(&mut inp, &AnalysisConfig::default());
        let got: Vec<(String, String)> = a
            .findings
            .iter()
            .chain(&a.context)
            .map(|f| (f.rule.clone(), f.subject.clone()))
            .collect();
        let has = |r: &str, s: &str| got.iter().any(|(a, b)| a == r && b == s);
        assert!(has("setuid-unowned", "/var/tmp/.x/bash"), "{got:?}");
        assert!(
            has("file-capability-dangerous", "/opt/tool/bin/t"),
            "{got:?}"
        );
        assert!(
            has("privileged-file-modified", "/usr/bin/passwd"),
            "{got:?}"
        );
        assert!(
            has("privileged-file-context", "/opt/exporter/bin/exp"),
            "{got:?}"
        );
        assert!(!got.iter().any(|(_, s)| s == "/usr/bin/ping"), "{got:?}");
        let f = a
            .findings
            .iter()
            .find(|f| f.rule == "setuid-unowned")
            .unwrap();
        assert!(
            f.explanation.contains("copy of /usr/bin/bash"),
            "{}",
            f.explanation
        );
    }
}
