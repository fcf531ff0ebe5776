//! A per-node agent population (`perNodeAgent`): a DaemonSet's pods, one on every node of the
//! run, each LISTing one resource — cluster-wide, or narrowed by a field or label selector in
//! which `$(NODE_NAME)` is its node — again and again, the node-problem-detector case of
//! kubernetes#47899 and of any agent that polls the apiserver from every node.
//!
//! One component holds every node's agent compactly in a `Vec` (the shape of the kubelets and
//! kube-proxies); each node's agent speaks as its own client (the population's id range, the
//! node's place in the run's node order), so its token bucket and flow control see it apart,
//! while all authenticate as the DaemonSet's one service account.
//!
//! **When it lists.** An agent starts when the scenario applies its node. Its first LIST goes
//! at a phase after that: a uniform draw in `[0, period)`, one per node in node order from the
//! seeded stream `clients/<name>/phase` — DaemonSet pods start at scattered times, so their
//! loops are out of step. Each later LIST goes `period` after the last one's answer, as a loop
//! under client-go's `wait.Until` (sliding) runs: an agent has at most one LIST outstanding,
//! and a slow or throttled answer pushes its next list back rather than piling lists up. What
//! it does with the list is not modelled; an error answer only waits for the next period.
//!
//! **Faults.** A node's crash (or its kubelet stopping, which kubesim models with its
//! containers) stops the agent; when the kubelet starts again the agent starts afresh, its
//! first LIST a phase later. A partition does not cut the agents off (only the kubelets and
//! kube-proxies are).

use rand::RngExt;

use super::{Common, PopulationStats};
use crate::api::Kind;
use crate::api::labels::{parse_field_selector, parse_label_selector};
use crate::apiserver::{ClientId, ListOptions, Request, RequestId, Response, WatchEvent, WatchId};
use crate::component::{Component, ComponentContext, Timer};
use crate::config::populations::{MAX_CLIENTS_PER_POPULATION, PerNodeAgent, expand_node_name};
use crate::faults::NodeFault;
use crate::sim::{RngStreams, SimDuration, SimTime};

/// One node's agent.
#[derive(Debug)]
struct Agent {
    /// Its node.
    node: String,
    /// When the scenario applies its node.
    start_at: SimTime,
    /// Its first LIST's delay after it starts.
    phase: SimDuration,
    /// When its next LIST is due, if one is (None while a LIST is outstanding, or while down).
    due: Option<SimTime>,
    /// Whether its node (and kubelet) is down.
    down: bool,
    /// LISTs sent.
    lists: u64,
}

/// The agents of one per-node agent population.
#[derive(Debug)]
pub struct PerNodeAgents {
    common: Common,
    resource: Kind,
    field_selector: Option<String>,
    label_selector: Option<String>,
    period: SimDuration,
    agents: Vec<Agent>,
}

impl PerNodeAgents {
    /// The agents of `settings` on `nodes` (name, and when the scenario applies the node), with
    /// phases drawn from the population's stream of `streams`.
    pub(super) fn new(
        common: Common,
        settings: &PerNodeAgent,
        nodes: &[(String, SimTime)],
        streams: RngStreams,
    ) -> Self {
        let mut rng = streams.stream(&super::phase_stream(&common.stats.name));
        let period = settings.period.as_nanos();
        let agents: Vec<Agent> = nodes
            .iter()
            .take(MAX_CLIENTS_PER_POPULATION as usize)
            .map(|(node, start_at)| Agent {
                node: node.clone(),
                start_at: *start_at,
                phase: SimDuration::from_nanos(rng.random_range(0..period)),
                due: None,
                down: false,
                lists: 0,
            })
            .collect();
        let mut common = common;
        common.stats.clients = agents.len() as u32;
        PerNodeAgents {
            common,
            resource: settings.resource,
            field_selector: settings.field_selector.clone(),
            label_selector: settings.label_selector.clone(),
            period: settings.period,
            agents,
        }
    }

    /// The phase of node `node`'s agent: its first LIST's delay after it starts.
    pub fn phase(&self, node: &str) -> Option<SimDuration> {
        self.agent(node).map(|a| a.phase)
    }

    /// The LISTs node `node`'s agent has sent.
    pub fn lists(&self, node: &str) -> Option<u64> {
        self.agent(node).map(|a| a.lists)
    }

    /// The client id of node `node`'s agent.
    pub fn client_of(&self, node: &str) -> Option<ClientId> {
        let index = self.agents.iter().position(|a| a.node == node)?;
        Some(self.common.client(index))
    }

    /// What the agents asked and were answered.
    pub fn stats(&self) -> &PopulationStats {
        &self.common.stats
    }

    fn agent(&self, node: &str) -> Option<&Agent> {
        self.agents.iter().find(|a| a.node == node)
    }

    /// The LIST of node `node`'s agent: the selectors with its node name in.
    fn options(&self, node: &str) -> ListOptions {
        // Checked when the scenario was loaded: the selectors parse whatever the node's name.
        ListOptions {
            field_selector: self
                .field_selector
                .as_deref()
                .and_then(|s| parse_field_selector(&expand_node_name(s, node)).ok()),
            label_selector: self
                .label_selector
                .as_deref()
                .and_then(|s| parse_label_selector(&expand_node_name(s, node)).ok()),
            ..ListOptions::default()
        }
    }

