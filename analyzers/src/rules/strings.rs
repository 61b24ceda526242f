//! Miner and attack-tool strings in executable copies.

use super::common::*;
use crate::config::AnalysisConfig;
use crate::context::Ctx;
use crate::context::what;
use crate::input::BundleInput;
use aho_corasick::AhoCorasick;
use dossier_plugin_api::analysis::{Finding, Ioc, Message};
use std::cell::RefCell;
use std::rc::Rc;

/// The keyword matcher, built once per thread for a keyword list (building it costs more than
/// scanning a bundle's executables).
fn matcher(keywords: &[String]) -> Option<Rc<AhoCorasick>> {
    thread_local! {
        static CACHE: RefCell<Option<(Vec<String>, Rc<AhoCorasick>)>> = const { RefCell::new(None) };
    }
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if let Some((k, ac)) = c.as_ref() {
            if k.as_slice() == keywords {
                return Some(ac.clone());
            }
        }
        let ac = Rc::new(
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(keywords)
                .ok()?,
        );
        *c = Some((keywords.to_vec(), ac.clone()));
        Some(ac)
    })
}

pub(crate) fn miner_strings(
    ctx: &Ctx,
    cfg: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
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
    if copies.is_empty() {
        return vec![];
    }
    let Some(ac) = matcher(&cfg.keywords) else {
        return vec![];
    };
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
            .member_ev(&member, what("evidence.copy-of", &[("path", &path)]))
            .into_iter()
            .collect();
        let mut iocs = vec![Ioc::Path(path.clone())];
        iocs.extend(sha.map(Ioc::Sha256));
        let hits = hits
            .iter()
            .map(|h| format!("`{h}`"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(explained(
            &path,
            Message::new("finding.strings.contains")
                .text("path", &path)
                .text("hits", hits),
            ev,
            iocs,
        ));
    }
    out
}
