//! The hub's view of the rooms each worker has, per namespace, so that a message addressed to
//! rooms reaches only the workers holding at least one of them.
//!
//! The rule: the view of a worker's rooms is never smaller than what that worker told it (in link
//! order, with ROOMS_CHANGED) plus every join that passed through the hub. A worker reports its
//! rooms late: a join the hub forwarded may still be on its way when the worker reports a `left`
//! for that room, or a snapshot without it. So every join the hub forwards *pins* its rooms: a pin
//! is the number of the link frame that carried the join, and the worker's reports remove a
//! pinned room only once they say (`applied`) that the worker had applied that frame.
//!
//! - [`IPC_PIN`] (0) pins a join that reached the worker over IPC, or on a link before the current
//!   one: no frame number of this link tells when it was applied, but any report carrying
//!   `applied` does, since the worker sends `applied` only once it has fully switched to its link,
//!   after everything that came before.
//! - A view is *unknown* until a ROOMS_CHANGED with `reset` gives the worker's whole set; an
//!   unknown view keeps only pins (to merge into the reset) and lets every message through.
//! - Memory: the rooms of known views mirror the worker's own; pins of unknown views are bounded by
//!   [`MAX_PENDING_PINS`] per worker, beyond which they fold into one pin that keeps every view of
//!   the worker unknown until a report's `applied` reaches it.

use std::collections::{HashMap, HashSet};

use crate::header::Header;
use crate::routing::WorkerId;

/// The number of the link frame that carried a join (frames are counted from 1 on each link), or
/// [`IPC_PIN`].
pub type Pin = u64;

/// The pin of a join whose frame number on the current link is unknown.
pub const IPC_PIN: Pin = 0;

/// Pinned rooms kept per worker in views not yet known, before they fold into one pin.
pub const MAX_PENDING_PINS: usize = 10_000;

/// The most bytes of room views (and pins) the hub keeps for one worker, counted as
/// [`room_cost`] says: about 500,000 rooms of 30-character names. Past it, the worker's views and
/// pins fold into one pin (as [`MAX_PENDING_PINS`] does): every message addressed to rooms reaches
/// that worker (as without routing by room) until a report's `applied` reaches the pin and a new
/// `reset` (a worker sends its whole set when it links) makes a view known again within the
/// bound. Counted in `roomOverflows`.
pub const MAX_ROOM_BYTES: usize = 64 << 20;

/// What a room costs in a view: its name and its entry in the view's map (measured: 1,000,000
/// reported rooms of short names took the hub 143 MB).
pub fn room_cost(room: &str) -> usize {
    const ENTRY_OVERHEAD: usize = 96;
    room.len() + ENTRY_OVERHEAD
}

#[derive(Debug, Default)]
pub struct RoomViews {
    workers: HashMap<WorkerId, WorkerRooms>,
    /// Of every worker's views, as [`room_cost`] counts them.
    bytes: usize,
    /// Times a worker's views were folded because they reached [`MAX_ROOM_BYTES`].
    overflows: u64,
    held: Held,
}

/// How many views hold each room, kept only when asked ([`RoomViews::track_holders`]: Redis
/// subscribes a channel per room some view holds), and the rooms whose count went from or to zero
/// since [`RoomViews::take_changes`]. The rule: a subscription reconcile costs what changed since
/// the last one, never a walk of every room. Bound: one count per distinct (namespace, room) held,
/// and one entry per room changed since the last reconcile (at most one per room ever held).
#[derive(Debug, Default)]
struct Held {
    on: bool,
    counts: HashMap<String, HashMap<String, usize>>,
    changed: HashMap<String, HashSet<String>>,
}

impl Held {
    fn gained(&mut self, nsp: &str, room: &str) {
        if !self.on {
            return;
        }
        let rooms = match self.counts.get_mut(nsp) {
            Some(rooms) => rooms,
            None => self.counts.entry(nsp.to_string()).or_default(),
        };
        match rooms.get_mut(room) {
            Some(count) => *count += 1,
            None => {
                rooms.insert(room.to_string(), 1);
                self.changed(nsp, room);
            }
        }
    }

