//! The queue against the textbook's closed forms, each derived in its comment.

use super::*;

fn server(concurrency: u32, service_ms: u64, queue_limit: u32) -> Server {
    Server {
        concurrency,
        service_time: SimDuration::from_millis(service_ms),
        queue_limit,
    }
}

fn close(got: f64, want: f64, tolerance: f64) {
    assert!(
        (got - want).abs() <= tolerance,
        "got {got}, want {want} ± {tolerance}"
    );
}

#[test]
fn one_server_with_a_long_queue_is_mm1() {
    // λ = 0.5/s, s = 1 s: ρ = 0.5. With 200 places p_K = 0.5^201 / … ≈ 0, so M/M/1: L =
    // ρ / (1 − ρ) = 1, mean latency L / λ = 2 s; latency is Exp(μ − λ) = Exp(0.5): median
    // 2 ln 2 = 1.386294 s, p99 2 ln 100 = 9.210340 s.
    let p = server(1, 1000, 200).performance(0.5);
    close(p.dropped, 0.0, 1e-12);
    close(p.served, 0.5, 1e-12);
    close(p.utilization, 0.5, 1e-12);
    close(p.mean_latency, 2.0, 1e-9);
    close(p.latency_tail(2.0), libm::exp(-1.0), 1e-9);
    close(p.latency_quantile(0.5), 2.0 * libm::log(2.0), 1e-6);
    close(p.latency_quantile(0.99), 2.0 * libm::log(100.0), 1e-6);
}

#[test]
fn one_server_without_a_queue_loses_what_finds_it_busy() {
    // Erlang's loss system M/M/1/1 at a = λ·s = 1: p_0 = p_1 = 1/2. Half the requests are
    // dropped; a served one only waits for its own service: mean 1 s, median ln 2.
    let p = server(1, 1000, 0).performance(1.0);
    close(p.dropped, 0.5, 1e-12);
    close(p.served, 0.5, 1e-12);
    close(p.utilization, 0.5, 1e-12);
    close(p.mean_latency, 1.0, 1e-12);
    close(p.latency_quantile(0.5), libm::log(2.0), 1e-6);
}

#[test]
fn two_servers_wait_as_erlang_c_says() {
    // c = 2, s = 1 s, λ = 1/s (a = 1): Erlang C = (a²/2!)(c/(c − a)) / (1 + a + (a²/2!)(c/(c − a)))
    // = 1 / 3; mean wait C / (cμ − λ) = 1/3 s, so mean latency 4/3 s. A request that waits,
    // waits Exp(cμ − λ) = Exp(1), then is served Exp(1): P(latency > t) =
    // (2/3)·e^(−t) + (1/3)·e^(−t)(1 + t) = e^(−t)(1 + t/3); at 1 s 4/(3e) = 0.490506.
    let p = server(2, 1000, 300).performance(1.0);
    close(p.mean_latency, 4.0 / 3.0, 1e-9);
    close(p.utilization, 0.5, 1e-12);
    close(p.latency_tail(1.0), 4.0 / (3.0 * std::f64::consts::E), 1e-9);
    close(p.latency_tail(3.0), libm::exp(-3.0) * 2.0, 1e-9);
}

#[test]
fn past_capacity_the_queue_fills_and_the_excess_is_dropped() {
    // c = 1, s = 100 ms (10/s), λ = 20/s, 10 places: a = 2, K = 11, p_n = 2ⁿ / (2¹² − 1).
    // Dropped 20 · 2048 / 4095 = 10.0024/s, served 20 · 2047 / 4095 = 9.99756/s (the
    // capacity, nearly); L = Σ n·2ⁿ / 4095 = (10·4096 + 2) / 4095, so the mean latency is
    // L / served = 40962 / 40940 = 1.000537 s: a full queue of 10 ahead at 100 ms each.
    let p = server(1, 100, 10).performance(20.0);
    close(p.dropped, 20.0 * 2048.0 / 4095.0, 1e-9);
    close(p.served, 20.0 * 2047.0 / 4095.0, 1e-9);
    close(p.mean_latency, 40962.0 / 40940.0, 1e-9);
    assert!(p.latency_quantile(0.5) > 0.9 && p.latency_quantile(0.5) < 1.1);
}

