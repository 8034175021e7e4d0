//! The listener: accepts TCP connections, terminates TLS with rustls when configured
//! (ALPN `h2`, `http/1.1`), serves HTTP/1.1 and HTTP/2 (h2c by prior knowledge on
//! plain TCP), and shuts down gracefully: on the shutdown signal it stops accepting,
//! reports not-ready, lets in-flight requests and streams finish, and closes whatever
//! is still open when the grace period ends.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rampart_config::{Config, ServerSettings, TlsFiles};
use rampart_store::Store;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::state::AppState;
use crate::upstream::UpstreamSetupError;

/// Time a client has to finish the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head (request line plus headers); larger gets 431.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Concurrent streams per HTTP/2 connection.
const H2_MAX_STREAMS: u32 = 128;
/// HTTP/2 ping interval, and how long a ping may go unanswered.
const H2_KEEPALIVE: Duration = Duration::from_secs(20);

/// Start-up failures.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// A provider client could not be built.
    #[error(transparent)]
    Upstream(#[from] UpstreamSetupError),
    /// The audit trail or the anomaly alerts could not be set up.
    #[error(transparent)]
    Monitor(#[from] crate::monitor::MonitorSetupError),
    /// The listen address could not be bound.
    #[error("listen {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// The TLS files could not be used.
    #[error("tls: {0}")]
    Tls(String),
}

/// A configured gateway, ready to bind.
#[derive(Debug)]
pub struct Gateway {
    state: Arc<AppState>,
}

impl Gateway {
    /// Builds the gateway: provider clients, hasher, routes, and the audit log (which
    /// first replays what an earlier run journaled but did not store).
    pub async fn new(config: Config, store: Store) -> Result<Self, GatewayError> {
        let monitor = crate::monitor::Monitor::open(&config).await?;
        Ok(Self { state: Arc::new(AppState::new(config, store, monitor)?) })
    }

    /// Binds `server.listen` (and `admin.listen` when the admin API is configured)
    /// from the config and starts serving.
    pub async fn bind(self) -> Result<RunningGateway, GatewayError> {
        let addr = self.state.config.server.listen;
        let listener = TcpListener::bind(addr).await.map_err(|source| GatewayError::Bind { addr, source })?;
        let admin = match self.state.config.admin.as_ref().map(|admin| admin.listen) {
            Some(addr) => Some(TcpListener::bind(addr).await.map_err(|source| GatewayError::Bind { addr, source })?),
            None => None,
        };
        // Stored provider credentials are in place before the first request.
        crate::credentials::load(&self.state).await;
        self.serve_with_admin(listener, admin)
    }

    /// Starts serving the data plane on an already bound listener (tests bind
    /// `127.0.0.1:0`), without the admin API.
    pub fn serve(self, listener: TcpListener) -> Result<RunningGateway, GatewayError> {
        self.serve_with_admin(listener, None)
    }

    /// Starts serving the data plane on `data` and, when given, the admin API on
    /// `admin`. The two never share a router: no path, `Host` header or encoding
    /// reaches an admin route through the data-plane listener.
    pub fn serve_with_admin(
        self,
        data: TcpListener,
        admin: Option<TcpListener>,
    ) -> Result<RunningGateway, GatewayError> {
        let server = &self.state.config.server;
        let bind_error = |source| GatewayError::Bind { addr: server.listen, source };
        let local_addr = data.local_addr().map_err(bind_error)?;
        let admin_addr = match &admin {
            Some(listener) => Some(listener.local_addr().map_err(bind_error)?),
            None => None,
        };
        let tls = match &server.tls {
            Some(files) => Some(tls_acceptor(files)?),
            None => None,
        };
        crate::auth::KeyCache::start_watch(&self.state);
        crate::credentials::follow(&self.state);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let stopped = move || {
            let mut rx = shutdown_rx.clone();
            async move {
                let _ = rx.wait_for(|stop| *stop).await;
            }
        };
        let admin_task = match admin {
            Some(listener) => {
                let router = crate::admin::router(self.state.clone());
                let connections = Connections::new(router, tls.clone(), server);
                Some(tokio::spawn(accept_loop(listener, connections, self.state.clone(), stopped())))
            }
            None => None,
        };
        let router = crate::pipeline::build(self.state.clone());
        let connections = Connections::new(router, tls, server);
        let data_task = tokio::spawn(accept_loop(data, connections, self.state.clone(), stopped()));
        let state = self.state.clone();
        let task = tokio::spawn(async move {
            let _ = data_task.await;
            if let Some(admin) = admin_task {
                let _ = admin.await;
            }
            // Every record of the drained requests reaches the store if it can.
            state.monitor.shutdown(Duration::from_secs(10)).await;
        });
        Ok(RunningGateway { local_addr, admin_addr, shutdown: shutdown_tx, task, tls: server.tls.is_some() })
    }
}

/// A serving gateway.
#[derive(Debug)]
pub struct RunningGateway {
    local_addr: SocketAddr,
    admin_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
    tls: bool,
}

impl RunningGateway {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://ADDR` or `https://ADDR`.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// The admin API's bound address, when it runs.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// The admin API's base URL, when it runs.
    pub fn admin_url(&self) -> Option<String> {
        let scheme = if self.tls { "https" } else { "http" };
        self.admin_addr.map(|addr| format!("{scheme}://{addr}"))
    }

    /// A handle that starts a graceful shutdown when triggered.
    pub fn shutdown_trigger(&self) -> ShutdownTrigger {
        ShutdownTrigger(self.shutdown.clone())
    }

    /// Starts a graceful shutdown and waits for it to finish (in-flight requests
    /// drained or the grace period over).
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }

    /// Waits until the gateway stops (after a trigger).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Starts a graceful shutdown of a [`RunningGateway`].
#[derive(Debug, Clone)]
pub struct ShutdownTrigger(watch::Sender<bool>);

impl ShutdownTrigger {
    /// Begins the shutdown; idempotent.
    pub fn trigger(&self) {
        let _ = self.0.send(true);
    }
}

fn tls_acceptor(files: &TlsFiles) -> Result<TlsAcceptor, GatewayError> {
    let cert_pem = std::fs::read(&files.cert_file)
        .map_err(|e| GatewayError::Tls(format!("{}: {e}", files.cert_file.display())))?;
    let key_pem =
        std::fs::read(&files.key_file).map_err(|e| GatewayError::Tls(format!("{}: {e}", files.key_file.display())))?;
    let certs = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| GatewayError::Tls(format!("{}: {e}", files.cert_file.display())))?;
    if certs.is_empty() {
        return Err(GatewayError::Tls(format!("{}: no certificates found", files.cert_file.display())));
    }
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| GatewayError::Tls(format!("{}: {e}", files.key_file.display())))?
        .ok_or_else(|| GatewayError::Tls(format!("{}: no private key found", files.key_file.display())))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| GatewayError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| GatewayError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The TCP peer of the connection a request came on, attached to every request (key
/// scopes may restrict client networks). It is the direct peer: rampart does not
/// trust `X-Forwarded-For`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr(pub(crate) SocketAddr);

/// The router as a hyper service that tags each request with its connection's peer.
#[derive(Clone)]
struct WithPeer {
    inner: TowerToHyperService<Router>,
    peer: SocketAddr,
}

impl<B> hyper::service::Service<http::Request<B>> for WithPeer
where
    TowerToHyperService<Router>: hyper::service::Service<http::Request<B>>,
{
    type Response = <TowerToHyperService<Router> as hyper::service::Service<http::Request<B>>>::Response;
    type Error = <TowerToHyperService<Router> as hyper::service::Service<http::Request<B>>>::Error;
    type Future = <TowerToHyperService<Router> as hyper::service::Service<http::Request<B>>>::Future;

    fn call(&self, mut request: http::Request<B>) -> Self::Future {
        request.extensions_mut().insert(ClientAddr(self.peer));
        self.inner.call(request)
    }
}

/// The first bytes of an HTTP/2 connection (prior knowledge).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Serves accepted connections: protocol selection, TLS, limits, graceful watching.
struct Connections {
    /// HTTP/1.1 or HTTP/2 by prior knowledge, for plain TCP.
    auto: Arc<auto::Builder<TokioExecutor>>,
    /// Protocol already chosen by ALPN.
    http1: Arc<auto::Builder<TokioExecutor>>,
    http2: Arc<auto::Builder<TokioExecutor>>,
    service: TowerToHyperService<Router>,
    tls: Option<TlsAcceptor>,
    slots: Arc<tokio::sync::Semaphore>,
    header_timeout: Duration,
}

impl Connections {
    fn new(router: Router, tls: Option<TlsAcceptor>, server: &ServerSettings) -> Self {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(server.header_timeout)
            .max_buf_size(MAX_HEAD_BYTES);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(MAX_HEAD_BYTES as u32)
            .max_concurrent_streams(H2_MAX_STREAMS)
            // Dead peers are found by pings; live idle ones are bounded by the
            // connection limit.
            .keep_alive_interval(H2_KEEPALIVE)
            .keep_alive_timeout(H2_KEEPALIVE);
        Self {
            http1: Arc::new(builder.clone().http1_only()),
            http2: Arc::new(builder.clone().http2_only()),
            auto: Arc::new(builder),
            service: TowerToHyperService::new(router),
            tls,
            slots: Arc::new(tokio::sync::Semaphore::new(server.max_connections)),
            header_timeout: server.header_timeout,
        }
    }

    /// Serves one accepted connection in `tasks`, or closes it at once when every
    /// connection slot is taken.
    /// `draining` turns true when the listener closes: a connection that has not
    /// sent its first bytes by then is closed at once rather than waited for.
    fn spawn(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        graceful: &GracefulShutdown,
        draining: &watch::Receiver<bool>,
        tasks: &mut JoinSet<()>,
    ) {
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "connection limit reached: closing new connection");
            return;
        };
        let _ = stream.set_nodelay(true);
        let service = WithPeer { inner: self.service.clone(), peer };
        let watcher = graceful.watcher();
        let tls = self.tls.clone();
        let (auto, http1, http2) = (self.auto.clone(), self.http1.clone(), self.http2.clone());
        let header_timeout = self.header_timeout;
        let mut draining = draining.clone();
        tasks.spawn(async move {
            let _slot = slot;
            let result = match tls {
                None => {
                    let spoke = tokio::select! {
                        spoke = client_spoke_in_time(&stream, header_timeout) => spoke,
                        _ = draining.wait_for(|draining| *draining) => false,
                    };
                    if !spoke {
                        tracing::debug!(%peer, "no request in time: closing");
                        return;
                    }
                    watcher.watch(auto.serve_connection(TokioIo::new(stream), service).into_owned()).await
                }
                Some(acceptor) => match tokio::select! {
                    handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)) => handshake,
                    _ = draining.wait_for(|draining| *draining) => return,
                } {
                    Ok(Ok(stream)) => {
                        let builder = if stream.get_ref().1.alpn_protocol() == Some(b"h2") { http2 } else { http1 };
                        watcher.watch(builder.serve_connection(TokioIo::new(stream), service).into_owned()).await
                    }
                    Ok(Err(error)) => {
                        tracing::debug!(%error, %peer, "tls handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "tls handshake timed out");
                        return;
                    }
                },
            };
            if let Err(error) = result {
                tracing::debug!(error = %error, %peer, "connection ended with an error");
            }
        });
    }
}

