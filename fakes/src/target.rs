//! A fake web application for probes and deploy checks: answers every `GET` with a scripted
//! status, body and delay, over plain HTTP or over HTTPS with a self-signed certificate made at
//! start for `localhost` and `127.0.0.1`, valid for as long as the test asks (a certificate
//! that expires in five days, or one that expired yesterday). It can be stopped (connection
//! refused, as a crashed app) and started again on the same port.
//!
//! Tests drive it through a [`FakeTarget`] handle: [`FakeTarget::answer`],
//! [`FakeTarget::delay`], [`FakeTarget::stop`], [`FakeTarget::restart`], and read what it
//! served with [`FakeTarget::hits`] and [`FakeTarget::last_request`].

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// What the fake answers.
#[derive(Debug, Clone)]
struct Script {
    /// Per path prefix (longest first wins): status and body; `None` path: every other path.
    answers: Vec<(Option<String>, u16, String)>,
    delay: Duration,
}

impl Script {
    fn answer(&self, path: &str) -> (u16, String) {
        self.answers
            .iter()
            .filter(|(prefix, _, _)| prefix.as_deref().is_none_or(|p| path.starts_with(p)))
            .max_by_key(|(prefix, _, _)| prefix.as_ref().map_or(0, String::len))
            .map_or((200, "ok".to_string()), |(_, status, body)| {
                (*status, body.clone())
            })
    }
}

#[derive(Clone)]
struct Shared {
    script: Arc<Mutex<Script>>,
    hits: Arc<AtomicU64>,
    last: Arc<Mutex<Option<Request>>>,
}

/// What a request asked for: what a probe's URL sends (query tokens, user info as basic auth).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Path and query, as sent.
    pub target: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

/// The certificate an HTTPS fake serves.
#[derive(Clone)]
pub struct SelfSigned {
    pub der: CertificateDer<'static>,
    key_der: Vec<u8>,
    /// When it stops being valid.
    pub not_after: chrono::DateTime<chrono::Utc>,
}

impl SelfSigned {
    /// A self-signed certificate for `localhost` and `127.0.0.1`, valid from an hour ago for
    /// `valid_for` (negative: already expired that long ago, valid from a day before that).
    pub fn new(valid_for: chrono::Duration) -> Result<SelfSigned, String> {
        let now = time::OffsetDateTime::now_utc();
        let not_after = now + time::Duration::seconds(valid_for.num_seconds());
        let not_before = not_after.min(now) - time::Duration::days(1);
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .map_err(|e| e.to_string())?;
        params.not_before = not_before;
        params.not_after = not_after;
        let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
        let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
        Ok(SelfSigned {
            der: cert.der().clone(),
            key_der: key.serialize_der(),
            not_after: chrono::DateTime::from_timestamp(not_after.unix_timestamp(), 0)
                .unwrap_or_default(),
        })
    }

    fn server_config(&self) -> Result<Arc<ServerConfig>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(
                vec![self.der.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone())),
            )
            .map_err(|e| e.to_string())?;
        Ok(Arc::new(config))
    }
}

/// A running fake application.
pub struct FakeTarget {
    addr: SocketAddr,
    shared: Shared,
    tls: Option<SelfSigned>,
    server: Option<JoinHandle<()>>,
}

impl FakeTarget {
    /// Starts a plain-HTTP fake on a free loopback port, answering 200 `ok`.
    pub async fn start() -> std::io::Result<FakeTarget> {
        FakeTarget::start_with(None).await
    }

    /// Starts an HTTPS fake whose certificate is valid for `valid_for` from now.
    pub async fn start_tls(valid_for: chrono::Duration) -> std::io::Result<FakeTarget> {
        let cert = SelfSigned::new(valid_for).map_err(std::io::Error::other)?;
        FakeTarget::start_with(Some(cert)).await
    }

    async fn start_with(tls: Option<SelfSigned>) -> std::io::Result<FakeTarget> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let mut fake = FakeTarget {
            addr,
            shared: Shared {
                script: Arc::new(Mutex::new(Script {
                    answers: Vec::new(),
                    delay: Duration::ZERO,
                })),
                hits: Arc::default(),
                last: Arc::default(),
            },
            tls,
            server: None,
        };
        fake.serve(listener)?;
        Ok(fake)
    }

    fn serve(&mut self, listener: TcpListener) -> std::io::Result<()> {
        let app = Router::new()
            .fallback(answer)
            .with_state(self.shared.clone());
        self.server = Some(match &self.tls {
            None => tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            }),
            Some(cert) => {
                let acceptor =
                    TlsAcceptor::from(cert.server_config().map_err(std::io::Error::other)?);
                tokio::spawn(async move {
                    let _ = axum::serve(TlsListener { listener, acceptor }, app).await;
                })
            }
        });
        Ok(())
    }

    /// `http://127.0.0.1:PORT{path}`, or `https://localhost:PORT{path}` for an HTTPS fake.
    pub fn url(&self, path: &str) -> String {
        match self.tls {
            None => format!("http://{}{path}", self.addr),
            Some(_) => format!("https://localhost:{}{path}", self.addr.port()),
        }
    }

    /// The certificate served (HTTPS fakes).
    pub fn certificate(&self) -> Option<&SelfSigned> {
        self.tls.as_ref()
    }

    /// From now on, answer `status` with `body` on every path (or on paths under `prefix`).
    pub fn answer(&self, prefix: Option<&str>, status: u16, body: &str) {
        let mut script = self
            .shared
            .script
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        script.answers.retain(|(p, _, _)| p.as_deref() != prefix);
        script
            .answers
            .push((prefix.map(str::to_string), status, body.to_string()));
    }

    /// From now on, wait `delay` before answering.
    pub fn delay(&self, delay: Duration) {
        self.shared
            .script
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .delay = delay;
    }

    /// Requests answered or being answered so far.
    pub fn hits(&self) -> u64 {
        self.shared.hits.load(Ordering::Relaxed)
    }

    /// The latest request answered or being answered.
    pub fn last_request(&self) -> Option<Request> {
        self.shared
            .last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops serving: new connections are refused (an app that crashed).
    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }

    /// Serves again on the same port.
    pub async fn restart(&mut self) -> std::io::Result<()> {
        self.stop();
        // The aborted task lets go of the port at its next poll.
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(e) if tries > 50 => return Err(e),
                Err(_) => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        self.serve(listener)
    }
}

impl Drop for FakeTarget {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn answer(State(shared): State<Shared>, uri: Uri, headers: HeaderMap) -> Response {
    shared.hits.fetch_add(1, Ordering::Relaxed);
    *shared.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(Request {
        target: uri
            .path_and_query()
            .map_or_else(|| uri.path().to_string(), |pq| pq.as_str().to_string()),
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    });
    let (delay, (status, body)) = {
        let script = shared.script.lock().unwrap_or_else(PoisonError::into_inner);
        (script.delay, script.answer(uri.path()))
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, body).into_response()
}

/// TLS over a TCP listener, for `axum::serve`: a handshake that fails (a client that does not
/// trust the certificate) drops that connection only.
struct TlsListener {
    listener: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            match tokio::time::timeout(Duration::from_secs(5), self.acceptor.accept(stream)).await {
                Ok(Ok(tls)) => return (tls, addr),
                _ => continue,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}