#[test]
fn a_heavy_overload_stays_finite() {
    // 8 × 50 ms serves 160/s; 10,000/s offered to 1,000 places: nearly all of the excess is
    // dropped, the queue is full (about 1,008 in the pod) and the latency is about
    // 1,008 / 160 = 6.3 s.
    let p = server(8, 50, 1000).performance(10_000.0);
    close(p.served, 160.0, 0.01);
    close(p.dropped, 9_840.0, 0.01);
    assert!(
        p.mean_latency > 6.2 && p.mean_latency < 6.35,
        "{}",
        p.mean_latency
    );
    let (p50, p99) = (p.latency_quantile(0.5), p.latency_quantile(0.99));
    assert!(
        p50.is_finite() && p99.is_finite() && p50 < p99,
        "{p50} {p99}"
    );
    assert!(p50 > 6.0 && p99 < 7.0, "{p50} {p99}");
}

#[test]
fn no_load_means_no_wait() {
    let p = server(4, 20, 10).performance(0.0);
    assert_eq!((p.served, p.dropped, p.utilization), (0.0, 0.0, 0.0));
    close(p.mean_latency, 0.02, 1e-12);
    // A request sent now would only be served: Exp(50/s), median 20 ms × ln 2.
    close(p.latency_quantile(0.5), 0.02 * libm::log(2.0), 1e-9);
}

#[test]
fn a_server_is_read_from_the_scenario() {
    let s: Server =
        serde_saphyr::from_str("{concurrency: 4, serviceTime: 50ms, queueLimit: 100}").expect("ok");
    assert_eq!(s, server(4, 50, 100));
    assert!(serde_saphyr::from_str::<Server>("{concurrency: 4, serviceTime: 50ms}").is_err());
}

/// `P(latency > t)` straight from its definition, term by term: each state an admitted
/// arrival may find, its wait for j completions at r = cμ (Erlang) and then its service;
/// `P(W + S > t) = P(W > t) + e^(−μt) (r/(r−μ))^j P(Pois((r−μ)t) ≥ j)`. Small queues only:
/// nothing here guards against overflow.
fn tail_by_definition(c: u32, mu: f64, lambda: f64, queue: u32, t: f64) -> f64 {
    let k = (c + queue) as usize;
    let a = lambda / mu;
    // p_n ∝ aⁿ/n! up to c, then aⁿ/(c!·c^(n−c)).
    let mut p = vec![1.0];
    for n in 1..=k {
        let last: f64 = p[n - 1];
        p.push(last * a / (n.min(c as usize)) as f64);
    }
    let admitted: f64 = p[..k].iter().sum();
    let pois =
        |x: f64, i: usize| -> f64 { (1..=i).fold(libm::exp(-x), |acc, m| acc * x / m as f64) };
    let r = f64::from(c) * mu;
    let mut tail = 0.0;
    for (n, pn) in p[..k].iter().enumerate() {
        let given = if n < c as usize {
            libm::exp(-mu * t)
        } else {
            let j = n - c as usize + 1;
            let wait_past: f64 = (0..j).map(|i| pois(r * t, i)).sum();
            let slower_done = 1.0 - (0..j).map(|i| pois((r - mu) * t, i)).sum::<f64>();
            let ratio = r / (r - mu);
            wait_past + libm::exp(-mu * t) * libm::pow(ratio, j as f64) * slower_done
        };
        tail += pn / admitted * given;
    }
    tail
}

#[test]
fn the_tail_matches_its_definition_at_every_load() {
    // c = 3, s = 100 ms (μ = 10/s), 12 places: under (ρ = 0.5), near (0.95) and past (1.5)
    // capacity, at times from a tenth of a service to long past the longest wait (there the
    // terms past the queue's longest wait are the closed form's, where q·r·t > J + 1:
    // q = 2/3, r = 30/s, J = 12, so t > 0.65 s).
    for lambda in [15.0, 28.5, 45.0] {
        let p = server(3, 100, 12).performance(lambda);
        for t in [0.01, 0.1, 0.3, 0.6, 1.0, 2.0, 4.0] {
            let want = tail_by_definition(3, 10.0, lambda, 12, t);
            close(p.latency_tail(t), want, 1e-12);
        }
    }
}

