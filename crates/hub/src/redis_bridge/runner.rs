//! The task that owns the Redis connections and runs the bridge's commands in order (see the
//! module above): connecting and reconnecting, subscribing again, publishing, and the counting
//! connections of mixed fleets.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ProtocolVersion, PushInfo, PushKind, RedisResult, Value};
use tokio::sync::mpsc;

use super::{Command, RedisCounters, RedisHandler, RedisOptions, Write};

#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Connection {
    async fn run(&mut self, cmd: &Cmd) -> RedisResult<Value> {
        match self {
            Connection::Single(connection) => cmd.query_async(connection).await,
            Connection::Cluster(connection) => cmd.query_async(connection).await,
        }
    }
}

pub(super) struct CommandRunner {
    pub(super) options: RedisOptions,
    pub(super) handler: Arc<dyn RedisHandler>,
    pub(super) pending_bytes: Arc<AtomicUsize>,
    pub(super) connected: Arc<AtomicBool>,
    pub(super) counters: Arc<RedisCounters>,
    /// Set when a connection dropped: subscribe every channel again once Redis answers.
    pub(super) resubscribe: Arc<AtomicBool>,
}

/// Commands taken from the queue per round.
const BATCH: usize = 1024;
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);
const CHECK_EVERY: Duration = Duration::from_millis(500);
/// Checks (of `CHECK_EVERY`) after a connection came back during which the whole set is
/// subscribed again every 2 s. After a Cluster failover redis-rs 1.8 does not subscribe again the
/// channels of the failed master's slots where the promoted replica serves them (measured: 5 runs
/// in 5; fred lost them in 2 of 5), and our own first attempt may run before the topology
/// settled; SSUBSCRIBE is idempotent, so subscribing again for a while costs little and loses
/// nothing (`redis-faults.test.js` fails 2 runs in 3 without it).
const AFTER_RECOVERY: u32 = 20;

impl CommandRunner {
    pub(super) async fn run(self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut connection = self.connect(&mut commands).await;
        self.resubscribe_all(&mut connection).await;
        let mut counting = Counting::default();
        let mut batch = Vec::with_capacity(BATCH);
        let mut check = tokio::time::interval(CHECK_EVERY);
        // Checks left after a connection came back: see `AFTER_RECOVERY`.
        let mut settling = 0;
        loop {
            tokio::select! {
                received = commands.recv_many(&mut batch, BATCH) => {
                    if received == 0 {
                        return; // the hub is gone
                    }
                    self.execute(&mut connection, &mut counting, &mut batch).await;
                }
                _ = check.tick() => {
                    if self.resubscribe.load(Ordering::Relaxed) {
                        self.resubscribe_all(&mut connection).await;
                        settling = AFTER_RECOVERY;
                    } else if settling > 0 {
                        settling -= 1;
                        if settling % 4 == 0 {
                            self.resubscribe_all(&mut connection).await;
                            self.recount(&mut counting).await;
                        }
                    }
                }
            }
        }
    }

