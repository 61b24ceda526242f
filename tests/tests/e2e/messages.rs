//! The messages a newcomer meets: each bad input they are likely to give (missing files,
//! wrong types, a bad CIDR, bad playbook keys, an output folder that cannot be made, a bad
//! plugin, an empty host list, an unknown import format, a missing `--out`) runs the real
//! binary and must give one line on stderr that names the input once, says what to do, repeats
//! no fragment, and the documented exit code: 2 = could not run (nothing was done), 1 = a
//! check failed. Every case fails before anything is collected: `collect` always gets an
//! empty `--root` folder, so this machine is never read.

use dossier_tests::*;
use std::path::Path;

/// One bad input: the arguments (`{T}` is the test's temporary folder, `{B}` a real bundle),
/// the exit code, a stable part of the message, and the input the message must name.
struct Case {
    args: &'static str,
    code: i32,
    says: &'static str,
    names: &'static str,
}

const fn case(args: &'static str, code: i32, says: &'static str, names: &'static str) -> Case {
    Case {
        args,
        code,
        says,
        names,
    }
}

/// The table: every case that cannot run (exit 2).
const CANNOT_RUN: &[Case] = &[
    case(
        "collect --root {T}/nonexistent --out {T}/o",
        2,
        "--root {T}/nonexistent: does not exist; give the folder where the image is mounted",
        "{T}/nonexistent",
    ),
    case(
        "collect --root {T}/afile --out {T}/o",
        2,
        "--root {T}/afile: a regular file, not a folder; give the folder where the image is mounted",
        "{T}/afile",
    ),
    case(
        "collect --root {T}/root --out {T}/afile/sub",
        2,
        "--out {T}/afile/sub: {T}/afile is a file, not a folder; choose another output folder",
        "{T}/afile/sub",
    ),
    case(
        "collect --root {T}/root --out {T}/afile",
        2,
        "--out {T}/afile: a regular file, not a folder; choose another output folder",
        "{T}/afile",
    ),
    case(
        "collect --root {T}/root --out {T}/o --plugin {T}/bad.so",
        2,
        "plugin {T}/bad.so: not a loadable shared library (",
        "{T}/bad.so",
    ),
    case(
        "collect --root {T}/root --out {T}/o --plugin {T}/missing.so",
        2,
        "plugin {T}/missing.so: does not exist; give a plugin library (.so) or a folder of them",
        "{T}/missing.so",
    ),
    case(
        "collect --root {T}/root --out {T}/o --playbook {B}",
        2,
        "--playbook {B}: a dossier bundle (zip archive), not a playbook; give a built-in playbook name",
        "{B}",
    ),
    case(
        "collect --root {T}/root --out {T}/o --playbook {T}/bad.toml",
        2,
        "playbook {T}/bad.toml, line 2: unknown field `bogus`",
        "{T}/bad.toml",
    ),
    case(
        "collect --root {T}/root --out {T}/o --playbook nosuch",
        2,
        "playbook `nosuch` not found: not a built-in playbook",
        "nosuch",
    ),
    case(
        "verify {T}/missing.zip",
        2,
        "bundle {T}/missing.zip: does not exist; give bundle files",
        "{T}/missing.zip",
    ),
    case(
        "verify {T}/root",
        2,
        "bundle {T}/root: a folder, not a bundle file; give bundle files",
        "{T}/root",
    ),
    case(
        "analyze {T}/missing.zip --out {T}/rep",
        2,
        "bundle {T}/missing.zip: does not exist",
        "{T}/missing.zip",
    ),
    case(
        "analyze {B} --out {T}/afile/rep",
        2,
        "--out {T}/afile/rep: {T}/afile is a file, not a folder; choose another output folder",
        "{T}/afile/rep",
    ),
    case(
        "baseline {T}/root --out {T}/b.json",
        2,
        "bundle {T}/root: a folder, not a bundle file",
        "{T}/root",
    ),
    case(
        "timeline {T}/missing.zip --out {T}/t.jsonl",
        2,
        "bundle {T}/missing.zip: does not exist",
        "{T}/missing.zip",
    ),
    case(
        "sweep 10.0.0.0/33 --out {T}/o",
        2,
        "invalid target \"10.0.0.0/33\": prefix length \"33\" is not a number 0-32",
        "10.0.0.0/33",
    ),
    case(
        "sweep --hosts {T}/empty.txt --out {T}/o",
        2,
        "--hosts {T}/empty.txt: no targets in it",
        "{T}/empty.txt",
    ),
    case(
        "sweep --hosts {T}/missing.txt --out {T}/o",
        2,
        "--hosts {T}/missing.txt: does not exist; give a file with one target a line",
        "{T}/missing.txt",
    ),
    case(
        "sweep --out {T}/o",
        2,
        "no targets: name hosts, addresses or networks, or --hosts FILE",
        "--hosts",
    ),
    case(
        "import --format bogus --out {T}/o {T}/afile",
        2,
        "--format \"bogus\": expected one of defender-csv, defender-json, audit, journal",
        "bogus",
    ),
    case(
        "import --out {T}/o {T}/missing.csv",
        2,
        "source file {T}/missing.csv: does not exist; give exported telemetry files",
        "{T}/missing.csv",
    ),
    case(
        "verify --pubkey {T}/missing.pub {B}",
        2,
        "--pubkey {T}/missing.pub: does not exist; give a minisign public key",
        "{T}/missing.pub",
    ),
    case(
        "verify --tsa-cert {T}/root {B}",
        2,
        "--tsa-cert {T}/root: a folder, not a regular file; give the TSA's certificate",
        "{T}/root",
    ),
    case(
        "analyze {B} --out {T}/rep --identity {T}/missing.key",
        2,
        "--identity {T}/missing.key: does not exist; give an age identity file",
        "{T}/missing.key",
    ),
    case(
        "analyze {B} --out {T}/rep --baseline {T}/missing.json",
        2,
        "--baseline {T}/missing.json: does not exist; give a baseline written by `dossier baseline`",
        "{T}/missing.json",
    ),
    case(
        "collect --root {T}/root --out {T}/o --sign {T}/missing.key",
        2,
        "--sign {T}/missing.key: does not exist; give a minisign secret key",
        "{T}/missing.key",
    ),
    case(
        "sweep web01 --out {T}/o --ssh-config {T}/missing.conf",
        2,
        "--ssh-config {T}/missing.conf: does not exist",
        "{T}/missing.conf",
    ),
    case(
        "contain --from {T}/missing.json --out {T}/o",
        2,
        "--from {T}/missing.json: does not exist; give a findings.json",
        "{T}/missing.json",
    ),
    case(
        "keygen",
        2,
        "the following required arguments were not provided: --out <DIR>; see `dossier keygen --help`",
        "--out",
    ),
    case(
        "timeline {B}",
        2,
        "the following required arguments were not provided: --out <FILE>; see `dossier timeline --help`",
        "--out",
    ),
    case(
        "collect --bogus",
        2,
        "unexpected argument '--bogus' found; see `dossier collect --help`",
        "--bogus",
    ),
];

