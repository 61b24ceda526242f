//! The listing commands: `rules`, `plugins`, `playbooks` and `collectors`, as aligned text
//! or, with `--json`, one JSON document each (field names documented on the types of
//! [`json`] and in the README, "Machine-readable output").

use crate::json_out as json;

use crate::plans::{PlaybooksPlan, PluginsPlan, RulesPlan};
use crate::playbook;
use crate::plugins::Registry;
use dossier_plugin_api::Analyzer;
use std::process::ExitCode;

/// Widths of the id and MITRE columns of `dossier rules`.
type Columns = (usize, usize);

/// `dossier rules`.
pub fn rules(p: RulesPlan) -> anyhow::Result<ExitCode> {
    if p.json {
        json::print("dossier-rules", rules_json(&p))?;
        return Ok(ExitCode::SUCCESS);
    }
    // Columns as wide as their longest entry (built-in and plugin rules alike).
    let plugin_rules: Vec<_> = p
        .registry
        .analyzers
        .iter()
        .flat_map(|an| an.info().rules)
        .collect();
    let (idw, mw) = dossier_analyzers::CATALOG
        .iter()
        .map(|r| (r.id.len(), r.mitre.join(",").len()))
        .chain(
            plugin_rules
                .iter()
                .map(|r| (r.id.len(), r.mitre.join(",").len())),
        )
        .fold((2, 12), |(a, b), (x, y)| (a.max(x), b.max(y)));
    println!(
        "{:<idw$} {:<mw$} {:>6}  {:<8}  {:<10}  title",
        "id", "MITRE ATT&CK", "weight", "severity", "class"
    );
    for r in dossier_analyzers::CATALOG {
        builtin_rule(r, &p, (idw, mw));
    }
    if !p.long {
        println!(
            "(class `behaviour*`: some findings of the rule are context; see `dossier rules --long`)"
        );
    }
    plugin_rules_of(&p, (idw, mw));
    if p.long {
        println!("technique names: {}", dossier_plugin_api::attack::release());
    }
    println!(
        "verdict: >= {} Malicious likely, >= {} Suspicious, else Unclear/Benign (playbook {})",
        p.playbook.analysis.thresholds.malicious,
        p.playbook.analysis.thresholds.suspicious,
        p.playbook.name
    );
    Ok(ExitCode::SUCCESS)
}

/// One built-in rule of `dossier rules` (with `--long`, its details).
fn builtin_rule(r: &dossier_analyzers::RuleInfo, p: &RulesPlan, (idw, mw): Columns) {
    let (on, weight, sev) = p.playbook.analysis.effective(r);
    // `behaviour*`: behaviour, but some findings are context (see --long).
    let class = format!(
        "{}{}",
        r.class.label(),
        if r.context_when.is_some() { "*" } else { "" }
    );
    println!(
        "{:<idw$} {:<mw$} {:>6}  {:<8}  {:<10}  {}{}",
        r.id,
        r.mitre.join(","),
        weight,
        sev.label(),
        class,
        r.title,
        if on { "" } else { " (disabled)" }
    );
    if p.long {
        builtin_rule_details(r);
    }
}

/// What `dossier rules --long` says of a built-in rule under its line.
fn builtin_rule_details(r: &dossier_analyzers::RuleInfo) {
    println!(
        "    needs: {}{}",
        if r.needs.is_empty() {
            "-".to_string()
        } else {
            r.needs.join(", ")
        },
        if r.needs_packages {
            " + package database"
        } else {
            ""
        }
    );
    println!(
        "    class: {}{}",
        match r.class {
            dossier_plugin_api::analysis::Class::Behaviour =>
                "behaviour (scored: its weight counts once per host)",
            dossier_plugin_api::analysis::Class::Context =>
                "context (never scored on its own: adds its weight once when behaviour is found on the same subject)",
        },
        r.context_when
            .map(|w| format!("; context when {w}"))
            .unwrap_or_default()
    );
    println!(
        "    MITRE ATT&CK: {}",
        dossier_plugin_api::attack::labels(r.mitre)
    );
    let shared = r.shares_with();
    if !shared.is_empty() {
        println!(
            "    shares facts with: {} ({}: one observation counts once, under the highest weight)",
            shared.join(", "),
            r.shares.join(", ")
        );
    }
    println!("    {}\n", r.doc);
}

/// The rules of analyzer plugins in `dossier rules`.
fn plugin_rules_of(p: &RulesPlan, (idw, mw): Columns) {
    for an in &p.registry.analyzers {
        let info = an.info();
        for r in &info.rules {
            let (on, weight, sev) = p
                .playbook
                .analysis
                .effective_for(&r.id, r.weight, r.severity);
            let scope = match r.scope {
                dossier_plugin_api::analyzer::RuleScope::Host => "",
                dossier_plugin_api::analyzer::RuleScope::Fleet => " [fleet]",
            };
            println!(
                "{:<idw$} {:<mw$} {:>6}  {:<8}  {:<10}  {}{scope} (plugin {}){}",
                r.id,
                r.mitre.join(","),
                weight,
                sev.label(),
                "behaviour",
                r.title,
                info.name,
                if on { "" } else { " (disabled)" }
            );
            if p.long {
                println!(
                    "    needs: {}\n    MITRE ATT&CK: {}\n    {}\n",
                    if r.needs.is_empty() {
                        "-".to_string()
                    } else {
                        r.needs.join(", ")
                    },
                    dossier_plugin_api::attack::labels(&r.mitre),
                    r.doc
                );
            }
        }
    }
}