    /// Connects, retrying with backoff while Redis is unreachable; meanwhile publishes are
    /// dropped and subscriptions wait in the hub's set.
    async fn connect(&self, commands: &mut mpsc::UnboundedReceiver<Command>) -> Connection {
        let mut delay = RETRY_MIN;
        loop {
            match self.try_connect().await {
                Ok(connection) => {
                    self.handler.log(format!(
                        "connected to Redis {}{}",
                        self.options.nodes.join(", "),
                        if self.options.cluster {
                            " (Cluster)"
                        } else {
                            ""
                        }
                    ));
                    return connection;
                }
                Err(error) => self.handler.log(format!(
                    "cannot connect to Redis {}: {error}; retrying in {} ms",
                    self.options.nodes.join(", "),
                    delay.as_millis()
                )),
            }
            let sleep = tokio::time::sleep(delay);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = &mut sleep => break,
                    command = commands.recv() => match command {
                        Some(command) => self.discard(command),
                        None => std::future::pending::<()>().await,
                    },
                }
            }
            delay = (delay * 2).min(RETRY_MAX);
        }
    }

    fn discard(&self, command: Command) {
        match command {
            Command::Write(write) => {
                self.pending_bytes.fetch_sub(write.len(), Ordering::Relaxed);
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                if let Write::Xadd {
                    token: Some(token), ..
                } = write
                {
                    self.handler.on_added(token, None);
                }
            }
            Command::Flush(done) => {
                let _ = done.send(());
            }
            Command::ServerCount { reply, .. } => {
                let _ = reply.send(None);
            }
            Command::Query { reply, .. } => {
                let _ = reply.send(None);
            }
            // The hub's set keeps them: subscribed at connection.
            Command::Subscribe(_) | Command::Unsubscribe(_) | Command::Count(_) => {}
        }
    }

    async fn try_connect(&self) -> RedisResult<Connection> {
        let push = push_handler(
            self.handler.clone(),
            self.connected.clone(),
            self.resubscribe.clone(),
            self.counters.clone(),
        );
        self.open(push).await
    }

    async fn open(&self, push: impl redis::aio::AsyncPushSender) -> RedisResult<Connection> {
        if self.options.cluster {
            let client = ClusterClientBuilder::new(self.options.nodes.clone())
                .use_protocol(ProtocolVersion::RESP3)
                .push_sender(push)
                .connection_timeout(Duration::from_secs(2))
                .response_timeout(Duration::from_secs(5))
                .build()?;
            Ok(Connection::Cluster(client.get_async_connection().await?))
        } else {
            let url = self.options.nodes.first().cloned().unwrap_or_default();
            let info = redis::IntoConnectionInfo::into_connection_info(url.as_str())?;
            let settings = info
                .redis_settings()
                .clone()
                .set_protocol(ProtocolVersion::RESP3);
            let client = redis::Client::open(info.set_redis_settings(settings))?;
            let config = ConnectionManagerConfig::new()
                .set_push_sender(push)
                .set_connection_timeout(Some(Duration::from_secs(2)))
                .set_response_timeout(Some(Duration::from_secs(5)))
                .set_max_delay(RETRY_MAX);
            Ok(Connection::Single(
                client.get_connection_manager_with_config(config).await?,
            ))
        }
    }

    async fn execute(
        &self,
        connection: &mut Connection,
        counting: &mut Counting,
        batch: &mut Vec<Command>,
    ) {
        let mut publishes = Vec::new();
        for command in batch.drain(..) {
            match command {
                Command::Write(write) => publishes.push(write),
                // Beside the others, not in their order: a restore's reads must not hold up
                // the machine's publishes (nor wait behind them).
                Command::Query { cmd, reply } => {
                    let mut connection = connection.clone();
                    tokio::spawn(async move {
                        let _ = reply.send(connection.run(&cmd).await.ok());
                    });
                }
                other => {
                    // Everything before it first: a subscribe must not overtake a publish, nor
                    // a publish a subscribe.
                    self.publish_all(connection, std::mem::take(&mut publishes))
                        .await;
                    match other {
                        Command::Count(extra) => {
                            counting.wanted = extra;
                            self.recount(counting).await;
                        }
                        Command::ServerCount { channel, reply } => {
                            let _ = reply.send(self.shard_num_sub(connection, &channel).await);
                        }
                        other => self.control(connection, other).await,
                    }
                }
            }
        }
        self.publish_all(connection, publishes).await;
    }

    async fn publish_all(&self, connection: &Connection, publishes: Vec<Write>) {
        if publishes.is_empty() {
            return;
        }
        let bytes: usize = publishes.iter().map(Write::len).sum();
        let count = publishes.len() as u64;
        let first = publishes[0].describe();
        let cmds: Vec<(Cmd, Option<u64>)> = publishes
            .into_iter()
            .map(|outbound| outbound.command(&self.options))
            .collect();
        let results: Vec<RedisResult<Value>> = match connection {
            // One write and one wake-up of Redis for the whole batch: Redis's CPU per message is
            // mostly the cost of waking up for it (measured: 2.2 publishes per write before).
            Connection::Single(connection) => {
                let mut pipe = redis::pipe();
                for (cmd, _) in &cmds {
                    pipe.add_command(cmd.clone());
                }
                match pipe
                    .query_async::<Vec<Value>>(&mut connection.clone())
                    .await
                {
                    Ok(values) if values.len() == cmds.len() => values
                        .into_iter()
                        .map(|value| match value {
                            Value::ServerError(error) => Err(error.into()),
                            value => Ok(value),
                        })
                        .collect(),
                    Ok(_) => cmds
                        .iter()
                        .map(|_| Err((redis::ErrorKind::Client, "short pipeline answer").into()))
                        .collect(),
                    Err(error) => {
                        let text = error.to_string();
                        cmds.iter()
                            .map(|_| {
                                Err((redis::ErrorKind::Io, "pipeline failed", text.clone()).into())
                            })
                            .collect()
                    }
                }
            }
            // Channels and streams live on several nodes: one command each, concurrently
            // (redis-rs groups what it sends to each node).
            Connection::Cluster(_) => {
                let sends = cmds.iter().map(|(cmd, _)| {
                    let mut connection = connection.clone();
                    async move { connection.run(cmd).await }
                });
                futures_util::future::join_all(sends).await
            }
        };
        self.pending_bytes.fetch_sub(bytes, Ordering::Relaxed);
        let failed = results.iter().filter(|r| r.is_err()).count() as u64;
        self.counters.dropped.fetch_add(failed, Ordering::Relaxed);
        self.counters
            .published
            .fetch_add(count - failed, Ordering::Relaxed);
        // XADDs report their ids in the order they were queued.
        for ((_, token), result) in cmds.iter().zip(&results) {
            if let Some(token) = token {
                let id = match result {
                    Ok(Value::BulkString(id)) => String::from_utf8(id.clone()).ok(),
                    Ok(Value::SimpleString(id)) => Some(id.clone()),
                    _ => None,
                };
                self.handler.on_added(*token, id);
            }
        }
        match results.into_iter().find_map(Result::err) {
            Some(error) => self.lost(format!("{first} ({count} commands) failed: {error}")),
            None => self.connected.store(true, Ordering::Relaxed),
        }
    }

    async fn control(&self, connection: &mut Connection, command: Command) {
        match command {
            Command::Subscribe(channels) => {
                self.each(connection, true, channels).await;
            }
            Command::Unsubscribe(channels) => {
                self.each(connection, false, channels).await;
            }
            Command::Flush(done) => {
                let _ = done.send(());
            }
            Command::Write(_)
            | Command::Count(_)
            | Command::ServerCount { .. }
            | Command::Query { .. } => {
                unreachable!("handled by `execute`")
            }
        }
    }

    /// SSUBSCRIBE (or SUNSUBSCRIBE; SUBSCRIBE / UNSUBSCRIBE in streams mode without
    /// `useShardedPubSub`) each channel on its own (each may live on another node of a
    /// Cluster), concurrently. Returns whether all succeeded.
    async fn each(&self, connection: &Connection, subscribe: bool, channels: Vec<String>) -> bool {
        let sharded = sharded(&self.options);
        let runs = channels.into_iter().map(|channel| {
            let mut connection = connection.clone();
            async move {
                let result = connection.subscription(sharded, subscribe, &channel).await;
                (channel, result)
            }
        });
        let mut all = true;
        for (channel, result) in futures_util::future::join_all(runs).await {
            if let Err(error) = result {
                all = false;
                let name = match (sharded, subscribe) {
                    (true, true) => "SSUBSCRIBE",
                    (true, false) => "SUNSUBSCRIBE",
                    (false, true) => "SUBSCRIBE",
                    (false, false) => "UNSUBSCRIBE",
                };
                self.lost(format!("{name} {channel} failed: {error}"));
            }
        }
        all
    }

    /// After a connection dropped (or at start): once Redis answers, subscribe the hub's whole
    /// set again (the client replays its own too; ours is the one that is right after a slot
    /// moved), then let publishes through.
    async fn resubscribe_all(&self, connection: &mut Connection) {
        self.resubscribe.store(false, Ordering::Relaxed);
        if let Err(error) = connection.run(&redis::cmd("PING")).await {
            self.resubscribe.store(true, Ordering::Relaxed);
            return self.lost(format!("Redis does not answer: {error}"));
        }
        let channels = self.handler.channels();
        let count = channels.len();
        if self.each(connection, true, channels).await {
            if !self.connected.swap(true, Ordering::Relaxed) {
                self.handler
                    .log(format!("Redis answers: {count} channels subscribed"));
            }
        } else {
            self.resubscribe.store(true, Ordering::Relaxed);
        }
    }

    /// A command failed: the connection may be down; subscribe everything again once it is back.
    fn lost(&self, message: String) {
        if self.connected.swap(false, Ordering::Relaxed) {
            self.handler.log(message);
        }
        self.resubscribe.store(true, Ordering::Relaxed);
    }
}

