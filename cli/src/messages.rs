//! How errors reach the terminal: one line each (`dossier: error: ...`), the chain of causes
//! joined with `: ` without repeating a cause whose words the message already holds (a
//! `thiserror` message that shows its source, then the source again), line breaks folded
//! into `; `, and the exit codes every command shares.

/// Exit code: the command could not run (bad flags or inputs, an output that cannot be
/// written: found before anything runs) or an error stopped it.
pub const EXIT_COULD_NOT_RUN: u8 = 2;

/// The exit codes as `--help` and the man page list them.
pub const EXIT_CODES_HELP: &str = "Exit status:
  0  success: everything ran and every check passed
  1  a check failed: a bundle did not verify or was not analyzed, a target was not
     completely collected, a signature or timestamp is missing or bad
  2  could not run: bad flags or inputs, an output that cannot be written, an error that
     stopped it (one line on stderr names the input and what to do)";

/// A command-line syntax error of clap (several lines: the error, a usage line, a hint) as
/// one line: the error, then which `--help` to read.
pub fn syntax_error_line(rendered: &str) -> String {
    let mut what = Vec::new();
    let mut command = "dossier".to_string();
    for line in rendered.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(usage) = line.strip_prefix("Usage: ") {
            command = usage
                .split_whitespace()
                .take_while(|w| !w.starts_with(['-', '<', '[']))
                .collect::<Vec<_>>()
                .join(" ");
        } else if line.starts_with("For more information") {
            continue;
        } else {
            what.push(line.strip_prefix("error: ").unwrap_or(line));
        }
    }
    let what = what.join(" ").replace(":  ", ": ");
    format!("{what}; see `{command} --help`")
}

/// `err` and its causes as one line, without repeated fragments.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = fold(&cause.to_string());
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    dedup_prefix(&line)
}

/// Line breaks and list bullets folded into `; `, runs of spaces into one.
pub fn fold(text: &str) -> String {
    let parts: Vec<String> = text
        .split('\n')
        .map(|l| l.trim().trim_start_matches("- ").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let joined = parts.join("; ");
    let joined = joined
        .replace(":   - ", ": ")
        .replace("   - ", "; ")
        .replace(":; ", ": ");
    let mut out = String::with_capacity(joined.len());
    let mut space = false;
    for c in joined.chars() {
        if c == ' ' {
            if !space {
                out.push(c);
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    out
}

/// `A: A: rest` (a subject named twice in a row) as `A: rest`.
fn dedup_prefix(line: &str) -> String {
    let parts: Vec<&str> = line.split(": ").collect();
    let mut kept: Vec<&str> = Vec::with_capacity(parts.len());
    for p in parts {
        if kept.last() == Some(&p) {
            continue;
        }
        kept.push(p);
    }
    kept.join(": ")
}

/// A reason about `subject` (a bundle's file name) without the subject, or the path it is
/// the file name of, repeated at its head: `reason` as printed after `subject: `.
pub fn without_subject(subject: &str, reason: &str) -> String {
    let reason = fold(reason);
    if let Some((head, rest)) = reason.split_once(": ") {
        if head == subject
            || head.ends_with(&format!("/{subject}"))
            || subject.ends_with(&format!("/{head}"))
        {
            return rest.to_string();
        }
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot create output directory /x/y: {source}")]
    struct Shown {
        source: std::io::Error,
    }

    #[test]
    fn a_source_shown_in_its_message_is_not_repeated() {
        let e = anyhow::Error::new(Shown {
            source: std::io::Error::other("Not a directory"),
        });
        assert_eq!(
            one_line(&e),
            "cannot create output directory /x/y: Not a directory"
        );
        let e = anyhow::Error::new(std::io::Error::other("gone")).context("reading /a");
        assert_eq!(one_line(&e), "reading /a: gone");
    }

    #[test]
    fn a_syntax_error_is_one_line_naming_the_help_to_read() {
        let rendered = "error: the following required arguments were not provided:\n  --out <DIR>\n\nUsage: dossier keygen --out <DIR>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            syntax_error_line(rendered),
            "the following required arguments were not provided: --out <DIR>; see `dossier keygen --help`"
        );
    }

    #[test]
    fn lines_and_repeated_subjects_are_folded() {
        let e = anyhow::anyhow!(
            "trunc.zip: trunc.zip: verification failed:\n  - bundle: bad\n  - sidecar: gone"
        );
        assert_eq!(
            one_line(&e),
            "trunc.zip: verification failed: bundle: bad; sidecar: gone"
        );
        assert_eq!(
            without_subject("t.zip", "/d/t.zip: verification failed:   - bundle: bad"),
            "verification failed: bundle: bad"
        );
    }
}
