use sio_cluster_core::{Header, MessageType, Route, RouteError, Router};

fn header(kind: MessageType, uid: &str, nsp: &str) -> Header {
    Header::new(kind, nsp, uid)
}

fn reply(kind: MessageType, uid: &str, requester: &str) -> Header {
    Header {
        request_id: Some("r1".into()),
        requester_uid: Some(requester.into()),
        ..header(kind, uid, "/")
    }
}

#[test]
fn requests_go_to_everyone_but_the_sender() {
    let mut router = Router::new();
    for kind in MessageType::ALL.into_iter().filter(|k| !k.is_response()) {
        assert_eq!(
            router.route(3, &header(kind, "a", "/")),
            Route::AllExcept(3)
        );
    }
}

#[test]
fn responses_go_to_the_requesters_worker() {
    let mut router = Router::new();
    router.route(1, &header(MessageType::InitialHeartbeat, "a", "/"));
    router.route(2, &header(MessageType::InitialHeartbeat, "b", "/"));
    for kind in MessageType::ALL.into_iter().filter(|k| k.is_response()) {
        assert_eq!(router.route(2, &reply(kind, "b", "a")), Route::ToWorker(1));
        assert_eq!(router.route(1, &reply(kind, "a", "b")), Route::ToWorker(2));
    }
}

#[test]
fn responses_to_unknown_or_missing_requesters_are_dropped() {
    let mut router = Router::new();
    let route = router.route(2, &reply(MessageType::BroadcastAck, "b", "ghost"));
    assert_eq!(
        route,
        Route::Drop(RouteError::UnknownRequester("ghost".into()))
    );

    let mut no_requester = reply(MessageType::FetchSocketsResponse, "b", "x");
    no_requester.requester_uid = None;
    assert!(matches!(router.route(2, &no_requester), Route::Drop(_)));
    // The sender was still learnt.
    assert_eq!(router.owner("b"), Some(2));
}

#[test]
fn a_uid_heard_from_another_worker_is_re_owned() {
    let mut router = Router::new();
    router.route(1, &header(MessageType::Heartbeat, "a", "/"));
    router.route(4, &header(MessageType::Heartbeat, "a", "/chat"));
    assert_eq!(router.owner("a"), Some(4));
    assert_eq!(router.known_uids(), 1);
    assert_eq!(
        router.route(2, &reply(MessageType::ServerSideEmitResponse, "b", "a")),
        Route::ToWorker(4)
    );
    assert_eq!(
        router.remove_worker(4),
        [("a".to_owned(), "/chat".to_owned())]
    );
    assert!(router.remove_worker(1).is_empty());
}

#[test]
fn remove_worker_returns_its_uids_sorted() {
    let mut router = Router::new();
    router.route(1, &header(MessageType::Heartbeat, "z", "/"));
    router.route(1, &header(MessageType::Heartbeat, "m", "/admin"));
    router.route(2, &header(MessageType::Heartbeat, "k", "/"));
    router.route(1, &header(MessageType::Heartbeat, "c", "/chat"));
    let removed = router.remove_worker(1);
    let expected = [("c", "/chat"), ("m", "/admin"), ("z", "/")];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(u, n)| (u.to_string(), n.to_string()))
        .collect();
    assert_eq!(removed, expected);
    assert_eq!(router.known_uids(), 1);
    assert_eq!(router.owner("z"), None);
    assert_eq!(router.owner("k"), Some(2));
}

#[test]
fn adapter_close_is_relayed_then_forgotten() {
    let mut router = Router::new();
    router.route(1, &header(MessageType::InitialHeartbeat, "a", "/"));
    assert_eq!(
        router.route(1, &header(MessageType::AdapterClose, "a", "/")),
        Route::AllExcept(1)
    );
    assert_eq!(router.owner("a"), None);
    assert_eq!(router.known_uids(), 0);
    assert_eq!(
        router.route(2, &reply(MessageType::BroadcastClientCount, "b", "a")),
        Route::Drop(RouteError::UnknownRequester("a".into()))
    );
}
