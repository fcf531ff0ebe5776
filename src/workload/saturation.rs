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
//! a slow scale-up causes. Probabilities are computed in log space, so a long queue under a
//! heavy overload does not overflow.

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
    /// The probability that an admitted arrival finds `n` requests in the pod, for
    /// n = 0 .. K (empty when none is admitted).
    found: Vec<f64>,
    /// c.
    servers: u32,
    /// 1 / service time, per second.
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
                found: vec![1.0],
                servers: c,
                rate: if s > 0.0 { 1.0 / s } else { f64::INFINITY },
            };
        }
        let state = state_probabilities(lambda * s, c, c + self.queue_limit);
        let full = state.last().copied().unwrap_or(0.0);
        let served = lambda * (1.0 - full);
        let in_system: f64 = state.iter().enumerate().map(|(n, p)| n as f64 * p).sum();
        Performance {
            offered: lambda,
            served,
            dropped: lambda * full,
            utilization: served * s / f64::from(c),
            // Little's law over the requests admitted.
            mean_latency: in_system / served,
            found: admitted_found(&state),
            servers: c,
            rate: 1.0 / s,
        }
    }
}

/// What an admitted arrival finds: p_0 … p_(K−1) over their sum (the arrivals that find the
/// pod full are dropped).
fn admitted_found(state: &[f64]) -> Vec<f64> {
    let admitted = &state[..state.len().saturating_sub(1)];
    let total: f64 = admitted.iter().sum();
    if total <= 0.0 {
        return Vec::new();
    }
    admitted.iter().map(|p| p / total).collect()
}

/// p_0 … p_K of the M/M/c/K queue with offered load `a` = λ·s (Erlang): p_n ∝ aⁿ/n! up to c,
/// then aⁿ/(c!·c^(n−c)); in log space and normalized.
fn state_probabilities(a: f64, c: u32, k: u32) -> Vec<f64> {
    let log_a = libm::log(a);
    let mut logs = Vec::with_capacity(k as usize + 1);
    let mut log_term = 0.0;
    logs.push(log_term);
    for n in 1..=k {
        log_term += log_a - libm::log(f64::from(n.min(c)));
        logs.push(log_term);
    }
    let top = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = logs.iter().map(|l| libm::exp(l - top)).collect();
    let total: f64 = weights.iter().sum();
    weights.into_iter().map(|w| w / total).collect()
}

/// `P(N < k)` for k = 0 ..= `n`, N Poisson of mean `x`: the chance that an Erlang(k) clock of
/// that many expected events by `t` has not yet run out (`P(Erlang(k, rate) > t)` with
/// x = rate · t). The terms are summed from log space, so a long queue does not overflow.
fn poisson_prefix(x: f64, n: usize) -> Vec<f64> {
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0.0);
    if x <= 0.0 {
        prefix.resize(n + 1, 1.0);
        prefix[0] = 0.0;
        return prefix;
    }
    let log_x = libm::log(x);
    let mut log_pmf = -x;
    let mut sum = 0.0;
    for i in 0..n {
        if i > 0 {
            log_pmf += log_x - libm::log(i as f64);
        }
        sum += libm::exp(log_pmf);
        prefix.push(sum.min(1.0));
    }
    prefix
}

/// `P(N ≥ k)` for k = 0 ..= `n`, N Poisson of mean `x` (`P(Erlang(k, rate) ≤ t)`), summed
/// from the top so that a tiny probability keeps its precision: the Wait-then-serve formula
/// multiplies it by a large factor.
fn poisson_upper(x: f64, n: usize) -> Vec<f64> {
    let mut upper = vec![0.0; n + 1];
    upper[0] = 1.0;
    if x <= 0.0 || n == 0 {
        return upper;
    }
    if x >= n as f64 {
        // Past the mode every P(N ≥ k) is large: the complement loses nothing.
        return poisson_prefix(x, n).into_iter().map(|p| 1.0 - p).collect();
    }
    let log_x = libm::log(x);
    let log_pmf = |i: usize| -> f64 { -x + i as f64 * log_x - libm::lgamma(i as f64 + 1.0) };
    // Beyond n (past the mode, x < n) the terms fall at least geometrically: stop once they
    // no longer count.
    let mut beyond = 0.0;
    let mut i = n + 1;
    loop {
        let term = libm::exp(log_pmf(i));
        beyond += term;
        if term <= beyond * 1e-17 || term == 0.0 {
            break;
        }
        i += 1;
    }
    let mut sum = beyond;
    for k in (1..=n).rev() {
        sum += libm::exp(log_pmf(k));
        upper[k] = sum.min(1.0);
    }
    upper
}

