//! Built-in analyzers: the rule engine, the rules, scoring and verdicts.
//!
//! Input is what a verified bundle holds ([`BundleInput`]: its header, collector statuses and
//! records); analyzers never touch a host. Each rule (see [`rules::CATALOG`]) has an id, title,
//! MITRE ATT&CK ids, a default severity and weight, and the collectors whose data it needs: when
//! that data is missing the rule is reported as *not evaluated*, never as clean. Weights,
//! severities, thresholds and keyword lists come from the playbook ([`AnalysisConfig`]). When
//! the data it needs is only partly there (a collector could not read everything), the rule is
//! evaluated and listed as *evaluated on partial data* ([`completeness`]).
//!
//! Modules depend downwards only: [`config`], [`completeness`] (playbook and partial-data
//! reasons) and [`suspended`] (findings about stopped processes say so) at the bottom,
//! [`input`] (bundle types) on [`completeness`], [`context`] (parsed records) on [`input`] and
//! [`suspended`], [`rules`] on [`context`] and
//! [`config`], [`gating`] (one gate for built-in and plugin rules) on [`config`] and
//! [`completeness`], [`scoring`] (behaviour, context, facts and boosts) on [`config`] and
//! [`context`], and [`engine`] and [`plugins`] on top. Nothing imports the engine but tests
//! (rule tests run a bundle through it).
//!
//! After the engine, fleet and site context: [`inventory`] (a host's units, cron entries,
//! hooks, keys, executables, listeners, accounts and sudo rules, keyed for comparison) on
//! [`input`] and [`context`]; [`stacking`] (counts across hosts) and [`baseline`] (the
//! `dossier-baseline` schema) on the inventory types; [`policy`] (allowlist, baseline and
//! `common_share` applied to an analysis, then [`scoring::rescore`]) on all of them; the
//! engine uses [`policy`] only to check a playbook's allowlist.

#![forbid(unsafe_code)]
// Tests may be long (ARCHITECTURE.md: the function-size limit is for code outside tests).
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod baseline;
pub mod completeness;
pub mod config;
pub mod context;
pub mod engine;
pub mod events;
pub mod gating;
pub mod input;
pub mod inventory;
pub mod plugins;
pub mod policy;
pub mod rules;
pub mod scoring;
pub mod stacking;
pub mod suspended;
#[cfg(test)]
mod testkit;

pub use config::{AnalysisConfig, RuleSettings};
pub use engine::{analyze, rescore};
pub use input::{BundleInput, Header};
pub use rules::{CATALOG, RuleInfo};
