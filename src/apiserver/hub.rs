//! The apiserver hub: the only way components read and write cluster state.
//!
//! A request is submitted at some virtual time and arrives a fixed latency later. On the ideal
//! path it is then executed against the [`Store`] and answered at once; on the modelled path
//! (`request_path.rs`) flow control admits, queues or refuses it there, and a started request
//! holds its seats for a service time before it is answered. Every committed change is fanned
//! out to the matching watches, each after its own delay.
//!
//! With `spec.apiserver.replicas` above one, the hub is a control plane: one store, several
//! kube-apiserver processes (`replica.rs`, each its own flow control and watch caches), and
//! the load balancer (`load_balancer.rs`) that sends each arriving request to the replica its
//! client is connected to.
//!
//! The hub never touches the event queue: each call returns [`ApiOutput`]s — events to schedule,
//! responses and watch events to hand to clients — and the world routes them.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::admission;
use super::apply;
use super::eviction;
use super::load_balancer::LoadBalancer;
use super::replica::{Replica, summed_level_metrics};
use super::request::{
    ApiError, ClientId, DeleteOptions, ListOptions, PatchOp, PropagationPolicy, Request,
    RequestBody, RequestId, Response, ResponseBody, Subresource, Verb, WatchId,
};
use super::request_path::{RequestPath, RequestPathConfig};
use super::restart::{CacheRefusal, Process, RestartRecord};
use super::store::{ChangeType, Store};
use super::watch::{Watch, WatchEvent, WatchRegistry};
use super::watch_list;
use crate::api::meta::{FOREGROUND_FINALIZER, ORPHAN_FINALIZER, ObjectMeta};
use crate::api::pod::{PodCondition, PodPhase};
use crate::api::priority_class::Namespace;
use crate::api::validation::{
    FieldErrors, validate_node, validate_pdb, validate_pod, validate_update,
};
use crate::api::{Kind, Object, ObjectKey, ResourceVersion, Uid};
use crate::config::feature_gates::ApiServerFeatureGates;
use crate::sim::{SimDuration, SimRng, SimTime, TraceDigest};

/// Apiserver settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiServerConfig {
    /// Time from a request's submission to its arrival: on the ideal path it executes then
    /// (no limits); on the modelled path flow control takes it from there.
    pub admission_latency: SimDuration,
    /// Default time from a commit to a watcher seeing it.
    pub watch_delay: SimDuration,
    /// The request path: ideal (the default) or flow control with service times.
    pub request_path: RequestPathConfig,
    /// Changes retained for watches; older versions get 410 Gone.
    pub watch_history: usize,
    /// Finish graceful pod deletions at the deadline in the apiserver itself: only when no
    /// kubelets run, since otherwise a pod's kubelet sends its final delete.
    pub complete_graceful_deletions: bool,
    /// Keep a record of every write (for `events.jsonl`).
    pub record_writes: bool,
    /// How long an Event lives after its last write (`--event-ttl`, default 1h). Upstream
    /// attaches an etcd lease, which may fire up to a minute later; kubesim deletes it at the
    /// TTL exactly.
    pub event_ttl: SimDuration,
    /// The `tolerationSeconds` of the `node.kubernetes.io/not-ready:NoExecute` toleration
    /// DefaultTolerationSeconds adds (`--default-not-ready-toleration-seconds`, default 300).
    pub default_not_ready_toleration_seconds: i64,
    /// kube-apiserver processes behind the load balancer (`spec.apiserver.replicas`, default
    /// 1), each with its own flow control and watch caches (`replica.rs`).
    pub replicas: u32,
    /// `--goaway-chance` in parts per billion (`load_balancer.rs`; default 0, at most
    /// 20 000 000, upstream's 0.02).
    pub goaway_chance_ppb: u32,
    /// The same for `node.kubernetes.io/unreachable:NoExecute`
    /// (`--default-unreachable-toleration-seconds`, default 300).
    pub default_unreachable_toleration_seconds: i64,
    /// `--feature-gates` kubesim models (`WatchList`: streaming lists, `watch_list.rs`).
    pub feature_gates: ApiServerFeatureGates,
}

impl Default for ApiServerConfig {
    fn default() -> Self {
        ApiServerConfig {
            admission_latency: SimDuration::from_millis(1),
            watch_delay: SimDuration::from_millis(1),
            request_path: RequestPathConfig::default(),
            watch_history: 100_000,
            complete_graceful_deletions: true,
            record_writes: false,
            event_ttl: SimDuration::from_mins(60),
            default_not_ready_toleration_seconds: admission::DEFAULT_NOT_READY_TOLERATION_SECONDS,
            default_unreachable_toleration_seconds:
                admission::DEFAULT_UNREACHABLE_TOLERATION_SECONDS,
            replicas: 1,
            goaway_chance_ppb: 0,
            feature_gates: ApiServerFeatureGates::default(),
        }
    }
}

/// Something the hub asks the world to do.
#[derive(Debug, PartialEq)]
pub enum ApiOutput {
    /// Schedule `event` at `at` and hand it back to [`ApiServer::handle`] then.
    Schedule(SimTime, ApiEvent),
    /// Give `response` to the client that sent `request`.
    Respond {
        /// The client.
        client: ClientId,
        /// The request answered.
        request: RequestId,
        /// The answer.
        response: Response,
    },
    /// Give a watch event to a client.
    Deliver {
        /// The client.
        client: ClientId,
        /// The watch it arrives on.
        watch: WatchId,
        /// The event.
        event: WatchEvent,
    },
    /// A client's watch ended without an error event: its stream closed (the server's
    /// `timeoutSeconds` ran out, or the apiserver went away).
    WatchEnded {
        /// The client.
        client: ClientId,
        /// The watch.
        watch: WatchId,
    },
}

/// The hub's own events.
#[derive(Debug, PartialEq)]
pub enum ApiEvent {
    /// The request arrived: execute it (ideal path) or hand it to flow control.
    Execute(RequestId),
    /// A started request's service time is over (modelled path): answer it.
    Complete(RequestId),
    /// The flow control of replica `.0` has something due (modelled path; background).
    FlowControlWakeup(u32),
    /// A watch event reaches its watcher.
    Deliver(WatchId, WatchEvent),
    /// A watch's `timeoutSeconds` ran out (modelled path): the server ends it.
    EndWatch(WatchId),
    /// A graceful deletion's grace period is over.
    FinishDeletion {
        /// Kind.
        kind: Kind,
        /// Key.
        key: ObjectKey,
        /// The object that started terminating (a new one with the same name is left alone).
        uid: Uid,
    },
    /// An Event's TTL may be over.
    ExpireEvent {
        /// Key.
        key: ObjectKey,
        /// The version whose TTL this is: a later write renewed the TTL.
        resource_version: ResourceVersion,
    },
}

