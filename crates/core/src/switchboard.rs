//! The hub's view of the workers: how each one is reached right now, and so who receives a
//! message by which path.
//!
//! A worker starts on IPC (the primary's JavaScript relays for it), moves to its own link once it
//! has connected and switched, and is `Gone` once its link closed (it may still live: it is
//! reachable again as soon as it speaks over IPC or links again). Gone workers receive nothing,
//! which is what bounds the hub's memory when a worker stops reading.
//!
//! Routing by room: a message addressed to rooms skips a worker on its link whose rooms the hub
//! knows ([`RoomViews`]) and holds none of them; the hub answers requests in its name
//! ([`answer_for_skipped`]). A worker on IPC receives everything: it reports no rooms there.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::answers::answer_for_skipped;
use crate::error::RouteError;
use crate::frame::Frame;
use crate::header::Header;
use crate::message::{MessageType, EMITTER_UID};
use crate::rooms::{Pin, RoomViews};
use crate::routing::{Route, Router, WorkerId, PRIMARY};

/// How a worker is reached now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Ipc,
    Link,
    Gone,
    /// The other machines, through Redis: one pseudo-worker, [`REMOTE`].
    Remote,
}

/// The pseudo-worker that stands for every server of the other machines (cluster worker ids
/// start at 1 and count up, so they never reach it).
pub const REMOTE: WorkerId = WorkerId::MAX;

/// The recipients of one message, split by how they are reached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipients {
    pub links: Vec<WorkerId>,
    pub ipc: Vec<WorkerId>,
    /// Workers left out because they hold none of the message's rooms.
    pub skipped: Vec<WorkerId>,
    /// Published to Redis for the other machines.
    pub remote: bool,
}

impl Recipients {
    /// `worker` alone, reached `via`.
    pub fn one(worker: WorkerId, via: Via) -> Recipients {
        let mut recipients = Recipients::default();
        recipients.add(worker, via);
        recipients
    }

    fn add(&mut self, worker: WorkerId, via: Via) {
        match via {
            Via::Link => self.links.push(worker),
            Via::Ipc => self.ipc.push(worker),
            Via::Remote => self.remote = true,
            Via::Gone => {}
        }
    }

    pub fn is_empty(&self) -> bool {
        self.links.is_empty() && self.ipc.is_empty() && !self.remote
    }
}

#[derive(Debug)]
pub struct Switchboard {
    router: Router,
    reach: BTreeMap<WorkerId, Via>,
    rooms: RoomViews,
    /// Off: every message reaches every other worker, as the reference's primary does.
    route_by_room: bool,
}

impl Default for Switchboard {
    fn default() -> Self {
        Self::with_route_by_room(true)
    }
}

impl Switchboard {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_route_by_room(route_by_room: bool) -> Self {
        Switchboard {
            router: Router::new(),
            reach: BTreeMap::new(),
            rooms: RoomViews::new(),
            route_by_room,
        }
    }

    /// A worker of the cluster, reached over IPC until it switches. Known workers keep their path.
    pub fn add_worker(&mut self, worker: WorkerId) {
        self.reach.entry(worker).or_insert(Via::Ipc);
    }

    /// Other machines are reached through Redis: they get what every worker gets, and the
    /// responses to their adapters.
    pub fn add_remote(&mut self) {
        self.reach.insert(REMOTE, Via::Remote);
        // Redis subscribes the rooms the views hold: count them as they come and go.
        self.rooms.track_holders();
    }

    /// The rooms some view came to hold or no view holds any more since the last call (with
    /// Redis, see [`RoomViews::take_changes`]).
    pub fn take_room_changes(&mut self) -> HashMap<String, HashSet<String>> {
        self.rooms.take_changes()
    }

    /// The adapters of this machine's workers, as `(uid, nsp)`.
    pub fn local_adapters(&self) -> impl Iterator<Item = (&str, &str)> {
        self.router.adapters_where(|owner| owner != REMOTE)
    }

    /// Whether `uid` is an adapter of this machine (a message from Redis with it is our own echo).
    pub fn is_local_adapter(&self, uid: &str) -> bool {
        self.router.owner(uid).is_some_and(|owner| owner != REMOTE)
    }

