//! The simulation kernel. It knows nothing of Kubernetes: virtual time, the pending-event set,
//! named random streams, the run loop and the trace digest. Everything Kubernetes is a
//! [`run::Model`] driven by this loop.

pub mod digest;
pub mod queue;
pub mod rng;
pub mod run;
pub mod time;

pub use digest::TraceDigest;
pub use queue::{EventQueue, EventSeq};
pub use rng::{RngStreams, SimRng};
pub use run::{Context, Model, SimEvent, Simulation, StopAt, StopReason};
pub use time::{SimDuration, SimTime};
