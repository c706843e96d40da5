//! The hub's one Redis client (standalone or Cluster), speaking `@socket.io/redis-adapter`'s
//! sharded Pub/Sub for the whole machine, or, with [`StreamsOptions`],
//! `@socket.io/redis-streams-adapter`'s stream and pub/sub (see `streams.rs` for the reader).
//!
//! One task owns the connection and runs commands in the order the hub issued them: a subscribe
//! is confirmed before any later publish is sent, so a local adapter hears the responses to its
//! first request. Publishes run concurrently on the multiplexed connection (in order on each node).
//!
//! While Redis is away, publishes are dropped (as redis-adapter's are lost), never queued without
//! bound: what waits for the connection is bounded by `max_pending_bytes`. Subscriptions are the
//! hub's own set ([`sio_cluster_core::Subscriptions`]), subscribed again after every reconnection,
//! channel by channel (on a Cluster each may live on another node).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sio_cluster_core::SubscriptionMode;
use tokio::sync::{mpsc, oneshot};

mod runner;
mod streams;
use runner::CommandRunner;
pub use streams::{entry as streams_entry, RawEntry, StreamsOptions};

#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// `redis://host:port` of the server, or of some nodes of a Cluster.
    pub nodes: Vec<String>,
    pub cluster: bool,
    pub channel_prefix: String,
    pub mode: SubscriptionMode,
    /// Bytes of publishes waiting for Redis, beyond which new ones are dropped.
    pub max_pending_bytes: usize,
    /// Count each local adapter as a subscriber of its namespace's channel (one more connection
    /// per worker), as plain servers (either adapter's) count servers; see `Counting`. Without
    /// it, servers count each other by their heartbeats, which cross as any message does.
    pub count_each_worker: bool,
    /// Speak `@socket.io/redis-streams-adapter`'s protocol instead of the sharded adapter's.
    pub streams: Option<StreamsOptions>,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            nodes: vec![],
            cluster: false,
            channel_prefix: "socket.io".into(),
            mode: SubscriptionMode::Dynamic,
            max_pending_bytes: 32 * 1024 * 1024,
            count_each_worker: false,
            streams: None,
        }
    }
}

/// What the runner sends in one pipeline, in the order the hub queued it.
pub(crate) enum Write {
    /// `(S)PUBLISH channel message`.
    Publish { channel: String, message: Vec<u8> },
    /// Streams mode: `XADD stream MAXLEN ~ maxLen * fields...` (reported to `on_added` when
    /// it has a token).
    Xadd {
        stream: String,
        fields: Vec<(&'static str, Vec<u8>)>,
        token: Option<u64>,
    },
    /// Streams mode: `SET key value PX ttl` (a session).
    Set {
        key: String,
        value: String,
        ttl_ms: u64,
    },
}

impl Write {
    /// The bytes it counts against `max_pending_bytes`.
    pub(crate) fn len(&self) -> usize {
        match self {
            Write::Publish { message, .. } => message.len(),
            Write::Xadd { fields, .. } => fields.iter().map(|(n, v)| n.len() + v.len()).sum(),
            Write::Set { key, value, .. } => key.len() + value.len(),
        }
    }
}

/// What the bridge tells the hub.
pub trait RedisHandler: Send + Sync + 'static {
    /// A message arrived on `channel`.
    fn on_message(&self, channel: &str, message: &[u8]);
    /// Every channel the hub wants subscribed now (after a (re)connection).
    fn channels(&self) -> Vec<String>;
    /// Whether the hub wants `channel` subscribed.
    fn wants(&self, channel: &str) -> bool;
    fn log(&self, message: String);
    /// Streams mode: the XADD queued with `token` ran; `id` is its entry's id (None if it
    /// failed or was dropped). Called in the order the XADDs were queued.
    fn on_added(&self, _token: u64, _id: Option<String>) {}
    /// Streams mode: the reader reads `stream` from after `id` (the last entry when it started):
    /// entries up to it will never be read.
    fn on_read_from(&self, _stream: &str, _id: &str) {}
    /// Streams mode: entries read from `stream` (`XREAD`), in order.
    fn on_entries(&self, _stream: &str, _entries: Vec<streams::RawEntry>) {}
}

pub(crate) enum Command {
    /// A write the runner sends in its pipeline, in order (its bytes count against
    /// `max_pending_bytes` until it ran).
    Write(Write),
    Subscribe(Vec<String>),
    Unsubscribe(Vec<String>),
    /// A command whose answer one caller awaits, run beside the others (not in their order).
    Query {
        cmd: redis::Cmd,
        reply: oneshot::Sender<Option<redis::Value>>,
    },
    /// Answered once every command before it ran.
    Flush(std::sync::mpsc::Sender<()>),
    /// Mixed fleets: how many extra subscribers each namespace channel needs (see `Counting`).
    Count(BTreeMap<String, usize>),
    /// `PUBSUB SHARDNUMSUB channel` (or `NUMSUB`), summed over the nodes (None if Redis did not
    /// answer).
    ServerCount {
        channel: String,
        reply: oneshot::Sender<Option<u64>>,
    },
}

#[derive(Debug, Default)]
pub struct RedisCounters {
    pub published: AtomicU64,
    pub received: AtomicU64,
    /// Publishes (and XADDs, SETs) dropped: Redis away, too much waiting, or a failed command.
    pub dropped: AtomicU64,
    pub bad_messages: AtomicU64,
    pub echoes: AtomicU64,
}

