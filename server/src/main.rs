//! `signalbox`: see `signalbox --help`.

fn main() -> std::process::ExitCode {
    signalbox_server::cli::main()
}