impl Connection {
    /// One channel per command: on a Cluster each may live on another node, and on one server a
    /// command with one channel is answered by exactly one confirmation (redis-rs has no
    /// SSUBSCRIBE for a single server's connection, but takes that confirmation as the reply).
    async fn subscription(
        &mut self,
        sharded: bool,
        subscribe: bool,
        channel: &str,
    ) -> RedisResult<()> {
        match (self, sharded) {
            (Connection::Single(c), true) => {
                let name = if subscribe {
                    "SSUBSCRIBE"
                } else {
                    "SUNSUBSCRIBE"
                };
                redis::cmd(name).arg(channel).exec_async(c).await
            }
            (Connection::Single(c), false) if subscribe => c.subscribe(channel).await,
            (Connection::Single(c), false) => c.unsubscribe(channel).await,
            // The Cluster connection's own methods route by slot and track what to replay.
            (Connection::Cluster(c), true) if subscribe => c.ssubscribe(channel).await,
            (Connection::Cluster(c), true) => c.sunsubscribe(channel).await,
            (Connection::Cluster(c), false) if subscribe => c.subscribe(channel).await,
            (Connection::Cluster(c), false) => c.unsubscribe(channel).await,
        }
    }
}

/// Whether pub/sub is sharded (SPUBLISH / SSUBSCRIBE): always in the sharded adapter's protocol,
/// with `useShardedPubSub` in the streams adapter's.
fn sharded(options: &RedisOptions) -> bool {
    options
        .streams
        .as_ref()
        .is_none_or(|streams| streams.use_sharded_pubsub)
}

