//! Progress reporting: an indicatif bar on a terminal, one plain line per event otherwise
//! (indicatif hides itself when stderr is not a terminal, and CI logs need the events).

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
        status: &str,
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
    fn step_done(&self, _: &str, _: &str, _: &str, _: usize, _: usize, _: Duration) {}
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
        status: &str,
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
        eprintln!("dossier: {host}: {message}");
    }
    fn finish(&self, host: &str, message: &str) {
        eprintln!("dossier: {host}: {message}");
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
        status: &str,
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
