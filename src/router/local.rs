//! The router's per-core state: what one core remembers between requests to
//! choose among a provider's keys. Each core owns its own, so choosing costs
//! no shared write; gateway-wide state (limits, health) is the router's
//! shared part.

use std::cell::Cell;

/// One core's routing state. `!Sync` on purpose.
#[derive(Debug)]
pub struct CoreRouting {
    key_cursor: Cell<usize>,
    rng: Cell<u64>,
}

impl CoreRouting {
    /// Cores start their rotations at different keys, so the first requests
    /// after a start do not all land on key 0.
    pub fn new(core_index: usize) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ (core_index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        Self {
            key_cursor: Cell::new(core_index),
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

    /// Round-robin index over `n` keys.
    pub fn next_key(&self, n: usize) -> usize {
        let i = self.key_cursor.get();
        self.key_cursor.set(i.wrapping_add(1));
        if n == 0 {
            0
        } else {
            i % n
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_rotate_from_the_core_index() {
        let core = CoreRouting::new(1);
        let picks: Vec<usize> = (0..5).map(|_| core.next_key(3)).collect();
        assert_eq!(picks, [1, 2, 0, 1, 2]);
        assert_eq!(core.next_key(0), 0, "no keys: index 0, never a panic");
        let wrapped = CoreRouting::new(usize::MAX);
        assert_eq!(wrapped.next_key(2), 1);
        assert_eq!(wrapped.next_key(2), 0);
    }
}
