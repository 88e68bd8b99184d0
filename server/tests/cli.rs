//! The `signalbox` binary as a user runs it.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn signalbox(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_signalbox"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn help_everywhere() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["ingest", "--help"],
        &["migrate", "--help"],
        &["check-config", "--help"],
    ] {
        let out = signalbox(args, &[]);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage:"),
            "{args:?}"
        );
    }
}

#[test]
fn bad_flags_and_settings_give_one_clear_line() {
    // (arguments, environment, what the error line must name)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (&["--bogus"], &[], "--bogus"),
        (&["serve", "--port", "http"], &[], "--port"),
        (&["frobnicate"], &[], "frobnicate"),
        (&["ingest"], &[], "FILE"),
        (&["check-config"], &[("PORT", "abc")], "PORT"),
        (
            &["check-config"],
            &[("DATABASE_URL", "mysql://x")],
            "DATABASE_URL",
        ),
        (
            &["serve"],
            &[("ERROR_MONITOR_INTERVAL", "soon")],
            "ERROR_MONITOR_INTERVAL",
        ),
        (
            &["check-config", "--database-url", "redis://x"],
            &[],
            "--database-url",
        ),
    ];
    for (args, env, needle) in cases {
        let out = signalbox(args, env);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(err.starts_with("signalbox: "), "{err}");
    }
}

#[test]
fn check_config_hides_secrets() {
    let out = signalbox(
        &["check-config"],
        &[
            ("GITHUB_TOKEN", "ghp_supersecret"),
            ("DATABASE_URL", "postgres://u:hunter2@db/x"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("configuration is valid"));
    assert!(text.contains("fix_generator"));
    assert!(
        !text.contains("ghp_supersecret") && !text.contains("hunter2"),
        "{text}"
    );
}

#[test]
fn ingest_a_file_of_mixed_lines() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}/s.db", dir.path().display());
    let log = dir.path().join("app.log");
    std::fs::write(
        &log,
        [
            "2026-11-27 10:00:00 INFO server started on :8080",
            "2026-11-27 10:00:01 ERROR HTTP 500 at /api/foo user_id=123 timestamp=2024-01-01",
            "2026-11-27 10:00:02 ERROR HTTP 500 at /api/foo user_id=456 timestamp=2024-01-02",
            "",
            r#"{"level":"error","msg":"payment failed","error":"card declined","order_id":991}"#,
            r#"{"level":"error","msg":"payment failed","error":"card declined","order_id":992}"#,
            "2026-11-27 10:00:03 WARN cache miss ratio 0.4",
            "2026-11-27 10:00:04 CRITICAL database connection pool exhausted after 30s",
            "not json { at all",
        ]
        .join("\n"),
    )
    .expect("written");
    let out = signalbox(
        &["ingest", log.to_str().expect("utf-8")],
        &[("DATABASE_URL", &db)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        summary.contains(
            "read 9 lines: stored 8 (0 duplicates skipped), 5 error occurrences, 3 new groups"
        ),
        "{summary}"
    );

    // The same file again: nothing is counted twice.
    let again = signalbox(
        &["ingest", log.to_str().expect("utf-8")],
        &[("DATABASE_URL", &db)],
    );
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("stored 0 (8 duplicates skipped)"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );

    // stdin works too, and lines without ids are always new.
    let mut child = Command::new(env!("CARGO_BIN_EXE_signalbox"))
        .args(["ingest", "-", "--service", "web"])
        .env("DATABASE_URL", &db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"ERROR HTTP 500 at /api/foo user_id=9 timestamp=2025-05-05\n")
        .expect("written");
    let out = child.wait_with_output().expect("ends");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("stored 1 (0 duplicates skipped), 1 error occurrences, 0 new groups"),
        "{}",
        stderr(&out)
    );

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let groups = rt.block_on(async {
        let store = signalbox::store::Store::open(&db).await.expect("open");
        store
            .list_groups(&signalbox::store::GroupQuery {
                limit: 10,
                ..Default::default()
            })
            .await
            .expect("list")
            .items
    });
    let summary: Vec<(String, i64)> = groups
        .into_iter()
        .map(|g| (g.template, g.occurrences))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "HTTP 500 at /api/foo user_id=<num> timestamp=<ts>".to_string(),
                3
            ),
            ("payment failed: card declined".to_string(), 2),
            (
                "database connection pool exhausted after <duration>".to_string(),
                1
            ),
        ]
    );
}

