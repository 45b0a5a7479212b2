//! seatctl: the operator CLI of seatkeeper. Parses arguments, runs the command, maps errors to
//! exit codes (0 ok, 1 failed, 2 usage). The work is in `commands`; the logic in the library.
#![forbid(unsafe_code)]

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

mod commands;
mod error;
mod logging;
mod money;
mod output;

use commands::Cli;
use error::CliError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let commands::Command::Completions { shell } = cli.command {
        // needs no table, no AWS and no runtime
        let mut out = io::stdout().lock();
        return match commands::completions(shell, &mut out).and_then(|()| out.flush()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                let _ = writeln!(io::stderr(), "error: could not write the completions: {e}");
                ExitCode::FAILURE
            }
        };
    }
    logging::init(cli.global.verbose);
    let table = match cli.global.table.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => t.to_owned(),
        _ => Cli::command()
            .error(
                ErrorKind::MissingRequiredArgument,
                "the table is required: pass --table NAME or set TABLE_NAME",
            )
            .exit(),
    };
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Io {
            context: "could not start the async runtime",
            source: e,
        })
        .and_then(|rt| {
            let mut out = BufWriter::new(io::stdout().lock());
            let r = rt.block_on(commands::run(cli, &table, &mut out));
            // flush what was written even when the command failed afterwards (sync's task table)
            let flushed = out.flush().map_err(CliError::Output);
            r.and(flushed)
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            tracing::debug!(error = ?e, "command failed");
            let _ = writeln!(io::stderr(), "error: {}", e.human());
            ExitCode::from(e.exit_code())
        }
    }
}
