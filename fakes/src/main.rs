//! `signalbox-fake`: runs a fake service on a loopback port, for trying Signalbox without accounts.
//!
//! Each subcommand hands over to its fake's module (`signalbox_fakes::<service>::run`).

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
}

#[tokio::main]
async fn main() {
    let result = match Cli::parse().command {
        Command::Railway(args) => signalbox_fakes::railway::run(args).await,
    };
    if let Err(e) = result {
        eprintln!("signalbox-fake: {e}");
        std::process::exit(1);
    }
}