/// The hub's handle on the bridge task.
pub struct RedisBridge {
    commands: mpsc::UnboundedSender<Command>,
    pending_bytes: Arc<AtomicUsize>,
    connected: Arc<AtomicBool>,
    max_pending_bytes: usize,
    pub counters: Arc<RedisCounters>,
    task: tokio::task::JoinHandle<()>,
    /// Streams mode: the tasks reading the stream(s) (see `streams::readers`).
    readers: Vec<tokio::task::JoinHandle<()>>,
}

impl RedisBridge {
    pub fn start(
        runtime: &tokio::runtime::Handle,
        options: RedisOptions,
        handler: Arc<dyn RedisHandler>,
    ) -> RedisBridge {
        let (commands, receiver) = mpsc::unbounded_channel();
        let pending_bytes = Arc::new(AtomicUsize::new(0));
        let connected = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(RedisCounters::default());
        let handler_for_reader = handler.clone();
        let runner = CommandRunner {
            options: options.clone(),
            handler,
            pending_bytes: pending_bytes.clone(),
            connected: connected.clone(),
            counters: counters.clone(),
            resubscribe: Arc::new(AtomicBool::new(false)),
        };
        let task = runtime.spawn(runner.run(receiver));
        let readers = match &options.streams {
            Some(streams) => streams::readers(options.cluster, streams)
                .into_iter()
                .map(|names| {
                    runtime.spawn(streams::read_loop(
                        options.clone(),
                        streams.clone(),
                        names,
                        handler_for_reader.clone(),
                        counters.clone(),
                    ))
                })
                .collect(),
            None => Vec::new(),
        };
        RedisBridge {
            commands,
            pending_bytes,
            connected,
            max_pending_bytes: options.max_pending_bytes,
            counters,
            task,
            readers,
        }
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Queues a publish, or drops it (returns false) while Redis is away or too much is waiting.
    pub fn publish(&self, channel: String, message: Vec<u8>) -> bool {
        self.write(Write::Publish { channel, message })
    }

    /// Streams mode: queues an XADD, or drops it (returns false) as `publish` does; a dropped
    /// one is not reported to `on_added` (the caller acts on the false at once).
    pub fn xadd(
        &self,
        stream: String,
        fields: Vec<(&'static str, Vec<u8>)>,
        token: Option<u64>,
    ) -> bool {
        self.write(Write::Xadd {
            stream,
            fields,
            token,
        })
    }

    /// Streams mode: stores a session (dropped, and counted, while Redis is away).
    pub fn set(&self, key: String, value: String, ttl_ms: u64) -> bool {
        self.write(Write::Set { key, value, ttl_ms })
    }

    /// Queues a write, its bytes counted until it ran, or drops it (false).
    fn write(&self, write: Write) -> bool {
        let len = write.len();
        if !self.reserve(len) {
            return false;
        }
        let sent = self.commands.send(Command::Write(write)).is_ok();
        if !sent {
            self.pending_bytes.fetch_sub(len, Ordering::Relaxed);
        }
        sent
    }

    /// Runs `cmd` and returns Redis's answer (None if Redis is away or answered an error).
    pub async fn query(&self, cmd: redis::Cmd) -> Option<redis::Value> {
        if !self.is_connected() {
            return None;
        }
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command::Query { cmd, reply }).ok()?;
        answer.await.ok().flatten()
    }

    /// Counts `len` more bytes waiting for Redis, unless Redis is away or too much waits.
    fn reserve(&self, len: usize) -> bool {
        let pending = self.pending_bytes.load(Ordering::Relaxed);
        if !self.is_connected() || pending + len > self.max_pending_bytes {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        self.pending_bytes.fetch_add(len, Ordering::Relaxed);
        true
    }

    pub fn subscribe(&self, channels: Vec<String>) {
        if !channels.is_empty() {
            let _ = self.commands.send(Command::Subscribe(channels));
        }
    }

    pub fn unsubscribe(&self, channels: Vec<String>) {
        if !channels.is_empty() {
            let _ = self.commands.send(Command::Unsubscribe(channels));
        }
    }

    /// Mixed fleets: the extra subscribers each namespace channel needs now.
    pub fn count(&self, extra: BTreeMap<String, usize>) {
        let _ = self.commands.send(Command::Count(extra));
    }

    /// The number of subscribers of `channel` (what plain redis-adapter servers call
    /// `serverCount()`), in order with the commands before it.
    pub async fn server_count(&self, channel: String) -> Option<u64> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::ServerCount { channel, reply })
            .ok()?;
        answer.await.ok().flatten()
    }

    /// Waits (at most `timeout`) until everything queued so far was sent: called from the
    /// primary's thread when the hub closes, never from the runtime.
    pub fn flush(&self, timeout: Duration) {
        let (done, wait) = std::sync::mpsc::channel();
        if self.commands.send(Command::Flush(done)).is_ok() && self.is_connected() {
            let _ = wait.recv_timeout(timeout);
        }
    }
}

impl Drop for RedisBridge {
    fn drop(&mut self) {
        self.task.abort();
        for reader in &self.readers {
            reader.abort();
        }
    }
}
