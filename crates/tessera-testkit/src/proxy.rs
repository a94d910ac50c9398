//! [`ChaosProxy`]: a TCP proxy between a server under test and its database that the test can
//! cut in the two ways networks fail:
//! - [`ChaosProxy::cut`]: every connection is closed and new ones are closed as soon as they
//!   are accepted (the database went away; clients see EOF at once);
//! - [`ChaosProxy::blackhole`]: nothing is forwarded any more, but nothing is closed either,
//!   and new connections are accepted and then left silent (a partition: clients wait until
//!   their own deadline, as they would for a dead link).
//!
//! [`ChaosProxy::restore`] forwards again; bytes held back by a blackhole are delivered, as
//! TCP retransmission would after a partition heals.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward both ways.
    Forward,
    /// Hold everything; close nothing.
    Blackhole,
    /// Close every connection, current and new.
    Cut,
}

/// A proxy on `127.0.0.1:<port>` in front of one upstream address.
#[derive(Debug)]
pub struct ChaosProxy {
    address: SocketAddr,
    mode: watch::Sender<Mode>,
    accept: JoinHandle<()>,
}

impl ChaosProxy {
    /// Starts forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let address = listener.local_addr().expect("proxy address");
        let (mode, watcher) = watch::channel(Mode::Forward);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if *watcher.borrow() == Mode::Cut {
                    drop(client);
                    continue;
                }
                tokio::spawn(connection(client, upstream, watcher.clone()));
            }
        });
        Self {
            address,
            mode,
            accept,
        }
    }

    /// Where clients connect.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Closes every connection and refuses (accepts and closes) new ones.
    pub fn cut(&self) {
        self.mode.send_replace(Mode::Cut);
    }

    /// Stops forwarding without closing anything.
    pub fn blackhole(&self) {
        self.mode.send_replace(Mode::Blackhole);
    }

    /// Forwards again.
    pub fn restore(&self) {
        self.mode.send_replace(Mode::Forward);
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.mode.send_replace(Mode::Cut);
        self.accept.abort();
    }
}

/// Waits until traffic may flow; `false` when the connection must close instead.
async fn may_forward(mode: &mut watch::Receiver<Mode>) -> bool {
    loop {
        match *mode.borrow_and_update() {
            Mode::Forward => return true,
            Mode::Cut => return false,
            Mode::Blackhole => {}
        }
        if mode.changed().await.is_err() {
            return false;
        }
    }
}

async fn connection(client: TcpStream, upstream: SocketAddr, mut mode: watch::Receiver<Mode>) {
    // A connection accepted during a blackhole stays silent until the proxy is restored.
    if !may_forward(&mut mode).await {
        return;
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // Either direction ending (EOF, error, cut) closes both.
    tokio::select! {
        () = pump(client_read, server_write, mode.clone()) => {}
        () = pump(server_read, client_write, mode) => {}
    }
}

async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut mode: watch::Receiver<Mode>) {
    let mut buf = vec![0_u8; 16 * 1024];
    loop {
        if !may_forward(&mut mode).await {
            return;
        }
        let read = tokio::select! {
            read = from.read(&mut buf) => read,
            // The mode changed while waiting for data: look at it again before reading on.
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
        };
        let n = match read {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Bytes read just before a blackhole are held, not delivered, until it lifts.
        if !may_forward(&mut mode).await {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
