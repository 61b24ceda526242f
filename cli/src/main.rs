//! The `dossier` binary: parse arguments, run the command (or, re-executed as
//! `dossier __plugin-host`, host one plugin library for its parent).

use clap::Parser;

fn main() -> std::process::ExitCode {
    // A plugin host child (hidden, not a subcommand): dossier re-executed to load one plugin.
    if std::env::args_os().nth(1).as_deref() == Some(dossier_cli::plugins::HOST_ARG.as_ref()) {
        return dossier_cli::plugins::child::serve();
    }
    let cli = dossier_cli::args::Cli::parse();
    dossier_cli::commands::run(cli.command)
}
