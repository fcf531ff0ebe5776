//! The store and its watches, driven through the real apiserver hub.
//!
//! Acceptance criteria of the foundation issue: "property tests over random create / update /
//! delete sequences with watchers: every watcher sees every change once, in resourceVersion
//! order; stale updates conflict; a watch from a compacted resourceVersion gets 410."
//!
//! The hub never touches an event queue: it returns [`ApiOutput`]s. [`Harness`] routes them
//! through its own queue ordered by (time, insertion sequence), as the kernel does, collects the
//! responses and records every watch delivery in arrival order.
//!
//! The property tests run random operation sequences against the hub and against
//! [`Reference`], an independent model written here: it predicts every response, every
//! resourceVersion and the full history of committed changes, and from that history it derives
//! what each watch must receive (selection semantics included). The hub's own `event_for` is
//! never consulted for the expectations.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kubesim::api::deployment::{Deployment, DeploymentSpec};
use kubesim::api::labels::{Labels, parse_field_selector, parse_label_selector};
use kubesim::api::node::{Node, NodeSpec};
use kubesim::api::pod::{Container, Pod, PodPhase, PodSpec, PodStatus, PodTemplateSpec};
use kubesim::api::{Kind, Object, ObjectKey, ObjectMeta, ResourceVersion, Uid};
use kubesim::apiserver::{
    ApiError, ApiEvent, ApiOutput, ApiServer, ApiServerConfig, ChangeType, ClientId, ListOptions,
    PatchOp, Request, RequestId, Response, ResponseBody, UserInfo, WatchEvent, WatchId,
    WriteRecord,
};
use kubesim::sim::rng::stream;
use kubesim::sim::{SimDuration, SimTime, TraceDigest};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;

// =============================================================================================
// Harness: routes the hub's outputs through an ordered queue
// =============================================================================================

/// The client every write and read of the tests is sent as.
const WRITER: ClientId = ClientId(1);

fn user() -> UserInfo {
    UserInfo::new("test", &["system:authenticated"])
}

fn ms(n: u64) -> SimTime {
    SimTime::from_nanos(n * 1_000_000)
}

/// An apiserver plus the world around it: a queue ordered by (time, insertion sequence).
struct Harness {
    api: ApiServer,
    queue: BTreeMap<(SimTime, u64), ApiEvent>,
    seq: u64,
    now: SimTime,
    out: Vec<ApiOutput>,
    responses: BTreeMap<RequestId, Response>,
    /// Every watch delivery, in the order the hub handed them out.
    deliveries: Vec<(ClientId, WatchId, WatchEvent)>,
}

impl Harness {
    fn new(config: ApiServerConfig, seed: u64) -> Self {
        Harness {
            api: ApiServer::new(config, stream(seed, "apiserver/generate-name")),
            queue: BTreeMap::new(),
            seq: 0,
            now: SimTime::ZERO,
            out: Vec::new(),
            responses: BTreeMap::new(),
            deliveries: Vec::new(),
        }
    }

    fn route(&mut self) {
        for output in std::mem::take(&mut self.out) {
            match output {
                ApiOutput::Schedule(at, event) => {
                    assert!(
                        at >= self.now,
                        "the hub scheduled {event:?} in the past ({at} < {})",
                        self.now
                    );
                    self.queue.insert((at, self.seq), event);
                    self.seq += 1;
                }
                ApiOutput::Respond {
                    request, response, ..
                } => {
                    let previous = self.responses.insert(request, response);
                    assert!(previous.is_none(), "request {request:?} answered twice");
                }
                ApiOutput::Deliver {
                    client,
                    watch,
                    event,
                } => self.deliveries.push((client, watch, event)),
                ApiOutput::WatchEnded { watch, .. } => {
                    panic!("the ideal apiserver ended watch {watch:?}")
                }
            }
        }
    }

    /// Handles the earliest pending event; false when nothing is pending.
    fn step(&mut self) -> bool {
        let Some(((at, _), event)) = self.queue.pop_first() else {
            return false;
        };
        self.now = at;
        self.api.handle(at, event, &mut self.out);
        self.route();
        true
    }

    /// Handles every event due at or before `t`, then sets the clock to `t`.
    fn run_until(&mut self, t: SimTime) {
        while self
            .queue
            .first_key_value()
            .is_some_and(|((at, _), _)| *at <= t)
        {
            self.step();
        }
        self.now = self.now.max(t);
    }

    fn run_to_end(&mut self) {
        while self.step() {}
    }

    /// Submits `request` at `at` (after everything due by then) and runs until it is answered.
    fn call(&mut self, at: SimTime, request: Request) -> Response {
        self.run_until(at);
        let id = self.api.submit(self.now, request, &mut self.out);
        self.route();
        loop {
            if let Some(response) = self.responses.remove(&id) {
                return response;
            }
            assert!(self.step(), "request {id:?} was never answered");
        }
    }

    /// Sends `request` at `at` and returns the successful answer (panics on an error).
    fn ok(&mut self, at: SimTime, request: Request) -> ResponseBody {
        let what = format!(
            "{} {} {}/{}",
            request.verb.name(),
            request.kind,
            request.namespace,
            request.name
        );
        match self.call(at, request) {
            Ok(body) => body,
            Err(e) => panic!("{what}: expected success, got {e:?}"),
        }
    }

    /// Opens a watch and returns its id (panics unless the hub opened one).
    fn watch(&mut self, at: SimTime, kind: Kind, namespace: &str, options: ListOptions) -> WatchId {
        let request = Request::watch(WRITER, user(), kind, namespace, options);
        match self.call(at, request) {
            Ok(ResponseBody::Watch(id)) => id,
            other => panic!("expected a watch to open, got {other:?}"),
        }
    }

    /// What `watch` received: (type, resourceVersion, name), in arrival order.
    fn events(&self, watch: WatchId) -> Vec<(ChangeType, u64, String)> {
        self.deliveries
            .iter()
            .filter(|(_, w, _)| *w == watch)
            .map(|(_, _, e)| {
                assert_eq!(
                    e.object.meta().resource_version,
                    e.resource_version,
                    "an event's object carries the event's version"
                );
                (e.change, e.resource_version.0, e.object.meta().name.clone())
            })
            .collect()
    }
}

fn config(watch_history: usize) -> ApiServerConfig {
    ApiServerConfig {
        admission_latency: SimDuration::from_millis(1),
        watch_delay: SimDuration::from_millis(1),
        watch_history,
        complete_graceful_deletions: true,
        record_writes: true,
        event_ttl: SimDuration::from_mins(60),
        ..ApiServerConfig::default()
    }
}

// =============================================================================================
// Objects
// =============================================================================================

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn container() -> Container {
    Container {
        name: "c".into(),
        image: "img:0".into(),
        ..Default::default()
    }
}

/// What a test asks to create (or bases an update on when the object is missing).
#[derive(Clone, Debug)]
struct Draft {
    kind: Kind,
    namespace: String,
    name: String,
    generate_name: String,
    labels: Labels,
    node_name: String,
    grace: Option<i64>,
    phase: PodPhase,
    unschedulable: bool,
    replicas: Option<i32>,
}

impl Draft {
    fn new(kind: Kind, namespace: &str, name: &str) -> Draft {
        Draft {
            kind,
            namespace: namespace.into(),
            name: name.into(),
            generate_name: String::new(),
            labels: Labels::new(),
            node_name: String::new(),
            grace: None,
            phase: PodPhase::Pending,
            unschedulable: false,
            replicas: None,
        }
    }

    fn build(&self) -> Object {
        let metadata = ObjectMeta {
            name: self.name.clone(),
            generate_name: self.generate_name.clone(),
            namespace: self.namespace.clone(),
            labels: self.labels.clone(),
            ..Default::default()
        };
        match self.kind {
            Kind::Pod => Object::Pod(Arc::new(Pod {
                metadata,
                spec: Arc::new(PodSpec {
                    node_name: self.node_name.clone(),
                    termination_grace_period_seconds: self.grace,
                    containers: vec![container()],
                    ..Default::default()
                }),
                status: PodStatus {
                    phase: self.phase,
                    ..Default::default()
                },
            })),
            Kind::Node => Object::Node(Arc::new(Node {
                metadata,
                spec: NodeSpec {
                    unschedulable: self.unschedulable,
                    ..Default::default()
                },
                ..Default::default()
            })),
            Kind::Deployment => Object::Deployment(Box::new(Deployment {
                metadata,
                spec: DeploymentSpec {
                    replicas: self.replicas,
                    template: PodTemplateSpec {
                        spec: PodSpec {
                            containers: vec![container()],
                            ..Default::default()
                        },
                        ..Default::default()
                    },
                    ..Default::default()
                },
                ..Default::default()
            })),
            other => panic!("the tests do not build {other} objects"),
        }
    }

    /// The state the store must hold after creating this draft under `key` (uid left 0).
    fn expected(&self, key: &ObjectKey) -> Snap {
        let mut snap = Snap::bare(self.kind, key);
        snap.labels = self.labels.clone();
        match self.kind {
            Kind::Pod => {
                snap.node_name = self.node_name.clone();
                snap.image = "img:0".into();
            }
            Kind::Node => snap.unschedulable = self.unschedulable,
            Kind::Deployment => {
                snap.replicas = self.replicas;
                snap.image = "img:0".into();
            }
            _ => {}
        }
        snap
    }
}

fn pod(namespace: &str, name: &str, node: &str, pairs: &[(&str, &str)]) -> Object {
    let mut d = Draft::new(Kind::Pod, namespace, name);
    d.node_name = node.into();
    d.labels = labels(pairs);
    d.build()
}

fn node(name: &str) -> Object {
    Draft::new(Kind::Node, "", name).build()
}

fn object_of(ctx: &str, response: Response) -> Arc<Object> {
    match response {
        Ok(ResponseBody::Object(o)) => o,
        other => panic!("{ctx}: expected an object, got {other:?}"),
    }
}

fn error_of(ctx: &str, response: Response) -> ApiError {
    match response {
        Err(e) => e,
        Ok(body) => panic!("{ctx}: expected an error, got {body:?}"),
    }
}

fn selector(label: &str, field: &str, from: Option<u64>) -> ListOptions {
    ListOptions {
        label_selector: (!label.is_empty()).then(|| match parse_label_selector(label) {
            Ok(s) => s,
            Err(e) => panic!("label selector {label:?} does not parse: {e}"),
        }),
        field_selector: (!field.is_empty()).then(|| match parse_field_selector(field) {
            Ok(s) => s,
            Err(e) => panic!("field selector {field:?} does not parse: {e}"),
        }),
        resource_version: from.map(ResourceVersion),
        ..ListOptions::default()
    }
}

// =============================================================================================
// Reference model
// =============================================================================================

