//! A minimal PNG encoder: 8-bit gray, RGB or RGBA, no filtering, zlib stored (uncompressed)
//! blocks. Files are larger than a compressing encoder's, but every viewer reads them and the
//! encoder is a page of code with no dependency.

use ember_tensor::{Error, Result};

use crate::checksum::{adler32, crc32_update};

/// Encodes `pixels` (row-major, `channels` bytes per pixel: 1 gray, 3 RGB, 4 RGBA) as a PNG file.
///
/// ```
/// // A 2x1 image: one red pixel, one blue one.
/// let png = ember::plot::encode_png(2, 1, 3, &[255, 0, 0, 0, 0, 255])?;
/// assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
/// assert!(ember::plot::encode_png(2, 1, 3, &[0; 5]).is_err()); // 5 bytes for 6 values
/// # Ok::<(), ember::Error>(())
/// ```
pub fn encode_png(width: usize, height: usize, channels: usize, pixels: &[u8]) -> Result<Vec<u8>> {
    let color_type = match channels {
        1 => 0u8,
        3 => 2,
        4 => 6,
        _ => {
            return Err(Error::InvalidArgument {
                op: "encode_png",
                msg: format!("channels must be 1 (gray), 3 (RGB) or 4 (RGBA), got {channels}"),
            })
        }
    };
    let too_big = width == 0 || height == 0 || width > u32::MAX as usize / 4 || height > u32::MAX as usize;
    if too_big || width.checked_mul(height).and_then(|n| n.checked_mul(channels)) != Some(pixels.len()) {
        return Err(Error::InvalidArgument {
            op: "encode_png",
            msg: format!(
                "a {width}x{height} image with {channels} channels needs {} bytes, got {}",
                width.saturating_mul(height).saturating_mul(channels),
                pixels.len()
            ),
        });
    }
    // Scanlines, each prefixed by filter type 0 (none).
    let row = width * channels;
    let mut raw = Vec::with_capacity((row + 1) * height);
    for line in pixels.chunks_exact(row) {
        raw.push(0);
        raw.extend_from_slice(line);
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(width as u32).to_be_bytes());
    ihdr.extend_from_slice(&(height as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, color_type, 0, 0, 0]); // depth 8, deflate, adaptive filters, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

/// Appends a chunk: length, type, data, CRC-32 of type and data.
fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32_update(crc32_update(0, kind), data).to_be_bytes());
}

/// A zlib stream holding `data` in stored DEFLATE blocks (at most 65535 bytes each).
pub(crate) fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut z = Vec::with_capacity(data.len() + data.len() / 65535 * 5 + 11);
    z.extend_from_slice(&[0x78, 0x01]); // deflate, 32K window, no dictionary; 0x7801 % 31 == 0
    let mut blocks = data.chunks(65535).peekable();
    if blocks.peek().is_none() {
        z.extend_from_slice(&[1, 0, 0, 0xFF, 0xFF]); // one empty final block
    }
    while let Some(b) = blocks.next() {
        z.push(u8::from(blocks.peek().is_none())); // BFINAL on the last block, BTYPE 00 (stored)
        let len = b.len() as u16;
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend_from_slice(b);
    }
    z.extend_from_slice(&adler32(data).to_be_bytes());
    z
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::checksum::crc32;

    /// Parses our PNG back: chunk CRCs, header, inflated scanlines.
    pub(crate) fn decode(png: &[u8]) -> (usize, usize, u8, Vec<u8>) {
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let (mut pos, mut ihdr, mut idat) = (8, Vec::new(), Vec::new());
        while pos < png.len() {
            let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
            let kind = &png[pos + 4..pos + 8];
            let data = &png[pos + 8..pos + 8 + len];
            let crc = u32::from_be_bytes(png[pos + 8 + len..pos + 12 + len].try_into().unwrap());
            assert_eq!(crc, crc32(&png[pos + 4..pos + 8 + len]), "chunk {kind:?}");
            match kind {
                b"IHDR" => ihdr = data.to_vec(),
                b"IDAT" => idat.extend_from_slice(data),
                _ => {}
            }
            pos += 12 + len;
        }
        let w = u32::from_be_bytes(ihdr[0..4].try_into().unwrap()) as usize;
        let h = u32::from_be_bytes(ihdr[4..8].try_into().unwrap()) as usize;
        let raw = crate::data::gzip::zlib_decompress(&idat).unwrap();
        let ch = match ihdr[9] {
            0 => 1,
            2 => 3,
            _ => 4,
        };
        assert_eq!(raw.len(), h * (w * ch + 1));
        let px = raw.chunks_exact(w * ch + 1).flat_map(|r| r[1..].to_vec()).collect();
        (w, h, ihdr[9], px)
    }

    #[test]
    fn roundtrip() {
        let px: Vec<u8> = (0..300 * 200 * 3).map(|i| (i % 253) as u8).collect();
        let png = encode_png(300, 200, 3, &px).unwrap();
        assert_eq!(decode(&png), (300, 200, 2, px));
        let gray = encode_png(1, 1, 1, &[7]).unwrap();
        assert_eq!(decode(&gray), (1, 1, 0, vec![7]));
        assert_eq!(crate::data::gzip::zlib_decompress(&zlib_stored(&[])).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn bad_arguments() {
        let e = encode_png(2, 2, 2, &[0; 8]).unwrap_err().to_string();
        assert!(e.contains("channels") && e.contains("got 2"), "{e}");
        let e = encode_png(0, 2, 3, &[]).unwrap_err().to_string();
        assert!(e.contains("0x2"), "{e}");
    }
}