impl ApiEvent {
    /// A word for the trace digest.
    pub fn fingerprint(&self) -> u64 {
        match self {
            ApiEvent::Execute(id) => id.0,
            ApiEvent::Complete(id) => id.0 ^ (0xC0 << 56),
            // Replica 0's is the single apiserver's word of old.
            ApiEvent::FlowControlWakeup(replica) => 0xF10C ^ (u64::from(*replica) << 16),
            ApiEvent::Deliver(w, e) => (u64::from(w.0) << 40) ^ e.resource_version.0,
            ApiEvent::EndWatch(w) => u64::from(w.0) | (0xE0 << 56),
            ApiEvent::FinishDeletion { uid, .. } => uid.0 | (1 << 63),
            ApiEvent::ExpireEvent {
                resource_version, ..
            } => resource_version.0 | (3 << 62),
        }
    }
}

/// One committed write, as `events.jsonl` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteRecord {
    /// When it committed.
    pub at: SimTime,
    /// The verb of the request (deletions finished by the apiserver are `delete`).
    pub verb: Verb,
    /// Subresource written, if any.
    pub subresource: Option<Subresource>,
    /// Who wrote.
    pub user: String,
    /// Kind.
    pub kind: Kind,
    /// Namespace and name.
    pub key: ObjectKey,
    /// The version it committed at.
    pub resource_version: ResourceVersion,
    /// What happened to the object.
    pub change: ChangeType,
    /// A workload's desired size after the write.
    pub replicas: Option<i32>,
    /// An HPA's `status.currentReplicas` and `status.desiredReplicas` after the write.
    pub hpa_replicas: Option<(i32, i32)>,
    /// The node of a binding.
    pub node: Option<String>,
    /// An Event's reason.
    pub reason: Option<String>,
    /// A pod status write's phase and readiness (its `Ready` condition).
    pub pod_status: Option<(PodPhase, bool)>,
    /// A ReplicaSet or Deployment status write's `readyReplicas` and `availableReplicas`.
    pub workload_status: Option<(i32, i32)>,
    /// A graceful delete's `deletionTimestamp` (when the object goes unless finalizers hold it).
    pub deletion_timestamp: Option<SimTime>,
}

/// Counters the hub keeps, named after the real apiserver metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiCounters {
    /// `apiserver_request_total` by (verb, resource, code).
    pub requests: BTreeMap<(Verb, Kind, u16), u64>,
    /// Watch events delivered.
    pub watch_events_delivered: u64,
}

/// The apiserver.
pub struct ApiServer {
    pub(super) config: ApiServerConfig,
    pub(super) store: Store,
    /// Requests sent and not yet executed.
    pub(super) in_flight: BTreeMap<RequestId, Request>,
    next_request: u64,
    pub(super) watches: WatchRegistry,
    pub(super) counters: ApiCounters,
    /// The modelled request path's shared part (etcd, what is counted over every replica),
    /// when the scenario turns it on.
    pub(super) path: Option<Box<RequestPath>>,
    /// The kube-apiserver processes: each up or down, its watch caches, its flow control.
    pub(super) replicas: Vec<Replica>,
    /// Which replica each client is connected to.
    pub(super) balancer: LoadBalancer,
    writes: Vec<WriteRecord>,
    names: SimRng,
    cluster_ips: admission::ClusterIps,
    commits: TraceDigest,
}

impl ApiServer {
    /// An apiserver with an empty store; `names` draws generated name suffixes. The load
    /// balancer draws from streams of seed 0 until [`ApiServer::seed_load_balancer`] gives it
    /// the run's.
    pub fn new(config: ApiServerConfig, names: SimRng) -> Self {
        let replicas = config.replicas.max(1) as usize;
        ApiServer {
            store: Store::new(config.watch_history),
            path: RequestPath::new(&config.request_path, SimTime::ZERO).map(Box::new),
            replicas: (0..replicas)
                .map(|_| Replica::new(&config.request_path, SimTime::ZERO))
                .collect(),
            balancer: load_balancer(&config, crate::sim::RngStreams::new(0)),
            config,
            in_flight: BTreeMap::new(),
            next_request: 0,
            watches: WatchRegistry::default(),
            counters: ApiCounters::default(),
            writes: Vec::new(),
            names,
            cluster_ips: admission::ClusterIps::default(),
            commits: TraceDigest::new(),
        }
    }

    /// Gives the load balancer the run's streams (`apiserver/load-balancer`,
    /// `apiserver/goaway`); call before the first request.
    pub fn seed_load_balancer(&mut self, streams: crate::sim::RngStreams) {
        self.balancer = load_balancer(&self.config, streams);
    }

    /// The kube-apiserver replicas, in index order.
    pub fn replicas(&self) -> &[Replica] {
        &self.replicas
    }

    /// The first replica's process: the apiserver's, when it runs as one process (the
    /// default).
    pub fn process(&self) -> &Process {
        &self.replicas[0].process
    }

    /// The load balancer: each client's connection and what each replica was given.
    pub fn load_balancer(&self) -> &LoadBalancer {
        &self.balancer
    }

    /// Whether some replica is up (serves requests).
    pub fn is_up(&self) -> bool {
        self.replicas.iter().any(|r| !r.process.is_down())
    }

    /// Requests refused at the connection: no replica was up.
    pub fn connections_refused(&self) -> u64 {
        self.balancer.refused()
    }

    /// Requests whose connection was reset when their replica went down, over every replica.
    pub fn connections_reset(&self) -> u64 {
        self.replicas.iter().map(|r| r.process.reset()).sum()
    }

    /// Every replica's restarts with the replica's index, in the order they began (ties by
    /// index).
    pub fn restart_history(&self) -> Vec<(usize, RestartRecord)> {
        let mut all: Vec<(usize, RestartRecord)> = self
            .replicas
            .iter()
            .enumerate()
            .flat_map(|(i, r)| r.process.history().iter().map(move |&h| (i, h)))
            .collect();
        all.sort_by_key(|&(i, h)| (h.down_at, i));
        all
    }