/// The parts of an object the tests write and watch: what both the hub's objects and the
/// reference's predictions are reduced to before comparing.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Snap {
    kind: Kind,
    namespace: String,
    name: String,
    uid: u64,
    labels: Labels,
    node_name: String,
    unschedulable: bool,
    replicas: Option<i32>,
    image: String,
    deletion: Option<SimTime>,
}

impl Snap {
    fn bare(kind: Kind, key: &ObjectKey) -> Snap {
        Snap {
            kind,
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            uid: 0,
            labels: Labels::new(),
            node_name: String::new(),
            unschedulable: false,
            replicas: None,
            image: String::new(),
            deletion: None,
        }
    }

    fn key(&self) -> ObjectKey {
        ObjectKey::new(self.namespace.clone(), self.name.clone())
    }
}

fn images(spec: &PodSpec) -> String {
    let names: Vec<&str> = spec.containers.iter().map(|c| c.image.as_str()).collect();
    names.join(",")
}

fn snap_of(object: &Object) -> Snap {
    let mut snap = Snap::bare(object.kind(), &object.key());
    let meta = object.meta();
    snap.uid = meta.uid.0;
    snap.labels = meta.labels.clone();
    snap.deletion = meta.deletion_timestamp;
    match object {
        Object::Pod(p) => {
            snap.node_name = p.spec.node_name.clone();
            snap.image = images(&p.spec);
        }
        Object::Node(n) => snap.unschedulable = n.spec.unschedulable,
        Object::Deployment(d) => {
            snap.replicas = d.spec.replicas;
            snap.image = images(&d.spec.template.spec);
        }
        _ => {}
    }
    snap
}

/// Label selectors the random watches and lists use; `matches` is written from the Kubernetes
/// semantics (`app!=x` also holds when `app` is absent), not taken from the library.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LabelSel {
    Any,
    AppIsX,
    AppIsNotX,
    AppInXY,
    HasTier,
    NoTier,
}

const LABEL_SELS: [LabelSel; 6] = [
    LabelSel::Any,
    LabelSel::AppIsX,
    LabelSel::AppIsNotX,
    LabelSel::AppInXY,
    LabelSel::HasTier,
    LabelSel::NoTier,
];

impl LabelSel {
    fn text(self) -> &'static str {
        match self {
            LabelSel::Any => "",
            LabelSel::AppIsX => "app=x",
            LabelSel::AppIsNotX => "app!=x",
            LabelSel::AppInXY => "app in (x,y)",
            LabelSel::HasTier => "tier",
            LabelSel::NoTier => "!tier",
        }
    }

    fn matches(self, labels: &Labels) -> bool {
        let app = labels.get("app").map(String::as_str);
        match self {
            LabelSel::Any => true,
            LabelSel::AppIsX => app == Some("x"),
            LabelSel::AppIsNotX => app != Some("x"),
            LabelSel::AppInXY => matches!(app, Some("x" | "y")),
            LabelSel::HasTier => labels.contains_key("tier"),
            LabelSel::NoTier => !labels.contains_key("tier"),
        }
    }
}

/// Field selectors the random watches and lists use. A field a kind does not have reads as the
/// empty string (upstream `fields.Set`), so `spec.nodeName=` selects every Node and Deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FieldSel {
    Any,
    Unbound,
    OnN0,
    NamedP1,
    NotInA,
    Cordoned,
}

const FIELD_SELS: [FieldSel; 6] = [
    FieldSel::Any,
    FieldSel::Unbound,
    FieldSel::OnN0,
    FieldSel::NamedP1,
    FieldSel::NotInA,
    FieldSel::Cordoned,
];

impl FieldSel {
    fn text(self) -> &'static str {
        match self {
            FieldSel::Any => "",
            FieldSel::Unbound => "spec.nodeName=",
            FieldSel::OnN0 => "spec.nodeName=n0",
            FieldSel::NamedP1 => "metadata.name=p1",
            FieldSel::NotInA => "metadata.namespace!=a",
            FieldSel::Cordoned => "spec.unschedulable=true",
        }
    }

    fn matches(self, s: &Snap) -> bool {
        // Snap keeps node_name empty for non-pods and unschedulable false for non-nodes.
        match self {
            FieldSel::Any => true,
            FieldSel::Unbound => s.node_name.is_empty(),
            FieldSel::OnN0 => s.node_name == "n0",
            FieldSel::NamedP1 => s.name == "p1",
            FieldSel::NotInA => s.namespace != "a",
            FieldSel::Cordoned => s.unschedulable,
        }
    }
}

/// What a list or watch selects.
#[derive(Clone, Debug)]
struct Selection {
    kind: Kind,
    namespace: String,
    label: LabelSel,
    field: FieldSel,
}

impl Selection {
    fn selects(&self, s: &Snap) -> bool {
        s.kind == self.kind
            && (self.namespace.is_empty() || s.namespace == self.namespace)
            && self.label.matches(&s.labels)
            && self.field.matches(s)
    }

    fn options(&self, from: Option<u64>) -> ListOptions {
        selector(self.label.text(), self.field.text(), from)
    }
}

/// One committed change as the reference predicts it.
#[derive(Clone, Debug)]
struct RefChange {
    rv: u64,
    change: ChangeType,
    /// The object after the change (for a delete: its last state).
    after: Snap,
    before: Option<Snap>,
}

#[derive(Clone, Debug)]
struct RefObj {
    snap: Snap,
    rv: u64,
    /// Versions this incarnation had before the current one: stale for an update.
    past: Vec<u64>,
    grace: Option<i64>,
    terminal: bool,
}

/// A graceful deletion the hub will finish at `deadline`.
#[derive(Clone, Debug)]
struct PendingFinish {
    deadline: SimTime,
    seq: u64,
    kind: Kind,
    key: ObjectKey,
    uid: u64,
}

#[derive(Clone, Debug)]
struct RefWatch {
    id: WatchId,
    client: ClientId,
    selection: Selection,
    from: u64,
    /// The revision when the watch was closed: later changes are not delivered.
    closed_at: Option<u64>,
}

impl RefWatch {
    /// The event `c` means to this watch: entering the selection is ADDED, leaving it DELETED.
    fn event_for(&self, c: &RefChange) -> Option<(ChangeType, u64, Snap)> {
        let now_in = self.selection.selects(&c.after);
        let was_in = c.before.as_ref().is_some_and(|b| self.selection.selects(b));
        let seen = match (c.change, was_in, now_in) {
            (ChangeType::Added, _, true) => ChangeType::Added,
            (ChangeType::Deleted, true, _) => ChangeType::Deleted,
            (ChangeType::Modified, true, true) => ChangeType::Modified,
            (ChangeType::Modified, false, true) => ChangeType::Added,
            (ChangeType::Modified, true, false) => ChangeType::Deleted,
            _ => return None,
        };
        Some((seen, c.rv, c.after.clone()))
    }
}

/// An independent model of the store: objects, one global version, the full history.
struct Reference {
    rv: u64,
    uids: u64,
    objects: BTreeMap<(Kind, ObjectKey), RefObj>,
    history: Vec<RefChange>,
    pending: Vec<PendingFinish>,
    pending_seq: u64,
    history_limit: u64,
}

impl Reference {
    fn new(history_limit: usize) -> Reference {
        Reference {
            rv: 0,
            uids: 0,
            objects: BTreeMap::new(),
            history: Vec::new(),
            pending: Vec::new(),
            pending_seq: 0,
            history_limit: history_limit.max(1) as u64,
        }
    }

    /// Every write is one change with the next version, so after `rv` writes the store keeps
    /// versions `rv - limit + 1 ..= rv`: the last one evicted is `rv - limit`.
    fn compacted(&self) -> u64 {
        self.rv.saturating_sub(self.history_limit)
    }

    fn get(&self, kind: Kind, key: &ObjectKey) -> Option<&RefObj> {
        self.objects.get(&(kind, key.clone()))
    }

    fn commit(&mut self, change: ChangeType, after: Snap, before: Option<Snap>) -> u64 {
        self.rv += 1;
        self.history.push(RefChange {
            rv: self.rv,
            change,
            after,
            before,
        });
        self.rv
    }

    /// Creates `snap` (assigning the next uid); a namespaced object's namespace is created
    /// right after it, with the next version, if nothing created it yet. Returns the object's
    /// version and uid.
    fn create(&mut self, mut snap: Snap, grace: Option<i64>, terminal: bool) -> (u64, u64) {
        self.uids += 1;
        snap.uid = self.uids;
        let uid = snap.uid;
        let rv = self.commit(ChangeType::Added, snap.clone(), None);
        let namespace = snap.namespace.clone();
        self.objects.insert(
            (snap.kind, snap.key()),
            RefObj {
                snap,
                rv,
                past: Vec::new(),
                grace,
                terminal,
            },
        );
        let ns_key = ObjectKey::cluster(namespace.clone());
        if !namespace.is_empty() && self.get(Kind::Namespace, &ns_key).is_none() {
            self.create(Snap::bare(Kind::Namespace, &ns_key), None, false);
        }
        (rv, uid)
    }

    fn modify(&mut self, kind: Kind, key: &ObjectKey, change: impl FnOnce(&mut Snap)) -> u64 {
        let Some(obj) = self.objects.get_mut(&(kind, key.clone())) else {
            panic!("reference: modify of missing {kind} {key}");
        };
        let before = obj.snap.clone();
        change(&mut obj.snap);
        if obj.snap == before {
            // A write that changes nothing commits nothing: no new version, no event.
            return obj.rv;
        }
        let after = obj.snap.clone();
        let old_rv = obj.rv;
        let rv = self.commit(ChangeType::Modified, after, Some(before));
        if let Some(obj) = self.objects.get_mut(&(kind, key.clone())) {
            obj.past.push(old_rv);
            obj.rv = rv;
        }
        rv
    }

    fn remove(&mut self, kind: Kind, key: &ObjectKey) -> u64 {
        let Some(obj) = self.objects.remove(&(kind, key.clone())) else {
            panic!("reference: delete of missing {kind} {key}");
        };
        self.commit(ChangeType::Deleted, obj.snap.clone(), Some(obj.snap))
    }

    fn schedule_finish(&mut self, deadline: SimTime, kind: Kind, key: ObjectKey, uid: u64) {
        self.pending.push(PendingFinish {
            deadline,
            seq: self.pending_seq,
            kind,
            key,
            uid,
        });
        self.pending_seq += 1;
    }

    /// Finishes the graceful deletions due at or before `t`, in (deadline, scheduling) order;
    /// one whose object was replaced by a new incarnation (another uid) leaves it alone.
    fn finish_until(&mut self, t: SimTime) {
        loop {
            let due = self
                .pending
                .iter()
                .enumerate()
                .filter(|(_, p)| p.deadline <= t)
                .min_by_key(|(_, p)| (p.deadline, p.seq))
                .map(|(i, _)| i);
            let Some(i) = due else { break };
            let p = self.pending.remove(i);
            if self
                .get(p.kind, &p.key)
                .is_some_and(|o| o.snap.uid == p.uid)
            {
                self.remove(p.kind, &p.key);
            }
        }
    }

