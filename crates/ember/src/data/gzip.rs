//! Reading gzip files: a small DEFLATE decoder (RFC 1951) inside the gzip framing (RFC 1952).
//!
//! The decoder follows zlib's reference `puff.c`: canonical Huffman codes decoded bit by bit from
//! counts per length. It is not the fastest inflate, but it is short, has no dependency, and every
//! malformed input (truncated stream, bad code, distance too far back, checksum mismatch) is an
//! error rather than a panic. It decodes tens of megabytes per second, enough for data sets such as
//! MNIST (`train-images-idx3-ubyte.gz`, 47 MB inflated).

use std::path::Path;

use ember_tensor::{Error, Result};

use crate::checksum::crc32;

/// Reads a file, inflating it if it starts with the gzip magic bytes. Errors name the path.
pub(crate) fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
    if is_gzip(&bytes) {
        gunzip(&bytes).map_err(|e| match e {
            Error::Parse(m) => Error::Parse(format!("{}: {m}", path.display())),
            other => other,
        })
    } else {
        Ok(bytes)
    }
}

/// True when `bytes` starts with the gzip magic `1f 8b`.
pub(crate) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
}

fn corrupt(msg: impl std::fmt::Display) -> Error {
    Error::Parse(format!("gzip: {msg}"))
}

/// Inflates a gzip file (all its members, concatenated), checking each member's CRC-32 and size.
pub(crate) fn gunzip(bytes: &[u8]) -> Result<Vec<u8>> {
    if bytes.is_empty() {
        return Err(corrupt("empty input"));
    }
    let mut out = Vec::with_capacity(bytes.len() * 4);
    let mut pos = 0;
    while pos < bytes.len() {
        pos = member(bytes, pos, &mut out)?;
        // Some writers pad the file with zeros after the last member.
        if bytes[pos..].iter().all(|&b| b == 0) {
            break;
        }
    }
    Ok(out)
}

/// Decodes the gzip member starting at `start`, appending to `out`; returns the offset after it.
fn member(bytes: &[u8], start: usize, out: &mut Vec<u8>) -> Result<usize> {
    let header = bytes.get(start..start + 10).ok_or_else(|| corrupt("truncated header"))?;
    if header[0] != 0x1F || header[1] != 0x8B {
        return Err(corrupt(format!("bad magic bytes {:02x} {:02x} at offset {start}", header[0], header[1])));
    }
    if header[2] != 8 {
        return Err(corrupt(format!("unknown compression method {} (only 8, deflate, exists)", header[2])));
    }
    let flags = header[3];
    if flags & 0xE0 != 0 {
        return Err(corrupt(format!("reserved header flags set ({flags:#04x})")));
    }
    let mut pos = start + 10;
    let need = |pos: usize, n: usize| -> Result<usize> {
        pos.checked_add(n).filter(|&e| e <= bytes.len()).ok_or_else(|| corrupt("truncated header"))
    };
    if flags & 0x04 != 0 {
        // FEXTRA: a little-endian length, then that many bytes.
        let e = need(pos, 2)?;
        let len = u16::from_le_bytes([bytes[pos], bytes[pos + 1]]) as usize;
        pos = need(e, len)?;
    }
    for flag in [0x08, 0x10] {
        // FNAME and FCOMMENT: zero-terminated strings.
        if flags & flag != 0 {
            let nul = bytes[pos..].iter().position(|&b| b == 0).ok_or_else(|| corrupt("truncated header"))?;
            pos += nul + 1;
        }
    }
    if flags & 0x02 != 0 {
        pos = need(pos, 2)?; // FHCRC: a CRC-16 of the header, not checked
    }
    let before = out.len();
    let mut bits = Bits::new(bytes, pos);
    inflate(&mut bits, out)?;
    let pos = bits.byte_pos();
    let trailer = bytes.get(pos..pos + 8).ok_or_else(|| corrupt("truncated trailer (CRC-32 and size missing)"))?;
    let want_crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let want_len = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
    let got = &out[before..];
    let got_crc = crc32(got);
    if got_crc != want_crc {
        return Err(corrupt(format!("CRC-32 mismatch: data {got_crc:#010x}, trailer {want_crc:#010x}")));
    }
    if got.len() as u32 != want_len {
        return Err(corrupt(format!("size mismatch: inflated {} bytes, trailer says {want_len}", got.len())));
    }
    Ok(pos + 8)
}

/// Inflates a zlib stream (2-byte header, DEFLATE data, Adler-32 trailer).
#[cfg(test)]
pub(crate) fn zlib_decompress(bytes: &[u8]) -> Result<Vec<u8>> {
    if bytes.len() < 6 || bytes[0] & 0x0F != 8 || !u16::from_be_bytes([bytes[0], bytes[1]]).is_multiple_of(31) {
        return Err(corrupt("bad zlib header"));
    }
    let mut out = Vec::new();
    let mut bits = Bits::new(bytes, 2);
    inflate(&mut bits, &mut out)?;
    let p = bits.byte_pos();
    let t = bytes.get(p..p + 4).ok_or_else(|| corrupt("truncated zlib trailer"))?;
    if u32::from_be_bytes([t[0], t[1], t[2], t[3]]) != crate::checksum::adler32(&out) {
        return Err(corrupt("Adler-32 mismatch"));
    }
    Ok(out)
}