    /// Flow control's per-level metrics of the control plane: one replica's own, or each
    /// level's summed over the replicas (`replica::summed_level_metrics`); empty on the
    /// ideal path.
    pub fn level_metrics(
        &self,
    ) -> std::borrow::Cow<'_, [crate::apiserver::flowcontrol::LevelMetrics]> {
        match self.replicas.as_slice() {
            [one] => std::borrow::Cow::Borrowed(one.level_metrics()),
            many => std::borrow::Cow::Owned(summed_level_metrics(many)),
        }
    }

    /// The store, for observers (metrics, reports) that read ground truth without a request.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The configuration.
    pub fn config(&self) -> &ApiServerConfig {
        &self.config
    }

    /// The counters.
    pub fn counters(&self) -> &ApiCounters {
        &self.counters
    }

    /// The write records kept so far (empty unless `record_writes`).
    pub fn writes(&self) -> &[WriteRecord] {
        &self.writes
    }

    /// A digest of every committed change (kind, key, version, what happened, a pod's node, a
    /// workload's size), in commit order: two runs that wrote the same things in the same order
    /// have the same one, and two that placed a pod differently do not.
    pub fn commit_digest(&self) -> &TraceDigest {
        &self.commits
    }

    /// Open watches.
    pub fn watches(&self) -> &WatchRegistry {
        &self.watches
    }

    /// Accepts `request` at `now`; returns its id. Execution is scheduled through `out`.
    pub fn submit(
        &mut self,
        now: SimTime,
        request: Request,
        out: &mut Vec<ApiOutput>,
    ) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        self.in_flight.insert(id, request);
        out.push(ApiOutput::Schedule(
            now + self.config.admission_latency,
            ApiEvent::Execute(id),
        ));
        id
    }

    /// Request `id`, while it waits to execute.
    pub fn pending_request(&self, id: RequestId) -> Option<&Request> {
        self.in_flight.get(&id)
    }

    /// The client that sent request `id`, while it waits to execute.
    pub fn request_client(&self, id: RequestId) -> Option<ClientId> {
        self.in_flight.get(&id).map(|r| r.client)
    }

    /// Closes a watch (the client went away or stopped watching).
    pub fn close_watch(&mut self, id: WatchId) {
        self.watches.close(id);
    }

    /// Handles one of the hub's own events.
    pub fn handle(&mut self, now: SimTime, event: ApiEvent, out: &mut Vec<ApiOutput>) {
        match event {
            ApiEvent::Execute(id) => match self.route(id) {
                Route::Gone => {}
                Route::Refused => self.refuse_connection(id, out),
                Route::To(replica) if self.path.is_some() => self.arrive(now, id, replica, out),
                Route::To(replica) => self.execute_now(now, id, replica, out),
            },
            ApiEvent::Complete(id) => self.complete(now, id, out),
            ApiEvent::FlowControlWakeup(replica) => {
                self.flow_control_wakeup(now, replica as usize, out);
            }
            ApiEvent::Deliver(watch, event) => {
                if let Some(w) = self.watches.get(watch) {
                    self.counters.watch_events_delivered += 1;
                    out.push(ApiOutput::Deliver {
                        client: w.client,
                        watch,
                        event,
                    });
                }
            }
            ApiEvent::EndWatch(watch) => {
                if let Some(w) = self.watches.get(watch) {
                    let client = w.client;
                    self.watches.close(watch);
                    out.push(ApiOutput::WatchEnded { client, watch });
                }
            }
            ApiEvent::FinishDeletion { kind, key, uid } => {
                // The grace period is over, as a kubelet's final delete would say: the object
                // goes, unless finalizers still hold it (then it waits with grace 0).
                let same = self
                    .store
                    .get(kind, &key)
                    .is_some_and(|o| o.meta().uid == uid);
                let revision = self.store.revision();
                if same {
                    let _ = self.store.modify(kind, &key, |object| {
                        object.meta_mut().deletion_grace_period_seconds = Some(0);
                        Ok(())
                    });
                }
                if self.store.revision() != revision {
                    self.after_commit(now, Verb::Delete, None, "system:apiserver", out);
                }
            }
            ApiEvent::ExpireEvent {
                key,
                resource_version,
            } => {
                let unchanged = self
                    .store
                    .get(Kind::Event, &key)
                    .is_some_and(|o| o.meta().resource_version == resource_version);
                if unchanged && self.store.delete(Kind::Event, &key).is_ok() {
                    self.after_commit(now, Verb::Delete, None, "system:apiserver", out);
                }
            }
        }
    }

    /// Which replica serves request `id` as it arrives: its client's connection's, or a new
    /// connection's (`load_balancer.rs`).
    fn route(&mut self, id: RequestId) -> Route {
        let Some(client) = self.in_flight.get(&id).map(|r| r.client) else {
            return Route::Gone;
        };
        let replicas = &self.replicas;
        let up = |r: u32| {
            replicas
                .get(r as usize)
                .is_some_and(|r| !r.process.is_down())
        };
        match self.balancer.route(client, up) {
            Some(replica) => Route::To(replica as usize),
            None => Route::Refused,
        }
    }

    /// The ideal path: request `id` runs on `replica` as it arrives and is answered at once.
    fn execute_now(
        &mut self,
        now: SimTime,
        id: RequestId,
        replica: usize,
        out: &mut Vec<ApiOutput>,
    ) {
        if let Some(request) = self.in_flight.remove(&id) {
            let client = request.client;
            let response = self.execute(now, request, replica, out);
            out.push(ApiOutput::Respond {
                client,
                request: id,
                response,
            });
        }
    }

    /// Runs `request` against the store, served by replica `replica` (whose watch cache a
    /// watch opens on).
    pub(super) fn execute(
        &mut self,
        now: SimTime,
        request: Request,
        replica: usize,
        out: &mut Vec<ApiOutput>,
    ) -> Response {
        let verb = request.verb;
        let kind = request.kind;
        let subresource = request.subresource;
        let user = request.user.name.clone();
        let mut revision_before = self.store.revision();
        let result = match (verb, request.body) {
            (Verb::Get, _) => self.get(kind, &ObjectKey::new(request.namespace, request.name)),
            (Verb::List, _) => Ok(self.list(kind, &request.namespace, &request.options)),
            (Verb::Watch, _) => self.open_watch(
                now,
                (request.client, replica),
                kind,
                request.namespace,
                request.options,
                out,
            ),
            (Verb::Create, RequestBody::Object(object)) => self.create(now, *object),
            (Verb::Create, RequestBody::Binding { node, annotations }) => self.bind(
                now,
                &ObjectKey::new(request.namespace, request.name),
                node,
                annotations,
            ),
            (Verb::Create, RequestBody::Eviction(options)) => {
                let key = ObjectKey::new(request.namespace, request.name);
                let evicted = self.evict(now, &key, &options, &user, out);
                // The eviction announced each of its writes itself.
                revision_before = self.store.revision();
                evicted
            }
            (Verb::Update, RequestBody::Object(object)) => self.update(*object, subresource),
            (Verb::Patch, RequestBody::Patch(op)) => {
                self.patch(kind, &ObjectKey::new(request.namespace, request.name), op)
            }
            (Verb::Delete, RequestBody::Delete(options)) => self.delete(
                now,
                kind,
                &ObjectKey::new(request.namespace, request.name),
                &options,
                out,
            ),
            (verb, _) => Err(ApiError::Invalid {
                kind,
                message: format!("malformed {} request", verb.name()),
            }),
        };
        self.count_request(verb, kind, &result);
        // A write that changed nothing (an identical update, a repeated delete of a
        // terminating pod) commits nothing, so there is nothing to announce.
        if self.store.revision() != revision_before {
            self.after_commit(now, verb, subresource, &user, out);
        }
        result
    }

    /// Counts an answered request in `apiserver_request_total`.
    pub(super) fn count_request(&mut self, verb: Verb, kind: Kind, result: &Response) {
        let code = match result {
            Ok(ResponseBody::Object(_)) if verb == Verb::Create => 201,
            Ok(_) => 200,
            Err(e) => e.code(),
        };
        *self
            .counters
            .requests
            .entry((verb, kind, code))
            .or_insert(0) += 1;
    }

    /// Serves a GET or LIST as it stands at `now`, counted like any answered request.
    pub(super) fn serve_read(&mut self, request: &Request) -> Response {
        let result = match request.verb {
            Verb::Get => self.get(
                request.kind,
                &ObjectKey::new(request.namespace.clone(), request.name.clone()),
            ),
            _ => Ok(self.list(request.kind, &request.namespace, &request.options)),
        };
        self.count_request(request.verb, request.kind, &result);
        result
    }

    fn get(&self, kind: Kind, key: &ObjectKey) -> Response {
        let key = self.normalize_key(kind, key);
        self.store
            .get(kind, &key)
            .map(|o| ResponseBody::Object(Arc::clone(o)))
            .ok_or(ApiError::NotFound { kind, key })
    }

    pub(super) fn list(&self, kind: Kind, namespace: &str, options: &ListOptions) -> ResponseBody {
        let probe = Watch {
            client: ClientId(u32::MAX),
            replica: 0,
            kind,
            namespace: namespace.to_string(),
            options: options.clone(),
            delay: SimDuration::ZERO,
        };
        // A list of one node's pods (a kubelet's) reads that node's pods from the index.
        let on_node = options
            .field_selector
            .as_ref()
            .and_then(|f| f.requires_exact_match("spec.nodeName"))
            .filter(|node| kind == Kind::Pod && !node.is_empty());
        // A list of one node by name (a kubelet's of its own Node) reads that node alone.
        let named = options
            .field_selector
            .as_ref()
            .and_then(|f| f.requires_exact_match("metadata.name"))
            .filter(|_| kind == Kind::Node);
        let candidates: Box<dyn Iterator<Item = &Arc<Object>>> = match (on_node, named) {
            (_, Some(name)) => Box::new(
                self.store
                    .get(kind, &ObjectKey::cluster(name.to_string()))
                    .into_iter(),
            ),
            (Some(node), None) => Box::new(self.store.iter_pods_on_node(node)),
            (None, None) if namespace.is_empty() => Box::new(self.store.iter(kind)),
            (None, None) => Box::new(self.store.iter_namespace(kind, namespace)),
        };
        let items = candidates.filter(|o| probe.selects(o)).cloned().collect();
        ResponseBody::List {
            items,
            resource_version: self.store.revision(),
        }
    }

    /// Opens a watch of `client` on the watch cache of `replica`.
    fn open_watch(
        &mut self,
        now: SimTime,
        (client, replica): (ClientId, usize),
        kind: Kind,
        namespace: String,
        options: ListOptions,
        out: &mut Vec<ApiOutput>,
    ) -> Response {
        // Upstream validates the options before the cache is asked anything.
        watch_list::check_options(kind, &options, self.config.feature_gates.watch_list)?;
        let current = self.store.revision();
        let from = options.resource_version.unwrap_or(current);
        if from > current {
            return Err(ApiError::TooLargeResourceVersion {
                requested: from.0,
                current: current.0,
            });
        }
        let streaming = options.send_initial_events;
        // A restarted apiserver's watch cache starts where it listed; a streaming list asks
        // only for a state not older than its version, which the cache's is.
        let resumes_from = options.resource_version.filter(|_| !streaming);
        let cache = self.replicas.get(replica).map(|r| &r.process);
        if let Some(CacheRefusal::TooOld { oldest }) =
            cache.and_then(|p| p.refuses_watch(kind, resumes_from.map(|v| v.0), now))
        {
            return Err(ApiError::Gone {
                requested: from.0,
                oldest,
            });
        }
        let timeout = options.timeout.filter(|_| self.path.is_some());
        let watch = Watch {
            client,
            replica: replica as u32,
            kind,
            namespace,
            options,
            delay: self.config.watch_delay,
        };
        // Replay what the client missed since `from` before anything newer can be committed; a
        // streaming list sends the objects selected now instead.
        let backlog = if streaming {
            self.initial_events(&watch)
        } else {
            self.backlog(&watch, from)?
        };
        let at = now + watch.delay;
        let id = self.watches.open(watch);
        for event in backlog {
            out.push(ApiOutput::Schedule(at, ApiEvent::Deliver(id, event)));
        }
        if let Some(timeout) = timeout {
            out.push(ApiOutput::Schedule(now + timeout, ApiEvent::EndWatch(id)));
        }
        Ok(ResponseBody::Watch(id))
    }

    /// The changes `watch` missed since `from`, as its events.
    fn backlog(&self, watch: &Watch, from: ResourceVersion) -> Result<Vec<WatchEvent>, ApiError> {
        let concerns = watch.may_concern();
        let pin = watch.pinned_name();
        Ok(self
            .store
            .changes_to_kind_since(watch.kind, pin.as_deref(), from)?
            .filter(|c| concerns(c))
            .filter_map(|c| watch.event_for(c))
            .collect())
    }

    fn normalize_key(&self, kind: Kind, key: &ObjectKey) -> ObjectKey {
        if kind.is_namespaced() && key.namespace.is_empty() {
            ObjectKey::new("default", key.name.clone())
        } else if !kind.is_namespaced() && !key.namespace.is_empty() {
            ObjectKey::cluster(key.name.clone())
        } else {
            key.clone()
        }
    }

    fn create(&mut self, now: SimTime, mut object: Object) -> Response {
        // As upstream's BeforeCreate: the generated name first, so errors name the pod.
        admission::default_identity(&mut object, &mut self.names)?;
        validate_create(&object)?;
        if let Object::Service(service) = &mut object {
            admission::default_service(service, &mut self.cluster_ips);
        }
        // A budget starts without status (upstream's `PrepareForCreate`): a dump's status
        // must not let evictions through before the controller has looked.
        if let Object::PodDisruptionBudget(pdb) = &mut object {
            pdb.status = Default::default();
        }
        if let Object::Pod(pod) = &mut object {
            let pod = Arc::make_mut(pod);
            let seconds = admission::DefaultTolerationSeconds {
                not_ready: self.config.default_not_ready_toleration_seconds,
                unreachable: self.config.default_unreachable_toleration_seconds,
            };
            admission::admit_pod(pod, &self.store, seconds)?;
            if pod.is_bound() {
                set_scheduled_condition(pod, now);
            }
        }
        let meta = object.meta_mut();
        meta.creation_timestamp = now;
        meta.deletion_timestamp = None;
        meta.deletion_grace_period_seconds = None;
        meta.resource_version = ResourceVersion(0);
        let stored = self.store.create(object)?;
        Ok(ResponseBody::Object(stored))
    }

    fn update(&mut self, mut object: Object, subresource: Option<Subresource>) -> Response {
        let kind = object.kind();
        let key = self.normalize_key(kind, &object.key());
        object.meta_mut().namespace = key.namespace.clone();
        let status_only = subresource == Some(Subresource::Status);
        let stored = self.store.update(object, |current, next| {
            admission::keep_allocated(current, next);
            if !status_only {
                let errors = validate_update(current, next);
                if !errors.is_empty() {
                    return Err(invalid(next, &errors));
                }
            }
            let old = current.meta();
            if status_only {
                let status = take_status(next);
                // A Deployment's status strategy resets only the spec and the labels, so the
                // deployment controller's revision annotation travels with a status update
                // (upstream `deploymentStatusStrategy.PrepareForUpdate`).
                let annotations = match next {
                    Object::Deployment(d) => Some(std::mem::take(&mut d.metadata.annotations)),
                    _ => None,
                };
                *next = current.clone();
                put_status(next, status);
                if let Some(annotations) = annotations {
                    next.meta_mut().annotations = annotations;
                }
            } else {
                put_status(next, status_of(current));
                let bump = i64::from(spec_changed(current, next));
                let meta = next.meta_mut();
                meta.deletion_timestamp = old.deletion_timestamp;
                meta.deletion_grace_period_seconds = old.deletion_grace_period_seconds;
                meta.generation = old.generation + bump;
            }
            Ok(())
        })?;
        Ok(ResponseBody::Object(stored))
    }

    fn patch(&mut self, kind: Kind, key: &ObjectKey, op: PatchOp) -> Response {
        let key = self.normalize_key(kind, key);
        let stored = self.store.modify(kind, &key, |object| {
            let before = object.clone();
            apply_patch(object, &op)?;
            if spec_changed(&before, object) || before.meta().labels != object.meta().labels {
                let errors = validate_update(&before, object);
                if !errors.is_empty() {
                    return Err(invalid(object, &errors));
                }
            }
            if spec_changed(&before, object) {
                object.meta_mut().generation += 1;
            }
            Ok(())
        })?;
        Ok(ResponseBody::Object(stored))
    }

    /// `pods/binding`: sets the pod's node and merges the Binding's annotations into the pod's
    /// (upstream `BindingREST.setPodHostAndAnnotations`).
    fn bind(
        &mut self,
        now: SimTime,
        key: &ObjectKey,
        node: String,
        annotations: crate::api::meta::Annotations,
    ) -> Response {
        let key = self.normalize_key(Kind::Pod, key);
        let stored = self.store.modify(Kind::Pod, &key, |object| {
            let Object::Pod(pod) = object else {
                return Err(ApiError::Invalid {
                    kind: Kind::Pod,
                    message: "binding target is not a pod".into(),
                });
            };
            if pod.is_bound() {
                return Err(ApiError::Conflict {
                    kind: Kind::Pod,
                    key: key.clone(),
                    sent: 0,
                    current: pod.metadata.resource_version.0,
                });
            }
            if pod.metadata.is_terminating() {
                return Err(ApiError::Invalid {
                    kind: Kind::Pod,
                    message: format!("pod {key} is being deleted, cannot be assigned to a host"),
                });
            }
            let pod = Arc::make_mut(pod);
            Arc::make_mut(&mut pod.spec).node_name = node;
            pod.metadata.annotations.extend(annotations);
            pod.status.nominated_node_name.clear();
            set_scheduled_condition(pod, now);
            Ok(())
        })?;
        Ok(ResponseBody::Object(stored))
    }

    /// A delete, as upstream's registry store does it: a pod a kubelet may be running is only
    /// marked (deletionTimestamp = now + its grace period); an object whose finalizers (with
    /// the propagation policy's `orphan` or `foregroundDeletion`) are not empty is marked
    /// (deletionTimestamp = now, grace 0) and goes when the last finalizer is removed; anything
    /// else goes now.
    fn delete(
        &mut self,
        now: SimTime,
        kind: Kind,
        key: &ObjectKey,
        options: &DeleteOptions,
        out: &mut Vec<ApiOutput>,
    ) -> Response {
        let key = self.normalize_key(kind, key);
        let Some(current) = self.store.get(kind, &key).cloned() else {
            return Err(ApiError::NotFound { kind, key });
        };
        if options
            .precondition_uid
            .is_some_and(|uid| uid != current.meta().uid)
        {
            return Err(ApiError::Conflict {
                kind,
                key,
                sent: 0,
                current: current.meta().resource_version.0,
            });
        }
        // Only pods that a kubelet may be running get a grace period; everything else has none.
        let grace = match &*current {
            Object::Pod(pod) if pod.is_bound() && !pod.is_terminal() => options
                .grace_period_seconds
                .unwrap_or(pod.spec.grace_period_seconds())
                .max(0),
            _ => 0,
        };
        let finalizers = finalizers_on_delete(current.meta(), options.propagation_policy);
        if grace == 0 && finalizers.is_empty() {
            self.store.delete(kind, &key)?;
            return Ok(ResponseBody::Deleted);
        }
        let deadline = now + SimDuration::from_secs(grace as u64);
        let meta = current.meta();
        let sooner = meta.deletion_timestamp.is_none_or(|t| deadline < t);
        if !sooner && finalizers == meta.finalizers {
            // Already being deleted at least as soon, with the same finalizers: nothing
            // changes (a later delete may only shorten the grace period).
            return Ok(ResponseBody::Object(current));
        }
        let stored = self.store.modify(kind, &key, |object| {
            let meta = object.meta_mut();
            if sooner {
                meta.deletion_timestamp = Some(deadline);
                meta.deletion_grace_period_seconds = Some(grace);
            }
            meta.finalizers = finalizers;
            Ok(())
        })?;
        if sooner && grace > 0 && self.config.complete_graceful_deletions {
            out.push(ApiOutput::Schedule(
                deadline,
                ApiEvent::FinishDeletion {
                    kind,
                    key,
                    uid: stored.meta().uid,
                },
            ));
        }
        Ok(ResponseBody::Object(stored))
    }

    /// `pods/eviction` (see [`eviction`]): spends the pod's budget if it has one that must
    /// allow the disruption, marks the pod `DisruptionTarget` and deletes it with `options`.
    /// Each write is announced as it commits: the budget's status as the apiserver's own
    /// loopback client writes it, the pod's condition and deletion as `user`.
    fn evict(
        &mut self,
        now: SimTime,
        key: &ObjectKey,
        options: &DeleteOptions,
        user: &str,
        out: &mut Vec<ApiOutput>,
    ) -> Response {
        let key = self.normalize_key(Kind::Pod, key);
        let Some(pod) = self.store.get(Kind::Pod, &key).and_then(|o| o.as_pod()) else {
            return Err(ApiError::NotFound {
                kind: Kind::Pod,
                key,
            });
        };
        if options
            .precondition_uid
            .is_some_and(|uid| uid != pod.metadata.uid)
        {
            return Err(ApiError::Conflict {
                kind: Kind::Pod,
                key,
                sent: 0,
                current: pod.metadata.resource_version.0,
            });
        }
        if let eviction::Decision::Spend(budget) = eviction::decide(&self.store, pod, now)? {
            let budget_key = eviction::budget_key(&budget);
            let kind = Kind::PodDisruptionBudget;
            let written = self.store.modify(kind, &budget_key, |object| {
                eviction::put_spent_status(object, &budget);
                Ok(())
            });
            let code = match &written {
                Ok(_) => 200,
                Err(e) => e.code(),
            };
            *self
                .counters
                .requests
                .entry((Verb::Update, kind, code))
                .or_insert(0) += 1;
            written?;
            self.after_commit(
                now,
                Verb::Update,
                Some(Subresource::Status),
                "system:apiserver",
                out,
            );
        }
        let revision = self.store.revision();
        self.store.modify(Kind::Pod, &key, |object| {
            if let Object::Pod(pod) = object {
                let status = &mut Arc::make_mut(pod).status;
                update_pod_condition(&mut status.conditions, eviction::disruption_target(now));
            }
            Ok(())
        })?;
        if self.store.revision() != revision {
            self.after_commit(now, Verb::Update, Some(Subresource::Status), user, out);
        }
        let revision = self.store.revision();
        let deleted = self.delete(now, Kind::Pod, &key, options, out);
        if self.store.revision() != revision {
            self.after_commit(now, Verb::Delete, None, user, out);
        }
        deleted
    }

    /// Records the newest change and fans it out to the watches that select it.
    fn after_commit(
        &mut self,
        now: SimTime,
        verb: Verb,
        subresource: Option<Subresource>,
        user: &str,
        out: &mut Vec<ApiOutput>,
    ) {
        let Some(change) = self.store.last_change() else {
            return;
        };
        let kind = change.object.kind();
        let meta = change.object.meta();
        self.commits.update(kind.index() as u64);
        self.commits.update_str(&meta.namespace);
        self.commits.update_str(&meta.name);
        self.commits.update(change.resource_version.0);
        self.commits.update(change.change as u64);
        // The facts that decisions change, cheap enough to fold on every commit: where a pod
        // runs, and how large a workload is.
        match &*change.object {
            Object::Pod(pod) => self.commits.update_str(&pod.spec.node_name),
            other => {
                if let Some(replicas) = other.desired_replicas() {
                    self.commits.update(replicas as u64);
                }
            }
        }
        for (id, watch) in self.watches.concerned_by(change) {
            if let Some(event) = watch.event_for(change) {
                out.push(ApiOutput::Schedule(
                    now + watch.delay,
                    ApiEvent::Deliver(id, event),
                ));
            }
        }
        if self.config.record_writes {
            let object = &change.object;
            self.writes.push(WriteRecord {
                at: now,
                verb,
                subresource,
                user: user.to_string(),
                kind,
                key: object.key(),
                resource_version: change.resource_version,
                change: change.change,
                replicas: object.desired_replicas(),
                hpa_replicas: match &**object {
                    Object::HorizontalPodAutoscaler(h) => {
                        Some((h.status.current_replicas, h.status.desired_replicas))
                    }
                    _ => None,
                },
                node: match &**object {
                    Object::Pod(p) if subresource == Some(Subresource::Binding) => {
                        Some(p.spec.node_name.clone())
                    }
                    _ => None,
                },
                reason: match &**object {
                    Object::Event(e) => Some(e.reason.clone()),
                    _ => None,
                },
                pod_status: match &**object {
                    Object::Pod(p) if subresource == Some(Subresource::Status) => {
                        Some((p.status.phase, p.status.ready_since().is_some()))
                    }
                    _ => None,
                },
                workload_status: match &**object {
                    _ if subresource != Some(Subresource::Status) => None,
                    Object::ReplicaSet(r) => {
                        Some((r.status.ready_replicas, r.status.available_replicas))
                    }
                    Object::Deployment(d) => {
                        Some((d.status.ready_replicas, d.status.available_replicas))
                    }
                    _ => None,
                },
                deletion_timestamp: match change.change {
                    ChangeType::Modified if verb == Verb::Delete => meta.deletion_timestamp,
                    _ => None,
                },
            });
        }
        // Each write of an Event renews its TTL (the etcd lease on its key).
        if kind == Kind::Event && change.change != ChangeType::Deleted {
            out.push(ApiOutput::Schedule(
                now + self.config.event_ttl,
                ApiEvent::ExpireEvent {
                    key: change.object.key(),
                    resource_version: change.resource_version,
                },
            ));
        }
        self.ensure_namespace(now, out);
    }

    /// Creates the namespace of the newest change if nothing created it yet: in kubesim a
    /// namespace exists once something names it.
    fn ensure_namespace(&mut self, now: SimTime, out: &mut Vec<ApiOutput>) {
        let Some(change) = self.store.last_change() else {
            return;
        };
        if change.change != ChangeType::Added {
            return;
        }
        let namespace = change.object.meta().namespace.clone();
        if namespace.is_empty()
            || self
                .store
                .get(Kind::Namespace, &ObjectKey::cluster(namespace.clone()))
                .is_some()
        {
            return;
        }
        let mut ns = Namespace::default();
        ns.metadata.name = namespace;
        ns.metadata.creation_timestamp = now;
        if self.store.create(Object::Namespace(Box::new(ns))).is_ok() {
            self.after_commit(now, Verb::Create, None, "system:apiserver", out);
        }
    }
}

