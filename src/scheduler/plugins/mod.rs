//! The scheduler plugins, one file each, named as in KubeSchedulerConfiguration.
