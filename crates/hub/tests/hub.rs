//! The hub and its links over real Unix sockets, in one process: every link here comes from this
//! test's pid, which the hub is told belongs to each worker id used.

use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::Duration;

use sio_cluster_core::{encode_frame, Frame, Header, MessageType};
use sio_cluster_core::{RouteError, Secret};
use sio_cluster_hub::{random_secret, Hub, HubError, HubEvent, HubOptions};

mod support;
use support::link::{link_to, Link, LinkEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::runtime::Handle;

const WAIT: Duration = Duration::from_secs(5);

fn header(kind: MessageType, uid: &str, requester: Option<&str>) -> Header {
    Header {
        request_id: requester.map(|_| "req-1".into()),
        requester_uid: requester.map(Into::into),
        ..Header::new(kind, "/", uid)
    }
}

fn frame(kind: MessageType, uid: &str, requester: Option<&str>, payload: &[u8]) -> Vec<u8> {
    encode_frame(&header(kind, uid, requester), payload).unwrap()
}

fn start_hub(max_queue_bytes: usize) -> (Hub, Receiver<HubEvent>) {
    let (tx, rx) = channel();
    let tx = std::sync::Mutex::new(tx);
    let options = HubOptions {
        max_queue_bytes,
        ..HubOptions::default()
    };
    let sink = Arc::new(move |event| {
        let _ = tx.lock().unwrap().send(event);
    });
    (Hub::start(&Handle::current(), options, sink).unwrap(), rx)
}

fn connect(hub: &Hub, worker: u32) -> (Link, Receiver<LinkEvent>) {
    connect_with(hub, worker, hub.secret().clone())
}

fn connect_with(hub: &Hub, worker: u32, secret: Secret) -> (Link, Receiver<LinkEvent>) {
    link_to(hub.path().to_path_buf(), secret, worker)
}

/// Waits (off the runtime's threads) for the first event matching `pick`.
async fn next<T: Send + 'static, R: Send + 'static>(
    rx: &Receiver<T>,
    pick: impl Fn(T) -> Option<R> + Send + 'static,
) -> R {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let remaining = deadline.saturating_duration_since(std::time::Instant::now());
        let event = tokio::task::block_in_place(|| rx.recv_timeout(remaining))
            .expect("event did not come in time");
        if let Some(found) = pick(event) {
            return found;
        }
    }
}

async fn opened(rx: &Receiver<LinkEvent>) {
    next(rx, |e| matches!(e, LinkEvent::Open).then_some(())).await
}

async fn frames(rx: &Receiver<LinkEvent>) -> Vec<Frame> {
    next(rx, |e| match e {
        LinkEvent::Frames(frames) => Some(frames),
        _ => None,
    })
    .await
}

async fn closed(rx: &Receiver<LinkEvent>) -> String {
    next(rx, |e| match e {
        LinkEvent::Closed(reason) => Some(reason),
        _ => None,
    })
    .await
}

fn nothing_more<T>(rx: &Receiver<T>) -> bool {
    std::thread::sleep(Duration::from_millis(200));
    rx.try_recv().is_err()
}

/// Two linked, switched workers (1 and 2) and one on IPC (3).
async fn cluster() -> (Hub, Receiver<HubEvent>, Vec<(Link, Receiver<LinkEvent>)>) {
    cluster_with(1 << 20).await
}