/// Where an arriving request goes.
enum Route {
    /// It is no longer waiting (nothing to do).
    Gone,
    /// No replica is up: refused at the connection.
    Refused,
    /// To this replica.
    To(usize),
}

/// The load balancer `config` asks for, drawing from `streams`.
fn load_balancer(config: &ApiServerConfig, streams: crate::sim::RngStreams) -> LoadBalancer {
    LoadBalancer::new(
        config.replicas.max(1) as usize,
        config.goaway_chance_ppb,
        streams.stream("apiserver/load-balancer"),
        streams.stream("apiserver/goaway"),
    )
}

fn set_scheduled_condition(pod: &mut crate::api::pod::Pod, now: SimTime) {
    pod.status.conditions.retain(|c| c.type_ != "PodScheduled");
    pod.status.conditions.push(PodCondition {
        type_: "PodScheduled".into(),
        status: "True".into(),
        reason: String::new(),
        message: String::new(),
        last_transition_time: now,
    });
}

/// `ValidatePodCreate` / `ValidateNode` of a created object: 422 with upstream's message.
fn validate_create(object: &Object) -> Result<(), ApiError> {
    let errors = match object {
        Object::Pod(p) => validate_pod(p),
        Object::Node(n) => validate_node(n),
        Object::PodDisruptionBudget(p) => validate_pdb(p),
        _ => return Ok(()),
    };
    if errors.is_empty() {
        Ok(())
    } else {
        Err(invalid(object, &errors))
    }
}

