//! The client: configuration and lifecycle (one tokio runtime, the session manager and the event bus), with a safe
//! Rust API that the C ABI wraps; its session calls are in `sessions.rs`, its host callbacks in `callbacks.rs`.

/// In a remote client (see [`remote`]), returns what `$body` gives for the remote form of the call; expands to
/// nothing in a build without the `remote` feature.
macro_rules! via_remote {
    ($client:expr, $r:ident => $body:expr) => {
        #[cfg(feature = "remote")]
        if let Some($r) = $client.remote.as_deref() {
            return $body;
        }
    };
}

/// Refuses call `$name` in a remote client: the gateway protocol has no method for it. With a session ID, a session
/// the client has not attached is `NotFound` first, as it would be locally.
macro_rules! local_only {
    ($client:expr, $name:expr) => {
        #[cfg(feature = "remote")]
        if $client.remote.is_some() {
            return Err(crate::client::remote::unsupported($name));
        }
    };
    ($client:expr, $id:expr, $name:expr) => {
        #[cfg(feature = "remote")]
        if let Some(r) = $client.remote.as_deref() {
            return Err(r.unsupported_for($id, $name));
        }
    };
}

mod acp;
mod callbacks;
mod hooks;
mod models;
#[cfg(feature = "remote")]
pub mod remote;
mod sessions;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::events::bus::{EventBus, EventsSince};
use crate::events::dispatch::EventSink;
use crate::events::{Event, StopReason};
use crate::manager::Manager;
use crate::sync::lock;
use crate::vocab::settings::{RestartOptions, RestartPolicy};

/// The client configuration JSON. Unknown keys are rejected.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Conversation store directory (default `$XDG_DATA_HOME/tandem`, else `~/.local/share/tandem`); `null`
    /// disables persistence.
    #[serde(default, deserialize_with = "nullable")]
    pub store_dir: Option<Option<String>>,
    /// When journal appends are fsynced: `always`, `turn` (default) or `never`.
    pub fsync: Option<crate::store::FsyncPolicy>,
    /// Tokio worker threads (default 2, 1 to 64).
    pub worker_threads: Option<usize>,
    /// Soft capacity of each event queue (default 65536).
    pub event_queue_capacity: Option<usize>,
    /// Events kept per session for `events_since` (default 1024).
    pub event_history_capacity: Option<usize>,
    /// Keep events for `next_event` (default true; hosts that only subscribe can turn it off).
    pub pull_events: Option<bool>,
    /// Restart policy for every session.
    pub restart: Option<RestartOptions>,
    /// Session options merged under each start.
    pub session_defaults: Option<Value>,
    /// MCP servers of every session (sessions' own `mcp_servers` add to these; see [`crate::mcp::config`]).
    pub mcp_servers: Option<Value>,
    /// `{url, gateway_token_file | gateway_token_env, ca_file}`: a remote client, whose sessions run on that
    /// gateway (see [`remote`]).
    pub remote: Option<Value>,
}