/// [`cluster`] with queues of `max_queue_bytes`.
async fn cluster_with(
    max_queue_bytes: usize,
) -> (Hub, Receiver<HubEvent>, Vec<(Link, Receiver<LinkEvent>)>) {
    let (hub, events) = start_hub(max_queue_bytes);
    for worker in 1..=3 {
        hub.allow(worker, std::process::id());
    }
    let mut links = Vec::new();
    for worker in 1..=2 {
        let (link, rx) = connect(&hub, worker);
        opened(&rx).await;
        assert!(hub.switch(worker));
        next(&events, move |e| {
            matches!(e, HubEvent::Flushed { worker: w } if w == worker).then_some(())
        })
        .await;
        links.push((link, rx));
    }
    (hub, events, links)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_reach_links_and_ipc_workers_and_responses_only_the_requester() {
    let (hub, events, links) = cluster().await;
    let (link1, rx1) = &links[0];
    let (link2, rx2) = &links[1];

    link1.send(frame(MessageType::Broadcast, "uid-1", None, b"payload"));
    let got = frames(rx2).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header.uid, "uid-1");
    assert_eq!(got[0].payload, b"payload");
    let (to, delivered) = next(&events, |e| match e {
        HubEvent::Deliver { to, frame } => Some((to, frame)),
        _ => None,
    })
    .await;
    assert_eq!(to, vec![3]);
    assert_eq!(delivered.payload(), b"payload");

    link2.send(frame(
        MessageType::FetchSocketsResponse,
        "uid-2",
        Some("uid-1"),
        b"answer",
    ));
    let got = frames(rx1).await;
    assert_eq!(got[0].header.kind, MessageType::FetchSocketsResponse);
    assert!(nothing_more(rx2));

    // From IPC: the IPC worker's message reaches both links, nobody else over IPC.
    let to_ipc = hub
        .route_ipc(3, &header(MessageType::Heartbeat, "uid-3", None), &[])
        .unwrap();
    assert!(to_ipc.is_empty());
    assert_eq!(frames(rx1).await[0].header.uid, "uid-3");
    assert_eq!(frames(rx2).await[0].header.uid, "uid-3");
    assert!(hub.stats().frames_out >= 4.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_sent_before_switching_are_held_until_the_switch() {
    let (hub, events, links) = cluster().await;
    hub.allow(4, std::process::id());
    let (link4, rx4) = connect(&hub, 4);
    opened(&rx4).await;
    link4.send(frame(MessageType::Broadcast, "uid-4", None, b"early"));
    assert!(nothing_more(&links[0].1));
    // Meanwhile worker 4 is still on IPC: a broadcast for it goes to the primary's JS.
    links[0].0.send(frame(
        MessageType::Broadcast,
        "uid-1",
        None,
        b"for 4 via ipc",
    ));
    let to = next(&events, |e| match e {
        HubEvent::Deliver { to, .. } => Some(to),
        _ => None,
    })
    .await;
    assert_eq!(to, vec![3, 4]);

    assert!(hub.switch(4));
    next(&events, |e| {
        matches!(e, HubEvent::Flushed { worker: 4 }).then_some(())
    })
    .await;
    let held = frames(&links[0].1).await;
    assert_eq!(held[0].payload, b"early");
    links[0].0.send(frame(
        MessageType::Broadcast,
        "uid-1",
        None,
        b"for 4 via link",
    ));
    assert_eq!(frames(&rx4).await[0].payload, b"for 4 via link");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_workers_of_this_primary_with_the_secret_can_link() {
    let (hub, events, _links) = cluster().await;
    let (_bad, rx) = connect_with(&hub, 1, random_secret().unwrap());
    assert!(closed(&rx).await.contains("cannot link"));
    let (_unknown, rx) = connect(&hub, 99);
    closed(&rx).await;
    hub.allow(5, 1); // pid 1 is not us
    let (_impostor, rx) = connect(&hub, 5);
    closed(&rx).await;
    let refusals: Vec<String> = (0..3)
        .map(|_| {
            let message = events
                .iter()
                .find_map(|e| match e {
                    HubEvent::Log { message } if message.starts_with("refused") => Some(message),
                    _ => None,
                })
                .unwrap();
            message
        })
        .collect();
    assert!(
        refusals.iter().any(|m| m.contains("wrong secret")),
        "{refusals:?}"
    );
    assert!(
        refusals
            .iter()
            .any(|m| m.contains("unknown to this primary")),
        "{refusals:?}"
    );
    assert!(
        refusals.iter().any(|m| m.contains("whose pid is 1")),
        "{refusals:?}"
    );
    assert_eq!(hub.stats().rejected_links, 3.0);
}

/// An authenticated raw connection as worker `worker`, for sending what no `Link` would.
async fn raw_link(hub: &Hub, worker: u32) -> UnixStream {
    let mut stream = UnixStream::connect(hub.path()).await.unwrap();
    let mut hello = b"SIOHUB1\n".to_vec();
    hello.extend_from_slice(&hex(&hub.secret().to_hex()));
    hello.extend_from_slice(&worker.to_be_bytes());
    stream.write_all(&hello).await.unwrap();
    let mut accepted = [0u8; 1];
    stream.read_exact(&mut accepted).await.unwrap();
    assert_eq!(accepted, [1]);
    stream
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_frame_closes_only_that_link_and_its_adapters_are_announced_closed() {
    let (hub, events, links) = cluster().await;
    hub.allow(6, std::process::id());
    let mut raw = raw_link(&hub, 6).await;
    assert!(hub.switch(6));
    raw.write_all(&frame(MessageType::InitialHeartbeat, "uid-6", None, &[]))
        .await
        .unwrap();
    assert_eq!(frames(&links[0].1).await[0].header.uid, "uid-6");
    frames(&links[1].1).await;

    raw.write_all(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3])
        .await
        .unwrap(); // absurd length
    let close = frames(&links[0].1).await;
    assert_eq!(close[0].header.kind, MessageType::AdapterClose);
    assert_eq!(close[0].header.uid, "uid-6");
    assert_eq!(hub.stats().bad_frames, 1.0);
    next(&events, |e| match e {
        HubEvent::Log { message } if message.contains("bad frame") => Some(()),
        _ => None,
    })
    .await;

    links[1].0.send(frame(
        MessageType::Broadcast,
        "uid-2",
        None,
        b"still flowing",
    ));
    let got = frames(&links[0].1).await;
    assert_eq!(got.last().unwrap().payload, b"still flowing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_stops_reading_is_cut_off_at_the_bound_and_others_keep_flowing() {
    let bound = 256 * 1024;
    let (hub, _events) = start_hub(bound);
    for worker in 1..=3 {
        hub.allow(worker, std::process::id());
    }
    let (sender, sender_rx) = connect(&hub, 1);
    opened(&sender_rx).await;
    hub.switch(1);
    let (_reader, reader_rx) = connect(&hub, 2);
    opened(&reader_rx).await;
    hub.switch(2);
    let _stuck = raw_link(&hub, 3).await; // never reads
    hub.switch(3);

    // In rounds the live reader keeps up with, far more than the bound plus socket buffers.
    let payload = vec![7u8; 4096];
    for _round in 0..64 {
        for _ in 0..32 {
            sender.send(frame(MessageType::Broadcast, "uid-1", None, &payload));
        }
        let mut received = 0;
        while received < 32 {
            received += frames(&reader_rx).await.len();
        }
        assert!(hub.stats().queued_bytes <= 2.0 * bound as f64);
    }
    let stats = hub.stats();
    assert_eq!(stats.overflows, 1.0, "{stats:?}");
    assert_eq!(stats.links, 2.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exited_worker_is_announced_closed_to_the_others() {
    let (hub, events, links) = cluster().await;
    links[1]
        .0
        .send(frame(MessageType::InitialHeartbeat, "uid-2", None, &[]));
    frames(&links[0].1).await;
    hub.remove_worker(2);
    let close = frames(&links[0].1).await;
    assert_eq!(close[0].header.kind, MessageType::AdapterClose);
    assert_eq!(close[0].header.uid, "uid-2");
    let (to, frame) = next(&events, |e| match e {
        HubEvent::Deliver { to, frame } if frame.header.kind == MessageType::AdapterClose => {
            Some((to, frame))
        }
        _ => None,
    })
    .await;
    assert_eq!(to, vec![3]);
    assert_eq!(frame.header.uid, "uid-2");
    assert!(closed(&links[1].1).await.contains("closed"));
}

fn stored(uid: &str, rooms: &[&str], payload: &[u8]) -> Vec<u8> {
    let mut header = header(MessageType::Broadcast, uid, None);
    header.store = true;
    header.rooms = rooms.iter().map(|r| r.to_string()).collect();
    encode_frame(&header, payload).unwrap()
}

fn hub_request(kind: MessageType, uid: &str, payload: &impl serde::Serialize) -> Vec<u8> {
    let mut header = header(kind, uid, None);
    header.request_id = Some("restore-1".into());
    encode_frame(&header, &rmp_serde::to_vec_named(payload).unwrap()).unwrap()
}

#[derive(serde::Serialize)]
struct Persist<'a> {
    sid: &'a str,
    pid: &'a str,
    rooms: Vec<&'a str>,
    #[serde(with = "serde_bytes")]
    data: &'a [u8],
    ttl: u64,
}

#[derive(serde::Serialize)]
struct Restore<'a> {
    pid: &'a str,
    after: u64,
}

#[derive(serde::Deserialize, Debug)]
struct Restored {
    ok: bool,
    reason: Option<String>,
    sid: Option<String>,
    packets: Vec<(u64, serde_bytes::ByteBuf)>,
    more: Option<u64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_broadcasts_get_offsets_and_missed_ones_are_restored() {
    let (hub, _events, links) = cluster().await;
    let (link1, rx1) = &links[0];
    let (link2, rx2) = &links[1];

    link1.send(stored("uid-1", &[], b"first"));
    let relayed = frames(rx2).await;
    assert_eq!(relayed[0].header.offset, Some(1));
    assert!(!relayed[0].header.store);
    let ack = frames(rx1).await;
    assert_eq!(ack[0].header.kind, MessageType::OffsetAssigned);
    assert_eq!(ack[0].header.offset, Some(1));

    // A socket of worker 2 in room "r" disconnects after offset 1; packets follow.
    link2.send(hub_request(
        MessageType::PersistSession,
        "uid-2",
        &Persist {
            sid: "sid-a",
            pid: "pid-a",
            rooms: vec!["sid-a", "r"],
            data: b"d",
            ttl: 60_000,
        },
    ));
    link1.send(stored("uid-1", &["r"], b"to r"));
    link1.send(stored("uid-1", &["other"], b"to other"));
    link1.send(stored("uid-1", &[], b"to all"));
    let mut acks = 0;
    while acks < 3 {
        acks += frames(rx1).await.len();
    }
    let mut seen = 0;
    while seen < 3 {
        seen += frames(rx2).await.len();
    }

    link2.send(hub_request(
        MessageType::RestoreSession,
        "uid-2",
        &Restore {
            pid: "pid-a",
            after: 1,
        },
    ));
    let response = frames(rx2).await;
    assert_eq!(response[0].header.kind, MessageType::RestoreSessionResponse);
    assert_eq!(response[0].header.requester_uid.as_deref(), Some("uid-2"));
    let restored: Restored = rmp_serde::from_slice(&response[0].payload).unwrap();
    assert!(restored.ok, "{restored:?}");
    assert_eq!(restored.sid.as_deref(), Some("sid-a"));
    let packets: Vec<(u64, Vec<u8>)> = restored
        .packets
        .into_iter()
        .map(|(o, p)| (o, p.into_vec()))
        .collect();
    assert_eq!(
        packets,
        vec![(2, b"to r".to_vec()), (4, b"to all".to_vec())]
    );
    assert_eq!(restored.more, None);

    // Restored once: a second restore of the same session fails cleanly.
    link2.send(hub_request(
        MessageType::RestoreSession,
        "uid-2",
        &Restore {
            pid: "pid-a",
            after: 1,
        },
    ));
    let again: Restored = rmp_serde::from_slice(&frames(rx2).await[0].payload).unwrap();
    assert!(!again.ok);
    assert_eq!(again.reason.as_deref(), Some("unknown session"));
    let stats = hub.stats();
    assert_eq!((stats.log_packets, stats.sessions), (4.0, 0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_closed_in_the_middle_of_a_frame_counts_as_a_bad_frame() {
    let (hub, events, _links) = cluster().await;
    hub.allow(7, std::process::id());
    let mut raw = raw_link(&hub, 7).await;
    let whole = frame(MessageType::Heartbeat, "uid-7", None, b"0123456789");
    raw.write_all(&whole[..whole.len() - 3]).await.unwrap();
    raw.shutdown().await.unwrap();
    let reason = next(&events, |e| match e {
        HubEvent::Log { message } if message.contains("link of worker 7 closed") => Some(message),
        _ => None,
    })
    .await;
    assert!(reason.contains("incomplete frame"), "{reason}");
    assert_eq!(hub.stats().bad_frames, 1.0);
}

// Routing by room. A linked worker of these tests counts every frame it receives, as the real
// worker counts the frames of its link it has applied, and reports its rooms with that count.

struct Worker {
    link: Link,
    rx: Receiver<LinkEvent>,
    uid: &'static str,
    applied: u64,
}

impl Worker {
    fn new((link, rx): (Link, Receiver<LinkEvent>), uid: &'static str) -> Worker {
        Worker {
            link,
            rx,
            uid,
            applied: 0,
        }
    }

    /// The next batch of frames, counted as applied.
    async fn frames(&mut self) -> Vec<Frame> {
        let got = frames(&self.rx).await;
        self.applied += got.len() as u64;
        got
    }

    /// Frames until `count` of them came.
    async fn take(&mut self, count: usize) -> Vec<Frame> {
        let mut got = Vec::new();
        while got.len() < count {
            got.extend(self.frames().await);
        }
        assert_eq!(got.len(), count, "{got:?}");
        got
    }

    fn send(&self, header: Header, payload: &[u8]) {
        self.link.send(encode_frame(&header, payload).unwrap());
    }

    /// ROOMS_CHANGED of namespace "/", `applied` as the worker would send it (`None`: before it
    /// fully switched).
    fn rooms(&self, joined: &[&str], left: &[&str], applied: Option<u64>, reset: bool) {
        self.send(
            Header {
                joined: names(joined),
                left: names(left),
                applied,
                reset,
                ..Header::new(MessageType::RoomsChanged, "/", self.uid)
            },
            &[],
        );
    }

    fn to_rooms(&self, kind: MessageType, rooms: &[&str], request_id: Option<&str>) {
        self.send(
            Header {
                rooms: names(rooms),
                request_id: request_id.map(Into::into),
                ..Header::new(kind, "/", self.uid)
            },
            b"payload",
        );
    }
}

fn names(rooms: &[&str]) -> Vec<String> {
    rooms.iter().map(|room| room.to_string()).collect()
}

/// Workers 1 and 2 on their links (adapters "uid-1", "uid-2" of "/"), 3 on IPC; worker 2 has
/// reported its rooms: "r2".
async fn room_cluster() -> (Hub, Receiver<HubEvent>, Worker, Worker) {
    let (hub, events, mut links) = cluster().await;
    let w2 = Worker::new(links.remove(1), "uid-2");
    let w1 = Worker::new(links.remove(0), "uid-1");
    w2.rooms(&["r2"], &[], None, true);
    (hub, events, w1, w2)
}

/// Waits until the hub has handled everything `from` sent so far: a heartbeat of `from` reaches
/// `to` (the hub handles a link's frames in order).
async fn synced(from: &Worker, to: &mut Worker) {
    from.send(header(MessageType::Heartbeat, from.uid, None), &[]);
    loop {
        let got = to.frames().await;
        let last = &got.last().unwrap().header;
        if last.kind == MessageType::Heartbeat && last.uid == from.uid {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_to_a_room_reaches_only_the_workers_holding_it() {
    let (hub, events, mut w1, mut w2) = room_cluster().await;
    synced(&w2, &mut w1).await;
    w1.to_rooms(MessageType::Broadcast, &["r1"], None);
    // The IPC worker gets it, the linked worker without "r1" does not.
    let to = next(&events, |e| match e {
        HubEvent::Deliver { to, frame } if frame.header.kind == MessageType::Broadcast => Some(to),
        _ => None,
    })
    .await;
    assert_eq!(to, vec![3]);
    w1.to_rooms(MessageType::Broadcast, &["r1", "r2"], None);
    let got = w2.frames().await;
    assert_eq!(got.len(), 1, "only the broadcast that names r2");
    assert_eq!(got[0].header.rooms, names(&["r1", "r2"]));
    assert_eq!(hub.stats().skipped, 1.0);
    assert_eq!(
        hub.stats().answered,
        0.0,
        "a broadcast without acks expects no answer"
    );
}

#[derive(serde::Deserialize, Debug, PartialEq)]
struct NoSockets {
    #[serde(rename = "requestId")]
    request_id: String,
    sockets: Vec<()>,
}

#[derive(serde::Deserialize, Debug, PartialEq)]
struct ClientCount {
    #[serde(rename = "requestId")]
    request_id: String,
    #[serde(rename = "clientCount")]
    client_count: u32,
}

/// Worker 1 sends a request of `kind` to room "r1", which worker 2 does not have: the answer
/// the hub sends in the name of worker 2's adapter.
async fn answer_for_w2(w1: &mut Worker, w2: &Worker, kind: MessageType, id: &str) -> Frame {
    synced(w2, w1).await;
    w1.to_rooms(kind, &["r1"], Some(id));
    let answer = w1.take(1).await.remove(0);
    assert_eq!(answer.header.uid, "uid-2");
    assert_eq!(answer.header.requester_uid.as_deref(), Some("uid-1"));
    assert_eq!(answer.header.request_id.as_deref(), Some(id));
    assert!(nothing_more(&w2.rx));
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_sockets_to_a_room_gets_an_empty_answer_for_each_skipped_adapter() {
    let (hub, events, mut w1, w2) = room_cluster().await;
    let answer = answer_for_w2(&mut w1, &w2, MessageType::FetchSockets, "fetch-1").await;
    assert_eq!(answer.header.kind, MessageType::FetchSocketsResponse);
    let data: NoSockets = rmp_serde::from_slice(&answer.payload).unwrap();
    assert_eq!(
        data,
        NoSockets {
            request_id: "fetch-1".into(),
            sockets: vec![]
        }
    );

    // A request over IPC: the answer goes back over IPC, the request to worker 1 only.
    let request = Header {
        rooms: names(&["r3"]),
        request_id: Some("fetch-3".into()),
        ..Header::new(MessageType::FetchSockets, "/", "uid-3")
    };
    assert!(hub.route_ipc(3, &request, b"p").unwrap().is_empty());
    let answer = next(&events, |e| match e {
        HubEvent::Deliver { to, frame }
            if frame.header.kind == MessageType::FetchSocketsResponse =>
        {
            Some((to, frame))
        }
        _ => None,
    })
    .await;
    assert_eq!(answer.0, vec![3]);
    assert_eq!(answer.1.header.uid, "uid-2");
    assert_eq!(answer.1.header.requester_uid.as_deref(), Some("uid-3"));
    assert_eq!(
        w1.take(1).await[0].header.request_id.as_deref(),
        Some("fetch-3")
    );
    assert!(nothing_more(&w2.rx));
    let stats = hub.stats();
    assert_eq!((stats.skipped, stats.answered), (2.0, 2.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_with_acks_gets_a_zero_client_count_for_each_skipped_adapter() {
    let (hub, _events, mut w1, w2) = room_cluster().await;
    let answer = answer_for_w2(&mut w1, &w2, MessageType::Broadcast, "ack-1").await;
    assert_eq!(answer.header.kind, MessageType::BroadcastClientCount);
    let data: ClientCount = rmp_serde::from_slice(&answer.payload).unwrap();
    assert_eq!(
        data,
        ClientCount {
            request_id: "ack-1".into(),
            client_count: 0
        }
    );
    assert_eq!(hub.stats().answered, 1.0);
}

/// Whether a broadcast of worker 1 to `room` reaches worker 2 (worker 3, on IPC, always gets it).
async fn reaches_w2(hub: &Hub, w1: &Worker, w2: &mut Worker, room: &str) -> bool {
    let skipped = hub.stats().skipped;
    w1.to_rooms(MessageType::Broadcast, &[room], None);
    loop {
        if hub.stats().skipped > skipped {
            return false;
        }
        if let Ok(LinkEvent::Frames(got)) = w2.rx.recv_timeout(Duration::from_millis(20)) {
            w2.applied += got.len() as u64;
            assert_eq!(got.last().unwrap().header.rooms, names(&[room]));
            return true;
        }
    }
}

/// Worker 2 reports it left `room` having applied `applied` frames: whether a broadcast of worker
/// 1 to `room` still reaches it.
async fn reached_after_left(
    hub: &Hub,
    w1: &mut Worker,
    w2: &mut Worker,
    room: &str,
    applied: u64,
) -> bool {
    w2.rooms(&[], &[room], Some(applied), false);
    synced(w2, w1).await;
    reaches_w2(hub, w1, w2, room).await
}

/// Worker 1 makes every socket of "/" join `room`.
fn join_everyone(w1: &Worker, room: &str) {
    w1.send(
        Header {
            joined: names(&[room]),
            ..Header::new(MessageType::SocketsJoin, "/", "uid-1")
        },
        b"join",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_join_outlives_a_stale_left_and_yields_to_a_later_one() {
    let (hub, _events, mut w1, mut w2) = room_cluster().await;
    synced(&w2, &mut w1).await;
    assert!(!reaches_w2(&hub, &w1, &mut w2, "r").await);

    // Worker 1 makes every socket join "r"; worker 2 receives the join as its frame k.
    let before = w2.applied;
    join_everyone(&w1, "r");
    assert_eq!(w2.take(1).await[0].header.kind, MessageType::SocketsJoin);
    let k = w2.applied;
    // A `left` for "r" it sent before applying the join arrives after it.
    assert!(reached_after_left(&hub, &mut w1, &mut w2, "r", before).await);
    // So does a snapshot taken before it.
    w2.rooms(&["r2"], &[], Some(k - 1), true);
    synced(&w2, &mut w1).await;
    assert!(reaches_w2(&hub, &w1, &mut w2, "r").await);

    // Once it had applied frame k, its `left` is the truth.
    assert!(!reached_after_left(&hub, &mut w1, &mut w2, "r", k).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_counts_every_frame_it_queues_on_a_link_as_the_worker_does() {
    let (hub, _events, mut w1, mut w2) = room_cluster().await;
    synced(&w2, &mut w1).await;
    // Frames of every origin reach worker 2: a relayed broadcast, the offset of its stored
    // broadcast, an answer made by the hub, an ADAPTER_CLOSE announcement, one from IPC.
    w1.send(header(MessageType::Heartbeat, "uid-1", None), &[]);
    w2.send(
        Header {
            store: true,
            ..header(MessageType::Broadcast, "uid-2", None)
        },
        b"stored",
    );
    hub.allow(4, std::process::id());
    let w4 = Worker::new(connect(&hub, 4), "uid-4");
    opened(&w4.rx).await;
    assert!(hub.switch(4));
    w4.rooms(&[], &[], None, true);
    synced(&w4, &mut w1).await;
    w2.to_rooms(MessageType::FetchSockets, &["r1"], Some("fetch-2"));
    synced(&w2, &mut w1).await;
    hub.remove_worker(4);
    hub.route_ipc(3, &header(MessageType::Heartbeat, "uid-3", None), &[])
        .unwrap();
    let got = w2.take(6).await;
    // Frames of different links may come in either order.
    let mut kinds: Vec<u8> = got.iter().map(|f| f.header.kind.code()).collect();
    kinds.sort_unstable();
    let mut expected = [
        MessageType::Heartbeat,            // of worker 1
        MessageType::OffsetAssigned,       // its stored broadcast's
        MessageType::Heartbeat,            // of worker 4
        MessageType::FetchSocketsResponse, // for worker 4, skipped
        MessageType::AdapterClose,         // worker 4 exited
        MessageType::Heartbeat,            // of worker 3, over IPC
    ]
    .map(MessageType::code);
    expected.sort_unstable();
    assert_eq!(kinds, expected);

    // The join is frame k = applied + 1; a `left` that had applied k - 1 leaves the room.
    join_everyone(&w1, "r");
    w2.take(1).await;
    let k = w2.applied;
    assert_eq!(k, 7, "the six above, then the join");
    assert!(reached_after_left(&hub, &mut w1, &mut w2, "r", k - 1).await);
    assert!(!reached_after_left(&hub, &mut w1, &mut w2, "r", k).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_session_pins_its_rooms_at_the_response() {
    let (hub, _events, mut w1, mut w2) = room_cluster().await;
    // A stored broadcast gives the log the offset the client will restore from.
    w1.link.send(stored("uid-1", &[], b"first"));
    w1.take(1).await;
    w2.take(1).await;
    w2.send(
        Header {
            request_id: Some("persist".into()),
            ..header(MessageType::PersistSession, "uid-2", None)
        },
        &rmp_serde::to_vec_named(&Persist {
            sid: "sid-a",
            pid: "pid-a",
            rooms: vec!["sid-a", "game"],
            data: b"d",
            ttl: 60_000,
        })
        .unwrap(),
    );
    synced(&w2, &mut w1).await;
    assert!(!reaches_w2(&hub, &w1, &mut w2, "game").await);
    let before = w2.applied;
    w2.link.send(hub_request(
        MessageType::RestoreSession,
        "uid-2",
        &Restore {
            pid: "pid-a",
            after: 1,
        },
    ));
    let response = w2.take(1).await.remove(0);
    assert_eq!(response.header.kind, MessageType::RestoreSessionResponse);
    let restored: Restored = rmp_serde::from_slice(&response.payload).unwrap();
    assert!(restored.ok, "{restored:?}");
    let k = w2.applied;
    // Before applying the response, the worker reported that it has neither room.
    w2.rooms(&[], &["sid-a", "game"], Some(before), false);
    synced(&w2, &mut w1).await;
    assert!(reaches_w2(&hub, &w1, &mut w2, "game").await);
    assert!(reaches_w2(&hub, &w1, &mut w2, "sid-a").await);
    // Having applied it, it joined only the socket's own room.
    w2.rooms(&[], &["game"], Some(k), false);
    synced(&w2, &mut w1).await;
    assert!(!reaches_w2(&hub, &w1, &mut w2, "game").await);
    assert!(reaches_w2(&hub, &w1, &mut w2, "sid-a").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sender_of_a_join_holds_its_rooms_until_it_reports_after_it() {
    let (hub, _events, mut w1, mut w2) = room_cluster().await;
    synced(&w2, &mut w1).await;
    // Worker 2 makes its own socket join "own" (socket.io-adapter publishes the join, then
    // applies it here): a broadcast of worker 1 to "own" routed before worker 2's report of the
    // room still reaches it.
    w2.send(
        Header {
            rooms: names(&["sid-of-w2"]),
            joined: names(&["own"]),
            ..Header::new(MessageType::SocketsJoin, "/", "uid-2")
        },
        b"join",
    );
    synced(&w2, &mut w1).await;
    assert!(reaches_w2(&hub, &w1, &mut w2, "own").await);
    // Its report after applying the join is the truth: no socket of it joined.
    let applied = w2.applied;
    assert!(!reached_after_left(&hub, &mut w1, &mut w2, "own", applied).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_of_the_primary_is_routed_by_room_stored_and_its_joins_pinned() {
    let (hub, _events, mut w1, mut w2) = room_cluster().await;
    synced(&w2, &mut w1).await;
    let to_rooms = |kind, rooms: &[&str]| Header {
        rooms: names(rooms),
        ..Header::new(kind, "/", "emitter")
    };

    // A broadcast the workers would store, while no worker has used recovery: delivered without
    // an offset, and not logged (no client can hold an offset of this log yet).
    let stored = Header {
        store: true,
        ..to_rooms(MessageType::Broadcast, &["r1"])
    };
    assert_eq!(hub.inject(&stored, b"early").unwrap(), vec![3]);
    let got = w1.take(1).await;
    assert_eq!(
        (got[0].header.offset, &got[0].payload[..]),
        (None, &b"early"[..])
    );
    assert_eq!(hub.stats().log_packets, 0.0);
    // Worker 2 stores a broadcast (offset 1): from now on the Emitter's are stored too.
    w2.send(
        Header {
            store: true,
            ..header(MessageType::Broadcast, "uid-2", None)
        },
        b"by worker 2",
    );
    assert_eq!(w1.take(1).await[0].header.offset, Some(1));
    assert_eq!(w2.take(1).await[0].header.kind, MessageType::OffsetAssigned);

    // A stored broadcast to "r1": worker 2 (known to hold only "r2") is skipped, worker 1 (rooms
    // unknown) gets it with its offset, worker 3 over IPC (returned to the caller).
    assert_eq!(hub.inject(&stored, b"packet").unwrap(), vec![3]);
    let got = w1.take(1).await;
    assert_eq!(got[0].header.uid, "emitter");
    assert_eq!(got[0].header.offset, Some(2));
    assert!(!got[0].header.store);
    assert_eq!(got[0].payload, b"packet");
    let stats = hub.stats();
    assert_eq!((stats.skipped, stats.log_packets), (2.0, 2.0));

    // Everyone joins "j": a broadcast to "j" right after reaches worker 2 too.
    let join = Header {
        joined: names(&["j"]),
        ..to_rooms(MessageType::SocketsJoin, &[])
    };
    assert_eq!(hub.inject(&join, b"join").unwrap(), vec![3]);
    hub.inject(&to_rooms(MessageType::Broadcast, &["j"]), b"to j")
        .unwrap();
    let got = w2.take(2).await;
    assert_eq!(got[1].payload, b"to j");
    assert_eq!(got[1].header.offset, None, "not stored unless asked");
    assert_eq!(w1.take(2).await.len(), 2);

    // Nothing that expects answers, nothing stored but a broadcast, and "emitter" is no adapter.
    let request = Header {
        request_id: Some("q".into()),
        ..to_rooms(MessageType::FetchSockets, &["r1"])
    };
    assert!(hub.inject(&request, &[]).is_err());
    let stored_join = Header {
        store: true,
        ..join
    };
    assert!(hub.inject(&stored_join, &[]).is_err());
    let answer = Header {
        request_id: Some("q".into()),
        requester_uid: Some("emitter".into()),
        ..Header::new(MessageType::FetchSocketsResponse, "/", "uid-3")
    };
    let refused = hub.route_ipc(3, &answer, &[]).unwrap_err();
    assert_eq!(
        refused,
        HubError::Route(RouteError::UnknownRequester("emitter".into()))
    );
    assert_eq!(hub.stats().log_packets, 2.0);
}

/// A link's room snapshot saying its adapter uses recovery marks the log in use: the primary's
/// broadcasts are stored from then on (before, no client can hold an offset of the log).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_of_an_adapter_that_recovers_puts_the_log_in_use() {
    let (hub, _events, mut w1, w2) = room_cluster().await;
    let stored = Header {
        store: true,
        ..Header::new(MessageType::Broadcast, "/", "emitter")
    };
    hub.inject(&stored, b"before").unwrap();
    assert_eq!(w1.take(1).await[0].header.offset, None);
    w2.send(
        Header {
            reset: true,
            store: true,
            ..header(MessageType::RoomsChanged, "uid-2", None)
        },
        &[],
    );
    synced(&w2, &mut w1).await;
    hub.inject(&stored, b"after").unwrap();
    let got = w1.take(1).await;
    assert_eq!(
        (got[0].header.offset, &got[0].payload[..]),
        (Some(1), &b"after"[..])
    );
    assert_eq!(hub.stats().log_packets, 1.0);
}

/// Issue 15, finding 7: what waits for the primary's JS (frames for workers on IPC) is bounded by
/// `max_queue_bytes`; beyond, frames are dropped and counted, and traffic resumes once the JS
/// thread takes what waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_waiting_for_the_primarys_js_are_bounded_and_flow_again_once_it_takes_them() {
    let bound = 256 * 1024;
    // A JS thread that is busy: events pile up here until the test takes them.
    let waiting = Arc::new(std::sync::Mutex::new(Vec::new()));
    let pile = waiting.clone();
    let sink = Arc::new(move |event| pile.lock().unwrap().push(event));
    let backlog = Arc::new(sio_cluster_hub::Backlog::new(bound));
    let options = HubOptions {
        max_queue_bytes: bound,
        ..HubOptions::default()
    };
    let hub = Hub::start_bridged(&Handle::current(), options, sink, backlog.clone()).unwrap();
    for worker in 1..=2 {
        hub.allow(worker, std::process::id());
    }
    let (sender, sender_rx) = connect(&hub, 1);
    opened(&sender_rx).await;
    assert!(hub.switch(1));
    // Worker 2 stays on IPC: 64 times the bound for it.
    let payload = vec![7u8; 4096];
    let count = 64 * bound / payload.len();
    for i in 0..count {
        sender.send(frame(MessageType::Broadcast, "uid-1", None, &payload));
        if i % 256 == 0 {
            assert!(hub.stats().bridge_bytes <= bound as f64);
        }
    }
    // Until the hub has routed them all.
    let deadline = std::time::Instant::now() + WAIT;
    while hub.stats().frames_in < count as f64 {
        assert!(std::time::Instant::now() < deadline, "{:?}", hub.stats());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = hub.stats();
    assert!(stats.bridge_bytes <= bound as f64, "{stats:?}");
    assert!(stats.bridge_dropped > 0.0, "{stats:?}");
    let held: usize = waiting
        .lock()
        .unwrap()
        .iter()
        .map(|e| match e {
            HubEvent::Deliver { frame, .. } => frame.bytes.len(),
            _ => 0,
        })
        .sum();
    assert!(held <= bound, "{held} bytes held");
    // The JS thread takes what waited: the bridge is empty, and frames flow again.
    for event in waiting.lock().unwrap().drain(..) {
        backlog.taken(&event);
    }
    assert_eq!(hub.stats().bridge_bytes, 0.0);
    let dropped = hub.stats().bridge_dropped;
    sender.send(frame(MessageType::Broadcast, "uid-1", None, b"after"));
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let events: Vec<HubEvent> = waiting.lock().unwrap().drain(..).collect();
        let got = events
            .iter()
            .any(|e| matches!(e, HubEvent::Deliver { frame, .. } if frame.payload() == b"after"));
        let said = events
            .iter()
            .any(|e| matches!(e, HubEvent::Log { message } if message.contains("caught up")));
        if got {
            assert!(said, "no debug line saying the bridge caught up");
            break;
        }
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(hub.stats().bridge_dropped, dropped);
}

/// Issue 15, finding 8: what a worker sends on its link before it has switched is held within
/// `max_queue_bytes`; past it, that link closes (counted as an overflow) and the others flow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_held_before_the_switch_are_bounded_and_past_it_only_that_link_closes() {
    let (hub, _events, links) = cluster().await; // bound: 1 MiB
    hub.allow(4, std::process::id());
    let (link4, rx4) = connect(&hub, 4);
    opened(&rx4).await;
    let payload = vec![4u8; 4096];
    for _ in 0..(2 << 20) / payload.len() {
        link4.send(frame(MessageType::Broadcast, "uid-4", None, &payload));
    }
    closed(&rx4).await;
    let stats = hub.stats();
    assert_eq!(stats.overflows, 1.0, "{stats:?}");
    assert_eq!(stats.links, 2.0, "{stats:?}");
    assert!(!hub.switch(4));
    // Nothing it sent reached the others, and they keep flowing.
    links[0]
        .0
        .send(frame(MessageType::Broadcast, "uid-1", None, b"still"));
    let got = frames(&links[1].1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload, b"still");
}

/// Issue 15, finding 11: a worker that invents many uids and then closes does not overflow the
/// queues of healthy workers with its ADAPTER_CLOSE announcements.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closing_worker_with_many_uids_does_not_overflow_the_others() {
    let (hub, _events, links) = cluster().await; // bound: 1 MiB
    let (_link1, rx1) = &links[0];
    let (link2, _rx2) = &links[1];
    // 40,000 adapters of 32-character uids, each in its own namespace: their announcements
    // would take ~2.6 MB.
    let count = 40_000;
    for i in 0..count {
        let heartbeat = Header::new(MessageType::Heartbeat, format!("/{i}"), format!("{i:032}"));
        link2.send(encode_frame(&heartbeat, &[]).unwrap());
    }
    let deadline = std::time::Instant::now() + WAIT;
    while hub.stats().frames_in < count as f64 {
        assert!(std::time::Instant::now() < deadline, "{:?}", hub.stats());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    hub.remove_worker(2);
    hub.inject(&header(MessageType::Broadcast, "emitter", None), b"after")
        .unwrap();
    // Worker 1 gets every announcement, then what it is sent next: it was not disconnected.
    let mut closes = 0;
    'reading: loop {
        for got in frames(rx1).await {
            match got.header.kind {
                MessageType::AdapterClose => closes += 1,
                _ if got.payload == b"after" => break 'reading,
                _ => {}
            }
        }
    }
    let stats = hub.stats();
    assert_eq!(stats.overflows, 0.0, "{stats:?}");
    assert_eq!(stats.links, 1.0, "{stats:?}");
    assert!(closes > 0);
    bounded_adapters(&stats, closes);
}

fn bounded_adapters(stats: &sio_cluster_hub::HubStats, closes: u64) {
    assert!(stats.uids_refused > 0.0, "{stats:?}");
    assert_eq!(closes as f64 + stats.uids_refused, 40_000.0, "{stats:?}");
    assert_eq!((stats.uids, stats.uid_bytes), (0.0, 0.0), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_that_cannot_carry_its_offset_is_delivered_unstored_and_its_sender_told() {
    // Queues large enough for a frame at the size limit.
    let (hub, _events, links) = cluster_with(256 << 20).await;
    let (link1, rx1) = &links[0];
    let (_link2, rx2) = &links[1];
    // Offsets past 127 take more bytes than "no offset" in a header.
    for _ in 0..200 {
        link1.send(stored("uid-1", &[], b"small"));
    }
    let (mut acks, mut seen) = (0, 0);
    while acks < 200 {
        acks += frames(rx1).await.len();
    }
    while seen < 200 {
        seen += frames(rx2).await.len();
    }

    // A stored broadcast of exactly the frame limit: with its offset it would exceed it.
    let empty = stored("uid-1", &[], b"");
    let payload = vec![7u8; sio_cluster_core::MAX_FRAME_LEN + 4 - empty.len()];
    link1.send(stored("uid-1", &[], &payload));
    link1.send(stored("uid-1", &[], b"after"));

    let mut acks = Vec::new();
    while acks.len() < 2 {
        acks.extend(frames(rx1).await);
    }
    assert!(acks
        .iter()
        .all(|a| a.header.kind == MessageType::OffsetAssigned));
    // One acknowledgement per stored broadcast, in order: the sender's pairing stays in step.
    assert_eq!(acks[0].header.offset, None, "the big one was not stored");
    assert_eq!(acks[1].header.offset, Some(201));
    let mut relayed = Vec::new();
    while relayed.len() < 2 {
        relayed.extend(frames(rx2).await);
    }
    assert_eq!(
        relayed[0].payload.len(),
        payload.len(),
        "delivered all the same"
    );
    assert_eq!(relayed[0].header.offset, None);
    assert_eq!(relayed[1].header.offset, Some(201));
    let stats = hub.stats();
    assert_eq!((stats.log_packets, stats.unstored), (201.0, 1.0));
}