/// 422 Invalid as the apiserver words it: `Pod "web" is invalid: <errors>`.
fn invalid(object: &Object, errors: &FieldErrors) -> ApiError {
    let kind = object.kind();
    let group = kind.group();
    let kind_name = if group.is_empty() {
        kind.name().to_string()
    } else {
        format!("{}.{group}", kind.name())
    };
    ApiError::Invalid {
        kind,
        message: format!("{kind_name} {:?} is invalid: {errors}", object.meta().name),
    }
}

/// Sets `condition` among `conditions` (by type), as upstream's `UpdatePodCondition`: the
/// transition time moves only when the status does.
fn update_pod_condition(conditions: &mut Vec<PodCondition>, mut condition: PodCondition) {
    match conditions.iter_mut().find(|c| c.type_ == condition.type_) {
        Some(existing) => {
            if existing.status == condition.status {
                condition.last_transition_time = existing.last_transition_time;
            }
            *existing = condition;
        }
        None => conditions.push(condition),
    }
}

fn apply_patch(object: &mut Object, op: &PatchOp) -> Result<(), ApiError> {
    let kind = object.kind();
    let unsupported = || ApiError::Invalid {
        kind,
        message: format!("{op:?} does not apply to a {kind}"),
    };
    match (op, object) {
        (PatchOp::Replicas(n), Object::Deployment(d)) => d.spec.replicas = Some(*n),
        (PatchOp::Replicas(n), Object::ReplicaSet(r)) => r.spec.replicas = Some(*n),
        (PatchOp::Image { container, image }, Object::Deployment(d)) => {
            set_image(&mut d.spec.template.spec, container.as_deref(), image, kind)?;
        }
        (PatchOp::Image { container, image }, Object::ReplicaSet(r)) => {
            set_image(&mut r.spec.template.spec, container.as_deref(), image, kind)?;
        }
        (PatchOp::Image { container, image }, Object::Pod(p)) => {
            set_image(
                Arc::make_mut(&mut Arc::make_mut(p).spec),
                container.as_deref(),
                image,
                kind,
            )?;
        }
        (PatchOp::Unschedulable(u), Object::Node(n)) => Arc::make_mut(n).spec.unschedulable = *u,
        (PatchOp::NodeTaints(taints), Object::Node(n)) => {
            Arc::make_mut(n).spec.taints.clone_from(taints);
        }
        (PatchOp::Paused(paused), Object::Deployment(d)) => d.spec.paused = *paused,
        (PatchOp::TemplateAnnotation { key, value }, Object::Deployment(d)) => {
            let annotations = &mut d.spec.template.metadata.annotations;
            annotations.insert(key.clone(), value.clone());
        }
        (
            PatchOp::Template {
                template,
                annotations,
            },
            Object::Deployment(d),
        ) => {
            d.spec.template = (**template).clone();
            d.metadata.annotations = annotations.clone();
        }
        (
            PatchOp::PodStatus {
                condition,
                nominated_node_name,
            },
            Object::Pod(p),
        ) => {
            let p = Arc::make_mut(p);
            if let Some(node) = nominated_node_name {
                p.status.nominated_node_name = node.clone();
            }
            if let Some(condition) = condition {
                update_pod_condition(&mut p.status.conditions, condition.clone());
            }
        }
        (PatchOp::KubeletPodStatus(status), Object::Pod(p)) => {
            set_kubelet_pod_status(&mut Arc::make_mut(p).status, status);
        }
        (PatchOp::KubeletNodeStatus(patch), Object::Node(n)) => {
            set_kubelet_node_status(&mut Arc::make_mut(n).status, patch);
        }
        (PatchOp::EventSeries(series), Object::Event(e)) => e.series = Some(series.clone()),
        (PatchOp::AddOwner { reference, uid }, object) => {
            uid_precondition(object, *uid)?;
            let meta = object.meta_mut();
            meta.owner_references.retain(|r| r.uid != reference.uid);
            if reference.controller && meta.controller_ref().is_some() {
                return Err(ApiError::Invalid {
                    kind,
                    message: "metadata.ownerReferences: Invalid value: only one reference can \
                              have Controller set to true"
                        .into(),
                });
            }
            meta.owner_references.push(reference.clone());
        }
        (PatchOp::RemoveOwners { owners, uid }, object) => {
            uid_precondition(object, *uid)?;
            let meta = object.meta_mut();
            meta.owner_references.retain(|r| !owners.contains(&r.uid));
        }
        (PatchOp::RemoveFinalizer(finalizer), object) => {
            object.meta_mut().finalizers.retain(|f| f != finalizer);
        }
        (PatchOp::Apply(manifest), object) if manifest.kind() == kind => {
            let status = take_status(object);
            *object = apply::apply_onto(object, (**manifest).clone());
            put_status(object, status);
        }
        _ => return Err(unsupported()),
    }
    Ok(())
}

