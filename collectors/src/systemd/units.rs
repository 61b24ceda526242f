//! Unit records from a scan: each unit as systemd would load it (the winning fragment with its
//! drop-ins merged), whether it is enabled and by which links, and its live state.

use super::live::LiveStates;
use super::scan::{Found, Scan};
use crate::util::ptext;
use dossier_plugin_api::records::{SourceRef, TimerSpec, UnitRecord};
use std::collections::BTreeMap;

/// The template of an instance name (`getty@tty1.service` → `getty@.service`).
fn template_of(name: &str) -> Option<String> {
    let (stem, suffix) = name.rsplit_once('.')?;
    let (prefix, instance) = stem.split_once('@')?;
    (!instance.is_empty()).then(|| format!("{prefix}@.{suffix}"))
}

/// The unit records of one scope: every unit with a fragment, and the instances named by
/// enablement links or running whose template has one.
pub(super) fn build_units(
    scope: &str,
    owner: Option<&str>,
    scan: &Scan,
    live: &LiveStates,
) -> Vec<UnitRecord> {
    let mut out = Vec::new();
    for name in unit_names(scan, live) {
        let frag_name = if scan.fragments.contains_key(&name) {
            name.clone()
        } else {
            template_of(&name).unwrap_or_default()
        };
        let Some(frags) = scan.fragments.get(&frag_name) else {
            continue;
        };
        let unit = Unit {
            name,
            frag_name,
            frags,
        };
        out.push(unit_record(scope, owner, scan, live, unit));
    }
    out
}

/// Names of the units of a scope, sorted: those with a fragment, and instances named by
/// enablement links or running, whose template has a fragment.
fn unit_names(scan: &Scan, live: &LiveStates) -> Vec<String> {
    let mut names: Vec<String> = scan.fragments.keys().cloned().collect();
    let extra: Vec<String> = scan
        .enabled_via
        .keys()
        .chain(live.states.keys())
        .filter(|n| {
            !scan.fragments.contains_key(*n)
                && template_of(n).is_some_and(|t| scan.fragments.contains_key(&t))
        })
        .cloned()
        .collect();
    names.extend(extra);
    names.sort();
    names.dedup();
    names
}

/// A unit to record: its name, the name of its fragment (its template's for an instance
/// without one of its own), and the fragments of that name, highest priority first.
struct Unit<'s> {
    name: String,
    frag_name: String,
    frags: &'s [Found],
}

/// Drop-ins of a unit by file name: `<name>.d`, the template's `.d`, and the type-wide
/// `<type>.d`; a file name in a higher-priority directory hides the same file name lower down.
fn dropins_of<'s>(
    scan: &'s Scan,
    unit_type: &str,
    frag_name: &str,
    name: &str,
) -> BTreeMap<String, &'s Found> {
    let mut by_file: BTreeMap<String, &Found> = BTreeMap::new();
    let mut dkeys = vec![
        unit_type.to_string(),
        frag_name.to_string(),
        name.to_string(),
    ];
    dkeys.dedup();
    for key in dkeys {
        if let Some(list) = scan.dropins.get(&key) {
            for (file, f) in list {
                by_file.entry(file.clone()).or_insert(f);
            }
        }
    }
    by_file
}

/// The directives of the fragment then its drop-ins, as `Section.Key` → values (an empty
/// assignment resets the list), and the parse warnings of those files.
fn merged_properties(
    main: &Found,
    by_file: &BTreeMap<String, &Found>,
) -> (BTreeMap<String, Vec<String>>, Vec<String>) {
    let mut props: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut warnings: Vec<String> = main
        .parsed
        .warnings
        .iter()
        .map(|w| format!("{}: {w}", ptext(&main.path)))
        .collect();
    let files = std::iter::once(main).chain(by_file.values().copied());
    for f in files {
        if f != main {
            warnings.extend(
                f.parsed
                    .warnings
                    .iter()
                    .map(|w| format!("{}: {w}", ptext(&f.path))),
            );
        }
        for d in &f.parsed.directives {
            let list = props.entry(format!("{}.{}", d.section, d.key)).or_default();
            if d.value.is_empty() {
                list.clear();
            } else {
                list.push(d.value.clone());
            }
        }
    }
    props.retain(|_, v| !v.is_empty());
    (props, warnings)
}

