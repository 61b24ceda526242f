//! Hole 1 of issue 15, the read path: collectors parse what they read through the host into
//! records, so a secret must not be *read* through a user's link either, not only not copied.
//! A `--root` copy of `rootfs-clean` (and, in the second test, an SSH lab host) is planted
//! with what `alice` could leave: her crontab, two user units, her `authorized_keys` files,
//! two dotfiles and an environment file as symlinks to `/etc/shadow` or to root's private
//! key, a user unit that is a hard link to `/etc/shadow`, her own unit naming `/etc/shadow`
//! itself as its `EnvironmentFile=`, and (the image's root's doing) `/var/log/lastlog` linked
//! to it. The fake secrets hold lines each parser would carry into a record (cron line, unit
//! directives, key line, profile line, a loader variable), each with a unique marker.
//! Collected as root: no member of the bundle holds a marker, each planted path is refused as
//! an issue saying why, and the rest (alice's own unit, the accounts' password status from
//! `/etc/shadow` read at its own path) is collected as before.
//!
//! Before the read guard, the markers reached `systemd.jsonl` (the environment files' `LD_*`
//! lines), `packages.jsonl` (the verification of those paths) and `traces.jsonl` (lastlog
//! parsed from `/etc/shadow`), locally and over SSH.

use crate::security::{everything, find};
use dossier_tests::*;
use std::os::unix::fs::{PermissionsExt, lchown, symlink};
use std::path::Path;

const SHADOW_MARK: &str = "ShadowReadMarker4d2a";
const KEY_MARK: &str = "RootKeyReadMarker7f19";
const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBKjn0uj4Gk7sKWcU2aJnQc5pYc2KMvMSbKEbJ4Iu5Oq";

/// Lines that the cron, systemd, sshd and hooks parsers each record, tagged with `mark`.
fn bait(mark: &str) -> String {
    format!(
        "* * * * * /bin/echo {mark}-cron\n[Unit]\nDescription={mark}-unit\n[Service]\n\
         ExecStart=/bin/echo {mark}-exec\n{KEY} {mark}-authkey\nexport PATH=/tmp/{mark}-profile\n\
         LD_PRELOAD=/tmp/{mark}-ld.so\n"
    )
}

fn write_owned(path: &Path, body: &str, uid: u32, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Makes every directory from `root/rel` up to her home alice's (`uid`).
fn alice_dirs(root: &Path, rel: &str, uid: u32) {
    std::fs::create_dir_all(root.join(rel)).unwrap();
    let mut p = Path::new(rel);
    while p.as_os_str() != "home" && p.as_os_str() != "" {
        std::os::unix::fs::chown(root.join(p), Some(uid), Some(uid)).unwrap();
        p = p.parent().unwrap();
    }
}

/// A symlink at `root/rel` to `target`, owned by `uid`.
fn link(root: &Path, rel: &str, target: &str, uid: u32) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&p);
    symlink(target, &p).unwrap();
    lchown(&p, Some(uid), Some(uid)).unwrap();
}

/// The planted links (see the module documentation), as paths on the target.
const PLANTED: [&str; 10] = [
    "/home/alice/.profile",
    "/home/alice/.bashrc",
    "/var/spool/cron/crontabs/alice",
    "/home/alice/.config/systemd/user/evil.service",
    "/home/alice/.config/systemd/user/evil2.service",
    "/home/alice/.config/systemd/user/hard.service",
    "/home/alice/.ssh/authorized_keys",
    "/home/alice/.ssh/authorized_keys2",
    "/home/alice/.env",
    "/var/log/lastlog",
];