/// `dossier plugins`.
pub fn plugins(p: PluginsPlan) -> anyhow::Result<ExitCode> {
    let registry = &p.registry;
    if p.json {
        json::print("dossier-plugins", plugins_json(registry))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<9} {:<16} {:<8} {:<8} source",
        "kind", "name", "version", "load ms"
    );
    for c in dossier_collectors::builtin() {
        let i = c.info();
        println!(
            "{:<9} {:<16} {:<8} {:<8} builtin",
            "collector", i.name, i.version, "-"
        );
    }
    println!(
        "{:<9} {:<16} {:<8} {:<8} builtin ({} rules)",
        "analyzer",
        "rules",
        env!("CARGO_PKG_VERSION"),
        "-",
        dossier_analyzers::CATALOG.len()
    );
    for (name, what) in playbook::BUILTIN_REPORTERS {
        println!(
            "{:<9} {:<16} {:<8} {:<8} builtin: {what}",
            "reporter",
            name,
            env!("CARGO_PKG_VERSION"),
            "-"
        );
    }
    for l in &registry.libs {
        let lib = &l.lib;
        let ms = format!("{:.1}", l.load_time.as_secs_f64() * 1000.0);
        for kind in lib.kind_names() {
            let name = plugin_name(registry, kind, &lib.sha256).unwrap_or_else(|| lib.name.clone());
            println!(
                "{:<9} {:<16} {:<8} {:<8} plugin {} {}\n{:<44} sha256 {}",
                kind, name, lib.version, ms, lib.name, lib.path, "", lib.sha256
            );
        }
    }
    println!(
        "dynamic plugins: supported, each library in a child process of its own (plugin ABI {}, plugin API {}, target {}); searched: --plugin, DOSSIER_PLUGIN_PATH (with --plugin-env), {}",
        dossier_plugin_abi::ABI_VERSION,
        dossier_plugin_api::API_VERSION,
        dossier_plugin_abi::TARGET,
        crate::plugins::user_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|| "(no HOME: no per-user directory)".into())
    );
    Ok(ExitCode::SUCCESS)
}

/// The name of what a plugin library (by SHA-256) provides of a kind.
fn plugin_name(registry: &Registry, kind: &str, sha256: &str) -> Option<String> {
    match kind {
        "collector" => registry
            .collectors
            .iter()
            .find(|c| c.origin().is_some_and(|o| o.sha256 == sha256))
            .map(|c| c.info().name),
        "analyzer" => registry
            .analyzers
            .iter()
            .find(|a| a.origin_lib().sha256 == sha256)
            .map(|a| a.info().name),
        _ => registry
            .reporters
            .iter()
            .find(|r| {
                r.reporter
                    .lock()
                    .map(|x| x.origin_lib().sha256 == sha256)
                    .unwrap_or(false)
            })
            .map(|r| r.info.name.clone()),
    }
}

