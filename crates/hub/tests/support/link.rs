//! A worker's end of the hub on tokio, for the hub's tests: connects, proves it holds the
//! secret, then sends frames in batches and delivers what it reads as batches of frames. (Real
//! workers link from JavaScript on their own event loop, lib/hub-link.js, with the binding's
//! `LinkCodec` for the bytes: a thread hop per message cost them more than the message.)

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sio_cluster_core::{hello, Frame, FrameDecoder, Secret, ACCEPTED};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use tokio::runtime::Handle;
use tokio::sync::Notify;

#[derive(Debug)]
pub enum LinkEvent {
    /// The hub accepted the link: frames sent from now on reach it.
    Open,
    /// Frames read in one go, in order.
    Frames(Vec<Frame>),
    /// The link is closed (this is the last event).
    Closed(String),
}

pub type LinkSink = Arc<dyn Fn(LinkEvent) + Send + Sync>;

const WRITE_BATCH: usize = 256 * 1024;
const READ_CHUNK: usize = 64 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Link {
    shared: Arc<Shared>,
}

struct Shared {
    outgoing: Mutex<VecDeque<Vec<u8>>>,
    wake_writer: Notify,
    shutdown: Notify,
    closed: AtomicBool,
    sink: LinkSink,
}

impl Shared {
    fn outgoing(&self) -> MutexGuard<'_, VecDeque<Vec<u8>>> {
        self.outgoing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Emits `Closed` once, whoever notices first.
    fn close(&self, reason: String) {
        if !self.closed.swap(true, Ordering::SeqCst) {
            self.shutdown.notify_one();
            self.outgoing().clear();
            (self.sink)(LinkEvent::Closed(reason));
        }
    }
}

impl Link {
    /// Starts connecting to the hub at `path` on `runtime`; events go to `sink`.
    pub fn connect(
        runtime: &Handle,
        path: PathBuf,
        secret: Secret,
        worker: u32,
        max_frame_len: usize,
        sink: LinkSink,
    ) -> Link {
        let shared = Arc::new(Shared {
            outgoing: Mutex::new(VecDeque::new()),
            wake_writer: Notify::new(),
            shutdown: Notify::new(),
            closed: AtomicBool::new(false),
            sink,
        });
        runtime.spawn(run(shared.clone(), path, secret, worker, max_frame_len));
        Link { shared }
    }

    /// Queues an encoded frame and writes it soon; `false` if the link is closed.
    pub fn send(&self, frame: Vec<u8>) -> bool {
        self.queue(frame) && self.flush()
    }

    /// Queues an encoded frame without waking the writer: a caller sending many frames in a row
    /// calls [`Link::flush`] once after them, so that they leave in one write (one system call
    /// here, one read in the hub) instead of one each.
    pub fn queue(&self, frame: Vec<u8>) -> bool {
        if self.shared.closed.load(Ordering::SeqCst) {
            return false;
        }
        self.shared.outgoing().push_back(frame);
        true
    }

    /// Wakes the writer for what was queued.
    pub fn flush(&self) -> bool {
        self.shared.wake_writer.notify_one();
        !self.shared.closed.load(Ordering::SeqCst)
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.shared.close("link dropped".into());
    }
}

async fn run(
    shared: Arc<Shared>,
    path: PathBuf,
    secret: Secret,
    worker: u32,
    max_frame_len: usize,
) {
    let stream = tokio::select! {
        opened = tokio::time::timeout(CONNECT_TIMEOUT, open(&path, &secret, worker)) => opened,
        _ = shared.shutdown.notified() => return,
    };
    let stream = match stream {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => return shared.close(format!("cannot link to the hub: {error}")),
        Err(_) => return shared.close("cannot link to the hub: timed out".into()),
    };
    (shared.sink)(LinkEvent::Open);
    let (reader, writer) = stream.into_split();
    let reason = tokio::select! {
        reason = read_loop(reader, &shared, max_frame_len) => reason,
        reason = write_loop(writer, &shared) => reason,
        _ = shared.shutdown.notified() => return,
    };
    shared.close(reason);
}

async fn open(path: &PathBuf, secret: &Secret, worker: u32) -> std::io::Result<UnixStream> {
    let mut stream = UnixStream::connect(path).await?;
    stream.write_all(&hello(secret, worker)).await?;
    let mut answer = [0u8; 1];
    stream.read_exact(&mut answer).await?;
    if answer[0] != ACCEPTED {
        return Err(std::io::Error::other("refused by the hub"));
    }
    Ok(stream)
}

async fn read_loop(mut reader: OwnedReadHalf, shared: &Shared, max_frame_len: usize) -> String {
    let mut decoder = FrameDecoder::new(max_frame_len);
    let mut chunk = vec![0u8; READ_CHUNK];
    loop {
        let n = match reader.read(&mut chunk).await {
            Ok(0) => return "closed by the hub".into(),
            Ok(n) => n,
            Err(error) => return format!("read failed: {error}"),
        };
        decoder.push(&chunk[..n]);
        let mut frames = Vec::new();
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(error) => return format!("bad frame from the hub: {error}"),
            }
        }
        if !frames.is_empty() {
            (shared.sink)(LinkEvent::Frames(frames));
        }
    }
}

async fn write_loop(mut writer: OwnedWriteHalf, shared: &Shared) -> String {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    loop {
        shared.wake_writer.notified().await;
        loop {
            batch.clear();
            {
                let mut outgoing = shared.outgoing();
                while let Some(frame) = outgoing.front() {
                    if !batch.is_empty() && batch.len() + frame.len() > WRITE_BATCH {
                        break;
                    }
                    batch.extend_from_slice(frame);
                    outgoing.pop_front();
                }
            }
            if batch.is_empty() {
                break;
            }
            if let Err(error) = writer.write_all(&batch).await {
                return format!("write failed: {error}");
            }
        }
    }
}

/// A link to the hub at `path` as `worker`, its events in a channel (for the tests' waits).
pub fn link_to(
    path: PathBuf,
    secret: Secret,
    worker: u32,
) -> (Link, std::sync::mpsc::Receiver<LinkEvent>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = Mutex::new(tx);
    let sink = Arc::new(move |event| {
        let _ = tx.lock().unwrap().send(event);
    });
    let link = Link::connect(
        &Handle::current(),
        path,
        secret,
        worker,
        sio_cluster_core::MAX_FRAME_LEN,
        sink,
    );
    (link, rx)
}