/// Waits (up to `server.header_timeout`) until the client has sent enough bytes to
/// tell HTTP/1 from HTTP/2: hyper's protocol detection itself has no deadline, so a
/// silent connection would otherwise hold a slot forever.
async fn client_spoke_in_time(stream: &TcpStream, deadline: Duration) -> bool {
    let wait = async {
        let mut buf = [0u8; H2_PREFACE.len()];
        loop {
            match stream.peek(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) if n == buf.len() || buf[..n] != H2_PREFACE[..n] => return true,
                // A partial HTTP/2 preface: peek returns at once, so pace the retries.
                Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    };
    tokio::time::timeout(deadline, wait).await.unwrap_or(false)
}

async fn accept_loop(
    listener: TcpListener,
    connections: Connections,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) {
    let server = &state.config.server;
    let (grace, delay) = (server.shutdown_grace, server.shutdown_delay);
    let graceful = GracefulShutdown::new();
    let (draining_tx, draining) = watch::channel(false);
    // Connection tasks live in a set so the ones still open when the grace period
    // ends can be closed, and finished ones are reaped as we go.
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    // Until the signal: serve. After it: report not-ready but keep accepting for
    // `shutdown_delay`, so load balancers see the 503 and stop routing here first.
    let mut stop_at: Option<tokio::time::Instant> = None;
    loop {
        let stop_deadline = stop_at.unwrap_or_else(tokio::time::Instant::now);
        tokio::select! {
            () = &mut shutdown, if stop_at.is_none() => {
                state.ready.store(false, Ordering::Relaxed);
                tracing::info!(delay_s = delay.as_secs_f64(), "shutdown signal: readiness now 503");
                stop_at = Some(tokio::time::Instant::now() + delay);
            }
            () = tokio::time::sleep_until(stop_deadline), if stop_at.is_some() => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => connections.spawn(stream, peer, &graceful, &draining, &mut tasks),
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    let _ = draining_tx.send(true);
    tracing::info!(
        open_connections = graceful.count(),
        grace_s = grace.as_secs_f64(),
        "listener closed: draining in-flight requests"
    );
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections drained"),
        () = tokio::time::sleep(grace) => {
            tracing::warn!(open_connections = tasks.len(), "grace period over: closing remaining connections");
        }
    }
    tasks.shutdown().await;
}
