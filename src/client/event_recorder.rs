//! client-go's `events.k8s.io/v1` recorder (`tools/events`), which kube-scheduler records its
//! `FailedScheduling`, `Scheduled` and `Preempted` Events with.
//!
//! * The first occurrence of an event creates an Event named `<regarding name>.<hex
//!   nanoseconds>`.
//! * Occurrences are folded by their key — type, action, reason, the reporting component and
//!   instance, the regarding object *at its resourceVersion*, the related object; not the
//!   note. The second occurrence patches the Event with `series: {count: 2}`; later ones only
//!   count in the recorder's cache, which reaches the API when the series is refreshed (every
//!   30 minutes, renewing the Event's TTL) or finished (a series not seen for 6 minutes gets a
//!   last patch and leaves the cache, checked every 6 minutes; an event seen once leaves it
//!   without a call). The same key after that starts a new Event.
//! * A series patch that finds the Event gone (its TTL expired) creates it again, series and
//!   all.
//! * Notes longer than 1024 bytes are cut to 1020 and end with ` ...`.
//!
//! The events/v1 path has no spam filter or aggregation (that is the legacy core/v1
//! recorder); what limits it upstream is the client's QPS, which arrives with client-side
//! rate limiting.

use std::collections::BTreeMap;

use crate::api::event::{Event, EventSeries, ObjectReference};
use crate::api::{Kind, Object, ObjectKey, ObjectMeta};
use crate::apiserver::{
    ApiError, ApiOutput, ApiServer, ClientId, PatchOp, Request, RequestId, Response, UserInfo,
};
use crate::sim::{SimDuration, SimTime};

/// How long a series may go unseen before it is finished (`finishTime`).
pub const FINISH_TIME: SimDuration = SimDuration::from_mins(6);
/// How often every series is written again (`refreshTime`), renewing its TTL.
pub const REFRESH_TIME: SimDuration = SimDuration::from_mins(30);
/// The longest note an Event may carry (`NoteLengthLimit`).
pub const NOTE_LENGTH_LIMIT: usize = 1024;

/// What makes two occurrences the same event (upstream `eventKey`; the reporting component
/// is the recorder's own). Types, reasons and actions are a component's constants.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct EventKey {
    type_: &'static str,
    action: &'static str,
    reason: &'static str,
    regarding: ObjectReference,
    related: Option<ObjectReference>,
}

/// What the recorder remembers of an Event beside its key: enough to patch its series and to
/// create it again, and no more. Upstream caches the whole Event; a scheduler that places
/// 150,000 pods caches as many, and the key already holds what they repeat (the regarding
/// object, type, reason, action), while the name follows from the regarding object and the
/// first occurrence's time.
#[derive(Clone, Debug)]
struct Cached {
    /// The first occurrence (`eventTime`).
    event_time: SimTime,
    /// The note of the first occurrence, cut to the limit.
    note: Box<str>,
    /// The series once the event occurred twice.
    series: Option<EventSeries>,
}

/// One occurrence to record.
#[derive(Clone, Debug)]
pub struct Occurrence<'a> {
    /// The object it is about, at the version the component saw.
    pub regarding: ObjectReference,
    /// A second object involved.
    pub related: Option<ObjectReference>,
    /// `Normal` or `Warning`.
    pub type_: &'static str,
    /// Why (`FailedScheduling`).
    pub reason: &'static str,
    /// What was done (`Scheduling`).
    pub action: &'static str,
    /// The text.
    pub note: &'a str,
}

/// An events/v1 recorder for one component instance.
#[derive(Debug)]
pub struct EventRecorder {
    client: ClientId,
    user: UserInfo,
    reporting_controller: String,
    reporting_instance: String,
    /// The events seen recently, with their series as last sent (or counted since).
    cache: BTreeMap<EventKey, Cached>,
    /// Series patches in flight, to create the Event again if it is gone.
    patches: BTreeMap<RequestId, EventKey>,
    /// Requests sent (creates and patches), for tests and reports.
    pub requests_sent: u64,
}

impl EventRecorder {
    /// A recorder writing as `client` / `user`, reporting as `controller` from `instance`.
    pub fn new(client: ClientId, user: UserInfo, controller: &str, instance: &str) -> Self {
        EventRecorder {
            client,
            user,
            reporting_controller: controller.to_string(),
            reporting_instance: instance.to_string(),
            cache: BTreeMap::new(),
            patches: BTreeMap::new(),
            requests_sent: 0,
        }
    }

    /// Records one occurrence at `now`: creates the Event, patches its series on the second
    /// occurrence, or only counts it.
    pub fn record(
        &mut self,
        now: SimTime,
        occurrence: Occurrence<'_>,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) {
        let key = EventKey {
            type_: occurrence.type_,
            action: occurrence.action,
            reason: occurrence.reason,
            regarding: occurrence.regarding,
            related: occurrence.related,
        };
        match self.cache.get_mut(&key) {
            None => {
                let cached = Cached {
                    event_time: now,
                    note: truncate_note(occurrence.note).into_boxed_str(),
                    series: None,
                };
                let event = self.event(&key, &cached);
                self.cache.insert(key, cached);
                self.create(now, event, api, out);
            }
            Some(cached) => match &mut cached.series {
                None => {
                    let series = EventSeries {
                        count: 2,
                        last_observed_time: now,
                    };
                    cached.series = Some(series.clone());
                    let event_time = cached.event_time;
                    self.send_series(now, &key, event_time, series, api, out);
                }
                Some(series) => {
                    series.count = series.count.saturating_add(1);
                    series.last_observed_time = now;
                }
            },
        }
    }

