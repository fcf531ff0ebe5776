//! The simulated world: the apiserver and every component, wired into one [`Model`].
//!
//! The world owns all state; components never hold references to each other. An event is
//! either the apiserver's own (a request executing, a watch event arriving), a component's
//! (a timeline action, a timer), or the metrics sampler's. Whatever the apiserver answers is
//! routed here to the component that asked.
//!
//! Knowing every component, the world also answers the scenario loader for them: which
//! component resolves which configuration document ([`Components`]).

mod components;
pub mod kubectl;

use crate::apiserver::ClientId;
use crate::apiserver::{ApiEvent, ApiOutput, ApiServer, ApiServerConfig, Request, RequestId};
use crate::client::event_recorder::{FINISH_TIME, REFRESH_TIME};
use crate::metrics::Recorder;
use crate::scenario::{Action, Scenario, TimedAction};
use crate::scheduler;
use crate::scheduler::cycle_trace::TracedPods;
use crate::scheduler::kube_scheduler::{KubeScheduler, SchedulerTimer};
use crate::scheduler::queue::{BACKOFF_FLUSH_PERIOD, UNSCHEDULABLE_FLUSH_PERIOD};
use crate::sim::{
    Context, Model, RngStreams, SimDuration, SimEvent, SimTime, Simulation, StopAt, TraceDigest,
};
pub use components::Components;
use kubectl::{KUBECTL_CLIENT, Kubectl};

/// The client id of kube-scheduler.
pub const SCHEDULER_CLIENT: ClientId = ClientId(1);

/// Every event of the world.
#[derive(Debug)]
pub enum Event {
    /// The apiserver's own events.
    Api(ApiEvent),
    /// Timeline action `n` is due.
    Action(u32),
    /// Take a metrics sample (periodic, background).
    Sample,
    /// Start kube-scheduler's informers.
    SchedulerStart,
    /// One of kube-scheduler's timers.
    Scheduler(SchedulerTimer),
}

impl SimEvent for Event {
    fn fingerprint(&self) -> u64 {
        match self {
            Event::Api(e) => e.fingerprint().rotate_left(3),
            Event::Action(n) => 0xA000_0000 | u64::from(*n),
            Event::Sample => 0x5A,
            Event::SchedulerStart => 0x5C,
            Event::Scheduler(t) => 0x5C00 | (*t as u64),
        }
    }

    fn is_background(&self) -> bool {
        matches!(
            self,
            Event::Sample
                | Event::Api(ApiEvent::ExpireEvent { .. })
                | Event::Scheduler(
                    SchedulerTimer::FlushBackoff
                        | SchedulerTimer::FlushUnschedulable
                        | SchedulerTimer::RefreshEventSeries
                        | SchedulerTimer::FinishEventSeries
                )
        )
    }
}

/// Settings of a run that are not in the scenario.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// The seed (overrides the scenario's).
    pub seed: Option<u64>,
    /// Keep every API write for `events.jsonl`.
    pub record_writes: bool,
    /// The pods whose scheduling cycles the scheduler traces (for `kubesim explain`).
    pub trace_pods: TracedPods,
}

/// When a run of `scenario` stops: at `until` (default: the scenario's duration), or sooner
/// once nothing is left to happen if the scenario says so.
pub fn stop_at(scenario: &Scenario, until: Option<SimDuration>) -> StopAt {
    StopAt {
        until: Some(SimTime::ZERO + until.unwrap_or(scenario.duration)),
        when_quiescent: scenario.stop_when_quiescent,
        max_events: None,
    }
}

/// The world.
pub struct World {
    api: ApiServer,
    kubectl: Kubectl,
    scheduler: Option<KubeScheduler>,
    recorder: Recorder,
    sample_every: SimDuration,
    /// Outputs of the apiserver waiting to be routed.
    outputs: Vec<ApiOutput>,
    /// A second buffer for routing, kept to reuse its allocation.
    spare_outputs: Vec<ApiOutput>,
}

