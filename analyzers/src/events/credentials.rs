//! Credential access (`event-credential-access`): a process opening, or a command naming for
//! reading or copying, a place where credentials are kept — the shadow files, SSH private
//! keys, browsers' password and cookie stores.
//!
//! Routine by behaviour and place: the programs whose job is to read them (sshd, login, su,
//! sudo, passwd, unix_chkpwd, the shadow tools, cron's PAM, integrity checkers) when they run
//! from a packaged path, the SSH client reading its own user's key, a browser reading its own
//! store, security agents, and Debian's daily copy of the shadow files into /var/backups.
//! Commands that only look at a file's metadata (ls, stat, chmod...) are not reads.

use super::view::{View, base, mentions, packaged};
use super::{ArgExt, Hit, event_iocs, parent_arg, process_arg, say, who_arg};
use dossier_plugin_api::analysis::{Arg, Ioc, Message, Severity};

/// What kind of secret a path holds, and its technique.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Secret {
    Shadow,
    SshKey,
    Browser,
}

impl Secret {
    fn technique(self) -> &'static str {
        match self {
            Secret::Shadow => "T1003.008",
            Secret::SshKey => "T1552.004",
            Secret::Browser => "T1555.003",
        }
    }
}

/// The secret a path holds, if any.
pub(crate) fn secret(path: &str) -> Option<Secret> {
    if matches!(
        path,
        "/etc/shadow" | "/etc/gshadow" | "/etc/shadow-" | "/etc/gshadow-" | "/etc/security/opasswd"
    ) {
        return Some(Secret::Shadow);
    }
    let name = base(path);
    if (path.contains("/.ssh/id_") && !name.ends_with(".pub"))
        || (path.starts_with("/etc/ssh/ssh_host_") && name.ends_with("_key"))
    {
        return Some(Secret::SshKey);
    }
    let browser_dir = path.contains("/.mozilla/firefox/")
        || [
            "/.config/google-chrome/",
            "/.config/chromium/",
            "/.config/BraveSoftware/",
            "/.config/microsoft-edge/",
        ]
        .iter()
        .any(|d| path.contains(d));
    if browser_dir
        && matches!(
            name,
            "logins.json" | "key4.db" | "key3.db" | "cookies.sqlite" | "Login Data" | "Cookies"
        )
    {
        return Some(Secret::Browser);
    }
    None
}

/// Programs whose job is to read the shadow files (authentication, account tools,
/// integrity checkers), trusted only from a packaged path.
const SHADOW_READERS: &[&str] = &[
    "sshd",
    "sshd-session",
    "login",
    "su",
    "sudo",
    "passwd",
    "unix_chkpwd",
    "unix_update",
    "chage",
    "chpasswd",
    "chfn",
    "chsh",
    "newusers",
    "useradd",
    "usermod",
    "userdel",
    "groupadd",
    "groupmod",
    "groupdel",
    "gpasswd",
    "newgrp",
    "pwck",
    "grpck",
    "pwconv",
    "grpconv",
    "vipw",
    "vigr",
    "cron",
    "crond",
    "atd",
    "systemd",
    "systemd-logind",
    "sssd",
    "nscd",
    "polkitd",
    "polkit-agent-helper-1",
    "accounts-daemon",
    "gdm-session-worker",
    "lightdm",
    "cockpit-session",
    "aide",
    "tripwire",
];

/// Programs that only look at metadata or permissions.
const METADATA_ONLY: &[&str] = &[
    "ls",
    "stat",
    "chmod",
    "chown",
    "chgrp",
    "test",
    "[",
    "file",
    "getfacl",
    "setfacl",
    "lsattr",
    "chattr",
    "touch",
    "restorecon",
    "find",
    "ssh-keygen",
];