    fn lost(&mut self, nsp: &str, room: &str) {
        if !self.on {
            return;
        }
        let Some(rooms) = self.counts.get_mut(nsp) else {
            return;
        };
        let Some(count) = rooms.get_mut(room) else {
            return;
        };
        *count -= 1;
        if *count == 0 {
            rooms.remove(room);
            if rooms.is_empty() {
                self.counts.remove(nsp);
            }
            self.changed(nsp, room);
        }
    }

    fn changed(&mut self, nsp: &str, room: &str) {
        let rooms = match self.changed.get_mut(nsp) {
            Some(rooms) => rooms,
            None => self.changed.entry(nsp.to_string()).or_default(),
        };
        if !rooms.contains(room) {
            rooms.insert(room.to_string());
        }
    }

    fn lost_view(&mut self, nsp: &str, view: &NspRooms) {
        for room in view.rooms.keys() {
            self.lost(nsp, room);
        }
    }
}

#[derive(Debug, Default)]
struct WorkerRooms {
    nsps: HashMap<String, NspRooms>,
    /// Pins folded together when too many were pending: while set, every view of the worker is
    /// unknown.
    folded: Option<Pin>,
    /// The sum of its views' `bytes`.
    bytes: usize,
}

#[derive(Debug, Default)]
struct NspRooms {
    /// A reset was applied: `rooms` holds the worker's whole set (and pinned rooms).
    complete: bool,
    /// Room -> its pin, if pinned.
    rooms: HashMap<String, Option<Pin>>,
    /// Its namespace's name and its rooms, as [`room_cost`] counts them.
    bytes: usize,
}

/// Whether a report saying the worker had applied `applied` frames may remove a room pinned at
/// `pin`. A report without `applied` comes before the worker fully switched, perhaps before it
/// applied any join: it removes only unpinned rooms.
fn removable(pin: Option<Pin>, applied: Option<u64>) -> bool {
    match (pin, applied) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(pin), Some(applied)) => applied >= pin,
    }
}

impl RoomViews {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `worker` may hold a member of `rooms` in `nsp`: yes unless its view is known and
    /// holds none of them.
    pub fn reaches(&self, worker: WorkerId, nsp: &str, rooms: &[String]) -> bool {
        match self.known_view(worker, nsp) {
            Some(view) => rooms.iter().any(|room| view.rooms.contains_key(room)),
            None => true,
        }
    }

    /// Whether the hub knows the whole room set of `worker` in `nsp`.
    pub fn is_known(&self, worker: WorkerId, nsp: &str) -> bool {
        self.known_view(worker, nsp).is_some()
    }

    fn known_view(&self, worker: WorkerId, nsp: &str) -> Option<&NspRooms> {
        let rooms = self.workers.get(&worker)?;
        if rooms.folded.is_some() {
            return None;
        }
        rooms.nsps.get(nsp).filter(|view| view.complete)
    }

    /// Runs `change` on `worker`'s views, keeping the byte counts and the bound.
    fn change<R>(
        &mut self,
        worker: WorkerId,
        change: impl FnOnce(&mut WorkerRooms, &mut Held) -> R,
    ) -> R {
        let held = &mut self.held;
        let worker_rooms = self.workers.entry(worker).or_default();
        let before = worker_rooms.bytes;
        let result = change(worker_rooms, held);
        // The rule: a worker's views hold at most MAX_ROOM_BYTES; past it they fold into one pin
        // (the worker then gets every message addressed to rooms).
        if worker_rooms.bytes > MAX_ROOM_BYTES {
            worker_rooms.fold(true, held);
            self.overflows += 1;
        }
        self.bytes = self.bytes - before + worker_rooms.bytes;
        if worker_rooms.nsps.is_empty() && worker_rooms.folded.is_none() {
            self.workers.remove(&worker);
        }
        result
    }

