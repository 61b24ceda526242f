//! `dossier completions SHELL` (clap_complete) and `dossier man [--out DIR]` (clap_mangen):
//! both generated from the command tree of [`crate::args::command`], so they follow every
//! flag. The man pages are `dossier.1` and one per subcommand (`dossier-sweep.1`,
//! `dossier-playbooks-show.1`, ...), each with an EXIT STATUS section.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The completion script of `shell`.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut cmd = crate::args::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "dossier", &mut out);
    out
}

/// Writes `bytes` to standard output; a reader that went away (`| head`) is not an error.
pub fn print(bytes: &[u8]) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}

/// The EXIT STATUS section of every page, in roff.
fn exit_status_roff() -> String {
    let mut s = String::from(".SH \"EXIT STATUS\"\n");
    for (code, what) in [
        ("0", "Success: everything ran and every check passed."),
        (
            "1",
            "A check failed: a bundle did not verify or was not analyzed, a target was not completely collected, a signature or timestamp is missing or bad.",
        ),
        (
            "2",
            "Could not run: bad flags or inputs, an output that cannot be written (found before anything runs), or an error that stopped it. One line on standard error names the input and what to do.",
        ),
    ] {
        s.push_str(&format!(".TP\n\\fB{code}\\fR\n{what}\n"));
    }
    s
}

/// One page: NAME, SYNOPSIS, DESCRIPTION, OPTIONS, SUBCOMMANDS (when any), EXIT STATUS,
/// VERSION.
fn page(cmd: &clap::Command) -> std::io::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(cmd.clone());
    let mut buf = Vec::new();
    man.render_title(&mut buf)?;
    man.render_name_section(&mut buf)?;
    man.render_synopsis_section(&mut buf)?;
    man.render_description_section(&mut buf)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut buf)?;
    }
    if cmd.has_subcommands() {
        man.render_subcommands_section(&mut buf)?;
    }
    buf.extend_from_slice(exit_status_roff().as_bytes());
    if cmd.get_version().is_some() {
        man.render_version_section(&mut buf)?;
    }
    Ok(buf)
}

/// Every page: `(file name, content)`, the top page first.
pub fn pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut top = crate::args::command().version(crate::build_info::VERSION_LINE);
    top.build();
    let mut out = vec![("dossier.1".to_string(), page(&top)?)];
    sub_pages(&top, "dossier", &mut out)?;
    Ok(out)
}

/// The pages of the subcommands of `cmd` (named `prefix-NAME`), recursively.
fn sub_pages(
    cmd: &clap::Command,
    prefix: &str,
    out: &mut Vec<(String, Vec<u8>)>,
) -> std::io::Result<()> {
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        let name = format!("{prefix}-{}", sub.get_name());
        let bin = format!("{} {}", prefix.replace('-', " "), sub.get_name());
        let named = sub
            .clone()
            .name(name.clone())
            .display_name(name.clone())
            .bin_name(bin)
            .version(crate::build_info::VERSION_LINE);
        out.push((format!("{name}.1"), page(&named)?));
        sub_pages(sub, &name, out)?;
    }
    Ok(())
}

/// Writes every page into `dir` (created 0700 when missing): each under a temporary name,
/// synced, then renamed into place. Returns the paths written.
pub fn write_pages(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    dossier_bundle::fsio::ensure_out_dir(dir)?;
    let mut written = Vec::new();
    for (name, content) in pages()? {
        let tmp = dossier_bundle::fsio::write_unique_synced(dir, ".man-", ".partial", &content)
            .map_err(|e| anyhow::anyhow!("--out {}: cannot write {name} ({e})", dir.display()))?;
        let dest = dir.join(&name);
        std::fs::rename(&tmp, &dest).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            anyhow::anyhow!("--out {}: cannot write {name} ({e})", dir.display())
        })?;
        written.push(dest);
    }
    dossier_bundle::fsio::sync_dir(dir);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_per_subcommand_each_with_its_exit_status() {
        let pages = pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        for want in [
            "dossier.1",
            "dossier-sweep.1",
            "dossier-collect.1",
            "dossier-man.1",
        ] {
            assert!(names.contains(&want), "{names:?}");
        }
        assert!(names.contains(&"dossier-playbooks-show.1"), "{names:?}");
        assert!(!names.iter().any(|n| n.contains("help")), "{names:?}");
        for (name, content) in &pages {
            let text = String::from_utf8_lossy(content);
            assert!(text.contains(".SH \"EXIT STATUS\""), "{name}");
            assert!(
                text.starts_with(".ie \\n(.g") || text.contains(".TH"),
                "{name}"
            );
        }
        let sweep = &pages
            .iter()
            .find(|(n, _)| n == "dossier-sweep.1")
            .unwrap()
            .1;
        let sweep = String::from_utf8_lossy(sweep);
        assert!(
            sweep.contains("dossier\\-sweep") && sweep.contains("\\-\\-hosts"),
            "{sweep}"
        );
    }

    #[test]
    fn bash_completion_names_the_subcommands() {
        let text = String::from_utf8(completions(clap_complete::Shell::Bash)).unwrap();
        for sub in ["collect", "sweep", "verify", "completions", "man"] {
            assert!(text.contains(sub), "{sub}");
        }
    }
}