fn nullable<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl Config {
    /// Parses the config JSON (`None` = defaults).
    pub fn parse(json: Option<&str>) -> Result<Config> {
        let Some(text) = json else {
            return Ok(Config::default());
        };
        let v: Value = Error::parse_json("config_json", text)?;
        if !v.is_object() {
            return Err(Error::invalid("config_json must be a JSON object"));
        }
        let c: Config =
            serde_json::from_value(v).map_err(|e| Error::invalid(format!("config_json: {e}")))?;
        if c.worker_threads.is_some_and(|n| !(1..=64).contains(&n)) {
            return Err(Error::invalid("worker_threads must be between 1 and 64"));
        }
        if c.event_queue_capacity
            .is_some_and(|n| !(16..=1 << 24).contains(&n))
        {
            return Err(Error::invalid(
                "event_queue_capacity must be between 16 and 16777216",
            ));
        }
        if c.event_history_capacity
            .is_some_and(|n| !(1..=1 << 20).contains(&n))
        {
            return Err(Error::invalid(
                "event_history_capacity must be between 1 and 1048576",
            ));
        }
        if c.session_defaults.as_ref().is_some_and(|d| !d.is_object()) {
            return Err(Error::invalid("session_defaults must be an object"));
        }
        if let Some(v) = &c.mcp_servers {
            crate::mcp::config::parse("mcp_servers", v)?;
        }
        if let Some(r) = &c.remote {
            #[cfg(feature = "remote")]
            remote::check_config(r)?;
            #[cfg(not(feature = "remote"))]
            let _ = r;
            #[cfg(not(feature = "remote"))]
            return Err(Error::NotSupported(
                "this build of tandem has no remote client mode (cargo feature `remote`)".into(),
            ));
            #[allow(unreachable_code)]
            for (key, set) in [
                ("session_defaults", c.session_defaults.is_some()),
                ("mcp_servers", c.mcp_servers.is_some()),
                ("restart", c.restart.is_some()),
                ("fsync", c.fsync.is_some()),
            ] {
                if set {
                    return Err(Error::invalid(format!(
                        "{key} is the gateway's setting: a remote client (remote) does not take it"
                    )));
                }
            }
        }
        if let Some(Some(dir)) = &c.store_dir {
            if dir.is_empty() {
                return Err(Error::invalid(
                    "store_dir must not be empty (use null to disable persistence)",
                ));
            }
        }
        Ok(c)
    }

    /// The store directory: the configured one, the XDG default, or `None` when persistence is off.
    pub fn store_root(&self) -> Result<Option<std::path::PathBuf>> {
        match &self.store_dir {
            Some(None) => Ok(None),
            Some(Some(dir)) => crate::ids::expand_path(dir).map(Some),
            None => {
                let base = match std::env::var("XDG_DATA_HOME") {
                    Ok(x) if std::path::Path::new(&x).is_absolute() => std::path::PathBuf::from(x),
                    _ => match std::env::var_os("HOME") {
                        Some(home) => std::path::PathBuf::from(home).join(".local/share"),
                        None => {
                            return Err(Error::invalid(
                                "neither XDG_DATA_HOME nor HOME is set: set store_dir (or null to disable persistence)",
                            ))
                        }
                    },
                };
                Ok(Some(base.join("tandem")))
            }
        }
    }
}

/// How long `available_models` waits for the provider's model list before answering with the configured ones.
const MODEL_LIST_WAIT: Duration = Duration::from_secs(10);

/// A tandem client: sessions, their runtime and their events.
pub struct Client {
    /// This client's number, marking its runtime's threads (see [`Client::in_callback`]).
    number: u64,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    manager: Arc<Manager>,
    bus: Arc<EventBus>,
    pid: u32,
    shut_down: AtomicBool,
    host_tools: Arc<crate::tools::host::HostTools>,
    shared: crate::provider::Shared,
    /// The remote gateway serving this client's sessions, while it listens.
    #[cfg(feature = "remote")]
    gateway: Mutex<Option<crate::remote::Gateway>>,
    /// In a remote client, its gateway connection: session calls go there.
    #[cfg(feature = "remote")]
    remote: Option<Arc<remote::Remote>>,
}

