//! Image verification and resize variants at commit: the bytes must decode (JPEG, PNG, TIFF or
//! BMP); a thumbnail and a preview (longest side from the config, never upscaled, EXIF
//! orientation applied) are encoded as JPEG.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader};

/// Why an image yielded no variants.
#[derive(Debug, thiserror::Error)]
pub enum VariantError {
    /// Not an image this server can read (unknown format or corrupt data).
    #[error("{0}")]
    Undecodable(String),
    /// A valid-looking image beyond the decoder's memory limits.
    #[error("{0}")]
    TooLarge(String),
    #[error("cannot encode a variant: {0}")]
    Encode(String),
}

/// The encoded variants of one image.
#[derive(Debug)]
pub struct Variants {
    pub width: u32,
    pub height: u32,
    pub thumbnail: Vec<u8>,
    pub preview: Vec<u8>,
}

fn classify(e: image::ImageError) -> VariantError {
    match e {
        image::ImageError::Limits(l) => VariantError::TooLarge(l.to_string()),
        other => VariantError::Undecodable(other.to_string()),
    }
}

fn decode(bytes: &[u8]) -> Result<DynamicImage, VariantError> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| VariantError::Undecodable(e.to_string()))?;
    if reader.format().is_none() {
        return Err(VariantError::Undecodable(
            "not a JPEG, PNG, TIFF or BMP image".into(),
        ));
    }
    let mut decoder = reader.into_decoder().map_err(classify)?;
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder).map_err(classify)?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    Ok(img)
}

/// `img` scaled to fit `longest` (never upscaled), as RGB.
fn fit(img: &DynamicImage, longest: u32) -> DynamicImage {
    let scaled = if img.width().max(img.height()) > longest {
        img.thumbnail(longest, longest)
    } else {
        img.clone()
    };
    DynamicImage::ImageRgb8(scaled.to_rgb8())
}

fn jpeg(img: &DynamicImage) -> Result<Vec<u8>, VariantError> {
    let mut out = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 82);
    img.write_with_encoder(encoder)
        .map_err(|e| VariantError::Encode(e.to_string()))?;
    Ok(out)
}

/// Decodes `bytes` and encodes the two variants. CPU-bound: call from a blocking thread.
pub fn make(bytes: &[u8], thumbnail_px: u32, preview_px: u32) -> Result<Variants, VariantError> {
    let img = decode(bytes)?;
    let (thumbnail_px, preview_px) = (thumbnail_px.max(16), preview_px.max(16));
    let preview = fit(&img, preview_px);
    // The thumbnail comes from the preview when that is larger: far fewer pixels to average.
    let thumbnail = if preview_px >= thumbnail_px {
        fit(&preview, thumbnail_px)
    } else {
        fit(&img, thumbnail_px)
    };
    Ok(Variants {
        width: img.width(),
        height: img.height(),
        thumbnail: jpeg(&thumbnail)?,
        preview: jpeg(&preview)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = DynamicImage::ImageRgba8(image::RgbaImage::from_fn(w, h, |x, y| {
            image::Rgba([(x % 256) as u8, (y % 256) as u8, 90, 200])
        }));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn variants_fit_and_never_upscale() {
        let v = make(&png(600, 300), 256, 1024).unwrap();
        assert_eq!((v.width, v.height), (600, 300));
        let t = image::load_from_memory(&v.thumbnail).unwrap();
        assert_eq!((t.width(), t.height()), (256, 128));
        let p = image::load_from_memory(&v.preview).unwrap();
        assert_eq!((p.width(), p.height()), (600, 300));
    }

    #[test]
    fn garbage_and_truncated_images_are_undecodable() {
        assert!(matches!(
            make(b"definitely not an image", 256, 1024),
            Err(VariantError::Undecodable(_))
        ));
        let mut cut = png(64, 64);
        cut.truncate(cut.len() / 2);
        assert!(matches!(
            make(&cut, 256, 1024),
            Err(VariantError::Undecodable(_))
        ));
    }
}