    /// Whether the hub knows the whole room set of every linked worker with an adapter in `nsp`.
    pub fn views_settled(&self, nsp: &str) -> bool {
        self.reach.iter().all(|(&worker, &path)| {
            path != Via::Link
                || self.router.adapters(worker, nsp).is_empty()
                || self.rooms.is_known(worker, nsp)
        })
    }

    /// Each worker may hold `max_bytes` of adapters (see [`MAX_ADAPTER_BYTES`]).
    ///
    /// [`MAX_ADAPTER_BYTES`]: crate::routing::MAX_ADAPTER_BYTES
    pub fn limit_adapters(&mut self, max_bytes: usize) {
        self.router.set_max_bytes(max_bytes);
    }

    /// The adapters known (uids), their bytes in the table, and the messages refused because
    /// their sender held as many adapters as it may.
    pub fn adapter_stats(&self) -> (usize, usize, u64) {
        (
            self.router.known_uids(),
            self.router.bytes(),
            self.router.refused(),
        )
    }

    pub fn via(&self, worker: WorkerId) -> Option<Via> {
        self.reach.get(&worker).copied()
    }

    /// Who receives a message `from` sent over `via` (IPC or its link).
    pub fn route(
        &mut self,
        from: WorkerId,
        via: Via,
        header: &Header,
    ) -> Result<Recipients, RouteError> {
        if via == Via::Ipc {
            // It speaks over IPC, so it is alive and reachable there (a Gone worker is back).
            let path = self.reach.entry(from).or_insert(Via::Ipc);
            if *path == Via::Gone {
                *path = Via::Ipc;
            }
        }
        let mut recipients = Recipients::default();
        let route = if from == REMOTE || header.uid == EMITTER_UID {
            // Other machines' servers are not learnt: their memory would grow with every server
            // that ever ran (plain redis-adapter servers never say they leave), and a response
            // to one of them needs no owner (below). Nor is an Emitter (a standalone hub's, over
            // a link): it is no server, and every Emitter has the same uid.
            self.router.route_unrecorded(from, header)
        } else {
            self.router.route(from, header)
        };
        match route {
            Route::ToWorker(worker) => match self.via(worker) {
                Some(Via::Gone) | None => return Err(RouteError::RequesterGone(worker)),
                Some(path) => recipients.add(worker, path),
            },
            Route::AllExcept(sender) => recipients = self.fan_out(sender, header),
            // A response to an adapter of no worker here is for another machine's server.
            Route::Drop(_)
                if from != REMOTE
                    && header.kind.is_response()
                    && header.requester_uid.is_some()
                    && self.reach.contains_key(&REMOTE) =>
            {
                recipients.remote = true;
            }
            Route::Drop(reason) => return Err(reason),
        }
        if header.kind == MessageType::AdapterClose {
            // Its successor in the namespace, if any, reports its rooms afresh.
            self.rooms.adapter_closed(from, &header.nsp);
        }
        Ok(recipients)
    }

    /// Who receives a message the primary made itself (the Emitter's): every worker it concerns,
    /// exactly as for a worker's message, but nothing is learnt from it (its uid is no server's)
    /// and nobody is left out as its sender. Only messages that expect no answer: nobody would
    /// receive them.
    pub fn route_from_primary(&self, header: &Header) -> Result<Recipients, RouteError> {
        let unanswered = header.request_id.is_none()
            && matches!(
                header.kind,
                MessageType::Broadcast
                    | MessageType::SocketsJoin
                    | MessageType::SocketsLeave
                    | MessageType::DisconnectSockets
                    | MessageType::ServerSideEmit
            );
        if !unanswered {
            return Err(RouteError::NotFromPrimary(header.kind));
        }
        Ok(self.fan_out(PRIMARY, header))
    }

    /// Every reachable worker but `sender`, less those routing by room leaves out.
    fn fan_out(&self, sender: WorkerId, header: &Header) -> Recipients {
        let mut recipients = Recipients::default();
        let by_room = self.route_by_room && addressed_to_rooms(header);
        for (&worker, &path) in &self.reach {
            if worker == sender {
                continue;
            }
            if by_room
                && path == Via::Link
                && !self.rooms.reaches(worker, &header.nsp, &header.rooms)
            {
                recipients.skipped.push(worker);
            } else {
                recipients.add(worker, path);
            }
        }
        recipients
    }

