//! The world's client populations (`spec.clients`), for observers.

use super::World;
use crate::populations::PopulationStats;

impl World {
    /// What each client population's clients asked and were answered, in `spec.clients`
    /// order (populations are registered in that order).
    pub fn client_populations(&self) -> impl Iterator<Item = &PopulationStats> {
        self.components.iter().filter_map(|c| c.client_population())
    }
}
