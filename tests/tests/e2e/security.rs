//! Security properties of what dossier writes: every output file is created 0600 in 0700
//! directories whatever the umask (collect and sweep), `/etc/shadow` content never reaches a
//! bundle, and no environment variable of a target process beyond the `LD_*` keys is stored.

use dossier_tests::lab::{LAB_USER, Lab, Scenario};
use dossier_tests::*;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// `dossier ARGS` with umask 000, so that only dossier's own choices set the modes.
fn dossier_umask0(cmd: &mut Command) -> Output {
    // SAFETY: umask is async-signal-safe and touches only the child.
    unsafe {
        cmd.pre_exec(|| {
            nix::libc::umask(0);
            Ok(())
        });
    }
    cmd.env_remove("DOSSIER_PLUGIN_PATH")
        .stdin(Stdio::null())
        .output()
        .expect("run dossier")
}

/// Every path under `dir` (itself included) whose mode is not 0700 (directories) or 0600
/// (files), with its mode.
fn loose_modes(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut out = Vec::new();
    let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o7777;
    if mode != 0o700 {
        out.push((dir.to_path_buf(), mode));
    }
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let m = std::fs::symlink_metadata(&p).unwrap();
        if m.is_dir() {
            out.extend(loose_modes(&p));
        } else if m.permissions().mode() & 0o7777 != 0o600 {
            out.push((p, m.permissions().mode() & 0o7777));
        }
    }
    out
}

/// Every file under `dir`, and every member of every bundle there, as (name, bytes).
pub(crate) fn everything(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(everything(&p));
            continue;
        }
        let data = std::fs::read(&p).unwrap();
        if p.extension().is_some_and(|x| x == "zip") {
            let mut z = zip::ZipArchive::new(std::fs::File::open(&p).unwrap()).unwrap();
            for i in 0..z.len() {
                let mut m = z.by_index(i).unwrap();
                let mut b = Vec::new();
                std::io::Read::read_to_end(&mut m, &mut b).unwrap();
                out.push((format!("{}:{}", p.display(), m.name().unwrap()), b));
            }
        }
        out.push((p.display().to_string(), data));
    }
    out
}

pub(crate) fn find(hay: &[(String, Vec<u8>)], needle: &[u8]) -> Vec<String> {
    hay.iter()
        .filter(|(_, d)| d.windows(needle.len()).any(|w| w == needle))
        .map(|(n, _)| n.clone())
        .collect()
}

const SHADOW_HASH: &str = "$6$dossiertest$Q9vQKm0secretHashThatMustNeverLeave/0123456789abcdef";