impl World {
    /// The apiserver.
    pub fn api(&self) -> &ApiServer {
        &self.api
    }

    /// The scenario's user and how its actions went.
    pub fn kubectl(&self) -> &Kubectl {
        &self.kubectl
    }

    /// kube-scheduler, if the scenario runs it.
    pub fn scheduler(&self) -> Option<&KubeScheduler> {
        self.scheduler.as_ref()
    }

    /// The metrics recorded so far.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// The digest of a run: the kernel's digest of the processed events folded with the
    /// apiserver's digest of what was committed, so two runs that differ in any written object
    /// name or any event differ here.
    pub fn trace_digest(&self, events: &TraceDigest) -> TraceDigest {
        let mut digest = *events;
        let commits = self.api.commit_digest().finish();
        digest.update(commits as u64);
        digest.update((commits >> 64) as u64);
        digest
    }

    /// Takes a sample now (the end of a run samples once more).
    pub fn sample(&mut self, now: SimTime) {
        self.recorder
            .sample(now, &self.api, self.scheduler.as_ref());
    }

    /// Routes everything the apiserver produced, including what routing produces in turn
    /// (a response can make a component send another request).
    fn route(&mut self, ctx: &mut Context<'_, Event>) {
        let mut batch = std::mem::take(&mut self.spare_outputs);
        while !self.outputs.is_empty() {
            std::mem::swap(&mut batch, &mut self.outputs);
            for output in batch.drain(..) {
                match output {
                    ApiOutput::Schedule(at, event) => {
                        ctx.schedule_at(at, Event::Api(event));
                    }
                    ApiOutput::Respond {
                        client,
                        request,
                        response,
                    } => {
                        if client == KUBECTL_CLIENT {
                            self.kubectl.on_response(
                                request,
                                &response,
                                ctx.now(),
                                &mut self.api,
                                &mut self.outputs,
                            );
                        } else if let Some(scheduler) = &mut self.scheduler
                            && scheduler.client() == client
                        {
                            let timers = scheduler.on_response(
                                request,
                                &response,
                                ctx.now(),
                                &mut self.api,
                                &mut self.outputs,
                            );
                            schedule_timers(ctx, timers);
                        }
                    }
                    ApiOutput::Deliver {
                        client,
                        watch,
                        event,
                    } => {
                        if let Some(scheduler) = &mut self.scheduler
                            && scheduler.client() == client
                        {
                            let timers = scheduler.on_watch_event(watch, &event, ctx.now());
                            schedule_timers(ctx, timers);
                        }
                    }
                }
            }
        }
        self.spare_outputs = batch;
    }
}

impl Model for World {
    type Event = Event;

    fn handle(&mut self, ctx: &mut Context<'_, Event>, event: Event) {
        let now = ctx.now();
        match event {
            Event::Api(e) => self.api.handle(now, e, &mut self.outputs),
            Event::Action(n) => self
                .kubectl
                .run(n as usize, now, &mut self.api, &mut self.outputs),
            Event::Sample => {
                self.recorder
                    .sample(now, &self.api, self.scheduler.as_ref());
                ctx.schedule_in(self.sample_every, Event::Sample);
            }
            Event::SchedulerStart => {
                if let Some(scheduler) = &mut self.scheduler {
                    scheduler.start(now, &mut self.api, &mut self.outputs);
                    for timer in PERIODIC_TIMERS {
                        ctx.schedule_in(period_of(timer), Event::Scheduler(timer));
                    }
                }
            }
            Event::Scheduler(timer) => {
                if let Some(scheduler) = &mut self.scheduler {
                    // The periodic timers re-arm themselves.
                    if PERIODIC_TIMERS.contains(&timer) {
                        ctx.schedule_in(period_of(timer), Event::Scheduler(timer));
                    }
                    let timers = scheduler.on_timer(timer, now, &mut self.api, &mut self.outputs);
                    schedule_timers(ctx, timers);
                }
            }
        }
        self.route(ctx);
    }
}

