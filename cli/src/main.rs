//! The `dossier` binary: parse arguments, run the command (or, re-executed as
//! `dossier __plugin-host`, host one plugin library for its parent).

use clap::FromArgMatches;

fn main() -> std::process::ExitCode {
    // A plugin host child (hidden, not a subcommand): dossier re-executed to load one plugin.
    if std::env::args_os().nth(1).as_deref() == Some(dossier_cli::plugins::HOST_ARG.as_ref()) {
        return dossier_cli::plugins::child::serve();
    }
    let parsed = dossier_cli::args::command()
        .try_get_matches()
        .and_then(|m| dossier_cli::args::Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        // As clap does: --help and --version print to stdout and exit 0; `dossier` alone
        // prints the help on stderr and exits 2.
        Err(e)
            if !e.use_stderr()
                || e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            e.exit()
        }
        Err(e) => {
            let line = dossier_cli::messages::syntax_error_line(&e.render().to_string());
            eprintln!("dossier: error: {line}");
            return std::process::ExitCode::from(dossier_cli::messages::EXIT_COULD_NOT_RUN);
        }
    };
    dossier_cli::commands::run(cli.command)
}
