//! A hasher for the backward walk's integer keys (node ids and Variable addresses).
//!
//! The standard `HashMap` hashes with SipHash-1-3 and seeds itself from a thread-local on every
//! construction: in the small-autograd benchmark (`(w * x).sum().backward()` on 16 elements) the
//! walk's maps were a tenth of the time. The keys here are unique integers chosen by the process
//! (sequential ids, heap addresses), never by an adversary, so a multiplicative hash is enough.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Fibonacci hashing with the high half folded into the low one (hashbrown picks buckets with
/// the low bits and tags with the high ones, so both halves must depend on every key bit; heap
/// addresses have their low four bits zero).
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // only integer keys are hashed with this; other writes still hash correctly, slowly
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, x: u64) {
        let h = (self.0.rotate_left(5) ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 32);
    }

    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }
}

/// A map keyed by ids or addresses.
pub(crate) type IdMap<V> = HashMap<usize, V, BuildHasherDefault<IdHasher>>;

/// A set of ids or addresses.
pub(crate) type IdSet = HashSet<usize, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_spread_over_low_and_high_bits() {
        // 4096 aligned addresses: every low byte and every high byte of the hash shows up
        let hashes: Vec<u64> = (0..4096u64)
            .map(|i| {
                let mut h = IdHasher::default();
                h.write_usize((0x7f00_0000_0000 + i * 16) as usize);
                h.finish()
            })
            .collect();
        let low: std::collections::BTreeSet<u64> = hashes.iter().map(|h| h & 0xff).collect();
        let high: std::collections::BTreeSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert_eq!(low.len(), 256);
        assert_eq!(high.len(), 128);
    }

    #[test]
    fn maps_keep_every_key() {
        let mut m: IdMap<usize> = IdMap::default();
        for i in 0..10_000 {
            m.insert(i * 8, i);
        }
        assert!((0..10_000).all(|i| m.get(&(i * 8)) == Some(&i)));
        assert_eq!(m.len(), 10_000);
    }
}
