//! Helpers shared by the rule families: building findings, program paths, unusual locations, interpreter names, programs referenced by processes, units and cron.

use crate::context::what;
use crate::context::{At, Ctx, canonical, program, referrer};
use dossier_i18n::{Lang, catalog};
use dossier_plugin_api::analysis::{Arg, Evidence, Finding, Ioc, Message};
use dossier_plugin_api::records::UnitRecord;

/// A finding explained by a catalogue message (`i18n/catalog/*/findings-*.toml`): reports
/// render the message in their language; `explanation` holds its English rendering.
pub(crate) fn explained(
    subject: impl Into<String>,
    message: Message,
    evidence: Vec<Evidence>,
    iocs: Vec<Ioc>,
) -> Finding {
    let mut f = Finding::new(subject, english(&message), evidence, iocs);
    f.message = Some(message);
    f
}

/// A catalogue message in English (the text of `explanation` and of other English-only
/// fields).
pub(crate) fn english(message: &Message) -> String {
    catalog(Lang::En).render(message)
}

/// Adds an argument of any kind to a message (text, nested message or list).
pub(crate) fn with_arg(mut m: Message, name: &str, value: impl Into<Arg>) -> Message {
    m.args.insert(name.to_string(), value.into());
    m
}

/// Items joined as the language joins a short enumeration (`a, b, c` in English): nested
/// `reason.list.comma` messages, so each language chooses its separator.
pub(crate) fn comma_list<A: Into<Arg>>(items: impl IntoIterator<Item = A>) -> Arg {
    joined("reason.list.comma", items)
}

/// Items joined by "and" (`a and b and c` in English; `reason.list.and`).
pub(crate) fn and_list<A: Into<Arg>>(items: impl IntoIterator<Item = A>) -> Arg {
    joined("reason.list.and", items)
}

/// Items joined pairwise by the message `id` (`{a}` and `{b}`), right to left.
fn joined<A: Into<Arg>>(id: &str, items: impl IntoIterator<Item = A>) -> Arg {
    let mut items: Vec<Arg> = items.into_iter().map(Into::into).collect();
    let Some(mut acc) = items.pop() else {
        return Arg::Text(String::new());
    };
    while let Some(prev) = items.pop() {
        acc = Arg::Message(with_arg(with_arg(Message::new(id), "a", prev), "b", acc));
    }
    acc
}

pub(crate) fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