impl Write {
    fn describe(&self) -> String {
        match self {
            Write::Publish { channel, .. } => format!("PUBLISH {channel}"),
            Write::Xadd { stream, .. } => format!("XADD {stream}"),
            Write::Set { key, .. } => format!("SET {key}"),
        }
    }

    fn command(self, options: &RedisOptions) -> (Cmd, Option<u64>) {
        match self {
            Write::Publish { channel, message } => {
                let mut cmd = redis::cmd(if sharded(options) {
                    "SPUBLISH"
                } else {
                    "PUBLISH"
                });
                cmd.arg(channel).arg(message);
                (cmd, None)
            }
            Write::Xadd {
                stream,
                fields,
                token,
            } => {
                let max_len = options.streams.as_ref().map_or(10_000, |s| s.max_len);
                let mut cmd = redis::cmd("XADD");
                cmd.arg(stream).arg("MAXLEN").arg("~").arg(max_len).arg("*");
                for (name, value) in fields {
                    cmd.arg(name).arg(value);
                }
                (cmd, token)
            }
            Write::Set { key, value, ttl_ms } => {
                let mut cmd = redis::cmd("SET");
                cmd.arg(key).arg(value).arg("PX").arg(ttl_ms.max(1));
                (cmd, None)
            }
        }
    }
}

/// Mixed fleets. Plain redis-adapter servers count servers as the subscribers of a namespace's
/// channel (`PUBSUB SHARDNUMSUB`); a hub is one subscriber for all its workers. So that each of
/// its workers counts as one, the hub keeps `n - 1` more connections subscribed to the channel
/// of a namespace where it has `n` adapters: connection `i` subscribes the channels that need more
/// than `i` extra subscribers. They read what they receive and drop it: that is the price of an
/// exact count in a mixed fleet (Redis sends the namespace's traffic once per worker again).
#[derive(Default)]
struct Counting {
    wanted: BTreeMap<String, usize>,
    connections: Vec<(Connection, BTreeSet<String>)>,
}

