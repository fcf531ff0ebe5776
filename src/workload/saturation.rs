//! What a pod does with the requests it is offered: an M/M/c/K queue.
//!
//! A pod serves `concurrency` requests at a time (c servers), each taking an exponentially
//! distributed time of mean `serviceTime`, and holds at most `queueLimit` more waiting; a
//! request arriving to a full pod is dropped. Arrivals are Poisson at the rate the load model
//! sends the pod. The model is the queue's steady state at that rate: the load changes over
//! seconds to minutes while a request is served in milliseconds, so a pod settles at each
//! rate long before the rate moves on. What it answers:
//!
//! * served and dropped rates (the blocking probability p_K of a full pod);
//! * utilization (busy servers over c);
//! * latency — waiting plus service — as a mean and as percentiles.
//!
//! Past capacity (λ·s > c) the steady state is a full queue: latency near
//! `(queueLimit + 1) · s / c` and nearly every request above capacity dropped — the user pain
//! a slow scale-up causes. Probabilities are built by the ratio of neighbouring states and
//! rescaled as they grow, so a long queue under a heavy overload does not overflow.

use serde::Deserialize;

use crate::sim::SimDuration;

/// How a pod serves requests.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Server {
    /// Requests served at once (c, at least 1).
    pub concurrency: u32,
    /// The mean time one request takes.
    pub service_time: SimDuration,
    /// Requests that may wait beyond the ones being served (K − c).
    pub queue_limit: u32,
}

/// A pod's steady state at one arrival rate.
#[derive(Clone, Debug, PartialEq)]
pub struct Performance {
    /// Requests per second offered.
    pub offered: f64,
    /// Requests per second served (offered less dropped).
    pub served: f64,
    /// Requests per second dropped at a full queue.
    pub dropped: f64,
    /// The mean share of the c servers busy.
    pub utilization: f64,
    /// Mean time from arrival to completion of a served request, in seconds.
    pub mean_latency: f64,
    /// The latency's distribution, ready to be read at any t.
    latency: LatencyTail,
    /// 1 / service time, per second.
    rate: f64,
}

/// A served request's latency as `P(latency > t)`, its coefficients worked out once per
/// steady state so that each read costs one pass over the queue's states with three
/// transcendental calls (the percentiles read it dozens of times).
///
/// An admitted arrival that finds a free server is only served: `S ~ Exp(μ)`. One that finds
/// n ≥ c requests waits for j = n − c + 1 completions at r = c·μ, `W ~ Erlang(j, r)`, then is
/// served. With g_j the chance of waiting for j, `π_i(x)` Poisson's pmf and q = (c − 1)/c:
///
/// * `P(W > t) = Σ_{i<j} π_i(rt)`, so `Σ_j g_j P(W_j > t) = Σ_i π_i(rt) G(i + 1)` with the
///   suffix sums G(m) = Σ_{j≥m} g_j;
/// * `P(W ≤ t, W + S > t) = e^(−μt) (r/(r−μ))^j P(Pois((r−μ)t) ≥ j)`; summed over j and
///   with `π_i((r−μ)t) (r/(r−μ))^i = e^(μt) π_i(rt)` it becomes `Σ_i π_i(rt) D(i)`, where
///   D(i) = Σ_{j≤i} g_j q^(i−j), i.e. D(i) = q·D(i − 1) + g_i.
///
/// So `P(latency > t) = free·e^(−μt) + Σ_i π_i(rt) (G(i + 1) + D(i))`: a sum with no large
/// factor in it (every coefficient is at most 1), whose terms past the longest wait J are
/// `π_i(rt) D(J) q^(i−J)`. With one server q = 0 and it is `Σ_i π_i(μt) G(i)`, the Erlang
/// tail of j + 1 services.
#[derive(Clone, Debug, PartialEq)]
struct LatencyTail {
    /// The chance that an admitted arrival finds a free server.
    free: f64,
    /// G(i + 1) + D(i) for i = 0 ..= J.
    waits: Vec<f64>,
    /// D(J): what the waits leave to the terms past J.
    carry: f64,
    /// q = (c − 1)/c.
    keep: f64,
    /// r = c·μ, per second.
    completions: f64,
    /// μ, per second.
    rate: f64,
}