    fn expected_events(&self, w: &RefWatch) -> Vec<(ChangeType, u64, Snap)> {
        let until = w.closed_at.unwrap_or(u64::MAX);
        self.history
            .iter()
            .filter(|c| c.rv > w.from && c.rv <= until)
            .filter_map(|c| w.event_for(c))
            .collect()
    }
}

// =============================================================================================
// Random operations
// =============================================================================================

/// Request namespaces: "" means `default` for a namespaced kind; `a` is drawn twice as often.
const NAMESPACES: [&str; 4] = ["a", "b", "", "a"];
const WATCH_NAMESPACES: [&str; 4] = ["", "a", "b", "default"];
const POD_NAMES: [&str; 2] = ["p0", "p1"];
const NODE_NAMES: [&str; 2] = ["n0", "n1"];
const DEPLOY_NAMES: [&str; 1] = ["d0"];
/// `spec.nodeName` values of created and updated pods.
const POD_NODES: [&str; 3] = ["", "n0", "n1"];
const APPS: [Option<&str>; 3] = [None, Some("x"), Some("y")];
const POD_GRACES: [Option<i64>; 4] = [None, Some(0), Some(1), Some(2)];
const POD_PHASES: [PodPhase; 3] = [PodPhase::Unknown, PodPhase::Running, PodPhase::Succeeded];
const DELETE_GRACES: [Option<i64>; 6] = [None, None, Some(0), Some(1), Some(3), Some(-1)];
/// Operations are submitted this far apart; 1 s graceful deletions finish among later ones.
const STEP_MS: u64 = 100;
const LATENCY: SimDuration = SimDuration::from_millis(1);

fn pick<T: Copy>(items: &[T], i: u8) -> T {
    items[usize::from(i) % items.len()]
}

fn name_for(kind: Kind, i: u8) -> &'static str {
    match kind {
        Kind::Pod => pick(&POD_NAMES, i),
        Kind::Node => pick(&NODE_NAMES, i),
        _ => pick(&DEPLOY_NAMES, i),
    }
}

/// The key the hub must normalise a request to: cluster-scoped kinds drop the namespace,
/// namespaced ones default it to `default`.
fn canonical(kind: Kind, raw_namespace: &str, name: &str) -> ObjectKey {
    if !kind.is_namespaced() {
        ObjectKey::cluster(name)
    } else if raw_namespace.is_empty() {
        ObjectKey::new("default", name)
    } else {
        ObjectKey::new(raw_namespace, name)
    }
}

fn random_labels(app: u8, tier: u8) -> Labels {
    let mut l = Labels::new();
    if let Some(a) = pick(&APPS, app) {
        l.insert("app".into(), a.into());
    }
    if tier % 2 == 1 {
        l.insert("tier".into(), "web".into());
    }
    l
}

#[derive(Clone, Copy, Debug)]
enum RvMode {
    Current,
    Stale,
    Zero,
}

#[derive(Clone, Debug)]
enum Op {
    Create {
        kind: Kind,
        ns: u8,
        name: u8,
        app: u8,
        tier: u8,
        /// Pod: nodeName; Node: unschedulable; Deployment: replicas.
        value: u8,
        grace: u8,
        phase: u8,
        generate: bool,
        /// Send a made-up uid, resourceVersion and deletion timestamp (all to be ignored).
        junk: bool,
    },
    Update {
        kind: Kind,
        ns: u8,
        name: u8,
        rv: RvMode,
        stale: u8,
        app: u8,
        tier: u8,
        value: u8,
    },
    Patch {
        kind: Kind,
        ns: u8,
        name: u8,
        patch: u8,
        value: u8,
    },
    Delete {
        kind: Kind,
        ns: u8,
        name: u8,
        grace: u8,
    },
    Bind {
        ns: u8,
        name: u8,
        node: u8,
    },
    Get {
        kind: Kind,
        ns: u8,
        name: u8,
    },
    List {
        kind: Kind,
        ns: u8,
        label: u8,
        field: u8,
    },
    Watch {
        kind: Kind,
        ns: u8,
        label: u8,
        field: u8,
        /// None: from now; Some(q): from q/4 of the current version.
        start: Option<u8>,
    },
    Close {
        which: u8,
    },
}

fn write_kinds() -> impl Strategy<Value = Kind> + Clone {
    prop_oneof![
        3 => Just(Kind::Pod),
        1 => Just(Kind::Node),
        1 => Just(Kind::Deployment),
    ]
}

fn watch_kinds() -> impl Strategy<Value = Kind> + Clone {
    prop_oneof![
        3 => Just(Kind::Pod),
        1 => Just(Kind::Node),
        1 => Just(Kind::Deployment),
        1 => Just(Kind::Namespace),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let rv = prop_oneof![
        Just(RvMode::Current),
        Just(RvMode::Stale),
        Just(RvMode::Zero)
    ];
    prop_oneof![
        5 => (
            write_kinds(),
            0..4u8,
            0..4u8,
            0..3u8,
            0..2u8,
            0..3u8,
            0..4u8,
            0..3u8,
            prop::bool::weighted(0.1),
            any::<bool>(),
        )
            .prop_map(|(kind, ns, name, app, tier, value, grace, phase, generate, junk)| {
                Op::Create { kind, ns, name, app, tier, value, grace, phase, generate, junk }
            }),
        5 => (write_kinds(), 0..10u8, 0..8u8, rv, any::<u8>(), 0..3u8, 0..2u8, 0..3u8)
            .prop_map(|(kind, ns, name, rv, stale, app, tier, value)| Op::Update {
                kind, ns, name, rv, stale, app, tier, value
            }),
        2 => (write_kinds(), 0..10u8, 0..8u8, 0..5u8, 0..4u8)
            .prop_map(|(kind, ns, name, patch, value)| Op::Patch { kind, ns, name, patch, value }),
        3 => (write_kinds(), 0..10u8, 0..8u8, 0..6u8)
            .prop_map(|(kind, ns, name, grace)| Op::Delete { kind, ns, name, grace }),
        2 => (0..10u8, 0..8u8, 0..2u8).prop_map(|(ns, name, node)| Op::Bind { ns, name, node }),
        1 => (write_kinds(), 0..10u8, 0..8u8).prop_map(|(kind, ns, name)| Op::Get { kind, ns, name }),
        1 => (watch_kinds(), 0..4u8, 0..12u8, 0..12u8)
            .prop_map(|(kind, ns, label, field)| Op::List { kind, ns, label, field }),
        3 => (watch_kinds(), 0..4u8, 0..12u8, 0..12u8, prop::option::of(0..5u8))
            .prop_map(|(kind, ns, label, field, start)| Op::Watch { kind, ns, label, field, start }),
        1 => any::<u8>().prop_map(|which| Op::Close { which }),
    ]
}

fn ops(max: usize) -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..max)
}

fn proptest_config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Keep failures in the test output only: no regression files written into the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// =============================================================================================
// Running a sequence against the hub and the reference
// =============================================================================================

struct RunConfig {
    watch_history: usize,
    seed: u64,
}

/// Everything observable of a run, for the determinism property.
#[derive(Debug, PartialEq)]
struct Transcript {
    responses: Vec<Response>,
    deliveries: Vec<(ClientId, WatchId, WatchEvent)>,
    writes: Vec<WriteRecord>,
    digest: TraceDigest,
}

struct Runner {
    h: Harness,
    r: Reference,
    watches: Vec<RefWatch>,
    responses: Vec<Response>,
}

fn expect_object(ctx: &str, response: &Response, rv: u64, snap: &Snap) {
    match response {
        Ok(ResponseBody::Object(o)) => {
            assert_eq!(
                o.meta().resource_version,
                ResourceVersion(rv),
                "{ctx}: the response object carries the write's version"
            );
            assert_eq!(&snap_of(o), snap, "{ctx}: response object");
        }
        other => panic!("{ctx}: expected an object at version {rv}, got {other:?}"),
    }
}

fn expect_error(ctx: &str, response: &Response, expected: &ApiError) {
    assert_eq!(response.as_ref().err(), Some(expected), "{ctx}: response");
}

fn expect_invalid(ctx: &str, response: &Response, kind: Kind) {
    match response {
        Err(e @ ApiError::Invalid { kind: k, .. }) if *k == kind => {
            assert_eq!(e.code(), 422, "{ctx}");
        }
        other => panic!("{ctx}: expected 422 Invalid for a {kind}, got {other:?}"),
    }
}

impl Runner {
    fn new(rc: &RunConfig) -> Runner {
        Runner {
            h: Harness::new(config(rc.watch_history), rc.seed),
            r: Reference::new(rc.watch_history),
            watches: Vec::new(),
            responses: Vec::new(),
        }
    }

    fn call(&mut self, at: SimTime, request: Request) -> Response {
        let response = self.h.call(at, request);
        self.responses.push(response.clone());
        response
    }

