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
/// is the recorder's own).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct EventKey {
    type_: String,
    action: String,
    reason: String,
    regarding: ObjectReference,
    related: Option<ObjectReference>,
}

/// One occurrence to record.
#[derive(Clone, Debug)]
pub struct Occurrence<'a> {
    /// The object it is about, at the version the component saw.
    pub regarding: ObjectReference,
    /// A second object involved.
    pub related: Option<ObjectReference>,
    /// `Normal` or `Warning`.
    pub type_: &'a str,
    /// Why (`FailedScheduling`).
    pub reason: &'a str,
    /// What was done (`Scheduling`).
    pub action: &'a str,
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
    /// The events seen recently, as last sent (or counted since).
    cache: BTreeMap<EventKey, Event>,
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
            type_: occurrence.type_.to_string(),
            action: occurrence.action.to_string(),
            reason: occurrence.reason.to_string(),
            regarding: occurrence.regarding,
            related: occurrence.related,
        };
        match self.cache.get_mut(&key) {
            None => {
                let event = self.new_event(now, &key, occurrence.note);
                self.cache.insert(key, event.clone());
                self.create(now, event, api, out);
            }
            Some(cached) => match &mut cached.series {
                None => {
                    cached.series = Some(EventSeries {
                        count: 2,
                        last_observed_time: now,
                    });
                    self.patch_series(now, key, api, out);
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
        let series: Vec<EventKey> = self
            .cache
            .iter()
            .filter(|(_, e)| e.series.is_some())
            .map(|(k, _)| k.clone())
            .collect();
        for key in series {
            self.patch_series(now, key, api, out);
        }
    }

    /// Every [`FINISH_TIME`]: a series not seen for that long gets its last patch and leaves
    /// the cache; an event seen once leaves it quietly (upstream `finishSeries`).
    pub fn finish(&mut self, now: SimTime, api: &mut ApiServer, out: &mut Vec<ApiOutput>) {
        let stale = |time: SimTime| now.saturating_since(time) > FINISH_TIME;
        let mut finished = Vec::new();
        self.cache.retain(|key, event| match &event.series {
            Some(series) if stale(series.last_observed_time) => {
                finished.push((key.clone(), event.clone()));
                false
            }
            Some(_) => true,
            None => !stale(event.event_time),
        });
        for (key, event) in finished {
            self.send_series(now, &key, &event, api, out);
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
            && let Some(event) = self.cache.get(&key)
        {
            let mut again = event.clone();
            again.metadata.resource_version = Default::default();
            self.create(now, again, api, out);
        }
        true
    }

    fn new_event(&self, now: SimTime, key: &EventKey, note: &str) -> Event {
        let mut event = Event {
            event_time: now,
            reporting_controller: self.reporting_controller.clone(),
            reporting_instance: self.reporting_instance.clone(),
            action: key.action.clone(),
            reason: key.reason.clone(),
            regarding: key.regarding.clone(),
            related: key.related.clone(),
            note: truncate_note(note),
            type_: key.type_.clone(),
            ..Event::default()
        };
        event.metadata.name = format!("{}.{:x}", key.regarding.name, now.as_nanos());
        event.metadata.namespace = if key.regarding.namespace.is_empty() {
            "default".to_string()
        } else {
            key.regarding.namespace.clone()
        };
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

    fn patch_series(
        &mut self,
        now: SimTime,
        key: EventKey,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) {
        if let Some(event) = self.cache.get(&key).cloned() {
            self.send_series(now, &key, &event, api, out);
        }
    }

    fn send_series(
        &mut self,
        now: SimTime,
        key: &EventKey,
        event: &Event,
        api: &mut ApiServer,
        out: &mut Vec<ApiOutput>,
    ) {
        let Some(series) = &event.series else {
            return;
        };
        let target = ObjectKey::new(
            event.metadata.namespace.clone(),
            event.metadata.name.clone(),
        );
        let op = PatchOp::EventSeries(series.clone());
        let request = Request::patch(self.client, self.user.clone(), Kind::Event, &target, op);
        let id = api.submit(now, request, out);
        self.patches.insert(id, key.clone());
        self.requests_sent += 1;
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