    /// Agent `index`'s next LIST is due at `at`.
    fn wake_at(&mut self, index: usize, at: SimTime, cx: &mut ComponentContext<'_>) {
        if let Some(agent) = self.agents.get_mut(index) {
            agent.due = Some(at);
            cx.set_timer(at, timer(index));
        }
    }
}

/// The timer of agent `index`: its next LIST (background work, as every periodic poll).
fn timer(index: usize) -> Timer {
    Timer {
        code: index as u32,
        background: true,
        generation: 0,
    }
}

impl Component for PerNodeAgents {
    fn clients(&self) -> Vec<ClientId> {
        (0..self.agents.len())
            .map(|i| self.common.client(i))
            .collect()
    }

    /// Each agent's first LIST is due its phase after its node is applied.
    fn start(&mut self, cx: &mut ComponentContext<'_>) {
        for index in 0..self.agents.len() {
            let agent = &self.agents[index];
            let at = agent.start_at + agent.phase;
            self.wake_at(index, at, cx);
        }
    }

    fn on_response(
        &mut self,
        client: ClientId,
        request: RequestId,
        response: &Response,
        cx: &mut ComponentContext<'_>,
    ) {
        self.common.stats.answered(request, response);
        let Some(index) = self.common.index(client, self.agents.len()) else {
            return;
        };
        // The next LIST a period after this answer, unless the agent is down or has started
        // afresh meanwhile (its loop is then its new one).
        let agent = &self.agents[index];
        if !agent.down && agent.due.is_none() {
            let at = cx.now() + self.period;
            self.wake_at(index, at, cx);
        }
    }

    fn on_watch_event(
        &mut self,
        _client: ClientId,
        _watch: WatchId,
        _event: &WatchEvent,
        _cx: &mut ComponentContext<'_>,
    ) {
    }

    fn on_watch_ended(&mut self, _: ClientId, _: WatchId, _: &mut ComponentContext<'_>) {}

    fn on_timer(&mut self, timer: Timer, cx: &mut ComponentContext<'_>) {
        let index = timer.code as usize;
        let now = cx.now();
        let Some(agent) = self.agents.get_mut(index) else {
            return;
        };
        // A timer the agent has since moved (a restart) finds another due time.
        if agent.down || agent.due != Some(now) {
            return;
        }
        agent.due = None;
        agent.lists += 1;
        let options = self.options(&self.agents[index].node);
        let request = Request::list(
            self.common.client(index),
            self.common.user.clone(),
            self.resource,
            "",
            options,
        );
        self.common.stats.sending(cx, |cx| {
            cx.api.submit(now, request, cx.out);
        });
    }

    fn on_node_fault(&mut self, node: &str, fault: NodeFault, cx: &mut ComponentContext<'_>) {
        let Some(index) = self.agents.iter().position(|a| a.node == node) else {
            return;
        };
        match fault {
            NodeFault::Crash | NodeFault::StopKubelet => {
                let agent = &mut self.agents[index];
                agent.down = true;
                agent.due = None;
            }
            NodeFault::StartKubelet if self.agents[index].down => {
                self.agents[index].down = false;
                let at = cx.now() + self.agents[index].phase;
                self.wake_at(index, at, cx);
            }
            NodeFault::StartKubelet => {}
        }
    }

    fn client_population(&self) -> Option<&PopulationStats> {
        Some(&self.common.stats)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::populations::{ClientPopulation, PopulationKind};

    #[test]
    fn each_agent_lists_with_its_own_node_in_its_selectors() {
        let settings = PerNodeAgent {
            resource: Kind::Pod,
            field_selector: Some("spec.nodeName=$(NODE_NAME),status.phase!=Failed".into()),
            label_selector: Some("node=$(NODE_NAME)".into()),
            period: SimDuration::from_secs(10),
        };
        let population = ClientPopulation {
            name: "npd".into(),
            namespace: "kube-system".into(),
            service_account: "npd".into(),
            qps: 5.0,
            burst: 10,
            kind: PopulationKind::PerNodeAgent(settings.clone()),
        };
        let nodes = [
            ("a".to_string(), SimTime::ZERO),
            ("b".to_string(), SimTime::ZERO),
        ];
        let agents = PerNodeAgents::new(
            Common::new(0, &population),
            &settings,
            &nodes,
            RngStreams::new(1),
        );
        let options = agents.options("b");
        let fields = options.field_selector.expect("a field selector");
        assert_eq!(fields.requires_exact_match("spec.nodeName"), Some("b"));
        assert_eq!(fields.to_string(), "spec.nodeName=b,status.phase!=Failed");
        assert_eq!(
            options
                .label_selector
                .expect("a label selector")
                .to_string(),
            "node=b"
        );
        // Each phase lies within the period.
        for node in ["a", "b"] {
            let phase = agents.phase(node).expect("an agent");
            assert!(phase < SimDuration::from_secs(10), "{phase}");
        }
    }
}
