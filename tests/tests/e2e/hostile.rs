//! Bad input on targets: a hostile root filesystem (FIFOs and sockets where files are
//! expected, symlink loops, symlinks out of the root, a 10 GiB sparse crontab, non-UTF-8 and
//! newline-containing names, binary garbage, CRLF, 1 MiB lines, continuation lines, unreadable
//! files, a file growing while it is read) and processes that exit while `/proc` is read.
//!
//! The tree cannot live in git (FIFOs, sockets, sparse files, non-UTF-8 names): it is built at
//! test time by [`plant_hostile`], into a copy of `rootfs-clean` for `dossier collect --root`
//! (as root, and as `nobody` for permission-denied paths), and into SSH lab hosts for
//! `dossier sweep` (as root, and as the non-root analyst). Every case must end as a recorded
//! issue or a faithful record in a bundle that verifies: never a hang, a crash or a silent
//! skip. [`check_hostile`] asserts each case and prints what dossier recorded for it.

use dossier_tests::lab::{LAB_USER, Lab, Scenario};
use dossier_tests::*;
use serde_json::Value;
use sha2::Digest;
use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Bytes that exist only outside the target root: they must never reach a bundle.
const OUTSIDE_MARKER: &str = "OUTSIDE-ROOT-MARKER-7f3a";
/// Size of the sparse `/etc/crontab`.
const SPARSE: u64 = 10 << 30;
/// The file appended to while it is collected (a systemd generator: copied whole, up to 64 MiB).
const GROWING: &str = "/usr/lib/systemd/system-generators/growing-generator";
const GROWING_START: usize = 40 << 20;

fn sha(data: &[u8]) -> String {
    dossier_plugin_api::encoding::hex(&sha2::Sha256::digest(data))
}

/// Deterministic pseudo-random bytes.
fn noise(n: usize, mut seed: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.extend_from_slice(&seed.to_le_bytes());
    }
    v.truncate(n);
    v
}

fn garbage() -> Vec<u8> {
    let mut g = noise(64 << 10, 0xD0551E4);
    // Some line structure, so there are many lines to misparse.
    for i in (0..g.len()).step_by(97) {
        g[i] = b'\n';
    }
    g
}

fn at(root: &Path, path: &[u8]) -> PathBuf {
    root.join(OsStr::from_bytes(path.strip_prefix(b"/").unwrap_or(path)))
}

fn write(root: &Path, path: &[u8], data: &[u8]) {
    let p = at(root, path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&p);
    std::fs::write(&p, data).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
}

fn node(root: &Path, path: &str, kind: nix::sys::stat::SFlag) {
    let p = at(root, path.as_bytes());
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&p);
    nix::sys::stat::mknod(&p, kind, nix::sys::stat::Mode::from_bits_truncate(0o644), 0)
        .unwrap_or_else(|e| panic!("mknod {}: {e}", p.display()));
}

fn symlink(root: &Path, path: &str, target: &str) {
    let p = at(root, path.as_bytes());
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&p);
    std::os::unix::fs::symlink(target, &p).unwrap();
}

