//! Streams mode (`@socket.io/redis-streams-adapter` 0.3.x): its options, and the task that reads
//! the stream(s) with `XREAD BLOCK` for the whole machine, on a connection of its own (a blocked
//! read holds its connection; the bridge's other connection keeps publishing meanwhile).
//!
//! The reader starts after the last entry present when it starts (as the adapter's `$`, but
//! named: nothing added between two reads is skipped), keeps the last id it read of each
//! stream, and after a lost connection reads on from there: entries added while Redis was
//! reachable but the connection was down are not lost; after a Redis restart without
//! persistence the stream starts again, with ids later than the last read (time-based).
//!
//! Bounds: an `XREAD` returns at most `readCount` entries per stream; each entry is handed to
//! the hub, which validates it (`streams_wire::decode_entry`) and drops what is wrong.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use redis::cluster::ClusterClientBuilder;
use redis::{AsyncConnectionConfig, Value};
use sio_cluster_core::streams_restore::RestoreBounds;

use super::{RedisCounters, RedisHandler, RedisOptions};

/// The options of `createAdapter` of `@socket.io/redis-streams-adapter` 0.3.x that the hub uses
/// (`channelPrefix` is [`RedisOptions::channel_prefix`]; `heartbeatInterval` and
/// `heartbeatTimeout` are accepted by lib/options.js and, as by the adapter 0.3.1 itself, not
/// used: it counts servers with `PUBSUB NUMSUB`).
#[derive(Debug, Clone)]
pub struct StreamsOptions {
    pub stream_name: String,
    pub stream_count: u32,
    pub max_len: u64,
    pub read_count: u64,
    pub block_time_ms: u64,
    pub session_key_prefix: String,
    pub use_sharded_pubsub: bool,
    pub only_plaintext: bool,
    /// What one restore reads at most (see `streams_restore`).
    pub restore: RestoreBounds,
    /// Restores running at once; the others wait their turn (FIFO), at most
    /// `max_waiting_restores` of them, beyond which a restore is refused at once.
    pub max_restores: usize,
    pub max_waiting_restores: usize,
}

impl Default for StreamsOptions {
    fn default() -> Self {
        StreamsOptions {
            stream_name: "socket.io".into(),
            stream_count: 1,
            max_len: 10_000,
            read_count: 100,
            block_time_ms: 5000,
            session_key_prefix: "sio:session:".into(),
            use_sharded_pubsub: false,
            only_plaintext: false,
            restore: RestoreBounds::default(),
            max_restores: 8,
            max_waiting_restores: 100_000,
        }
    }
}

impl StreamsOptions {
    /// Every stream a namespace may be on.
    pub fn streams(&self) -> Vec<String> {
        if self.stream_count <= 1 {
            return vec![self.stream_name.clone()];
        }
        // The adapter's `hashCode(nsp) % streamCount` keeps the hash's sign: `-i` names too.
        let n = self.stream_count as i64;
        (-(n - 1)..n)
            .map(|i| format!("{}-{i}", self.stream_name))
            .collect()
    }
}

/// One entry as Redis gave it (owned: moved out of the reply, not copied).
pub struct RawEntry {
    pub id: Vec<u8>,
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
}

/// The streams each reader reads with one blocking `XREAD`, on a connection of its own. On one
/// server, one reader reads them all. On a Cluster, streams of different slots cannot share an
/// `XREAD`, and a blocked `XREAD` holds its connection to the node: one reader per stream (as the
/// adapter has one client per stream), each blocking, never polling.
pub(super) fn readers(cluster: bool, streams: &StreamsOptions) -> Vec<Vec<String>> {
    let names = streams.streams();
    if cluster {
        names.into_iter().map(|name| vec![name]).collect()
    } else {
        vec![names]
    }
}

