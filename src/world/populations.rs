//! The world's client populations (`spec.clients`), for observers.

use std::collections::BTreeMap;

use super::World;
use crate::metrics::PopulationSample;
use crate::populations::PopulationStats;

impl World {
    /// What each client population's clients asked and were answered, in `spec.clients`
    /// order (populations are registered in that order).
    pub fn client_populations(&self) -> impl Iterator<Item = &PopulationStats> {
        self.components.iter().filter_map(|c| c.client_population())
    }

    /// Each client population's answers so far, sorted by name: the groups `summary.json`'s
    /// `clientPopulations` lists, from the same counts. On the modelled path the transport
    /// keeps each group's totals as answers come, so this is O(groups); on the ideal path each
    /// population's answers are a handful of (verb, status) counts.
    pub(super) fn population_samples(&self) -> Vec<PopulationSample> {
        let mut by_name: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        match self.transport() {
            Some(transport) => {
                let populations: Vec<&str> =
                    self.client_populations().map(|p| p.name.as_str()).collect();
                for (g, group) in transport.limits().groups().iter().enumerate() {
                    let totals = transport.totals(g);
                    // As the summary: a component's group once it got an answer, a
                    // population always.
                    if totals.requests > 0 || populations.contains(&group.name.as_str()) {
                        by_name.insert(&group.name, (totals.requests, totals.rejected));
                    }
                }
            }
            None => {
                for p in self.client_populations() {
                    let rejected = p
                        .answers
                        .iter()
                        .filter(|((_, status), _)| *status == 429)
                        .map(|(_, n)| n)
                        .sum();
                    by_name.insert(&p.name, (p.total(), rejected));
                }
            }
        }
        by_name
            .into_iter()
            .map(|(name, (requests, rejected))| PopulationSample {
                name: name.to_string(),
                requests,
                rejected,
            })
            .collect()
    }
}
