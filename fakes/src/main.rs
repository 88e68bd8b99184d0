//! `signalbox-fake`: runs a fake service on a loopback port, for trying Signalbox without accounts.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "signalbox-fake", about = "Fake services for trying Signalbox")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A fake Grafana Loki generating a few log lines per second, stack traces included.
    Loki {
        #[arg(long, default_value_t = 3100)]
        port: u16,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let result = match Cli::parse().command {
        Command::Loki { port } => signalbox_fakes::loki::run(port).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("signalbox-fake: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