    /// Every [`REFRESH_TIME`]: writes every series again (upstream
    /// `refreshExistingEventSeries`).
    pub fn refresh(&mut self, now: SimTime, api: &mut ApiServer, out: &mut Vec<ApiOutput>) {
        let series: Vec<(EventKey, SimTime, EventSeries)> = self
            .cache
            .iter()
            .filter_map(|(k, c)| Some((k.clone(), c.event_time, c.series.clone()?)))
            .collect();
        for (key, event_time, series) in series {
            self.send_series(now, &key, event_time, series, api, out);
        }
    }

    /// Every [`FINISH_TIME`]: a series not seen for that long gets its last patch and leaves
    /// the cache; an event seen once leaves it quietly (upstream `finishSeries`).
    pub fn finish(&mut self, now: SimTime, api: &mut ApiServer, out: &mut Vec<ApiOutput>) {
        let stale = |time: SimTime| now.saturating_since(time) > FINISH_TIME;
        let mut finished = Vec::new();
        self.cache.retain(|key, cached| match &cached.series {
            Some(series) if stale(series.last_observed_time) => {
                finished.push((key.clone(), cached.event_time, series.clone()));
                false
            }
            Some(_) => true,
            None => !stale(cached.event_time),
        });
        for (key, event_time, series) in finished {
            self.send_series(now, &key, event_time, series, api, out);
        }
    }

    /// A response to one of the recorder's requests; false if the request was not its.
    pub fn on_response(
        &mut self,
        request: RequestId,
        response: &Response,
        now: SimTime,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) -> bool {
        let Some(key) = self.patches.remove(&request) else {
            return false;
        };
        // The Event expired under its series: create it again with the count so far.
        if let Err(ApiError::NotFound { .. }) = response
            && let Some(cached) = self.cache.get(&key)
        {
            let again = self.event(&key, cached);
            self.create(now, again, api, out);
        }
        true
    }

    /// The Event of `key` as the recorder sends it: first occurring at `cached.event_time`,
    /// with the series counted so far.
    fn event(&self, key: &EventKey, cached: &Cached) -> Event {
        let mut event = Event {
            event_time: cached.event_time,
            series: cached.series.clone(),
            reporting_controller: self.reporting_controller.clone(),
            reporting_instance: self.reporting_instance.clone(),
            action: key.action.to_string(),
            reason: key.reason.to_string(),
            regarding: key.regarding.clone(),
            related: key.related.clone(),
            note: cached.note.to_string(),
            type_: key.type_.to_string(),
            ..Event::default()
        };
        event.metadata.name = event_name(key, cached.event_time);
        event.metadata.namespace = event_namespace(key).to_string();
        event
    }

    fn create(
        &mut self,
        now: SimTime,
        event: Event,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) {
        let request = Request::create(
            self.client,
            self.user.clone(),
            Object::Event(Box::new(event)),
        );
        api.submit(now, request, out);
        self.requests_sent += 1;
    }

    fn send_series(
        &mut self,
        now: SimTime,
        key: &EventKey,
        event_time: SimTime,
        series: EventSeries,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) {
        let target = ObjectKey::new(event_namespace(key), event_name(key, event_time));
        let op = PatchOp::EventSeries(series);
        let request = Request::patch(self.client, self.user.clone(), Kind::Event, &target, op);
        let id = api.submit(now, request, out);
        self.patches.insert(id, key.clone());
        self.requests_sent += 1;
    }
}

/// The name of the Event first recorded for `key` at `event_time`: the regarding object's
/// name and the time in hexadecimal nanoseconds.
fn event_name(key: &EventKey, event_time: SimTime) -> String {
    format!("{}.{:x}", key.regarding.name, event_time.as_nanos())
}

/// The namespace an Event about `key`'s object lives in (`default` for a cluster-scoped one).
fn event_namespace(key: &EventKey) -> &str {
    if key.regarding.namespace.is_empty() {
        "default"
    } else {
        &key.regarding.namespace
    }
}

/// `note` cut to [`NOTE_LENGTH_LIMIT`] bytes as upstream's `truncateMessage` does: the first
/// 1020 bytes (to a character boundary) and ` ...`.
pub fn truncate_note(note: &str) -> String {
    if note.len() <= NOTE_LENGTH_LIMIT {
        return note.to_string();
    }
    let mut end = NOTE_LENGTH_LIMIT - 4;
    while !note.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} ...", &note[..end])
}

/// A reference to an object of `kind` with metadata `meta`, at its current version.
pub fn reference_to(kind: Kind, meta: &ObjectMeta) -> ObjectReference {
    ObjectReference {
        kind: kind.name().to_string(),
        api_version: kind.api_version().to_string(),
        namespace: meta.namespace.clone(),
        name: meta.name.clone(),
        uid: meta.uid,
        resource_version: meta.resource_version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_notes_are_cut_to_1024_bytes() {
        let short = "x".repeat(1024);
        assert_eq!(truncate_note(&short), short);
        let long = "y".repeat(1500);
        let cut = truncate_note(&long);
        // 1020 bytes of the note and " ..." make exactly 1024.
        assert_eq!(cut.len(), 1024);
        assert!(cut.ends_with("y ..."));
        // A multi-byte character across byte 1020 is dropped whole.
        let wide = format!("{}é{}", "z".repeat(1019), "z".repeat(100));
        let cut = truncate_note(&wide);
        assert!(cut.starts_with(&"z".repeat(1019)) && cut.ends_with("z ..."));
        assert_eq!(cut.len(), 1019 + 4);
    }
}
