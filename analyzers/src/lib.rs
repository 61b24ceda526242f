//! Built-in analyzers: the rule engine, the rules, scoring and verdicts.
//!
//! Input is what a verified bundle holds ([`BundleInput`]: its header, collector statuses and
//! records); analyzers never touch a host. Each rule (see [`rules::CATALOG`]) has an id, title,
//! MITRE ATT&CK ids, a default severity and weight, and the collectors whose data it needs: when
//! that data is missing the rule is reported as *not evaluated*, never as clean. Weights,
//! severities, thresholds and keyword lists come from the playbook ([`AnalysisConfig`]). When
//! the data it needs is only partly there (a collector could not read everything), the rule is
//! evaluated and listed as *evaluated on partial data* ([`completeness`]).

pub mod attack;
pub mod completeness;
pub mod context;
pub mod engine;
pub mod plugins;
pub mod rules;

pub use engine::{AnalysisConfig, BundleInput, Header, RuleSettings, analyze};
pub use rules::{CATALOG, RuleInfo};