/// Plants the hostile tree under `root` (the target's `/` as seen from here). `outside` is a
/// directory outside the target holding [`OUTSIDE_MARKER`] files the symlinks point at.
fn plant_hostile(root: &Path, outside: &Path) {
    use nix::sys::stat::SFlag;
    std::fs::create_dir_all(outside).unwrap();
    let secret = format!("* * * * * root /bin/echo {OUTSIDE_MARKER}\n");
    std::fs::write(outside.join("secret-crontab"), &secret).unwrap();
    std::fs::write(
        outside.join("evil.service"),
        format!("[Service]\nExecStart=/bin/echo {OUTSIDE_MARKER}\n"),
    )
    .unwrap();

    // FIFOs and sockets where files are expected.
    node(root, "/etc/cron.d/fifo", SFlag::S_IFIFO);
    node(root, "/etc/cron.d/sock", SFlag::S_IFSOCK);
    node(root, "/etc/systemd/system/fifo.service", SFlag::S_IFIFO);
    node(root, "/etc/systemd/system/sock.service", SFlag::S_IFSOCK);
    node(root, "/etc/anacrontab", SFlag::S_IFIFO);
    // Symlink loops (a file and a drop-in directory).
    symlink(root, "/etc/cron.d/loop", "loop");
    symlink(root, "/etc/systemd/system/loop.service", "loop.service");
    symlink(root, "/etc/systemd/system/loop.service.d", "loop.service.d");
    // Symlinks out of the root: relative (climbing past `/`) and absolute.
    let up = "../".repeat(24);
    let rel = outside.strip_prefix("/").unwrap().display().to_string();
    symlink(
        root,
        "/etc/cron.d/escape",
        &format!("{up}{rel}/secret-crontab"),
    );
    symlink(
        root,
        "/etc/systemd/system/escape.service",
        &outside.join("evil.service").display().to_string(),
    );
    // A 10 GiB sparse /etc/crontab with two real lines before the hole.
    let p = at(root, b"/etc/crontab");
    let _ = std::fs::remove_file(&p);
    let mut f = std::fs::File::create(&p).unwrap();
    f.write_all(b"SHELL=/bin/sh\n*/7 * * * * root /usr/bin/before-hole\n")
        .unwrap();
    f.set_len(SPARSE).unwrap();
    drop(f);
    // Non-UTF-8 and newline-containing names.
    write(
        root,
        b"/etc/cron.d/bad\xffname",
        b"1 2 * * * root /usr/bin/nonutf8-job\n",
    );
    write(
        root,
        b"/etc/cron.d/new\nline",
        b"3 4 * * * root /usr/bin/newline-job\n",
    );
    write(
        root,
        b"/etc/systemd/system/bad\xff.service",
        b"[Service]\nExecStart=/usr/bin/nonutf8-svc\n",
    );
    write(
        root,
        b"/etc/systemd/system/new\nline.service",
        b"[Service]\nExecStart=/usr/bin/newline-svc\n",
    );
    // Binary garbage.
    write(root, b"/etc/cron.d/garbage", &garbage());
    write(root, b"/etc/systemd/system/garbage.service", &garbage());
    // CRLF.
    write(
        root,
        b"/etc/cron.d/crlf",
        b"SHELL=/bin/sh\r\n*/5 * * * * root /usr/bin/crlf-job\r\n",
    );
    write(
        root,
        b"/etc/systemd/system/crlf.service",
        b"[Unit]\r\nDescription=crlf\r\n[Service]\r\nExecStart=/usr/bin/crlf-svc\r\n",
    );
    // 1 MiB lines.
    let mut long = b"* * * * * root /usr/bin/long-".to_vec();
    long.extend(std::iter::repeat_n(b'a', 1 << 20));
    long.extend_from_slice(b"\n0 1 * * * root /usr/bin/after-long\n");
    write(root, b"/etc/cron.d/longline", &long);
    let mut long = b"[Service]\nExecStart=/usr/bin/long-".to_vec();
    long.extend(std::iter::repeat_n(b'b', 1 << 20));
    long.extend_from_slice(b"\nUser=after-long\n");
    write(root, b"/etc/systemd/system/long.service", &long);
    // Continuation lines: a short one with a comment inside, and one 10,000 lines long.
    write(
        root,
        b"/etc/systemd/system/cont.service",
        b"[Service]\nExecStart=/usr/bin/cont-svc \\\n  --a \\\n# a comment inside\n  --b\nUser=cont\n",
    );
    let mut cont = b"[Service]\nExecStart=/usr/bin/bigcont \\\n".to_vec();
    for i in 0..10_000 {
        cont.extend_from_slice(format!("  --arg-{i:05}-padding-padding-padding \\\n").as_bytes());
    }
    cont.extend_from_slice(b"  --end\nUser=bigcont\n");
    write(root, b"/etc/systemd/system/bigcont.service", &cont);
    // Files only root may read (collected as root; denied to non-root accounts).
    for (p, data) in [
        (
            &b"/etc/cron.d/secret"[..],
            &b"0 0 * * * root /usr/bin/secret-job\n"[..],
        ),
        (
            b"/etc/systemd/system/secret.service",
            b"[Service]\nExecStart=/usr/bin/secret-svc\n",
        ),
    ] {
        write(root, p, data);
        std::fs::set_permissions(at(root, p), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // The file that grows while it is read.
    let p = at(root, GROWING.as_bytes());
    write(root, GROWING.as_bytes(), &noise(GROWING_START, 42));
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Appends a line to `path` every 100 µs until dropped.
struct Appender {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Appender {
    fn start(path: PathBuf) -> Appender {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .unwrap();
            let mut n = 0u64;
            while !s.load(Ordering::Relaxed) {
                f.write_all(b"# appended while dossier reads this file\n")
                    .unwrap();
                n += 1;
                std::thread::sleep(Duration::from_micros(100));
            }
            n
        });
        Appender {
            stop,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Appender {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// How the bundle was collected, for the few differences between transports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    /// `collect --root` as root.
    Root,
    /// `collect --root` as `nobody`.
    Nobody,
    /// `sweep` as root over SSH.
    Ssh,
    /// `sweep` as the non-root analyst over SSH.
    SshUser,
}

impl Via {
    fn privileged(self) -> bool {
        matches!(self, Via::Root | Via::Ssh)
    }
    fn local(self) -> bool {
        matches!(self, Via::Root | Via::Nobody)
    }
}

/// Every issue of every collector, with `collector` added.
fn issues(m: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for c in m["collectors"].as_array().unwrap() {
        for i in c["issues"].as_array().cloned().unwrap_or_default() {
            let mut i = i;
            i["collector"] = c["name"].clone();
            out.push(i);
        }
    }
    out
}

fn kind(i: &Value) -> String {
    match &i["kind"] {
        Value::String(s) => s.clone(),
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| format!("{k}:{}", v.as_str().unwrap_or("?")))
            .collect(),
        other => other.to_string(),
    }
}

fn about<'a>(all: &'a [Value], subject: &str) -> Vec<&'a Value> {
    all.iter().filter(|i| i["subject"] == subject).collect()
}

fn short(i: &Value) -> String {
    let msg = i["message"].as_str().unwrap_or_default();
    let msg: String = msg.chars().take(90).collect();
    format!(
        "issue {} ({}): {msg}",
        kind(i),
        i["collector"].as_str().unwrap()
    )
}

/// An issue about `subject` of kind `want` whose message contains `needle`.
fn issue_with<'a>(all: &'a [Value], subject: &str, want: &str, needle: &str) -> &'a Value {
    let found = about(all, subject);
    found
        .iter()
        .copied()
        .find(|i| kind(i) == want && i["message"].as_str().unwrap_or("").contains(needle))
        .unwrap_or_else(|| {
            panic!("no `{want}` issue saying {needle:?} about {subject:?}; about it: {found:?}")
        })
}