    /// The answers the skipped workers' adapters would have sent to `request`, for its sender.
    pub fn answers(&self, request: &Header, skipped: &[WorkerId]) -> Vec<Frame> {
        skipped
            .iter()
            .flat_map(|&worker| self.router.adapters(worker, &request.nsp))
            .filter_map(|uid| answer_for_skipped(request, uid))
            .collect()
    }

    /// A worker's ROOMS_CHANGED, read from its link.
    pub fn rooms_changed(&mut self, from: WorkerId, header: &Header) {
        if !self.route_by_room || self.via(from) != Some(Via::Link) {
            return;
        }
        // Its uid is its adapter of the namespace: the hub answers in its name when it skips it.
        // An adapter past the worker's bound is not learnt, nor are its rooms (its view stays
        // unknown: it gets every message addressed to rooms).
        if self.router.record(from, header).is_ok() {
            self.rooms.apply(from, header);
        }
    }

    /// A join of `rooms` (SOCKETS_JOIN, or a restored session's rooms) was queued for `worker`:
    /// as link frame `pin` if it is on its link, else over IPC (pass [`IPC_PIN`]).
    ///
    /// [`IPC_PIN`]: crate::rooms::IPC_PIN
    pub fn pin(&mut self, worker: WorkerId, nsp: &str, rooms: &[String], pin: Pin) {
        if self.route_by_room && matches!(self.via(worker), Some(Via::Link | Via::Ipc)) {
            self.rooms.pin(worker, nsp, rooms, pin);
        }
    }

    pub fn rooms(&self) -> &RoomViews {
        &self.rooms
    }

    /// The worker's link is up and it has switched: from now on it is reached over its link.
    pub fn switch_to_link(&mut self, worker: WorkerId) {
        self.reach.insert(worker, Via::Link);
        self.rooms.switched(worker);
    }

    /// A new link of the worker opened: it counts its frames from 1 again.
    pub fn link_opened(&mut self, worker: WorkerId) {
        self.rooms.new_link(worker);
    }

    /// Its link closed: it receives nothing until it speaks again, and the adapters it held are
    /// returned, to be announced closed to the others.
    pub fn link_closed(&mut self, worker: WorkerId) -> Vec<(String, String)> {
        if let Some(path) = self.reach.get_mut(&worker) {
            *path = Via::Gone;
        }
        self.rooms.new_link(worker);
        self.router.remove_worker(worker)
    }

    /// The worker exited: forget it, and return the adapters it held.
    pub fn remove_worker(&mut self, worker: WorkerId) -> Vec<(String, String)> {
        self.reach.remove(&worker);
        self.rooms.remove(worker);
        self.router.remove_worker(worker)
    }

    /// Every reachable worker but `worker`.
    pub fn others(&self, worker: WorkerId) -> Recipients {
        let mut recipients = Recipients::default();
        for (&other, &path) in &self.reach {
            if other != worker {
                recipients.add(other, path);
            }
        }
        recipients
    }
}

