//! A throw-away PostgreSQL server for tests: initdb into a temporary directory, started on a
//! free loopback port with Debian's `postgresql` binaries, stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running server; dropped → stopped and deleted.
pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres_user: bool,
    /// fsync and synchronous commits on (a crash loses nothing committed); off by default,
    /// for speed.
    durable: bool,
}

/// Where Debian installs the server binaries (`/usr/lib/postgresql/<major>/bin`).
fn find_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PgServer {
    /// Starts a server, or returns `None` (after saying so loudly) when PostgreSQL is not
    /// installed. Under CI (`CI` set) a missing PostgreSQL is a failure, never a skip.
    #[allow(dead_code)]
    pub fn start() -> Option<PgServer> {
        PgServer::start_with(false)
    }

    /// A server that keeps what it committed across a crash (`stop` is `-m immediate`).
    #[allow(dead_code)]
    pub fn start_durable() -> Option<PgServer> {
        PgServer::start_with(true)
    }

    fn start_with(durable: bool) -> Option<PgServer> {
        let Some(bin) = find_bin() else {
            if std::env::var_os("CI").is_some() {
                panic!("PostgreSQL is not installed but CI is set: .ci/run must install the postgresql package");
            }
            eprintln!("\n########## SKIPPING POSTGRES TESTS: PostgreSQL is not installed (apt-get install postgresql) ##########\n");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("signalbox-pg-")
            .tempdir()
            .expect("a temporary directory");
        let as_postgres_user = is_root();
        let server = PgServer {
            dir,
            bin,
            port: free_port(),
            as_postgres_user,
            durable,
        };
        if as_postgres_user {
            // initdb refuses to run as root; the Debian package creates the postgres user.
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(server.dir.path())
                .status()
                .expect("chown runs");
            assert!(status.success(), "chown of the temporary directory failed");
        }
        let data = server.data_dir();
        server.run(
            "initdb",
            &[
                "-D",
                path(&data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        server.start_again();
        Some(server)
    }

    /// Starts the (stopped) server again, on the same port with the same data.
    pub fn start_again(&self) {
        let fast = if self.durable {
            ""
        } else {
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        };
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1{fast}",
            self.port,
            path(self.dir.path())
        );
        let data = self.data_dir();
        let log = self.dir.path().join("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                path(&data),
                "-l",
                path(&log),
                "-o",
                &options,
                "-w",
                "start",
            ],
        );
    }

    /// Stops the server at once, as a crash would (`-m immediate`: connections are cut).
    #[allow(dead_code)]
    pub fn stop(&self) {
        let data = self.data_dir();
        self.run("pg_ctl", &["-D", path(&data), "-m", "immediate", "stop"]);
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A command running one of the server's tools, as the postgres user when we are root.
    fn command(&self, tool: &str, args: &[&str]) -> Command {
        let program = self.bin.join(tool);
        let mut command = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        command.args(args);
        command
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let output = self
            .command(tool, args)
            .output()
            .unwrap_or_else(|e| panic!("{tool} did not start: {e}"));
        assert!(
            output.status.success(),
            "{tool} failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// URL of the server's `postgres` database.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates an empty database and returns its URL.
    pub async fn fresh_database(&self, name: &str) -> String {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .expect("connect to the test server");
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .expect("create a test database");
        self.url(name)
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.data_dir();
        let program = self.bin.join("pg_ctl");
        let args = ["-D", path(&data), "-m", "immediate", "stop"];
        let _ = if self.as_postgres_user {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        };
    }
}