/// The finalizers a delete leaves on an object (upstream
/// `deletionFinalizersForGarbageCollection`): its own, without `orphan` and
/// `foregroundDeletion`, then the one the policy asks for. Without a policy, a finalizer the
/// object already has decides, else the default (background: neither).
fn finalizers_on_delete(meta: &ObjectMeta, policy: Option<PropagationPolicy>) -> Vec<String> {
    let has = |f: &str| meta.finalizers.iter().any(|x| x == f);
    let (orphan, foreground) = match policy {
        Some(PropagationPolicy::Orphan) => (true, false),
        Some(PropagationPolicy::Foreground) => (false, true),
        Some(PropagationPolicy::Background) => (false, false),
        None if has(ORPHAN_FINALIZER) => (true, false),
        None => (false, has(FOREGROUND_FINALIZER)),
    };
    let mut finalizers: Vec<String> = meta
        .finalizers
        .iter()
        .filter(|f| *f != ORPHAN_FINALIZER && *f != FOREGROUND_FINALIZER)
        .cloned()
        .collect();
    if orphan {
        finalizers.push(ORPHAN_FINALIZER.into());
    }
    if foreground {
        finalizers.push(FOREGROUND_FINALIZER.into());
    }
    // Upstream keeps the object's own order when the set does not change.
    let same_set = finalizers.len() == meta.finalizers.len() && finalizers.iter().all(|f| has(f));
    if same_set {
        return meta.finalizers.clone();
    }
    finalizers
}

