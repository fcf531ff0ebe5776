//! API requests and responses as they travel between clients and the apiserver.
//!
//! A request carries everything flow control will classify on (verb, resource, namespace, the
//! client's user and groups) and everything the cost model needs (how many objects a list
//! touches), even where today's ideal admission ignores it.

use std::sync::Arc;

use crate::api::labels::{FieldSelector, Selector};
use crate::api::{Kind, Object, ObjectKey, ResourceVersion};

/// Which client sent a request (an index the world assigns to each component).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(pub u32);

/// A request's id, unique within a run, in submission order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// The authenticated user behind a client, as APF FlowSchemas match it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// User name (`system:kube-scheduler`, `system:node:node-1`, …).
    pub name: String,
    /// Groups (`system:nodes`, `system:authenticated`, …).
    pub groups: Vec<String>,
}

impl UserInfo {
    /// A user in the given groups.
    pub fn new(name: impl Into<String>, groups: &[&str]) -> Self {
        UserInfo {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    /// A `kube-system` service account, as a token of it authenticates:
    /// `system:serviceaccount:kube-system:<name>`, in the service-account groups.
    pub fn kube_system_service_account(name: &str) -> Self {
        UserInfo::new(
            format!("system:serviceaccount:kube-system:{name}"),
            &[
                "system:serviceaccounts",
                "system:serviceaccounts:kube-system",
                "system:authenticated",
            ],
        )
    }
}

/// The HTTP verb family, as flow control and audit logs name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    /// Read one object.
    Get,
    /// Read a collection.
    List,
    /// Open a watch.
    Watch,
    /// Create an object.
    Create,
    /// Replace an object (optimistic concurrency on resourceVersion).
    Update,
    /// Change part of an object.
    Patch,
    /// Delete an object.
    Delete,
}

impl Verb {
    /// Lower-case verb, as in `apiserver_request_total{verb=…}`.
    pub const fn name(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
        }
    }

    /// Whether the verb writes.
    pub const fn is_mutating(self) -> bool {
        matches!(
            self,
            Verb::Create | Verb::Update | Verb::Patch | Verb::Delete
        )
    }
}

/// A subresource a request addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subresource {
    /// `/status`: only the status changes.
    Status,
    /// `/binding`: binds a pod to a node.
    Binding,
    /// `/scale`: changes a workload's replicas.
    Scale,
    /// `/eviction`: deletes a pod if its PodDisruptionBudget allows it.
    Eviction,
}

impl Subresource {
    /// The path segment.
    pub const fn name(self) -> &'static str {
        match self {
            Subresource::Status => "status",
            Subresource::Binding => "binding",
            Subresource::Scale => "scale",
            Subresource::Eviction => "eviction",
        }
    }
}

/// A targeted change, executed atomically by the apiserver (no read-modify-write race).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatchOp {
    /// Set `spec.replicas` of a Deployment or ReplicaSet.
    Replicas(i32),
    /// Set the image of a container (all containers when `container` is None).
    Image {
        /// Container name.
        container: Option<String>,
        /// New image.
        image: String,
    },
    /// Set `spec.unschedulable` of a node (cordon / uncordon).
    Unschedulable(bool),
    /// Replace `spec.taints` of a node: the two-way merge patch client-go's `PatchNodeTaints`
    /// sends (a taint list has no merge key, so the patch carries the whole new list).
    NodeTaints(Vec<crate::api::taints::Taint>),
    /// Set `spec.paused` of a Deployment (`kubectl rollout pause` / `resume`).
    Paused(bool),
    /// Set an annotation of a Deployment's pod template (`kubectl rollout restart`).
    TemplateAnnotation {
        /// The annotation.
        key: String,
        /// Its value.
        value: String,
    },
    /// Replace a Deployment's pod template and annotations (the JSON patch of
    /// `kubectl rollout undo`).
    Template {
        /// The pod template to restore.
        template: Box<crate::api::pod::PodTemplateSpec>,
        /// The Deployment's annotations after the rollback.
        annotations: crate::api::meta::Annotations,
    },
    /// A pod's status as kube-scheduler patches it: a condition set by type (its transition
    /// time kept unless its status changes) and `status.nominatedNodeName` (empty clears it).
    PodStatus {
        /// The condition to set.
        condition: Option<crate::api::pod::PodCondition>,
        /// The nominated node to set.
        nominated_node_name: Option<String>,
    },
    /// A pod's status as its kubelet's status manager writes it: phase, reason, message,
    /// startTime and the container statuses replaced; each condition it carries set by type,
    /// the others (`PodScheduled`, `DisruptionTarget`) kept.
    KubeletPodStatus(Box<crate::api::pod::PodStatus>),
    /// A node's status as its kubelet writes it: each condition set by type, the images
    /// replaced, and the capacity and allocatable entries it carries set.
    KubeletNodeStatus(Box<NodeStatusPatch>),
    /// Set an Event's series (its count and last occurrence).
    EventSeries(crate::api::event::EventSeries),
    /// `kubectl apply` of a manifest onto the existing object (see `apiserver::apply`).
    Apply(Box<crate::api::Object>),
    /// Adoption: add `reference` to the object's owners, if the object is still the one with
    /// uid `uid` (a controller's adoption patch carries the uid as a precondition). A second
    /// controller reference is refused, as the apiserver's validation refuses it.
    AddOwner {
        /// The owner to add (replacing any reference to the same owner uid).
        reference: crate::api::meta::OwnerReference,
        /// The uid the object must still have.
        uid: crate::api::Uid,
    },
    /// Release: remove the references to `owners`, if the object is still the one with uid
    /// `uid`.
    RemoveOwners {
        /// The owners' uids.
        owners: Vec<crate::api::Uid>,
        /// The uid the object must still have.
        uid: crate::api::Uid,
    },
    /// Remove a finalizer (which deletes an object being deleted once none is left).
    RemoveFinalizer(String),
}

