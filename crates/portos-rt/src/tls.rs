//! HTTPS on a service's own port. When `PORTOS_TLS_CERT` and `PORTOS_TLS_KEY`
//! name PEM files (the supervisor sets them from `[tls]` for the processes that
//! ask with `tls = true`), each new connection is looked at first: a TLS
//! handshake is served over TLS (HTTP/2 or HTTP/1.1 by ALPN), anything else as
//! before, so the supervisor's probes and loopback clients keep speaking plain
//! HTTP and h2c. Each request carries its [`Peer`]: the address, and whether it
//! came over TLS (cookies are `Secure` then, and the page's origin is `https`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;
use tokio_util::either::Either;

use crate::RtError;

/// The certificate chain's PEM file.
pub const CERT_ENV: &str = "PORTOS_TLS_CERT";
/// The private key's PEM file.
pub const KEY_ENV: &str = "PORTOS_TLS_KEY";

/// How long a client may take to start talking (browsers open connections
/// ahead of use), then to finish its handshake.
const FIRST_BYTE: Duration = Duration::from_secs(30);
const HANDSHAKE: Duration = Duration::from_secs(10);

/// Who is on the other end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub addr: SocketAddr,
    /// Came over TLS.
    pub tls: bool,
}

/// The TLS acceptor the environment asks for, if any.
pub fn acceptor_from_env() -> Result<Option<TlsAcceptor>, RtError> {
    let (Some(cert), Some(key)) = (std::env::var_os(CERT_ENV), std::env::var_os(KEY_ENV)) else {
        return Ok(None);
    };
    let (cert, key) = (PathBuf::from(cert), PathBuf::from(key));
    let bad = |what: &str, path: &PathBuf, e: String| {
        RtError::Config(format!("{what} {}: {e}", path.display()))
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert)
        .map_err(|e| bad("cannot read the certificate", &cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad("cannot read the certificate", &cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(bad("no certificate in", &cert, "empty".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&key)
        .map_err(|e| bad("cannot read the private key", &key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RtError::Config(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| RtError::Config(format!("the certificate and key do not fit: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}

/// A TCP listener that also speaks TLS when it has an acceptor. Connections
/// are looked at (and TLS handshakes done) on tasks of their own, so a client
/// that stalls its handshake never holds up anyone else's connection.
pub struct Listener {
    local: SocketAddr,
    tls: bool,
    ready: tokio::sync::mpsc::Receiver<(Either<TcpStream, TlsStream<TcpStream>>, Peer)>,
}

/// Connections sorted and ready, waiting for the server to take them.
const READY_QUEUE: usize = 64;

impl Listener {
    pub fn new(tcp: TcpListener, tls: Option<TlsAcceptor>) -> Self {
        let local = tcp
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let has_tls = tls.is_some();
        let (tx, ready) = tokio::sync::mpsc::channel(READY_QUEUE);
        tokio::spawn(accept_loop(tcp, tls, tx));
        Self {
            local,
            tls: has_tls,
            ready,
        }
    }
}

type Ready = tokio::sync::mpsc::Sender<(Either<TcpStream, TlsStream<TcpStream>>, Peer)>;

/// Accepts until the server is gone (the queue's receiver dropped).
async fn accept_loop(tcp: TcpListener, tls: Option<TlsAcceptor>, tx: Ready) {
    loop {
        let accepted = tokio::select! {
            a = tcp.accept() => a,
            () = tx.closed() => return,
        };
        let (stream, addr) = match accepted {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and the like: wait, then go on.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Small writes (a keystroke's echo, a live event) go out at once, never
        // held for the peer's delayed ACK.
        let _ = stream.set_nodelay(true);
        let Some(acceptor) = tls.clone() else {
            if tx
                .send((Either::Left(stream), Peer { addr, tls: false }))
                .await
                .is_err()
            {
                return;
            }
            continue;
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            if let Some(conn) = sort(stream, addr, acceptor).await {
                let _ = tx.send(conn).await;
            }
        });
    }
}

/// Plain or TLS, by the first byte; the TLS handshake done.
async fn sort(
    stream: TcpStream,
    addr: SocketAddr,
    acceptor: TlsAcceptor,
) -> Option<(Either<TcpStream, TlsStream<TcpStream>>, Peer)> {
    let mut first = [0u8; 1];
    match tokio::time::timeout(FIRST_BYTE, stream.peek(&mut first)).await {
        Ok(Ok(1)) if first[0] == HANDSHAKE_RECORD => {
            match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => Some((Either::Right(tls), Peer { addr, tls: true })),
                Ok(Err(e)) => {
                    tracing::debug!(%addr, error = %e, "TLS handshake failed");
                    None
                }
                Err(_) => {
                    tracing::debug!(%addr, "TLS handshake too slow");
                    None
                }
            }
        }
        Ok(Ok(1)) => Some((Either::Left(stream), Peer { addr, tls: false })),
        _ => None,
    }
}

/// A TLS record starts with the handshake content type.
const HANDSHAKE_RECORD: u8 = 0x16;

impl axum::serve::Listener for Listener {
    type Io = Either<TcpStream, TlsStream<TcpStream>>;
    type Addr = Peer;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept loop ended: nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(Peer {
            addr: self.local,
            tls: self.tls,
        })
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, Listener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, Listener>) -> Self {
        *stream.remote_addr()
    }
}