#[test]
fn a_mixture_of_pods_is_read_at_its_weighted_tail() {
    // Three pods of one server (c = 3, s = 100 ms, 12 places) under, near and past capacity,
    // serving in the ratio 1 : 2 : 1. The mixture's quantile t is where Σ w_p·tail_p(t) falls
    // to 1 − q, w = (¼, ½, ¼), each tail straight from its definition; the merged tail must
    // land there (to 1e-9 of t, the search's precision, so to ~1e-8 in the tail's value).
    let rates = [15.0, 28.5, 45.0];
    let weights = [1.0, 2.0, 1.0];
    let pods: Vec<Performance> = rates
        .iter()
        .map(|l| server(3, 100, 12).performance(*l))
        .collect();
    let parts: Vec<(f64, &Performance)> = weights.iter().copied().zip(&pods).collect();
    let shares = [0.5, 0.95, 0.99];
    let quantiles = mixture_latency_quantiles(&parts, shares);
    for (q, t) in shares.iter().zip(quantiles) {
        let mixed: f64 = rates
            .iter()
            .zip(weights)
            .map(|(l, w)| w / 4.0 * tail_by_definition(3, 10.0, *l, 12, t))
            .sum();
        close(mixed, 1.0 - q, 1e-8);
    }
    // The p99 lies past the lightest pod's and before the heaviest pod's own p99.
    assert!(quantiles[2] > pods[0].latency_quantile(0.99));
    assert!(quantiles[2] < pods[2].latency_quantile(0.99));
}

#[test]
fn pods_of_different_servers_are_mixed_one_by_one() {
    // One pod serving in 100 ms, one in 50 ms, two servers each (the definition needs
    // r − μ > 0) and equal weights: no merged tail exists, and the quantile still solves
    // ½·tail_1(t) + ½·tail_2(t) = 1 − q.
    let slow = server(2, 100, 12).performance(15.0);
    let fast = server(2, 50, 12).performance(15.0);
    let [median] = mixture_latency_quantiles(&[(1.0, &slow), (1.0, &fast)], [0.5]);
    let mixed = 0.5 * tail_by_definition(2, 10.0, 15.0, 12, median)
        + 0.5 * tail_by_definition(2, 20.0, 15.0, 12, median);
    close(mixed, 0.5, 1e-8);
    assert!(median > fast.latency_quantile(0.5) && median < slow.latency_quantile(0.5));
}

#[test]
fn the_merged_tail_carries_short_queues_past_their_end() {
    // c = 4, s = 100 ms, 200 places: a light pod (ρ = 0.1) keeps only the waits above 10⁻¹²
    // (about a dozen), a busy one (ρ = 0.95) and an overloaded one (ρ = 1.5) keep nearly all
    // 200. The merged tail continues the light pod's coefficients as carry·qⁱ (q = ¾) to the
    // longest queue; it must equal the weighted sum of the pods' own tails at every t.
    let pods: Vec<Performance> = [4.0, 38.0, 60.0]
        .iter()
        .map(|l| server(4, 100, 200).performance(*l))
        .collect();
    assert!(pods[0].latency.waits.len() < 20 && pods[1].latency.waits.len() > 150);
    let weights = [0.5, 0.3, 0.2];
    let parts: Vec<(f64, &LatencyTail)> = weights
        .iter()
        .copied()
        .zip(pods.iter().map(|p| &p.latency))
        .collect();
    let merged = LatencyTail::mixture(&parts).expect("one server");
    for t in [0.05, 0.2, 0.5, 1.0, 3.0, 6.0] {
        let want: f64 = parts.iter().map(|(w, l)| w * l.at(t)).sum();
        close(merged.at(t), want, 1e-12);
    }
}
