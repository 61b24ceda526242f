//! Hole 1 of issue 15: an unprivileged user's symlinked (or hard-linked) dotfile must never
//! bring a secret into a bundle. A `--root` copy of `rootfs-clean` is planted with what
//! `alice` (uid 1000) could leave in her home: `.profile` a symlink to `/etc/shadow`, `.bashrc`
//! to root's SSH private key, `.bash_login` to an SSH host private key, `.bash_logout` to
//! another user's file, and `.bash_profile` a hard link to `/etc/shadow` (same inode: caught
//! by device and inode, not by path). Collected as root, no bundle member may hold any of
//! their contents, and each refusal (of the read, or of the copy) is an issue in the bundle.

use crate::security::{everything, find};
use dossier_tests::*;
use std::os::unix::fs::{PermissionsExt, lchown, symlink};
use std::path::Path;

const SHADOW_MARK: &str = "ShadowSecretMarker9c1e/NeverInABundle";
const ROOT_KEY_MARK: &str = "RootPrivateKeyMarker5b7d";
const HOST_KEY_MARK: &str = "HostPrivateKeyMarker0a4f";
const BOB_MARK: &str = "BobPrivateNotesMarker3e8c";

fn write_owned(path: &Path, body: &str, uid: u32, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The planted fixture root (see the module documentation).
fn plant(root: &Path) {
    write_owned(
        &root.join("etc/shadow"),
        &format!("root:$6${SHADOW_MARK}:20000:0:99999:7:::\nalice:!:20000:0:99999:7:::\n"),
        0,
        0o640,
    );
    write_owned(
        &root.join("root/.ssh/id_ed25519"),
        &format!(
            "-----BEGIN OPENSSH PRIVATE KEY-----\n{ROOT_KEY_MARK}\n-----END OPENSSH PRIVATE KEY-----\n"
        ),
        0,
        0o600,
    );
    write_owned(
        &root.join("etc/ssh/ssh_host_dossiertest_key"),
        &format!(
            "-----BEGIN OPENSSH PRIVATE KEY-----\n{HOST_KEY_MARK}\n-----END OPENSSH PRIVATE KEY-----\n"
        ),
        0,
        0o600,
    );
    write_owned(&root.join("home/bob/notes"), BOB_MARK, 1001, 0o600);
    let home = root.join("home/alice");
    std::os::unix::fs::chown(&home, Some(1000), Some(1000)).unwrap();
    for (name, target) in [
        (".profile", "/etc/shadow"),
        (".bashrc", "/root/.ssh/id_ed25519"),
        (".bash_login", "../../etc/ssh/ssh_host_dossiertest_key"),
        (".bash_logout", "/home/bob/notes"),
    ] {
        let p = home.join(name);
        let _ = std::fs::remove_file(&p);
        symlink(target, &p).unwrap();
        lchown(&p, Some(1000), Some(1000)).unwrap();
    }
    std::fs::hard_link(root.join("etc/shadow"), home.join(".bash_profile")).unwrap();
}

#[test]
fn a_users_linked_dotfiles_never_bring_secrets_into_a_bundle() {
    let d = tempfile::tempdir().unwrap();
    let root = fixture_copy("rootfs-clean", &d.path().join("root"));
    plant(&root);
    let out = d.path().join("out");
    let o = dossier_cmd(d.path())
        .args(["collect", "--quiet", "--no-analyze", "--out"])
        .arg(&out)
        .arg("--root")
        .arg(&root)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let all = everything(&out);
    for mark in [SHADOW_MARK, ROOT_KEY_MARK, HOST_KEY_MARK, BOB_MARK] {
        let hits = find(&all, mark.as_bytes());
        assert!(hits.is_empty(), "{mark} in {hits:?}");
    }
    // Each refusal is one issue of the hooks collector, saying why; the collector goes on.
    let b = std::path::PathBuf::from(stdout(&o).lines().last().unwrap());
    let m = manifest(&b);
    let hooks = m["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "hooks")
        .unwrap();
    assert!(hooks["error"].is_null(), "{hooks}");
    let issues = hooks["issues"].as_array().unwrap();
    for name in [
        ".profile",
        ".bashrc",
        ".bash_login",
        ".bash_logout",
        ".bash_profile",
    ] {
        let subject = format!("/home/alice/{name}");
        let found = issues
            .iter()
            .find(|i| i["subject"] == subject.as_str())
            .unwrap_or_else(|| panic!("no issue for {subject}: {issues:?}"));
        let msg = found["message"].as_str().unwrap();
        assert!(msg.contains("refused: "), "{msg}");
        println!("{subject}: {msg}");
    }
    // The hook records are still there (metadata and link target, no content).
    let recs = of_kind(&b, "hooks", "hook");
    assert!(
        recs.iter().any(|r| r["path"] == "/home/alice/.profile"
            && r["link_target"] == "/etc/shadow"
            && r["source"].is_null()),
        "{recs:?}"
    );
    // Nothing refused that the user owns: /etc/profile and /etc/bash.bashrc are still copied.
    for e in m["members"].as_array().unwrap() {
        let p = e["source"]["path"].as_str().unwrap_or("");
        assert!(!p.starts_with("/home/alice/"), "{e}");
    }
    assert!(
        m["members"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["source"]["path"] == "/etc/bash.bashrc")
    );
}

/// The same attack on an SSH lab host, collected by `sweep` as root over SFTP (no inodes
/// there: the never-copied files are recognised by content, the links by their owners).
#[test]
fn a_users_linked_dotfiles_never_bring_secrets_into_a_bundle_over_ssh() {
    use dossier_tests::lab::{Lab, Scenario};
    let _serial = dossier_tests::lab::serial();
    let Some(lab) = Lab::start_or_skip(&[Scenario::Clean]) else {
        return;
    };
    let root = &lab.hosts()[0].root;
    let mut passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    passwd.push_str("alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n");
    std::fs::write(root.join("etc/passwd"), passwd).unwrap();
    std::fs::create_dir_all(root.join("home/alice")).unwrap();
    plant(root);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let playbook = tmp.path().join("p.toml");
    std::fs::write(
        &playbook,
        "name = \"p\"\n[collectors.facts]\n[collectors.hooks]\n",
    )
    .unwrap();
    let o = lab
        .sweep_command(tmp.path())
        .args(["--no-analyze", "--ssh-config", "/dev/null", "-q"])
        .arg(format!("root@{}", lab.hosts()[0].addr))
        .arg("--playbook")
        .arg(&playbook)
        .arg("-i")
        .arg(lab.client_key())
        .arg("--known-hosts")
        .arg(lab.known_hosts())
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let all = everything(&out);
    for mark in [SHADOW_MARK, ROOT_KEY_MARK, HOST_KEY_MARK, BOB_MARK] {
        let hits = find(&all, mark.as_bytes());
        assert!(hits.is_empty(), "{mark} in {hits:?}");
    }
    let refused: Vec<String> = all
        .iter()
        .filter(|(n, _)| n.ends_with(":manifest.json"))
        .flat_map(|(_, d)| {
            let m: serde_json::Value = serde_json::from_slice(d).unwrap();
            m["collectors"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|c| c["issues"].as_array().cloned().unwrap_or_default())
                .filter(|i| i["message"].as_str().unwrap_or("").contains("refused: "))
                .map(|i| format!("{}: {}", i["subject"], i["message"]))
                .collect::<Vec<_>>()
        })
        .collect();
    println!("{}", refused.join("\n"));
    assert_eq!(refused.len(), 5, "{refused:?}");
}