/// Whether the acting process is a routine reader of `s` at `path`.
fn routine(v: &View, s: Secret, path: &str) -> bool {
    let Some(p) = &v.proc else { return false };
    let name = p.base();
    let exe_packaged = p.exe.as_deref().is_some_and(packaged);
    if v.agent().is_some() {
        return true;
    }
    match s {
        Secret::Shadow => exe_packaged && SHADOW_READERS.contains(&name),
        Secret::SshKey => {
            let own = path.starts_with("/etc/ssh/")
                && exe_packaged
                && matches!(name, "sshd" | "sshd-session" | "ssh-keygen");
            let client = exe_packaged
                && matches!(
                    name,
                    "ssh" | "ssh-add" | "scp" | "sftp" | "ssh-agent" | "git"
                );
            own || client
        }
        Secret::Browser => {
            let exe = p.exe.as_deref().unwrap_or("");
            ["firefox", "chrome", "chromium", "brave", "msedge"]
                .iter()
                .any(|b| name.starts_with(b))
                && (packaged(exe) || exe.starts_with("/opt/google/") || exe.starts_with("/snap/"))
        }
    }
}

/// Debian's daily `passwd` cron job: `cp -p /etc/shadow shadow.bak` and `cmp` in /var/backups.
fn debian_backup(v: &View, cmd: Option<&str>) -> bool {
    let in_backups = v.ev.fields.get("cwd").is_some_and(|c| c == "/var/backups")
        || cmd.is_some_and(|c| c.contains("/var/backups/"));
    let prog = v.proc.as_ref().map(|p| p.base()).unwrap_or("");
    in_backups
        && matches!(prog, "cp" | "cmp")
        && v.proc
            .as_ref()
            .and_then(|p| p.exe.as_deref())
            .is_none_or(packaged)
}

/// Secrets a command line names as arguments (its program not metadata-only).
fn named_secrets(cmd: &str) -> Vec<(String, Secret)> {
    if !mentions(
        cmd,
        &[
            "shadow",
            "opasswd",
            "/.ssh/",
            "ssh_host_",
            "mozilla",
            "/.config/",
        ],
    ) {
        return Vec::new();
    }
    let words: Vec<&str> = cmd
        .split(|c: char| c.is_whitespace() || "'\";|&()<>".contains(c))
        .filter(|w| !w.is_empty())
        .collect();
    let Some(first) = words.first() else {
        return Vec::new();
    };
    let mut prog = base(first);
    if matches!(prog, "sudo" | "env" | "nohup") {
        prog = words.get(1).map(|w| base(w)).unwrap_or("");
    }
    if METADATA_ONLY.contains(&prog)
        || SHADOW_READERS.contains(&prog)
        || matches!(prog, "ssh" | "ssh-add")
    {
        return Vec::new();
    }
    let mut out: Vec<(String, Secret)> = Vec::new();
    for (i, w) in words.iter().enumerate().skip(1) {
        // `scp -i KEY ...`: the key is used to log on, not read out.
        if words[i - 1] == "-i" {
            continue;
        }
        let w = w.trim_start_matches("if=");
        if let Some(s) = secret(w)
            && !out.iter().any(|(p, _)| p == w)
        {
            out.push((w.to_string(), s));
        }
    }
    out
}

