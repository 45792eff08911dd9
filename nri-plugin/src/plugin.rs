//! Plugin lifecycle: connect (or adopt the runtime-provided socket), register, serve, and
//! reconnect with backoff when the runtime goes away.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UnixStream;
use tracing::{info, warn};

use crate::container::{ConnectionState, ContainerHandler};
use crate::error::NriError;
use crate::session::{run_session, Registration};

/// NRI's default socket (containerd `socket_path`, CRI-O `nri_listen`).
pub const DEFAULT_SOCKET: &str = "/var/run/nri/nri.sock";

/// How the plugin reaches the runtime.
#[derive(Debug)]
pub enum Endpoint {
    /// External plugin: connect to this socket, reconnect whenever the runtime restarts.
    Socket(PathBuf),
    /// Pre-installed plugin started by the runtime with its end of a socketpair (fd 3). There is
    /// nothing to reconnect to: when the runtime closes it, [`run_plugin`] returns.
    PreConnected(OwnedFd),
}

/// Reconnect delays: `initial`, doubled after every failed attempt, capped at `max`, and reset
/// after every successful registration.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
        }
    }
}

#[derive(Debug)]
pub struct PluginConfig {
    pub endpoint: Endpoint,
    /// Plugin name shown by the runtime (non-empty).
    pub name: String,
    /// Two ASCII digits; the runtime calls plugins in idx order.
    pub idx: String,
    pub backoff: Backoff,
    /// How long to wait for the runtime to accept RegisterPlugin (containerd's own default
    /// registration timeout is 5 s).
    pub registration_timeout: Duration,
}

static INHERITED_SOCKET_TAKEN: AtomicBool = AtomicBool::new(false);

impl PluginConfig {
    /// An external plugin on `socket`.
    pub fn external(
        socket: impl Into<PathBuf>,
        name: impl Into<String>,
        idx: impl Into<String>,
    ) -> Self {
        PluginConfig {
            endpoint: Endpoint::Socket(socket.into()),
            name: name.into(),
            idx: idx.into(),
            backoff: Backoff::default(),
            registration_timeout: Duration::from_secs(5),
        }
    }

    /// If the runtime launched this process as a pre-installed plugin (`NRI_PLUGIN_SOCKET`,
    /// `NRI_PLUGIN_NAME`, `NRI_PLUGIN_IDX` set; the socket is an inherited fd, 3 with
    /// containerd), the configuration for it; `Ok(None)` when not launched that way.
    /// Takes ownership of the inherited fd, so it succeeds at most once per process.
    pub fn pre_installed_from_env() -> Result<Option<Self>, NriError> {
        let Ok(fd) = std::env::var("NRI_PLUGIN_SOCKET") else {
            return Ok(None);
        };
        let fd: RawFd = fd.parse().ok().filter(|fd| *fd > 2).ok_or_else(|| {
            NriError::Config(format!(
                "NRI_PLUGIN_SOCKET={fd:?} is not an inherited fd number"
            ))
        })?;
        let name = std::env::var("NRI_PLUGIN_NAME").unwrap_or_default();
        let idx = std::env::var("NRI_PLUGIN_IDX").unwrap_or_default();
        // SAFETY: fcntl(F_GETFD) only queries the descriptor table; it cannot affect memory.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(NriError::Config(format!(
                "NRI_PLUGIN_SOCKET={fd} is not an open file descriptor"
            )));
        }
        if INHERITED_SOCKET_TAKEN.swap(true, Ordering::SeqCst) {
            return Err(NriError::Config(
                "the inherited NRI socket was already taken".into(),
            ));
        }
        // SAFETY: the fd is open (checked above), was handed to this process by the runtime for
        // this purpose, and the flag above guarantees it is wrapped only once.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut cfg = PluginConfig::external(DEFAULT_SOCKET, name, idx);
        cfg.endpoint = Endpoint::PreConnected(owned);
        Ok(Some(cfg))
    }

    fn validate(&self) -> Result<(), NriError> {
        if self.name.is_empty() {
            return Err(NriError::Config("plugin name is empty".into()));
        }
        if self.idx.len() != 2 || !self.idx.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NriError::Config(format!(
                "plugin index {:?} is not two digits (00-99)",
                self.idx
            )));
        }
        Ok(())
    }
}

/// Runs the NRI plugin until it cannot continue.
///
/// External mode never returns on its own (except for an invalid configuration): a lost or
/// refused connection is retried with backoff, and every new registration starts with a
/// Synchronize that hands the handler the runtime's full container list. Cancel it by dropping
/// the future (or aborting its task): that closes the connection.
/// Pre-installed mode returns `Ok(())` when the runtime closes the connection.
pub async fn run_plugin(
    cfg: PluginConfig,
    handler: Arc<dyn ContainerHandler>,
) -> Result<(), NriError> {
    cfg.validate()?;
    let reg = |expects_sync| Registration {
        name: cfg.name.clone(),
        idx: cfg.idx.clone(),
        timeout: cfg.registration_timeout,
        expects_sync,
    };
    let socket = match cfg.endpoint {
        Endpoint::PreConnected(fd) => {
            let std = std::os::unix::net::UnixStream::from(fd);
            std.set_nonblocking(true)?;
            let stream = UnixStream::from_std(std)?;
            // NRI 0.6.1 sends no Synchronize to pre-installed plugins.
            let result = run_session(stream, &reg(false), Arc::clone(&handler)).await;
            handler.connection_changed(ConnectionState::Disconnected);
            return result;
        }
        Endpoint::Socket(ref path) => path.clone(),
    };
    let mut delay = cfg.backoff.initial;
    loop {
        match UnixStream::connect(&socket).await {
            Ok(stream) => {
                info!(socket = %socket.display(), name = %cfg.name, idx = %cfg.idx, "connected to NRI");
                let result = run_session(stream, &reg(true), Arc::clone(&handler)).await;
                handler.connection_changed(ConnectionState::Disconnected);
                match result {
                    Ok(()) => {
                        info!("NRI connection closed by the runtime; reconnecting");
                        delay = cfg.backoff.initial;
                    }
                    Err(e) => warn!(error = %e, "NRI session failed; reconnecting"),
                }
            }
            Err(e) => {
                let err = NriError::Connect {
                    path: socket.display().to_string(),
                    source: e,
                };
                tracing::debug!(error = %err, ?delay, "NRI socket not available yet");
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(cfg.backoff.max);
    }
}
