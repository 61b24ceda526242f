//! `dossier contain --from findings.json` on the command line: a findings document of another
//! host, a foreign or hostile document, `--runtime` without `--from`, `--rollback-secs` out of
//! range or without an isolation, and a network target are refused with one clear line before
//! anything is planned or changed. (Plans from a real
//! analysis over SSH: the lab test `contain::`.)

use dossier_tests::*;

#[test]
fn contain_from_refuses_what_it_cannot_plan_with_a_clear_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let out = cwd.join("rep");
    // A real analysis: the miner fixture, collected as an image and analyzed.
    let o = dossier(
        cwd,
        &[
            "collect",
            "--root",
            fixture("rootfs-miner").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "-q",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let findings = out.join("analysis/findings.json");
    assert!(findings.is_file());
    let f = findings.to_str().unwrap();
    // This machine is not esxi-web01.
    let o = dossier(cwd, &["contain", "--from", f]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let e = stderr(&o);
    assert!(
        e.contains("no analysis of host") && e.contains("(hosts: esxi-web01)"),
        "{e}"
    );
    // Not a findings document.
    let bad = cwd.join("bad.json");
    std::fs::write(&bad, b"{\"schema\": \"dossier-sweep\", \"version\": 1}").unwrap();
    let o = dossier(cwd, &["contain", "--from", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a dossier findings document"),
        "{}",
        stderr(&o)
    );
    let o = dossier(cwd, &["contain", "--action", "isolate", "--runtime"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--runtime is for plans made --from"));
    // --rollback-secs: in range, and for an isolation only; the plan says it.
    for (args, want) in [
        (
            vec!["--action", "isolate", "--rollback-secs", "29"],
            "--rollback-secs 29: give 30 to 3600 seconds",
        ),
        (
            vec!["--action", "isolate", "--rollback-secs", "3601"],
            "--rollback-secs 3601: give 30 to 3600 seconds",
        ),
        (
            vec!["--from", f, "--rollback-secs", "60"],
            "--rollback-secs is for --action isolate",
        ),
    ] {
        let mut argv = vec!["contain"];
        argv.extend(args);
        let o = dossier(cwd, &argv);
        assert_eq!(o.status.code(), Some(2), "{argv:?}");
        let e = stderr(&o);
        assert!(e.contains(want) && e.lines().count() == 1, "{argv:?}: {e}");
    }
    let o = dossier(
        cwd,
        &["contain", "--action", "isolate", "--rollback-secs", "45"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("removed after 45 s unless confirmed"),
        "{}",
        stdout(&o)
    );
    let o = dossier(cwd, &["contain", "10.0.0.0/30", "--from", f]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("a network; name each host"),
        "{}",
        stderr(&o)
    );
    let o = dossier(
        cwd,
        &[
            "contain",
            "web01",
            "--from",
            f,
            "--accept-new",
            "--ssh-config",
            "/dev/null",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--accept-new"), "{}", stderr(&o));
}