/// An issue about `subject` of kind `want`.
fn issue_of<'a>(all: &'a [Value], subject: &str, want: &str) -> &'a Value {
    issue_with(all, subject, want, "")
}

fn member_entry<'a>(m: &'a Value, name: &str) -> Option<&'a Value> {
    m["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
}

fn unit<'a>(units: &'a [Value], name: &str) -> &'a Value {
    units
        .iter()
        .find(|u| u["name"] == name && u["scope"] == "system")
        .unwrap_or_else(|| panic!("no unit record {name:?}"))
}

fn cron_entry<'a>(entries: &'a [Value], path: &str, line: u64) -> &'a Value {
    entries
        .iter()
        .find(|e| e["source"]["path"] == path && e["line"] == line)
        .unwrap_or_else(|| panic!("no cron entry {path}:{line}"))
}

/// Asserts every hostile case in `bundle`; returns (case, what was recorded) rows.
fn check_hostile(bundle: &Path, via: Via) -> Vec<(&'static str, String)> {
    let m = manifest(bundle);
    let all = issues(&m);
    let units = of_kind(bundle, "systemd", "unit");
    let entries = of_kind(bundle, "cron", "cron_entry");
    let mut rows: Vec<(&'static str, String)> = Vec::new();

    // Nothing from outside the root, anywhere in the bundle.
    let mut z = zip::ZipArchive::new(std::fs::File::open(bundle).unwrap()).unwrap();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut data).unwrap();
        assert!(
            !data
                .windows(OUTSIDE_MARKER.len())
                .any(|w| w == OUTSIDE_MARKER.as_bytes()),
            "content from outside the root in {}",
            f.name().unwrap()
        );
    }

    // FIFOs and sockets: refused without being opened, recorded.
    for (case, path, what) in [
        ("FIFO as cron.d file", "/etc/cron.d/fifo", "FIFO"),
        ("socket as cron.d file", "/etc/cron.d/sock", "socket"),
        (
            "FIFO as unit file",
            "/etc/systemd/system/fifo.service",
            "FIFO",
        ),
        (
            "socket as unit file",
            "/etc/systemd/system/sock.service",
            "socket",
        ),
        ("FIFO as /etc/anacrontab", "/etc/anacrontab", "FIFO"),
    ] {
        let i = issue_with(&all, path, "error:not_regular", what);
        rows.push((case, short(i)));
    }
    for name in ["fifo.service", "sock.service"] {
        assert!(unit(&units, name)["source"].get("member").is_none());
    }

    // Symlink loops.
    let loop_kind = if via.local() { "error:loop" } else { "error:*" };
    for (case, path) in [
        ("symlink loop in cron.d", "/etc/cron.d/loop"),
        (
            "symlink loop as unit file",
            "/etc/systemd/system/loop.service",
        ),
        (
            "symlink loop as drop-in dir",
            "/etc/systemd/system/loop.service.d",
        ),
    ] {
        let found = about(&all, path);
        let i = found
            .iter()
            .find(|i| {
                let k = kind(i);
                k == loop_kind || (!via.local() && (k.starts_with("error:") || k == "malformed"))
            })
            .unwrap_or_else(|| panic!("{case}: no issue about {path}: {found:?}"));
        rows.push((case, short(i)));
    }

    // Symlinks out of the root: never followed out; the link itself is recorded.
    let i = about(&all, "/etc/cron.d/escape");
    assert!(!i.is_empty(), "escape symlink in cron.d not recorded");
    rows.push(("symlink out of root (relative, cron.d)", short(i[0])));
    let esc = unit(&units, "escape.service");
    assert!(
        esc["link_target"]
            .as_str()
            .unwrap()
            .ends_with("/evil.service")
    );
    assert!(esc["source"].get("member").is_none(), "{esc}");
    assert!(esc["exec_start"].as_array().is_none_or(Vec::is_empty));
    let i = issue_of(&all, "/etc/systemd/system/escape.service", "malformed");
    rows.push((
        "symlink out of root (absolute, unit)",
        format!(
            "unit record with link_target {}, no content; {}",
            esc["link_target"],
            short(i)
        ),
    ));

    // The 10 GiB sparse crontab: the first 4 MiB kept, truncation recorded, lines parsed.
    let i = issue_with(&all, "/etc/crontab", "truncated", &SPARSE.to_string());
    let raw = member_entry(&m, "raw/etc/crontab").expect("raw/etc/crontab");
    assert_eq!(raw["size"], 4 << 20);
    assert_eq!(raw["source"]["truncated"], true);
    assert_eq!(raw["source"]["meta"]["size"], SPARSE);
    assert_eq!(
        cron_entry(&entries, "/etc/crontab", 2)["command"],
        "/usr/bin/before-hole"
    );
    rows.push((
        "10 GiB sparse /etc/crontab",
        format!(
            "first 4 MiB kept (raw/etc/crontab), {}; entries parsed",
            short(i)
        ),
    ));

    // Odd names: recorded under their exact (escaped) names.
    for (case, path, cmd) in [
        (
            "non-UTF-8 name in cron.d",
            "/etc/cron.d/bad%FFname",
            "/usr/bin/nonutf8-job",
        ),
        (
            "newline in name in cron.d",
            "/etc/cron.d/new%0Aline",
            "/usr/bin/newline-job",
        ),
    ] {
        assert_eq!(cron_entry(&entries, path, 1)["command"], cmd, "{case}");
        let member = format!("raw{path}");
        assert!(member_entry(&m, &member).is_some(), "{case}: {member}");
        rows.push((case, format!("cron_entry + member `{member}`")));
    }
    for (case, name, cmd) in [
        (
            "non-UTF-8 name in unit dir",
            "bad%FF.service",
            "/usr/bin/nonutf8-svc",
        ),
        (
            "newline in name in unit dir",
            "new%0Aline.service",
            "/usr/bin/newline-svc",
        ),
    ] {
        let u = unit(&units, name);
        assert_eq!(u["exec_start"][0], cmd, "{case}");
        rows.push((case, format!("unit record `{name}`, raw copy hashed")));
    }

    // Binary garbage: copied verbatim (same SHA-256), lines recorded as not understood.
    let g = sha(&garbage());
    for (case, path) in [
        ("binary garbage crontab", "/etc/cron.d/garbage"),
        ("binary garbage unit", "/etc/systemd/system/garbage.service"),
    ] {
        let i = issue_of(&all, path, "malformed");
        assert_eq!(
            member_entry(&m, &format!("raw{path}")).unwrap()["sha256"],
            g.as_str()
        );
        rows.push((case, format!("raw copy (exact SHA-256), {}", short(i))));
    }
    assert!(
        entries
            .iter()
            .filter(|e| e["source"]["path"] == "/etc/cron.d/garbage")
            .all(|e| e["parse_error"].is_string())
    );

    // CRLF: parsed as the daemons read it.
    assert_eq!(
        cron_entry(&entries, "/etc/cron.d/crlf", 2)["command"],
        "/usr/bin/crlf-job"
    );
    assert_eq!(
        unit(&units, "crlf.service")["exec_start"][0],
        "/usr/bin/crlf-svc"
    );
    rows.push(("CRLF crontab and unit", "parsed; no %0D in values".into()));

    // 1 MiB lines: the record keeps 64 KiB and says so; the next line is parsed.
    let i = issue_with(&all, "/etc/cron.d/longline", "truncated", "line 1 ");
    assert_eq!(
        cron_entry(&entries, "/etc/cron.d/longline", 2)["command"],
        "/usr/bin/after-long"
    );
    rows.push(("1 MiB line in crontab", short(i)));
    let i = issue_of(&all, "/etc/systemd/system/long.service", "malformed");
    let u = unit(&units, "long.service");
    assert_eq!(u["exec_start"][0].as_str().unwrap().len(), 64 << 10);
    assert_eq!(u["user"], "after-long");
    rows.push(("1 MiB line in unit", short(i)));

    // Continuation lines.
    let u = unit(&units, "cont.service");
    let v = u["exec_start"][0].as_str().unwrap();
    assert!(
        v.starts_with("/usr/bin/cont-svc") && v.contains("--a") && v.ends_with("--b"),
        "{v}"
    );
    assert_eq!(u["user"], "cont");
    let i = issue_of(&all, "/etc/systemd/system/bigcont.service", "malformed");
    assert_eq!(unit(&units, "bigcont.service")["user"], "bigcont");
    rows.push((
        "continuation lines (10,000-line value)",
        format!("joined; {}", short(i)),
    ));

    // Files only root may read.
    for (case, path, cmd) in [
        (
            "unreadable crontab (0600 root)",
            "/etc/cron.d/secret",
            "/usr/bin/secret-job",
        ),
        (
            "unreadable unit (0600 root)",
            "/etc/systemd/system/secret.service",
            "/usr/bin/secret-svc",
        ),
    ] {
        if via.privileged() {
            let rec = if path.contains("cron") {
                cron_entry(&entries, path, 1)["command"].clone()
            } else {
                unit(&units, "secret.service")["exec_start"][0].clone()
            };
            assert_eq!(rec, cmd, "{case}");
        } else {
            let i = issue_of(&all, path, "error:permission_denied");
            rows.push((case, short(i)));
        }
    }

    // The growing file: copied as read, with metadata before and after.
    if via.privileged() {
        let i = issue_of(&all, GROWING, "changed");
        let e = member_entry(&m, &format!("raw{GROWING}")).unwrap();
        let (before, after) = (
            e["source"]["meta"]["size"].as_u64().unwrap(),
            e["source"]["meta_after"]["size"].as_u64().unwrap(),
        );
        assert_eq!(e["source"]["changed_during_read"], true);
        assert!(
            before >= GROWING_START as u64 && after > before,
            "{before} -> {after}"
        );
        assert!(e["size"].as_u64().unwrap() >= before);
        rows.push((
            "file appended to while read",
            format!(
                "{}; manifest meta.size {before} -> meta_after.size {after}",
                short(i)
            ),
        ));
    }
    rows
}

