//! The router's per-core state: the random source for weighted draws, the
//! power-of-two choices and retry jitter. Each core owns its own, so drawing
//! costs no shared write; gateway-wide state (limits, health) is the
//! router's shared part (`health`, `limit`).

use std::cell::Cell;

/// One core's routing state. `!Sync` on purpose.
#[derive(Debug)]
pub struct CoreRouting {
    rng: Cell<u64>,
}

impl CoreRouting {
    /// Cores are seeded apart, so they do not draw in step.
    pub fn new(core_index: usize) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ (core_index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        Self {
            rng: Cell::new(seed | 1),
        }
    }

    /// 64 random bits (xorshift64*), for weighted draws and jitter.
    pub fn random(&self) -> u64 {
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cores_draw_apart_and_never_stick() {
        let (a, b) = (CoreRouting::new(0), CoreRouting::new(1));
        let draws: Vec<u64> = (0..4).map(|_| a.random()).collect();
        assert!(draws.windows(2).all(|w| w[0] != w[1]));
        assert_ne!(a.random(), b.random());
    }
}