#[test]
fn migrate_then_sigterm_exits_zero_quickly() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}/s.db", dir.path().display());
    let out = signalbox(&["migrate"], &[("DATABASE_URL", &db)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let first = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        first.contains("migrations applied: ") && !first.contains("applied: 0"),
        "{first}"
    );
    let again = signalbox(&["migrate"], &[("DATABASE_URL", &db)]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("migrations applied: 0"),
        "idempotent"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_signalbox"))
        .args(["serve", "--demo"])
        .env("DATABASE_URL", &db)
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serves");
    let ready = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < ready, "the server never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "exit status {status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("signalbox did not exit within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn watch_prints_new_groups_and_a_summary() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}/w.db", dir.path().display());
    let log = dir.path().join("before.log");
    std::fs::write(&log, "ERROR old failure 1\n").expect("written");
    assert!(signalbox(
        &["ingest", log.to_str().expect("utf-8")],
        &[("DATABASE_URL", &db)]
    )
    .status
    .success());

    let mut child = Command::new(env!("CARGO_BIN_EXE_signalbox"))
        .args(["watch", "--interval", "1"])
        .env("DATABASE_URL", &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("watches");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("the banner");
    assert!(line.starts_with("watching"), "{line}");

    let log = dir.path().join("after.log");
    std::fs::write(&log, "ERROR fresh failure 7\nERROR old failure 2\n").expect("written");
    assert!(signalbox(
        &["ingest", log.to_str().expect("utf-8")],
        &[("DATABASE_URL", &db)]
    )
    .status
    .success());
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < 3 && Instant::now() < deadline {
        line.clear();
        if out.read_line(&mut line).expect("reads") == 0 {
            break;
        }
        seen.push(line.trim().to_string());
    }
    assert!(
        seen.iter()
            .any(|l| l.starts_with("NEW ERROR") && l.contains("fresh failure <num>")),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|l| l.starts_with("+1") && l.contains("old failure <num>")),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|l| l.starts_with("ALERT New error") && l.contains("first occurrence")),
        "{seen:?}"
    );

    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).expect("reads");
    let status = child.wait().expect("ends");
    assert!(status.success(), "{status}");
    assert!(
        rest.contains("1 new groups, 2 new occurrences, 1 alerts"),
        "{rest}"
    );
}

#[test]
fn bench_alerts_counts_tasks_against_labelled_root_causes() {
    // The Loghub-2k layout: DIR/<System>/<System>_2k.log_structured.csv. Alpha has a Level
    // column (its INFO lines are no root cause), Beta has none (every line is a candidate).
    let dir = tempfile::tempdir().expect("dir");
    for (system, with_level) in [("Alpha", true), ("Beta", false)] {
        let folder = dir.path().join(system);
        std::fs::create_dir(&folder).expect("folder");
        let mut csv = String::from(if with_level {
            "LineId,Level,Content,EventId\n"
        } else {
            "LineId,Content,EventId\n"
        });
        for i in 1..=20 {
            let (level, content, id) = match i % 4 {
                0 | 2 => ("INFO", format!("worker {i} started"), "E1"),
                1 => (
                    "ERROR",
                    format!("connection refused to 10.0.0.{i} port 5432"),
                    "E2",
                ),
                _ => ("ERROR", format!("disk quota exceeded for user {i}"), "E3"),
            };
            match with_level {
                true => csv.push_str(&format!("{i},{level},{content},{id}\n")),
                false => csv.push_str(&format!("{i},{content},{id}\n")),
            }
        }
        std::fs::write(folder.join(format!("{system}_2k.log_structured.csv")), csv).expect("csv");
    }
    let dir_arg = dir.path().to_str().expect("utf-8 path");
    let out = signalbox(&["bench", "alerts", dir_arg], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let mut rows = stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>());
    let header = rows.next().expect("header");
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (causes, tasks, dups, non_issue) = (
        col("root_causes"),
        col("tasks"),
        col("dup_tasks"),
        col("non_issue"),
    );
    let rows: Vec<Vec<&str>> = rows.filter(|r| r.len() == header.len()).collect();
    for (system, expected_causes) in [("Alpha", 2), ("Beta", 3)] {
        let row = rows
            .iter()
            .find(|r| r[0] == system)
            .unwrap_or_else(|| panic!("no {system} row in:\n{stdout}"));
        let n = |c: usize| row[c].parse::<usize>().expect("a count");
        assert_eq!(n(causes), expected_causes, "{stdout}");
        assert!(n(tasks) >= 1, "{stdout}");
        assert!(n(tasks) <= n(causes) + n(dups), "{stdout}");
        assert_eq!(n(non_issue), 0, "{stdout}");
    }
}

