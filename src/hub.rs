//! `NativeHub`: the hub, started by the primary's `setupPrimary()` or as a standalone hub
//! (lib/standalone-hub.js).

use std::sync::Arc;

use napi::bindgen_prelude::{Buffer, Function};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::Unknown;
use napi_derive::napi;
use sio_cluster_core::{stored_by_workers, validate, SubscriptionMode};
use sio_cluster_hub::redis_bridge::{RedisOptions, StreamsOptions};
use sio_cluster_hub::standalone::group_id;
use sio_cluster_hub::{Backlog, Hub, HubEvent, HubOptions, HubStats, StandaloneOptions};

use crate::error::BindingError;
use crate::js_view::JsView;
use crate::runtime;
use crate::wire::WireFrame;

/// What the user set of `setupPrimary()`'s options (checked by lib/options.js); what is absent
/// takes the hub's defaults (`HubOptions`, `RecoveryLimits`, `RedisOptions`).
#[napi(object)]
pub struct NativeHubOptions {
    /// Bytes queued for one worker before it is disconnected as too slow.
    pub max_queue_bytes: Option<f64>,
    /// Bounds of the packet log of connection state recovery.
    pub recovery_max_packets: Option<f64>,
    pub recovery_max_bytes: Option<f64>,
    pub recovery_max_sessions: Option<f64>,
    pub recovery_max_session_bytes: Option<f64>,
    /// Send a message addressed to rooms only to the workers holding one of them.
    pub route_by_room: Option<bool>,
    /// Bridge to the other machines through Redis: the server's URL, or some nodes of a Cluster
    /// (`redis_cluster`).
    pub redis_nodes: Option<Vec<String>>,
    pub redis_cluster: Option<bool>,
    pub redis_channel_prefix: Option<String>,
    /// One of `subscriptionModes()`.
    pub redis_subscription_mode: Option<String>,
    /// Count each worker as a subscriber of its namespace's channel (mixed fleets).
    pub redis_count_each_worker: Option<bool>,
    /// "streams": speak `@socket.io/redis-streams-adapter`'s protocol (the options below are
    /// its `createAdapter`'s); otherwise the sharded adapter's.
    pub redis_mode: Option<String>,
    pub redis_stream_name: Option<String>,
    pub redis_stream_count: Option<u32>,
    pub redis_max_len: Option<f64>,
    pub redis_read_count: Option<f64>,
    pub redis_block_time_in_ms: Option<f64>,
    pub redis_session_key_prefix: Option<String>,
    pub redis_use_sharded_pub_sub: Option<bool>,
    pub redis_only_plaintext: Option<bool>,
    /// A standalone hub: its socket's path (the secret goes to `<socket>.secret`), and a group,
    /// by name or gid, whose processes may link too.
    pub socket: Option<String>,
    pub group: Option<String>,
}

/// Where a standalone hub listening on `socket` keeps its secret (the hub writes it, workers read
/// it).
#[napi]
pub fn standalone_secret_file(socket: String) -> String {
    sio_cluster_hub::standalone::secret_file(socket.as_ref())
        .to_string_lossy()
        .into_owned()
}

/// What a hub event tells the primary (lib/primary.js compares against these values).
#[napi(string_enum = "lowercase")]
pub enum HubEventKind {
    /// `frame`, for the workers `to` reached over IPC.
    Deliver,
    /// `worker` switched to its link.
    Flushed,
    /// `message`, for the debug log.
    Log,
}

#[napi(object)]
pub struct HubEventJs {
    pub kind: HubEventKind,
    /// For "deliver": the workers (reached over IPC) that must receive `frame`.
    pub to: Option<Vec<u32>>,
    pub frame: Option<WireFrame>,
    /// For "flushed": the worker that switched to its link.
    pub worker: Option<u32>,
    pub message: Option<String>,
}

