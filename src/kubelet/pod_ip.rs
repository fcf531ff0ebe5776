//! Pod addresses, as a CNI plugin with host-local IPAM hands them out when a pod's sandbox
//! comes up: node `i` (in the order the scenario applies nodes) owns the `/24`
//! `10.(64 + i / 256).(i % 256).0/24` of `10.64.0.0/10` — room for 16,384 nodes, later ones
//! wrap round — and its pods take `.1` to `.254` in turn. An address comes back only after
//! 253 others on the node, long after the pod that had it (a node runs 110 at most by default)
//! is gone, as host-local's round-robin allocation does.

/// Addresses a node's pods get.
#[derive(Clone, Debug)]
pub struct PodIpam {
    /// The first three octets of the node's `/24`, as an address with a zero last octet.
    base: u32,
    /// Pods given an address so far.
    handed_out: u32,
}

/// `10.64.0.0`, the start of the pod ranges.
const POD_RANGES: u32 = 0x0A40_0000;
/// How many `/24`s `10.64.0.0/10` holds.
const NODE_RANGES: u32 = 1 << 14;
/// Usable addresses of a `/24` (`.1` to `.254`).
const PER_NODE: u32 = 254;

impl PodIpam {
    /// The allocator of node `index`.
    pub fn new(index: u32) -> PodIpam {
        PodIpam {
            base: POD_RANGES + (index % NODE_RANGES) * 256,
            handed_out: 0,
        }
    }

    /// The next pod's address.
    pub fn allocate(&mut self) -> String {
        let host = 1 + self.handed_out % PER_NODE;
        self.handed_out = self.handed_out.wrapping_add(1);
        let [a, b, c, d] = (self.base + host).to_be_bytes();
        format!("{a}.{b}.{c}.{d}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_node_has_its_own_range_and_pods_take_addresses_in_turn() {
        // Node 0: 10.64.0.0/24; node 300: 10.(64 + 1).(300 − 256).0 = 10.65.44.0/24.
        let mut first = PodIpam::new(0);
        assert_eq!(first.allocate(), "10.64.0.1");
        assert_eq!(first.allocate(), "10.64.0.2");
        let mut other = PodIpam::new(300);
        assert_eq!(other.allocate(), "10.65.44.1");
        // After .254 the range starts again at .1.
        for _ in 2..254 {
            first.allocate();
        }
        assert_eq!(first.allocate(), "10.64.0.1");
        // Node 16,384 wraps round to node 0's range.
        assert_eq!(PodIpam::new(NODE_RANGES).allocate(), "10.64.0.1");
    }
}
