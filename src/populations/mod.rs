//! Client populations: API clients beside the cluster's components that a scenario adds
//! (`spec.clients`) for the load they put on the apiserver — a per-node agent that lists pods
//! cluster-wide every few seconds (the node-problem-detector case of kubernetes#47899),
//! operators with many informers, a monitoring scraper.
//!
//! Each population is one [`Component`], one file per population type:
//!
//! * `per_node_agent.rs` — [`PerNodeAgents`]: a DaemonSet's pods, one client per node, each
//!   LISTing a resource every period from a seeded phase;
//! * `operator.rs` — [`Operators`]: an operator's replicas, each with informers (LIST, then
//!   WATCH) on its kinds;
//! * `scraper.rs` — [`Scraper`]: one client LISTing its kinds every interval.
//!
//! Every client of a population authenticates as the population's service account,
//! `system:serviceaccount:<namespace>:<name>`, in the groups `system:serviceaccounts`,
//! `system:serviceaccounts:<namespace>` and `system:authenticated`, as a pod's token does: so
//! flow control classifies them as it would the real clients (with the bootstrap FlowSchemas:
//! `service-accounts` → `workload-low`, by user — one flow for the whole population — unless
//! the namespace is `kube-system`, whose accounts `kube-system-service-accounts` sends to
//! `workload-high`). Each client has its own client-go token bucket with the population's
//! `qps` / `burst` (`rest.Config`), taken by the world's transport on the modelled path.
//!
//! **Client ids.** Population `k` (its place in `spec.clients`) speaks as
//! `ClientId(1_000_000 × (k + 1) + i)` for its client `i` (a node's agent in the order the
//! scenario applies nodes, or a replica), below every id of another population and above the
//! components':
//!
//! | ids | clients |
//! |---|---|
//! | 0 | the scenario's user (kubectl) |
//! | 1 – 11 | kube-scheduler, kube-controller-manager's shared informers and controllers |
//! | 100 000 + i | node `i`'s kubelet |
//! | 200 000 + i | node `i`'s kube-proxy |
//! | 1 000 000 × (k + 1) + i | client `i` of population `k` (at most 1 000 populations of 1 000 000 clients) |
//!
//! **Adding a population type**: its settings (plain data) in `config/populations.rs` and its
//! field in the Scenario's `spec.clients[]` entry, a file here implementing [`Component`] with
//! a [`PopulationStats`] for the report, and one arm in [`build`].

mod operator;
mod per_node_agent;
mod scraper;

use std::collections::BTreeMap;

pub use operator::Operators;
pub use per_node_agent::PerNodeAgents;
pub use scraper::Scraper;

use crate::apiserver::{ApiEvent, ApiOutput, ClientId, RequestId, Response, UserInfo, Verb};
use crate::component::{Component, ComponentContext, population_index};
use crate::config::populations::{
    ClientPopulation, MAX_CLIENTS_PER_POPULATION, MAX_POPULATIONS, PopulationKind,
};
use crate::sim::{RngStreams, SimTime};

/// The first client id of the populations: population 0's client 0.
pub const POPULATION_CLIENT_BASE: u32 = 1_000_000;

// The last population's last client fits a client id.
const _: () = assert!(
    (POPULATION_CLIENT_BASE as u64)
        + (MAX_POPULATIONS as u64) * (MAX_CLIENTS_PER_POPULATION as u64)
        <= u32::MAX as u64
);
// Population ids start where kube-proxies' (200 000 + 100 000 nodes) have ended.
const _: () = assert!(POPULATION_CLIENT_BASE >= 300_000);

/// The first client id of population `population`.
pub const fn population_base(population: usize) -> u32 {
    POPULATION_CLIENT_BASE + population as u32 * MAX_CLIENTS_PER_POPULATION
}

/// The client id of client `index` of population `population`.
pub const fn population_client(population: usize, index: u32) -> ClientId {
    ClientId(population_base(population) + index)
}

/// The random stream population `name` draws its clients' phases from.
pub fn phase_stream(name: &str) -> String {
    format!("clients/{name}/phase")
}