/// What a kubelet writes into its node's status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeStatusPatch {
    /// Conditions, each set by type.
    pub conditions: Vec<crate::api::node::NodeCondition>,
    /// The images on the node (replaces the list).
    pub images: Vec<crate::api::node::ContainerImage>,
    /// Capacity entries to set (the kubelet's `maxPods` where the node declares none).
    pub capacity: crate::api::resources::ResourceList,
    /// Allocatable entries to set.
    pub allocatable: crate::api::resources::ResourceList,
}

/// What a list, watch or delete selects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Label selector (none = everything).
    pub label_selector: Option<Selector>,
    /// Field selector (none = everything).
    pub field_selector: Option<FieldSelector>,
    /// For watches: start after this version (None = from now, after an implicit list).
    pub resource_version: Option<ResourceVersion>,
    /// For watches: `timeoutSeconds`, after which the server ends the watch (the modelled
    /// apiserver honours it; the ideal one keeps every watch open).
    pub timeout: Option<crate::sim::SimDuration>,
    /// For watches: `sendInitialEvents=true`, a streaming list (KEP-3157): the objects
    /// selected now as ADDED events, then a bookmark, then the changes.
    pub send_initial_events: bool,
    /// For watches: `resourceVersionMatch`; a streaming list needs `NotOlderThan`.
    pub resource_version_match: Option<ResourceVersionMatch>,
    /// For watches: `allowWatchBookmarks=true`; without it a streaming list's initial events
    /// end with no bookmark to say so.
    pub allow_watch_bookmarks: bool,
}

/// `resourceVersionMatch`: how a read's `resourceVersion` is to be understood.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceVersionMatch {
    /// The data is at least as new as the version given.
    NotOlderThan,
    /// The data is at exactly the version given.
    Exact,
}

/// The body of a request.
#[derive(Clone, Debug, PartialEq)]
pub enum RequestBody {
    /// No body (get, list, watch).
    None,
    /// A whole object (create, update, update status).
    Object(Box<Object>),
    /// A patch (patch, scale).
    Patch(PatchOp),
    /// A binding to a node (pods/binding).
    Binding {
        /// Target node.
        node: String,
        /// The Binding's `metadata.annotations`, which the apiserver copies onto the pod.
        annotations: crate::api::meta::Annotations,
    },
    /// Delete options.
    Delete(DeleteOptions),
    /// An Eviction (pods/eviction): the delete options of the pod's deletion.
    Eviction(DeleteOptions),
}

/// What happens to an object's dependents when it is deleted (`propagationPolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropagationPolicy {
    /// Dependents lose their reference to it and stay (the `orphan` finalizer holds the
    /// object until the garbage collector has done that).
    Orphan,
    /// The object goes now; the garbage collector deletes its dependents afterwards.
    Background,
    /// The object stays (the `foregroundDeletion` finalizer) until the garbage collector has
    /// deleted its dependents that block owner deletion.
    Foreground,
}

impl PropagationPolicy {
    /// The policy as the API spells it.
    pub const fn name(self) -> &'static str {
        match self {
            PropagationPolicy::Orphan => "Orphan",
            PropagationPolicy::Background => "Background",
            PropagationPolicy::Foreground => "Foreground",
        }
    }
}

/// `DeleteOptions`: the parts kubesim models.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// Grace period override (None = the object's own).
    pub grace_period_seconds: Option<i64>,
    /// What happens to dependents (None = the object's finalizers, else the kind's default,
    /// background).
    pub propagation_policy: Option<PropagationPolicy>,
    /// `preconditions.uid`: delete only the object with this uid (409 otherwise).
    pub precondition_uid: Option<crate::api::Uid>,
}