#[test]
fn watch_auto_fix_queues_a_fix_for_each_new_fixable_group() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}/w.db", dir.path().display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_signalbox"))
        .args(["watch", "--interval", "1", "--auto-fix"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("watches");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut banner = String::new();
    out.read_line(&mut banner).expect("the auto-fix line");
    // No ANTHROPIC_API_KEY: fixes are queued for later, and the watch says the generator is off.
    assert!(
        banner.starts_with("auto-fix:")
            && banner.contains("off (")
            && banner.contains("ANTHROPIC_API_KEY"),
        "{banner}"
    );
    let mut line = String::new();
    out.read_line(&mut line).expect("the banner");
    assert!(line.starts_with("watching"), "{line}");

    // A database outage is fixable; a validation error is not.
    let log = dir.path().join("after.log");
    std::fs::write(
        &log,
        "ERROR psycopg2.OperationalError: connection to server at 10.0.0.5 port 5432 refused\n\
         ERROR ValidationError: field 'email' is required\n",
    )
    .expect("written");
    assert!(signalbox(
        &["ingest", log.to_str().expect("utf-8")],
        &[("DATABASE_URL", &db)]
    )
    .status
    .success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut news = 0;
    while news < 2 && Instant::now() < deadline {
        line.clear();
        if out.read_line(&mut line).expect("reads") == 0 {
            break;
        }
        news += usize::from(line.starts_with("NEW"));
    }
    assert_eq!(news, 2, "both groups printed");
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    let status = child.wait().expect("ends");
    assert!(status.success(), "{status}");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let fixes = runtime.block_on(async {
        let store = signalbox::store::Store::open(&db).await.expect("open");
        store
            .fixes(&signalbox::store::FixQuery {
                limit: 50,
                ..Default::default()
            })
            .await
            .expect("fixes")
            .items
    });
    assert_eq!(fixes.len(), 1, "one fix, for the fixable group: {fixes:?}");
    assert_eq!(fixes[0].trigger, "auto");
    assert_eq!(fixes[0].state, signalbox::model::FixState::Queued);
}

/// Grouping quality on Loghub-2k, scored by the shared scorer (deterministic: no timing). The
/// templates must meet issue 4's target (GA ≥ 0.95 and FGA ≥ 0.90 with one configuration);
/// the server's fingerprints keep status codes apart on purpose (OpenStack's labels do not),
/// so they are held to FGA ≥ 0.90 and to never merging labelled templates more than they do
/// now (pairwise precision ≥ 0.998).
#[test]
fn grouping_on_loghub_meets_its_targets() {
    let data = std::path::Path::new("../../shared/data/loghub");
    let scorer = std::path::Path::new("../../shared/tools/loghub_score.py");
    if !data.is_dir() || !scorer.is_file() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs ../shared/data/loghub and ../shared/tools/loghub_score.py"
        );
        eprintln!("skipped: no ../shared/data/loghub");
        return;
    }
    let out_dir = tempfile::tempdir().expect("dir");
    let out_arg = out_dir.path().to_str().expect("utf-8 path");
    let data_arg = data.to_str().expect("utf-8 path");
    let out = signalbox(&["bench", "loghub", data_arg, "--out", out_arg], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let score = |predictions: &std::path::Path| -> serde_json::Value {
        let out = Command::new("python3")
            .arg(scorer)
            .args(["--all", data_arg])
            .arg(predictions)
            .arg("--json")
            .output()
            .expect("python3 runs the scorer");
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("the scorer's JSON")
            ["average"]
            .clone()
    };
    let metric = |average: &serde_json::Value, name: &str| {
        average[name]
            .as_f64()
            .unwrap_or_else(|| panic!("{name} in {average}"))
    };
    let templates = score(out_dir.path());
    assert!(metric(&templates, "GA") >= 0.95, "templates: {templates}");
    assert!(metric(&templates, "FGA") >= 0.90, "templates: {templates}");
    let fingerprints = score(&out_dir.path().join("fingerprints"));
    assert!(
        metric(&fingerprints, "FGA") >= 0.90,
        "fingerprints: {fingerprints}"
    );
    assert!(
        metric(&fingerprints, "pairwise_precision") >= 0.998,
        "fingerprints: {fingerprints}"
    );
}