/// The links that enable a unit; a template is enabled by the links of its instances too
/// (an instance only by links naming the instance).
fn enabled_via(scan: &Scan, name: &str, frag_name: &str) -> Vec<String> {
    let mut enabled_via = scan.enabled_via.get(name).cloned().unwrap_or_default();
    if frag_name != name {
        // nothing more: an instance is enabled only by links naming the instance
    } else if name.contains("@.") {
        for (n, links) in &scan.enabled_via {
            if template_of(n).as_deref() == Some(name) {
                enabled_via.extend(links.iter().cloned());
            }
        }
    }
    enabled_via.sort();
    enabled_via.dedup();
    enabled_via
}

/// One unit as systemd would load it: the winning fragment with its drop-ins, whether it is
/// enabled, and its live state.
fn unit_record(
    scope: &str,
    owner: Option<&str>,
    scan: &Scan,
    live: &LiveStates,
    unit: Unit<'_>,
) -> UnitRecord {
    let Unit {
        name,
        frag_name,
        frags,
    } = unit;
    let main = &frags[0];
    let unit_type = name
        .rsplit_once('.')
        .map(|(_, s)| s.to_string())
        .unwrap_or_default();
    let by_file = dropins_of(scan, &unit_type, &frag_name, &name);
    let (props, warnings) = merged_properties(main, &by_file);
    let all = |k: &str| props.get(k).cloned().unwrap_or_default();
    let last = |k: &str| props.get(k).and_then(|v| v.last().cloned());
    let words = |k: &str| {
        all(k)
            .iter()
            .flat_map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    };
    let timer = (unit_type == "timer").then(|| TimerSpec {
        on_calendar: all("Timer.OnCalendar"),
        on_boot_sec: all("Timer.OnBootSec"),
        on_startup_sec: all("Timer.OnStartupSec"),
        on_active_sec: all("Timer.OnActiveSec"),
        on_unit_active_sec: all("Timer.OnUnitActiveSec"),
        on_unit_inactive_sec: all("Timer.OnUnitInactiveSec"),
        unit: last("Timer.Unit")
            .unwrap_or_else(|| name.trim_end_matches(".timer").to_string() + ".service"),
        persistent: last("Timer.Persistent"),
    });
    let enabled_via = enabled_via(scan, &name, &frag_name);
    let state = live.states.get(&name);
    let mut pids = live.pids.get(&name).cloned().unwrap_or_default();
    pids.sort_unstable();
    let dropins: Vec<SourceRef> = by_file.values().map(|f| f.source.clone()).collect();
    UnitRecord {
        name: name.clone(),
        unit_type,
        scope: scope.to_string(),
        owner: owner.map(str::to_string),
        path: ptext(&main.path),
        source: main.source.clone(),
        unit_dir: ptext(&main.dir),
        meta: main.meta.clone(),
        shadowed: frags[1..].iter().map(|f| ptext(&f.path)).collect(),
        dropins,
        masked: main.masked,
        link_target: main.link_target.clone(),
        description: last("Unit.Description"),
        exec_start: all("Service.ExecStart"),
        exec_start_pre: all("Service.ExecStartPre"),
        exec_start_post: all("Service.ExecStartPost"),
        exec_stop: all("Service.ExecStop"),
        exec_reload: all("Service.ExecReload"),
        user: last("Service.User"),
        group: last("Service.Group"),
        restart: last("Service.Restart"),
        service_type: last("Service.Type"),
        working_directory: last("Service.WorkingDirectory"),
        wanted_by: words("Install.WantedBy"),
        required_by: words("Install.RequiredBy"),
        timer,
        enabled: !enabled_via.is_empty(),
        enabled_via,
        active_state: state.map(|s| s.0.clone()),
        sub_state: state.map(|s| s.1.clone()),
        state_source: state.map(|s| s.2.to_string()),
        pids,
        properties: props,
        env_file_ld: Vec::new(),
        parse_warnings: warnings,
    }
}
