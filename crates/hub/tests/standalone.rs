//! A standalone hub over real Unix sockets: processes no primary registered link with the secret
//! from the file beside the socket, the hub names them, and a link that closes is a worker gone.

use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::Duration;

use sio_cluster_core::{encode_frame, Frame, Header, MessageType, Secret, EMITTER_UID, SENDS_ONLY};
use sio_cluster_hub::standalone::secret_file;
use sio_cluster_hub::{random_secret, Hub, HubEvent, HubOptions, StandaloneOptions};
use tokio::runtime::Handle;

mod support;
use support::link::{link_to, Link, LinkEvent};

const WAIT: Duration = Duration::from_secs(5);

fn scratch_socket() -> PathBuf {
    let secret = random_secret().unwrap().to_hex();
    std::env::temp_dir()
        .join(format!("sio-standalone-{}", &secret[..12]))
        .join("hub.sock")
}

fn start(socket: &std::path::Path) -> (Hub, Receiver<HubEvent>) {
    let (tx, rx) = channel();
    let tx = std::sync::Mutex::new(tx);
    let options = HubOptions {
        standalone: Some(StandaloneOptions {
            socket: socket.to_path_buf(),
            group: None,
        }),
        ..HubOptions::default()
    };
    let sink = Arc::new(move |event| {
        let _ = tx.lock().unwrap().send(event);
    });
    (Hub::start(&Handle::current(), options, sink).unwrap(), rx)
}

/// Links as a process outside the cluster does: the secret from the file, any worker id.
fn link(socket: &std::path::Path, secret: Secret) -> (Link, Receiver<LinkEvent>) {
    link_as(socket, secret, 0)
}

fn link_as(socket: &std::path::Path, secret: Secret, worker: u32) -> (Link, Receiver<LinkEvent>) {
    link_to(socket.to_path_buf(), secret, worker)
}

fn secret_from_file(socket: &std::path::Path) -> Secret {
    Secret::from_hex(&std::fs::read_to_string(secret_file(socket)).unwrap()).unwrap()
}

async fn next_event(rx: &Receiver<LinkEvent>) -> LinkEvent {
    tokio::task::block_in_place(|| rx.recv_timeout(WAIT)).expect("no event in time")
}

async fn opened(rx: &Receiver<LinkEvent>) {
    match next_event(rx).await {
        LinkEvent::Open => {}
        other => panic!("expected the link to open, got {other:?}"),
    }
}

async fn frames(rx: &Receiver<LinkEvent>) -> Vec<Frame> {
    loop {
        match next_event(rx).await {
            LinkEvent::Frames(frames) => return frames,
            LinkEvent::Open => continue,
            LinkEvent::Closed(reason) => panic!("closed: {reason}"),
        }
    }
}

fn frame(kind: MessageType, uid: &str, payload: &[u8]) -> Vec<u8> {
    encode_frame(&Header::new(kind, "/", uid), payload).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_with_the_secret_link_without_a_primary_and_a_closed_link_is_a_worker_gone() {
    let socket = scratch_socket();
    let (hub, _events) = start(&socket);
    assert_eq!(hub.path(), socket);
    let secret = secret_from_file(&socket);
    assert_eq!(&secret, hub.secret());

    let (a, rx_a) = link(&socket, secret.clone());
    let (b, rx_b) = link(&socket, secret.clone());
    let (c, rx_c) = link(&socket, secret.clone());
    for rx in [&rx_a, &rx_b, &rx_c] {
        opened(rx).await;
    }
    // On their link from the first frame: no switch over IPC to wait for.
    a.send(frame(MessageType::Broadcast, "uid-a", b"hello"));
    for rx in [&rx_b, &rx_c] {
        let got = frames(rx).await;
        assert_eq!(got[0].header.kind, MessageType::Broadcast);
        assert_eq!(got[0].payload, b"hello");
    }
    b.send(frame(MessageType::InitialHeartbeat, "uid-b", &[]));
    for rx in [&rx_a, &rx_c] {
        assert_eq!(frames(rx).await[0].header.uid, "uid-b");
    }
    assert_eq!(hub.stats().links, 3.0);

    // b goes: the others hear at once that its adapter closed, and the hub forgets it.
    drop(b);
    drop(rx_b);
    for rx in [&rx_a, &rx_c] {
        let close = frames(rx).await;
        assert_eq!(close[0].header.kind, MessageType::AdapterClose);
        assert_eq!(close[0].header.uid, "uid-b");
    }
    assert_eq!(hub.stats().links, 2.0);
    assert_eq!(hub.stats().uids, 1.0, "only uid-a is left");

    // A process that comes later is named anew and reached like the others.
    let (d, rx_d) = link(&socket, secret.clone());
    opened(&rx_d).await;
    d.send(frame(MessageType::InitialHeartbeat, "uid-d", &[]));
    assert_eq!(frames(&rx_a).await[0].header.uid, "uid-d");
    assert_eq!(frames(&rx_c).await[0].header.uid, "uid-d");
    drop((a, c, d));

    drop(hub);
    assert!(!socket.exists(), "the socket is removed");
    assert!(!secret_file(&socket).exists(), "the secret file is removed");
    std::fs::remove_dir(socket.parent().unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_without_the_secret_is_refused() {
    let socket = scratch_socket();
    let (hub, _events) = start(&socket);
    let (_link, rx) = link(&socket, random_secret().unwrap());
    loop {
        match next_event(&rx).await {
            LinkEvent::Closed(_) => break,
            LinkEvent::Open => panic!("a wrong secret was accepted"),
            LinkEvent::Frames(_) => {}
        }
    }
    assert_eq!(hub.stats().rejected_links, 1.0);
    assert_eq!(hub.stats().links, 0.0);
    drop(hub);
    std::fs::remove_dir(socket.parent().unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emitter_over_a_link_reaches_every_worker_is_no_server_and_hears_nothing() {
    let socket = scratch_socket();
    let (hub, _events) = start(&socket);
    let secret = secret_from_file(&socket);
    let (worker, rx_worker) = link(&socket, secret.clone());
    let (other, rx_other) = link(&socket, secret.clone());
    let (emitter, rx_emitter) = link_as(&socket, secret.clone(), SENDS_ONLY);
    opened(&rx_worker).await;
    opened(&rx_other).await;
    opened(&rx_emitter).await;
    emitter.send(frame(MessageType::Broadcast, EMITTER_UID, b"news"));
    for rx in [&rx_worker, &rx_other] {
        let got = frames(rx).await;
        assert_eq!(got[0].header.uid, EMITTER_UID);
        assert_eq!(got[0].payload, b"news");
    }
    let uids = hub.stats().uids;
    assert_eq!(uids, 0.0, "the Emitter is not counted as an adapter");
    // What the workers send never reaches a link that only sends.
    other.send(frame(MessageType::Broadcast, "uid-other", b"chatter"));
    assert_eq!(frames(&rx_worker).await[0].payload, b"chatter");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        rx_emitter.try_recv().is_err(),
        "the Emitter's link hears nothing"
    );
    // Nor is the Emitter announced closed when it goes: it was never a server.
    drop(emitter);
    drop(rx_emitter);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        rx_worker.try_recv().is_err(),
        "no ADAPTER_CLOSE for the Emitter"
    );
    drop((worker, other));
    drop(hub);
    std::fs::remove_dir(socket.parent().unwrap()).unwrap();
}
