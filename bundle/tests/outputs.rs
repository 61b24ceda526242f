//! Output files against someone who can plant files (issue 15, hole 2): a FIFO or link under
//! an output name is refused, never waited on or written through; the sidecar cannot be a
//! file planted under a predictable name; an existing output directory someone else owns or
//! may write is refused.

mod common;
use common::{a_manifest, fixture_bundle};

/// The tests' skip-or-fail rule, shared with `dossier-tests` (which this crate cannot depend
/// on): the original is `tests/src/skip.rs`.
#[path = "../../tests/src/skip.rs"]
#[allow(dead_code)]
mod skip;

use dossier_bundle::fsio::{append_private, create_private, ensure_out_dir};
use dossier_bundle::ledger::{self, Beside, LEDGER_NAME};
use dossier_bundle::reader::{Limits, sidecar_path, verify};
use dossier_bundle::writer::BundleWriter;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

/// The unprivileged user who plants things (tests run as root).
const NOBODY: u32 = 65534;

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Runs `f` on its own thread and fails the test when it has not returned within `secs`
/// (an open of a FIFO with no writer or reader blocks forever).
fn within<T: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("{what}: still blocked after {secs} s (hangs on the FIFO)"))
}

fn mkfifo(path: &Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
    if is_root() {
        std::os::unix::fs::lchown(path, Some(NOBODY), Some(NOBODY)).unwrap();
    }
}

#[test]
fn a_fifo_under_an_output_name_is_refused_not_waited_on() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("report.partial");
    mkfifo(&fifo);
    let p = fifo.clone();
    let e = within(10, "create_private", move || {
        create_private(&p).unwrap_err()
    });
    assert!(e.to_string().contains("FIFO"), "{e}");
    let p = fifo.clone();
    let e = within(10, "append_private", move || {
        append_private(&p).unwrap_err()
    });
    assert!(e.to_string().contains("FIFO"), "{e}");

    // The custody ledger as a FIFO: checking it and appending to it neither hang nor write.
    let ledger_fifo = d.path().join(LEDGER_NAME);
    mkfifo(&ledger_fifo);
    let bundle = d.path().join("b.zip");
    let b = bundle.clone();
    let beside = within(10, "Beside::of", move || Beside::of(&b))
        .expect("a ledger that is not a regular file is not a missing one");
    let problems = beside.problems("b.zip", None);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0]
            .message
            .contains("a FIFO, not a regular file: refused"),
        "{problems:?}"
    );
    let dir = d.path().to_path_buf();
    let e = within(10, "ledger::append", move || {
        ledger::append(
            &dir,
            &ledger::Event {
                action: "verified",
                bundle: "b.zip",
                sha256: None,
                detail: None,
            },
        )
        .unwrap_err()
    });
    assert!(e.to_string().contains("FIFO"), "{e}");

    // A ledger that is a link to another file: the target is neither read as the ledger nor
    // appended to.
    std::fs::remove_file(&ledger_fifo).unwrap();
    let victim = d.path().join("victim");
    std::fs::write(&victim, b"keep\n").unwrap();
    std::os::unix::fs::symlink(&victim, &ledger_fifo).unwrap();
    let beside = Beside::of(&bundle).unwrap();
    let problems = beside.problems("b.zip", None);
    assert!(
        problems[0].message.contains("a symbolic link"),
        "{problems:?}"
    );
    assert!(
        ledger::append(
            d.path(),
            &ledger::Event {
                action: "verified",
                bundle: "b.zip",
                sha256: None,
                detail: None,
            }
        )
        .is_err()
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep\n");
}

#[test]
fn a_fifo_for_a_bundle_or_its_sidecar_is_refused_not_waited_on() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("fifo.zip");
    mkfifo(&fifo);
    let p = fifo.clone();
    let v = within(10, "verify of a FIFO", move || {
        verify(&p, &Limits::default())
    });
    assert!(
        v.problems[0].message.contains("a FIFO, not a regular file"),
        "{:?}",
        v.problems
    );
    // A real bundle whose sidecar is a FIFO: the bundle is checked, the sidecar refused.
    let b = d.path().join("b.zip");
    std::fs::copy(fixture_bundle(), &b).unwrap();
    mkfifo(&sidecar_path(&b));
    let v = within(10, "verify with a FIFO sidecar", move || {
        verify(&b, &Limits::default())
    });
    assert_eq!(v.problems.len(), 1, "{:?}", v.problems);
    assert!(
        v.problems[0].subject == "sidecar" && v.problems[0].message.contains("a FIFO"),
        "{:?}",
        v.problems
    );
    assert!(v.members_checked > 0);
}

#[test]
fn the_sidecar_is_never_a_file_planted_under_a_predictable_name() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let w = BundleWriter::create(&out, "t").unwrap();
    // What the sidecar's temporary name used to be, planted (by someone who could write the
    // directory) as a file they own and may rewrite at any time.
    let planted = out.join(".t.zip.sha256.partial");
    std::fs::write(&planted, b"planted\n").unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o666)).unwrap();
    if is_root() {
        std::os::unix::fs::chown(&planted, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let planted_ino = std::fs::metadata(&planted).unwrap().ino();
    let done = w.finish(a_manifest(), "t").unwrap();
    let side = sidecar_path(&done.path);
    let meta = std::fs::symlink_metadata(&side).unwrap();
    assert_ne!(
        meta.ino(),
        planted_ino,
        "the planted file became the sidecar"
    );
    assert_eq!(meta.uid(), nix::unistd::geteuid().as_raw());
    assert_eq!(meta.mode() & 0o777, 0o600);
    assert_eq!(std::fs::read(&planted).unwrap(), b"planted\n");
    assert!(verify(&done.path, &Limits::default()).ok());
    // No temporary sidecar is left behind.
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial") && n != ".t.zip.sha256.partial")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn an_existing_output_directory_is_checked_for_owner_and_mode() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("out");
    ensure_out_dir(&dir).unwrap();
    ensure_out_dir(&dir).unwrap();
    let chmod = |mode: u32| {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    for (mode, text) in [
        (0o777, "mode 0777"),
        (0o1777, "mode 1777"),
        (0o770, "mode 0770"),
    ] {
        chmod(mode);
        let e = ensure_out_dir(&dir).unwrap_err().to_string();
        assert!(
            e.contains("refusing output directory") && e.contains(text),
            "{e}"
        );
        assert!(BundleWriter::create(&dir, "t").is_err());
    }
    chmod(0o755);
    ensure_out_dir(&dir).unwrap();
    if is_root() {
        // Made by an unprivileged user for root to write bundles into.
        std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).unwrap();
        let e = ensure_out_dir(&dir).unwrap_err().to_string();
        assert!(e.contains("owned by uid 65534"), "{e}");
        assert!(BundleWriter::create(&dir, "t").is_err());
        // A link an unprivileged user made to a directory of ours.
        std::os::unix::fs::chown(&dir, Some(0), Some(0)).unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        std::os::unix::fs::lchown(&link, Some(NOBODY), Some(NOBODY)).unwrap();
        let e = ensure_out_dir(&link).unwrap_err().to_string();
        assert!(e.contains("symbolic link is owned by uid 65534"), "{e}");
    } else {
        skip::skip_or_fail("needs root (chown to nobody): folders and links of others not checked");
    }
    // Not a directory at all.
    let file = d.path().join("file");
    std::fs::write(&file, b"").unwrap();
    assert!(ensure_out_dir(&file).is_err());
}