    /// A join of `rooms` in `nsp` was forwarded to `worker`, as link frame `pin` (or over IPC).
    pub fn pin(&mut self, worker: WorkerId, nsp: &str, rooms: &[String], pin: Pin) {
        if rooms.is_empty() {
            return;
        }
        self.change(worker, |worker_rooms, held| {
            if let Some(folded) = &mut worker_rooms.folded {
                *folded = (*folded).max(pin);
                return;
            }
            let view = worker_rooms.view(nsp);
            let before = view.bytes;
            for room in rooms {
                let slot = view.slot(nsp, room, held);
                *slot = Some(slot.map_or(pin, |old| old.max(pin)));
            }
            let complete = view.complete;
            worker_rooms.bytes = worker_rooms.bytes - before + view_bytes(worker_rooms, nsp);
            if !complete {
                worker_rooms.bound_pending(held);
            }
        })
    }

    /// Applies a worker's ROOMS_CHANGED (`header.nsp`, `joined`, `left`, `applied`, `reset`).
    pub fn apply(&mut self, worker: WorkerId, header: &Header) {
        let applied = header.applied;
        self.change(worker, |worker_rooms, held| {
            if let (Some(folded), Some(applied)) = (worker_rooms.folded, applied) {
                if applied >= folded {
                    worker_rooms.folded = None;
                }
            }
            let view = worker_rooms.view(&header.nsp);
            let before = view.bytes;
            if header.reset {
                // What the snapshot lacks is gone, unless a join the worker may not have applied
                // yet pinned it.
                view.retain(&header.nsp, held, |pin| !removable(pin, applied));
                view.complete = true;
            } else {
                for room in &header.left {
                    if view
                        .rooms
                        .get(room)
                        .is_some_and(|pin| removable(*pin, applied))
                    {
                        view.remove(&header.nsp, room, held);
                    }
                }
            }
            // An unknown view keeps pins only: its other rooms would mean nothing until a reset.
            if view.complete {
                for room in &header.joined {
                    view.slot(&header.nsp, room, held);
                }
            }
            worker_rooms.bytes =
                worker_rooms.bytes - before + view_bytes(worker_rooms, &header.nsp);
        })
    }

    /// The worker's adapter of `nsp` closed: a new one reports its rooms afresh.
    pub fn adapter_closed(&mut self, worker: WorkerId, nsp: &str) {
        if !self.workers.contains_key(&worker) {
            return;
        }
        self.change(worker, |worker_rooms, held| {
            if let Some(view) = worker_rooms.nsps.get_mut(nsp) {
                let before = view.bytes;
                view.forget(nsp, held);
                worker_rooms.bytes = worker_rooms.bytes - before + view_bytes(worker_rooms, nsp);
            }
            worker_rooms.bound_pending(held);
        })
    }

    /// The worker switched to its link: it reports its rooms afresh there. Pins stay (the frame
    /// count of its link goes on).
    pub fn switched(&mut self, worker: WorkerId) {
        if !self.workers.contains_key(&worker) {
            return;
        }
        self.change(worker, |worker_rooms, held| {
            for (nsp, view) in &mut worker_rooms.nsps {
                view.forget(nsp, held);
            }
            worker_rooms.recount();
            worker_rooms.bound_pending(held);
        })
    }

    /// A link of the worker opened or closed: views are unknown, and pins lose their frame number
    /// (the next link counts from 1), becoming [`IPC_PIN`]s.
    pub fn new_link(&mut self, worker: WorkerId) {
        if !self.workers.contains_key(&worker) {
            return;
        }
        self.change(worker, |worker_rooms, held| {
            for (nsp, view) in &mut worker_rooms.nsps {
                view.forget(nsp, held);
                view.rooms.values_mut().for_each(|pin| *pin = Some(IPC_PIN));
            }
            worker_rooms.folded = worker_rooms.folded.map(|_| IPC_PIN);
            worker_rooms.recount();
            worker_rooms.bound_pending(held);
        })
    }

    /// The worker exited.
    pub fn remove(&mut self, worker: WorkerId) {
        if let Some(worker_rooms) = self.workers.remove(&worker) {
            self.bytes -= worker_rooms.bytes;
            for (nsp, view) in &worker_rooms.nsps {
                self.held.lost_view(nsp, view);
            }
        }
    }

    /// Counts, from now on, how many views hold each room, and records which rooms come and go
    /// (see [`RoomViews::take_changes`]). Call before any room is held.
    pub fn track_holders(&mut self) {
        self.held.on = true;
    }