/// A patch's uid precondition: 409 if the object was replaced by another of the same name.
fn uid_precondition(object: &Object, uid: Uid) -> Result<(), ApiError> {
    let meta = object.meta();
    if meta.uid == uid {
        return Ok(());
    }
    Err(ApiError::Conflict {
        kind: object.kind(),
        key: object.key(),
        sent: 0,
        current: meta.resource_version.0,
    })
}

/// Merges a kubelet's pod status into the stored one (its strategic merge patch: conditions
/// are merged by type).
fn set_kubelet_pod_status(
    stored: &mut crate::api::pod::PodStatus,
    sent: &crate::api::pod::PodStatus,
) {
    stored.phase = sent.phase;
    stored.reason.clone_from(&sent.reason);
    stored.message.clone_from(&sent.message);
    stored.start_time = sent.start_time;
    stored
        .init_container_statuses
        .clone_from(&sent.init_container_statuses);
    stored
        .container_statuses
        .clone_from(&sent.container_statuses);
    // The addresses come with the sandbox; a status sent before it keeps what is stored.
    if !sent.pod_ips.is_empty() {
        stored.pod_ip.clone_from(&sent.pod_ip);
        stored.pod_ips.clone_from(&sent.pod_ips);
    }
    merge_by_key(&mut stored.conditions, &sent.conditions, |c| {
        c.type_.as_str()
    });
}

