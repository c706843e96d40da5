//! The hub: a Unix socket server in the primary that relays frames between workers.
//!
//! Each accepted link belongs to one cluster worker, identified by the peer's pid (which the
//! primary registered with [`Hub::allow`]) and proven by the secret. A frame read from a link is
//! routed by its header only ([`Switchboard`]); its bytes are queued as they are for every
//! recipient on a link (one allocation shared by all), and handed to the primary's JS
//! ([`HubEvent::Deliver`]) for recipients still on IPC.
//!
//! Ordering. A worker switches from IPC to its link in two steps, so that nothing is lost,
//! duplicated or reordered:
//! - upstream: frames it sends on its new link are held until the primary's JS has relayed
//!   everything it sent before over IPC and calls [`Hub::switch`];
//! - downstream: `switch` moves it to its link under the same lock that routes every frame, and
//!   emits [`HubEvent::Flushed`] after every `Deliver` queued for it; the worker holds what its
//!   link brings until it receives that marker over IPC.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use sio_cluster_core::{
    Channels, Header, MessageType, Recovery, RecoveryLimits, Secret, Switchboard, Via, WorkerId,
    MAX_ADAPTER_BYTES, PRIMARY,
};
use tokio::net::UnixListener;
use tokio::runtime::Handle;

mod connection;
mod fanout;
mod remote;
mod remote_state;
mod state;
mod stats;
mod streams;

use crate::backlog::Backlog;
use crate::error::HubError;
use crate::event::{EventSink, HubEvent};
use crate::handshake::random_secret;
use crate::redis_bridge::{RedisBridge, RedisOptions};
use crate::socket_dir::SocketDir;
use crate::standalone::{StandaloneOptions, StandaloneSocket};
use crate::stats::HubStats;
use connection::accept_loop;
use fanout::{Ipc, Outgoing};
use remote::{reconcile_loop, RemoteHandler};
use remote_state::RemoteState;
use state::{Counters, Shared, State};

#[derive(Debug, Clone)]
pub struct HubOptions {
    /// Bytes queued for one worker before it is disconnected as too slow.
    pub max_queue_bytes: usize,
    /// Largest frame accepted from a worker.
    pub max_frame_len: usize,
    /// Where the private socket directory is created.
    pub parent_dir: PathBuf,
    /// Bounds of the packet log and session store of connection state recovery.
    pub recovery: RecoveryLimits,
    /// Send a message addressed to rooms only to the workers holding one of them (and answer
    /// requests for the others); off, every worker but the sender gets every message.
    pub route_by_room: bool,
    /// Bridge this machine to the others through Redis (sharded Pub/Sub).
    pub redis: Option<RedisOptions>,
    /// A standalone hub: listens at a path of the operator's choosing, and lets in any process of
    /// its user (or group) that read the secret file, naming it itself ([`crate::standalone`]);
    /// a link that closes is a worker gone. Without it, a primary's hub: a private directory
    /// under `parent_dir`, and only the workers the primary registers ([`Hub::allow`]).
    pub standalone: Option<StandaloneOptions>,
}

impl Default for HubOptions {
    fn default() -> Self {
        HubOptions {
            max_queue_bytes: 64 * 1024 * 1024,
            max_frame_len: sio_cluster_core::MAX_FRAME_LEN,
            parent_dir: std::env::temp_dir(),
            recovery: RecoveryLimits::default(),
            route_by_room: true,
            redis: None,
            standalone: None,
        }
    }
}

/// Where the socket lives; its files go when the hub does.
#[derive(Debug)]
enum SocketPlace {
    Private(SocketDir),
    Standalone(StandaloneSocket),
}

impl SocketPlace {
    fn prepare(options: &HubOptions) -> std::io::Result<SocketPlace> {
        Ok(match &options.standalone {
            Some(standalone) => SocketPlace::Standalone(StandaloneSocket::prepare(standalone)?),
            None => SocketPlace::Private(SocketDir::create(&options.parent_dir)?),
        })
    }

    fn socket_path(&self) -> &Path {
        match self {
            SocketPlace::Private(dir) => dir.socket_path(),
            SocketPlace::Standalone(socket) => socket.socket_path(),
        }
    }