/// `dossier playbooks`.
pub fn playbooks(p: PlaybooksPlan) -> anyhow::Result<ExitCode> {
    match p {
        PlaybooksPlan::List(true) => {
            let registry = Registry::builtin();
            let mut playbooks = Vec::new();
            for (name, _) in playbook::BUILTIN {
                let p = playbook::load(Some(name), &registry)?;
                playbooks.push(json::PlaybookEntry {
                    name: p.name.clone(),
                    sha256: p.sha256.clone(),
                    description: p.description.clone(),
                    default: *name == playbook::DEFAULT,
                });
            }
            json::print("dossier-playbooks", json::Playbooks { playbooks })?;
            Ok(ExitCode::SUCCESS)
        }
        PlaybooksPlan::List(false) => {
            let registry = Registry::builtin();
            println!("{:<12} {:<16} description", "name", "sha256");
            for (name, _) in playbook::BUILTIN {
                let p = playbook::load(Some(name), &registry)?;
                println!(
                    "{:<12} {:<16} {}{}",
                    p.name,
                    &p.sha256[..16],
                    p.description,
                    if *name == playbook::DEFAULT {
                        " (default)"
                    } else {
                        ""
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        PlaybooksPlan::Show(name) => {
            let text = playbook::text_of(&name)?;
            print!("# source: {}\n# sha256: {}\n{}", text.0, text.1, text.2);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `dossier collectors`.
pub fn collectors(as_json: bool) -> anyhow::Result<ExitCode> {
    if as_json {
        let collectors = dossier_collectors::builtin()
            .iter()
            .map(|c| {
                let i = c.info();
                json::Collector {
                    name: i.name.to_string(),
                    version: i.version.to_string(),
                    description: i.description.to_string(),
                }
            })
            .collect();
        json::print("dossier-collectors", json::Collectors { collectors })?;
        return Ok(ExitCode::SUCCESS);
    }
    for c in dossier_collectors::builtin() {
        let i = c.info();
        println!("{:<10} {:<8} {}", i.name, i.version, i.description);
    }
    Ok(ExitCode::SUCCESS)
}

/// `dossier rules --json`: the built-in rules, then those of analyzer plugins.
fn rules_json(p: &RulesPlan) -> json::Rules {
    let names = |ids: &[String]| -> Vec<String> {
        ids.iter()
            .map(|id| {
                dossier_plugin_api::attack::name(id)
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    };
    let mut rules = Vec::new();
    for r in dossier_analyzers::CATALOG {
        let (on, weight, sev) = p.playbook.analysis.effective(r);
        let mitre: Vec<String> = r.mitre.iter().map(|m| m.to_string()).collect();
        rules.push(json::Rule {
            id: r.id.to_string(),
            title: r.title.to_string(),
            mitre_names: names(&mitre),
            mitre,
            weight,
            severity: sev.label().to_lowercase(),
            class: r.class.label().to_string(),
            context_when: r.context_when.map(str::to_string),
            enabled: on,
            source: "builtin".into(),
            scope: "host".into(),
            needs: r.needs.iter().map(|n| n.to_string()).collect(),
            doc: r.doc.to_string(),
        });
    }
    for an in &p.registry.analyzers {
        let info = an.info();
        for r in &info.rules {
            let (on, weight, sev) = p
                .playbook
                .analysis
                .effective_for(&r.id, r.weight, r.severity);
            rules.push(json::Rule {
                id: r.id.clone(),
                title: r.title.clone(),
                mitre_names: names(&r.mitre),
                mitre: r.mitre.clone(),
                weight,
                severity: sev.label().to_lowercase(),
                class: "behaviour".into(),
                context_when: None,
                enabled: on,
                source: info.name.clone(),
                scope: match r.scope {
                    dossier_plugin_api::analyzer::RuleScope::Host => "host".into(),
                    dossier_plugin_api::analyzer::RuleScope::Fleet => "fleet".into(),
                },
                needs: r.needs.clone(),
                doc: r.doc.clone(),
            });
        }
    }
    json::Rules {
        playbook: p.playbook.name.clone(),
        thresholds: json::Thresholds {
            malicious: p.playbook.analysis.thresholds.malicious,
            suspicious: p.playbook.analysis.thresholds.suspicious,
        },
        attack_release: dossier_plugin_api::attack::release(),
        rules,
    }
}

/// A built-in entry of `dossier plugins --json`.
fn builtin_entry(
    kind: &str,
    name: &str,
    version: &str,
    detail: Option<String>,
) -> json::PluginEntry {
    json::PluginEntry {
        kind: kind.into(),
        name: name.into(),
        version: version.into(),
        source: "builtin".into(),
        library: None,
        path: None,
        sha256: None,
        load_ms: None,
        detail,
    }
}

/// `dossier plugins --json`: built-ins, then each loaded library once per kind it provides.
fn plugins_json(registry: &Registry) -> json::Plugins {
    let mut plugins: Vec<json::PluginEntry> = dossier_collectors::builtin()
        .iter()
        .map(|c| {
            let i = c.info();
            builtin_entry("collector", &i.name, &i.version, None)
        })
        .collect();
    plugins.push(builtin_entry(
        "analyzer",
        "rules",
        env!("CARGO_PKG_VERSION"),
        Some(format!("{} rules", dossier_analyzers::CATALOG.len())),
    ));
    for (name, what) in playbook::BUILTIN_REPORTERS {
        plugins.push(builtin_entry(
            "reporter",
            name,
            env!("CARGO_PKG_VERSION"),
            Some(what.to_string()),
        ));
    }
    for l in &registry.libs {
        let lib = &l.lib;
        for kind in lib.kind_names() {
            plugins.push(json::PluginEntry {
                kind: kind.to_string(),
                name: plugin_name(registry, kind, &lib.sha256).unwrap_or_else(|| lib.name.clone()),
                version: lib.version.to_string(),
                source: "plugin".into(),
                library: Some(lib.name.clone()),
                path: Some(lib.path.to_string()),
                sha256: Some(lib.sha256.clone()),
                load_ms: Some(l.load_time.as_secs_f64() * 1000.0),
                detail: None,
            });
        }
    }
    json::Plugins {
        plugins,
        abi_version: dossier_plugin_abi::ABI_VERSION,
        api_version: dossier_plugin_api::API_VERSION.to_string(),
        target: dossier_plugin_abi::TARGET.to_string(),
        user_dir: crate::plugins::user_dir().map(|d| d.display().to_string()),
    }
}
