//! The mutator: a small seeded generator and the byte-level mutations AFL and libFuzzer use
//! (bit flips, random bytes, inserts, deletes, duplicated chunks, splices with another input,
//! interesting integers written over header fields, and numbers in text replaced by extreme ones).

/// xorshift64*: fast, seeded, enough for choosing mutations.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value; 0 is remapped).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A uniform value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Integers that break size and offset arithmetic: zero, one, the edges of each width, powers of two.
const INTERESTING: [u64; 16] = [
    0,
    1,
    2,
    0x7F,
    0x80,
    0xFF,
    0x7FFF,
    0xFFFF,
    0x1_0000,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFF,
    0x1_0000_0000,
    0x7FFF_FFFF_FFFF_FFFF,
    0x8000_0000_0000_0000,
    u64::MAX,
];

/// Numbers in text formats (CSV fields, the JSON header of safetensors) that break parsers.
const INTERESTING_TEXT: [&str; 14] = [
    "0",
    "-1",
    "1e20",
    "-1e20",
    "1.5",
    "nan",
    "inf",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551616",
    "-9223372036854775809",
    "1e400",
    "99999999999999999999999999999999",
];

/// Inputs never grow past this (a gzip stream of 64 KiB inflates to at most about 64 MiB).
pub const MAX_LEN: usize = 64 * 1024;

/// One random mutation of `data` in place; `other` is another input for splicing.
pub fn mutate_once(data: &mut Vec<u8>, other: &[u8], rng: &mut Rng) {
    let len = data.len();
    match rng.below(10) {
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = rng.next_u64() as u8;
        }
        2 => {
            let i = rng.below(len + 1);
            let n = 1 + rng.below(16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            data.splice(i..i, bytes);
        }
        3 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(64));
            data.drain(i..i + n);
        }
        4 if len > 0 => {
            // Duplicate a chunk somewhere else.
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(256));
            let chunk = data[i..i + n].to_vec();
            let at = rng.below(len + 1);
            data.splice(at..at, chunk);
        }
        5 if !other.is_empty() => {
            // Splice: a prefix of this input, a suffix of the other.
            let cut = rng.below(len + 1);
            let from = rng.below(other.len());
            data.truncate(cut);
            data.extend_from_slice(&other[from..]);
        }
        6 | 7 if len > 0 => {
            // An interesting integer over a field, big- or little-endian, most often in the header.
            let width = [1usize, 2, 4, 8][rng.below(4)];
            let span = if rng.below(4) == 0 { len } else { len.min(64) };
            let i = rng.below(span);
            let v = INTERESTING[rng.below(INTERESTING.len())].wrapping_add(rng.below(3) as u64).wrapping_sub(1);
            let bytes = if rng.below(2) == 0 { v.to_le_bytes() } else { v.to_be_bytes() };
            let src = if rng.below(2) == 0 { &bytes[..width] } else { &bytes[8 - width..] };
            for (k, b) in src.iter().enumerate() {
                if let Some(d) = data.get_mut(i + k) {
                    *d = *b;
                }
            }
        }
        8 if len > 0 => {
            // A run of digits (a number in text) replaced by an extreme one.
            let i = rng.below(len);
            if let Some(start) = (i..len).find(|&k| data[k].is_ascii_digit()) {
                let end = (start..len).find(|&k| !data[k].is_ascii_digit()).unwrap_or(len);
                let s = INTERESTING_TEXT[rng.below(INTERESTING_TEXT.len())].as_bytes().to_vec();
                data.splice(start..end, s);
            }
        }
        _ if len > 0 => data.truncate(rng.below(len)),
        _ => data.push(rng.next_u64() as u8),
    }
    data.truncate(MAX_LEN);
}

/// A mutant of `seed`: one to eight stacked mutations.
pub fn mutant(seed: &[u8], other: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(8) {
        mutate_once(&mut data, other, rng);
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutants_differ_and_stay_bounded() {
        let mut rng = Rng::new(7);
        let seed = b"1,2,3\n4,5,6\n".to_vec();
        let mut changed = 0;
        for _ in 0..1000 {
            let m = mutant(&seed, b"abc", &mut rng);
            assert!(m.len() <= MAX_LEN);
            changed += usize::from(m != seed);
        }
        assert!(changed > 900, "only {changed} of 1000 mutants differ from the seed");
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }
}