/// Types whose reach socket.io-adapter limits to `opts.rooms`, when there are any (`except` only
/// ever narrows it further, on the receiving side).
fn addressed_to_rooms(header: &Header) -> bool {
    !header.rooms.is_empty()
        && matches!(
            header.kind,
            MessageType::Broadcast
                | MessageType::SocketsJoin
                | MessageType::SocketsLeave
                | MessageType::DisconnectSockets
                | MessageType::FetchSockets
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageType;

    fn header(kind: MessageType, uid: &str, requester: Option<&str>) -> Header {
        Header {
            request_id: requester.map(|_| "r1".into()),
            requester_uid: requester.map(Into::into),
            ..Header::new(kind, "/", uid)
        }
    }

    fn board() -> Switchboard {
        let mut board = Switchboard::new();
        for worker in 1..=3 {
            board.add_worker(worker);
        }
        board
    }

    #[test]
    fn broadcasts_reach_every_other_worker_split_by_path() {
        let mut board = board();
        board.switch_to_link(2);
        let to = board
            .route(1, Via::Ipc, &header(MessageType::Broadcast, "a", None))
            .unwrap();
        assert_eq!(
            to,
            Recipients {
                links: vec![2],
                ipc: vec![3],
                skipped: vec![],
                remote: false,
            }
        );
    }

    #[test]
    fn responses_reach_the_requester_only() {
        let mut board = board();
        board.switch_to_link(1);
        board
            .route(
                1,
                Via::Link,
                &header(MessageType::FetchSockets, "req", Some("x")),
            )
            .unwrap();
        let to = board
            .route(
                3,
                Via::Ipc,
                &header(MessageType::FetchSocketsResponse, "c", Some("req")),
            )
            .unwrap();
        assert_eq!(
            to,
            Recipients {
                links: vec![1],
                ipc: vec![],
                skipped: vec![],
                remote: false,
            }
        );
    }

    #[test]
    fn a_closed_link_makes_a_worker_gone_until_it_speaks_over_ipc() {
        let mut board = board();
        board.switch_to_link(2);
        board
            .route(2, Via::Link, &header(MessageType::Heartbeat, "b", None))
            .unwrap();
        assert_eq!(
            board.link_closed(2),
            vec![("b".to_string(), "/".to_string())]
        );
        assert_eq!(
            board.others(1),
            Recipients {
                links: vec![],
                ipc: vec![3],
                skipped: vec![],
                remote: false,
            }
        );
        let err = board
            .route(
                1,
                Via::Ipc,
                &header(MessageType::FetchSocketsResponse, "a", Some("b")),
            )
            .unwrap_err();
        assert_eq!(err, RouteError::UnknownRequester("b".into()));

        board
            .route(2, Via::Ipc, &header(MessageType::Heartbeat, "b", None))
            .unwrap();
        assert_eq!(board.via(2), Some(Via::Ipc));
        assert_eq!(
            board.others(1),
            Recipients {
                links: vec![],
                ipc: vec![2, 3],
                skipped: vec![],
                remote: false,
            }
        );
    }

    #[test]
    fn an_exited_worker_is_forgotten_with_its_adapters() {
        let mut board = board();
        board
            .route(
                3,
                Via::Ipc,
                &header(MessageType::InitialHeartbeat, "c", None),
            )
            .unwrap();
        assert_eq!(
            board.remove_worker(3),
            vec![("c".to_string(), "/".to_string())]
        );
        assert_eq!(board.via(3), None);
        assert_eq!(
            board.others(1),
            Recipients {
                links: vec![],
                ipc: vec![2],
                skipped: vec![],
                remote: false,
            }
        );
    }

    fn to_rooms(kind: MessageType, uid: &str, rooms: &[&str]) -> Header {
        Header {
            rooms: rooms.iter().map(|r| r.to_string()).collect(),
            request_id: Some("q1".into()),
            ..Header::new(kind, "/", uid)
        }
    }

    fn rooms_changed(uid: &str, joined: &[&str]) -> Header {
        Header {
            joined: joined.iter().map(|r| r.to_string()).collect(),
            applied: Some(0),
            reset: true,
            ..Header::new(MessageType::RoomsChanged, "/", uid)
        }
    }

    /// Workers 1 and 2 on their links with known rooms, worker 3 on its link with unknown rooms,
    /// worker 4 on IPC.
    fn board_by_room(route_by_room: bool) -> Switchboard {
        let mut board = Switchboard::with_route_by_room(route_by_room);
        for worker in 1..=4 {
            board.add_worker(worker);
        }
        for worker in 1..=3 {
            board.switch_to_link(worker);
        }
        board.rooms_changed(1, &rooms_changed("a", &["r1"]));
        board.rooms_changed(2, &rooms_changed("b", &["r2"]));
        board
    }

    fn broadcast_from_1(board: &mut Switchboard, room: &str) -> Recipients {
        let header = to_rooms(MessageType::Broadcast, "a", &[room]);
        board.route(1, Via::Link, &header).unwrap()
    }

    #[test]
    fn a_message_to_rooms_skips_linked_workers_known_not_to_hold_them() {
        let mut board = board_by_room(true);
        let to = broadcast_from_1(&mut board, "r1");
        assert_eq!(
            to,
            Recipients {
                links: vec![3],
                ipc: vec![4],
                skipped: vec![2],
                remote: false,
            }
        );
        let to = board
            .route(
                4,
                Via::Ipc,
                &to_rooms(MessageType::FetchSockets, "d", &["x", "r2"]),
            )
            .unwrap();
        assert_eq!((to.links, to.skipped), (vec![2, 3], vec![1]));
        // Without rooms, or of another type, everyone gets it.
        for header in [
            to_rooms(MessageType::Broadcast, "a", &[]),
            to_rooms(MessageType::ServerSideEmit, "a", &["r1"]),
        ] {
            assert!(board
                .route(1, Via::Link, &header)
                .unwrap()
                .skipped
                .is_empty());
        }
    }

    #[test]
    fn the_hub_answers_requests_for_the_adapters_of_skipped_workers() {
        let mut board = board_by_room(true);
        let request = to_rooms(MessageType::FetchSockets, "a", &["r1"]);
        let to = board.route(1, Via::Link, &request).unwrap();
        let answers = board.answers(&request, &to.skipped);
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].header.kind, MessageType::FetchSocketsResponse);
        assert_eq!(answers[0].header.uid, "b");
        assert_eq!(answers[0].header.requester_uid.as_deref(), Some("a"));
        // A plain broadcast expects no answer.
        let broadcast = Header {
            request_id: None,
            ..to_rooms(MessageType::Broadcast, "a", &["r1"])
        };
        assert!(board.answers(&broadcast, &[2]).is_empty());
    }

    #[test]
    fn joins_pin_rooms_and_a_closed_adapter_or_link_makes_the_view_unknown() {
        let mut board = board_by_room(true);
        board.pin(2, "/", &["r9".to_string()], 4);
        let to = broadcast_from_1(&mut board, "r9");
        assert!(to.skipped.is_empty());
        board
            .route(
                2,
                Via::Link,
                &Header::new(MessageType::AdapterClose, "/", "b"),
            )
            .unwrap();
        assert!(!board.rooms().is_known(2, "/"));
        board.link_closed(1);
        assert!(!board.rooms().is_known(1, "/"));
    }

    #[test]
    fn a_message_of_the_primary_reaches_every_worker_it_concerns_and_teaches_nothing() {
        let mut board = board_by_room(true);
        let to_r1 = to_rooms(MessageType::Broadcast, "emitter", &["r1"]);
        let to_r1 = Header {
            request_id: None,
            ..to_r1
        };
        let expected = Recipients {
            links: vec![1, 3],
            ipc: vec![4],
            skipped: vec![2],
            remote: false,
        };
        assert_eq!(board.route_from_primary(&to_r1).unwrap(), expected);
        let to_all = Header::new(MessageType::ServerSideEmit, "/", "emitter");
        let to = board.route_from_primary(&to_all).unwrap();
        assert_eq!((to.links, to.ipc), (vec![1, 2, 3], vec![4]));
        assert_eq!(board.router.owner("emitter"), None);
        // Its answers would have nowhere to go.
        for kind in [MessageType::FetchSockets, MessageType::Broadcast] {
            let request = to_rooms(kind, "emitter", &["r1"]);
            assert!(board.route_from_primary(&request).is_err());
        }
        let err = board
            .route_from_primary(&Header::new(MessageType::Heartbeat, "/", "emitter"))
            .unwrap_err();
        assert_eq!(err, RouteError::NotFromPrimary(MessageType::Heartbeat));
        assert!(err.to_string().contains("HEARTBEAT"), "{err}");
        // Routing it changed nothing for the workers' own messages.
        assert_eq!(
            broadcast_from_1(&mut board, "r1"),
            Recipients {
                links: vec![3],
                ipc: vec![4],
                skipped: vec![2],
                remote: false,
            }
        );
    }

    #[test]
    fn without_routing_by_room_everyone_gets_everything() {
        let mut board = board_by_room(false);
        let to = broadcast_from_1(&mut board, "r1");
        assert_eq!(
            to,
            Recipients {
                links: vec![2, 3],
                ipc: vec![4],
                skipped: vec![],
                remote: false,
            }
        );
        assert!(!board.rooms().is_known(2, "/"));
    }

    #[test]
    fn other_machines_get_what_every_worker_gets_and_their_responses() {
        let mut board = board();
        board.add_remote();
        let to = board
            .route(1, Via::Ipc, &header(MessageType::Broadcast, "a", None))
            .unwrap();
        assert!(to.remote);
        assert_eq!(to.ipc, vec![2, 3]);
        // From another machine: every worker here, nothing back to Redis, nothing learnt.
        let from_remote = board
            .route(
                REMOTE,
                Via::Remote,
                &header(MessageType::FetchSockets, "far", None),
            )
            .unwrap();
        assert!(!from_remote.remote);
        assert_eq!(from_remote.ipc, vec![1, 2, 3]);
        assert!(!board.is_local_adapter("far"));
        assert_eq!(board.router.owner("far"), None);
        // A response to it goes to Redis; a response to a worker here stays here.
        let to_far = board
            .route(
                2,
                Via::Ipc,
                &header(MessageType::FetchSocketsResponse, "b", Some("far")),
            )
            .unwrap();
        assert!(to_far.remote && to_far.ipc.is_empty());
        let to_a = board
            .route(
                REMOTE,
                Via::Remote,
                &header(MessageType::FetchSocketsResponse, "far", Some("a")),
            )
            .unwrap();
        assert_eq!((to_a.ipc, to_a.remote), (vec![1], false));
        assert!(board.is_local_adapter("a"));
        // Without Redis a response to an unknown requester is dropped, as before.
        let mut alone = super::tests::board();
        alone
            .route(1, Via::Ipc, &header(MessageType::Broadcast, "a", None))
            .unwrap();
        assert!(alone
            .route(
                2,
                Via::Ipc,
                &header(MessageType::FetchSocketsResponse, "b", Some("far"))
            )
            .is_err());
    }

    fn heartbeat(uid: &str, nsp: &str) -> Header {
        Header::new(MessageType::Heartbeat, nsp, uid)
    }

    /// Issue 15, finding 11: a worker's uid table is bounded; past it a new adapter's message is
    /// dropped (counted), the others' adapters are unaffected, and forgetting frees the bytes.
    #[test]
    fn a_worker_holds_a_bounded_number_of_adapters() {
        let mut board = board();
        board.limit_adapters(64 * 1024);
        let mut accepted = 0;
        for i in 0..100_000 {
            let uid = format!("uid-{i:08}");
            if board
                .route(2, Via::Ipc, &heartbeat(&uid, &format!("/n{i}")))
                .is_ok()
            {
                accepted += 1;
            }
        }
        let (uids, bytes, refused) = board.adapter_stats();
        assert!(
            accepted > 0 && accepted < 1000,
            "{accepted} adapters accepted"
        );
        assert_eq!((uids, refused), (accepted, 100_000 - accepted as u64));
        assert!(bytes <= 64 * 1024, "{bytes}");
        // Another worker is not refused.
        board.route(1, Via::Ipc, &heartbeat("a", "/")).unwrap();
        // Its closing announces what it holds: no more than the bound.
        let orphans = board.remove_worker(2);
        assert_eq!(orphans.len(), accepted);
        let announced: usize = orphans
            .iter()
            .map(|(uid, nsp)| {
                crate::encode_frame(
                    &Header::new(MessageType::AdapterClose, nsp.as_str(), uid.as_str()),
                    &[],
                )
                .unwrap()
                .len()
            })
            .sum();
        assert!(announced <= 64 * 1024, "{announced}");
        assert_eq!(
            board.adapter_stats(),
            (1, crate::adapter_cost("a", "/"), refused)
        );
    }

    /// The suspected item of issue 15: the hub answers a request once per adapter of a skipped
    /// worker in the namespace (what the requester counts: one response per uid it knows), and
    /// a worker may hold at most MAX_ADAPTERS_PER_NAMESPACE there, so one request costs a bounded
    /// number of answers.
    #[test]
    fn answers_for_a_skipped_worker_are_one_per_adapter_and_bounded() {
        let mut board = board_by_room(true);
        // Two socket.io servers in worker 2's process: two adapters of "/", each answered for.
        board.rooms_changed(2, &rooms_changed("b2", &["r2"]));
        let request = to_rooms(MessageType::FetchSockets, "a", &["r1"]);
        let to = board.route(1, Via::Link, &request).unwrap();
        let uids: Vec<String> = board
            .answers(&request, &to.skipped)
            .into_iter()
            .map(|answer| answer.header.uid)
            .collect();
        assert_eq!(uids, vec!["b", "b2"]);
        // A worker that invents uids in one namespace does not multiply the answers.
        for i in 0..1000 {
            let _ = board.route(2, Via::Link, &heartbeat(&format!("x{i}"), "/"));
        }
        let to = board.route(1, Via::Link, &request).unwrap();
        assert_eq!(to.skipped, vec![2]);
        let answers = board.answers(&request, &to.skipped);
        assert_eq!(answers.len(), 64);
        assert_eq!(board.adapter_stats().2, 1000 - 62);
    }
}
