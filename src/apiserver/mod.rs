//! The apiserver: the hub every component reads and writes through, and the versioned store
//! (the etcd stand-in) behind it.

pub mod admission;
pub mod apply;
pub mod etcd;
pub mod eviction;
pub mod flowcontrol;
pub mod hub;
pub mod latency;
pub mod load_balancer;
pub mod replica;
pub mod request;
pub mod request_path;
pub mod restart;
pub mod store;
pub mod watch;
pub mod watch_list;

pub use hub::{ApiEvent, ApiOutput, ApiServer, ApiServerConfig, WriteRecord};
pub use request::{
    ApiError, ClientId, ConnectionFailure, DeleteOptions, ListOptions, NodeStatusPatch, PatchOp,
    PropagationPolicy, Request, RequestId, ResourceVersionMatch, Response, ResponseBody,
    Subresource, UserInfo, Verb, WatchId,
};
pub use request_path::{FlowControlMode, RequestPath, RequestPathConfig, ServiceCosts};
pub use store::{Change, ChangeType, Store};
pub use watch::WatchEvent;
pub use watch_list::INITIAL_EVENTS_END_ANNOTATION;
