//! kubesim's container behaviour annotations: their names and the values they take. What a
//! container does (when it is ready, when it exits, …) is in no Kubernetes field, so a pod says
//! it with these; the kubelet (`crate::kubelet`) acts on them.

use crate::sim::SimDuration;

/// Time from a container's start until its readiness probe passes.
pub const READY_AFTER: &str = "kubesim.io/ready-after";
/// Time from a container's start until its startup probe passes.
pub const STARTED_AFTER: &str = "kubesim.io/started-after";
/// Time from a container's start after which its liveness probe fails.
pub const LIVENESS_FAILS_AFTER: &str = "kubesim.io/liveness-fails-after";
/// How long a container runs before it exits by itself.
pub const EXIT_AFTER: &str = "kubesim.io/exit-after";
/// The exit code of such an exit.
pub const EXIT_CODE: &str = "kubesim.io/exit-code";

/// Every behaviour annotation. Each applies to all of a pod's containers; suffixed with
/// `.<container>` it applies to that container alone.
pub const ANNOTATIONS: [&str; 5] = [
    READY_AFTER,
    STARTED_AFTER,
    LIVENESS_FAILS_AFTER,
    EXIT_AFTER,
    EXIT_CODE,
];

/// The behaviour annotation `key` is (with or without a container suffix), if it is one.
pub fn base_key(key: &str) -> Option<&'static str> {
    ANNOTATIONS
        .into_iter()
        .find(|base| key == *base || key.strip_prefix(base).is_some_and(|r| r.starts_with('.')))
}

/// Whether `value` is a valid value of the behaviour annotation `base` (a base key).
pub fn valid_value(base: &str, value: &str) -> bool {
    if base == EXIT_CODE {
        value.parse::<i32>().is_ok()
    } else {
        value.parse::<SimDuration>().is_ok()
    }
}

/// The first behaviour annotation of `annotations` whose value does not parse, with what was
/// expected.
pub fn check_annotations(annotations: &crate::api::meta::Annotations) -> Result<(), String> {
    for (key, value) in annotations {
        let Some(base) = base_key(key) else {
            continue;
        };
        if !valid_value(base, value) {
            let expected = if base == EXIT_CODE {
                "an integer exit code such as \"1\""
            } else {
                "a duration such as 30s"
            };
            return Err(format!("{key}: expected {expected}, found {value:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaviour_annotations_are_checked_by_their_base_key() {
        assert_eq!(base_key("kubesim.io/exit-after.db"), Some(EXIT_AFTER));
        assert_eq!(base_key("kubesim.io/exit-afterwards"), None);
        let mut a = crate::api::meta::Annotations::new();
        a.insert("kubesim.io/exit-code.web".to_string(), "one".to_string());
        let err = check_annotations(&a).expect_err("not an integer");
        assert!(
            err.starts_with("kubesim.io/exit-code.web: expected an integer"),
            "{err}"
        );
        a.insert("kubesim.io/exit-code.web".to_string(), "1".to_string());
        a.insert("other.io/x".to_string(), "whatever".to_string());
        assert!(check_annotations(&a).is_ok());
    }
}
