//! The `dossier` binary: parse arguments, run the command (or, re-executed as
//! `dossier __plugin-host`, host one plugin library for its parent).

use clap::FromArgMatches;

fn main() -> std::process::ExitCode {
    // A plugin host child (hidden, not a subcommand): dossier re-executed to load one plugin.
    if std::env::args_os().nth(1).as_deref() == Some(dossier_cli::plugins::HOST_ARG.as_ref()) {
        return dossier_cli::plugins::child::serve();
    }
    let matches = dossier_cli::args::command().get_matches();
    let cli = dossier_cli::args::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    dossier_cli::commands::run(cli.command)
}
