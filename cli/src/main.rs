//! The `dossier` binary: parse arguments, run the command.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = dossier_cli::args::Cli::parse();
    dossier_cli::commands::run(cli.command)
}
