//! Progress reporting: an indicatif bar on a terminal, one plain line per event otherwise
//! (indicatif hides itself when stderr is not a terminal, and CI logs need the events).

use crate::text::sanitize;
use dossier_plugin_api::CollectorStatus;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// Receives collection events for one host.
pub trait Progress: Send + Sync {
    /// Collection of `host` begins with `steps` collectors.
    fn start(&self, host: &str, steps: usize);
    /// A collector starts.
    fn step(&self, host: &str, collector: &str);
    /// A collector finished.
    fn step_done(
        &self,
        host: &str,
        collector: &str,
        status: CollectorStatus,
        records: usize,
        issues: usize,
        elapsed: Duration,
    );
    /// A free-form event line.
    fn event(&self, host: &str, message: &str);
    /// Collection of `host` ended.
    fn finish(&self, host: &str, message: &str);
}

/// Picks the terminal or plain reporter from whether stderr is a terminal; `quiet` silences
/// both.
pub fn for_stderr(quiet: bool) -> Box<dyn Progress> {
    if quiet {
        Box::new(Quiet)
    } else if std::io::stderr().is_terminal() {
        Box::new(Bar::new())
    } else {
        Box::new(Plain)
    }
}

/// No output.
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: &str, _: usize) {}
    fn step(&self, _: &str, _: &str) {}
    fn step_done(&self, _: &str, _: &str, _: CollectorStatus, _: usize, _: usize, _: Duration) {}
    fn event(&self, _: &str, _: &str) {}
    fn finish(&self, _: &str, _: &str) {}
}

/// One line per event on stderr.
pub struct Plain;

impl Progress for Plain {
    fn start(&self, host: &str, steps: usize) {
        eprintln!("dossier: {host}: collecting ({steps} collectors)");
    }
    fn step(&self, _: &str, _: &str) {}
    fn step_done(
        &self,
        host: &str,
        collector: &str,
        status: CollectorStatus,
        records: usize,
        issues: usize,
        elapsed: Duration,
    ) {
        eprintln!(
            "dossier: {host}: {collector}: {status}, {records} records, {issues} issues, {} ms",
            elapsed.as_millis()
        );
    }
    fn event(&self, host: &str, message: &str) {
        eprintln!("dossier: {host}: {}", sanitize(message));
    }
    fn finish(&self, host: &str, message: &str) {
        eprintln!("dossier: {host}: {}", sanitize(message));
    }
}

/// A progress bar on the terminal.
pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    fn new() -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner} {prefix} [{bar:20}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(120));
        Bar { bar }
    }
}

impl Progress for Bar {
    fn start(&self, host: &str, steps: usize) {
        self.bar.set_length(steps as u64);
        self.bar.set_prefix(host.to_string());
    }
    fn step(&self, _: &str, collector: &str) {
        self.bar.set_message(collector.to_string());
    }
    fn step_done(
        &self,
        _: &str,
        collector: &str,
        status: CollectorStatus,
        records: usize,
        issues: usize,
        elapsed: Duration,
    ) {
        self.bar.inc(1);
        self.bar.println(format!(
            "  {collector}: {status}, {records} records, {issues} issues, {} ms",
            elapsed.as_millis()
        ));
    }
    fn event(&self, host: &str, message: &str) {
        self.bar.println(format!("{host}: {message}"));
    }
    fn finish(&self, host: &str, message: &str) {
        self.bar.finish_and_clear();
        eprintln!("dossier: {host}: {message}");
    }
}

/// Progress of a sweep: the per-host events of [`Progress`] plus the overall count.
pub trait SweepProgress: Progress {
    /// The number of targets is known.
    fn set_targets(&self, n: usize);
    /// A target is done (collected or not).
    fn outcome(&self, host: &str, outcome: &str, detail: &str);
    /// This as a per-host [`Progress`].
    fn as_progress(&self) -> &dyn Progress;
}

/// Picks the sweep reporter: bars on a terminal, plain lines otherwise, nothing if `quiet`.
pub fn sweep_for_stderr(quiet: bool) -> Box<dyn SweepProgress> {
    if quiet {
        Box::new(Quiet)
    } else if std::io::stderr().is_terminal() {
        Box::new(SweepBars::new())
    } else {
        Box::new(Plain)
    }
}

impl SweepProgress for Quiet {
    fn set_targets(&self, _: usize) {}
    fn outcome(&self, _: &str, _: &str, _: &str) {}
    fn as_progress(&self) -> &dyn Progress {
        self
    }
}

impl SweepProgress for Plain {
    fn set_targets(&self, n: usize) {
        eprintln!("dossier: sweep: {n} target(s)");
    }
    fn outcome(&self, host: &str, outcome: &str, detail: &str) {
        if detail.is_empty() {
            eprintln!("dossier: {host}: {outcome}");
        } else {
            eprintln!("dossier: {host}: {outcome}: {}", sanitize(detail));
        }
    }
    fn as_progress(&self) -> &dyn Progress {
        self
    }
}

/// One overall bar plus one status line per host being collected.
pub struct SweepBars {
    multi: indicatif::MultiProgress,
    overall: ProgressBar,
    hosts: std::sync::Mutex<std::collections::HashMap<String, ProgressBar>>,
}

impl SweepBars {
    fn new() -> Self {
        let multi = indicatif::MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(
            ProgressStyle::with_template("sweep [{bar:30}] {pos}/{len} hosts {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        SweepBars {
            multi,
            overall,
            hosts: Default::default(),
        }
    }

    fn host_bar(&self, host: &str) -> ProgressBar {
        let mut m = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(host.to_string())
            .or_insert_with(|| {
                let b = self.multi.add(ProgressBar::new_spinner());
                b.set_style(
                    ProgressStyle::with_template("  {spinner} {prefix} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                b.set_prefix(host.to_string());
                b.enable_steady_tick(Duration::from_millis(150));
                b
            })
            .clone()
    }
}

impl Progress for SweepBars {
    fn start(&self, host: &str, steps: usize) {
        self.host_bar(host)
            .set_message(format!("collecting ({steps} collectors)"));
    }
    fn step(&self, host: &str, collector: &str) {
        self.host_bar(host).set_message(collector.to_string());
    }
    fn step_done(&self, _: &str, _: &str, _: CollectorStatus, _: usize, _: usize, _: Duration) {}
    fn event(&self, host: &str, message: &str) {
        if host == "sweep" {
            let _ = self.multi.println(format!("{host}: {}", sanitize(message)));
        } else {
            self.host_bar(host).set_message(sanitize(message));
        }
    }
    fn finish(&self, host: &str, message: &str) {
        self.host_bar(host).set_message(message.to_string());
    }
}

impl SweepProgress for SweepBars {
    fn set_targets(&self, n: usize) {
        self.overall.set_length(n as u64);
    }
    fn outcome(&self, host: &str, outcome: &str, detail: &str) {
        if let Some(b) = self
            .hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(host)
        {
            b.finish_and_clear();
            self.multi.remove(&b);
        }
        self.overall.inc(1);
        let _ = self
            .multi
            .println(format!("{host}: {outcome} {}", sanitize(detail)));
        if self.overall.position() >= self.overall.length().unwrap_or(0) {
            self.overall.finish_and_clear();
        }
    }
    fn as_progress(&self) -> &dyn Progress {
        self
    }
}