/// One API request.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// Who sent it.
    pub client: ClientId,
    /// As whom.
    pub user: UserInfo,
    /// Verb.
    pub verb: Verb,
    /// Resource kind.
    pub kind: Kind,
    /// Subresource, if any.
    pub subresource: Option<Subresource>,
    /// Namespace (empty for cluster-scoped kinds and all-namespace lists).
    pub namespace: String,
    /// Object name (empty for lists, watches and creates with generateName).
    pub name: String,
    /// Selection for list and watch.
    pub options: ListOptions,
    /// Body.
    pub body: RequestBody,
}

impl Request {
    fn base(client: ClientId, user: UserInfo, verb: Verb, kind: Kind) -> Request {
        Request {
            client,
            user,
            verb,
            kind,
            subresource: None,
            namespace: String::new(),
            name: String::new(),
            options: ListOptions::default(),
            body: RequestBody::None,
        }
    }

    /// A create of `object`.
    pub fn create(client: ClientId, user: UserInfo, object: Object) -> Request {
        let mut r = Request::base(client, user, Verb::Create, object.kind());
        r.namespace = object.meta().namespace.clone();
        r.name = object.meta().name.clone();
        r.body = RequestBody::Object(Box::new(object));
        r
    }

    /// An update (or status update) of `object`.
    pub fn update(
        client: ClientId,
        user: UserInfo,
        object: Object,
        subresource: Option<Subresource>,
    ) -> Request {
        let mut r = Request::create(client, user, object);
        r.verb = Verb::Update;
        r.subresource = subresource;
        r
    }

    /// A patch of `key`.
    pub fn patch(
        client: ClientId,
        user: UserInfo,
        kind: Kind,
        key: &ObjectKey,
        op: PatchOp,
    ) -> Request {
        let mut r = Request::base(client, user, Verb::Patch, kind);
        r.namespace = key.namespace.clone();
        r.name = key.name.clone();
        r.subresource = match op {
            PatchOp::Replicas(_) => Some(Subresource::Scale),
            PatchOp::PodStatus { .. }
            | PatchOp::KubeletPodStatus(_)
            | PatchOp::KubeletNodeStatus(_) => Some(Subresource::Status),
            _ => None,
        };
        r.body = RequestBody::Patch(op);
        r
    }

    /// A delete of `key`.
    pub fn delete(
        client: ClientId,
        user: UserInfo,
        kind: Kind,
        key: &ObjectKey,
        grace_period_seconds: Option<i64>,
    ) -> Request {
        let options = DeleteOptions {
            grace_period_seconds,
            ..DeleteOptions::default()
        };
        Request::delete_with(client, user, kind, key, options)
    }

    /// A delete of `key` with `options`.
    pub fn delete_with(
        client: ClientId,
        user: UserInfo,
        kind: Kind,
        key: &ObjectKey,
        options: DeleteOptions,
    ) -> Request {
        let mut r = Request::base(client, user, Verb::Delete, kind);
        r.namespace = key.namespace.clone();
        r.name = key.name.clone();
        r.body = RequestBody::Delete(options);
        r
    }

    /// A get of `key`.
    pub fn get(client: ClientId, user: UserInfo, kind: Kind, key: &ObjectKey) -> Request {
        let mut r = Request::base(client, user, Verb::Get, kind);
        r.namespace = key.namespace.clone();
        r.name = key.name.clone();
        r
    }

    /// A list of `kind` in `namespace` (empty = all namespaces).
    pub fn list(
        client: ClientId,
        user: UserInfo,
        kind: Kind,
        namespace: &str,
        options: ListOptions,
    ) -> Request {
        let mut r = Request::base(client, user, Verb::List, kind);
        r.namespace = namespace.to_string();
        r.options = options;
        r
    }

    /// A watch of `kind` in `namespace` (empty = all namespaces).
    pub fn watch(
        client: ClientId,
        user: UserInfo,
        kind: Kind,
        namespace: &str,
        options: ListOptions,
    ) -> Request {
        let mut r = Request::list(client, user, kind, namespace, options);
        r.verb = Verb::Watch;
        r
    }

    /// An eviction of pod `key` (a POST of an Eviction to `pods/<name>/eviction`), deleting it
    /// with `options` if its PodDisruptionBudget allows.
    pub fn evict(
        client: ClientId,
        user: UserInfo,
        key: &ObjectKey,
        options: DeleteOptions,
    ) -> Request {
        let mut r = Request::base(client, user, Verb::Create, Kind::Pod);
        r.subresource = Some(Subresource::Eviction);
        r.namespace = key.namespace.clone();
        r.name = key.name.clone();
        r.body = RequestBody::Eviction(options);
        r
    }