    fn apply(&mut self, i: usize, op: &Op) {
        let t = ms((i as u64 + 1) * STEP_MS);
        let exec = t + LATENCY;
        let ctx = format!("op #{i} {op:?} (submitted at {t})");
        // A graceful deletion due by the time this operation executes commits first: its
        // FinishDeletion was queued before this request was submitted.
        if let Op::Close { .. } = op {
            self.r.finish_until(t);
        } else {
            self.r.finish_until(exec);
        }
        let rv_before = self.r.rv;
        match *op {
            Op::Create {
                kind,
                ns,
                name,
                app,
                tier,
                value,
                grace,
                phase,
                generate,
                junk,
            } => {
                let raw_ns = pick(&NAMESPACES, ns);
                let generate = generate && kind == Kind::Pod;
                let mut d = Draft::new(
                    kind,
                    raw_ns,
                    if generate { "" } else { name_for(kind, name) },
                );
                if generate {
                    d.generate_name = "gen-".into();
                }
                d.labels = random_labels(app, tier);
                d.node_name = pick(&POD_NODES, value).into();
                d.unschedulable = value == 1;
                d.replicas = Some(i32::from(value));
                d.grace = pick(&POD_GRACES, grace);
                d.phase = pick(&POD_PHASES, phase);
                let mut object = d.build();
                if junk {
                    let meta = object.meta_mut();
                    meta.uid = Uid(4242);
                    meta.resource_version = ResourceVersion(777);
                    meta.deletion_timestamp = Some(ms(5));
                }
                let response = self.call(t, Request::create(WRITER, user(), object));
                let key = if generate {
                    let name = match &response {
                        Ok(ResponseBody::Object(o)) => o.meta().name.clone(),
                        other => panic!("{ctx}: expected a created pod, got {other:?}"),
                    };
                    check_generated_name(&ctx, &name, "gen-");
                    let key = canonical(kind, raw_ns, &name);
                    assert!(
                        self.r.get(kind, &key).is_none(),
                        "{ctx}: generated an existing name"
                    );
                    key
                } else {
                    canonical(kind, raw_ns, &d.name)
                };
                if self.r.get(kind, &key).is_some() {
                    expect_error(&ctx, &response, &ApiError::AlreadyExists { kind, key });
                } else {
                    let terminal = kind == Kind::Pod && d.phase == PodPhase::Succeeded;
                    let (rv, _) = self.r.create(d.expected(&key), d.grace, terminal);
                    let snap = self.snap(kind, &key);
                    expect_object(&ctx, &response, rv, &snap);
                }
            }
            Op::Update {
                kind,
                ns,
                name,
                rv,
                stale,
                app,
                tier,
                value,
            } => {
                let (raw_ns, name) = self.target(kind, ns, name);
                let (raw_ns, name) = (raw_ns.as_str(), name.as_str());
                let key = canonical(kind, raw_ns, name);
                let current = self.r.get(kind, &key).map(|o| (o.rv, o.past.clone()));
                let sent = match (rv, &current) {
                    (RvMode::Zero, _) => 0,
                    (RvMode::Current, Some((cur, _))) => *cur,
                    (RvMode::Current, None) => 1,
                    (RvMode::Stale, Some((cur, past))) if past.is_empty() => {
                        cur + 1 + u64::from(stale)
                    }
                    (RvMode::Stale, Some((_, past))) => pick(past, stale),
                    (RvMode::Stale, None) => 1 + u64::from(stale),
                };
                // Read-modify-write, as a client does: start from the stored object.
                let mut object = match self.h.api.store().get(kind, &key) {
                    Some(o) => (**o).clone(),
                    None => Draft::new(kind, raw_ns, name).build(),
                };
                let new_labels = random_labels(app, tier);
                object.meta_mut().labels = new_labels.clone();
                object.meta_mut().namespace = raw_ns.into();
                object.meta_mut().resource_version = ResourceVersion(sent);
                // A pod's spec (its node included) changes only through a binding: an update
                // relabels it.
                match &mut object {
                    Object::Pod(_) => {}
                    Object::Node(n) => Arc::make_mut(n).spec.unschedulable = value == 1,
                    Object::Deployment(d) => d.spec.replicas = Some(i32::from(value)),
                    _ => {}
                }
                let response = self.call(t, Request::update(WRITER, user(), object, None));
                match current {
                    None => expect_error(&ctx, &response, &ApiError::NotFound { kind, key }),
                    Some((cur, _)) if sent != 0 && sent != cur => {
                        // Optimistic concurrency: a stale (or unknown) version conflicts.
                        let expected = ApiError::Conflict {
                            kind,
                            key,
                            sent,
                            current: cur,
                        };
                        expect_error(&ctx, &response, &expected);
                        assert_eq!(expected.code(), 409);
                    }
                    Some(_) => {
                        let rv = self.r.modify(kind, &key, |s| {
                            s.labels = new_labels;
                            match kind {
                                Kind::Pod => {}
                                Kind::Node => s.unschedulable = value == 1,
                                _ => s.replicas = Some(i32::from(value)),
                            }
                        });
                        let snap = self.snap(kind, &key);
                        expect_object(&ctx, &response, rv, &snap);
                    }
                }
            }
            Op::Patch {
                kind,
                ns,
                name,
                patch,
                value,
            } => {
                let (raw_ns, name) = self.target(kind, ns, name);
                let key = canonical(kind, &raw_ns, &name);
                let image = format!("img:{}", value + 1);
                let op = match patch {
                    0 => PatchOp::Replicas(i32::from(value)),
                    1 => PatchOp::Unschedulable(value % 2 == 1),
                    2 => PatchOp::Image {
                        container: None,
                        image: image.clone(),
                    },
                    3 => PatchOp::Image {
                        container: Some("c".into()),
                        image: image.clone(),
                    },
                    _ => PatchOp::Image {
                        container: Some("nope".into()),
                        image: image.clone(),
                    },
                };
                let request = Request::patch(WRITER, user(), kind, &key, op.clone());
                let response = self.call(t, request);
                if self.r.get(kind, &key).is_none() {
                    expect_error(&ctx, &response, &ApiError::NotFound { kind, key });
                    return self.after_op(&ctx);
                }
                // What the patch does to a kind it applies to; anything else is 422.
                let applies = match (&op, kind) {
                    (PatchOp::Replicas(_), Kind::Deployment)
                    | (PatchOp::Unschedulable(_), Kind::Node) => true,
                    (PatchOp::Image { container, .. }, Kind::Pod | Kind::Deployment) => {
                        container.as_deref() != Some("nope")
                    }
                    _ => false,
                };
                if applies {
                    let rv = self.r.modify(kind, &key, |s| match op {
                        PatchOp::Replicas(n) => s.replicas = Some(n),
                        PatchOp::Unschedulable(u) => s.unschedulable = u,
                        PatchOp::Image { .. } => s.image = image,
                        // The sequences never generate the scheduler's status patches.
                        PatchOp::PodStatus { .. }
                        | PatchOp::KubeletPodStatus(_)
                        | PatchOp::KubeletNodeStatus(_)
                        | PatchOp::EventSeries(_)
                        | PatchOp::Apply(_)
                        | PatchOp::AddOwner { .. }
                        | PatchOp::RemoveOwners { .. }
                        | PatchOp::RemoveFinalizer(_)
                        | PatchOp::Paused(_)
                        | PatchOp::NodeTaints(_)
                        | PatchOp::TemplateAnnotation { .. }
                        | PatchOp::Template { .. } => {}
                    });
                    let snap = self.snap(kind, &key);
                    expect_object(&ctx, &response, rv, &snap);
                } else {
                    expect_invalid(&ctx, &response, kind);
                }
            }
            Op::Delete {
                kind,
                ns,
                name,
                grace,
            } => {
                let (raw_ns, name) = self.target(kind, ns, name);
                let key = canonical(kind, &raw_ns, &name);
                let grace_override = pick(&DELETE_GRACES, grace);
                let Some(obj) = self.r.get(kind, &key).cloned() else {
                    let request = Request::delete(WRITER, user(), kind, &key, grace_override);
                    let response = self.call(t, request);
                    expect_error(&ctx, &response, &ApiError::NotFound { kind, key });
                    return self.after_op(&ctx);
                };
                // Only a bound, non-terminal pod gets a grace period.
                let grace = if kind == Kind::Pod && !obj.snap.node_name.is_empty() && !obj.terminal
                {
                    grace_override.unwrap_or(obj.grace.unwrap_or(30)).max(0)
                } else {
                    0
                };
                let deadline = exec + SimDuration::from_secs(grace as u64);
                let noop = grace > 0 && obj.snap.deletion.is_some_and(|d| d <= deadline);
                let request = Request::delete(WRITER, user(), kind, &key, grace_override);
                let response = self.call(t, request);
                if grace == 0 {
                    self.r.remove(kind, &key);
                    assert!(
                        matches!(response, Ok(ResponseBody::Deleted)),
                        "{ctx}: expected an immediate delete, got {response:?}"
                    );
                } else if noop {
                    // Already terminating at least as soon: nothing is written.
                    expect_object(&ctx, &response, obj.rv, &obj.snap);
                } else {
                    let rv = self.r.modify(kind, &key, |s| s.deletion = Some(deadline));
                    self.r
                        .schedule_finish(deadline, kind, key.clone(), obj.snap.uid);
                    let snap = self.snap(kind, &key);
                    expect_object(&ctx, &response, rv, &snap);
                }
            }
            Op::Bind { ns, name, node } => {
                let (raw_ns, name) = self.target(Kind::Pod, ns, name);
                let key = canonical(Kind::Pod, &raw_ns, &name);
                let target = pick(&NODE_NAMES, node);
                let response = self.call(t, Request::bind(WRITER, user(), &key, target));
                match self.r.get(Kind::Pod, &key).cloned() {
                    None => {
                        let expected = ApiError::NotFound {
                            kind: Kind::Pod,
                            key,
                        };
                        expect_error(&ctx, &response, &expected);
                    }
                    Some(obj) if !obj.snap.node_name.is_empty() => {
                        let expected = ApiError::Conflict {
                            kind: Kind::Pod,
                            key,
                            sent: 0,
                            current: obj.rv,
                        };
                        expect_error(&ctx, &response, &expected);
                    }
                    Some(obj) if obj.snap.deletion.is_some() => {
                        expect_invalid(&ctx, &response, Kind::Pod);
                    }
                    Some(_) => {
                        let rv = self
                            .r
                            .modify(Kind::Pod, &key, |s| s.node_name = target.into());
                        let snap = self.snap(Kind::Pod, &key);
                        expect_object(&ctx, &response, rv, &snap);
                    }
                }
            }
            Op::Get { kind, ns, name } => {
                let (raw_ns, name) = self.target(kind, ns, name);
                let (raw_ns, name) = (raw_ns.as_str(), name.as_str());
                let key = canonical(kind, raw_ns, name);
                // The request names the namespace as sent: the hub normalises it.
                let sent_key = ObjectKey::new(raw_ns, name);
                let response = self.call(t, Request::get(WRITER, user(), kind, &sent_key));
                match self.r.get(kind, &key) {
                    None => expect_error(&ctx, &response, &ApiError::NotFound { kind, key }),
                    Some(obj) => expect_object(&ctx, &response, obj.rv, &obj.snap),
                }
            }
            Op::List {
                kind,
                ns,
                label,
                field,
            } => {
                let selection = self.selection(kind, ns, label, field);
                let request = Request::list(
                    WRITER,
                    user(),
                    kind,
                    &selection.namespace,
                    selection.options(None),
                );
                let response = self.call(t, request);
                let expected: Vec<(u64, Snap)> = self
                    .r
                    .objects
                    .values()
                    .filter(|o| selection.selects(&o.snap))
                    .map(|o| (o.rv, o.snap.clone()))
                    .collect();
                match response {
                    Ok(ResponseBody::List {
                        items,
                        resource_version,
                    }) => {
                        let got: Vec<(u64, Snap)> = items
                            .iter()
                            .map(|o| (o.meta().resource_version.0, snap_of(o)))
                            .collect();
                        assert_eq!(got, expected, "{ctx}: listed items, in key order");
                        assert_eq!(resource_version.0, self.r.rv, "{ctx}: list version");
                    }
                    other => panic!("{ctx}: expected a list, got {other:?}"),
                }
            }
            Op::Watch {
                kind,
                ns,
                label,
                field,
                start,
            } => {
                let selection = self.selection(kind, ns, label, field);
                let from = match start {
                    None => self.r.rv,
                    Some(q) => self.r.rv * u64::from(q % 5) / 4,
                };
                let client = ClientId(1000 + self.watches.len() as u32);
                let options = selection.options(start.map(|_| from));
                let request = Request::watch(client, user(), kind, &selection.namespace, options);
                let response = self.call(t, request);
                let compacted = self.r.compacted();
                if from < compacted {
                    let expected = ApiError::Gone {
                        requested: from,
                        oldest: compacted,
                    };
                    expect_error(&ctx, &response, &expected);
                    assert_eq!(expected.code(), 410);
                } else {
                    match response {
                        Ok(ResponseBody::Watch(id)) => self.watches.push(RefWatch {
                            id,
                            client,
                            selection,
                            from,
                            closed_at: None,
                        }),
                        other => panic!("{ctx}: expected a watch from {from}, got {other:?}"),
                    }
                }
            }
            Op::Close { which } => {
                // Closing happens at `t`, after everything due by then (the reference finished
                // the deletions due by `t` above).
                self.h.run_until(t);
                // The standing watches (opened first) stay open to the end.
                let closable = self.watches.len().saturating_sub(STANDING.len());
                if closable > 0 {
                    let idx = STANDING.len() + usize::from(which) % closable;
                    if self.watches[idx].closed_at.is_none() {
                        self.h.api.close_watch(self.watches[idx].id);
                        self.watches[idx].closed_at = Some(self.r.rv);
                    }
                }
            }
        }
        if matches!(op, Op::Get { .. } | Op::List { .. } | Op::Watch { .. }) {
            assert_eq!(self.r.rv, rv_before, "{ctx}: the reference wrote on a read");
        }
        self.after_op(&ctx);
    }

