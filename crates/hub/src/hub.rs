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

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use sio_cluster_core::{
    encode_frame, Channels, FrameDecoder, Header, MessageType, OutQueue, Path, RawFrame,
    Recipients, RecoveryLimits, Subscriptions, Switchboard, WorkerId, IPC_PIN, MAX_ADAPTER_BYTES,
    PRIMARY, REMOTE,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use tokio::runtime::Handle;
use tokio::sync::{oneshot, Notify};

use crate::backlog::Backlog;
use crate::event::{EventSink, HubEvent};
use crate::handshake::{check_hello, Secret, ACCEPTED};
use crate::recovery::{Recovery, Reply};
use crate::redis_bridge::{RedisBridge, RedisOptions};

mod remote;
use crate::socket_dir::SocketDir;
use remote::{reconcile_loop, RemoteHandler};

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
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubStats {
    pub links: u64,
    pub frames_in: u64,
    pub frames_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub queued_bytes: u64,
    pub rejected_links: u64,
    pub overflows: u64,
    pub bad_frames: u64,
    pub log_packets: u64,
    pub log_bytes: u64,
    pub sessions: u64,
    /// Bytes the sessions retain (counted against `recovery.max_session_bytes`).
    pub session_bytes: u64,
    /// Sessions evicted or refused at `recovery.max_sessions` or `max_session_bytes`.
    pub sessions_dropped: u64,
    /// Deliveries to a worker avoided because it holds none of a message's rooms.
    pub skipped: u64,
    /// Answers the hub sent in the name of skipped workers.
    pub answered: u64,
    /// Broadcasts a worker asked to store that were delivered without an offset (one whose frame
    /// could not carry its offset within the frame limit).
    pub unstored: u64,
    /// Redis: connected now, messages published and received, publishes dropped (Redis away),
    /// received messages that were not valid, our own messages heard back, channels subscribed.
    pub redis_connected: bool,
    pub redis_published: u64,
    pub redis_received: u64,
    pub redis_dropped: u64,
    pub redis_bad: u64,
    pub redis_echoes: u64,
    pub redis_channels: u64,
    /// Bytes of events waiting for the primary's JS (the IPC bridge), and events dropped because
    /// they would have exceeded `max_queue_bytes` there (see [`Backlog`]).
    pub bridge_bytes: u64,
    pub bridge_dropped: u64,
    /// The adapters (uids) the hub knows, their bytes in its table, and messages dropped because
    /// their sender already held as many adapters as a worker may
    /// ([`sio_cluster_core::MAX_ADAPTER_BYTES`], at most a quarter of `max_queue_bytes`).
    pub uids: u64,
    pub uid_bytes: u64,
    pub uids_refused: u64,
    /// The bytes of the workers' room views ([`sio_cluster_core::MAX_ROOM_BYTES`] per worker), and
    /// the times a worker's views reached that bound and were folded (it then gets every message
    /// addressed to rooms).
    pub room_bytes: u64,
    pub room_overflows: u64,
}

/// Bytes written per system call at most, when many small frames are queued.
const WRITE_BATCH: usize = 256 * 1024;
const READ_CHUNK: usize = 64 * 1024;
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Hub {
    shared: Arc<Shared>,
    _dir: SocketDir,
    path: PathBuf,
    secret: Secret,
    accept_task: tokio::task::JoinHandle<()>,
}

struct Shared {
    state: Mutex<State>,
    /// The caller's sink behind the bound of the IPC bridge ([`Backlog`]).
    sink: EventSink,
    backlog: Arc<Backlog>,
    options: HubOptions,
    counters: Counters,
    next_link_id: AtomicU64,
    started: Instant,
    redis: OnceLock<RedisBridge>,
    /// For the tasks it spawns (a server count waits for Redis).
    me: Weak<Shared>,
    /// The last stats read under the state lock, for a `stats()` that finds it held.
    last_stats: Mutex<HubStats>,
}

#[derive(Default)]
struct Counters {
    frames_in: AtomicU64,
    frames_out: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    rejected_links: AtomicU64,
    overflows: AtomicU64,
    bad_frames: AtomicU64,
    skipped: AtomicU64,
    answered: AtomicU64,
    unstored: AtomicU64,
}

struct State {
    board: Switchboard,
    recovery: Recovery,
    /// The pid of each cluster worker, as the primary registered it.
    pids: HashMap<WorkerId, u32>,
    links: HashMap<WorkerId, LinkSlot>,
    /// Frames read from the links during this turn of the hub's runtime, not routed yet (see
    /// [`Shared::route_inbox`]).
    inbox: Vec<(WorkerId, RawFrame)>,
    /// The Redis channels this machine subscribes (with a Redis bridge).
    subscriptions: Option<Subscriptions>,
    /// Messages of the primary's Emitter published on a channel this machine subscribes, whose
    /// copy Redis will send back (their uid, "emitter", is no local adapter's, which tells the
    /// workers' echoes apart): hashes of their bytes, oldest first.
    echoes: VecDeque<u64>,
    /// Mixed fleets: the extra subscribers of each namespace channel last asked of the bridge.
    counted: BTreeMap<String, usize>,
    /// Servers of other machines heard sending heartbeats (ours do, plain redis-adapter servers
    /// never), and those already reported as plain: see [`Shared::notice_plain_server`].
    heartbeating: HashSet<String>,
    reported_plain: HashSet<String>,
    /// Servers heard from without a heartbeat yet: when first heard (the hub's clock, ms).
    silent: HashMap<String, u64>,
}

/// The hub's end of one worker's link.
struct LinkSlot {
    id: u64,
    queue: OutQueue<Arc<[u8]>>,
    /// Frames queued on this link so far: the sequence number of the last one (the first frame
    /// after the handshake is 1). The worker counts the frames it applies the same way and
    /// reports the count in ROOMS_CHANGED, which tells which joins it had applied.
    queued: u64,
    wake_writer: Arc<Notify>,
    shutdown: Arc<Notify>,
    /// Releases the frames the worker sent before it switched; taken by `switch`.
    release: Option<oneshot::Sender<()>>,
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
        let dir = SocketDir::create(&options.parent_dir)?;
        let path = dir.socket_path().to_path_buf();
        let listener = {
            let _guard = runtime.enter();
            UnixListener::bind(&path)?
        };
        dir.restrict_socket()?;
        let secret = Secret::random()?;
        let mut board = Switchboard::with_route_by_room(options.route_by_room);
        // The ADAPTER_CLOSE frames announcing a closed worker's adapters (each smaller than its
        // adapter's cost in the table) take at most a quarter of another worker's queue.
        board.limit_adapters(MAX_ADAPTER_BYTES.min(options.max_queue_bytes / 4));
        let subscriptions = options.redis.as_ref().map(|redis| {
            board.add_remote();
            Subscriptions::new(Channels::new(redis.channel_prefix.clone(), redis.mode))
        });
        let state = State {
            board,
            recovery: Recovery::new(options.recovery),
            pids: HashMap::new(),
            links: HashMap::new(),
            inbox: Vec::new(),
            subscriptions,
            echoes: VecDeque::new(),
            counted: BTreeMap::new(),
            heartbeating: HashSet::new(),
            reported_plain: HashSet::new(),
            silent: HashMap::new(),
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
            last_stats: Mutex::new(HubStats::default()),
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
            _dir: dir,
            path,
            secret,
            accept_task,
        })
    }

    pub fn path(&self) -> &FsPath {
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
    ) -> Result<Vec<WorkerId>, String> {
        let mut state = self.shared.lock();
        self.shared.note_adapter(&mut state, header);
        let recipients = state.board.route(from, Path::Ipc, header)?;
        if recipients.remote {
            self.shared.publish(&mut state, header, payload);
        }
        if !recipients.links.is_empty() {
            let frame = encode_frame(header, payload).map_err(|e| e.to_string())?;
            let frame: Arc<[u8]> = frame.into();
            self.shared
                .queue_for_links(&mut state, &recipients.links, &frame);
        }
        self.shared
            .after_routing(&mut state, from, header, &recipients);
        Ok(recipients.ipc)
    }

    /// Routes a message the primary made itself (the Emitter's), from no worker, as a worker's
    /// message is routed (by room too): recipients on links get it as a frame built from `header`
    /// and `payload`; the returned workers are to be sent it over IPC by the caller. A broadcast
    /// with `header.store` first gets its place in the recovery log, as a worker's stored
    /// broadcast does, even if no worker receives it now: a disconnected member of its rooms
    /// gets it when it recovers.
    pub fn inject(&self, header: &Header, payload: &[u8]) -> Result<Vec<WorkerId>, String> {
        header.check().map_err(|invalid| invalid.reason)?;
        if header.store && header.kind != MessageType::Broadcast {
            return Err(format!(
                "only a BROADCAST is stored, not a {}",
                header.kind.name()
            ));
        }
        let mut state = self.shared.lock();
        let recipients = state.board.route_from_primary(header)?;
        if recipients.remote {
            // The message as made, without the offset of this machine's log.
            self.shared.publish(&mut state, header, payload);
        }
        let mut bytes = encode_frame(header, payload).map_err(|e| e.to_string())?;
        if header.store {
            bytes = self.shared.store_made(&mut state, bytes)?;
        }
        if !recipients.links.is_empty() {
            self.shared
                .queue_for_links(&mut state, &recipients.links, &bytes.into());
        }
        self.shared
            .after_routing(&mut state, PRIMARY, header, &recipients);
        Ok(recipients.ipc)
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

    /// The hub's counters and gauges. Never waits for a long operation of the hub (a message of
    /// 500,000 rooms holds the state lock for a good part of a second, and the primary's
    /// JavaScript thread calls this): if the state lock stays held, the gauges read under it
    /// (links, queues, log, sessions, tables, channels) are those of the last reading, and the
    /// counters kept outside it are current.
    pub fn stats(&self) -> HubStats {
        // Routing holds the lock for microseconds: a reading is nearly always fresh.
        let deadline = Instant::now() + Duration::from_millis(2);
        loop {
            match self.shared.state.try_lock() {
                Ok(state) => return self.read_stats(&state),
                Err(std::sync::TryLockError::Poisoned(poisoned)) => {
                    return self.read_stats(&poisoned.into_inner())
                }
                Err(std::sync::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::yield_now()
                }
                Err(std::sync::TryLockError::WouldBlock) => break,
            }
        }
        let last = self
            .shared
            .last_stats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        HubStats {
            links: last.links,
            queued_bytes: last.queued_bytes,
            log_packets: last.log_packets,
            log_bytes: last.log_bytes,
            sessions: last.sessions,
            session_bytes: last.session_bytes,
            sessions_dropped: last.sessions_dropped,
            uids: last.uids,
            uid_bytes: last.uid_bytes,
            uids_refused: last.uids_refused,
            room_bytes: last.room_bytes,
            room_overflows: last.room_overflows,
            redis_channels: last.redis_channels,
            ..self.counter_stats()
        }
    }

    /// What is counted outside the state lock.
    fn counter_stats(&self) -> HubStats {
        let c = &self.shared.counters;
        HubStats {
            frames_in: c.frames_in.load(Ordering::Relaxed),
            frames_out: c.frames_out.load(Ordering::Relaxed),
            bytes_in: c.bytes_in.load(Ordering::Relaxed),
            bytes_out: c.bytes_out.load(Ordering::Relaxed),
            rejected_links: c.rejected_links.load(Ordering::Relaxed),
            overflows: c.overflows.load(Ordering::Relaxed),
            bad_frames: c.bad_frames.load(Ordering::Relaxed),
            skipped: c.skipped.load(Ordering::Relaxed),
            answered: c.answered.load(Ordering::Relaxed),
            unstored: c.unstored.load(Ordering::Relaxed),
            bridge_bytes: self.shared.backlog.bytes() as u64,
            bridge_dropped: self.shared.backlog.dropped(),
            ..self.shared.redis_counters()
        }
    }

    /// The gauges read under the state lock, with the counters kept outside it.
    fn read_stats(&self, state: &State) -> HubStats {
        let (uids, uid_bytes, uids_refused) = state.board.adapter_stats();
        let stats = HubStats {
            links: state.links.len() as u64,
            queued_bytes: state.links.values().map(|s| s.queue.bytes() as u64).sum(),
            log_packets: state.recovery.log_len() as u64,
            log_bytes: state.recovery.log_bytes() as u64,
            sessions: state.recovery.sessions() as u64,
            session_bytes: state.recovery.session_bytes() as u64,
            sessions_dropped: state.recovery.sessions_dropped(),
            uids: uids as u64,
            uid_bytes: uid_bytes as u64,
            uids_refused,
            room_bytes: state.board.rooms().bytes() as u64,
            room_overflows: state.board.rooms().overflows(),
            redis_channels: Shared::redis_channels(state),
            ..self.counter_stats()
        };
        *self
            .shared
            .last_stats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = stats.clone();
        stats
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

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves routing state that is still consistent enough
        // to keep relaying; refusing every later message would be worse.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn log(&self, message: String) {
        (self.sink)(HubEvent::Log { message });
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// A broadcast made here (the Emitter's, or one from another machine) takes its place in the
    /// packet log: the frame to relay, with its offset.
    fn store_made(&self, state: &mut State, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
        let frame = decode_one(&bytes).ok_or("cannot re-read a frame made here")?;
        let (relayed, _ack) = state
            .recovery
            .store(&frame, self.now_ms())
            .map_err(|e| e.to_string())?;
        Ok(relayed)
    }

    /// Hub-only frames (connection state recovery) are answered here, never relayed; a broadcast
    /// to store gets its offset first. Returns the frame to route, if any, and what to send back
    /// to the sender afterwards.
    fn recovery_step(
        &self,
        state: &mut State,
        from: WorkerId,
        frame: RawFrame,
    ) -> (Option<RawFrame>, Option<Reply>) {
        let kind = frame.header.kind;
        let recovery = kind.is_hub_only() || (kind == MessageType::Broadcast && frame.header.store);
        if !recovery {
            return (Some(frame), None); // the common case: nothing to do, not even read the clock
        }
        let now = self.now_ms();
        let outcome = match kind {
            MessageType::Broadcast if frame.header.store => {
                match state.recovery.store(&frame, now) {
                    Ok((relayed, ack)) => {
                        if let Some(relayed) = decode_one(&relayed) {
                            return (Some(relayed), Some(Reply::new(ack)));
                        }
                    }
                    Err(error) => self.log(format!(
                        "worker {from}: a broadcast is delivered without storing it: {error}"
                    )),
                }
                self.counters.unstored.fetch_add(1, Ordering::Relaxed);
                let (relayed, ack) = Recovery::unstored(&frame);
                return (
                    relayed.as_deref().and_then(decode_one),
                    Some(Reply::new(ack)),
                );
            }
            MessageType::PersistSession => state.recovery.persist(&frame, now).map(|note| {
                if let Some(note) = note {
                    self.log(format!("worker {from}: {note}"));
                }
                None
            }),
            MessageType::RestoreSession => state.recovery.restore(&frame, now).map(|reply| {
                if let Some(note) = &reply.note {
                    self.log(format!("worker {from}: {note}"));
                }
                Some(reply)
            }),
            _ => Err("only the hub sends it".to_string()),
        };
        match outcome {
            Ok(reply) => (None, reply),
            Err(reason) => {
                self.log(format!("drop {} from worker {from}: {reason}", kind.name()));
                (None, None)
            }
        }
    }

    /// Routes one frame read from `from`'s link. Called with the lock held, so that it is ordered
    /// with `switch` (see the module's "Ordering").
    fn route_link_frame(&self, state: &mut State, from: WorkerId, frame: RawFrame) {
        self.counters.frames_in.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bytes_in
            .fetch_add(frame.bytes.len() as u64, Ordering::Relaxed);
        self.note_adapter(state, &frame.header);
        if frame.header.kind == MessageType::ServerCount {
            return self.count_servers(state, from, frame.header);
        }
        if frame.header.kind == MessageType::RoomsChanged {
            self.note_rooms(state, &frame.header.nsp, &frame.header.joined);
            return state.board.rooms_changed(from, &frame.header);
        }
        let (frame, reply) = self.recovery_step(state, from, frame);
        if let Some(frame) = frame {
            self.route(state, from, frame);
        }
        // After routing: the sender delivers a stored broadcast to its own sockets only once it
        // has the offset, so nothing routed before reaches them after it.
        if let Some(Reply { bytes, joins, note }) = reply {
            if let Some(note) = note {
                self.log(format!("worker {from}: {note}"));
            }
            self.queue_for_links(state, &[from], &bytes.into());
            // A restored session's sockets join its rooms when the worker applies the reply.
            if let Some((nsp, rooms)) = joins {
                self.pin_for_links(state, &[from], &nsp, &rooms);
                self.note_rooms(state, &nsp, &rooms);
            }
        }
    }

    /// Routes the frames every link brought during this turn, the rooms that workers report
    /// first. Two frames read in the same turn were both in the hub's sockets before either was
    /// routed, so neither caused the other: a worker's new room is then known before routing a
    /// message that may have been caused by that worker's join (a client told of it, which told
    /// another worker's client) and reached the hub as fast. (A room reported gone first only
    /// spares a worker a message it would drop.)
    fn route_inbox(&self, state: &mut State) {
        let frames = std::mem::take(&mut state.inbox);
        let (rooms, others): (Vec<_>, Vec<_>) = frames
            .into_iter()
            .partition(|(_, frame)| frame.header.kind == MessageType::RoomsChanged);
        for (worker, frame) in rooms.into_iter().chain(others) {
            self.route_link_frame(state, worker, frame);
        }
    }

    fn route(&self, state: &mut State, from: WorkerId, frame: RawFrame) {
        let recipients = match state.board.route(from, Path::Link, &frame.header) {
            Ok(recipients) => recipients,
            Err(reason) => {
                return self.log(format!(
                    "drop {} from worker {from}: {reason}",
                    frame.header.kind.name()
                ))
            }
        };
        if recipients.remote {
            self.publish(state, &frame.header, frame.payload());
        }
        // Answers and pins go with the queued frames; the order between what IPC workers get
        // and the answers a requester gets does not matter, they are different workers.
        let mut frame = frame;
        if recipients.ipc.is_empty() {
            if !recipients.links.is_empty() {
                let bytes: Arc<[u8]> = std::mem::take(&mut frame.bytes).into();
                self.queue_for_links(state, &recipients.links, &bytes);
            }
            self.after_routing(state, from, &frame.header, &recipients);
        } else {
            if !recipients.links.is_empty() {
                let bytes: Arc<[u8]> = frame.bytes.as_slice().into();
                self.queue_for_links(state, &recipients.links, &bytes);
            }
            self.after_routing(state, from, &frame.header, &recipients);
            (self.sink)(HubEvent::Deliver {
                to: recipients.ipc,
                frame: Arc::new(frame),
            });
        }
    }

    /// What routing by room adds once a message is on its way: a join pins its rooms in the
    /// recipients' views, and the hub answers a request for the workers it skipped.
    fn after_routing(
        &self,
        state: &mut State,
        from: WorkerId,
        header: &Header,
        recipients: &Recipients,
    ) {
        if header.kind == MessageType::SocketsJoin && !header.joined.is_empty() {
            // A join from another machine that reached no worker here joins nobody here: it
            // subscribes nothing (one message from Redis costs no channels for rooms nobody here
            // has; a worker it reached holds them, pinned below, and reports what it joined).
            let reached = !recipients.links.is_empty() || !recipients.ipc.is_empty();
            if from != REMOTE || reached {
                self.note_rooms(state, &header.nsp, &header.joined);
            }
            self.pin_for_links(state, &recipients.links, &header.nsp, &header.joined);
            // socket.io-adapter publishes a join before it applies it to the sender's own
            // sockets, so the sender's report of the rooms it joined comes after anything it sends
            // right after the join: hold them for it until its next report (which it sends after
            // applying the join), as for a worker on IPC.
            for &worker in recipients.ipc.iter().chain([&from]) {
                state
                    .board
                    .pin(worker, &header.nsp, &header.joined, IPC_PIN);
            }
        }
        if recipients.skipped.is_empty() {
            return;
        }
        self.counters
            .skipped
            .fetch_add(recipients.skipped.len() as u64, Ordering::Relaxed);
        let answers = state.board.answers(header, &recipients.skipped);
        let (links, ipc, remote) = match state.board.path(from) {
            Some(Path::Link) => (vec![from], vec![], false),
            Some(Path::Ipc) => (vec![], vec![from], false),
            Some(Path::Remote) => (vec![], vec![], true),
            Some(Path::Gone) | None => return,
        };
        for answer in answers {
            self.counters.answered.fetch_add(1, Ordering::Relaxed);
            self.send_made(state, &answer.header, &answer.payload, &links, &ipc, remote);
        }
    }

    /// Pins `rooms` of `nsp` for workers whose link just had a frame joining them queued: at
    /// that frame's sequence number.
    fn pin_for_links(&self, state: &mut State, links: &[WorkerId], nsp: &str, rooms: &[String]) {
        for &worker in links {
            // A link closed by this very push (its queue overflowed) has no slot any more.
            if let Some(sequence) = state.links.get(&worker).map(|slot| slot.queued) {
                state.board.pin(worker, nsp, rooms, sequence);
            }
        }
    }

    fn queue_for_links(&self, state: &mut State, links: &[WorkerId], frame: &Arc<[u8]>) {
        let mut overflowed = Vec::new();
        for worker in links {
            let Some(slot) = state.links.get_mut(worker) else {
                continue;
            };
            match slot.queue.push(frame.clone()) {
                Ok(()) => {
                    slot.queued += 1;
                    slot.wake_writer.notify_one();
                }
                Err(overflow) => overflowed.push((*worker, slot.id, overflow)),
            }
        }
        for (worker, link_id, overflow) in overflowed {
            self.counters.overflows.fetch_add(1, Ordering::Relaxed);
            self.close_link(
                state,
                worker,
                link_id,
                format!("disconnected, it does not keep up: {overflow}"),
            );
        }
    }

    /// Closes a worker's link (if `link_id` is still its current one): it is gone for the others
    /// at once, and receives nothing until it speaks again.
    fn close_link(&self, state: &mut State, worker: WorkerId, link_id: u64, reason: String) {
        match state.links.get(&worker) {
            Some(slot) if slot.id == link_id => {}
            _ => return,
        }
        if let Some(slot) = state.links.remove(&worker) {
            slot.shutdown.notify_one();
        }
        self.log(format!("link of worker {worker} closed: {reason}"));
        let orphans = state.board.link_closed(worker);
        self.announce_closed(state, worker, orphans);
    }

    /// [`Shared::close_link`] from a task that does not hold the lock.
    fn close_link_now(&self, worker: WorkerId, link_id: u64, reason: String) {
        let mut state = self.lock();
        self.close_link(&mut state, worker, link_id, reason);
    }

    /// Tells every other worker, in the protocol they already speak, that these adapters closed.
    fn announce_closed(&self, state: &mut State, worker: WorkerId, orphans: Vec<(String, String)>) {
        for (uid, nsp) in orphans {
            let header = Header::new(MessageType::AdapterClose, nsp, uid);
            let Recipients {
                links, ipc, remote, ..
            } = state.board.others(worker);
            self.send_made(state, &header, &[], &links, &ipc, remote);
        }
    }

    /// Sends a frame the hub made itself: queued for `links`, handed to the primary's JS for
    /// `ipc`.
    fn send_made(
        &self,
        state: &mut State,
        header: &Header,
        payload: &[u8],
        links: &[WorkerId],
        ipc: &[WorkerId],
        remote: bool,
    ) {
        if remote {
            self.publish(state, header, payload);
        }
        let Ok(bytes) = encode_frame(header, payload) else {
            return self.log(format!("cannot encode a {}", header.kind.name()));
        };
        let bytes: Arc<[u8]> = bytes.into();
        self.queue_for_links(state, links, &bytes);
        if !ipc.is_empty() {
            if let Some(frame) = decode_one(&bytes) {
                (self.sink)(HubEvent::Deliver {
                    to: ipc.to_vec(),
                    frame: Arc::new(frame),
                });
            }
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

fn decode_one(bytes: &[u8]) -> Option<RawFrame> {
    let mut decoder = FrameDecoder::new(usize::MAX);
    decoder.push(bytes);
    decoder.next_raw_frame().ok().flatten()
}

async fn accept_loop(listener: UnixListener, shared: Arc<Shared>, secret: Secret) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve_link(stream, shared.clone(), secret.clone()));
            }
            Err(error) => {
                shared.log(format!("accept failed: {error}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Authenticates a connection, then runs its link until it closes.
async fn serve_link(mut stream: UnixStream, shared: Arc<Shared>, secret: Secret) {
    let worker = match authenticate(&mut stream, &shared, &secret).await {
        Ok(worker) => worker,
        Err(reason) => {
            shared
                .counters
                .rejected_links
                .fetch_add(1, Ordering::Relaxed);
            return shared.log(format!("refused a link: {reason}"));
        }
    };
    let link_id = shared.next_link_id.fetch_add(1, Ordering::Relaxed);
    let wake_writer = Arc::new(Notify::new());
    let shutdown = Arc::new(Notify::new());
    let (release, released) = oneshot::channel();
    {
        let mut state = shared.lock();
        if let Some(old) = state.links.remove(&worker) {
            old.shutdown.notify_one();
        }
        // Its frames are counted from 1 again: pins of the old count mean nothing on this link.
        state.board.link_opened(worker);
        state.links.insert(
            worker,
            LinkSlot {
                id: link_id,
                queue: OutQueue::new(shared.options.max_queue_bytes),
                queued: 0,
                wake_writer: wake_writer.clone(),
                shutdown: shutdown.clone(),
                release: Some(release),
            },
        );
    }
    if let Err(error) = stream.write_all(&[ACCEPTED]).await {
        return shared.close_link_now(worker, link_id, format!("write failed: {error}"));
    }
    shared.log(format!("worker {worker} linked"));

    let (reader, writer) = stream.into_split();
    let writing = tokio::spawn(write_loop(
        writer,
        shared.clone(),
        worker,
        link_id,
        wake_writer,
    ));
    let reason = tokio::select! {
        reason = read_loop(reader, shared.clone(), worker, released) => reason,
        _ = shutdown.notified() => "closed by the hub".to_string(),
    };
    writing.abort();
    shared.close_link_now(worker, link_id, reason);
}

async fn authenticate(
    stream: &mut UnixStream,
    shared: &Shared,
    secret: &Secret,
) -> Result<WorkerId, String> {
    let pid = stream
        .peer_cred()
        .map_err(|e| format!("no peer credentials: {e}"))?
        .pid()
        .ok_or("no peer pid")?;
    let worker = tokio::time::timeout(HELLO_TIMEOUT, check_hello(stream, secret))
        .await
        .map_err(|_| format!("no hello in time from pid {pid}"))?
        .map_err(|reason| format!("{reason} (pid {pid})"))?;
    let expected = shared.lock().pids.get(&worker).copied();
    match expected {
        Some(expected) if i64::from(expected) == i64::from(pid) => Ok(worker),
        Some(expected) => Err(format!(
            "pid {pid} claims to be worker {worker}, whose pid is {expected}"
        )),
        None => Err(format!(
            "pid {pid} claims to be worker {worker}, unknown to this primary"
        )),
    }
}

/// Reads frames; holds them until the worker has switched, then routes them in order.
async fn read_loop(
    mut reader: OwnedReadHalf,
    shared: Arc<Shared>,
    worker: WorkerId,
    mut released: oneshot::Receiver<()>,
) -> String {
    let mut decoder = FrameDecoder::new(shared.options.max_frame_len);
    let mut held: Option<Vec<RawFrame>> = Some(Vec::new());
    let mut held_bytes = 0usize;
    let mut chunk = vec![0u8; READ_CHUNK];
    loop {
        let read = tokio::select! {
            read = reader.read(&mut chunk) => read,
            result = &mut released, if held.is_some() => {
                if result.is_err() {
                    return "closed before switching".into();
                }
                let frames = held.take().unwrap_or_default();
                let mut state = shared.lock();
                for frame in frames {
                    shared.route_link_frame(&mut state, worker, frame);
                }
                continue;
            }
        };
        let n = match read {
            Ok(0) if decoder.buffered() > 0 => {
                shared.counters.bad_frames.fetch_add(1, Ordering::Relaxed);
                return format!(
                    "bad frame: closed by the worker {} bytes into an incomplete frame",
                    decoder.buffered()
                );
            }
            Ok(0) => return "closed by the worker".into(),
            Ok(n) => n,
            Err(error) => return format!("read failed: {error}"),
        };
        decoder.push(&chunk[..n]);
        {
            let mut state = shared.lock();
            loop {
                match decoder.next_raw_frame() {
                    Ok(Some(frame)) => match held.as_mut() {
                        Some(held) => {
                            // The rule: what a worker sends before it has switched is held within
                            // maxQueueBytes; past it, its link closes as a worker's that does not
                            // keep up (it goes on over IPC, and links again).
                            held_bytes += frame.bytes.len();
                            if held_bytes > shared.options.max_queue_bytes {
                                shared.counters.overflows.fetch_add(1, Ordering::Relaxed);
                                return format!(
                                    "it sent more than maxQueueBytes ({}) before switching",
                                    shared.options.max_queue_bytes
                                );
                            }
                            held.push(frame);
                        }
                        None => state.inbox.push((worker, frame)),
                    },
                    Ok(None) => break,
                    Err(error) => {
                        shared.counters.bad_frames.fetch_add(1, Ordering::Relaxed);
                        return format!("bad frame: {error}");
                    }
                }
            }
        }
        // Let the other links that are readable in this turn read theirs (the first reader
        // back routes them all: see `route_inbox`).
        tokio::task::yield_now().await;
        {
            let mut state = shared.lock();
            shared.route_inbox(&mut state);
        }
        // Let the writers run before reading more: the hub's tasks share one thread, and a
        // sender that writes faster than the hub reads must not fill the other workers' queues
        // (up to their bound) before their writers had a chance to drain them.
        tokio::task::yield_now().await;
    }
}

/// Writes what is queued for the worker, many frames per system call.
async fn write_loop(
    mut writer: OwnedWriteHalf,
    shared: Arc<Shared>,
    worker: WorkerId,
    link_id: u64,
    wake: Arc<Notify>,
) {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    loop {
        wake.notified().await;
        loop {
            batch.clear();
            let frames = {
                let mut state = shared.lock();
                match state.links.get_mut(&worker) {
                    Some(slot) if slot.id == link_id => {
                        slot.queue.drain_into(&mut batch, WRITE_BATCH)
                    }
                    _ => return,
                }
            };
            if frames == 0 {
                break;
            }
            if let Err(error) = writer.write_all(&batch).await {
                return shared.close_link_now(worker, link_id, format!("write failed: {error}"));
            }
            shared
                .counters
                .frames_out
                .fetch_add(frames as u64, Ordering::Relaxed);
            shared
                .counters
                .bytes_out
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_never_wait_for_a_long_hold_of_the_state_lock() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let hub = Hub::start(runtime.handle(), HubOptions::default(), Arc::new(|_| {})).unwrap();
        let first = hub.stats();
        hub.shared
            .counters
            .frames_in
            .fetch_add(7, Ordering::Relaxed);
        // As a message of 500,000 rooms would, for a good part of a second.
        let held = hub.shared.lock();
        let started = Instant::now();
        let stats = hub.stats();
        assert!(started.elapsed() < Duration::from_secs(1), "stats() waited");
        assert_eq!(stats.frames_in, first.frames_in + 7, "counters are current");
        assert_eq!(stats.links, first.links, "gauges are the last reading");
        drop(held);
    }
}