    /// Once bound: the socket's permissions, and the secret where a standalone hub's workers read it.
    fn secure(&self, secret: &Secret) -> std::io::Result<()> {
        match self {
            SocketPlace::Private(dir) => dir.restrict_socket(),
            SocketPlace::Standalone(socket) => {
                socket.restrict_socket()?;
                socket.write_secret(secret)
            }
        }
    }
}

pub struct Hub {
    shared: Arc<Shared>,
    _place: SocketPlace,
    path: PathBuf,
    secret: Secret,
    accept_task: tokio::task::JoinHandle<()>,
}

impl Hub {
    /// Binds the socket and starts accepting links on `runtime`. Each event counts against the
    /// bound of the IPC bridge until `sink` returns: a sink that hands events to another thread
    /// uses [`Hub::start_bridged`] instead.
    pub fn start(runtime: &Handle, options: HubOptions, sink: EventSink) -> std::io::Result<Hub> {
        let backlog = Arc::new(Backlog::new(options.max_queue_bytes));
        let taken = backlog.clone();
        let sink: EventSink = Arc::new(move |event| {
            let cost = Backlog::cost(&event);
            sink(event);
            taken.release(cost);
        });
        Self::start_bridged(runtime, options, sink, backlog)
    }

    /// As [`Hub::start`], for a sink that queues events for another thread (the primary's JS),
    /// which calls [`Backlog::taken`] on `backlog` as it takes each one: what waits in between
    /// counts against `backlog`'s bound, beyond which events are dropped (see [`Backlog`]).
    pub fn start_bridged(
        runtime: &Handle,
        options: HubOptions,
        sink: EventSink,
        backlog: Arc<Backlog>,
    ) -> std::io::Result<Hub> {
        let sink = bounded_sink(sink, backlog.clone());
        let place = SocketPlace::prepare(&options)?;
        let path = place.socket_path().to_path_buf();
        let listener = {
            let _guard = runtime.enter();
            UnixListener::bind(&path)?
        };
        let secret = random_secret()?;
        place.secure(&secret)?;
        let mut board = Switchboard::with_route_by_room(options.route_by_room);
        // The ADAPTER_CLOSE frames announcing a closed worker's adapters (each smaller than its
        // adapter's cost in the table) take at most a quarter of another worker's queue.
        board.limit_adapters(MAX_ADAPTER_BYTES.min(options.max_queue_bytes / 4));
        let remote = options.redis.as_ref().map(|redis| {
            board.add_remote();
            // Streams mode: one channel per namespace and one per server, as the streams
            // adapter subscribes (no room channels).
            let mode = match redis.streams {
                Some(_) => sio_cluster_core::SubscriptionMode::Static,
                None => redis.mode,
            };
            RemoteState::new(
                Channels::new(redis.channel_prefix.clone(), mode),
                redis.streams.as_ref(),
            )
        });
        let state = State {
            board,
            recovery: Recovery::new(options.recovery),
            pids: HashMap::new(),
            links: HashMap::new(),
            inbox: Vec::new(),
            remote,
            last_named: PRIMARY,
        };
        let shared = Arc::new_cyclic(|me| Shared {
            state: Mutex::new(state),
            sink,
            backlog,
            options,
            counters: Counters::default(),
            next_link_id: AtomicU64::new(1),
            started: Instant::now(),
            redis: OnceLock::new(),
            me: me.clone(),
            last_gauges: Mutex::new(HubStats::default()),
        });
        if let Some(redis) = shared.options.redis.clone() {
            let handler = Arc::new(RemoteHandler {
                shared: Arc::downgrade(&shared),
            });
            let bridge = RedisBridge::start(runtime, redis, handler);
            let _ = shared.redis.set(bridge);
            runtime.spawn(reconcile_loop(Arc::downgrade(&shared)));
        }
        let accept_task = runtime.spawn(accept_loop(listener, shared.clone(), secret.clone()));
        Ok(Hub {
            shared,
            _place: place,
            path,
            secret,
            accept_task,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// Registers a worker of the cluster: only its pid may open its link.
    pub fn allow(&self, worker: WorkerId, pid: u32) {
        let mut state = self.shared.lock();
        state.pids.insert(worker, pid);
        state.board.add_worker(worker);
    }

    /// Whether IPC messages must come with their payload bytes: a worker is linked, or Redis
    /// carries them to other machines.
    pub fn needs_payload(&self) -> bool {
        self.shared.redis.get().is_some() || !self.shared.lock().links.is_empty()
    }

    /// Routes a message that arrived over IPC from `from`. Recipients on links get it as a frame
    /// built from `header` and `payload`; the returned workers are to be sent the original
    /// message over IPC by the caller.
    pub fn route_ipc(
        &self,
        from: WorkerId,
        header: &Header,
        payload: &[u8],
    ) -> Result<Vec<WorkerId>, HubError> {
        let mut state = self.shared.lock();
        self.shared.note_adapter(&mut state, header);
        let recipients = state.board.route(from, Via::Ipc, header)?;
        let message = Outgoing::Parts { header, payload };
        self.shared
            .fan_out(&mut state, from, message, recipients, Ipc::ByCaller)
    }

    /// Routes a message the primary made itself (the Emitter's), from no worker, as a worker's
    /// message is routed (by room too): recipients on links get it as a frame built from `header`
    /// and `payload`; the returned workers are to be sent it over IPC by the caller. A broadcast
    /// with `header.store` first gets its place in the recovery log, as a worker's stored
    /// broadcast does, even if no worker receives it now: a disconnected member of its rooms
    /// gets it when it recovers (once a worker used recovery: `Recovery::in_use`).
    pub fn inject(&self, header: &Header, payload: &[u8]) -> Result<Vec<WorkerId>, HubError> {
        header.check().map_err(HubError::Invalid)?;
        if header.store && header.kind != MessageType::Broadcast {
            return Err(HubError::NotStorable(header.kind));
        }
        let mut state = self.shared.lock();
        if header.store && self.shared.streams_options().is_some() {
            // Streams mode: on the stream first, its id is its offset (hub/streams.rs); the
            // workers on IPC get it by event then.
            return self
                .shared
                .inject_stored_on_stream(&mut state, header, payload);
        }
        let mut recipients = state.board.route_from_primary(header)?;
        if std::mem::take(&mut recipients.remote) {
            // The message as made, without the offset of this machine's log.
            self.shared.publish(&mut state, header, payload);
        }
        let message = if header.store && state.recovery.in_use() {
            Outgoing::Framed(self.shared.store_made(&mut state, header, payload)?)
        } else {
            Outgoing::Parts { header, payload }
        };
        self.shared
            .fan_out(&mut state, PRIMARY, message, recipients, Ipc::ByCaller)
    }

    /// The worker reports over IPC that it now sends on its link; see the module's "Ordering".
    pub fn switch(&self, worker: WorkerId) -> bool {
        let mut state = self.shared.lock();
        let Some(release) = state
            .links
            .get_mut(&worker)
            .and_then(|slot| slot.release.take())
        else {
            drop(state);
            self.shared.log(format!(
                "worker {worker} switched without an open link: ignored"
            ));
            return false;
        };
        state.board.switch_to_link(worker);
        (self.shared.sink)(HubEvent::Flushed { worker });
        let _ = release.send(());
        true
    }

    /// The worker exited: close its link and tell the others its adapters are gone.
    pub fn remove_worker(&self, worker: WorkerId) {
        let mut state = self.shared.lock();
        state.pids.remove(&worker);
        if let Some(slot) = state.links.remove(&worker) {
            slot.shutdown.notify_one();
        }
        let orphans = state.board.remove_worker(worker);
        self.shared.announce_closed(&mut state, worker, orphans);
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.accept_task.abort();
        self.shared.leave_redis();
        let mut state = self.shared.lock();
        for (_, slot) in state.links.drain() {
            slot.shutdown.notify_one();
        }
    }
}

/// `sink` behind the bound of the IPC bridge: an event that would take the bytes waiting for the
/// primary's JS past the bound is dropped and counted, with a debug line when dropping starts and
/// one when it stops.
fn bounded_sink(sink: EventSink, backlog: Arc<Backlog>) -> EventSink {
    Arc::new(move |event| {
        let (admitted, line) = backlog.admit(&event);
        if let Some(message) = line {
            let line = HubEvent::Log { message };
            backlog.admit_always(&line);
            sink(line);
        }
        if admitted {
            sink(event);
        }
    })
}