/// The folder every case runs in: a file, an empty root folder, a text file posing as a
/// plugin, a playbook with an unknown key, an empty host list.
fn workspace() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(p.join("afile"), "not a folder\n").unwrap();
    std::fs::create_dir(p.join("root")).unwrap();
    std::fs::write(p.join("bad.so"), "not a library\n").unwrap();
    std::fs::write(p.join("bad.toml"), "[analysis]\nbogus = 1\n").unwrap();
    std::fs::write(p.join("empty.txt"), "# nothing here yet\n\n").unwrap();
    d
}

/// The real bundle of the fixtures, used read-only.
fn a_bundle() -> String {
    fixture("bundles/esxi-web01-snapshot.zip")
        .to_str()
        .unwrap()
        .to_string()
}

fn fill(text: &str, t: &Path, b: &str) -> String {
    text.replace("{T}", t.to_str().unwrap()).replace("{B}", b)
}

/// Why `line` repeats itself, if it does: a `: `-separated part twice in a row, the same
/// long part twice, or an OS error twice.
fn repeated(line: &str) -> Option<String> {
    let parts: Vec<&str> = line.split(": ").collect();
    for w in parts.windows(2) {
        if w[0] == w[1] {
            return Some(format!("{:?} twice in a row", w[0]));
        }
    }
    for (i, a) in parts.iter().enumerate() {
        if a.len() >= 8 && parts[i + 1..].contains(a) {
            return Some(format!("{a:?} twice"));
        }
    }
    if line.matches("(os error").count() > 1 || line.matches("No such file").count() > 1 {
        return Some("an OS error twice".into());
    }
    None
}