impl Server {
    /// The steady state at `arrival_rate` requests per second.
    pub fn performance(&self, arrival_rate: f64) -> Performance {
        let c = self.concurrency.max(1);
        let s = self.service_time.as_secs_f64();
        let lambda = arrival_rate.max(0.0);
        if s <= 0.0 || lambda == 0.0 {
            // Instant service, or nothing to serve: nothing waits.
            return Performance {
                offered: lambda,
                served: lambda,
                dropped: 0.0,
                utilization: 0.0,
                mean_latency: s.max(0.0),
                // An arrival would find the pod empty.
                latency: LatencyTail::new(1.0, &[], c, 1.0 / s),
                rate: if s > 0.0 { 1.0 / s } else { f64::INFINITY },
            };
        }
        let state = QueueState::at(lambda * s, c, self.queue_limit);
        let served = lambda * (1.0 - state.full);
        Performance {
            offered: lambda,
            served,
            dropped: lambda * state.full,
            utilization: served * s / f64::from(c),
            // Little's law over the requests admitted.
            mean_latency: state.in_system / served,
            latency: LatencyTail::new(state.free, &state.waits, c, 1.0 / s),
            rate: 1.0 / s,
        }
    }
}

/// What the latency and the rates read of the queue's steady state.
struct QueueState {
    /// p_K: the chance an arrival finds the pod full (and is dropped).
    full: f64,
    /// The mean number of requests in the pod, Σ n·p_n.
    in_system: f64,
    /// The chance that an admitted arrival finds a free server.
    free: f64,
    /// g_1 … g_J: the chance that an admitted arrival waits for j completions (finds
    /// c + j − 1 requests), the negligible longest waits left out.
    waits: Vec<f64>,
}

impl QueueState {
    /// The M/M/c/K queue with offered load `a` = λ·s (Erlang), `c` servers and room for
    /// `limit` more: p_n ∝ aⁿ/n! up to c, then aⁿ/(c!·c^(n−c)), for n up to K = c + limit.
    fn at(a: f64, c: u32, limit: u32) -> Self {
        // By the ratio of neighbours, p_n = p_(n−1)·a/min(n, c): no transcendental call per
        // state (this runs for every pod at every step of the load), in one pass that keeps
        // only the states an arrival can wait behind. A growing run of terms (an overloaded
        // pod: a > c) is scaled down whenever it nears the top of the float range; terms that
        // fall below the smallest float next to the largest are ones nothing can see.
        const RESCALE_ABOVE: f64 = 1e150;
        let k = c + limit;
        // Σ w_n over n < c, and Σ n·w_n over every n.
        let (mut below, mut weighted) = (0.0, 0.0);
        // w_c … w_K.
        let mut queued = Vec::with_capacity(limit as usize + 1);
        // Past c every step multiplies by the same ρ = a/c.
        let rho = a / f64::from(c);
        let mut term = 1.0;
        for n in 0..=k {
            if n > c {
                term *= rho;
            } else if n > 0 {
                term *= a / f64::from(n);
            }
            if term > RESCALE_ABOVE {
                below /= RESCALE_ABOVE;
                weighted /= RESCALE_ABOVE;
                queued
                    .iter_mut()
                    .for_each(|w: &mut f64| *w /= RESCALE_ABOVE);
                term /= RESCALE_ABOVE;
            }
            weighted += f64::from(n) * term;
            if n < c {
                below += term;
            } else {
                queued.push(term);
            }
        }
        // The full state is no wait: its arrivals are dropped.
        let full_weight = queued.pop().unwrap_or(0.0);
        let admitted = below + queued.iter().sum::<f64>();
        let total = admitted + full_weight;
        let free = if admitted > 0.0 {
            cut_negligible_waits(&mut queued, admitted);
            queued.iter_mut().for_each(|w| *w /= admitted);
            below / admitted
        } else {
            // Nothing is admitted: no arrival finds anything.
            queued.clear();
            0.0
        };
        QueueState {
            full: full_weight / total,
            in_system: weighted / total,
            free,
            waits: queued,
        }
    }
}

/// Drops the longest waits while together they stay under [`NEGLIGIBLE_WAITS`] of the
/// `admitted` weight (before the weights are normalized: only the kept ones need to be).
fn cut_negligible_waits(waits: &mut Vec<f64>, admitted: f64) {
    let negligible = NEGLIGIBLE_WAITS * admitted;
    let mut cut = 0.0;
    while let Some(&last) = waits.last() {
        if cut + last >= negligible {
            break;
        }
        cut += last;
        waits.pop();
    }
}

/// Below this probability, the longest waits are left out of the latency: together they
/// move any tail by less than this, far below the 10⁻⁴ of a p99.99, and a lightly loaded pod
/// then keeps a handful of states instead of its whole queue.
const NEGLIGIBLE_WAITS: f64 = 1e-12;

