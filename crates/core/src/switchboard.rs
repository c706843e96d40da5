//! The hub's view of the workers: how each one is reached right now, and so who receives a
//! message by which path.
//!
//! A worker starts on IPC (the primary's JavaScript relays for it), moves to its own link once it
//! has connected and switched, and is `Gone` once its link closed (it may still live: it is
//! reachable again as soon as it speaks over IPC or links again). Gone workers receive nothing,
//! which is what bounds the hub's memory when a worker stops reading.

use std::collections::BTreeMap;

use crate::header::Header;
use crate::routing::{Route, Router, WorkerId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    Ipc,
    Link,
    Gone,
}

/// The recipients of one message, split by the path that reaches them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipients {
    pub links: Vec<WorkerId>,
    pub ipc: Vec<WorkerId>,
}

impl Recipients {
    fn add(&mut self, worker: WorkerId, path: Path) {
        match path {
            Path::Link => self.links.push(worker),
            Path::Ipc => self.ipc.push(worker),
            Path::Gone => {}
        }
    }

    pub fn is_empty(&self) -> bool {
        self.links.is_empty() && self.ipc.is_empty()
    }
}

#[derive(Debug, Default)]
pub struct Switchboard {
    router: Router,
    paths: BTreeMap<WorkerId, Path>,
}

impl Switchboard {
    pub fn new() -> Self {
        Self::default()
    }

    /// A worker of the cluster, reached over IPC until it switches. Known workers keep their path.
    pub fn add_worker(&mut self, worker: WorkerId) {
        self.paths.entry(worker).or_insert(Path::Ipc);
    }

    pub fn path(&self, worker: WorkerId) -> Option<Path> {
        self.paths.get(&worker).copied()
    }

    /// Who receives a message `from` sent over `via` (IPC or its link).
    pub fn route(
        &mut self,
        from: WorkerId,
        via: Path,
        header: &Header,
    ) -> Result<Recipients, String> {
        if via == Path::Ipc {
            // It speaks over IPC, so it is alive and reachable there (a Gone worker is back).
            let path = self.paths.entry(from).or_insert(Path::Ipc);
            if *path == Path::Gone {
                *path = Path::Ipc;
            }
        }
        let mut recipients = Recipients::default();
        match self.router.route(from, header) {
            Route::ToWorker(worker) => match self.path(worker) {
                Some(Path::Gone) | None => {
                    return Err(format!("requester's worker {worker} is gone"))
                }
                Some(path) => recipients.add(worker, path),
            },
            Route::AllExcept(sender) => {
                for (&worker, &path) in &self.paths {
                    if worker != sender {
                        recipients.add(worker, path);
                    }
                }
            }
            Route::Drop(reason) => return Err(reason),
        }
        Ok(recipients)
    }

    /// The worker's link is up and it has switched: from now on it is reached over its link.
    pub fn switch_to_link(&mut self, worker: WorkerId) {
        self.paths.insert(worker, Path::Link);
    }

    /// Its link closed: it receives nothing until it speaks again, and the adapters it held are
    /// returned, to be announced closed to the others.
    pub fn link_closed(&mut self, worker: WorkerId) -> Vec<(String, String)> {
        if let Some(path) = self.paths.get_mut(&worker) {
            *path = Path::Gone;
        }
        self.router.remove_worker(worker)
    }

    /// The worker exited: forget it, and return the adapters it held.
    pub fn remove_worker(&mut self, worker: WorkerId) -> Vec<(String, String)> {
        self.paths.remove(&worker);
        self.router.remove_worker(worker)
    }

    /// Every reachable worker but `worker`.
    pub fn others(&self, worker: WorkerId) -> Recipients {
        let mut recipients = Recipients::default();
        for (&other, &path) in &self.paths {
            if other != worker {
                recipients.add(other, path);
            }
        }
        recipients
    }
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
            .route(1, Path::Ipc, &header(MessageType::Broadcast, "a", None))
            .unwrap();
        assert_eq!(
            to,
            Recipients {
                links: vec![2],
                ipc: vec![3]
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
                Path::Link,
                &header(MessageType::FetchSockets, "req", Some("x")),
            )
            .unwrap();
        let to = board
            .route(
                3,
                Path::Ipc,
                &header(MessageType::FetchSocketsResponse, "c", Some("req")),
            )
            .unwrap();
        assert_eq!(
            to,
            Recipients {
                links: vec![1],
                ipc: vec![]
            }
        );
    }

    #[test]
    fn a_closed_link_makes_a_worker_gone_until_it_speaks_over_ipc() {
        let mut board = board();
        board.switch_to_link(2);
        board
            .route(2, Path::Link, &header(MessageType::Heartbeat, "b", None))
            .unwrap();
        assert_eq!(
            board.link_closed(2),
            vec![("b".to_string(), "/".to_string())]
        );
        assert_eq!(
            board.others(1),
            Recipients {
                links: vec![],
                ipc: vec![3]
            }
        );
        let err = board
            .route(
                1,
                Path::Ipc,
                &header(MessageType::FetchSocketsResponse, "a", Some("b")),
            )
            .unwrap_err();
        assert!(err.contains("unknown requester"), "{err}");

        board
            .route(2, Path::Ipc, &header(MessageType::Heartbeat, "b", None))
            .unwrap();
        assert_eq!(board.path(2), Some(Path::Ipc));
        assert_eq!(
            board.others(1),
            Recipients {
                links: vec![],
                ipc: vec![2, 3]
            }
        );
    }

    #[test]
    fn an_exited_worker_is_forgotten_with_its_adapters() {
        let mut board = board();
        board
            .route(
                3,
                Path::Ipc,
                &header(MessageType::InitialHeartbeat, "c", None),
            )
            .unwrap();
        assert_eq!(
            board.remove_worker(3),
            vec![("c".to_string(), "/".to_string())]
        );
        assert_eq!(board.path(3), None);
        assert_eq!(
            board.others(1),
            Recipients {
                links: vec![],
                ipc: vec![2]
            }
        );
    }
}