pub(crate) fn check(v: &View, out: &mut Vec<Hit>) {
    let mut found: Vec<(String, Secret, &'static str)> = Vec::new();
    let opening = matches!(
        v.action(),
        "open" | "openat" | "openat2" | "SensitiveFileRead" | "read"
    );
    if opening
        && let Some(f) = v.file()
        && let Some(s) = secret(&f)
    {
        found.push((f, s, "opened"));
    }
    let cmd = v.run_command();
    if let Some(c) = cmd {
        for (p, s) in named_secrets(c) {
            if !found.iter().any(|(f, _, _)| *f == p) {
                found.push((p, s, "ran a command that reads"));
            }
        }
    }
    for (path, s, how) in found {
        // A command's own program was judged by `named_secrets`; an open by its process.
        let routine_actor = if how == "opened" {
            routine(v, s, &path)
        } else {
            v.agent().is_some()
        };
        if routine_actor || (s == Secret::Shadow && debian_backup(v, cmd)) {
            continue;
        }
        out.push(hit(v, &path, s, how, cmd));
    }
}

fn hit(v: &View, path: &str, s: Secret, how: &str, cmd: Option<&str>) -> Hit {
    let who = v.user().unwrap_or("an unknown account");
    let failed = v.ev.outcome.as_deref() == Some("failure");
    let owner = path
        .strip_prefix("/home/")
        .and_then(|r| r.split('/').next())
        .or_else(|| path.starts_with("/root/").then_some("root"));
    let own_key = s == Secret::SshKey && owner.is_some_and(|o| Some(o) == v.user());
    let copies = cmd.is_some_and(|c| {
        c.split_whitespace().any(|w| {
            matches!(
                base(w),
                "cp" | "scp"
                    | "tar"
                    | "base64"
                    | "xxd"
                    | "curl"
                    | "nc"
                    | "ncat"
                    | "rsync"
                    | "unshadow"
                    | "john"
                    | "dd"
                    | "zip"
            )
        })
    });
    let severity = if v.web_context() || v.taint.is_some() {
        Severity::High
    } else if failed || (own_key && !copies) {
        Severity::Medium
    } else {
        Severity::High
    };
    let note = |on: bool, id: &str| {
        if on {
            Arg::Message(Message::new(id))
        } else {
            Arg::Text(String::new())
        }
    };
    let prog = match &v.proc {
        Some(p) => process_arg(p),
        None => Arg::Message(Message::new("event-said.a-process")),
    };
    let cmd_arg = match cmd {
        Some(c) => Arg::Message(Message::new("event-said.command").text("command", c)),
        None => Arg::Text(String::new()),
    };
    let how = match how {
        "opened" => "event-said.opened",
        _ => "event-said.ran-reading",
    };
    let secret = match s {
        Secret::Shadow => "event-said.secret-shadow",
        Secret::SshKey => "event-said.secret-ssh-key",
        Secret::Browser => "event-said.secret-browser",
    };
    let explanation = Message::new("event-said.credential")
        .arg("prog", prog)
        .arg("who", who_arg(v))
        .arg("parent", parent_arg(v))
        .msg("how", say(how, &[("path", &path)]))
        .arg("command", cmd_arg)
        .arg("refused", note(failed, "event-said.refused"))
        .msg("secret", Message::new(secret))
        .arg("copies", note(copies, "event-said.copies"))
        .arg("own", note(own_key, "event-said.own-key"));
    let risk = match s {
        Secret::Shadow => say("event-risk.shadow", &[("who", &who)]),
        Secret::SshKey => say("event-risk.ssh-key", &[("path", &path)]),
        Secret::Browser => say("event-risk.browser", &[("path", &path)]),
    };
    let mut iocs = vec![Ioc::Path(path.to_string())];
    iocs.extend(event_iocs(v));
    Hit::said("event-credential-access", severity, path, explanation, risk)
        .techniques(vec![s.technique()])
        .field("Secret", path)
        .iocs(iocs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_commands() {
        assert_eq!(secret("/etc/shadow"), Some(Secret::Shadow));
        assert_eq!(secret("/home/a/.ssh/id_ed25519"), Some(Secret::SshKey));
        assert_eq!(secret("/home/a/.ssh/id_ed25519.pub"), None);
        assert_eq!(secret("/etc/ssh/ssh_host_rsa_key"), Some(Secret::SshKey));
        assert_eq!(
            secret("/home/a/.mozilla/firefox/x.default/logins.json"),
            Some(Secret::Browser)
        );
        assert_eq!(secret("/etc/passwd"), None);
        assert_eq!(named_secrets("cat /etc/shadow").len(), 1);
        assert_eq!(named_secrets("sudo cat /etc/shadow").len(), 1);
        assert!(named_secrets("ls -l /etc/shadow").is_empty());
        assert!(named_secrets("chmod 640 /etc/shadow").is_empty());
        assert!(named_secrets("passwd alice").is_empty());
    }
}