    /// A bind of pod `key` to `node`.
    pub fn bind(client: ClientId, user: UserInfo, key: &ObjectKey, node: &str) -> Request {
        Request::bind_with_annotations(client, user, key, node, Default::default())
    }

    /// A bind of pod `key` to `node` whose Binding carries `annotations` for the pod.
    pub fn bind_with_annotations(
        client: ClientId,
        user: UserInfo,
        key: &ObjectKey,
        node: &str,
        annotations: crate::api::meta::Annotations,
    ) -> Request {
        let mut r = Request::base(client, user, Verb::Create, Kind::Pod);
        r.subresource = Some(Subresource::Binding);
        r.namespace = key.namespace.clone();
        r.name = key.name.clone();
        r.body = RequestBody::Binding {
            node: node.to_string(),
            annotations,
        };
        r
    }
}

/// A failed request, with the HTTP status it maps to.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 404: the object does not exist.
    #[error("{kind} {key} not found")]
    NotFound {
        /// Kind.
        kind: Kind,
        /// Key.
        key: ObjectKey,
    },
    /// 409: an object with that name exists.
    #[error("{kind} {key} already exists")]
    AlreadyExists {
        /// Kind.
        kind: Kind,
        /// Key.
        key: ObjectKey,
    },
    /// 409: the update was based on a stale resourceVersion.
    #[error(
        "conflict on {kind} {key}: the object has been modified (sent resourceVersion {sent}, current {current})"
    )]
    Conflict {
        /// Kind.
        kind: Kind,
        /// Key.
        key: ObjectKey,
        /// The version the client sent.
        sent: u64,
        /// The stored version.
        current: u64,
    },
    /// 410: the requested version is older than the retained history.
    #[error("too old resource version: {requested} (oldest retained {oldest})")]
    Gone {
        /// The version asked for.
        requested: u64,
        /// The oldest version a watch can still start from (the newest one compacted away).
        oldest: u64,
    },
    /// 504: the requested version is newer than anything committed (upstream answers
    /// "Too large resource version" once its wait for the watch cache times out).
    #[error("too large resource version: {requested}, current resource version is {current}")]
    TooLargeResourceVersion {
        /// The version asked for.
        requested: u64,
        /// The store's current version.
        current: u64,
    },
    /// 422: the request is not valid.
    #[error("invalid {kind}: {message}")]
    Invalid {
        /// Kind.
        kind: Kind,
        /// What is wrong.
        message: String,
    },
    /// 429: not now; the client should retry (an eviction a disruption budget refuses).
    #[error("{message} ({cause})")]
    TooManyRequests {
        /// What was refused.
        message: String,
        /// Why (the status cause upstream attaches).
        cause: String,
        /// The `Retry-After` suggested, in seconds (0: none).
        retry_after_seconds: u32,
    },
    /// 403: the request is refused for good.
    #[error("forbidden: {message}")]
    Forbidden {
        /// Why.
        message: String,
    },
    /// 500: the server could not do what was asked.
    #[error("internal error: {message}")]
    Internal {
        /// What went wrong.
        message: String,
    },
    /// No HTTP answer at all: the connection to the apiserver failed.
    #[error("{0}")]
    Connection(ConnectionFailure),
}

/// How a connection to the apiserver failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionFailure {
    /// Nothing listens (the apiserver is down): the request never reached it.
    #[error("connection refused")]
    Refused,
    /// The apiserver went away while the request was being served: whether a write happened
    /// is unknown to the client.
    #[error("connection reset by peer")]
    Reset,
}

impl ApiError {
    /// The HTTP status code.
    pub const fn code(&self) -> u16 {
        match self {
            ApiError::NotFound { .. } => 404,
            ApiError::AlreadyExists { .. } | ApiError::Conflict { .. } => 409,
            ApiError::Gone { .. } => 410,
            ApiError::Invalid { .. } => 422,
            ApiError::TooManyRequests { .. } => 429,
            ApiError::Forbidden { .. } => 403,
            ApiError::Internal { .. } => 500,
            ApiError::TooLargeResourceVersion { .. } => 504,
            // Not an HTTP status: no answer came.
            ApiError::Connection(_) => 0,
        }
    }
}

/// Identifies an open watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WatchId(pub u32);

/// A successful response.
#[derive(Clone, Debug, PartialEq)]
pub enum ResponseBody {
    /// One object (get, create, update, patch, bind; delete of a gracefully deleted pod).
    Object(Arc<Object>),
    /// A list and the version it is consistent at.
    List {
        /// Items in key order.
        items: Vec<Arc<Object>>,
        /// The store's version when the list was taken.
        resource_version: ResourceVersion,
    },
    /// A watch was opened.
    Watch(WatchId),
    /// The object was deleted.
    Deleted,
}

/// The outcome of a request, delivered to the client.
pub type Response = Result<ResponseBody, ApiError>;