    /// Whether some view holds `room` of `nsp` (pinned or known). Needs [`Self::track_holders`].
    pub fn holds(&self, nsp: &str, room: &str) -> bool {
        self.held
            .counts
            .get(nsp)
            .is_some_and(|rooms| rooms.contains_key(room))
    }

    /// The rooms, by namespace, that some view came to hold or that no view holds any more since
    /// the last call: what a subscription reconcile looks at, instead of every room.
    pub fn take_changes(&mut self) -> HashMap<String, HashSet<String>> {
        std::mem::take(&mut self.held.changed)
    }

    /// Rooms held for `worker` (pinned or known), for tests and diagnostics.
    pub fn rooms_held(&self, worker: WorkerId) -> usize {
        self.workers
            .get(&worker)
            .map_or(0, |w| w.nsps.values().map(|view| view.rooms.len()).sum())
    }

    /// The bytes of every view, as [`room_cost`] counts them.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Times a worker's views reached [`MAX_ROOM_BYTES`] and were folded.
    pub fn overflows(&self) -> u64 {
        self.overflows
    }
}

fn view_bytes(worker_rooms: &WorkerRooms, nsp: &str) -> usize {
    worker_rooms.nsps.get(nsp).map_or(0, |view| view.bytes)
}

impl NspRooms {
    fn new(nsp: &str) -> Self {
        NspRooms {
            bytes: room_cost(nsp),
            ..NspRooms::default()
        }
    }

    /// The room's pin, the room added (unpinned) if it was not there.
    fn slot(&mut self, nsp: &str, room: &str, held: &mut Held) -> &mut Option<Pin> {
        if !self.rooms.contains_key(room) {
            self.bytes += room_cost(room);
            held.gained(nsp, room);
        }
        match self.rooms.get_mut(room) {
            Some(_) => {}
            None => {
                self.rooms.insert(room.to_string(), None);
            }
        }
        self.rooms.get_mut(room).expect("inserted above")
    }

    fn remove(&mut self, nsp: &str, room: &str, held: &mut Held) {
        if self.rooms.remove(room).is_some() {
            self.bytes -= room_cost(room);
            held.lost(nsp, room);
        }
    }

    fn retain(&mut self, nsp: &str, held: &mut Held, mut keep: impl FnMut(Option<Pin>) -> bool) {
        let mut freed = 0;
        self.rooms.retain(|room, pin| {
            let kept = keep(*pin);
            if !kept {
                freed += room_cost(room);
                held.lost(nsp, room);
            }
            kept
        });
        self.bytes -= freed;
    }

    /// Becomes unknown: only pinned rooms matter until the next reset.
    fn forget(&mut self, nsp: &str, held: &mut Held) {
        self.complete = false;
        self.retain(nsp, held, |pin| pin.is_some());
    }
}

impl WorkerRooms {
    fn view(&mut self, nsp: &str) -> &mut NspRooms {
        if !self.nsps.contains_key(nsp) {
            let view = NspRooms::new(nsp);
            self.bytes += view.bytes;
            self.nsps.insert(nsp.to_string(), view);
        }
        self.nsps.get_mut(nsp).expect("inserted above")
    }

    fn recount(&mut self) {
        self.bytes = self.nsps.values().map(|view| view.bytes).sum();
    }

    /// Folds the pins of unknown views into one when there are too many of them.
    fn bound_pending(&mut self, held: &mut Held) {
        let pending: usize = self
            .nsps
            .values()
            .filter(|view| !view.complete)
            .map(|view| view.rooms.len())
            .sum();
        if pending <= MAX_PENDING_PINS {
            self.nsps
                .retain(|_, view| view.complete || !view.rooms.is_empty());
            self.recount();
            return;
        }
        self.fold(false, held);
    }