    /// The store's version is the predicted one after every operation; for reads that means
    /// unchanged (the reference writes nothing on a get, list or watch).
    fn after_op(&self, ctx: &str) {
        assert_eq!(
            self.h.api.store().revision().0,
            self.r.rv,
            "{ctx}: store revision"
        );
    }

    /// The (request namespace, name) an operation addresses: a fixed key for `ns` below
    /// `NAMESPACES.len()` (which may well be missing), otherwise one of the existing objects.
    fn target(&self, kind: Kind, ns: u8, name: u8) -> (String, String) {
        if usize::from(ns) >= NAMESPACES.len() {
            let existing: Vec<&ObjectKey> = self
                .r
                .objects
                .keys()
                .filter(|(k, _)| *k == kind)
                .map(|(_, key)| key)
                .collect();
            if !existing.is_empty() {
                let key = existing[usize::from(name) % existing.len()];
                return (key.namespace.clone(), key.name.clone());
            }
        }
        (pick(&NAMESPACES, ns).into(), name_for(kind, name).into())
    }

    fn snap(&self, kind: Kind, key: &ObjectKey) -> Snap {
        match self.r.get(kind, key) {
            Some(o) => o.snap.clone(),
            None => panic!("reference lost {kind} {key}"),
        }
    }

    fn selection(&self, kind: Kind, ns: u8, label: u8, field: u8) -> Selection {
        Selection {
            kind,
            namespace: if kind.is_namespaced() {
                pick(&WATCH_NAMESPACES, ns).into()
            } else {
                String::new()
            },
            // Half of the draws select by label (field), half do not.
            label: LABEL_SELS
                .get(usize::from(label))
                .copied()
                .unwrap_or(LabelSel::Any),
            field: FIELD_SELS
                .get(usize::from(field))
                .copied()
                .unwrap_or(FieldSel::Any),
        }
    }

    /// Drains the queue and checks the end state, every watch stream and the write log.
    fn finish(mut self) -> Transcript {
        self.h.run_to_end();
        self.r.finish_until(SimTime::MAX);
        assert_eq!(self.h.api.store().revision().0, self.r.rv, "final revision");

        // The store holds exactly what the reference holds, at the predicted versions.
        for kind in [Kind::Namespace, Kind::Node, Kind::Deployment, Kind::Pod] {
            let got: Vec<(u64, Snap)> = self
                .h
                .api
                .store()
                .iter(kind)
                .map(|o| (o.meta().resource_version.0, snap_of(o)))
                .collect();
            let expected: Vec<(u64, Snap)> = self
                .r
                .objects
                .iter()
                .filter(|((k, _), _)| *k == kind)
                .map(|(_, o)| (o.rv, o.snap.clone()))
                .collect();
            assert_eq!(got, expected, "final {kind} objects");
        }

        // resourceVersion is strictly monotonic across all writes: the write log holds
        // versions 1, 2, 3, … once each, in commit order, and matches the predicted history.
        let writes = self.h.api.writes().to_vec();
        let got: Vec<(u64, Kind, ObjectKey, ChangeType)> = writes
            .iter()
            .map(|w| (w.resource_version.0, w.kind, w.key.clone(), w.change))
            .collect();
        let expected: Vec<(u64, Kind, ObjectKey, ChangeType)> = self
            .r
            .history
            .iter()
            .map(|c| (c.rv, c.after.kind, c.after.key(), c.change))
            .collect();
        assert_eq!(got, expected, "write log");
        for pair in got.windows(2) {
            assert!(pair[0].0 < pair[1].0, "versions not increasing: {pair:?}");
        }

        // Every delivery went to an open watch of its client.
        for (client, watch, event) in &self.h.deliveries {
            assert!(
                self.watches
                    .iter()
                    .any(|w| w.id == *watch && w.client == *client),
                "delivery on unknown watch {watch:?} of {client:?}: {event:?}"
            );
        }
        // Each watch received exactly the changes that concern it, once each, in order.
        for w in &self.watches {
            let got: Vec<(ChangeType, u64, Snap)> = self
                .h
                .deliveries
                .iter()
                .filter(|(_, id, _)| *id == w.id)
                .map(|(_, _, e)| {
                    assert_eq!(
                        e.object.meta().resource_version,
                        e.resource_version,
                        "watch {:?}: event object version",
                        w.id
                    );
                    (e.change, e.resource_version.0, snap_of(&e.object))
                })
                .collect();
            for pair in got.windows(2) {
                assert!(
                    pair[0].1 < pair[1].1,
                    "watch {:?} {:?}: versions {} then {}",
                    w.id,
                    w.selection,
                    pair[0].1,
                    pair[1].1
                );
            }
            let expected = self.r.expected_events(w);
            assert_eq!(
                got, expected,
                "watch {:?} on {:?} from {} (closed at {:?})",
                w.id, w.selection, w.from, w.closed_at
            );
        }

        Transcript {
            responses: self.responses,
            deliveries: self.h.deliveries,
            writes,
            digest: *self.h.api.commit_digest(),
        }
    }
}

/// Standing watches opened before the random operations: one per kind, unfiltered, so every
/// change of the run is checked on at least one stream.
/// Watches opened before the random operations and never closed: one unfiltered watch per
/// kind, so every change of the run is checked on some stream, and a few selective ones that
/// see objects enter and leave their selection all run long.
const STANDING: [(Kind, &str, LabelSel, FieldSel); 9] = [
    (Kind::Pod, "", LabelSel::Any, FieldSel::Any),
    (Kind::Node, "", LabelSel::Any, FieldSel::Any),
    (Kind::Deployment, "", LabelSel::Any, FieldSel::Any),
    (Kind::Namespace, "", LabelSel::Any, FieldSel::Any),
    (Kind::Pod, "", LabelSel::AppIsX, FieldSel::Any),
    (Kind::Pod, "a", LabelSel::NoTier, FieldSel::Unbound),
    (Kind::Pod, "", LabelSel::Any, FieldSel::OnN0),
    (Kind::Node, "", LabelSel::AppInXY, FieldSel::Cordoned),
    (Kind::Deployment, "", LabelSel::AppIsNotX, FieldSel::NotInA),
];

fn standing_watches() -> Vec<Op> {
    let index = |text: &str| {
        WATCH_NAMESPACES
            .iter()
            .position(|n| *n == text)
            .and_then(|i| u8::try_from(i).ok())
    };
    let label = |l: LabelSel| LABEL_SELS.iter().position(|x| *x == l);
    let field = |f: FieldSel| FIELD_SELS.iter().position(|x| *x == f);
    STANDING
        .iter()
        .map(|&(kind, ns, l, f)| match (index(ns), label(l), field(f)) {
            (Some(ns), Some(label), Some(field)) => Op::Watch {
                kind,
                ns,
                label: label as u8,
                field: field as u8,
                start: None,
            },
            _ => panic!("standing watch {kind} {ns:?} {l:?} {f:?} not expressible"),
        })
        .collect()
}

fn run(random: &[Op], rc: &RunConfig) -> Transcript {
    let mut runner = Runner::new(rc);
    let mut all = standing_watches();
    all.extend_from_slice(random);
    for (i, op) in all.iter().enumerate() {
        runner.apply(i, op);
    }
    runner.finish()
}

const NAME_ALPHABET: &str = "bcdfghjklmnpqrstvwxz2456789";

fn check_generated_name(ctx: &str, name: &str, prefix: &str) {
    let Some(suffix) = name.strip_prefix(prefix) else {
        panic!("{ctx}: generated name {name:?} lacks the prefix {prefix:?}");
    };
    assert_eq!(suffix.len(), 5, "{ctx}: suffix of {name:?}");
    assert!(
        suffix.chars().all(|c| NAME_ALPHABET.contains(c)),
        "{ctx}: suffix of {name:?} outside the alphabet"
    );
}

// =============================================================================================
// Properties
// =============================================================================================

proptest! {
    #![proptest_config(proptest_config(96))]

    /// Properties 1–3: random creates, updates (current, stale and unconditional versions),
    /// patches, binds, deletes, reads and watches. Every response, version and watch stream is
    /// what the reference predicts; each watcher gets every change concerning it exactly once,
    /// in strictly increasing resourceVersion order.
    #[test]
    fn watchers_see_every_change_once_in_order(random in ops(80)) {
        run(&random, &RunConfig { watch_history: 100_000, seed: 1 });
    }
}

proptest! {
    #![proptest_config(proptest_config(64))]

    /// Property 4, randomised: with a history of 1–6 changes, a watch from a version older than
    /// the retained history gets 410 Gone; from a retained one it replays exactly the missed
    /// changes (selection semantics included) and then streams the new ones.
    #[test]
    fn small_history_answers_gone_or_replays_exactly(
        random in ops(40),
        history in 1..7usize,
    ) {
        run(&random, &RunConfig { watch_history: history, seed: 2 });
    }
}

proptest! {
    #![proptest_config(proptest_config(32))]

    /// Property 8: the same sequence run twice gives identical responses, watch streams,
    /// write logs and commit digests.
    #[test]
    fn same_sequence_same_streams_and_digest(random in ops(40), seed in any::<u64>()) {
        let rc = RunConfig { watch_history: 100_000, seed };
        let first = run(&random, &rc);
        let second = run(&random, &rc);
        prop_assert_eq!(first, second);
    }
}

// =============================================================================================
// Hand-derived cases
// =============================================================================================

