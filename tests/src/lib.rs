//! Helpers for dossier's end-to-end suites: find the real `dossier` binary built by this
//! `cargo test` run, run it, locate fixture roots, and read bundles it produced; and the SSH
//! lab ([`lab`]), fake hosts running real OpenSSH in namespaces, for testing sweeps; and the
//! corpora: planted persistence cases ([`cases`]), realistic benign hosts ([`benign`]), and
//! both run together for the precision/recall figure ([`corpus`]); the ECS schema check of the
//! exports ([`ecs_schema`]); forged bundles for the tamper tests ([`forge`]); a local
//! S3-compatible server for the object-storage tests ([`s3`]).
//!
//! The binary is the one cargo built next to this test executable (`target/<profile>/dossier`);
//! the `dossier-cli` package's own integration tests make sure cargo builds it fresh in every
//! `cargo test --workspace`. `DOSSIER_BIN` overrides the path.

pub mod benign;
pub mod cases;
pub mod corpus;
pub mod ecs_schema;
pub mod forge;
pub mod lab;
pub mod s3;
pub mod skip;
pub mod tsa;

pub use skip::skip_or_fail;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Path of the `dossier` binary under test.
pub fn dossier_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("DOSSIER_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/dossier
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("dossier");
    assert!(
        bin.is_file(),
        "{} not built: run `cargo test --workspace` (it builds the binary)",
        bin.display()
    );
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .expect("binary mtime");
    for dir in [
        "cli/src",
        "remote/src",
        "bundle/src",
        "contain/src",
        "events/src",
        "collectors/src",
        "plugin-api/src",
        "plugin-abi/src",
        "analyzers/src",
        "reporters/src",
        "i18n/src",
        "i18n/catalog",
        "playbooks",
    ] {
        if let Some(newer) = newer_than(&repo_root().join(dir), built) {
            panic!(
                "{} is older than {}: run `cargo test --workspace` (or `cargo build -p dossier-cli` first)",
                bin.display(),
                newer.display()
            );
        }
    }
    bin
}

/// Path of a plugin library built by this `cargo test` run: `lib<name>.so` of a workspace
/// plugin crate (`dossier_ssh_keys`, `dossier_test_plugin`). `cargo test` builds them as
/// dev-dependencies of this package into `target/<profile>/deps/`; `cargo build` puts them in
/// `target/<profile>/`. The newest is taken, and it must be newer than its sources.
pub fn plugin_lib(name: &str, srcs: &[&str]) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("deps dir");
    let profile = deps.parent().expect("target dir");
    let file = format!("lib{name}.so");
    let newest = [deps.join(&file), profile.join(&file)]
        .into_iter()
        .filter_map(|p| {
            let t = std::fs::metadata(&p).ok()?.modified().ok()?;
            Some((t, p))
        })
        .max();
    let Some((built, lib)) = newest else {
        panic!("{file} not built: run `cargo test --workspace`");
    };
    for dir in srcs.iter().chain(&["plugin-api/src", "plugin-abi/src"]) {
        if let Some(newer) = newer_than(&repo_root().join(dir), built) {
            panic!(
                "{} is older than {}: run `cargo test --workspace`",
                lib.display(),
                newer.display()
            );
        }
    }
    lib
}

/// The `ssh-keys` plugin library.
pub fn ssh_keys_plugin() -> PathBuf {
    // The plugin re-exports the collectors' SSH key parsers.
    plugin_lib(
        "dossier_ssh_keys",
        &["collectors/plugins/ssh-keys/src", "collectors/src"],
    )
}

/// The misbehaving test plugin library (`tests/test-plugin`).
pub fn test_plugin() -> PathBuf {
    plugin_lib("dossier_test_plugin", &["tests/test-plugin/src"])
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> String {
    use sha2::Digest;
    let data = std::fs::read(path).expect("read file");
    dossier_plugin_api::encoding::hex(&sha2::Sha256::digest(&data))
}

/// A file under `dir` modified after `t`, if any.
fn newer_than(dir: &Path, t: std::time::SystemTime) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        let ft = e.file_type().ok()?;
        if ft.is_dir() {
            if let Some(n) = newer_than(&p, t) {
                return Some(n);
            }
        } else if ft.is_file() && e.metadata().ok()?.modified().ok()? > t {
            return Some(p);
        }
    }
    None
}

/// Root of the repository.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

