//! Where the time of an analysis run went, per stage and summed over the worker threads:
//! measured only with `DOSSIER_TIMINGS=1`, printed as one line on stderr at the end.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Stages of an analysis run, timed with `DOSSIER_TIMINGS=1`.
#[derive(Clone, Copy)]
pub(crate) enum Stage {
    /// Whole-file SHA-256, zip structure, manifest, every member decompressed and hashed.
    Open,
    /// Records members parsed into JSON values.
    Records,
    /// Typed parsing of the records (the analyzers' context).
    Context,
    /// The built-in rules (without the member reads below).
    Rules,
    /// Members read by rules (executable copies for the miner-string scan...).
    Members,
    /// Analyzer plugins.
    Plugins,
    /// Host report rendering and the analysis serialized for the spool.
    Render,
    /// Custody ledger appends.
    Ledger,
    /// Host reports and spool written.
    Write,
    /// The fleet report and findings JSON, in one pass over the spool.
    Fleet,
    /// The final syncs (file system, ledgers, fleet report, findings).
    Sync,
}

const STAGES: [(Stage, &str); 11] = [
    (Stage::Open, "open+verify"),
    (Stage::Records, "records JSON"),
    (Stage::Context, "typed parsing"),
    (Stage::Rules, "rules"),
    (Stage::Members, "member reads"),
    (Stage::Plugins, "plugins"),
    (Stage::Render, "render"),
    (Stage::Ledger, "ledger"),
    (Stage::Write, "write"),
    (Stage::Fleet, "fleet pass"),
    (Stage::Sync, "final sync"),
];

/// Time spent per [`Stage`] (nanoseconds, summed over threads), when enabled.
pub(crate) struct Timings {
    pub(crate) on: bool,
    start: Instant,
    nanos: [AtomicU64; 11],
}

impl Timings {
    /// Timings as `DOSSIER_TIMINGS` says (on when set, not empty and not `0`).
    pub(crate) fn from_env() -> Timings {
        Timings {
            on: std::env::var_os("DOSSIER_TIMINGS").is_some_and(|v| !v.is_empty() && v != "0"),
            ..Timings::off()
        }
    }

    /// Timings that measure nothing.
    pub(crate) fn off() -> Timings {
        Timings {
            on: false,
            start: Instant::now(),
            nanos: Default::default(),
        }
    }

    pub(crate) fn add(&self, stage: Stage, since: Instant) {
        if self.on {
            self.add_nanos(stage, since.elapsed().as_nanos() as u64);
        }
    }

    pub(crate) fn add_nanos(&self, stage: Stage, n: u64) {
        if self.on {
            self.nanos[stage as usize].fetch_add(n, Ordering::Relaxed);
        }
    }

    /// One line on stderr: `dossier: timings: N bundles in W ms wall; stage T ms, ...`.
    pub(crate) fn print(&self, bundles: usize) {
        if !self.on {
            return;
        }
        let parts: Vec<String> = STAGES
            .iter()
            .map(|(s, name)| {
                format!(
                    "{name} {:.1}",
                    self.nanos[*s as usize].load(Ordering::Relaxed) as f64 / 1e6
                )
            })
            .collect();
        eprintln!(
            "dossier: timings: {bundles} bundles in {:.1} ms wall; ms per stage (summed over workers): {}",
            self.start.elapsed().as_secs_f64() * 1e3,
            parts.join(", ")
        );
    }
}