/// Property 3: an update carrying a stale version conflicts and changes nothing; the current
/// version (or 0, unconditional) succeeds.
#[test]
fn stale_update_conflicts_and_changes_nothing() {
    let mut h = Harness::new(ApiServerConfig::default(), 1);
    let w = h.watch(ms(0), Kind::Node, "", selector("", "", Some(0)));
    // Nodes are cluster-scoped: no namespace gets created, so versions count our writes only.
    let created = object_of(
        "create",
        h.call(ms(10), Request::create(WRITER, user(), node("n0"))),
    );
    assert_eq!(created.meta().resource_version, ResourceVersion(1));

    let mut v1 = (*created).clone();
    v1.meta_mut().labels = labels(&[("v", "1")]);
    let updated = object_of(
        "update at 1",
        h.call(ms(20), Request::update(WRITER, user(), v1.clone(), None)),
    );
    assert_eq!(updated.meta().resource_version, ResourceVersion(2));

    // Based on version 1, which is no longer current: 409, nothing written.
    let mut stale = v1.clone();
    stale.meta_mut().labels = labels(&[("v", "2")]);
    let err = error_of(
        "stale update",
        h.call(ms(30), Request::update(WRITER, user(), stale, None)),
    );
    assert_eq!(
        err,
        ApiError::Conflict {
            kind: Kind::Node,
            key: ObjectKey::cluster("n0"),
            sent: 1,
            current: 2
        }
    );
    assert_eq!(err.code(), 409);
    assert_eq!(h.api.store().revision(), ResourceVersion(2));
    let got = object_of(
        "get",
        h.call(
            ms(40),
            Request::get(WRITER, user(), Kind::Node, &ObjectKey::cluster("n0")),
        ),
    );
    assert_eq!(got.meta().resource_version, ResourceVersion(2));
    assert_eq!(got.meta().labels, labels(&[("v", "1")]));

    // Version 0 is unconditional: it succeeds at version 3.
    let mut blind = v1.clone();
    blind.meta_mut().resource_version = ResourceVersion(0);
    blind.meta_mut().labels = labels(&[("v", "3")]);
    let updated = object_of(
        "unconditional",
        h.call(ms(50), Request::update(WRITER, user(), blind, None)),
    );
    assert_eq!(updated.meta().resource_version, ResourceVersion(3));

    // A version from the future is no more current than a stale one.
    let mut future = (*updated).clone();
    future.meta_mut().resource_version = ResourceVersion(99);
    let err = error_of(
        "future update",
        h.call(ms(60), Request::update(WRITER, user(), future, None)),
    );
    assert_eq!(
        err,
        ApiError::Conflict {
            kind: Kind::Node,
            key: ObjectKey::cluster("n0"),
            sent: 99,
            current: 3
        }
    );

    h.run_to_end();
    assert_eq!(
        h.events(w),
        vec![
            (ChangeType::Added, 1, "n0".to_string()),
            (ChangeType::Modified, 2, "n0".to_string()),
            (ChangeType::Modified, 3, "n0".to_string()),
        ]
    );
}

/// Property 4: a history of 5 changes; a watch from a compacted version gets 410, one from a
/// retained version replays exactly the missed changes.
#[test]
fn watch_from_compacted_version_is_gone() {
    let mut h = Harness::new(config(5), 1);
    for (i, name) in ["n0", "n1", "n2"].into_iter().enumerate() {
        h.ok(
            ms(10 * (i as u64 + 1)),
            Request::create(WRITER, user(), node(name)),
        );
    }
    // Versions 1–3 created n0, n1, n2; 4–6 modify n0; 7 deletes n1.
    for v in 4..=6u64 {
        let mut n = node("n0");
        n.meta_mut().labels = labels(&[("v", &v.to_string())]);
        h.ok(ms(10 * v), Request::update(WRITER, user(), n, None));
    }
    let gone = h.call(
        ms(70),
        Request::delete(WRITER, user(), Kind::Node, &ObjectKey::cluster("n1"), None),
    );
    assert_eq!(gone, Ok(ResponseBody::Deleted));
    assert_eq!(h.api.store().revision(), ResourceVersion(7));
    // 7 changes, 5 retained (3..=7): version 2 is the last one compacted away.
    assert_eq!(h.api.store().compacted_revision(), ResourceVersion(2));

    let watch_from = |h: &mut Harness, at: u64, from: u64| {
        let request = Request::watch(WRITER, user(), Kind::Node, "", selector("", "", Some(from)));
        h.call(ms(at), request)
    };
    for from in [0, 1] {
        let err = error_of(
            "watch from a compacted version",
            watch_from(&mut h, 100 + from, from),
        );
        assert_eq!(
            err,
            ApiError::Gone {
                requested: from,
                oldest: 2
            }
        );
        assert_eq!(err.code(), 410);
    }
    assert_eq!(
        h.api.watches().open_count(),
        0,
        "a refused watch is not opened"
    );

    let open = |h: &mut Harness, at: u64, from: Option<u64>| match h.call(
        ms(at),
        Request::watch(WRITER, user(), Kind::Node, "", selector("", "", from)),
    ) {
        Ok(ResponseBody::Watch(id)) => id,
        other => panic!("expected a watch from {from:?}, got {other:?}"),
    };
    let from2 = open(&mut h, 120, Some(2));
    let from5 = open(&mut h, 130, Some(5));
    let from7 = open(&mut h, 140, Some(7));
    let now = open(&mut h, 150, None);
    h.run_until(ms(190));
    let n = |s: &str| s.to_string();
    assert_eq!(
        h.events(from2),
        vec![
            (ChangeType::Added, 3, n("n2")),
            (ChangeType::Modified, 4, n("n0")),
            (ChangeType::Modified, 5, n("n0")),
            (ChangeType::Modified, 6, n("n0")),
            (ChangeType::Deleted, 7, n("n1")),
        ]
    );
    assert_eq!(
        h.events(from5),
        vec![
            (ChangeType::Modified, 6, n("n0")),
            (ChangeType::Deleted, 7, n("n1"))
        ]
    );
    assert_eq!(h.events(from7), vec![]);
    assert_eq!(h.events(now), vec![]);

    // Version 8 reaches every open watch once; the history now holds 4..=8.
    h.ok(ms(200), Request::create(WRITER, user(), node("n3")));
    h.run_until(ms(210));
    for w in [from2, from5, from7, now] {
        assert_eq!(
            h.events(w).last(),
            Some(&(ChangeType::Added, 8, n("n3"))),
            "{w:?}"
        );
    }
    assert_eq!(h.events(from2).len(), 6);
    assert_eq!(h.api.store().compacted_revision(), ResourceVersion(3));
    let err = error_of("watch from 2 after compaction", watch_from(&mut h, 220, 2));
    assert_eq!(
        err,
        ApiError::Gone {
            requested: 2,
            oldest: 3
        }
    );
    let from3 = open(&mut h, 230, Some(3));
    h.run_to_end();
    let versions: Vec<u64> = h.events(from3).iter().map(|e| e.1).collect();
    assert_eq!(versions, vec![4, 5, 6, 7, 8]);
}

/// Property 5: create of an existing name, reads and writes of a missing one, and a create
/// without any name.
#[test]
fn existing_and_missing_names() {
    let mut h = Harness::new(config(100), 1);
    let p = object_of(
        "create",
        h.call(
            ms(10),
            Request::create(WRITER, user(), pod("a", "p0", "", &[])),
        ),
    );
    // Version 1 is the pod; 2 is namespace `a`, created because something named it.
    assert_eq!(p.meta().resource_version, ResourceVersion(1));
    assert_eq!(h.api.store().revision(), ResourceVersion(2));
    assert!(
        h.api
            .store()
            .get(Kind::Namespace, &ObjectKey::cluster("a"))
            .is_some()
    );

    let key = ObjectKey::new("a", "p0");
    let err = error_of(
        "create again",
        h.call(
            ms(20),
            Request::create(WRITER, user(), pod("a", "p0", "n0", &[])),
        ),
    );
    assert_eq!(
        err,
        ApiError::AlreadyExists {
            kind: Kind::Pod,
            key: key.clone()
        }
    );
    assert_eq!(err.code(), 409);
    // The same name in another namespace is another object.
    let other = object_of(
        "create in b",
        h.call(
            ms(30),
            Request::create(WRITER, user(), pod("b", "p0", "", &[])),
        ),
    );
    assert_eq!(other.meta().resource_version, ResourceVersion(3));
    assert_ne!(other.meta().uid, p.meta().uid);

    let missing = ObjectKey::new("a", "nope");
    let not_found = ApiError::NotFound {
        kind: Kind::Pod,
        key: missing.clone(),
    };
    let requests = [
        Request::get(WRITER, user(), Kind::Pod, &missing),
        Request::delete(WRITER, user(), Kind::Pod, &missing, None),
        Request::patch(
            WRITER,
            user(),
            Kind::Pod,
            &missing,
            PatchOp::Image {
                container: None,
                image: "x".into(),
            },
        ),
        Request::bind(WRITER, user(), &missing, "n0"),
        Request::update(WRITER, user(), pod("a", "nope", "", &[]), None),
    ];
    for (i, request) in requests.into_iter().enumerate() {
        let verb = request.verb;
        let err = error_of(verb.name(), h.call(ms(100 + 10 * i as u64), request));
        assert_eq!(err, not_found, "{}", verb.name());
        assert_eq!(err.code(), 404);
    }
    // A pod in namespace "" is in `default`: reading it back without a namespace finds it.
    let d = object_of(
        "create default",
        h.call(
            ms(200),
            Request::create(WRITER, user(), pod("", "p0", "", &[])),
        ),
    );
    assert_eq!(d.key(), ObjectKey::new("default", "p0"));
    let got = object_of(
        "get default",
        h.call(
            ms(210),
            Request::get(WRITER, user(), Kind::Pod, &ObjectKey::new("", "p0")),
        ),
    );
    assert_eq!(got.meta().uid, d.meta().uid);

    let mut nameless = pod("a", "", "", &[]);
    nameless.meta_mut().generate_name.clear();
    let err = error_of(
        "no name",
        h.call(ms(300), Request::create(WRITER, user(), nameless)),
    );
    assert_eq!(err.code(), 422);
    // Failed requests wrote nothing: pod a/p0, ns a, pod b/p0, ns b, pod default/p0, ns default.
    assert_eq!(h.api.store().revision(), ResourceVersion(6));
}

/// Property 5: `generateName` gives distinct names, the same ones for the same seed.
#[test]
fn generated_names_are_distinct_and_seeded() {
    let names = |seed: u64| -> Vec<String> {
        let mut h = Harness::new(config(100), seed);
        (0..20u64)
            .map(|i| {
                let mut p = pod("a", "", "", &[]);
                p.meta_mut().generate_name = "web-".into();
                let o = object_of(
                    "generateName",
                    h.call(ms(10 * (i + 1)), Request::create(WRITER, user(), p)),
                );
                o.meta().name.clone()
            })
            .collect()
    };
    let first = names(7);
    for name in &first {
        check_generated_name("seed 7", name, "web-");
    }
    let distinct: BTreeSet<&String> = first.iter().collect();
    assert_eq!(distinct.len(), 20, "{first:?}");
    assert_eq!(names(7), first, "same seed, same names");
    assert_ne!(names(8), first, "another seed, other names");
}

