//! Skip or fail: the one rule for a test (or one check of a test) that cannot run on this
//! machine, because it needs root, a program or a folder that is not there. Under CI (the
//! environment variable `CI` set and not empty, as `.ci/run`'s machine runs the tests) every
//! test must run, so [`skip_or_fail`] fails the test; elsewhere it prints one line,
//! `skipped: <test>: <why>`, to the process's stderr (not the test harness's captured output,
//! so a plain `cargo test` shows it) and the caller goes on without that part.
//!
//! `dossier-tests` exports it (`dossier_tests::skip_or_fail`); the test code of crates that
//! cannot depend on `dossier-tests` (`remote`'s unit tests, the fuzz tests of `bundle`, `cli`
//! and `collectors`) includes this same file with `#[path = ".../tests/src/skip.rs"]`.

/// Whether this run is CI: `CI` is set and not empty.
pub fn ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Something the current test needs is missing (`why`: what, and what provides it). Under CI
/// this panics (the test fails); elsewhere it prints `skipped: <test>: <why>` and returns, and
/// the caller returns or leaves out the check that needed it.
#[track_caller]
pub fn skip_or_fail(why: &str) {
    let current = std::thread::current();
    let test = current.name().unwrap_or("a test");
    if ci() {
        panic!("{test} cannot run here, and under CI every test must run: {why}");
    }
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "skipped: {test}: {why} (under CI this fails)"
    );
}
