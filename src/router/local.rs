//! The router's per-core state: what one core remembers between requests to
//! choose among a provider's keys. Each core owns its own, so choosing costs
//! no shared write; gateway-wide state (limits, health) is the router's
//! shared part.

use std::cell::Cell;

/// One core's routing state. `!Sync` on purpose.
#[derive(Debug)]
pub struct CoreRouting {
    key_cursor: Cell<usize>,
}

impl CoreRouting {
    /// Cores start their rotations at different keys, so the first requests
    /// after a start do not all land on key 0.
    pub fn new(core_index: usize) -> Self {
        Self {
            key_cursor: Cell::new(core_index),
        }
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