/// Client numbers, from 1 (0 marks threads of no client's runtime).
static NEXT_CLIENT: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The number of the client whose runtime owns this thread, or 0.
    static RUNTIME_OF: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl Client {
    /// Creates a client from its config JSON (`None` = defaults).
    pub fn new(config_json: Option<&str>) -> Result<Client> {
        let config = Config::parse(config_json)?;
        let restart = match &config.restart {
            Some(r) => r.apply(&RestartPolicy::default())?,
            None => RestartPolicy::default(),
        };
        let defaults = config
            .session_defaults
            .clone()
            .unwrap_or_else(|| Value::Object(Default::default()));
        // Validate the defaults once, so a bad default fails here rather than on every start.
        crate::session::options::resolve(None, &defaults, &restart)?;
        let number = NEXT_CLIENT.fetch_add(1, Ordering::Relaxed);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.worker_threads.unwrap_or(2))
            .thread_name("tandem-worker")
            // Worker and blocking threads (where host tool and host provider callbacks run) know whose they are.
            .on_thread_start(move || RUNTIME_OF.with(|c| c.set(number)))
            .enable_time()
            .enable_io()
            .build()
            .map_err(|e| Error::Io(format!("cannot start the runtime: {e}")))?;
        let bus = EventBus::new(
            config.event_queue_capacity.unwrap_or(65_536),
            config.event_history_capacity.unwrap_or(1024),
            config.pull_events.unwrap_or(true),
        );
        // A remote client's sessions are stored by its gateway.
        let store = if config.remote.is_some() {
            None
        } else {
            config.store_root()?
        };
        let store = store
            .map(|root| {
                let store = crate::store::Store::new(root, config.fsync.unwrap_or_default());
                store.check_writable().map(|()| Arc::new(store))
            })
            .transpose()?;
        let host_tools = Arc::new(crate::tools::host::HostTools::default());
        let shared = crate::provider::Shared::default();
        let mcp = match &config.mcp_servers {
            Some(v) => crate::mcp::config::parse("mcp_servers", v)?,
            None => Vec::new(),
        };
        let manager = Manager::new(
            runtime.handle().clone(),
            bus.clone(),
            crate::manager::Settings {
                defaults,
                restart,
                mcp,
            },
            store,
            host_tools.clone(),
            shared.clone(),
        );
        #[cfg(feature = "remote")]
        let remote = match &config.remote {
            Some(r) => Some(Arc::new(remote::Remote::connect(
                runtime.handle().clone(),
                bus.clone(),
                r,
            )?)),
            None => None,
        };
        Ok(Client {
            #[cfg(feature = "remote")]
            remote,
            number,
            runtime: Mutex::new(Some(runtime)),
            manager,
            bus,
            pid: std::process::id(),
            shut_down: AtomicBool::new(false),
            host_tools,
            shared,
            #[cfg(feature = "remote")]
            gateway: Mutex::new(None),
        })
    }

    /// Fails in a forked child and after shutdown.
    fn alive(&self) -> Result<()> {
        self.check_process()?;
        if self.shut_down.load(Ordering::Acquire) {
            return Err(Error::ShuttingDown);
        }
        Ok(())
    }

    /// The local session manager; fails in a forked child, after shutdown, and in a remote client (for a call
    /// with no remote form that did not say so by name).
    fn live(&self) -> Result<&Manager> {
        self.local("this call")
    }

    /// [`Client::live`] for call `name`, which a remote client refuses by that name.
    fn local(&self, name: &str) -> Result<&Manager> {
        self.alive()?;
        #[cfg(feature = "remote")]
        if self.remote.is_some() {
            return Err(remote::unsupported(name));
        }
        let _ = name;
        Ok(&self.manager)
    }

    /// Whether this client's sessions run on a remote gateway (config key `remote`).
    pub fn is_remote(&self) -> bool {
        #[cfg(feature = "remote")]
        return self.remote.is_some();
        #[cfg(not(feature = "remote"))]
        false
    }

    /// `Forked` when called in a process other than the one that created the client.
    pub fn check_process(&self) -> Result<()> {
        let now = std::process::id();
        if now != self.pid {
            return Err(Error::Forked(self.pid));
        }
        Ok(())
    }

    /// Whether the current thread is running one of this client's callbacks: an event callback on the dispatcher
    /// thread, or a host tool or host provider callback on one of the runtime's threads. Shutting the client down
    /// from there would wait for the very thread that asks, so such calls fail at once instead.
    pub fn in_callback(&self) -> bool {
        self.bus.dispatcher().on_dispatcher_thread() || RUNTIME_OF.with(|c| c.get()) == self.number
    }

    /// Stops every session (flushing it), delivers queued callbacks, wakes `next_event` waiters, and stops the
    /// runtime within `timeout`. Idempotent.
    pub fn shutdown(&self, timeout: Duration) -> Result<()> {
        self.check_process()?;
        if self.in_callback() {
            return Err(Error::ReentrantCall(
                "tandem_client_shutdown cannot be called from one of the client's callbacks (event, host tool or host provider)".into(),
            ));
        }
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        // No remote call may start while sessions stop.
        self.stop_listening()?;
        #[cfg(feature = "remote")]
        if let Some(r) = &self.remote {
            r.close();
        }
        self.manager.stop_all(StopReason::Shutdown);
        self.host_tools.clear();
        self.shared.hooks.clear();
        self.shared.host.close();
        self.bus.shutdown();
        if let Some(rt) = lock(&self.runtime).take() {
            rt.shutdown_timeout(timeout);
        }
        Ok(())
    }

    /// Next event of the pull queue, waiting up to `timeout`.
    pub fn next_event(&self, timeout: Duration) -> Result<Arc<Event>> {
        self.check_process()?;
        self.bus.next_event(timeout)
    }

    /// Up to `max` events of the pull queue, without waiting (possibly none); `ShuttingDown` once shut down and
    /// drained.
    pub fn next_events(&self, max: usize) -> Result<Vec<Arc<Event>>> {
        self.check_process()?;
        self.bus.next_events(max)
    }

    /// The client's readiness descriptor (see [`crate::events::bus::EventBus::ready_fd`]); it stays open until the
    /// client is dropped.
    pub fn ready_fd(&self) -> Result<i32> {
        self.check_process()?;
        self.bus.ready_fd()
    }

    /// Oldest event of session `id` in the pull queue, waiting up to `timeout`; other events stay queued in order.
    /// `NotFound` once the session's stream has ended (or never began) and none of its events are queued.
    pub fn next_session_event(&self, id: &str, timeout: Duration) -> Result<Arc<Event>> {
        self.check_process()?;
        self.bus.next_session_event(id, timeout)
    }

    /// Adds a subscription (optionally for one session); returns its ID.
    pub fn subscribe(&self, session_id: Option<&str>, sink: Box<dyn EventSink>) -> Result<u64> {
        if let Err(e) = self.alive() {
            sink.release();
            return Err(e);
        }
        self.bus.dispatcher().subscribe(session_id, sink)
    }

    /// Ends a subscription; see [`crate::events::dispatch::Dispatcher::unsubscribe`].
    pub fn unsubscribe(&self, id: u64) -> Result<()> {
        self.check_process()?;
        self.bus.dispatcher().unsubscribe(id)
    }

    /// Serves this client's sessions over the network (see [`crate::remote`]); returns the URL clients connect to.
    /// `AlreadyExists` while it listens already; `NotSupported` in a build without the `remote` feature.
    pub fn listen(self: &Arc<Self>, options_json: Option<&str>) -> Result<String> {
        local_only!(self, "tandem_client_listen");
        self.live()?;
        #[cfg(feature = "remote")]
        {
            let mut gateway = lock(&self.gateway);
            if let Some(g) = gateway.as_ref() {
                return Err(Error::AlreadyExists(format!(
                    "the client already listens on {}: stop listening first",
                    g.address()
                )));
            }
            let handle = lock(&self.runtime)
                .as_ref()
                .map(|rt| rt.handle().clone())
                .ok_or(Error::ShuttingDown)?;
            let g = crate::remote::listen(self, &handle, options_json)?;
            let address = g.address().to_string();
            *gateway = Some(g);
            Ok(address)
        }
        #[cfg(not(feature = "remote"))]
        {
            let _ = options_json;
            Err(Error::NotSupported(
                "this build of tandem has no remote gateway (cargo feature `remote`)".into(),
            ))
        }
    }

    /// Stops the remote gateway, closing its connections; nothing happens when it is not listening.
    pub fn stop_listening(&self) -> Result<()> {
        self.check_process()?;
        #[cfg(feature = "remote")]
        if let Some(g) = lock(&self.gateway).take() {
            g.stop();
        }
        Ok(())
    }

    /// Events of session `id` after `seq`, from its bounded history.
    pub fn events_since(&self, id: &str, seq: u64) -> Result<EventsSince> {
        via_remote!(self, r => {
            self.alive()?;
            r.events_since(id, seq)
        });
        let log = self.live()?.log(id)?;
        Ok(self.bus.events_since(&log, seq))
    }

    /// The name of session `id`'s event stream (see [`crate::events::bus::SessionLog::stream`]) with the events
    /// after `seq` in it: a cursor is a stream name and a sequence number.
    pub fn stream_since(&self, id: &str, seq: u64) -> Result<(Arc<str>, EventsSince)> {
        let log = self.live()?.log(id)?;
        Ok((log.stream().clone(), self.bus.events_since(&log, seq)))
    }

    /// The broker token of session `id`, running or stored; `None` when there is no such session.
    pub fn broker_token(&self, id: &str) -> Result<Option<crate::manager::BrokerToken>> {
        local_only!(self, "tandem_session_token of a stored session");
        self.live()?.broker_token(id)
    }

    /// Gives running session `id` a new token, issued now, and returns it: the old one no longer attaches to it
    /// through a gateway (peers attached with it stay attached). The store keeps the new token.
    pub fn renew_token(&self, id: &str) -> Result<String> {
        local_only!(self, "renewing a session's token");
        self.live()?.renew_token(id)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if self.check_process().is_err() {
            // In a forked child the runtime's threads do not exist; leak rather than touch them.
            if let Some(rt) = lock(&self.runtime).take() {
                std::mem::forget(rt);
            }
            return;
        }
        let _ = self.shutdown(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation() {
        assert!(Config::parse(None).is_ok());
        assert!(
            Config::parse(Some(r#"{"store_dir": null}"#))
                .unwrap()
                .store_dir
                == Some(None)
        );
        assert!(matches!(
            Config::parse(Some("{")),
            Err(Error::InvalidJson(..))
        ));
        assert!(matches!(
            Config::parse(Some("3")),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            Config::parse(Some(r#"{"worker_threads": 0}"#)),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            Config::parse(Some(r#"{"bogus": 1}"#)),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            Config::parse(Some(r#"{"session_defaults": 1}"#)),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            Client::new(Some(r#"{"session_defaults": {"provider": "nope"}}"#)),
            Err(Error::InvalidArgument(_))
        ));
    }
}