/// An LSB-first bit reader over a byte slice.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    buf: u64,
    count: u32,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], pos: usize) -> Bits<'a> {
        Bits { data, pos, buf: 0, count: 0 }
    }

    /// The next `n` (at most 32) bits, least significant first.
    #[inline]
    fn bits(&mut self, n: u32) -> Result<u32> {
        while self.count < n {
            let b = *self.data.get(self.pos).ok_or_else(|| corrupt("truncated deflate stream"))?;
            self.pos += 1;
            self.buf |= (b as u64) << self.count;
            self.count += 8;
        }
        let v = (self.buf & ((1u64 << n) - 1)) as u32;
        self.buf >>= n;
        self.count -= n;
        Ok(v)
    }

    /// Drops the bits left in the current byte (stored blocks start on a byte boundary).
    fn align(&mut self) {
        self.buf = 0;
        self.count = 0;
    }

    /// Offset of the first byte not consumed (after the final block, the trailer starts here).
    fn byte_pos(&self) -> usize {
        self.pos - (self.count / 8) as usize
    }
}

/// A canonical Huffman code: how many codes of each length, and the symbols in code order.
struct Huffman {
    count: [u16; 16],
    symbol: Vec<u16>,
}

impl Huffman {
    /// Builds the code from per-symbol lengths; an over-subscribed set of lengths is an error.
    /// Incomplete codes are accepted (a code that is never assigned fails when decoded).
    fn new(lengths: &[u8]) -> Result<Huffman> {
        let mut count = [0u16; 16];
        for &l in lengths {
            count[l as usize] += 1;
        }
        let mut left: i32 = 1;
        for &c in &count[1..] {
            left = left * 2 - c as i32;
            if left < 0 {
                return Err(corrupt("over-subscribed Huffman code lengths"));
            }
        }
        let mut offs = [0u16; 16];
        for len in 1..15 {
            offs[len + 1] = offs[len] + count[len];
        }
        let mut symbol = vec![0u16; lengths.len()];
        for (sym, &l) in lengths.iter().enumerate() {
            if l != 0 {
                symbol[offs[l as usize] as usize] = sym as u16;
                offs[l as usize] += 1;
            }
        }
        Ok(Huffman { count, symbol })
    }

    /// Decodes one symbol, reading one bit at a time (codes are stored bit-reversed).
    fn decode(&self, bits: &mut Bits) -> Result<u16> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= bits.bits(1)? as i32;
            let count = self.count[len] as i32;
            if code - count < first {
                return Ok(self.symbol[(index + (code - first)) as usize]);
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err(corrupt("invalid Huffman code"))
    }
}

const LEN_BASE: [u16; 29] =
    [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEN_EXTRA: [u8; 29] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
    8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] =
    [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];

/// Decodes DEFLATE blocks until the final one, appending to `out`.
fn inflate(bits: &mut Bits, out: &mut Vec<u8>) -> Result<()> {
    let start = out.len();
    loop {
        let last = bits.bits(1)? == 1;
        match bits.bits(2)? {
            0 => stored(bits, out)?,
            1 => {
                let (lit, dist) = fixed_codes()?;
                codes(bits, out, start, &lit, &dist)?;
            }
            2 => {
                let (lit, dist) = dynamic_codes(bits)?;
                codes(bits, out, start, &lit, &dist)?;
            }
            _ => return Err(corrupt("invalid block type 3")),
        }
        if last {
            return Ok(());
        }
    }
}

fn stored(bits: &mut Bits, out: &mut Vec<u8>) -> Result<()> {
    bits.align();
    let p = bits.pos;
    let h = bits.data.get(p..p + 4).ok_or_else(|| corrupt("truncated stored block"))?;
    let len = u16::from_le_bytes([h[0], h[1]]);
    let nlen = u16::from_le_bytes([h[2], h[3]]);
    if len != !nlen {
        return Err(corrupt(format!("stored block length {len} does not match its complement {nlen}")));
    }
    let data = bits.data.get(p + 4..p + 4 + len as usize).ok_or_else(|| corrupt("truncated stored block"))?;
    out.extend_from_slice(data);
    bits.pos = p + 4 + len as usize;
    Ok(())
}

fn fixed_codes() -> Result<(Huffman, Huffman)> {
    let mut l = [0u8; 288];
    l[..144].fill(8);
    l[144..256].fill(9);
    l[256..280].fill(7);
    l[280..].fill(8);
    Ok((Huffman::new(&l)?, Huffman::new(&[5u8; 30])?))
}

