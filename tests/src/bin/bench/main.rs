//! dossier benchmarks. They print figures; nothing here asserts on time.
//!
//! `dossier-bench triage [--runs 5] [--bin PATH] [--playbook NAME-OR-FILE]` (root only)
//!   Local triage of this machine with the default playbook (or the one given): wall time and peak RSS of each run
//!   (each run is measured in its own child so the peak RSS is per run), median of the runs. As another user it
//!   refuses to run: files it may not read would be skipped and make it look faster.
//!
//! `dossier-bench analyze [--bundles 1000] [--runs 3] [--bin PATH] [--against PATH]`
//!   Analysis throughput: bundles of the fixture roots copied to N distinct bundles in a case
//!   directory (with a custody ledger recording their creation, so analysis checks and appends
//!   to it as in real use), analyzed by `dossier analyze` (each run into a fresh directory);
//!   bundles/s, CPU time and peak RSS of each run and their medians, for N/10 and N bundles.
//!   With `--against OTHER`, the other binary (e.g. an earlier build) is run on the same
//!   bundles, alternating with `--bin` run by run, and the ratio of the medians is printed.
//!   Then one more run of `--bin` with `DOSSIER_TIMINGS=1` prints where the time went, per
//!   stage (open and verify, records JSON, typed parsing, rules, member reads, plugins, render,
//!   ledger, write, fleet pass, final sync; summed over the worker threads).
//!
//! `dossier-bench bundle [--mib 1024] [--runs 3] [--dir DIR]`
//!   Bundle writing throughput on a file set of the given size (a quarter each of random data,
//!   copies of real binaries from /usr, and log text, plus a quarter more random data), against
//!   the same work done with stock tools (`bundle_ref`: `sha256sum` of the files, `zip` of each
//!   file at the level dossier chose for it, `sync` and `sha256sum` of the archives), both on
//!   one CPU (pinned; the tools one after another) and both on every CPU (the tools split N
//!   ways, run at once), with the page cache warm and cold (`sync` and `drop_caches` before
//!   each command; said so when that is not allowed here); medians and tools/dossier ratios.
//!   Then `dossier verify` against `unzip -t` on the result, on one CPU.
//!
//! `dossier-bench load [--hosts 100] [--jobs 32] [--bin PATH] [--playbook NAME|FILE]`
//!   Fleet sweep under load: starts N Clean hosts of the SSH lab (real sshd in namespaces; needs
//!   root), then sweeps the first 10, N/2 and N of them with `-j JOBS` (analysis included), each
//!   into a fresh directory, and prints per run: wall time, time per host, how many hosts were
//!   collected, peak RSS of the dossier process, and its open file descriptors (sampled from
//!   `/proc/<pid>/fd` every 10 ms: at start, peak, and at the last sample before it exited).
//!
//! `dossier-bench sweep [--hosts 30] [--runs 3] [--jobs 8] [--bin PATH]` (root: the SSH lab)
//!   Fleet sweep of N lab hosts (real sshd in namespaces; N/15 of them, at least one, planted
//!   with the miner incident, the rest clean), all runs against one lab: wall time,
//!   hosts/minute, peak RSS of `dossier sweep`, bytes read and bundle size per host, CPU time
//!   of dossier and of the hosts' sshd (the lab's "remote" hosts share this machine's CPUs),
//!   with the default analysis and with `--no-analyze`; every host must be `collected` in
//!   sweep.json (any other outcome is printed). Then one clean host alone: `sweep -j 1
//!   --no-analyze` over SSH against `collect --root` of the same filesystem (dead-box: no
//!   /proc) and `collect` run inside the host's namespaces with nsenter (live, its own /proc),
//!   and the per-collector `duration_ms` of each from the bundles' manifests.
//!
//! `dossier-bench evidence --keep DIR --against OLD [--hosts 3] [--bin PATH]` (root: the SSH lab)
//!   One lab swept by OLD, then by the new binary, then by OLD again (with analysis, `-j 4`),
//!   into `DIR/old-1`, `DIR/new` and `DIR/old-2`, kept: for checking that a change collects
//!   the same evidence (old-1 against old-2 shows what differs between two runs anyway).
//!
//! `dossier-bench scale [--hosts 10,30,100,200] [--jobs 8] [--shards 2] [--s3] [--bin PATH] [--playbook P]`
//!   (root: the SSH lab) One lab of the largest size (one host in 15 with the miner incident),
//!   swept once per size with analysis: wall time, time per host, peak RSS of `dossier sweep`
//!   (and per host in flight), client and target CPU per host (from `/proc` and from
//!   sweep.json's `totals` and `target_cost`), and whether the per-host figures stay flat from
//!   the smallest to the largest. Then `shards`: the largest fleet in `--shards` shards swept
//!   at the same time (`--shard K/N --no-analyze`) and `dossier merge`d, against the one sweep:
//!   wall time of each, and whether findings.json judges every host the same. With `--s3`
//!   the shards upload to a local moto server (`DOSSIER_MOTO_SERVER`, reached from the lab's
//!   namespace through a relay) and the merge reads them from the bucket.
//!
//! `dossier-bench events [--size-mib 64] [--runs 3] [--bin PATH] [--dir DIR]`
//!   Telemetry import and analysis: a realistic audit log and a Defender for Endpoint JSON
//!   export of the given size each, generated deterministically into a temporary directory
//!   (or one under `--dir`); per run and file, `dossier import` into a fresh directory, then
//!   `dossier analyze` of the import bundle, then as the floor `wc -l` and (JSON) `jq -c .` on
//!   the same file: wall time, CPU time, peak RSS, events/s; medians and import/floor ratios.
//!   `dossier-bench events-gen DIR [--size-mib 64]` only writes the two files into DIR.
//!
//! `dossier-bench crypto [--size 1G] [--runs 3] [--dir DIR]`
//!   Signing and encryption of a file of incompressible data (1 GiB unless `--size`, with a
//!   K, M or G suffix): dossier's `sign_bundle` against `minisign -S` (Ed25519 keys of both), and
//!   dossier's age encryption to a file against `age -r`, interleaved run by run; medians in
//!   MB/s and the ratios dossier/stock. Needs `minisign`, `age` and `age-keygen` on PATH.
//!
//! Helpers: `measure` (`dossier-bench one`: wall time, peak RSS and CPU of one command in a fresh
//! process), `fleet` (a sweep's command, `sweep.json` and bundles read, printed), `cpu` (CPU time
//! from `/proc`: the machine's, the lab hosts' sshd), `machine` (pinning to one CPU, dropping
//! the page cache), `local` (collections of a lab host's filesystem without SSH), `bundle_ref`
//! (the stock tools' side of `bundle`), `shards` (the sharded side of `scale`).