impl Performance {
    /// `P(latency > t)` for a served request (`t` in seconds). An admitted arrival that finds
    /// n ≥ c requests waits for n − c + 1 completions at rate c·μ (Erlang), then is served
    /// (exponential at μ); one that finds a free server is only served.
    pub fn latency_tail(&self, t: f64) -> f64 {
        if t <= 0.0 {
            return 1.0;
        }
        let (c, mu) = (self.servers, self.rate);
        if !mu.is_finite() {
            return 0.0;
        }
        if self.found.is_empty() {
            return 0.0;
        }
        let waits = self.found.len().saturating_sub(c as usize) + 1;
        let tails = WaitTails::new(c, mu, t, waits);
        let service_only = libm::exp(-mu * t);
        let tail: f64 = self
            .found
            .iter()
            .enumerate()
            .map(|(n, p)| {
                let given = match (n as u32).checked_sub(c) {
                    None => service_only,
                    Some(ahead) => tails.get(ahead as usize + 1),
                };
                p * given
            })
            .sum();
        tail.clamp(0.0, 1.0)
    }

    /// The latency (seconds) that a share `q` (0 < q < 1) of served requests stay under.
    pub fn latency_quantile(&self, q: f64) -> f64 {
        let target = 1.0 - q.clamp(0.0, 1.0);
        if self.latency_tail(0.0) <= target {
            return 0.0;
        }
        // Double an upper bound, then halve the interval: the tail falls monotonically.
        let mut high = (1.0 / self.rate).max(1e-9);
        while self.latency_tail(high) > target && high < 1e9 {
            high *= 2.0;
        }
        let mut low = 0.0;
        for _ in 0..100 {
            let mid = (low + high) / 2.0;
            if self.latency_tail(mid) > target {
                low = mid;
            } else {
                high = mid;
            }
        }
        high
    }
}

/// `P(W + S > t)` for W ~ Erlang(k, r) and S ~ Exp(μ), r = c·μ, for every k up to a bound:
/// W alone past t, or W at x ≤ t and S past t − x. With r > μ the integral is
/// `e^(−μt) · (r/(r−μ))^k · P(Erlang(k, r − μ) ≤ t)`; with one server (r = μ) W + S is
/// Erlang(k + 1, μ).
struct WaitTails {
    /// `P(Erlang(k, r) > t)` (one server: `P(Erlang(k, μ) > t)`), by k.
    wait: Vec<f64>,
    /// `P(Erlang(k, r − μ) ≤ t)` by k; empty with one server.
    slower: Vec<f64>,
    /// ln(r / (r − μ)).
    log_ratio: f64,
    /// μ·t.
    mu_t: f64,
}

impl WaitTails {
    fn new(c: u32, mu: f64, t: f64, max_k: usize) -> Self {
        let r = f64::from(c) * mu;
        if c <= 1 {
            return WaitTails {
                wait: poisson_prefix(mu * t, max_k + 1),
                slower: Vec::new(),
                log_ratio: 0.0,
                mu_t: mu * t,
            };
        }
        WaitTails {
            wait: poisson_prefix(r * t, max_k),
            slower: poisson_upper((r - mu) * t, max_k),
            log_ratio: libm::log(r / (r - mu)),
            mu_t: mu * t,
        }
    }

    /// `P(W + S > t)` with W the wait for `k` completions (k ≥ 1).
    fn get(&self, k: usize) -> f64 {
        if self.slower.is_empty() {
            return self.wait[k + 1];
        }
        let cdf = self.slower[k];
        if cdf <= 0.0 {
            return self.wait[k];
        }
        let served_late = libm::exp(k as f64 * self.log_ratio - self.mu_t + libm::log(cdf));
        (self.wait[k] + served_late).min(1.0)
    }
}

#[cfg(test)]
#[path = "saturation_tests.rs"]
mod tests;