fn dynamic_codes(bits: &mut Bits) -> Result<(Huffman, Huffman)> {
    const ORDER: [usize; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
    let nlen = bits.bits(5)? as usize + 257;
    let ndist = bits.bits(5)? as usize + 1;
    let ncode = bits.bits(4)? as usize + 4;
    if nlen > 286 || ndist > 30 {
        return Err(corrupt(format!("bad code counts (literal/length {nlen}, distance {ndist})")));
    }
    let mut cl = [0u8; 19];
    for &i in &ORDER[..ncode] {
        cl[i] = bits.bits(3)? as u8;
    }
    let clcode = Huffman::new(&cl)?;
    let mut lengths = vec![0u8; nlen + ndist];
    let mut i = 0;
    while i < nlen + ndist {
        let sym = clcode.decode(bits)?;
        let (value, repeat) = match sym {
            0..=15 => (sym as u8, 1),
            16 => {
                let prev = *lengths[..i].last().ok_or_else(|| corrupt("repeat of a length with no previous length"))?;
                (prev, 3 + bits.bits(2)? as usize)
            }
            17 => (0, 3 + bits.bits(3)? as usize),
            _ => (0, 11 + bits.bits(7)? as usize),
        };
        if i + repeat > nlen + ndist {
            return Err(corrupt("code lengths repeat past the end of the table"));
        }
        lengths[i..i + repeat].fill(value);
        i += repeat;
    }
    if lengths[256] == 0 {
        return Err(corrupt("no code for the end-of-block symbol"));
    }
    Ok((Huffman::new(&lengths[..nlen])?, Huffman::new(&lengths[nlen..])?))
}

/// Decodes literals and (length, distance) copies until the end-of-block symbol.
fn codes(bits: &mut Bits, out: &mut Vec<u8>, start: usize, lit: &Huffman, dist: &Huffman) -> Result<()> {
    loop {
        let sym = lit.decode(bits)? as usize;
        if sym < 256 {
            out.push(sym as u8);
            continue;
        }
        if sym == 256 {
            return Ok(());
        }
        let s = sym - 257;
        if s >= 29 {
            return Err(corrupt(format!("invalid length symbol {sym}")));
        }
        let len = LEN_BASE[s] as usize + bits.bits(LEN_EXTRA[s] as u32)? as usize;
        let ds = dist.decode(bits)? as usize;
        if ds >= 30 {
            return Err(corrupt(format!("invalid distance symbol {ds}")));
        }
        let d = DIST_BASE[ds] as usize + bits.bits(DIST_EXTRA[ds] as u32)? as usize;
        if d > out.len() - start {
            return Err(corrupt(format!("distance {d} too far back (only {} bytes written)", out.len() - start)));
        }
        let from = out.len() - d;
        if d >= len {
            out.extend_from_within(from..from + len);
        } else {
            // Overlapping copy: repeats the last `d` bytes.
            for k in 0..len {
                let b = out[from + k];
                out.push(b);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `printf 'hello hello hello hello\n' | gzip -9n` (fixed Huffman codes with a back-reference).
    const HELLO_GZ: [u8; 29] = [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0xc8, 0x40,
        0x27, 0xb9, 0x00, 0x00, 0x88, 0x59, 0x0b, 0x18, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn digits_file_inflates() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digits.csv.gz");
        let text = read_maybe_gz(&p).unwrap();
        let s = std::str::from_utf8(&text).unwrap();
        assert_eq!(s.lines().count(), 1797);
        assert!(s.starts_with("0,0,5,13,9,1,0,0,"));
    }

    #[test]
    fn corrupt_inputs_are_errors() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digits.csv.gz");
        let good = std::fs::read(p).unwrap();
        // Every truncation is an error, never a panic.
        for cut in [0, 1, 5, 10, 11, 100, good.len() / 2, good.len() - 9, good.len() - 1] {
            assert!(gunzip(&good[..cut]).is_err(), "cut at {cut}");
        }
        // Flipped bytes in the body: an error (bad code, bad distance, or checksum), never a panic.
        for i in (20..good.len() - 8).step_by(997) {
            let mut bad = good.clone();
            bad[i] ^= 0x55;
            assert!(gunzip(&bad).is_err(), "flip at {i}");
        }
        let mut bad = good.clone();
        let n = bad.len();
        bad[n - 8] ^= 1;
        assert!(gunzip(&bad).unwrap_err().to_string().contains("CRC-32 mismatch"));
        let mut bad = good;
        bad[2] = 7;
        assert!(gunzip(&bad).unwrap_err().to_string().contains("compression method 7"));
    }

    #[test]
    fn small_member() {
        let gz = HELLO_GZ.to_vec();
        let text = b"hello hello hello hello\n";
        assert_eq!(gunzip(&gz).unwrap(), text);
        // Two members concatenated decode to the concatenation.
        let two = [gz.clone(), gz].concat();
        assert_eq!(gunzip(&two).unwrap(), [&text[..], &text[..]].concat());
    }

    #[test]
    fn stored_zlib_roundtrip() {
        let data: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let z = crate::plot::png::zlib_stored(&data);
        assert_eq!(zlib_decompress(&z).unwrap(), data);
        let mut bad = z.clone();
        let n = bad.len();
        bad[n - 1] ^= 1;
        assert!(zlib_decompress(&bad).unwrap_err().to_string().contains("Adler-32"));
    }
}