pub(crate) const UNUSUAL_DIRS: &[&str] = &[
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
pub(crate) fn in_system_bin_dir(c: &str) -> bool {
    let parent = c.rsplit_once('/').map_or("", |(p, _)| p);
    matches!(parent, "/usr/bin" | "/usr/sbin" | "")
        || ["/usr/lib/", "/usr/lib64/", "/usr/libexec/"]
            .iter()
            .any(|d| c.starts_with(d))
}

pub(crate) const DISGUISE_NAMES: &[&str] = &[
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

pub(crate) const INTERPRETERS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "csh", "tcsh", "ash", "busybox", "python", "python2",
    "python3", "perl", "ruby", "php", "node", "nodejs", "java", "lua", "tclsh", "nc", "ncat",
    "netcat", "socat",
];

pub(crate) fn is_interpreter(name: &str) -> bool {
    let n = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    INTERPRETERS.contains(&name)
        || INTERPRETERS.contains(&n)
        || n.starts_with("python")
        || n.starts_with("php")
}

/// Per-user toolchain and application directories under a home directory: hidden, but where
/// rustup, nvm, pyenv, pipx, volta, deno, bun, SDKMAN and `pip --user` install programs.
const TOOLCHAIN_DIRS: &[&str] = &[
    "/.local/bin/",
    "/.local/lib/",
    "/.local/share/pipx/",
    "/.cargo/bin/",
    "/.rustup/toolchains/",
    "/.nvm/versions/",
    "/.pyenv/",
    "/.rbenv/",
    "/.volta/",
    "/.deno/bin/",
    "/.bun/bin/",
    "/.sdkman/candidates/",
];

/// Why a path is an unusual place for a program, if it is, in English (see
/// [`unusual_location_msg`]).
pub fn unusual_location(path: &str) -> Option<String> {
    unusual_location_msg(path).map(|m| english(&m))
}

/// Why a path is an unusual place for a program, if it is: /tmp, /var/tmp, /dev/shm, /run,
/// /var/log, /boot, /dev (`reason.location.dir`), or a hidden directory (other than a
/// per-user toolchain directory in a home directory; `reason.location.hidden`).
pub fn unusual_location_msg(path: &str) -> Option<Message> {
    if let Some(d) = UNUSUAL_DIRS.iter().find(|d| path.starts_with(*d)) {
        return Some(Message::new("reason.location.dir").text("dir", d.trim_end_matches('/')));
    }
    let in_home = path.starts_with("/home/") || path.starts_with("/root/");
    let dir = format!("{}/", path.trim_end_matches('/'));
    if in_home && TOOLCHAIN_DIRS.iter().any(|d| dir.contains(d)) {
        return None;
    }
    if path
        .split('/')
        .any(|c| c.starts_with('.') && c != "." && c != "..")
    {
        return Some(Message::new("reason.location.hidden"));
    }
    None
}

/// Programs run by processes, units and cron entries: (path, referrer, evidence, pid of the
/// process when the referrer is one).
pub(crate) fn referenced_programs(ctx: &Ctx) -> Vec<(String, Message, Vec<Evidence>, Option<u32>)> {
    let mut out = Vec::new();
    for p in &ctx.procs {
        if let (Some(exe), false) = (&p.rec.exe, p.rec.kernel_thread) {
            out.push((
                exe.clone(),
                referrer::process_named(p.rec.pid, &p.rec.comm),
                ctx.ev(p, what("evidence.process", &[("pid", &p.rec.pid)]), None),
                Some(p.rec.pid),
            ));
        }
    }
    for u in &ctx.units {
        for cmd in unit_commands(&u.rec) {
            if let Some(prog) = program(cmd) {
                out.push((
                    prog,
                    referrer::unit(&u.rec.name),
                    ctx.ev(
                        u,
                        what("evidence.unit", &[("name", &u.rec.name)]),
                        Some(&u.rec.source),
                    ),
                    None,
                ));
            }
        }
    }
    for c in &ctx.cron {
        for prog in segment_programs(&c.rec.command) {
            out.push((
                prog,
                referrer::cron(&c.rec.source.path, c.rec.line),
                ctx.ev(
                    c,
                    what(
                        "evidence.cron-entry",
                        &[("file", &c.rec.source.path), ("line", &c.rec.line)],
                    ),
                    Some(&c.rec.source),
                ),
                None,
            ));
        }
    }
    out
}

pub(crate) fn unit_commands(u: &UnitRecord) -> impl Iterator<Item = &String> {
    u.exec_start
        .iter()
        .chain(&u.exec_start_pre)
        .chain(&u.exec_start_post)
        .chain(&u.exec_stop)
        .chain(&u.exec_reload)
}

/// Programs of each segment of a shell command line (split at `;`, `&&`, `||`, `|`).
/// Redirections (`>&/dev/null`, `2>&1`, `&>file`) are not separators: their targets are files,
/// not programs.
pub fn segment_programs(cmd: &str) -> Vec<String> {
    cmd.replace(">&", "> ")
        .replace("<&", "< ")
        .replace("&>", " >")
        .split([';', '|', '&', '(', ')', '`'])
        .filter_map(program)
        .collect()
}

pub(crate) fn proc_iocs(p: &At<dossier_plugin_api::records::ProcessRecord>) -> Vec<Ioc> {
    let mut v = vec![Ioc::Pid(p.rec.pid)];
    v.extend(p.rec.exe.clone().map(Ioc::Path));
    v.extend(p.rec.exe_sha256.clone().map(Ioc::Sha256));
    v
}

pub(crate) fn proc_ev(
    ctx: &Ctx,
    p: &At<dossier_plugin_api::records::ProcessRecord>,
) -> Vec<Evidence> {
    let mut ev = ctx.ev(
        p,
        what(
            "evidence.process-named",
            &[("pid", &p.rec.pid), ("comm", &p.rec.comm)],
        ),
        None,
    );
    if let Some(m) = &p.rec.exe_member {
        ev.extend(ctx.member_ev(m, what("evidence.process-exe-copy", &[("pid", &p.rec.pid)])));
    }
    ev
}

pub(crate) fn tokens(s: &str) -> Vec<String> {
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

/// The path an rc?.d link runs, resolved against its directory.
pub(crate) fn rc_link_target(path: &str, target: &str) -> String {
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

/// Names of kernel threads as `ps` shows them without brackets (`kworker/0:1`,
/// `ksoftirqd/0`...): a process with an executable never legitimately carries one.
pub(crate) const KTHREAD_NAMES: &[&str] = &[
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
pub(crate) fn kernel_thread_name(name: &str) -> bool {
    (name.starts_with('[') && name.ends_with(']'))
        || KTHREAD_NAMES.iter().any(|k| name.starts_with(k))
}

/// Why a user-space process's name does not fit its executable, if it does not: it calls itself
/// like a kernel thread, or its argv[0] names another program. Process titles (`sshd: user`,
/// `nginx: master process`, `postgres: ...`), systemd's `(sd-pam)`, login shells (`-bash`),
/// interpreters and busybox applets (`python3` running python3.11), programs re-executed
/// through `/proc/self/exe`, memfd executables (their name is arbitrary), and a packaged name for a packaged executable (a packaged
/// symlink such as mysqld → mariadbd) are not judged. Shared by `process-masquerade` and
/// `renamed-process-listening`. A catalogue message (`reason.masquerade.*`).
pub(crate) fn masquerade_reason_msg(
    ctx: &Ctx,
    p: &dossier_plugin_api::records::ProcessRecord,
) -> Option<Message> {
    if p.kernel_thread {
        return None;
    }
    let exe = p.exe.as_deref()?;
    let arg0 = p.argv.first().map(String::as_str).unwrap_or("");
    let ebase = base(exe);
    if kernel_thread_name(arg0) || kernel_thread_name(&p.comm) {
        let name = if kernel_thread_name(arg0) {
            arg0
        } else {
            &p.comm
        };
        return Some(
            Message::new("reason.masquerade.kthread")
                .text("name", name)
                .text("exe", exe),
        );
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
    .then(|| {
        Message::new("reason.masquerade.argv0")
            .text("arg0", arg0)
            .text("exe", exe)
    })
}

/// Why the program at `path` is a bad sign wherever it is referenced, if it is: an unusual
/// location; or, for a file known to exist that no package owns, a name imitating a system
/// program, a memory-only (memfd) executable, or a place in a system binary directory. The
/// reasons of `exec-unusual-path`, shared by the rules judging what persistence points at.
/// A catalogue message (`reason.location.*`, `reason.program.*`).
pub(crate) fn program_problem_msg(ctx: &Ctx, path: &str) -> Option<Message> {
    if path.starts_with("/memfd:") {
        return Some(Message::new("reason.program.memfd"));
    }
    unusual_location_msg(path).or_else(|| {
        // Only judge names and places of files known to exist (a missing file is no binary).
        if !ctx.has_package_db
            || ctx.is_owned(path)
            || ctx
                .verified(path)
                .is_some_and(|v| v.rec.status == "missing")
        {
            return None;
        }
        let c = canonical(path);
        if DISGUISE_NAMES.contains(&base(path)) {
            Some(Message::new("reason.program.disguise").text("name", base(path)))
        } else if in_system_bin_dir(&c) {
            Some(Message::new("reason.program.system-dir"))
        } else {
            None
        }
    })
}

/// Gives each finding the fact `KIND:SUBJECT` (the subject canonical when it is a path), so
/// that rules reporting the same observation of one subject count it once.
pub(crate) fn facts_by_subject(found: Vec<Finding>, kind: &str) -> Vec<Finding> {
    found
        .into_iter()
        .map(|f| {
            let fact = format!("{kind}:{}", canonical(&f.subject));
            f.with_fact(fact)
        })
        .collect()
}
