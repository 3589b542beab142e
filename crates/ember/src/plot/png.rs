//! PNG output through the `png` crate: 8-bit gray, RGB or RGBA, compressed (a 640x400 chart is a
//! few kilobytes instead of the 768 KB of stored blocks).

use ember_tensor::{Error, Result};

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
    let color = match channels {
        1 => png::ColorType::Grayscale,
        3 => png::ColorType::Rgb,
        4 => png::ColorType::Rgba,
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
    let failed = |e: png::EncodingError| Error::Io(format!("encode_png: {e}"));
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, width as u32, height as u32);
    enc.set_color(color);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Balanced);
    let mut writer = enc.write_header().map_err(failed)?;
    writer.write_image_data(pixels).map_err(failed)?;
    writer.finish().map_err(failed)?;
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Decodes a PNG with the `png` crate: width, height, colour type (0 gray, 2 RGB, 6 RGBA), pixels.
    pub(crate) fn decode(bytes: &[u8]) -> (usize, usize, u8, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
        let mut px = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut px).unwrap();
        px.truncate(info.buffer_size());
        (info.width as usize, info.height as usize, info.color_type as u8, px)
    }

    #[test]
    fn roundtrip() {
        let px: Vec<u8> = (0..300 * 200 * 3).map(|i| (i % 253) as u8).collect();
        let png = encode_png(300, 200, 3, &px).unwrap();
        assert_eq!(decode(&png), (300, 200, 2, px));
        let gray = encode_png(1, 1, 1, &[7]).unwrap();
        assert_eq!(decode(&gray), (1, 1, 0, vec![7]));
        let rgba = encode_png(2, 1, 4, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        assert_eq!(decode(&rgba), (2, 1, 6, vec![1, 2, 3, 4, 5, 6, 7, 8]));
    }

    #[test]
    fn compresses() {
        // A flat 640x400 white canvas: stored blocks would take 768 KB.
        let png = encode_png(640, 400, 3, &vec![255; 640 * 400 * 3]).unwrap();
        assert!(png.len() < 8 * 1024, "{} bytes", png.len());
    }

    #[test]
    fn bad_arguments() {
        let e = encode_png(2, 2, 2, &[0; 8]).unwrap_err().to_string();
        assert!(e.contains("channels") && e.contains("got 2"), "{e}");
        let e = encode_png(0, 2, 3, &[]).unwrap_err().to_string();
        assert!(e.contains("0x2"), "{e}");
    }
}