/// Every client id population `population` may speak as.
pub const fn client_range(population: usize) -> std::ops::RangeInclusive<u32> {
    let base = population_base(population);
    base..=base + (MAX_CLIENTS_PER_POPULATION - 1)
}

/// The component of population `population` (its place in `spec.clients`): `nodes` are the
/// run's nodes with the time each is applied, in order; `streams` the run's random streams.
pub fn build(
    population: usize,
    settings: &ClientPopulation,
    nodes: &[(String, SimTime)],
    streams: RngStreams,
) -> Box<dyn Component> {
    let common = Common::new(population, settings);
    match &settings.kind {
        PopulationKind::PerNodeAgent(agent) => {
            Box::new(PerNodeAgents::new(common, agent, nodes, streams))
        }
        PopulationKind::Operator(operator) => Box::new(Operators::new(common, operator)),
        PopulationKind::Scraper(scraper) => Box::new(Scraper::new(common, scraper, streams)),
    }
}

/// What a population's clients asked and were answered, for the report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PopulationStats {
    /// The population's name.
    pub name: String,
    /// Its type as `spec.clients[]` spells it (`perNodeAgent`, `operator`, `scraper`).
    pub kind: &'static str,
    /// The user its clients authenticate as.
    pub user: String,
    /// How many clients it has.
    pub clients: u32,
    /// The answers its clients got, by verb and status (a success as 200). A request the
    /// transport sent again after a 429 counts once here, with its last answer.
    pub answers: BTreeMap<(Verb, u16), u64>,
    /// The verb of every request sent and not yet answered.
    pending: BTreeMap<RequestId, Verb>,
}

impl PopulationStats {
    /// Answers so far, over every verb and status.
    pub fn total(&self) -> u64 {
        self.answers.values().sum()
    }

    /// Answers so far to requests of `verb` with `status`.
    pub fn count(&self, verb: Verb, status: u16) -> u64 {
        self.answers.get(&(verb, status)).copied().unwrap_or(0)
    }

    /// Runs `send`, which submits requests through `cx`, and remembers each one's verb.
    fn sending<R>(
        &mut self,
        cx: &mut ComponentContext<'_>,
        send: impl FnOnce(&mut ComponentContext<'_>) -> R,
    ) -> R {
        let mark = cx.out.len();
        let result = send(cx);
        for output in &cx.out[mark..] {
            if let ApiOutput::Schedule(_, ApiEvent::Execute(id)) = output
                && let Some(request) = cx.api.pending_request(*id)
            {
                self.pending.insert(*id, request.verb);
            }
        }
        result
    }

    /// Counts the answer to `request`, if it was one of the population's.
    fn answered(&mut self, request: RequestId, response: &Response) {
        let Some(verb) = self.pending.remove(&request) else {
            return;
        };
        let status = match response {
            Ok(_) => 200,
            Err(e) => e.code(),
        };
        *self.answers.entry((verb, status)).or_insert(0) += 1;
    }
}

/// What every population has: its client ids, its identity, its statistics.
#[derive(Debug)]
struct Common {
    /// Its first client id.
    base: u32,
    /// The user and groups its clients authenticate as.
    user: UserInfo,
    stats: PopulationStats,
}

impl Common {
    fn new(population: usize, settings: &ClientPopulation) -> Self {
        let user = UserInfo::new(
            settings.user_name(),
            &[
                "system:serviceaccounts",
                &format!("system:serviceaccounts:{}", settings.namespace),
                "system:authenticated",
            ],
        );
        Common {
            base: population_base(population),
            stats: PopulationStats {
                name: settings.name.clone(),
                kind: settings.kind.name(),
                user: user.name.clone(),
                ..PopulationStats::default()
            },
            user,
        }
    }

    /// Client `index`'s id.
    fn client(&self, index: usize) -> ClientId {
        ClientId(self.base + index as u32)
    }

    /// The place of `client` among `count` clients.
    fn index(&self, client: ClientId, count: usize) -> Option<usize> {
        population_index(client, self.base, count)
    }
}

#[cfg(test)]
mod tests;
