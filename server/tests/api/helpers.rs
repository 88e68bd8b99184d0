//! `spawn_app`: the real server, in-process, on a free port, with a fresh SQLite database.

use std::collections::HashMap;

use signalbox::config::Config;
use signalbox::model::Event;
use signalbox::store::Store;
use signalbox_server::startup::Application;
use tokio_util::sync::CancellationToken;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub store: Store,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        let body = response.json().await.expect("a JSON body");
        (status, body)
    }

    /// Switches every alert rule off (for tests of what people do by hand).
    pub async fn rules_off(&self) {
        for rule in self.store.alert_rules().await.expect("rules") {
            let off = signalbox::model::AlertRule {
                enabled: false,
                ..rule.clone()
            };
            let _ = self
                .store
                .update_alert_rule(rule.id, &off)
                .await
                .expect("store");
        }
        self.store.reload_rules();
    }

    /// Stores events the way every source does.
    pub async fn ingest(&self, events: Vec<Event>) {
        let pipeline = signalbox::pipeline::Pipeline::default();
        signalbox::monitor::store_events(&self.store, &pipeline, "test", events, None)
            .await
            .expect("events stored");
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Starts a server with the default settings plus `vars`.
pub async fn spawn_app_with(vars: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut env: HashMap<String, String> = HashMap::from([
        ("PORT".to_string(), "0".to_string()),
        (
            "DATABASE_URL".to_string(),
            format!("sqlite://{}/signalbox.db", dir.path().display()),
        ),
        ("LOG_LEVEL".to_string(), "warn".to_string()),
    ]);
    for (k, v) in vars {
        env.insert(k.to_string(), v.to_string());
    }
    let config = Config::from_lookup(|k| env.get(k).cloned()).expect("valid test configuration");
    let database_url = config.database_url.clone();
    let app = Application::build(config)
        .await
        .expect("the application builds");
    let port = app.port();
    let shutdown = CancellationToken::new();
    tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let store = Store::open(&database_url)
        .await
        .expect("a second handle on the store");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
        store,
        shutdown,
        _dir: dir,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// An event at `timestamp` seconds after 2026-11-27T10:00:00Z.
pub fn event(seconds: i64, level: &str, service: &str, message: &str) -> Event {
    let base = chrono::DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z")
        .expect("valid")
        .with_timezone(&chrono::Utc);
    Event {
        timestamp: base + chrono::Duration::seconds(seconds),
        level: level.parse().expect("a level"),
        message: message.to_string(),
        exception: None,
        stack_trace: None,
        service: Some(service.to_string()),
        deployment: None,
        environment: None,
        attributes: Default::default(),
        source: "test".into(),
        source_id: None,
    }
}

/// An event now, so that 24-hour windows include it.
pub fn recent(level: &str, service: &str, message: &str) -> Event {
    let mut e = event(0, level, service, message);
    e.timestamp = chrono::Utc::now();
    e
}