/// A fixture root filesystem under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// A copy of the fixture root `name` at `to` (`cp -a`: modes, owners and links kept), for
/// tests that plant more in it.
pub fn fixture_copy(name: &str, to: &Path) -> PathBuf {
    let st = Command::new("cp")
        .arg("-a")
        .arg(fixture(name))
        .arg(to)
        .status()
        .expect("run cp");
    assert!(st.success(), "cp -a {name} {}", to.display());
    to.to_path_buf()
}

/// Runs `dossier` with `args` in `cwd`, without dynamic plugins (no `DOSSIER_PLUGIN_PATH`,
/// and a per-user plugin directory that does not exist), so that plugins installed on the
/// machine running the tests cannot change what they see.
pub fn dossier(cwd: &Path, args: &[&str]) -> Output {
    dossier_cmd(cwd).args(args).output().expect("run dossier")
}

/// The `dossier` command in `cwd` without dynamic plugins (see [`dossier`]), for tests that
/// add arguments, environment or standard streams of their own.
pub fn dossier_cmd(cwd: &Path) -> Command {
    let mut c = Command::new(dossier_bin());
    c.current_dir(cwd)
        .env_remove("DOSSIER_PLUGIN_PATH")
        .env("XDG_DATA_HOME", "/nonexistent/dossier-tests");
    c
}

/// [`dossier`] with a signing key's passphrase in `DOSSIER_SIGN_PASSPHRASE`.
pub fn dossier_with_passphrase(cwd: &Path, passphrase: &str, args: &[&str]) -> Output {
    dossier_cmd(cwd)
        .args(args)
        .env("DOSSIER_SIGN_PASSPHRASE", passphrase)
        .output()
        .expect("run dossier")
}

/// `dossier collect --root ROOT --no-analyze` run as `nobody` (uid/gid 65534) into a new
/// directory `out` owned by nobody, without dynamic plugins; asserts success and returns the
/// bundle path.
pub fn collect_as_nobody(root: &Path, out: &Path) -> PathBuf {
    use std::os::unix::process::CommandExt;
    std::fs::create_dir(out).unwrap();
    std::os::unix::fs::chown(out, Some(65534), Some(65534)).unwrap();
    let o = Command::new(dossier_bin())
        .args(["collect", "--quiet", "--no-analyze", "--out"])
        .arg(out)
        .arg("--root")
        .arg(root)
        .current_dir(out)
        .uid(65534)
        .gid(65534)
        .env("HOME", out)
        .env_remove("DOSSIER_PLUGIN_PATH")
        .env("XDG_DATA_HOME", "/nonexistent/dossier-tests")
        .output()
        .expect("run dossier");
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    PathBuf::from(stdout(&o).lines().last().unwrap())
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `dossier collect` with extra args into `out` and returns the bundle path it printed.
pub fn collect(cwd: &Path, out: &Path, extra: &[&str]) -> PathBuf {
    let out_s = out.to_str().expect("utf-8 path");
    let mut args = vec!["collect", "--quiet", "--out", out_s];
    args.extend_from_slice(extra);
    let o = dossier(cwd, &args);
    assert!(
        o.status.success(),
        "collect failed: {}\n{}",
        stdout(&o),
        stderr(&o)
    );
    let line = stdout(&o)
        .lines()
        .last()
        .expect("bundle path printed")
        .to_string();
    let p = PathBuf::from(line);
    let p = if p.is_absolute() { p } else { cwd.join(p) };
    assert!(p.is_file(), "{} missing", p.display());
    p
}

/// Reads one member of a bundle.
pub fn member(bundle: &Path, name: &str) -> Vec<u8> {
    let f = std::fs::File::open(bundle).expect("open bundle");
    let mut z = zip::ZipArchive::new(f).expect("zip");
    let mut m = z
        .by_name(name)
        .unwrap_or_else(|_| panic!("{name} not in {}", bundle.display()));
    let mut out = Vec::new();
    m.read_to_end(&mut out).expect("read member");
    out
}

/// The manifest of a bundle.
pub fn manifest(bundle: &Path) -> serde_json::Value {
    serde_json::from_slice(&member(bundle, "manifest.json")).expect("manifest JSON")
}

/// Records of one collector.
pub fn records(bundle: &Path, collector: &str) -> Vec<serde_json::Value> {
    let data = member(bundle, &format!("records/{collector}.jsonl"));
    String::from_utf8(data)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("record JSON"))
        .collect()
}

/// Records of one collector with a given `kind`.
pub fn of_kind(bundle: &Path, collector: &str, kind: &str) -> Vec<serde_json::Value> {
    records(bundle, collector)
        .into_iter()
        .filter(|r| r["kind"] == kind)
        .collect()
}

/// Whether a program is on PATH.
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}