#[test]
fn every_bad_input_gives_one_line_naming_it_and_exit_2_before_anything_runs() {
    let d = workspace();
    let t = d.path();
    let b = a_bundle();
    let mut failures = Vec::new();
    for c in CANNOT_RUN {
        let args: Vec<String> = fill(c.args, t, &b).split(' ').map(str::to_string).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = dossier(t, &args);
        let err = stderr(&o);
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        let says = fill(c.says, t, &b);
        let names = fill(c.names, t, &b);
        let mut wrong = Vec::new();
        if o.status.code() != Some(c.code) {
            wrong.push(format!("exit {:?}, want {}", o.status.code(), c.code));
        }
        if lines.len() != 1 {
            wrong.push(format!("{} lines on stderr", lines.len()));
        }
        let line = lines.first().copied().unwrap_or("");
        if !line.starts_with("dossier: error: ") {
            wrong.push("no `dossier: error: ` head".into());
        }
        if !line.contains(&says) {
            wrong.push(format!("does not say {says:?}"));
        }
        if line.matches(names.as_str()).count() != 1 {
            wrong.push(format!("does not name {names:?} exactly once"));
        }
        if let Some(why) = repeated(line) {
            wrong.push(format!("repeats itself: {why}"));
        }
        if line.contains("/proc/self/fd") {
            wrong.push("names /proc/self/fd".into());
        }
        if !o.stdout.is_empty() {
            wrong.push(format!("printed on stdout: {}", stdout(&o)));
        }
        if !wrong.is_empty() {
            failures.push(format!("{}\n    {err}    {}", c.args, wrong.join("; ")));
        }
    }
    // Nothing was made: no output folder, no report folder, no baseline, no timeline.
    for made in ["o", "rep", "b.json", "t.jsonl", "afile/sub"] {
        assert!(!t.join(made).exists(), "{made} was created");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_damaged_bundle_is_a_failed_check_exit_1_named_once() {
    let d = workspace();
    let t = d.path();
    let whole = std::fs::read(a_bundle()).unwrap();
    std::fs::write(t.join("trunc.zip"), &whole[..200]).unwrap();

    let o = dossier(t, &["verify", "--no-ledger", "trunc.zip"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("dossier: 1 of 1 bundle(s) failed verification"),
        "{}",
        stderr(&o)
    );
    assert!(
        stdout(&o).starts_with("FAILED  trunc.zip\n"),
        "{}",
        stdout(&o)
    );

    let o = dossier(t, &["analyze", "trunc.zip", "--out", "rep"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    let line = out
        .lines()
        .find(|l| l.starts_with("NOT ANALYZED"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.starts_with("NOT ANALYZED  trunc.zip: verification failed: "),
        "{line}"
    );
    assert_eq!(line.matches("trunc.zip:").count(), 1, "{line}");
    assert!(repeated(line).is_none(), "{line}");

    // The defect of issue 18: "NOT IN TIMELINE  trunc.zip: trunc.zip: verification failed".
    let o = dossier(t, &["timeline", "trunc.zip", "--out", "t.jsonl"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    let line = out
        .lines()
        .find(|l| l.starts_with("NOT IN TIMELINE"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.starts_with("NOT IN TIMELINE  trunc.zip: verification failed: "),
        "{line}"
    );
    assert!(repeated(line).is_none(), "{line}");

    // baseline: one line, exit 1 (the bundle was checked and refused).
    let o = dossier(t, &["baseline", "trunc.zip", "--out", "b.json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    let line = err
        .lines()
        .find(|l| l.starts_with("dossier: error: "))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains("baseline not written: trunc.zip: verification failed: "),
        "{line}"
    );
    assert!(repeated(line).is_none() && !line.contains("  - "), "{line}");
}

#[test]
fn the_repeat_detector_catches_the_defects_of_issue_18() {
    assert!(repeated("trunc.zip: trunc.zip: verification failed").is_some());
    assert!(
        repeated("cannot create output directory /x: Not a directory (os error 20): Not a directory (os error 20)")
            .is_some()
    );
    assert!(repeated("--out /t/afile/sub: /t/afile is a file, not a folder").is_none());
}