/// Property 6: a bound pod terminates for 30 s (its own grace or the request's override
/// otherwise): MODIFIED with a deletion timestamp, then DELETED at the deadline.
#[test]
fn graceful_deletion_of_a_bound_pod() {
    let mut h = Harness::new(ApiServerConfig::default(), 1);
    let w = h.watch(ms(0), Kind::Pod, "", selector("", "", None));
    let key = ObjectKey::new("a", "web");
    // Version 1: the pod; 2: namespace a.
    h.ok(
        ms(10),
        Request::create(WRITER, user(), pod("a", "web", "n0", &[])),
    );
    let deleting = object_of(
        "delete",
        h.call(
            ms(1000),
            Request::delete(WRITER, user(), Kind::Pod, &key, None),
        ),
    );
    // Executed at 1.001 s (1 ms admission): the deadline is 1.001 s + 30 s.
    assert_eq!(deleting.meta().resource_version, ResourceVersion(3));
    assert_eq!(deleting.meta().deletion_timestamp, Some(ms(31_001)));
    assert_eq!(deleting.meta().deletion_grace_period_seconds, Some(30));

    h.run_until(ms(31_000));
    assert!(
        h.api.store().get(Kind::Pod, &key).is_some(),
        "still terminating before the deadline"
    );
    h.run_until(ms(31_001));
    assert!(
        h.api.store().get(Kind::Pod, &key).is_none(),
        "gone at the deadline"
    );
    assert_eq!(h.api.store().revision(), ResourceVersion(4));
    h.run_to_end();

    let events = h.events(w);
    let n = |s: &str| s.to_string();
    assert_eq!(
        events,
        vec![
            (ChangeType::Added, 1, n("web")),
            (ChangeType::Modified, 3, n("web")),
            (ChangeType::Deleted, 4, n("web")),
        ]
    );
    let stream: Vec<Option<SimTime>> = h
        .deliveries
        .iter()
        .map(|(_, _, e)| e.object.meta().deletion_timestamp)
        .collect();
    assert_eq!(stream, vec![None, Some(ms(31_001)), Some(ms(31_001))]);
}

#[test]
fn grace_period_override_and_pod_grace_are_respected() {
    let mut h = Harness::new(ApiServerConfig::default(), 1);
    let mut own = Draft::new(Kind::Pod, "a", "own");
    own.node_name = "n0".into();
    own.grace = Some(10);
    let mut over = own.clone();
    over.name = "over".into();
    h.ok(ms(10), Request::create(WRITER, user(), own.build())); // rv 1 (+ namespace at 2)
    h.ok(ms(20), Request::create(WRITER, user(), over.build())); // rv 3

    // The pod's own 10 s: executed at 1.001 s, due at 11.001 s.
    let own_key = ObjectKey::new("a", "own");
    let o = object_of(
        "delete own",
        h.call(
            ms(1000),
            Request::delete(WRITER, user(), Kind::Pod, &own_key, None),
        ),
    );
    assert_eq!(o.meta().deletion_timestamp, Some(ms(11_001)));
    assert_eq!(o.meta().deletion_grace_period_seconds, Some(10));
    // The request's 5 s overrides the pod's 10 s: executed at 2.001 s, due at 7.001 s.
    let over_key = ObjectKey::new("a", "over");
    let o = object_of(
        "delete over",
        h.call(
            ms(2000),
            Request::delete(WRITER, user(), Kind::Pod, &over_key, Some(5)),
        ),
    );
    assert_eq!(o.meta().deletion_timestamp, Some(ms(7_001)));
    assert_eq!(o.meta().deletion_grace_period_seconds, Some(5));

    h.run_until(ms(7_000));
    assert!(h.api.store().get(Kind::Pod, &over_key).is_some());
    h.run_until(ms(7_001));
    assert!(h.api.store().get(Kind::Pod, &over_key).is_none());
    h.run_until(ms(11_000));
    assert!(h.api.store().get(Kind::Pod, &own_key).is_some());
    h.run_until(ms(11_001));
    assert!(h.api.store().get(Kind::Pod, &own_key).is_none());
    // Writes: 2 creates, namespace, 2 terminations, 2 deletions.
    assert_eq!(h.api.store().revision(), ResourceVersion(7));
}

#[test]
fn unbound_and_finished_pods_are_deleted_at_once() {
    let mut h = Harness::new(ApiServerConfig::default(), 1);
    let w = h.watch(ms(0), Kind::Pod, "", selector("", "", None));
    let mut done = Draft::new(Kind::Pod, "a", "done");
    done.node_name = "n0".into();
    done.phase = PodPhase::Succeeded;
    h.ok(
        ms(10),
        Request::create(WRITER, user(), pod("a", "pending", "", &[])),
    ); // rv 1, ns 2
    h.ok(ms(20), Request::create(WRITER, user(), done.build())); // rv 3
    for (i, name) in ["pending", "done"].into_iter().enumerate() {
        let key = ObjectKey::new("a", name);
        let response = h.call(
            ms(100 + 10 * i as u64),
            Request::delete(WRITER, user(), Kind::Pod, &key, None),
        );
        assert_eq!(response, Ok(ResponseBody::Deleted), "{name}");
        assert!(
            h.api.store().get(Kind::Pod, &key).is_none(),
            "{name} is gone at once"
        );
    }
    h.run_to_end();
    let n = |s: &str| s.to_string();
    assert_eq!(
        h.events(w),
        vec![
            (ChangeType::Added, 1, n("pending")),
            (ChangeType::Added, 3, n("done")),
            (ChangeType::Deleted, 4, n("pending")),
            (ChangeType::Deleted, 5, n("done")),
        ]
    );
}

/// A graceful deletion's deadline leaves a new pod with the same name alone.
#[test]
fn finishing_a_deletion_spares_a_recreated_pod() {
    let mut h = Harness::new(ApiServerConfig::default(), 1);
    let key = ObjectKey::new("a", "p");
    h.ok(
        ms(10),
        Request::create(WRITER, user(), pod("a", "p", "n0", &[])),
    ); // rv 1, ns 2
    h.ok(
        ms(1000),
        Request::delete(WRITER, user(), Kind::Pod, &key, None),
    ); // rv 3, due 31.001 s
    let now = h.call(
        ms(2000),
        Request::delete(WRITER, user(), Kind::Pod, &key, Some(0)),
    ); // rv 4
    assert_eq!(now, Ok(ResponseBody::Deleted));
    let again = object_of(
        "recreate",
        h.call(
            ms(3000),
            Request::create(WRITER, user(), pod("a", "p", "n1", &[])),
        ),
    );
    assert_eq!(again.meta().resource_version, ResourceVersion(5));
    h.run_to_end();
    let Some(Object::Pod(p)) = h.api.store().get(Kind::Pod, &key).map(|o| (**o).clone()) else {
        panic!("the recreated pod must survive the first incarnation's deadline");
    };
    assert_eq!(p.spec.node_name, "n1");
    assert_eq!(p.metadata.uid, again.meta().uid);
    assert_eq!(h.api.store().revision(), ResourceVersion(5));
}

/// Property 7: a bind sets nodeName once; a second one conflicts and changes nothing.
#[test]
fn bind_sets_node_name_once() {
    let mut h = Harness::new(ApiServerConfig::default(), 1);
    let unbound = h.watch(ms(0), Kind::Pod, "", selector("", "spec.nodeName=", None));
    let on_n0 = h.watch(ms(1), Kind::Pod, "", selector("", "spec.nodeName=n0", None));
    let key = ObjectKey::new("a", "p");
    h.ok(
        ms(10),
        Request::create(WRITER, user(), pod("a", "p", "", &[])),
    ); // rv 1, ns 2
    let bound = object_of(
        "bind",
        h.call(ms(20), Request::bind(WRITER, user(), &key, "n0")),
    );
    assert_eq!(bound.meta().resource_version, ResourceVersion(3));
    let Object::Pod(p) = &*bound else {
        panic!("bind answered {bound:?}")
    };
    assert_eq!(p.spec.node_name, "n0");
    let scheduled = p
        .status
        .condition("PodScheduled")
        .map(|c| (c.status.as_str(), c.last_transition_time));
    assert_eq!(scheduled, Some(("True", ms(21))));

    let err = error_of(
        "second bind",
        h.call(ms(30), Request::bind(WRITER, user(), &key, "n1")),
    );
    assert_eq!(
        err,
        ApiError::Conflict {
            kind: Kind::Pod,
            key: key.clone(),
            sent: 0,
            current: 3
        }
    );
    let got = object_of(
        "get",
        h.call(ms(40), Request::get(WRITER, user(), Kind::Pod, &key)),
    );
    assert_eq!(got, bound, "the failed bind changed nothing");
    assert_eq!(h.api.store().revision(), ResourceVersion(3));

    h.run_to_end();
    let n = |s: &str| s.to_string();
    // The bind moves the pod out of the unbound selection and into n0's.
    assert_eq!(
        h.events(unbound),
        vec![
            (ChangeType::Added, 1, n("p")),
            (ChangeType::Deleted, 3, n("p"))
        ]
    );
    assert_eq!(h.events(on_n0), vec![(ChangeType::Added, 3, n("p"))]);
}

/// Selector semantics: entering a label selection is ADDED, leaving it DELETED, changes
/// outside it are not sent.
#[test]
fn label_selection_enter_modify_leave() {
    let mut h = Harness::new(ApiServerConfig::default(), 1);
    let web = h.watch(ms(0), Kind::Pod, "a", selector("app=web", "", None));
    let all = h.watch(ms(1), Kind::Pod, "", selector("", "", None));
    let key = ObjectKey::new("a", "p");
    // Read-modify-write: a pod's spec (what admission added included) stays as stored.
    let relabel = |h: &mut Harness, at: u64, pairs: &[(&str, &str)]| {
        let mut p = h
            .api
            .store()
            .get(Kind::Pod, &key)
            .map(|o| (**o).clone())
            .expect("p exists");
        p.meta_mut().labels = labels(pairs);
        object_of(
            "relabel",
            h.call(ms(at), Request::update(WRITER, user(), p, None)),
        )
    };
    h.ok(
        ms(10),
        Request::create(WRITER, user(), pod("a", "p", "", &[("app", "db")])),
    ); // 1, ns 2
    relabel(&mut h, 20, &[("app", "web")]); // 3: enters
    relabel(&mut h, 30, &[("app", "web"), ("tier", "front")]); // 4: stays
    relabel(&mut h, 40, &[("app", "db")]); // 5: leaves
    h.ok(
        ms(50),
        Request::delete(WRITER, user(), Kind::Pod, &key, None),
    ); // 6: outside
    h.run_to_end();
    let n = |s: &str| s.to_string();
    assert_eq!(
        h.events(web),
        vec![
            (ChangeType::Added, 3, n("p")),
            (ChangeType::Modified, 4, n("p")),
            (ChangeType::Deleted, 5, n("p")),
        ]
    );
    // The DELETED event carries the object as it is now (app=db), as the watch cache sends it.
    let left = h
        .deliveries
        .iter()
        .find(|(_, id, e)| *id == web && e.change == ChangeType::Deleted);
    assert_eq!(
        left.map(|(_, _, e)| e.object.meta().labels.clone()),
        Some(labels(&[("app", "db")]))
    );
    assert_eq!(
        h.events(all),
        vec![
            (ChangeType::Added, 1, n("p")),
            (ChangeType::Modified, 3, n("p")),
            (ChangeType::Modified, 4, n("p")),
            (ChangeType::Modified, 5, n("p")),
            (ChangeType::Deleted, 6, n("p")),
        ]
    );
}