// The Defender rows of `events_gen` are `json!` literals of 40-odd columns.
#![recursion_limit = "512"]

mod analyze;
mod bundle;
mod bundle_ref;
mod cpu;
mod crypto;
mod events;
mod events_gen;
mod evidence;
mod fleet;
mod load;
mod local;
mod machine;
mod measure;
mod scale;
mod shards;
mod sweep;
mod triage;

use std::path::PathBuf;

pub fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// A temporary folder for a benchmark's files: inside `--dir` when given, else in the
/// system's temporary folder. A folder that cannot be made there (`--dir` missing, not a
/// folder, not writable) ends the run with a one-line error naming it, before any work.
pub fn work_dir(args: &[String]) -> tempfile::TempDir {
    make_work_dir(args).unwrap_or_else(|why| {
        let cmd = args.get(1).map_or("", String::as_str);
        eprintln!("dossier-bench {cmd}: cannot make a work folder: {why}");
        std::process::exit(2);
    })
}

/// [`work_dir`]'s folder, or why it cannot be made.
fn make_work_dir(args: &[String]) -> Result<tempfile::TempDir, String> {
    match arg(args, "--dir") {
        Some(d) => tempfile::tempdir_in(&d).map_err(|e| format!("--dir {d}: {e}")),
        None => tempfile::tempdir().map_err(|e| format!("temporary folder: {e}")),
    }
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub fn default_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("exe");
    exe.parent().expect("dir").join("dossier")
}

/// The command line, one line: what `--help` prints and what a mistake is answered with.
const USAGE: &str = "usage: dossier-bench triage [--runs N] [--bin PATH] [--playbook P] | bundle [--mib N] [--runs N] [--dir DIR] | analyze [--bundles N] [--runs N] [--bin PATH] [--against PATH] | sweep [--hosts N] [--runs N] [--jobs N] [--bin PATH] | evidence --keep DIR --against OLD [--hosts N] [--bin PATH] | load [--hosts N] [--jobs N] [--bin PATH] [--playbook P] | scale [--hosts 10,30,100,200] [--jobs N] [--shards N] [--s3] [--bin PATH] [--playbook P] | crypto [--size 1G] [--runs N] [--dir DIR] | events [--size-mib N] [--runs N] [--bin PATH] [--dir DIR] | events-gen DIR [--size-mib N]";

