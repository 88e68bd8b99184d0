//! `signalbox-fake`: runs a fake service on a loopback port, for trying Signalbox without accounts.

fn main() {
    eprintln!("signalbox-fake: no fake service built yet");
    std::process::exit(2);
}
