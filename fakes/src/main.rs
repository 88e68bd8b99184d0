//! `signalbox-fake`: runs a fake of a service Signalbox talks to on a loopback port, for
//! trying Signalbox without accounts (each subcommand prints how to point Signalbox at it).

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "signalbox-fake",
    about = "Fakes of the services Signalbox talks to"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fake Railway public API (GraphQL + graphql-transport-ws) with generated log traffic.
    Railway(signalbox_fakes::railway::Args),
    /// A fake Grafana Loki generating a few log lines per second, stack traces included.
    Loki {
        #[arg(long, default_value_t = 3100)]
        port: u16,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let result = match Cli::parse().command {
        Command::Railway(args) => signalbox_fakes::railway::run(args)
            .await
            .map_err(|e| e.to_string()),
        Command::Loki { port } => signalbox_fakes::loki::run(port)
            .await
            .map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("signalbox-fake: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
