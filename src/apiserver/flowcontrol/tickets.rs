//! The table of requests flow control is holding, indexed by [`Ticket`].
//!
//! A slot arena with a free list: admitting and finishing a request reuses slots instead of
//! allocating, and a ticket carries its slot's generation so a stale ticket (one already
//! finished) is refused rather than mistaken for the slot's next occupant.

use super::Ticket;

#[derive(Clone, Debug)]
struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

/// Requests by ticket.
#[derive(Clone, Debug)]
pub struct Tickets<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Tickets<T> {
    fn default() -> Self {
        Tickets {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

fn split(ticket: Ticket) -> (usize, u32) {
    let raw = ticket.index();
    ((raw & 0xffff_ffff) as usize, (raw >> 32) as u32)
}

impl<T> Tickets<T> {
    /// Stores `value`, returning its ticket.
    pub fn insert(&mut self, value: T) -> Ticket {
        self.len += 1;
        let slot = match self.free.pop() {
            Some(i) => {
                let s = &mut self.slots[i as usize];
                s.value = Some(value);
                i
            }
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    value: Some(value),
                });
                (self.slots.len() - 1) as u32
            }
        };
        let generation = self.slots[slot as usize].generation;
        Ticket::new((u64::from(generation) << 32) | u64::from(slot))
    }

    /// The value under `ticket`, if it is current.
    pub fn get(&self, ticket: Ticket) -> Option<&T> {
        let (i, generation) = split(ticket);
        self.slots
            .get(i)
            .filter(|s| s.generation == generation)
            .and_then(|s| s.value.as_ref())
    }

    /// The value under `ticket`, mutably, if it is current.
    pub fn get_mut(&mut self, ticket: Ticket) -> Option<&mut T> {
        let (i, generation) = split(ticket);
        self.slots
            .get_mut(i)
            .filter(|s| s.generation == generation)
            .and_then(|s| s.value.as_mut())
    }

    /// Removes and returns the value under `ticket`, if it is current.
    pub fn remove(&mut self, ticket: Ticket) -> Option<T> {
        let (i, generation) = split(ticket);
        let slot = self
            .slots
            .get_mut(i)
            .filter(|s| s.generation == generation)?;
        let value = slot.value.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(i as u32);
        self.len -= 1;
        Some(value)
    }

    /// How many requests are held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_tickets_are_refused() {
        let mut t = Tickets::default();
        let a = t.insert("a");
        assert_eq!(t.remove(a), Some("a"));
        let b = t.insert("b");
        // Same slot, next generation.
        assert_ne!(a, b);
        assert_eq!(t.get(a), None);
        assert_eq!(t.get(b), Some(&"b"));
        assert_eq!(t.len(), 1);
    }
}