impl From<HubEvent> for HubEventJs {
    fn from(event: HubEvent) -> Self {
        let none = |kind| HubEventJs {
            kind,
            to: None,
            frame: None,
            worker: None,
            message: None,
        };
        match event {
            HubEvent::Deliver { to, frame } => HubEventJs {
                to: Some(to),
                frame: Some(WireFrame::new(&frame.header, frame.payload())),
                ..none(HubEventKind::Deliver)
            },
            HubEvent::Flushed { worker } => HubEventJs {
                worker: Some(worker),
                ..none(HubEventKind::Flushed)
            },
            HubEvent::Log { message } => HubEventJs {
                message: Some(message),
                ..none(HubEventKind::Log)
            },
        }
    }
}

/// What the primary does with an IPC message besides what the hub sent on links.
#[napi(string_enum = "lowercase")]
pub enum IpcAction {
    /// Send it to `to` over IPC.
    Ipc,
    /// Send it nowhere (`reason`).
    Drop,
}

/// Where an IPC message goes besides the links: to `to` over IPC, or nowhere (`reason`).
#[napi(object)]
pub struct IpcRoute {
    pub action: IpcAction,
    pub to: Vec<u32>,
    pub reason: Option<String>,
}

#[napi]
pub struct NativeHub {
    hub: Option<Hub>,
}

#[napi]
impl NativeHub {
    #[napi(constructor, catch_unwind)]
    pub fn new(
        options: Option<NativeHubOptions>,
        on_event: Function<HubEventJs, ()>,
    ) -> napi::Result<Self> {
        let mut hub_options = HubOptions::default();
        if let Some(options) = options {
            let set = |target: &mut usize, value: Option<f64>| {
                if let Some(value) = value {
                    *target = value as usize;
                }
            };
            set(&mut hub_options.max_queue_bytes, options.max_queue_bytes);
            set(
                &mut hub_options.recovery.max_packets,
                options.recovery_max_packets,
            );
            set(
                &mut hub_options.recovery.max_bytes,
                options.recovery_max_bytes,
            );
            set(
                &mut hub_options.recovery.max_sessions,
                options.recovery_max_sessions,
            );
            set(
                &mut hub_options.recovery.max_session_bytes,
                options.recovery_max_session_bytes,
            );
            if let Some(route_by_room) = options.route_by_room {
                hub_options.route_by_room = route_by_room;
            }
            if let Some(nodes) = options.redis_nodes {
                let mut redis = RedisOptions {
                    nodes,
                    ..RedisOptions::default()
                };
                if let Some(cluster) = options.redis_cluster {
                    redis.cluster = cluster;
                }
                if let Some(count_each_worker) = options.redis_count_each_worker {
                    redis.count_each_worker = count_each_worker;
                }
                if let Some(prefix) = options.redis_channel_prefix {
                    redis.channel_prefix = prefix;
                }
                if let Some(mode) = options.redis_subscription_mode {
                    redis.mode = SubscriptionMode::parse(&mode)
                        .ok_or(BindingError::UnknownSubscriptionMode(mode))?;
                }
                if options.redis_mode.as_deref() == Some("streams") {
                    let mut streams = StreamsOptions::default();
                    if let Some(name) = options.redis_stream_name {
                        streams.stream_name = name;
                    }
                    if let Some(count) = options.redis_stream_count {
                        streams.stream_count = count;
                    }
                    let set = |target: &mut u64, value: Option<f64>| {
                        if let Some(value) = value {
                            *target = value as u64;
                        }
                    };
                    set(&mut streams.max_len, options.redis_max_len);
                    set(&mut streams.read_count, options.redis_read_count);
                    set(&mut streams.block_time_ms, options.redis_block_time_in_ms);
                    if let Some(prefix) = options.redis_session_key_prefix {
                        streams.session_key_prefix = prefix;
                    }
                    if let Some(sharded) = options.redis_use_sharded_pub_sub {
                        streams.use_sharded_pubsub = sharded;
                    }
                    if let Some(plain) = options.redis_only_plaintext {
                        streams.only_plaintext = plain;
                    }
                    redis.streams = Some(streams);
                }
                hub_options.redis = Some(redis);
            }
            if let Some(socket) = options.socket {
                let group = options
                    .group
                    .as_deref()
                    .map(group_id)
                    .transpose()
                    .map_err(BindingError::HubStart)?;
                hub_options.standalone = Some(StandaloneOptions {
                    socket: socket.into(),
                    group,
                });
            }
        }
        // napi's queue of a threadsafe function has no bound of its own: what waits in it for the
        // primary's JS thread counts against `maxQueueBytes` until that thread takes it (see
        // `Backlog`), and the hub drops what would exceed it.
        let backlog = Arc::new(Backlog::new(hub_options.max_queue_bytes));
        let taken = backlog.clone();
        let callback = on_event
            .build_threadsafe_function::<HubEvent>()
            .callee_handled::<false>()
            .weak::<true>()
            .build_callback(move |ctx| {
                taken.taken(&ctx.value);
                Ok(HubEventJs::from(ctx.value))
            })?;
        let refused = backlog.clone();
        let sink = Arc::new(move |event: HubEvent| {
            let cost = Backlog::cost(&event);
            if callback.call(event, ThreadsafeFunctionCallMode::NonBlocking) != napi::Status::Ok {
                // Not queued (the JS side is gone): never to be taken.
                refused.release(cost);
            }
        });
        let hub = Hub::start_bridged(runtime::handle()?, hub_options, sink, backlog)
            .map_err(BindingError::HubStart)?;
        Ok(NativeHub { hub: Some(hub) })
    }

