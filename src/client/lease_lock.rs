//! A component's leader election against a real Lease: client-go's `LeaderElector`
//! ([`super::leader_election`]) driving `resourcelock.LeaseLock`, as kube-controller-manager
//! and kube-scheduler run it.
//!
//! * **The lock's calls are API requests.** GET, CREATE and UPDATE of the Lease
//!   (`kube-system/kube-controller-manager`, `kube-system/kube-scheduler` by default), sent as
//!   the component's user (`system:kube-controller-manager`, `system:kube-scheduler`), so that
//!   flow control classifies them under `system-leader-election`, from a client of their own:
//!   upstream builds the elector's clientset apart (`rest.AddUserAgent(config,
//!   "leader-election")`), with its own token bucket. An UPDATE carries the resourceVersion of
//!   the Lease as last read or written, as `LeaseLock` keeps it; the answer (the object, 404,
//!   any error) becomes the elector's [`LockReply`].
//! * **The elector's wake-up is a component timer**, set once per instant; it is background
//!   work while leading (renewals go on forever) and foreground while campaigning (the
//!   component has its work ahead of it).
//! * **Identity.** Upstream's is `<hostname>_<uuid>`, new in every process: here
//!   `kubesim-control-plane_<life>`, the life counting the component's restarts. A restarted
//!   component is a stranger to its former lease and waits for it to expire, as upstream's does.
//! * **The record of leadership**: every change, with its virtual time, for the report.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::leader_election::{
    ElectorOutput, HolderId, LeaderElectionConfig, LeaderElectionError, LeaderElector,
    LeaderRecord, LockCall, LockReply, Role, Transition,
};
use crate::api::lease::Lease;
use crate::api::{Kind, Object, ObjectKey};
use crate::apiserver::{ApiError, ClientId, Request, RequestId, Response, ResponseBody, UserInfo};
use crate::component::{ComponentContext, Timer};
use crate::config::leader_election::LeaderElectionSettings;
use crate::sim::{SimRng, SimTime};

/// The host the control plane's components run on: the first half of their identities.
pub const CONTROL_PLANE_HOST: &str = "kubesim-control-plane";

/// One change of leadership.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeadershipChange {
    /// When.
    pub at: SimTime,
    /// Acquired (true) or lost (false).
    pub acquired: bool,
}

/// The timings of `settings` as the elector takes them.
pub fn elector_config(settings: &LeaderElectionSettings) -> LeaderElectionConfig {
    LeaderElectionConfig {
        lease_duration: settings.lease_duration,
        renew_deadline: settings.renew_deadline,
        retry_period: settings.retry_period,
    }
}

/// Which kind of lock call is in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CallKind {
    Get,
    Write,
}

/// A component's leader election on its Lease.
#[derive(Debug)]
pub struct LeaseLock {
    config: LeaderElectionConfig,
    key: ObjectKey,
    client: ClientId,
    user: UserInfo,
    /// The component's life (its restarts so far): its identity and its timers' generation.
    life: u32,
    elector: LeaderElector,
    /// The candidate's jitter.
    rng: SimRng,
    in_flight: Option<(RequestId, CallKind)>,
    /// The Lease as last read or written (`LeaseLock.lease`).
    latest: Option<Arc<Object>>,
    /// Instants a wake-up timer is set for and has not fired yet.
    armed: BTreeSet<SimTime>,
    /// The owner's code for the elector's timer.
    timer_code: u32,
    changes: Vec<LeadershipChange>,
}

impl LeaseLock {
    /// The election of `settings`' Lease, sent as `client` speaking as `user`; its wake-ups
    /// are timers with code `timer_code`; `rng` draws the candidate's jitter.
    pub fn new(
        settings: &LeaderElectionSettings,
        client: ClientId,
        user: UserInfo,
        timer_code: u32,
        rng: SimRng,
    ) -> Result<Self, LeaderElectionError> {
        let config = elector_config(settings);
        Ok(LeaseLock {
            elector: LeaderElector::new(config, HolderId(0))?,
            config,
            key: ObjectKey::new(
                settings.resource_namespace.clone(),
                settings.resource_name.clone(),
            ),
            client,
            user,
            life: 0,
            rng,
            in_flight: None,
            latest: None,
            armed: BTreeSet::new(),
            timer_code,
            changes: Vec::new(),
        })
    }