impl LatencyTail {
    /// The tail of a pod with `servers` servers at `rate` per server, whose admitted arrivals
    /// find a free server with probability `free` and wait for j completions with
    /// probability `waits[j − 1]`.
    fn new(free: f64, waits: &[f64], servers: u32, rate: f64) -> Self {
        let keep = f64::from(servers.saturating_sub(1)) / f64::from(servers.max(1));
        // coefficients[i] = G(i + 1) + D(i) for i = 0 ..= J (`waits` holds g_1 … g_J).
        let mut coefficients = Vec::with_capacity(waits.len() + 1);
        let mut suffix: f64 = waits.iter().sum();
        let mut carry = 0.0;
        coefficients.push(suffix);
        for g in waits {
            suffix -= g;
            carry = keep * carry + g;
            coefficients.push(suffix.max(0.0) + carry);
        }
        LatencyTail {
            free,
            waits: coefficients,
            carry,
            keep,
            completions: f64::from(servers) * rate,
            rate,
        }
    }

    /// The tail of a mixture: `Σ w_p P_p(latency > t)` over `parts` (w_p, P_p), the weights
    /// summing to 1; None when the parts differ in their servers or rate.
    ///
    /// With one r, μ and q every part's terms share their e^(−μt) and π_i(rt), so the mixture
    /// is a tail of the same form: its free share and coefficients are the weighted sums of
    /// the parts', where a part's coefficients past its own J_p go on as carry_p·q^(i−J_p)
    /// and its carry past the longest J is carry_p·q^(J−J_p).
    fn mixture(parts: &[(f64, &LatencyTail)]) -> Option<LatencyTail> {
        let (_, first) = parts.first()?;
        let same_server = |t: &LatencyTail| {
            t.rate.to_bits() == first.rate.to_bits()
                && t.completions.to_bits() == first.completions.to_bits()
        };
        if !parts.iter().all(|(_, t)| same_server(t)) {
            return None;
        }
        let longest = parts.iter().map(|(_, t)| t.waits.len()).max().unwrap_or(0);
        let mut waits = vec![0.0; longest];
        let (mut free, mut carry) = (0.0, 0.0);
        for (weight, part) in parts {
            free += weight * part.free;
            for (slot, coefficient) in waits.iter_mut().zip(&part.waits) {
                *slot += weight * coefficient;
            }
            let mut continued = weight * part.carry;
            for slot in waits.iter_mut().skip(part.waits.len()) {
                continued *= first.keep;
                *slot += continued;
            }
            carry += continued;
        }
        Some(LatencyTail {
            free,
            waits,
            carry,
            keep: first.keep,
            completions: first.completions,
            rate: first.rate,
        })
    }

    /// `P(latency > t)`, t in seconds.
    fn at(&self, t: f64) -> f64 {
        if t <= 0.0 {
            return 1.0;
        }
        if !self.rate.is_finite() {
            return 0.0;
        }
        let x = self.completions * t;
        let last = self.waits.len() - 1;
        let mut tail = self.free * libm::exp(-self.rate * t);
        // π_i(x) for i = 0 ..= J, from the mode (or J) outward: each step shrinks the term.
        let anchor = (libm::floor(x) as usize).min(last);
        let at_anchor = poisson_pmf(x, anchor);
        let mut pmf = at_anchor;
        for i in anchor..=last {
            tail += pmf * self.waits[i];
            pmf *= x / (i + 1) as f64;
        }
        pmf = at_anchor;
        for i in (0..anchor).rev() {
            pmf *= (i + 1) as f64 / x;
            tail += pmf * self.waits[i];
        }
        tail += self.carry * self.beyond(x, last);
        tail.clamp(0.0, 1.0)
    }

    /// `Σ_{i>J} π_i(x) q^(i−J)`: `q^(−J) e^(−x(1−q)) P(Pois(qx) > J)`. Summed term by term
    /// from J + 1 while they fall (qx ≤ J + 1); past that the Poisson's mode is beyond J and
    /// the complement of its first J + 1 terms loses nothing.
    fn beyond(&self, x: f64, last: usize) -> f64 {
        let q = self.keep;
        if self.carry <= 0.0 || q <= 0.0 {
            return 0.0;
        }
        let qx = q * x;
        let next = last + 1;
        if qx <= next as f64 {
            let mut term = poisson_pmf(x, next) * q;
            let mut sum = 0.0;
            let mut i = next;
            while term > 0.0 && term > sum * 1e-17 {
                sum += term;
                i += 1;
                term *= qx / i as f64;
            }
            return sum;
        }
        let mut head = 0.0;
        let mut pmf = poisson_pmf(qx, last);
        for i in (0..=last).rev() {
            head += pmf;
            pmf *= i as f64 / qx;
        }
        let scale = libm::exp(-(last as f64) * libm::log(q) - x * (1.0 - q));
        scale * (1.0 - head).max(0.0)
    }
}