/// A write that changes nothing commits nothing: the answer carries the stored object at its
/// version, no watcher sees an event, and the write log and commit digest do not move.
#[test]
fn writes_that_change_nothing_commit_nothing() {
    let mut h = Harness::new(config(100), 1);
    let w = h.watch(ms(0), Kind::Pod, "", selector("", "", None));
    let d = h.watch(ms(1), Kind::Deployment, "", selector("", "", None));
    let key = ObjectKey::new("a", "p");
    h.ok(
        ms(10),
        Request::create(WRITER, user(), pod("a", "p", "n0", &[("app", "x")])),
    ); // 1, ns 2
    let mut dep = Draft::new(Kind::Deployment, "a", "d");
    dep.replicas = Some(2);
    h.ok(ms(20), Request::create(WRITER, user(), dep.build())); // 3
    h.ok(
        ms(1000),
        Request::delete(WRITER, user(), Kind::Pod, &key, None),
    ); // 4, due 31.001 s
    h.ok(
        ms(1100),
        Request::create(WRITER, user(), pod("a", "q", "", &[])),
    ); // 5: another pod
    h.run_until(ms(1500));
    let digest = *h.api.commit_digest();
    let writes = h.api.writes().len();

    // Due at 32.001 s, later than 31.001 s: the pod stays as it is.
    let again = object_of(
        "delete again",
        h.call(
            ms(2000),
            Request::delete(WRITER, user(), Kind::Pod, &key, None),
        ),
    );
    assert_eq!(again.meta().resource_version, ResourceVersion(4));
    assert_eq!(again.meta().deletion_timestamp, Some(ms(31_001)));
    // The stored pod sent back unchanged (its current version, so no conflict).
    let Some(stored) = h.api.store().get(Kind::Pod, &key).map(|o| (**o).clone()) else {
        panic!("a/p is terminating, not gone");
    };
    let same = object_of(
        "identical update",
        h.call(ms(2100), Request::update(WRITER, user(), stored, None)),
    );
    assert_eq!(same.meta().resource_version, ResourceVersion(4));
    // Scaling to the replicas it already has.
    let dep_key = ObjectKey::new("a", "d");
    let scaled = object_of(
        "same scale",
        h.call(
            ms(2200),
            Request::patch(
                WRITER,
                user(),
                Kind::Deployment,
                &dep_key,
                PatchOp::Replicas(2),
            ),
        ),
    );
    assert_eq!(scaled.meta().resource_version, ResourceVersion(3));
    h.run_until(ms(3000));

    assert_eq!(h.api.store().revision(), ResourceVersion(5));
    let n = |s: &str| s.to_string();
    assert_eq!(
        h.events(w),
        vec![
            (ChangeType::Added, 1, n("p")),
            (ChangeType::Modified, 4, n("p")),
            (ChangeType::Added, 5, n("q")),
        ],
        "no event for the writes that changed nothing"
    );
    assert_eq!(h.events(d), vec![(ChangeType::Added, 3, n("d"))]);
    assert_eq!(h.api.writes().len(), writes, "write log");
    assert_eq!(*h.api.commit_digest(), digest, "commit digest");
}

/// A watch asked to start after a version the store has not reached yet must not deliver the
/// changes up to that version (`ListOptions::resource_version`: "start after this version"):
/// it is refused: upstream answers "Too large resource version".
#[test]
fn watch_from_a_future_version_is_refused() {
    let mut h = Harness::new(config(100), 1);
    h.ok(ms(10), Request::create(WRITER, user(), node("n0"))); // rv 1
    let request = Request::watch(WRITER, user(), Kind::Node, "", selector("", "", Some(3)));
    // The store is at 1; a watch from 3 is refused as upstream refuses it, with 504.
    match h.call(ms(20), request) {
        Err(e) => {
            assert_eq!(
                e,
                ApiError::TooLargeResourceVersion {
                    requested: 3,
                    current: 1
                }
            );
            assert_eq!(e.code(), 504);
        }
        Ok(other) => panic!("expected TooLargeResourceVersion, got {other:?}"),
    }
}

// =============================================================================================
// Streaming lists (KEP-3157): a watch with sendInitialEvents
// =============================================================================================

/// `sendInitialEvents=true`, `resourceVersionMatch=NotOlderThan`, `allowWatchBookmarks=true`
/// from `from` (none: the latest), as client-go's reflector sends them, with a field selector.
fn streaming(field: &str, from: Option<u64>) -> ListOptions {
    ListOptions {
        send_initial_events: true,
        resource_version_match: Some(kubesim::apiserver::ResourceVersionMatch::NotOlderThan),
        allow_watch_bookmarks: true,
        ..selector("", field, from)
    }
}

fn with_watch_list(on: bool) -> ApiServerConfig {
    let mut config = ApiServerConfig::default();
    config.feature_gates.watch_list = on;
    config
}

/// Three pods on n0, n0 and n1 in namespace a, then one on n0 in b. The first pod of a
/// namespace makes the hub create the namespace right after it: p1 is version 1, namespace a
/// 2, p2 3, p3 4, q1 5, namespace b 6.
fn three_and_one(h: &mut Harness) {
    for (i, (ns, name, node)) in [("a", "p1", "n0"), ("a", "p2", "n0"), ("a", "p3", "n1")]
        .into_iter()
        .chain([("b", "q1", "n0")])
        .enumerate()
    {
        h.ok(
            ms(10 * (i as u64 + 1)),
            Request::create(WRITER, user(), pod(ns, name, node, &[])),
        );
    }
}

#[test]
fn a_streaming_list_sends_exactly_the_selected_objects_then_the_end_bookmark() {
    let mut h = Harness::new(with_watch_list(true), 1);
    three_and_one(&mut h);
    assert_eq!(h.api.store().revision(), ResourceVersion(6));
    // A kubelet's streaming list of n0's pods, asking for a state not older than version 2:
    // the cache's state now — p1 (1), p2 (3) and q1 (5), in key order, each ADDED at its own
    // version — not p3 (on n1); then the bookmark at the cache's version, 6. p4 is 7.
    let on_n0 = h.watch(
        ms(100),
        Kind::Pod,
        "",
        streaming("spec.nodeName=n0", Some(2)),
    );
    // Namespace a's pods, from the latest: p1, p2, p3.
    let in_a = h.watch(ms(100), Kind::Pod, "a", streaming("", None));
    h.ok(
        ms(200),
        Request::create(WRITER, user(), pod("a", "p4", "n0", &[])),
    );
    h.run_to_end();
    let n = |s: &str| s.to_string();
    assert_eq!(
        h.events(on_n0),
        vec![
            (ChangeType::Added, 1, n("p1")),
            (ChangeType::Added, 3, n("p2")),
            (ChangeType::Added, 5, n("q1")),
            (ChangeType::Bookmark, 6, n("")),
            // Then the watch goes on like any other.
            (ChangeType::Added, 7, n("p4")),
        ]
    );
    assert_eq!(
        h.events(in_a),
        vec![
            (ChangeType::Added, 1, n("p1")),
            (ChangeType::Added, 3, n("p2")),
            (ChangeType::Added, 4, n("p3")),
            (ChangeType::Bookmark, 6, n("")),
            (ChangeType::Added, 7, n("p4")),
        ]
    );
    // The bookmark is a Pod with nothing but its version and the end annotation.
    let bookmarks: Vec<&WatchEvent> = h
        .deliveries
        .iter()
        .filter(|(_, _, e)| e.change == ChangeType::Bookmark)
        .map(|(_, _, e)| e)
        .collect();
    assert_eq!(bookmarks.len(), 2);
    for b in bookmarks {
        assert!(kubesim::apiserver::watch_list::is_initial_events_end(b));
        assert_eq!(b.object.kind(), Kind::Pod);
        assert_eq!(
            b.object
                .meta()
                .annotations
                .get(kubesim::apiserver::INITIAL_EVENTS_END_ANNOTATION)
                .map(String::as_str),
            Some("true")
        );
    }
}

#[test]
fn a_streaming_list_is_refused_422_when_the_watch_list_gate_is_off() {
    let mut h = Harness::new(with_watch_list(false), 1);
    three_and_one(&mut h);
    let refused = error_of(
        "streaming list",
        h.call(
            ms(100),
            Request::watch(WRITER, user(), Kind::Pod, "", streaming("", None)),
        ),
    );
    assert_eq!(refused.code(), 422);
    // Nothing was opened and nothing is delivered; a plain watch is served as before.
    assert_eq!(h.api.watches().open_count(), 0);
    let plain = h.watch(ms(110), Kind::Pod, "", selector("", "", Some(6)));
    h.ok(
        ms(200),
        Request::create(WRITER, user(), pod("a", "p4", "n0", &[])),
    );
    h.run_to_end();
    assert_eq!(
        h.events(plain),
        vec![(ChangeType::Added, 7, "p4".to_string())]
    );
}

#[test]
fn a_streaming_list_from_a_compacted_version_gets_the_current_state_not_a_410() {
    // History of 2 changes: only versions 5 and 6 are kept after the 6 commits. A watch
    // resuming from 1 is 410; a streaming list "not older than 1" is the state now: q1 (5),
    // then the bookmark at 6.
    let mut config = config(2);
    config.feature_gates.watch_list = true;
    let mut h = Harness::new(config, 1);
    three_and_one(&mut h);
    let resumed = error_of(
        "resume from 1",
        h.call(
            ms(100),
            Request::watch(WRITER, user(), Kind::Pod, "", selector("", "", Some(1))),
        ),
    );
    assert_eq!(resumed.code(), 410);
    let stream = h.watch(ms(110), Kind::Pod, "b", streaming("", Some(1)));
    h.run_to_end();
    assert_eq!(
        h.events(stream),
        vec![
            (ChangeType::Added, 5, "q1".to_string()),
            (ChangeType::Bookmark, 6, String::new()),
        ]
    );
}