/// The flags each command takes (each followed by a value unless it is in `switches`) and
/// how many operands it takes. Checked before a command starts, so that a misspelt flag or
/// `--help` never runs a long benchmark with its defaults.
fn flags_of(command: &str) -> Option<(&'static [&'static str], &'static [&'static str], usize)> {
    Some(match command {
        "triage" => (&["--runs", "--bin", "--playbook"], &[], 0),
        "bundle" => (&["--mib", "--runs", "--dir"], &[], 0),
        "crypto" => (&["--size", "--runs", "--dir"], &[], 0),
        "analyze" => (&["--bundles", "--runs", "--against", "--bin"], &[], 0),
        "events" => (&["--size-mib", "--runs", "--bin", "--dir"], &[], 0),
        "events-gen" => (&["--size-mib"], &[], 1),
        "sweep" => (&["--hosts", "--runs", "--jobs", "--bin"], &[], 0),
        "evidence" => (&["--hosts", "--bin", "--against", "--keep"], &[], 0),
        "load" => (&["--hosts", "--jobs", "--bin", "--playbook"], &[], 0),
        "scale" => (
            &["--hosts", "--jobs", "--shards", "--bin", "--playbook"],
            &["--s3"],
            0,
        ),
        _ => return None,
    })
}

/// Why `args` (the program, the command, then its arguments) do not fit the command, if so.
fn check_args(args: &[String]) -> Result<(), String> {
    let command = args.get(1).map(String::as_str).unwrap_or("");
    let Some((values, switches, operands)) = flags_of(command) else {
        return Err(format!("unknown command {command:?}"));
    };
    let (mut i, mut seen) = (2, 0);
    while i < args.len() {
        let a = args[i].as_str();
        if values.contains(&a) {
            if args.get(i + 1).is_none() {
                return Err(format!("{command} {a}: a value is missing"));
            }
            i += 2;
            continue;
        }
        if a.starts_with('-') && !switches.contains(&a) {
            return Err(format!("{command} takes no flag {a}"));
        }
        if !switches.contains(&a) {
            seen += 1;
            if seen > operands {
                return Err(format!("{command} takes no operand {a:?}"));
            }
        }
        i += 1;
    }
    if seen < operands {
        return Err(format!("{command}: an operand is missing"));
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `one PROGRAM ARGS...` (the measuring child) passes its arguments on unchecked.
    if args.get(1).map(String::as_str) != Some("one") {
        if args.iter().skip(1).any(|a| a == "--help" || a == "-h") {
            println!("{USAGE}");
            return;
        }
        if let Err(why) = check_args(&args) {
            eprintln!("dossier-bench: {why}\n{USAGE}");
            std::process::exit(2);
        }
    }
    match args.get(1).map(String::as_str) {
        Some("triage") => triage::triage(&args),
        Some("bundle") => bundle::bundle(&args),
        Some("crypto") => crypto::crypto(&args),
        Some("analyze") => analyze::analyze(&args),
        Some("events") => events::events(&args),
        Some("events-gen") => events::generate(&args),
        Some("sweep") => sweep::sweep(&args),
        Some("evidence") => evidence::evidence(&args),
        Some("load") => load::load(&args),
        Some("scale") => scale::scale(&args),
        Some("one") => measure::one(&args[2..]),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{check_args, make_work_dir};

    fn args(s: &str) -> Vec<String> {
        std::iter::once("dossier-bench")
            .chain(s.split_whitespace())
            .map(String::from)
            .collect()
    }

    #[test]
    fn known_flags_and_operands_pass() {
        assert_eq!(check_args(&args("events --size-mib 64 --runs 3")), Ok(()));
        assert_eq!(
            check_args(&args("scale --hosts 10,30 --s3 --shards 4")),
            Ok(())
        );
        assert_eq!(check_args(&args("events-gen /tmp/x --size-mib 8")), Ok(()));
        assert_eq!(check_args(&args("sweep")), Ok(()));
    }

    #[test]
    fn mistakes_are_refused_before_anything_runs() {
        assert!(
            check_args(&args("sweep --host 10"))
                .unwrap_err()
                .contains("--host")
        );
        assert!(
            check_args(&args("sweep --hosts"))
                .unwrap_err()
                .contains("missing")
        );
        assert!(
            check_args(&args("sweep 10"))
                .unwrap_err()
                .contains("operand")
        );
        assert!(
            check_args(&args("events-gen"))
                .unwrap_err()
                .contains("missing")
        );
        assert!(
            check_args(&args("events --s3"))
                .unwrap_err()
                .contains("--s3")
        );
        assert!(
            check_args(&args("bogus"))
                .unwrap_err()
                .contains("unknown command")
        );
        assert!(check_args(&args("")).is_err());
    }

    #[test]
    fn a_work_folder_is_made_in_dir_or_refused_with_the_reason() {
        let d = tempfile::tempdir().unwrap();
        let inside = make_work_dir(&args(&format!("events --dir {}", d.path().display()))).unwrap();
        assert!(inside.path().starts_with(d.path()) && inside.path().is_dir());
        let missing = d.path().join("missing");
        let why = make_work_dir(&args(&format!("events --dir {}", missing.display()))).unwrap_err();
        assert!(
            why.starts_with(&format!("--dir {}: ", missing.display())),
            "{why}"
        );
        let file = d.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        assert!(make_work_dir(&args(&format!("bundle --dir {}", file.display()))).is_err());
        assert!(make_work_dir(&args("events")).is_ok());
    }
}