/// Plants the secrets and alice's (`uid`) links in `root`, which has her home. The target's
/// own shadow lines are kept (first: a lab host's logins use them).
fn plant(root: &Path, uid: u32) {
    let shadow = root.join("etc/shadow");
    let kept: String = std::fs::read_to_string(&shadow)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with("alice:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let gid = std::fs::metadata(&shadow).map_or(0, |m| std::os::unix::fs::MetadataExt::gid(&m));
    write_owned(
        &shadow,
        &format!(
            "{kept}alice:!:20000:0:99999:7:::\nmallory:$6$salt${SHADOW_MARK}hash:20000:0:99999:7:::\n{}",
            bait(SHADOW_MARK)
        ),
        0,
        0o640,
    );
    std::os::unix::fs::chown(&shadow, None, Some(gid)).unwrap();
    write_owned(
        &root.join("root/.ssh/id_ed25519"),
        &format!(
            "-----BEGIN OPENSSH PRIVATE KEY-----\n{}-----END OPENSSH PRIVATE KEY-----\n",
            bait(KEY_MARK)
        ),
        0,
        0o600,
    );
    alice_dirs(root, "home/alice/.config/systemd/user", uid);
    alice_dirs(root, "home/alice/.ssh", uid);
    write_owned(
        &root.join("home/alice/.config/systemd/user/good.service"),
        "[Service]\nExecStart=/usr/bin/true alice-own-unit\n",
        uid,
        0o644,
    );
    // Her own unit names the secrets itself (no link): the environment files are read, and
    // their loader variables recorded.
    write_owned(
        &root.join("home/alice/.config/systemd/user/env.service"),
        "[Service]\nExecStart=/usr/bin/true\nEnvironmentFile=/etc/shadow\n\
         EnvironmentFile=-/home/alice/.env\n",
        uid,
        0o644,
    );
    let key = "/root/.ssh/id_ed25519";
    for (rel, target) in [
        (".profile", "/etc/shadow"),
        (".bashrc", key),
        (".config/systemd/user/evil.service", "/etc/shadow"),
        (".config/systemd/user/evil2.service", key),
        (".ssh/authorized_keys", "../../../etc/shadow"),
        (".ssh/authorized_keys2", key),
        (".env", key),
    ] {
        link(root, &format!("home/alice/{rel}"), target, uid);
    }
    link(root, "var/spool/cron/crontabs/alice", "/etc/shadow", uid);
    // A link the image's root made: the guard goes by the file opened, whoever linked it.
    link(root, "var/log/lastlog", "/etc/shadow", 0);
    std::fs::hard_link(
        root.join("etc/shadow"),
        root.join("home/alice/.config/systemd/user/hard.service"),
    )
    .unwrap();
}

#[test]
fn a_users_links_never_bring_secrets_into_records() {
    if !nix::unistd::Uid::effective().is_root() {
        skip::skip_or_fail("planting alice's links needs root (lchown)");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let root = fixture_copy("rootfs-clean", &d.path().join("root"));
    plant(&root, 1000);
    let out = d.path().join("out");
    let o = dossier_cmd(d.path())
        .args(["collect", "--quiet", "--no-analyze", "--playbook", "full"])
        .arg("--out")
        .arg(&out)
        .arg("--root")
        .arg(&root)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let b = std::path::PathBuf::from(stdout(&o).lines().last().unwrap());
    judge(&out, &b);
}

/// Asserts what the planted target's collection into `out` (bundle `b`) must be: no marker
/// anywhere, each planted path refused as an issue saying why, and the rest intact.
fn judge(out: &Path, b: &Path) {
    let all = everything(out);
    for mark in [SHADOW_MARK, KEY_MARK] {
        let hits = find(&all, mark.as_bytes());
        assert!(hits.is_empty(), "{mark} in {hits:?}");
    }
    let m = manifest(b);
    let runs = m["collectors"].as_array().unwrap();
    let issues: Vec<&serde_json::Value> = runs
        .iter()
        .flat_map(|c| c["issues"].as_array().into_iter().flatten())
        .collect();
    for path in PLANTED {
        let found: Vec<&str> = issues
            .iter()
            .filter(|i| i["subject"] == path)
            .filter_map(|i| i["message"].as_str())
            .filter(|msg| msg.starts_with("refused: "))
            .collect();
        assert!(!found.is_empty(), "no refusal for {path}: {issues:?}");
        println!("{path}: {}", found[0]);
    }
    let systemd = runs.iter().find(|c| c["name"] == "systemd").unwrap();
    assert!(
        systemd["issues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["subject"] == "/etc/shadow"
                && i["message"].as_str().unwrap().starts_with("refused: ")),
        "{systemd}"
    );
    intact(b);
}

/// The same attack on an SSH lab host, swept by the collection account with `--sudo` (read
/// as root by `sudo sftp-server`; no inodes over SFTP: the secrets are recognised by content,
/// the links by their owners). alice is uid 1001 there (the collection account is 1000).
#[test]
fn a_users_links_never_bring_secrets_into_records_over_ssh() {
    use dossier_tests::lab::{LAB_USER, Lab, Scenario};
    let _serial = dossier_tests::lab::serial();
    let Some(lab) = Lab::start_or_skip(&[Scenario::NonRoot]) else {
        return;
    };
    if !Path::new("/usr/bin/sudo").is_file() {
        skip::skip_or_fail("no /usr/bin/sudo on this machine (package sudo)");
        return;
    }
    let root = &lab.hosts()[0].root;
    let mut passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    passwd.push_str("alice:x:1001:1001:Alice,,,:/home/alice:/bin/bash\n");
    std::fs::write(root.join("etc/passwd"), passwd).unwrap();
    plant(root, 1001);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let playbook = tmp.path().join("p.toml");
    std::fs::write(
        &playbook,
        "name = \"p\"\n[collectors.facts]\n[collectors.accounts]\n[collectors.cron]\n\
         [collectors.hooks]\n[collectors.sshd]\n[collectors.traces]\n\
         [collectors.systemd]\nuser_units = true\n",
    )
    .unwrap();
    let key = lab.client_key().to_str().unwrap();
    let target = format!("{LAB_USER}@{}", lab.hosts()[0].addr);
    let pb = playbook.to_str().unwrap();
    let o = lab.sweep(
        tmp.path(),
        &out,
        lab.known_hosts(),
        &[
            "-i",
            key,
            &target,
            "--sudo",
            "--no-analyze",
            "-q",
            "--playbook",
            pb,
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let sj: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("sweep.json")).unwrap()).unwrap();
    let t = &sj["targets"][0];
    assert_eq!(t["outcome"], "collected", "{t}");
    judge(&out, &out.join(t["bundle"].as_str().unwrap()));
}

/// The parts of bundle `b` that the refusals must leave: the accounts' password status from
/// `/etc/shadow` read at its own path, and alice's own unit.
fn intact(b: &Path) {
    let m = manifest(b);
    for c in m["collectors"].as_array().unwrap() {
        assert!(c["error"].is_null(), "{c}");
    }
    let units = records(b, "systemd");
    assert!(
        units
            .iter()
            .any(|r| r.to_string().contains("alice-own-unit")),
        "{units:?}"
    );
    let shadow = of_kind(b, "accounts", "shadow_file");
    assert!(shadow[0]["entries"].as_u64().unwrap() >= 2, "{shadow:?}");
    let accounts = of_kind(b, "accounts", "account");
    let alice = accounts.iter().find(|a| a["name"] == "alice").unwrap();
    assert_eq!(alice["password"], "locked", "{alice}");
}