    /// The client the lock's requests go out as.
    pub fn client(&self) -> ClientId {
        self.client
    }

    /// Whether the component holds the lease now.
    pub fn is_leading(&self) -> bool {
        self.elector.role() == Role::Leader
    }

    /// Every change of leadership so far, in order.
    pub fn changes(&self) -> &[LeadershipChange] {
        &self.changes
    }

    /// The Lease's namespace and name.
    pub fn key(&self) -> &ObjectKey {
        &self.key
    }

    /// The identity the component holds the lease as in its current life.
    pub fn identity(&self) -> String {
        identity(HolderId(self.life))
    }

    /// Whether `timer` is the elector's wake-up.
    pub fn is_timer(&self, timer: Timer) -> bool {
        timer.code == self.timer_code
    }

    /// Starts campaigning: the first try goes at once.
    pub fn start(&mut self, cx: &mut ComponentContext<'_>) -> Option<Transition> {
        let out = self.elector.start(cx.now());
        self.apply(out, cx)
    }

    /// Starts the component's life `life` as a fresh process: a new identity, nothing known
    /// of the lease, campaigning at once. What the former life sent is no longer waited for.
    pub fn restart(&mut self, life: u32, cx: &mut ComponentContext<'_>) -> Option<Transition> {
        self.life = life;
        // The timings were accepted once; they are the same.
        if let Ok(elector) = LeaderElector::new(self.config, HolderId(life)) {
            self.elector = elector;
        }
        self.in_flight = None;
        self.latest = None;
        self.armed.clear();
        self.start(cx)
    }

    /// Whether `request` is the lock call in flight.
    pub fn owns(&self, request: RequestId) -> bool {
        self.in_flight.is_some_and(|(id, _)| id == request)
    }

    /// The answer to a lock call; the change of leadership it makes, if any.
    pub fn on_response(
        &mut self,
        request: RequestId,
        response: &Response,
        cx: &mut ComponentContext<'_>,
    ) -> Option<Transition> {
        let (_, kind) = self.in_flight.filter(|(id, _)| *id == request)?;
        self.in_flight = None;
        let reply = self.reply(kind, response);
        let out = self.elector.on_reply(cx.now(), reply, &mut self.rng);
        self.apply(out, cx)
    }

    /// The elector's wake-up fired; the change of leadership it makes, if any.
    pub fn on_timer(&mut self, cx: &mut ComponentContext<'_>) -> Option<Transition> {
        self.armed.remove(&cx.now());
        let out = self.elector.on_timer(cx.now());
        self.apply(out, cx)
    }

    /// The elector's answer turned into a lock reply, the Lease kept for the next UPDATE.
    fn reply(&mut self, kind: CallKind, response: &Response) -> LockReply {
        let object = match response {
            Ok(ResponseBody::Object(object)) => Some(Arc::clone(object)),
            _ => None,
        };
        match (kind, object, response) {
            (_, Some(object), _) => {
                let record = match object.as_ref() {
                    Object::Lease(lease) => self.record_of(lease),
                    _ => return LockReply::Failed,
                };
                self.latest = Some(object);
                match kind {
                    CallKind::Get => LockReply::Got(record),
                    CallKind::Write => LockReply::Written,
                }
            }
            (CallKind::Get, None, Err(ApiError::NotFound { .. })) => {
                self.latest = None;
                LockReply::NotFound
            }
            _ => LockReply::Failed,
        }
    }

    /// Acts on what the elector said: sends its call, arms its wake-up, records a change.
    fn apply(
        &mut self,
        mut out: ElectorOutput,
        cx: &mut ComponentContext<'_>,
    ) -> Option<Transition> {
        let mut transition = None;
        loop {
            if let Some(t) = out.transition {
                self.changes.push(LeadershipChange {
                    at: cx.now(),
                    acquired: t == Transition::StartedLeading,
                });
                transition = Some(t);
            }
            let refused = out.call.and_then(|call| self.send(call, cx));
            match refused {
                // A call that cannot be made fails at once (`LeaseLock` without a lease).
                Some(reply) => out = self.elector.on_reply(cx.now(), reply, &mut self.rng),
                None => break,
            }
        }
        if let Some(at) = out.wake_at {
            self.arm(at, cx);
        }
        transition
    }