/// kube-scheduler's periodic work: the queue's flushes and the Event recorder's series.
const PERIODIC_TIMERS: [SchedulerTimer; 4] = [
    SchedulerTimer::FlushBackoff,
    SchedulerTimer::FlushUnschedulable,
    SchedulerTimer::RefreshEventSeries,
    SchedulerTimer::FinishEventSeries,
];

fn period_of(timer: SchedulerTimer) -> SimDuration {
    match timer {
        SchedulerTimer::FlushBackoff => BACKOFF_FLUSH_PERIOD,
        SchedulerTimer::FlushUnschedulable => UNSCHEDULABLE_FLUSH_PERIOD,
        SchedulerTimer::RefreshEventSeries => REFRESH_TIME,
        SchedulerTimer::FinishEventSeries => FINISH_TIME,
        SchedulerTimer::CycleDone => SimDuration::ZERO,
    }
}

fn schedule_timers(ctx: &mut Context<'_, Event>, timers: Vec<(SimTime, SchedulerTimer)>) {
    for (at, timer) in timers {
        ctx.schedule_at(at, Event::Scheduler(timer));
    }
}

/// Submits `request` at the simulation's current time as an outside client would (a test, a
/// tool standing in for a component kubesim does not model yet): it passes admission and
/// reaches every watcher as any request does; its response goes to no component.
pub fn submit(sim: &mut Simulation<World>, request: Request) -> RequestId {
    let now = sim.now();
    let mut out = Vec::new();
    let id = sim.model_mut().api.submit(now, request, &mut out);
    for output in out {
        if let ApiOutput::Schedule(at, event) = output {
            sim.schedule_at(at, Event::Api(event));
        }
    }
    id
}

/// Builds the simulation of `scenario`: the initial objects are applied at time 0, before any
/// timeline action, and sampling starts at time 0.
pub fn build(scenario: &Scenario, options: &RunOptions) -> Simulation<World> {
    let seed = options.seed.unwrap_or(scenario.seed);
    let streams = RngStreams::new(seed);
    let config = ApiServerConfig {
        record_writes: options.record_writes,
        ..scenario.apiserver.clone()
    };
    let mut actions = Vec::with_capacity(scenario.timeline.len() + 1);
    if !scenario.initial.is_empty() {
        actions.push(TimedAction {
            at: SimTime::ZERO,
            action: Action::Apply(scenario.initial.clone()),
        });
    }
    actions.extend(scenario.timeline.iter().cloned());
    let scheduler = if scenario.scheduler.enabled {
        // The configuration was resolved once at load time; it resolves the same way again.
        scheduler::config::resolve_seeded(&scenario.scheduler.config, seed)
            .ok()
            .map(|config| {
                let mut scheduler = KubeScheduler::new(
                    SCHEDULER_CLIENT,
                    config,
                    scenario.scheduler.cycle_cost,
                    streams.stream("scheduler/tie-break"),
                    streams.stream("scheduler/preemption"),
                );
                scheduler.trace(options.trace_pods.clone());
                scheduler
            })
    } else {
        None
    };
    let world = World {
        api: ApiServer::new(config, streams.stream("apiserver/generate-name")),
        kubectl: Kubectl::new(actions),
        scheduler,
        recorder: Recorder::default(),
        sample_every: scenario.sample_every,
        outputs: Vec::new(),
        spare_outputs: Vec::new(),
    };
    let mut sim = Simulation::new(world);
    let due: Vec<SimTime> = sim.model().kubectl.actions().iter().map(|a| a.at).collect();
    for (i, at) in due.into_iter().enumerate() {
        sim.schedule_at(at, Event::Action(i as u32));
    }
    sim.schedule_at(SimTime::ZERO, Event::Sample);
    sim.schedule_at(SimTime::ZERO, Event::SchedulerStart);
    sim
}
