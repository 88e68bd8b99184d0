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
    /// A fake Anthropic Messages API that proposes a fix for the first in-app frame it is given.
    Anthropic {
        #[arg(long, default_value_t = 4010)]
        port: u16,
        /// The API key it accepts.
        #[arg(long, default_value = signalbox_fakes::anthropic::DEFAULT_KEY)]
        key: String,
    },
    /// A fake GitHub REST API holding one repository (the demo services' source by default).
    Github {
        #[arg(long, default_value_t = 4020)]
        port: u16,
        /// The token it accepts.
        #[arg(long, default_value = signalbox_fakes::github::DEFAULT_TOKEN)]
        token: String,
        /// owner/name of the repository.
        #[arg(long, default_value = "acme/shop")]
        repository: String,
        /// Seed the default branch with the files under this directory instead of the demo's.
        #[arg(long)]
        seed_dir: Option<std::path::PathBuf>,
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
        Command::Anthropic { port, key } => signalbox_fakes::anthropic::run(port, &key)
            .await
            .map_err(|e| e.to_string()),
        Command::Github {
            port,
            token,
            repository,
            seed_dir,
        } => {
            let files = match seed_dir {
                Some(dir) => signalbox_fakes::github::files_from_dir(&dir)
                    .map_err(|e| format!("--seed-dir {}: {e}", dir.display())),
                None => Ok(signalbox_fakes::github::demo_files()),
            };
            match files {
                Ok(files) => signalbox_fakes::github::run(port, &token, &repository, files)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            }
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("signalbox-fake: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