    /// Sends `call`; a reply if it cannot be sent.
    fn send(&mut self, call: LockCall, cx: &mut ComponentContext<'_>) -> Option<LockReply> {
        let (request, kind) = match call {
            LockCall::Get => {
                let get = Request::get(self.client, self.user.clone(), Kind::Lease, &self.key);
                (get, CallKind::Get)
            }
            LockCall::Create(record) => {
                let mut lease = Lease::default();
                lease.metadata.namespace.clone_from(&self.key.namespace);
                lease.metadata.name.clone_from(&self.key.name);
                self.write_spec(&mut lease, record);
                let create = Request::create(
                    self.client,
                    self.user.clone(),
                    Object::Lease(Box::new(lease)),
                );
                (create, CallKind::Write)
            }
            LockCall::Update(record) => {
                let Some(Object::Lease(latest)) = self.latest.as_deref() else {
                    return Some(LockReply::Failed);
                };
                let mut lease = latest.as_ref().clone();
                self.write_spec(&mut lease, record);
                let update = Request::update(
                    self.client,
                    self.user.clone(),
                    Object::Lease(Box::new(lease)),
                    None,
                );
                (update, CallKind::Write)
            }
        };
        let id = cx.api.submit(cx.now(), request, cx.out);
        self.in_flight = Some((id, kind));
        None
    }

    /// Sets the wake-up timer for `at`, once per instant.
    fn arm(&mut self, at: SimTime, cx: &mut ComponentContext<'_>) {
        if self.armed.insert(at) {
            let timer = Timer {
                code: self.timer_code,
                background: self.is_leading(),
                generation: self.life,
            };
            cx.set_timer(at, timer);
        }
    }

    /// `LeaderElectionRecordToLeaseSpec`.
    fn write_spec(&self, lease: &mut Lease, record: LeaderRecord) {
        lease.spec.holder_identity = record.holder.map(identity).unwrap_or_default();
        lease.spec.lease_duration_seconds =
            i32::try_from(record.lease_duration_seconds).unwrap_or(i32::MAX);
        lease.spec.acquire_time = Some(record.acquire_time);
        lease.spec.renew_time = Some(record.renew_time);
        lease.spec.lease_transitions =
            Some(i32::try_from(record.leader_transitions).unwrap_or(i32::MAX));
    }

    /// `LeaseSpecToLeaderElectionRecord`, the holder as the elector numbers it.
    fn record_of(&self, lease: &Lease) -> LeaderRecord {
        let spec = &lease.spec;
        LeaderRecord {
            holder: holder_of(&spec.holder_identity),
            lease_duration_seconds: u32::try_from(spec.lease_duration_seconds).unwrap_or(0),
            acquire_time: spec.acquire_time.unwrap_or(SimTime::ZERO),
            renew_time: spec.renew_time.unwrap_or(SimTime::ZERO),
            leader_transitions: spec
                .lease_transitions
                .map_or(0, |n| u32::try_from(n).unwrap_or(0)),
        }
    }
}

/// The identity of life `life` of a control-plane component.
fn identity(life: HolderId) -> String {
    format!("{CONTROL_PLANE_HOST}_{}", life.0)
}

/// The elector's number for the holder named `identity`: a life of a control-plane component,
/// anyone else as one stranger; nobody for an empty name (a released lease).
fn holder_of(identity: &str) -> Option<HolderId> {
    if identity.is_empty() {
        return None;
    }
    let life = identity
        .strip_prefix(CONTROL_PLANE_HOST)
        .and_then(|rest| rest.strip_prefix('_'))
        .and_then(|n| n.parse::<u32>().ok());
    Some(HolderId(life.unwrap_or(u32::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_round_trip_through_the_lease() {
        assert_eq!(identity(HolderId(3)), "kubesim-control-plane_3");
        assert_eq!(holder_of("kubesim-control-plane_3"), Some(HolderId(3)));
        assert_eq!(holder_of("other-host_ab12"), Some(HolderId(u32::MAX)));
        assert_eq!(holder_of(""), None);
    }
}