#[test]
fn collect_output_is_private_and_holds_no_shadow_content() {
    let d = tempfile::tempdir().unwrap();
    let root = fixture_copy("rootfs-clean", &d.path().join("root"));
    std::fs::write(
        root.join("etc/shadow"),
        format!("root:{SHADOW_HASH}:20000:0:99999:7:::\n"),
    )
    .unwrap();
    std::fs::set_permissions(
        root.join("etc/shadow"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let out = d.path().join("out");
    let o = dossier_umask0(
        Command::new(dossier_bin())
            .args(["collect", "--quiet", "--out"])
            .arg(&out)
            .arg("--root")
            .arg(&root)
            .current_dir(d.path()),
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(out.join("analysis").is_dir(), "analysis written too");
    let loose = loose_modes(&out);
    assert!(loose.is_empty(), "not 0600/0700 under umask 0: {loose:?}");

    let all = everything(&out);
    let hits = find(&all, SHADOW_HASH.as_bytes());
    assert!(hits.is_empty(), "shadow hash in {hits:?}");
    // If a collector ever touches /etc/shadow, only its metadata may be recorded.
    let b = PathBuf::from(stdout(&o).lines().last().unwrap());
    let m = manifest(&b);
    for e in m["members"].as_array().unwrap() {
        assert_ne!(e["source"]["path"], "/etc/shadow", "{e}");
    }
}

#[test]
fn environment_of_processes_never_reaches_a_bundle_beyond_ld_keys() {
    let d = tempfile::tempdir().unwrap();
    let secret = format!("dossier-env-secret-{}", std::process::id());
    let mut child = Command::new("/bin/sleep")
        .arg("120")
        .env("DOSSIER_TEST_API_TOKEN", &secret)
        .env("AWS_SECRET_ACCESS_KEY", &secret)
        .env("LD_LIBRARY_PATH", "/opt/dossier-test-ld")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let playbook = d.path().join("procs.toml");
    std::fs::write(
        &playbook,
        "name = \"procs\"\n[collectors.facts]\n[collectors.proc]\ncopy_executables = \"none\"\n",
    )
    .unwrap();
    let out = d.path().join("out");
    let o = dossier(
        d.path(),
        &[
            "collect",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
            "--playbook",
            playbook.to_str().unwrap(),
        ],
    );
    let pid = child.id();
    let _ = child.kill();
    let _ = child.wait();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let b = PathBuf::from(stdout(&o).lines().last().unwrap());
    let rec = of_kind(&b, "proc", "process")
        .into_iter()
        .find(|p| p["pid"] == pid)
        .expect("the planted process is recorded");
    assert_eq!(rec["ld_library_path"], "/opt/dossier-test-ld", "{rec}");
    let mut all = everything(&out);
    all.push(("stdout+stderr".into(), o.stdout.clone()));
    all.push(("stderr".into(), o.stderr.clone()));
    let hits = find(&all, secret.as_bytes());
    assert!(hits.is_empty(), "environment secret in {hits:?}");
    assert!(find(&all, b"DOSSIER_TEST_API_TOKEN").is_empty());
}

#[test]
fn sweep_output_is_private_and_holds_no_shadow_hash() {
    let _serial = dossier_tests::lab::serial();
    let Some(lab) = Lab::start_or_skip(&[Scenario::Clean, Scenario::NonRoot]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let playbook = tmp.path().join("p.toml");
    // Everything but package verification (slow over SFTP in debug builds, and reads no
    // account files).
    std::fs::write(
        &playbook,
        "name = \"p\"\n[collectors.facts]\n[collectors.proc]\n[collectors.systemd]\n[collectors.cron]\n[collectors.sockets]\n",
    )
    .unwrap();
    let mut cmd = lab.command(dossier_bin());
    cmd.args(["sweep", "-j", "2", "--ssh-config", "/dev/null", "-q"])
        .arg(format!("root@{}", lab.hosts()[0].addr))
        .arg(format!("{LAB_USER}@{}", lab.hosts()[1].addr))
        .arg("--playbook")
        .arg(&playbook)
        .arg("-i")
        .arg(lab.client_key())
        .arg("--known-hosts")
        .arg(lab.known_hosts())
        .arg("--out")
        .arg(&out)
        .env("HOME", tmp.path())
        .env_remove("SSH_AUTH_SOCK");
    let o = dossier_umask0(&mut cmd);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(out.join("sweep.json").is_file() && out.join("analysis").is_dir());
    let loose = loose_modes(&out);
    assert!(loose.is_empty(), "not 0600/0700 under umask 0: {loose:?}");
    // The NonRoot host's /etc/shadow holds the analyst's password hash.
    let shadow = std::fs::read_to_string(lab.hosts()[1].root.join("etc/shadow")).unwrap();
    let hash = shadow
        .lines()
        .find(|l| l.starts_with(&format!("{LAB_USER}:")))
        .and_then(|l| l.split(':').nth(1))
        .unwrap()
        .to_string();
    assert!(hash.starts_with("$6$"), "{hash}");
    let hits = find(&everything(&out), hash.as_bytes());
    assert!(hits.is_empty(), "shadow hash in {hits:?}");
}
