//! The server's TCP listener: every accepted connection can be reset from inside a request
//! (test-mode fault injection and the fault proxy use this for `reset` and `hang`), and each
//! request learns its client address through [`ConnInfo`].

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Resets one connection: its next read or write fails and the socket closes with RST.
#[derive(Debug, Clone, Default)]
pub struct Killer(Arc<AtomicBool>);

impl Killer {
    pub fn reset(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn killed(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A connection that [`Killer::reset`] can abort.
pub struct Conn {
    inner: TcpStream,
    kill: Killer,
}

impl Conn {
    fn check(&mut self) -> io::Result<()> {
        if self.kill.killed() {
            // Linger 0: close with RST instead of FIN, like a crashed peer. It never blocks.
            #[allow(deprecated)]
            let _ = self.inner.set_linger(Some(std::time::Duration::ZERO));
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "connection reset (fault injection)",
            ));
        }
        Ok(())
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A TCP listener whose connections are [`Conn`]s.
pub struct ResettableListener(pub TcpListener);

impl Listener for ResettableListener {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        loop {
            match self.0.accept().await {
                Ok((inner, addr)) => {
                    let _ = inner.set_nodelay(true);
                    return (
                        Conn {
                            inner,
                            kill: Killer::default(),
                        },
                        addr,
                    );
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// What a request knows about its connection.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub remote: SocketAddr,
    pub killer: Killer,
}

impl Connected<IncomingStream<'_, ResettableListener>> for ConnInfo {
    fn connect_info(stream: IncomingStream<'_, ResettableListener>) -> Self {
        ConnInfo {
            remote: *stream.remote_addr(),
            killer: stream.io().kill.clone(),
        }
    }
}

/// The connection info of a request, if it came through [`ResettableListener`].
pub fn conn_info<B>(req: &axum::http::Request<B>) -> Option<&ConnInfo> {
    req.extensions()
        .get::<axum::extract::ConnectInfo<ConnInfo>>()
        .map(|c| &c.0)
}

/// Serves `router` on `listener` (with [`ConnInfo`]) until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(
        ResettableListener(listener),
        router.into_make_service_with_connect_info::<ConnInfo>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
