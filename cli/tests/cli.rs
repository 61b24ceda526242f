//! Command-line behaviour of the `dossier` binary that needs no fixtures. (Declaring an
//! integration test here also makes `cargo test --workspace` build the binary that the
//! end-to-end suites in `tests/` run.)

use std::process::Command;

fn dossier(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dossier"))
        .args(args)
        .output()
        .expect("run dossier")
}

#[test]
fn collectors_lists_the_builtin_collectors() {
    let o = dossier(&["collectors"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for name in ["facts", "proc", "systemd", "cron", "sockets", "packages"] {
        assert!(
            out.lines().any(|l| l.starts_with(name)),
            "{name} missing from:\n{out}"
        );
    }
}

#[test]
fn bad_playbook_is_refused_with_file_line_and_key() {
    let d = tempfile::tempdir().unwrap();
    let pb = d.path().join("pb.toml");
    std::fs::write(
        &pb,
        "name = \"x\"\n[collectors.cron]\nmax_file_size = \"lots\"\n",
    )
    .unwrap();
    let o = dossier(&[
        "collect",
        "--root",
        d.path().to_str().unwrap(),
        "--out",
        d.path().join("o").to_str().unwrap(),
        "--playbook",
        pb.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("pb.toml") && err.contains("line 2") && err.contains("collectors.cron"),
        "{err}"
    );
    assert!(
        !d.path().join("o").exists(),
        "nothing may be written for a refused playbook"
    );
}

#[test]
fn unknown_playbook_and_missing_root_are_clear_errors() {
    let o = dossier(&["collect", "--playbook", "nosuch"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("playbook `nosuch` not found"));
    let o = dossier(&["collect", "--root", "/nonexistent/dossier-root"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("--root /nonexistent/dossier-root: does not exist")
    );
}

#[test]
fn verify_of_a_missing_or_non_regular_file_cannot_run() {
    // Exit 2 (could not run), not 1 (a bundle failed its check): nothing was verified.
    let o = dossier(&["verify", "/nonexistent/x.zip"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bundle /nonexistent/x.zip: does not exist"),
        "{err}"
    );
    let o = dossier(&["verify", "/dev/null"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bundle /dev/null: a device, not a bundle file"),
        "{err}"
    );
}

#[test]
fn sweep_refuses_bad_targets_before_connecting() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let out = out.to_str().unwrap();
    // Each is a usage error (exit 2) naming the problem; none opens a connection (a network
    // too large is refused before any probe; nothing is written).
    for (args, needle) in [
        (vec!["sweep", "--out", out], "no targets"),
        (vec!["sweep", "--out", out, "10.0.0.0/8"], "10.0.0.0/8"),
        (vec!["sweep", "--out", out, "host;id"], "host;id"),
        (
            vec!["sweep", "--out", out, "--", "-oProxyCommand=sh"],
            "ProxyCommand",
        ),
        (vec!["sweep", "--out", out, "web01", "-j", "0"], "--jobs"),
        (
            vec!["sweep", "--out", out, "web01", "--user", "root;id"],
            "--user",
        ),
    ] {
        let o = dossier(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert!(!std::path::Path::new(out).exists(), "nothing written");
}
