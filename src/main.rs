//! The Gatehouse server binary: load configuration, start logging, serve.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    gatehouse::telemetry::init();
    match gatehouse::server::run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(line) => {
            eprintln!("gatehouse: {line}");
            ExitCode::FAILURE
        }
    }
}
