//! QR codes for the phone-app recovery path: the payload as an RGBA image big enough to scan from a
//! monitor (with the quiet zone scanners need), and as Unicode half blocks for a terminal.

use qrcode::{Color, EcLevel, QrCode};

/// An RGBA image, row by row, 4 bytes a pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// RGBA bytes.
    pub rgba: Vec<u8>,
}

/// Modules of white border around the code, as the QR standard asks.
pub const QUIET_ZONE: usize = 4;

/// Why a QR code could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the text is too long for a QR code")]
pub struct QrError;

fn modules(payload: &str) -> Result<(usize, Vec<Color>), QrError> {
    let code =
        QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M).map_err(|_| QrError)?;
    Ok((code.width(), code.to_colors()))
}

/// Renders `payload` with each module `module_px` pixels square, black on white, quiet zone included.
pub fn render(payload: &str, module_px: u32) -> Result<QrImage, QrError> {
    let (width, colors) = modules(payload)?;
    let module_px = module_px.max(1) as usize;
    let side = (width + 2 * QUIET_ZONE) * module_px;
    let mut rgba = vec![255u8; side * side * 4];
    for (index, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (index % width + QUIET_ZONE, index / width + QUIET_ZONE);
        for y in my * module_px..(my + 1) * module_px {
            for x in mx * module_px..(mx + 1) * module_px {
                let at = (y * side + x) * 4;
                rgba[at..at + 3].fill(0);
            }
        }
    }
    let side = u32::try_from(side).map_err(|_| QrError)?;
    Ok(QrImage {
        width: side,
        height: side,
        rgba,
    })
}

/// Renders `payload` for a terminal: two modules per character cell with Unicode half blocks, dark
/// modules as spaces on a light background so it scans on dark and light terminal themes alike.
pub fn render_terminal(payload: &str) -> Result<String, QrError> {
    let (width, colors) = modules(payload)?;
    let side = width + 2 * QUIET_ZONE;
    let dark = |x: usize, y: usize| {
        x >= QUIET_ZONE
            && y >= QUIET_ZONE
            && x < QUIET_ZONE + width
            && y < QUIET_ZONE + width
            && colors[(y - QUIET_ZONE) * width + (x - QUIET_ZONE)] == Color::Dark
    };
    let mut out = String::new();
    for row in (0..side).step_by(2) {
        for x in 0..side {
            let top = dark(x, row);
            let bottom = row + 1 < side && dark(x, row + 1);
            out.push(match (top, bottom) {
                (true, true) => ' ',
                (true, false) => '▄',
                (false, true) => '▀',
                (false, false) => '█',
            });
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_decodes_back_to_its_payload() {
        let payload = "vigil-recovery:v1?d=VS0001000001&c=AAECAwQFBgcICQoLDA0ODw&e=1800000000";
        let image = render(payload, 6).unwrap();
        assert_eq!(image.rgba.len(), (image.width * image.height * 4) as usize);
        let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
            image.width as usize,
            image.height as usize,
            |x, y| image.rgba[(y * image.width as usize + x) * 4],
        );
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, decoded) = grids[0].decode().unwrap();
        assert_eq!(decoded, payload);
    }

    #[test]
    fn the_terminal_form_has_a_quiet_zone_and_half_the_rows() {
        let text = render_terminal("hello").unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let side = lines[0].chars().count();
        assert_eq!(lines.len(), side.div_ceil(2));
        assert!(lines[0].chars().all(|c| c == '█'), "quiet zone on top");
    }
}