impl CommandRunner {
    /// Opens, subscribes and closes counting connections to match `counting.wanted`.
    async fn recount(&self, counting: &mut Counting) {
        let needed = counting.wanted.values().copied().max().unwrap_or(0);
        counting.connections.truncate(needed);
        while counting.connections.len() < needed {
            // What a counting connection receives is dropped; it only has to be read.
            let discard = |_: PushInfo| Ok::<(), ()>(());
            match self.open(discard).await {
                Ok(connection) => counting.connections.push((connection, BTreeSet::new())),
                Err(error) => {
                    return self.lost(format!("cannot open a counting connection: {error}"));
                }
            }
        }
        for (i, (connection, subscribed)) in counting.connections.iter_mut().enumerate() {
            let wanted: BTreeSet<String> = counting
                .wanted
                .iter()
                .filter(|(_, &extra)| extra > i)
                .map(|(channel, _)| channel.clone())
                .collect();
            let leave: Vec<String> = subscribed.difference(&wanted).cloned().collect();
            // All of them, not only the new ones: after a reconnection this puts back what a
            // failover lost (SSUBSCRIBE is idempotent).
            let join: Vec<String> = wanted.iter().cloned().collect();
            self.each(connection, false, leave).await;
            self.each(connection, true, join).await;
            *subscribed = wanted;
        }
    }

    /// `PUBSUB SHARDNUMSUB channel` (`NUMSUB` for unsharded pub/sub, as the streams adapter
    /// counts): on a Cluster, summed over every node (the one serving the
    /// channel's slot has them all).
    async fn shard_num_sub(&self, connection: &mut Connection, channel: &str) -> Option<u64> {
        let mut cmd = redis::cmd("PUBSUB");
        let numsub = if sharded(&self.options) {
            "SHARDNUMSUB"
        } else {
            "NUMSUB"
        };
        cmd.arg(numsub).arg(channel);
        match connection.run(&cmd).await {
            Ok(value) => subscriber_count(&value),
            Err(error) => {
                self.lost(format!("PUBSUB {numsub} {channel} failed: {error}"));
                None
            }
        }
    }
}

/// The count in a SHARDNUMSUB reply: `[channel, n]` (RESP2) or `{channel: n}` (RESP3, and the
/// Cluster connection's combined reply).
fn subscriber_count(value: &Value) -> Option<u64> {
    let count = match value {
        Value::Array(items) => items.get(1)?,
        Value::Map(entries) => &entries.first()?.1,
        _ => return None,
    };
    match count {
        Value::Int(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// Pushes from Redis: messages go to the hub at once (on the connection's task: no hop).
fn push_handler(
    handler: Arc<dyn RedisHandler>,
    connected: Arc<AtomicBool>,
    resubscribe: Arc<AtomicBool>,
    counters: Arc<RedisCounters>,
) -> impl Fn(PushInfo) -> Result<(), ()> + Send + Sync + 'static {
    move |push: PushInfo| {
        match push.kind {
            PushKind::SMessage | PushKind::Message => {
                if let [Value::BulkString(channel), Value::BulkString(message), ..] =
                    push.data.as_slice()
                {
                    counters.received.fetch_add(1, Ordering::Relaxed);
                    match std::str::from_utf8(channel) {
                        Ok(channel) => handler.on_message(channel, message),
                        Err(_) => {
                            counters.bad_messages.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
            // Redis unsubscribes a client itself when the slot of a channel leaves the node
            // (failover, resharding); the client library may not subscribe again where it went.
            PushKind::SUnsubscribe | PushKind::Unsubscribe => {
                if let Some(Value::BulkString(channel)) = push.data.first() {
                    let channel = String::from_utf8_lossy(channel);
                    if handler.wants(&channel) {
                        handler.log(format!(
                            "Redis unsubscribed {channel}: subscribing it again where its slot is now"
                        ));
                        resubscribe.store(true, Ordering::Relaxed);
                    }
                }
            }
            PushKind::Disconnection => {
                if connected.swap(false, Ordering::Relaxed) {
                    handler.log("connection to Redis lost: cross-machine messages are dropped until it is back".into());
                }
                resubscribe.store(true, Ordering::Relaxed);
            }
            _ => {}
        }
        Ok(())
    }
}
