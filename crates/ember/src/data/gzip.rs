//! Reading gzip files (RFC 1952) through the `flate2` crate (pure-Rust `miniz_oxide` backend).
//!
//! Every member of a multi-member file is inflated and checked (CRC-32 and size, by `flate2`);
//! zero padding after the last member is accepted, as gzip does. Every malformed input (truncated
//! stream, bad code, distance too far back, checksum mismatch) is an error, never a panic.

use std::io::Read;
use std::path::Path;

use ember_tensor::{Error, Result};

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
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut member = 0usize;
    loop {
        // Done at the end of the input, or at zero padding after the last member (some writers pad).
        let padding = member > 0 && rest.iter().all(|&b| b == 0);
        if rest.is_empty() || padding {
            break;
        }
        let offset = bytes.len() - rest.len();
        let mut dec = flate2::bufread::GzDecoder::new(rest);
        dec.read_to_end(&mut out)
            .map_err(|e| corrupt(format!("member {member} at byte offset {offset}: {}", why(&e))))?;
        if dec.header().is_none() {
            return Err(corrupt(format!("member {member} at byte offset {offset}: truncated header")));
        }
        rest = dec.into_inner();
        member += 1;
    }
    Ok(out)
}

/// `flate2`'s error in words a user can act on: a truncated file, a checksum mismatch, or bad data.
fn why(e: &std::io::Error) -> String {
    let msg = e.to_string();
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        format!("truncated stream ({msg})")
    } else if msg.contains("checksum") {
        format!("CRC-32 or size mismatch in the trailer ({msg})")
    } else {
        msg
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
        let e = gunzip(&bad).unwrap_err().to_string();
        assert!(e.contains("gzip: member 0 at byte offset 0") && e.contains("CRC-32"), "{e}");
        let e = gunzip(&HELLO_GZ[..20]).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        let mut bad = good;
        bad[2] = 7;
        assert!(gunzip(&bad).is_err());
    }

    #[test]
    fn small_member() {
        let gz = HELLO_GZ.to_vec();
        let text = b"hello hello hello hello\n";
        assert_eq!(gunzip(&gz).unwrap(), text);
        // Two members concatenated decode to the concatenation; zero padding after them is skipped.
        let two = [gz.clone(), gz.clone(), vec![0; 7]].concat();
        assert_eq!(gunzip(&two).unwrap(), [&text[..], &text[..]].concat());
        // Garbage after a member is an error naming the member's offset.
        let e = gunzip(&[gz, vec![1, 2, 3]].concat()).unwrap_err().to_string();
        assert!(e.contains("member 1 at byte offset 29"), "{e}");
    }
}