/// Puts each of `sent` in `stored` in place of the entry with the same key, appending the new
/// ones (a strategic merge on a list keyed by `type`).
fn merge_by_key<T: Clone>(stored: &mut Vec<T>, sent: &[T], key: impl Fn(&T) -> &str) {
    for item in sent {
        match stored.iter_mut().find(|s| key(s) == key(item)) {
            Some(existing) => existing.clone_from(item),
            None => stored.push(item.clone()),
        }
    }
}

/// Merges a kubelet's node status into the stored one.
fn set_kubelet_node_status(
    stored: &mut crate::api::node::NodeStatus,
    sent: &super::request::NodeStatusPatch,
) {
    merge_by_key(&mut stored.conditions, &sent.conditions, |c| {
        c.type_.as_str()
    });
    stored.images.clone_from(&sent.images);
    for (name, q) in &sent.capacity {
        stored.capacity.insert(name.clone(), *q);
    }
    for (name, q) in &sent.allocatable {
        stored.allocatable.insert(name.clone(), *q);
    }
}

fn set_image(
    spec: &mut crate::api::pod::PodSpec,
    container: Option<&str>,
    image: &str,
    kind: Kind,
) -> Result<(), ApiError> {
    let mut changed = 0;
    for c in &mut spec.containers {
        if container.is_none_or(|name| name == c.name) {
            c.image = image.to_string();
            changed += 1;
        }
    }
    if changed == 0 {
        return Err(ApiError::Invalid {
            kind,
            message: format!("no container named {:?}", container.unwrap_or("")),
        });
    }
    Ok(())
}

/// The status part of an object, moved out so an update can keep the stored one.
enum Status {
    None,
    Node(crate::api::node::NodeStatus),
    Pod(crate::api::pod::PodStatus),
    Deployment(crate::api::deployment::DeploymentStatus),
    ReplicaSet(crate::api::replicaset::ReplicaSetStatus),
    Hpa(crate::api::hpa::HpaStatus),
    Pdb(crate::api::pdb::PdbStatus),
}

fn take_status(object: &mut Object) -> Status {
    use std::mem::take;
    match object {
        Object::Node(n) => Status::Node(take(&mut Arc::make_mut(n).status)),
        Object::Pod(p) => Status::Pod(take(&mut Arc::make_mut(p).status)),
        Object::Deployment(d) => Status::Deployment(take(&mut d.status)),
        Object::ReplicaSet(r) => Status::ReplicaSet(take(&mut r.status)),
        Object::HorizontalPodAutoscaler(h) => Status::Hpa(take(&mut h.status)),
        Object::PodDisruptionBudget(p) => Status::Pdb(take(&mut p.status)),
        Object::Namespace(_)
        | Object::PriorityClass(_)
        | Object::Service(_)
        | Object::Event(_)
        | Object::Lease(_)
        | Object::EndpointSlice(_) => Status::None,
    }
}

fn status_of(object: &Object) -> Status {
    match object {
        Object::Node(n) => Status::Node(n.status.clone()),
        Object::Pod(p) => Status::Pod(p.status.clone()),
        Object::Deployment(d) => Status::Deployment(d.status.clone()),
        Object::ReplicaSet(r) => Status::ReplicaSet(r.status.clone()),
        Object::HorizontalPodAutoscaler(h) => Status::Hpa(h.status.clone()),
        Object::PodDisruptionBudget(p) => Status::Pdb(p.status.clone()),
        Object::Namespace(_)
        | Object::PriorityClass(_)
        | Object::Service(_)
        | Object::Event(_)
        | Object::Lease(_)
        | Object::EndpointSlice(_) => Status::None,
    }
}

fn put_status(object: &mut Object, status: Status) {
    match (object, status) {
        (Object::Node(n), Status::Node(s)) => Arc::make_mut(n).status = s,
        (Object::Pod(p), Status::Pod(s)) => Arc::make_mut(p).status = s,
        (Object::Deployment(d), Status::Deployment(s)) => d.status = s,
        (Object::ReplicaSet(r), Status::ReplicaSet(s)) => r.status = s,
        (Object::HorizontalPodAutoscaler(h), Status::Hpa(s)) => h.status = s,
        (Object::PodDisruptionBudget(p), Status::Pdb(s)) => p.status = s,
        _ => {}
    }
}

/// Whether the desired state differs (metadata and status aside): what bumps `generation`.
fn spec_changed(old: &Object, new: &Object) -> bool {
    match (old, new) {
        (Object::Node(a), Object::Node(b)) => a.spec != b.spec,
        (Object::Pod(a), Object::Pod(b)) => a.spec != b.spec,
        (Object::Deployment(a), Object::Deployment(b)) => a.spec != b.spec,
        (Object::ReplicaSet(a), Object::ReplicaSet(b)) => a.spec != b.spec,
        (Object::HorizontalPodAutoscaler(a), Object::HorizontalPodAutoscaler(b)) => {
            a.spec != b.spec
        }
        (Object::Service(a), Object::Service(b)) => a.spec != b.spec,
        // The EndpointSlice strategy counts any change but metadata's, and of labels.
        (Object::EndpointSlice(a), Object::EndpointSlice(b)) => {
            a.address_type != b.address_type
                || a.endpoints != b.endpoints
                || a.ports != b.ports
                || a.metadata.labels != b.metadata.labels
        }
        (Object::PriorityClass(a), Object::PriorityClass(b)) => a.value != b.value,
        (Object::PodDisruptionBudget(a), Object::PodDisruptionBudget(b)) => a.spec != b.spec,
        _ => false,
    }
}
