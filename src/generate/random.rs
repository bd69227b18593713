//! The seeded random source and the weighted sampler that picks who speaks next.

/// SplitMix64's finaliser: a bijection on u64, so `mix(i ^ salt)` also turns indices into unique ids.
pub(super) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256** seeded through SplitMix64: tiny, fast and plenty for synthetic data (not for secrets).
pub(super) struct Rng([u64; 4]);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        let mut s = [0; 4];
        for (i, w) in s.iter_mut().enumerate() {
            *w = mix(seed.wrapping_add((i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        }
        Rng(s)
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let out = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }

    /// Uniform in [0, 1).
    pub(super) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n) by multiply-shift; the bias (< n / 2^64) is irrelevant here.
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Exponential with the given mean: waiting times.
    pub(super) fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }

    /// Log-uniform in [lo, hi): as many values per decade, like prices and delays.
    pub(super) fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo * (hi / lo).powf(self.unit())
    }

    /// Zipf-like pick: index 0 is the most popular and popularity falls off with the index.
    pub(super) fn skewed<T: Copy>(&mut self, xs: &[T]) -> T {
        let i = (self.unit() * self.unit() * xs.len() as f64) as usize;
        xs[i.min(xs.len() - 1)]
    }

    pub(super) fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }

    /// Most sources stamp whole seconds, some milliseconds. RFC 3339 output shows the fraction exactly
    /// when there is one, so the written `ts` is the `ts` the generator ordered by.
    pub(super) fn stamp(&mut self, ts: i64) -> i64 {
        if self.chance(0.7) {
            ts - ts.rem_euclid(1000)
        } else {
            ts
        }
    }
}

/// Weighted sampling over users whose weights change as they join and leave: O(log n) each way.
pub(super) struct Fenwick {
    tree: Vec<u64>,
    pub(super) total: u64,
}

impl Fenwick {
    pub(super) fn new(n: usize) -> Self {
        Fenwick {
            tree: vec![0; n + 1],
            total: 0,
        }
    }

    /// Adds `delta` (two's complement for a removal) to the weight of index `i`.
    pub(super) fn add(&mut self, i: usize, delta: u64) {
        self.total = self.total.wrapping_add(delta);
        let mut k = i + 1;
        while k < self.tree.len() {
            self.tree[k] = self.tree[k].wrapping_add(delta);
            k += k & k.wrapping_neg();
        }
    }

    /// The index whose slice of the cumulative weight holds `target` (< `total`).
    pub(super) fn find(&self, mut target: u64) -> usize {
        let n = self.tree.len() - 1;
        let (mut pos, mut bit) = (0, n.checked_next_power_of_two().unwrap_or(0));
        while bit > 0 {
            if pos + bit <= n && self.tree[pos + bit] <= target {
                pos += bit;
                target -= self.tree[pos];
            }
            bit >>= 1;
        }
        pos
    }
}