    /// Folds pins into one; `all`: known views too (they reached the byte bound), else only the
    /// unknown ones.
    fn fold(&mut self, all: bool, held: &mut Held) {
        let mut folded = self.folded.unwrap_or(IPC_PIN);
        for view in self.nsps.values().filter(|view| all || !view.complete) {
            for pin in view.rooms.values().flatten() {
                folded = folded.max(*pin);
            }
        }
        self.folded = Some(folded);
        self.nsps.retain(|nsp, view| {
            let kept = !all && view.complete;
            if !kept {
                held.lost_view(nsp, view);
            }
            kept
        });
        self.recount();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageType;

    fn names(rooms: &[&str]) -> Vec<String> {
        rooms.iter().map(|room| room.to_string()).collect()
    }

    fn changed(joined: &[&str], left: &[&str], applied: Option<u64>, reset: bool) -> Header {
        Header {
            joined: names(joined),
            left: names(left),
            applied,
            reset,
            ..Header::new(MessageType::RoomsChanged, "/", "w1")
        }
    }

    fn reaches(views: &RoomViews, room: &str) -> bool {
        views.reaches(1, "/", &names(&[room]))
    }

    #[test]
    fn an_unknown_view_receives_everything_until_a_reset() {
        let mut views = RoomViews::new();
        assert!(reaches(&views, "a"));
        // Changes without a reset do not make the view known.
        views.apply(1, &changed(&["a"], &[], Some(1), false));
        assert!(!views.is_known(1, "/"));
        assert!(reaches(&views, "b"));

        views.apply(1, &changed(&["a"], &[], Some(1), true));
        assert!(views.is_known(1, "/"));
        assert!(reaches(&views, "a"));
        assert!(!reaches(&views, "b"));
        // Another namespace stays unknown.
        assert!(views.reaches(1, "/admin", &names(&["b"])));
        assert!(views.reaches(2, "/", &names(&["b"])));
    }

    #[test]
    fn joins_and_leaves_follow_the_reports() {
        let mut views = RoomViews::new();
        views.apply(1, &changed(&["a", "b"], &[], None, true));
        views.apply(1, &changed(&["c"], &["a"], None, false));
        assert!(!reaches(&views, "a"));
        assert!(reaches(&views, "b") && reaches(&views, "c"));
        // Any of the message's rooms is enough.
        assert!(views.reaches(1, "/", &names(&["x", "c"])));
        // A reset replaces the set.
        views.apply(1, &changed(&["d"], &[], Some(3), true));
        assert!(!reaches(&views, "b") && !reaches(&views, "c"));
        assert!(reaches(&views, "d"));
        assert_eq!(views.rooms_held(1), 1);
    }

    #[test]
    fn a_stale_left_does_not_remove_a_room_pinned_by_a_join_the_worker_had_not_applied() {
        let mut views = RoomViews::new();
        views.apply(1, &changed(&["a"], &[], Some(2), true));
        views.pin(1, "/", &names(&["a", "b"]), 5);
        assert!(reaches(&views, "b"));
        // Sent after applying frame 4: before the join of frame 5.
        views.apply(1, &changed(&[], &["a", "b"], Some(4), false));
        assert!(reaches(&views, "a") && reaches(&views, "b"));
        // Without `applied`, nothing pinned goes either.
        views.apply(1, &changed(&[], &["a"], None, false));
        assert!(reaches(&views, "a"));
        // A reset sent before the join keeps the pinned rooms too.
        views.apply(1, &changed(&[], &[], Some(4), true));
        assert!(reaches(&views, "a") && reaches(&views, "b"));
        // Once the worker had applied frame 5, its `left` is the truth.
        views.apply(1, &changed(&[], &["a"], Some(5), false));
        assert!(!reaches(&views, "a"));
        views.apply(1, &changed(&[], &["b"], Some(9), false));
        assert!(!reaches(&views, "b"));
        // A removed room lost its pin: joined again unpinned, an old report removes it.
        views.apply(1, &changed(&["a"], &[], Some(10), false));
        views.apply(1, &changed(&[], &["a"], Some(10), false));
        assert!(!reaches(&views, "a"));
    }

    #[test]
    fn a_later_pin_wins() {
        let mut views = RoomViews::new();
        views.apply(1, &changed(&[], &[], Some(0), true));
        views.pin(1, "/", &names(&["a"]), 7);
        views.pin(1, "/", &names(&["a"]), 3);
        views.apply(1, &changed(&[], &["a"], Some(6), false));
        assert!(reaches(&views, "a"));
        views.apply(1, &changed(&[], &["a"], Some(7), false));
        assert!(!reaches(&views, "a"));
    }

    #[test]
    fn ipc_pins_survive_a_reset_and_only_a_report_with_applied_clears_them() {
        let mut views = RoomViews::new();
        // Joins reached the worker over IPC, before it linked.
        views.pin(1, "/", &names(&["a"]), IPC_PIN);
        views.switched(1);
        views.new_link(1);
        // Its snapshot was taken before it applied them.
        views.apply(1, &changed(&["x"], &[], None, true));
        assert!(reaches(&views, "a") && reaches(&views, "x"));
        views.apply(1, &changed(&[], &["a"], None, false));
        assert!(reaches(&views, "a"));
        // Fully switched: everything from IPC is applied, its report is the truth.
        views.apply(1, &changed(&[], &["a"], Some(1), false));
        assert!(!reaches(&views, "a"));
    }

    #[test]
    fn a_new_link_makes_views_unknown_and_pins_lose_their_frame_number() {
        let mut views = RoomViews::new();
        views.apply(1, &changed(&["a"], &[], Some(1), true));
        views.pin(1, "/", &names(&["b"]), 40);
        views.new_link(1);
        assert!(!views.is_known(1, "/"));
        // The unpinned room is forgotten, the pinned one waits for the next reset.
        assert_eq!(views.rooms_held(1), 1);
        views.apply(1, &changed(&[], &[], Some(2), true));
        assert!(views.is_known(1, "/"));
        assert!(
            !reaches(&views, "b"),
            "frame 40 of the old link is not frame 40 of this one"
        );
    }

    #[test]
    fn a_closed_adapter_makes_its_namespace_unknown() {
        let mut views = RoomViews::new();
        views.apply(1, &changed(&["a"], &[], Some(1), true));
        views.adapter_closed(1, "/");
        assert!(!views.is_known(1, "/"));
        assert_eq!(views.rooms_held(1), 0);
        views.remove(1);
        assert_eq!(views.rooms_held(1), 0);
    }

    #[test]
    fn too_many_pending_pins_fold_into_one_that_keeps_the_worker_unknown() {
        let mut views = RoomViews::new();
        views.apply(1, &changed(&["known"], &[], None, true));
        let many: Vec<String> = (0..=MAX_PENDING_PINS).map(|i| format!("r{i}")).collect();
        views.pin(1, "/other", &many, 8);
        assert_eq!(views.rooms_held(1), 1, "the pending pins are folded");
        assert!(!views.is_known(1, "/"));
        views.pin(1, "/other", &names(&["late"]), 12);
        views.apply(1, &changed(&["known"], &[], Some(11), true));
        assert!(!views.is_known(1, "/"));
        views.apply(1, &changed(&[], &[], Some(12), false));
        assert!(views.is_known(1, "/"));
        assert!(reaches(&views, "known"));
    }

    /// Issue 15, finding 11: a worker's views are counted, and past MAX_ROOM_BYTES they fold:
    /// the worker gets every message addressed to rooms, and the bytes are freed.
    #[test]
    fn views_are_counted_and_fold_past_the_byte_bound() {
        let mut views = RoomViews::new();
        views.apply(2, &changed(&["other"], &[], None, true));
        let two = views.bytes();
        assert_eq!(two, room_cost("/") + room_cost("other"));
        views.apply(1, &changed(&["known"], &[], None, true));
        assert!(views.is_known(1, "/"));
        let long = "x".repeat(1000);
        let rooms: Vec<String> = (0..MAX_ROOM_BYTES / 1000)
            .map(|i| format!("{long}{i}"))
            .collect();
        let mut report = changed(&[], &[], Some(3), false);
        report.joined = rooms;
        views.apply(1, &report);
        assert_eq!(views.overflows(), 1);
        assert!(!views.is_known(1, "/"));
        assert!(reaches(&views, "anything"));
        assert_eq!(views.bytes(), two, "worker 1's rooms are freed");
        assert!(views.is_known(2, "/"));
        views.remove(2);
        assert_eq!(views.bytes(), 0);
    }
}
