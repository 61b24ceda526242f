//! Content detectors: what a command line or a line of script text does (download and execute, reverse shells, decoded payloads, execution from unusual places).

use super::common::*;

pub(crate) const STRONG_SHELL: &[&str] = &[
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

pub(crate) const SHELL_WORDS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "ash", "busybox", "python", "python2", "python3", "perl",
    "ruby", "php",
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
pub(crate) fn command_pattern(cmd: &str) -> Option<String> {
    hook_line_pattern(cmd).or_else(|| {
        segment_programs(cmd)
            .iter()
            .find_map(|p| unusual_location(p).map(|why| format!("runs `{p}`, and {why}")))
    })
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
