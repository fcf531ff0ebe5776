//! The feature gates of the apiserver (`kube-apiserver --feature-gates`) and of client-go
//! (`KUBE_FEATURE_<name>` in each client's environment, or a component's `--feature-gates`)
//! that kubesim models, by their upstream names.
//!
//! kubesim's defaults are not upstream's: both gates below are off unless the scenario turns
//! them on, so that a scenario written before they were modelled runs exactly as it did (its
//! outputs and digests unchanged). Upstream turns the server's `WatchList` on by default in
//! 1.34 and client-go's `WatchListClient` in 1.35.

/// The apiserver's gates kubesim models (`spec.apiserver.featureGates`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApiServerFeatureGates {
    /// `WatchList` (KEP-3157): a WATCH with `sendInitialEvents=true` is served, from the watch
    /// cache, as a streaming list. Off, such a watch is refused as invalid (422), and client-go
    /// falls back to a LIST. Upstream: alpha 1.27, beta on 1.32, off 1.33, on 1.34.
    pub watch_list: bool,
}

impl ApiServerFeatureGates {
    /// The gates' names.
    pub const NAMES: &'static [&'static str] = &["WatchList"];

    /// Sets gate `name`; an unknown name is an error naming the known ones.
    pub fn set(&mut self, name: &str, on: bool) -> Result<(), String> {
        match name {
            "WatchList" => self.watch_list = on,
            other => {
                return Err(unknown(
                    other,
                    Self::NAMES,
                    "the apiserver gates kubesim models",
                ));
            }
        }
        Ok(())
    }
}

/// client-go's gates kubesim models, for every client of the run (`spec.clientFeatureGates`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientFeatureGates {
    /// `WatchListClient`: an informer's reflector starts each round with a streaming list (a
    /// WATCH with `sendInitialEvents=true`) instead of a LIST. Upstream: beta off 1.30, beta on
    /// 1.35.
    pub watch_list_client: bool,
}

impl ClientFeatureGates {
    /// The gates' names.
    pub const NAMES: &'static [&'static str] = &["WatchListClient"];

    /// Sets gate `name`; an unknown name is an error naming the known ones.
    pub fn set(&mut self, name: &str, on: bool) -> Result<(), String> {
        match name {
            "WatchListClient" => self.watch_list_client = on,
            other => {
                return Err(unknown(
                    other,
                    Self::NAMES,
                    "the client-go gates kubesim models",
                ));
            }
        }
        Ok(())
    }
}

fn unknown(name: &str, known: &[&str], which: &str) -> String {
    format!(
        "unknown feature gate {name:?}; expected one of {} ({which})",
        known.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_gates_are_off_by_default_and_set_by_their_upstream_names() {
        let mut server = ApiServerFeatureGates::default();
        let mut client = ClientFeatureGates::default();
        assert!(!server.watch_list && !client.watch_list_client);
        assert_eq!(server.set("WatchList", true), Ok(()));
        assert_eq!(client.set("WatchListClient", true), Ok(()));
        assert!(server.watch_list && client.watch_list_client);
        // Each gate belongs to one side: the client's name is unknown to the apiserver.
        let err = server.set("WatchListClient", true).unwrap_err();
        assert!(err.contains("expected one of WatchList "), "{err}");
        let err = client.set("WatchList", true).unwrap_err();
        assert!(err.contains("expected one of WatchListClient "), "{err}");
    }
}
