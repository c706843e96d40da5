//! The tasks of the hub's socket: accepting connections, the hello, and each link's reader and
//! writer.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use sio_cluster_core::{FrameDecoder, OutQueue, RawFrame, Secret, WorkerId, ACCEPTED, SENDS_ONLY};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{oneshot, Notify};

use super::state::{LinkSlot, Shared};
use crate::handshake::read_hello;
use crate::standalone::admits;

/// Bytes written per system call at most, when many small frames are queued.
const WRITE_BATCH: usize = 256 * 1024;
const READ_CHUNK: usize = 64 * 1024;
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) async fn accept_loop(listener: UnixListener, shared: Arc<Shared>, secret: Secret) {
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
    let (worker, sends_only) = match authenticate(&mut stream, &shared, &secret).await {
        Ok(admitted) => admitted,
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
        // A standalone hub's workers have no IPC to switch from: on their link from the start
        // (a link that only sends is nobody's recipient).
        let release = match shared.options.standalone {
            Some(_) => {
                if !sends_only {
                    state.board.switch_to_link(worker);
                }
                let _ = release.send(());
                None
            }
            None => Some(release),
        };
        state.links.insert(
            worker,
            LinkSlot {
                id: link_id,
                queue: OutQueue::new(shared.options.max_queue_bytes),
                queued: 0,
                wake_writer: wake_writer.clone(),
                shutdown: shutdown.clone(),
                release,
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

/// Checks who connected and its hello; returns the worker it is, and whether its link only
/// sends. A primary's hub knows its workers' pids ([`super::Hub::allow`]); a standalone hub
/// admits its user (or group) and names the worker itself.
async fn authenticate(
    stream: &mut UnixStream,
    shared: &Shared,
    secret: &Secret,
) -> Result<(WorkerId, bool), String> {
    let credentials = stream
        .peer_cred()
        .map_err(|e| format!("no peer credentials: {e}"))?;
    let pid = credentials.pid().ok_or("no peer pid")?;
    if let Some(standalone) = &shared.options.standalone {
        if !admits(standalone, credentials.uid(), credentials.gid()) {
            return Err(format!(
                "pid {pid} runs as uid {} gid {}, neither this hub's user nor its group",
                credentials.uid(),
                credentials.gid()
            ));
        }
    }
    let claimed = tokio::time::timeout(HELLO_TIMEOUT, read_hello(stream, secret))
        .await
        .map_err(|_| format!("no hello in time from pid {pid}"))?
        .map_err(|reason| format!("{reason} (pid {pid})"))?;
    let mut state = shared.lock();
    if shared.options.standalone.is_some() {
        let worker = state.name_worker();
        state.pids.insert(worker, pid as u32);
        let sends_only = claimed == SENDS_ONLY;
        if !sends_only {
            state.board.add_worker(worker);
        }
        return Ok((worker, sends_only));
    }
    match state.pids.get(&claimed).copied() {
        Some(expected) if i64::from(expected) == i64::from(pid) => Ok((claimed, false)),
        Some(expected) => Err(format!(
            "pid {pid} claims to be worker {claimed}, whose pid is {expected}"
        )),
        None => Err(format!(
            "pid {pid} claims to be worker {claimed}, unknown to this primary"
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
            // Counted before the write: a worker that reads them may ask for the counters at
            // once (a failed write closes the link anyway).
            shared
                .counters
                .frames_out
                .fetch_add(frames as u64, Ordering::Relaxed);
            shared
                .counters
                .bytes_out
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            if let Err(error) = writer.write_all(&batch).await {
                return shared.close_link_now(worker, link_id, format!("write failed: {error}"));
            }
        }
    }
}
