//! Runs a list of store cases on both backends: each case on a fresh SQLite file, then on a
//! fresh database of a PostgreSQL server started for the test.

/// `on_both_backends!(sqlite_test, postgres_test, "prefix", [case_a, case_b])`: two tests that
/// run every `async fn case(store: Store)` on SQLite and on PostgreSQL.
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($sqlite:ident, $postgres:ident, $prefix:literal, [$($case:ident),* $(,)?]) => {
        type Case = fn(
            signalbox::store::Store,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

        const CASES: &[(&str, Case)] = &[$((stringify!($case), (|s| Box::pin($case(s))) as Case)),*];

        #[tokio::test]
        async fn $sqlite() {
            let dir = tempfile::tempdir().expect("temp dir");
            for (i, (name, case)) in CASES.iter().enumerate() {
                let url = format!("sqlite://{}/case{i}.db", dir.path().display());
                let store = signalbox::store::Store::open(&url).await.expect("open sqlite");
                eprintln!("sqlite: {name}");
                case(store.clone()).await;
                store.close().await;
            }
        }

        #[tokio::test]
        async fn $postgres() {
            let Some(server) = crate::support::postgres::PgServer::start() else {
                return;
            };
            for (i, (name, case)) in CASES.iter().enumerate() {
                let url = server.fresh_database(&format!("{}{i}", $prefix)).await;
                let store = signalbox::store::Store::open(&url).await.expect("open postgres");
                eprintln!("postgres: {name}");
                case(store.clone()).await;
                store.close().await;
            }
        }
    };
}

#[allow(unused_imports)]
pub(crate) use on_both_backends;