    fn hub(&self) -> napi::Result<&Hub> {
        self.hub.as_ref().ok_or(BindingError::HubClosed.into())
    }

    #[napi(getter)]
    pub fn path(&self) -> napi::Result<String> {
        Ok(self.hub()?.path().to_string_lossy().into_owned())
    }

    #[napi(getter)]
    pub fn secret(&self) -> napi::Result<String> {
        Ok(self.hub()?.secret().to_hex())
    }

    #[napi(getter)]
    pub fn needs_payload(&self) -> bool {
        self.hub.as_ref().is_some_and(Hub::needs_payload)
    }

    #[napi(catch_unwind)]
    pub fn allow(&self, worker: u32, pid: u32) -> napi::Result<()> {
        self.hub()?.allow(worker, pid);
        Ok(())
    }

    /// Validates a message that worker `from` sent over IPC and routes it: linked recipients get
    /// a frame of it (hence `payload`, its serialized `data`, when any worker is linked).
    #[napi(catch_unwind)]
    pub fn route_ipc(
        &self,
        from: u32,
        message: Unknown,
        payload: Option<Buffer>,
    ) -> napi::Result<IpcRoute> {
        let hub = self.hub()?;
        let route = validate(&JsView::new(message))
            .map_err(|invalid| invalid.reason)
            .and_then(|header| {
                hub.route_ipc(from, &header, payload.as_deref().unwrap_or_default())
                    .map_err(|error| error.to_string())
            });
        Ok(match route {
            Ok(to) => IpcRoute {
                action: IpcAction::Ipc,
                to,
                reason: None,
            },
            Err(reason) => IpcRoute {
                action: IpcAction::Drop,
                to: vec![],
                reason: Some(reason),
            },
        })
    }

    /// Routes a message the primary made itself (the Emitter's), from no worker; a broadcast
    /// that workers with recovery would store gets its place in the recovery log first. Returns
    /// the workers to send it to over IPC; throws if the message is invalid or expects answers.
    #[napi(catch_unwind)]
    pub fn inject(&self, message: Unknown, payload: Buffer) -> napi::Result<Vec<u32>> {
        let hub = self.hub()?;
        let view = JsView::new(message);
        let header = validate(&view).map_err(BindingError::Invalid)?;
        let header = sio_cluster_core::Header {
            store: stored_by_workers(&view),
            ..header
        };
        Ok(hub.inject(&header, &payload).map_err(BindingError::Hub)?)
    }

    #[napi(catch_unwind)]
    pub fn switch(&self, worker: u32) -> napi::Result<bool> {
        Ok(self.hub()?.switch(worker))
    }

    #[napi(catch_unwind)]
    pub fn remove_worker(&self, worker: u32) -> napi::Result<()> {
        self.hub()?.remove_worker(worker);
        Ok(())
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> napi::Result<HubStats> {
        Ok(self.hub()?.stats())
    }

    /// Stops the hub and removes its socket and directory.
    #[napi(catch_unwind)]
    pub fn close(&mut self) {
        self.hub = None;
    }
}
