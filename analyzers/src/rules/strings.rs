//! Miner and attack-tool strings in executable copies.

use super::common::*;
use crate::config::AnalysisConfig;
use crate::context::Ctx;
use crate::input::BundleInput;
use aho_corasick::AhoCorasick;
use dossier_plugin_api::analysis::{Finding, Ioc};

pub(crate) fn miner_strings(
    ctx: &Ctx,
    cfg: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let Ok(ac) = AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(&cfg.keywords)
    else {
        return vec![];
    };
    // (member, path, sha) of every executable copy in the bundle.
    let mut copies: Vec<(String, String, Option<String>)> = Vec::new();
    for p in &ctx.procs {
        if let (Some(m), Some(exe)) = (&p.rec.exe_member, &p.rec.exe) {
            copies.push((m.clone(), exe.clone(), p.rec.exe_sha256.clone()));
        }
    }
    for v in &ctx.verify {
        if let Some(m) = v.rec.copy.as_ref().and_then(|c| c.member.clone()) {
            copies.push((m, v.rec.path.clone(), v.rec.sha256.clone()));
        }
    }
    copies.sort();
    copies.dedup_by(|a, b| a.0 == b.0);
    let mut out = Vec::new();
    for (member, path, sha) in copies {
        let Ok(data) = (input.read_member)(&member, cfg.max_scan_bytes) else {
            continue;
        };
        let mut hits: Vec<&str> = ac
            .find_overlapping_iter(&data)
            .map(|m| cfg.keywords[m.pattern().as_usize()].as_str())
            .collect();
        hits.sort();
        hits.dedup();
        if hits.is_empty() {
            continue;
        }
        let ev = ctx
            .member_ev(&member, format!("copy of {path}"))
            .into_iter()
            .collect();
        let mut iocs = vec![Ioc::Path(path.clone())];
        iocs.extend(sha.map(Ioc::Sha256));
        out.push(finding(
            &path,
            format!(
                "{path} contains {}",
                hits.iter()
                    .map(|h| format!("`{h}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ev,
            iocs,
        ));
    }
    out
}