/// `π_i(x) = e^(−x) xⁱ / i!`, from log space.
fn poisson_pmf(x: f64, i: usize) -> f64 {
    let i = i as f64;
    libm::exp(-x + i * libm::log(x) - libm::lgamma(i + 1.0))
}

impl Performance {
    /// `P(latency > t)` for a served request (`t` in seconds). An admitted arrival that finds
    /// n ≥ c requests waits for n − c + 1 completions at rate c·μ (Erlang), then is served
    /// (exponential at μ); one that finds a free server is only served.
    pub fn latency_tail(&self, t: f64) -> f64 {
        self.latency.at(t)
    }

    /// The latency (seconds) that a share `q` (0 < q < 1) of served requests stay under.
    pub fn latency_quantile(&self, q: f64) -> f64 {
        let [quantile] = mixture_latency_quantiles(&[(1.0, self)], [q]);
        quantile
    }
}

/// How closely a latency percentile is found: a relative error far below any digit a report
/// prints, reached in a handful of steps (below).
const QUANTILE_PRECISION: f64 = 1e-9;

/// The latencies (seconds) under which the shares `shares` of a Service's served requests
/// finish, its pods' steady states weighted by what each serves: quantiles of the mixture.
///
/// Pods of one Service share a server (c and μ), and then the mixture of their tails is one
/// tail of the same form ([`LatencyTail::mixture`]): each step of the search below reads one
/// tail instead of one per pod. Pods that differ in their server are read one by one.
pub fn mixture_latency_quantiles<const N: usize>(
    pods: &[(f64, &Performance)],
    shares: [f64; N],
) -> [f64; N] {
    let total: f64 = pods.iter().map(|(w, _)| *w).sum();
    if total <= 0.0 {
        return [0.0; N];
    }
    let parts: Vec<(f64, &LatencyTail)> =
        pods.iter().map(|(w, p)| (w / total, &p.latency)).collect();
    let merged = LatencyTail::mixture(&parts);
    let tail = |t: f64| -> f64 {
        match &merged {
            Some(merged) => merged.at(t),
            None => parts.iter().map(|(w, l)| w * l.at(t)).sum(),
        }
    };
    let slowest = pods.iter().map(|(_, p)| 1.0 / p.rate).fold(1e-9, f64::max);
    shares.map(|q| tail_quantile(&tail, slowest, q))
}

/// The t at which `tail` (a latency's `P(latency > t)`) falls to `1 − q`; `slowest` is the
/// longest mean service time, where the search starts.
///
/// The tail falls monotonically from 1, and its logarithm is close to a straight line in t
/// (it is a sum of exponentials), so the root of `ln tail(t) − ln(1 − q)` is bracketed by
/// doubling and then found by regula falsi with the Illinois step: a few evaluations where
/// halving the interval would take thirty.
fn tail_quantile(tail: &dyn Fn(f64) -> f64, slowest: f64, q: f64) -> f64 {
    let target = 1.0 - q.clamp(0.0, 1.0);
    if target >= 1.0 {
        return 0.0;
    }
    let log_target = libm::log(target.max(f64::MIN_POSITIVE));
    let excess = |t: f64| -> f64 { libm::log(tail(t).max(f64::MIN_POSITIVE)) - log_target };
    // At t = 0 every request is still running: the tail is 1, above the target.
    let (mut low, mut f_low) = (0.0, -log_target);
    let mut high = slowest;
    let mut f_high = excess(high);
    while f_high > 0.0 && high < 1e9 {
        (low, f_low) = (high, f_high);
        high *= 2.0;
        f_high = excess(high);
    }
    // Which end moved last: the Illinois step halves the other end's value when the same end
    // moves twice, so the interval keeps shrinking from both sides.
    let mut moved_low_last: Option<bool> = None;
    for _ in 0..200 {
        if high - low <= QUANTILE_PRECISION * high {
            break;
        }
        let secant = high - f_high * (high - low) / (f_high - f_low);
        // A flat or degenerate secant falls back to halving.
        let t = if secant > low && secant < high {
            secant
        } else {
            (low + high) / 2.0
        };
        let f = excess(t);
        if f == 0.0 {
            return t;
        }
        if f > 0.0 {
            (low, f_low) = (t, f);
            if moved_low_last == Some(true) {
                f_high /= 2.0;
            }
            moved_low_last = Some(true);
        } else {
            (high, f_high) = (t, f);
            if moved_low_last == Some(false) {
                f_low /= 2.0;
            }
            moved_low_last = Some(false);
        }
    }
    high
}

#[cfg(test)]
#[path = "saturation_tests.rs"]
mod tests;