/// Reads `names` until the bridge is dropped (the task is aborted then).
pub(super) async fn read_loop(
    options: RedisOptions,
    streams: StreamsOptions,
    names: Vec<String>,
    handler: Arc<dyn RedisHandler>,
    counters: Arc<RedisCounters>,
) {
    let mut last: Vec<Option<String>> = vec![None; names.len()];
    let mut delay = Duration::from_millis(100);
    let mut failing = false;
    loop {
        let mut connection = match open(&options, &streams).await {
            Ok(connection) => connection,
            Err(error) => {
                if !failing {
                    handler.log(format!("stream reader cannot connect to Redis: {error}"));
                    failing = true;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        loop {
            match read_once(
                &mut connection,
                &names,
                &mut last,
                &streams,
                &handler,
                &counters,
            )
            .await
            {
                Ok(()) => {
                    if failing {
                        handler.log("stream reader: Redis answers again".into());
                        failing = false;
                    }
                    delay = Duration::from_millis(100);
                }
                Err(error) => {
                    if !failing {
                        handler.log(format!(
                            "stream reader: {error}; reading again from the last entry read once Redis answers"
                        ));
                        failing = true;
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    break; // a new connection
                }
            }
        }
    }
}

async fn read_once(
    connection: &mut Reader,
    names: &[String],
    last: &mut [Option<String>],
    streams: &StreamsOptions,
    handler: &Arc<dyn RedisHandler>,
    counters: &RedisCounters,
) -> redis::RedisResult<()> {
    // Where to start: after the last entry of each stream now (0-0 for one not made yet).
    for (name, from) in names.iter().zip(last.iter_mut()) {
        if from.is_none() {
            let mut cmd = redis::cmd("XREVRANGE");
            cmd.arg(name).arg("+").arg("-").arg("COUNT").arg(1);
            let reply = connection.run(&cmd).await?;
            let newest = match reply {
                Value::Array(entries) => entries
                    .into_iter()
                    .next()
                    .and_then(entry)
                    .and_then(|e| String::from_utf8(e.id).ok()),
                _ => None,
            };
            let newest = newest.unwrap_or_else(|| "0-0".into());
            handler.on_read_from(name, &newest);
            *from = Some(newest);
        }
    }
    let mut cmd = redis::cmd("XREAD");
    cmd.arg("COUNT").arg(streams.read_count.max(1));
    cmd.arg("BLOCK")
        .arg(streams.block_time_ms.max(1))
        .arg("STREAMS");
    cmd.arg(names);
    for from in last.iter() {
        cmd.arg(from.as_deref().unwrap_or("0-0"));
    }
    let reply = connection.run(&cmd).await?;
    for (stream, entries) in per_stream(reply) {
        let Some(i) = names.iter().position(|n| n.as_bytes() == stream.as_slice()) else {
            continue;
        };
        let mut good = Vec::with_capacity(entries.len());
        for raw in entries {
            match entry(raw) {
                Some(e) => {
                    last[i] = String::from_utf8(e.id.clone()).ok().or(last[i].take());
                    good.push(e);
                }
                None => {
                    counters.bad_messages.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        counters
            .received
            .fetch_add(good.len() as u64, Ordering::Relaxed);
        if !good.is_empty() {
            handler.on_entries(&names[i], good);
        }
    }
    Ok(())
}

/// `[[stream, [entry...]]...]` (RESP2) or `{stream: [entry...]}` (RESP3); nil on a timeout.
fn per_stream(reply: Value) -> Vec<(Vec<u8>, Vec<Value>)> {
    let pairs: Vec<(Value, Value)> = match reply {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| match item {
                Value::Array(pair) if pair.len() == 2 => {
                    let mut pair = pair.into_iter();
                    Some((pair.next()?, pair.next()?))
                }
                _ => None,
            })
            .collect(),
        Value::Map(pairs) => pairs,
        _ => return vec![],
    };
    pairs
        .into_iter()
        .filter_map(|(name, entries)| match (name, entries) {
            (Value::BulkString(name), Value::Array(entries)) => Some((name, entries)),
            _ => None,
        })
        .collect()
}

/// `[id, [field, value, ...]]`; None for anything else (an odd field list included).
pub fn entry(value: Value) -> Option<RawEntry> {
    let Value::Array(parts) = value else {
        return None;
    };
    let mut parts = parts.into_iter();
    let (Some(Value::BulkString(id)), Some(Value::Array(flat)), None) =
        (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if flat.len() % 2 != 0 {
        return None;
    }
    let mut fields = Vec::with_capacity(flat.len() / 2);
    let mut flat = flat.into_iter();
    while let (Some(name), Some(value)) = (flat.next(), flat.next()) {
        match (name, value) {
            (Value::BulkString(name), Value::BulkString(value)) => fields.push((name, value)),
            _ => return None,
        }
    }
    Some(RawEntry { id, fields })
}

enum Reader {
    Single(redis::aio::MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl Reader {
    async fn run(&mut self, cmd: &redis::Cmd) -> redis::RedisResult<Value> {
        match self {
            Reader::Single(c) => cmd.query_async(c).await,
            Reader::Cluster(c) => cmd.query_async(c).await,
        }
    }
}

/// A connection whose replies may take the block time, and a little more.
async fn open(options: &RedisOptions, streams: &StreamsOptions) -> redis::RedisResult<Reader> {
    let timeout = Duration::from_millis(streams.block_time_ms) + Duration::from_secs(5);
    if options.cluster {
        let client = ClusterClientBuilder::new(options.nodes.clone())
            .connection_timeout(Duration::from_secs(2))
            .response_timeout(timeout)
            .build()?;
        Ok(Reader::Cluster(client.get_async_connection().await?))
    } else {
        let url = options.nodes.first().cloned().unwrap_or_default();
        let client = redis::Client::open(url.as_str())?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(timeout));
        Ok(Reader::Single(
            client
                .get_multiplexed_async_connection_with_config(&config)
                .await?,
        ))
    }
}
