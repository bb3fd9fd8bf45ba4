//! The `gatehouse` binary: read the command line, start logging, run the command (the
//! server by default). Exit codes: 0 success, 1 a runtime failure (one line on stderr), 2 a
//! usage error.

use clap::Parser as _;
use gatehouse::{cli::Cli, telemetry};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    // `--help`, `--version` and usage errors end here (exit 0, 0 and 2).
    let cli = Cli::parse();
    // The server logs to standard output; other commands keep it for what they print.
    let output = if cli.serves() { telemetry::Output::Stdout } else { telemetry::Output::Stderr };
    let outcome = match telemetry::init(output) {
        // The guard lives until the command is done: dropping it writes the last lines.
        Ok(_guard) => cli.run().await,
        Err(line) => Err(line),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(line) => {
            eprintln!("gatehouse: {line}");
            ExitCode::FAILURE
        }
    }
}
