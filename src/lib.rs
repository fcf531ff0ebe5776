//! # kubesim
//!
//! A deterministic discrete-event simulator of a Kubernetes cluster.
//!
//! kubesim advances *virtual* time over modelled nodes and pods, an apiserver with its store, and
//! the control-plane components that act through it. A run is a pure function of the scenario
//! bytes, the seed and the kubesim version: the same inputs give byte-identical outputs on any
//! machine, which is what makes simulated experiments comparable and reviewable.
//!
//! ## The model
//!
//! * [`sim`] is the kernel and knows nothing of Kubernetes: integer virtual time, an event queue
//!   ordered by (time, insertion sequence), named seeded random streams, the run loop, a digest
//!   of the processed trace.
//! * [`api`] is the Kubernetes object model: plain data plus the pure functions Kubernetes
//!   defines on it (quantities, selectors, tolerations, a pod's request).
//! * [`config`] holds the components' configuration documents (`KubeSchedulerConfiguration`,
//!   the legacy scheduler `Policy`) as plain data; the component that reads one resolves it.
//! * [`apiserver`] is the hub. Components read and write cluster state only through API requests
//!   and watches; they never reach into each other's state.
//! * [`component`] is what every component is to the world: API clients, handlers for
//!   responses, watch events and timers.
//! * [`kubelet`] is every node's agent: it runs the pods bound to its node (start, probes,
//!   restarts, termination), reports their status and its node's, and renews its lease.
//! * [`kube_proxy`] is every node's service proxy: it watches Services and EndpointSlices and
//!   syncs its node's rules, measuring how long endpoint changes take to reach them.
//! * [`controllers`] is kube-controller-manager: one component whose one shared informer
//!   factory feeds its controllers (ReplicaSet, Deployment, EndpointSlice, disruption, the
//!   garbage collector, node lifecycle, taint eviction).
//! * [`populations`] are the client populations a scenario adds beside the components
//!   (`spec.clients`): per-node agents, operators, scrapers — load on the apiserver, each
//!   client with its own identity and token bucket.
//! * [`world`] wires the apiserver and the components into one [`sim::Model`].
//! * [`scenario`] reads scenario files (real Kubernetes manifests plus one `kind: Scenario`
//!   document) and builds a world from them.
//! * [`metrics`] samples the world; [`report`] writes the outputs of a run.
//!
//! ## The determinism contract
//!
//! * Time is `u64` nanoseconds; floats never order anything.
//! * Events at equal times run in insertion order; nothing else breaks ties.
//! * Every random draw comes from a stream derived from (run seed, stream name).
//! * No hash-map iteration order and no wall clock reach behaviour or output (clippy enforces it).

#![warn(missing_docs)]

pub mod api;
pub mod apiserver;
pub mod cli;
pub mod client;
pub mod component;
pub mod config;
pub mod controllers;
pub mod faults;
pub mod kube_proxy;
pub mod kubelet;
pub mod metrics;
pub mod metrics_adapter;
pub mod metrics_server;
pub mod populations;
pub mod report;
pub mod scenario;
pub mod scheduler;
pub mod sim;
pub mod sweep;
pub mod workload;
pub mod world;