fn print_rows(title: &str, rows: &[(&str, String)]) {
    eprintln!("--- {title}: {} cases", rows.len());
    for (case, what) in rows {
        eprintln!("| {case} | {what} |");
    }
}

fn verify_ok(cwd: &Path, bundle: &Path) {
    let o = dossier(cwd, &["verify", "--no-ledger", bundle.to_str().unwrap()]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn hostile_root_is_collected_faithfully_as_root_and_as_nobody() {
    if !nix::unistd::geteuid().is_root() {
        dossier_tests::skip_or_fail("needs root (mknod of sockets, a tree readable as nobody)");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = fixture_copy("rootfs-clean", &d.path().join("root"));
    plant_hostile(&root, &d.path().join("outside"));

    // As root, while the generator grows.
    let appender = Appender::start(at(&root, GROWING.as_bytes()));
    let o = dossier(
        d.path(),
        &[
            "collect",
            "--quiet",
            "--out",
            d.path().join("out").to_str().unwrap(),
            "--root",
            root.to_str().unwrap(),
        ],
    );
    let appended = appender.stop();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(appended > 0);
    let b = PathBuf::from(stdout(&o).lines().last().unwrap());
    verify_ok(d.path(), &b);
    assert!(
        d.path().join("out/analysis").is_dir(),
        "the hostile bundle was analyzed"
    );
    print_rows("collect --root as root", &check_hostile(&b, Via::Root));

    // As nobody: what it may not read is recorded as such.
    let b = collect_as_nobody(&root, &d.path().join("out-nobody"));
    verify_ok(d.path(), &b);
    print_rows("collect --root as nobody", &check_hostile(&b, Via::Nobody));
}

/// Spawns short-lived children in a loop until stopped; returns every PID spawned.
struct Spawner {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Vec<u32>>>,
}

impl Spawner {
    fn start() -> Spawner {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut pids = Vec::new();
            let mut live: Vec<std::process::Child> = Vec::new();
            while !s.load(Ordering::Relaxed) {
                let c = std::process::Command::new("/bin/sleep")
                    .arg("0.02")
                    .stdin(Stdio::null())
                    .spawn()
                    .unwrap();
                pids.push(c.id());
                live.push(c);
                live.retain_mut(|c| c.try_wait().map(|s| s.is_none()).unwrap_or(false));
                std::thread::sleep(Duration::from_millis(3));
            }
            for mut c in live {
                let _ = c.wait();
            }
            pids
        });
        Spawner {
            stop,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> Vec<u32> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[test]
fn processes_exiting_during_live_collection_are_recorded() {
    let d = tempfile::tempdir().unwrap();
    let playbook = d.path().join("procs.toml");
    std::fs::write(
        &playbook,
        "name = \"procs\"\n[collectors.facts]\n[collectors.proc]\ncopy_executables = \"none\"\n",
    )
    .unwrap();
    let spawner = Spawner::start();
    std::thread::sleep(Duration::from_millis(200));
    let o = dossier(
        d.path(),
        &[
            "collect",
            "--quiet",
            "--no-analyze",
            "--out",
            d.path().join("out").to_str().unwrap(),
            "--playbook",
            playbook.to_str().unwrap(),
        ],
    );
    let ours = spawner.stop();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let b = PathBuf::from(stdout(&o).lines().last().unwrap());
    verify_ok(d.path(), &b);
    let m = manifest(&b);
    let all = issues(&m);
    let procs = of_kind(&b, "proc", "process");
    // Each of our children that dossier saw is either a record or an issue saying it exited.
    let mut exited = Vec::new();
    let mut recorded = 0;
    for pid in &ours {
        let subject = format!("/proc/{pid}");
        let gone = about(&all, &subject);
        let rec = procs.iter().find(|p| p["pid"] == *pid);
        if let Some(i) = gone.first() {
            assert!(i["message"].as_str().unwrap().contains("exited"), "{i}");
            exited.push(*pid);
        }
        if let Some(r) = rec {
            recorded += 1;
            assert!(r["comm"].is_string(), "{r}");
        }
    }
    assert!(
        !exited.is_empty(),
        "none of {} short-lived children was seen exiting during collection",
        ours.len()
    );
    let status = m["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "proc")
        .unwrap()["status"]
        .clone();
    assert_eq!(status, "partial", "exits make the proc collection partial");
    eprintln!(
        "| /proc entries of processes exiting during collection | {} of {} children: issue `error:not_found` \"process exited during collection\" (proc status partial); {recorded} recorded |",
        exited.len(),
        ours.len()
    );
}

#[test]
fn hostile_tree_on_lab_hosts_over_ssh() {
    let _serial = dossier_tests::lab::serial();
    let Some(lab) = Lab::start_or_skip(&[Scenario::Clean, Scenario::NonRoot]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    for h in lab.hosts() {
        plant_hostile(&h.root, &outside);
    }
    let appender = Appender::start(at(&lab.hosts()[0].root, GROWING.as_bytes()));
    let out = tmp.path().join("out");
    // Only the collectors that read the hostile tree (package verification over SFTP of the
    // whole dpkg database would only make the test slow).
    let playbook = tmp.path().join("hostile.toml");
    std::fs::write(
        &playbook,
        "name = \"hostile\"\n[collectors.facts]\n[collectors.systemd]\n[collectors.cron]\n",
    )
    .unwrap();
    let o = lab
        .command(dossier_bin())
        .args([
            "sweep",
            "--no-analyze",
            "-j",
            "2",
            "--ssh-config",
            "/dev/null",
        ])
        .arg("--playbook")
        .arg(&playbook)
        .arg(format!("root@{}", lab.hosts()[0].addr))
        .arg(format!("{LAB_USER}@{}", lab.hosts()[1].addr))
        .arg("-i")
        .arg(lab.client_key())
        .arg("--known-hosts")
        .arg(lab.known_hosts())
        .arg("--out")
        .arg(&out)
        .env("HOME", tmp.path())
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    appender.stop();
    eprintln!("{}", stderr(&o));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let s: Value = serde_json::from_slice(&std::fs::read(out.join("sweep.json")).unwrap()).unwrap();
    for t in s["targets"].as_array().unwrap() {
        assert_eq!(t["outcome"], "collected", "{t}");
        let b = out.join(t["bundle"].as_str().unwrap());
        verify_ok(tmp.path(), &b);
        let via = if t["target"].as_str().unwrap().starts_with(LAB_USER) {
            Via::SshUser
        } else {
            Via::Ssh
        };
        print_rows(
            &format!("sweep as {}", t["target"]),
            &check_hostile(&b, via),
        );
    }
}
