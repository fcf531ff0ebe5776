//! The scenario's user: carries out timeline actions as API requests, the way `kubectl` would.
//!
//! `apply` creates each object; if it already exists, it sends the manifest as an apply patch,
//! which the apiserver merges onto the live object as `kubectl apply`'s patch merges (see
//! `apiserver::apply`): an unchanged manifest writes nothing, a new image updates a pod in
//! place, and a change the API forbids (a bound pod's requests) is refused with 422.

use std::collections::BTreeMap;

use crate::api::Object;
use crate::apiserver::{
    ApiError, ApiOutput, ApiServer, ClientId, PatchOp, Request, RequestId, Response, UserInfo,
};
use crate::scenario::{Action, TimedAction};
use crate::sim::SimTime;

/// The client id of the scenario's user.
pub const KUBECTL_CLIENT: ClientId = ClientId(0);

/// How one timeline action went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionOutcome {
    /// When the action ran.
    pub at: SimTime,
    /// What it was.
    pub description: String,
    /// Requests it sent.
    pub requests: u32,
    /// Errors the apiserver answered with.
    pub errors: Vec<String>,
}

/// What to do when a request of an action is answered.
#[derive(Debug)]
struct Pending {
    action: usize,
    step: ApplyStep,
}

/// Where an apply of one object is.
#[derive(Debug)]
enum ApplyStep {
    /// Not an apply, or its last request.
    Done,
    /// The create of this manifest: if it exists already, patch it with the manifest.
    Create(Box<Object>),
}

/// The scenario's user.
#[derive(Debug)]
pub struct Kubectl {
    user: UserInfo,
    actions: Vec<TimedAction>,
    outcomes: Vec<ActionOutcome>,
    pending: BTreeMap<RequestId, Pending>,
}

impl Kubectl {
    /// A user that will carry out `actions` (indexed by their position).
    pub fn new(actions: Vec<TimedAction>) -> Self {
        let outcomes = actions
            .iter()
            .map(|a| ActionOutcome {
                at: a.at,
                description: a.action.describe(),
                requests: 0,
                errors: Vec::new(),
            })
            .collect();
        Kubectl {
            user: UserInfo::new(
                "kubernetes-admin",
                &["system:masters", "system:authenticated"],
            ),
            actions,
            outcomes,
            pending: BTreeMap::new(),
        }
    }

    /// The actions and when each is due.
    pub fn actions(&self) -> &[TimedAction] {
        &self.actions
    }

    /// How each action went so far.
    pub fn outcomes(&self) -> &[ActionOutcome] {
        &self.outcomes
    }

    /// Carries out action `index` at `now`.
    pub fn run(
        &mut self,
        index: usize,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) {
        let Some(action) = self.actions.get(index) else {
            return;
        };
        let user = || self.user.clone();
        let requests: Vec<(Request, ApplyStep)> = match &action.action {
            Action::Apply(objects) => objects
                .iter()
                .map(|o| {
                    (
                        Request::create(KUBECTL_CLIENT, user(), o.clone()),
                        ApplyStep::Create(Box::new(o.clone())),
                    )
                })
                .collect(),
            Action::Delete(kind, key) => {
                vec![(
                    Request::delete(KUBECTL_CLIENT, user(), *kind, key, None),
                    ApplyStep::Done,
                )]
            }
            Action::Scale(kind, key, n) => vec![(
                Request::patch(KUBECTL_CLIENT, user(), *kind, key, PatchOp::Replicas(*n)),
                ApplyStep::Done,
            )],
            Action::SetImage {
                kind,
                key,
                container,
                image,
            } => {
                let op = PatchOp::Image {
                    container: container.clone(),
                    image: image.clone(),
                };
                vec![(
                    Request::patch(KUBECTL_CLIENT, user(), *kind, key, op),
                    ApplyStep::Done,
                )]
            }
            Action::Cordon(node, cordon) => {
                let key = crate::api::ObjectKey::cluster(node.clone());
                let op = PatchOp::Unschedulable(*cordon);
                vec![(
                    Request::patch(KUBECTL_CLIENT, user(), crate::api::Kind::Node, &key, op),
                    ApplyStep::Done,
                )]
            }
        };
        for (request, step) in requests {
            self.send(index, request, step, now, api, out);
        }
    }

    fn send(
        &mut self,
        action: usize,
        request: Request,
        step: ApplyStep,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) {
        let id = api.submit(now, request, out);
        if let Some(outcome) = self.outcomes.get_mut(action) {
            outcome.requests += 1;
        }
        self.pending.insert(id, Pending { action, step });
    }

    /// Handles the answer to one of its requests.
    pub fn on_response(
        &mut self,
        request: RequestId,
        response: &Response,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) {
        let Some(pending) = self.pending.remove(&request) else {
            return;
        };
        let action = pending.action;
        match (response, pending.step) {
            (Err(ApiError::AlreadyExists { .. }), ApplyStep::Create(manifest)) => {
                let (kind, key) = (manifest.kind(), manifest.key());
                let op = PatchOp::Apply(manifest);
                let patch = Request::patch(KUBECTL_CLIENT, self.user.clone(), kind, &key, op);
                self.send(action, patch, ApplyStep::Done, now, api, out);
            }
            (Ok(_), _) => {}
            (Err(e), _) => {
                if let Some(outcome) = self.outcomes.get_mut(action) {
                    outcome.errors.push(e.to_string());
                }
            }
        }
    }
}
