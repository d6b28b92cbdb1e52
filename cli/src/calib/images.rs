//! Calibration samples from a folder of PNG/JPEG images: `--preprocess` parses the spec
//! (`size=224[xW],mean=R,G,B,std=R,G,B,scale=255,layout=nchw|nhwc,order=rgb|bgr`; a value list
//! continues over commas until the next `key=`), each image is decoded (the `image` crate,
//! PNG and JPEG only), resized to the model's spatial size (bilinear), converted to
//! `(pixel / scale − mean) / std` per channel and laid out as the model's single float input
//! `[1, C, H, W]` or `[1, H, W, C]`. Every unreadable image is an error naming the file.

use super::{CalibError, err};
use edgeport_eval::Tensor;
use edgeport_ir::{DType, Dim, ValueType};
use std::path::{Path, PathBuf};

/// Largest side accepted for a decoded image or a target size (a guard against bombs).
const MAX_SIDE: u32 = 16_384;

/// Image preprocessing.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocess {
    /// Target (height, width); from the model input when `None`.
    pub size: Option<(u32, u32)>,
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    /// Pixels are divided by this first (255 maps 8-bit pixels into [0, 1]).
    pub scale: f32,
    /// Channels-first (`nchw`) or channels-last (`nhwc`); from the model input when `None`.
    pub nchw: Option<bool>,
    pub bgr: bool,
}

impl Default for Preprocess {
    fn default() -> Self {
        Preprocess {
            size: None,
            mean: vec![0.0],
            std: vec![1.0],
            scale: 255.0,
            nchw: None,
            bgr: false,
        }
    }
}

fn num(key: &str, s: &str) -> Result<f32, CalibError> {
    let v: f32 = s
        .trim()
        .parse()
        .map_err(|_| err(format!("--preprocess: '{s}' is not a number (in {key}=)")))?;
    if !v.is_finite() {
        return Err(err(format!("--preprocess: {key}= must be finite")));
    }
    Ok(v)
}

fn side(s: &str) -> Result<u32, CalibError> {
    let v: u32 = s
        .trim()
        .parse()
        .map_err(|_| err(format!("--preprocess: size '{s}' is not a positive integer")))?;
    if v == 0 || v > MAX_SIDE {
        return Err(err(format!("--preprocess: size {v} is outside 1..={MAX_SIDE}")));
    }
    Ok(v)
}

impl Preprocess {
    /// Parses `key=value[,value…],key=value…`.
    pub fn parse(spec: &str) -> Result<Preprocess, CalibError> {
        let mut p = Preprocess::default();
        let mut items: Vec<(String, Vec<String>)> = Vec::new();
        for tok in spec.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            match tok.split_once('=') {
                Some((k, v)) => items.push((k.trim().to_ascii_lowercase(), vec![v.trim().to_string()])),
                None => match items.last_mut() {
                    Some((_, vs)) => vs.push(tok.to_string()),
                    None => return Err(err(format!("--preprocess: '{tok}' has no key (expected key=value)"))),
                },
            }
        }
        for (k, vs) in items {
            let one = || -> Result<&str, CalibError> {
                match vs.as_slice() {
                    [v] => Ok(v.as_str()),
                    _ => Err(err(format!("--preprocess: {k}= takes one value"))),
                }
            };
            match k.as_str() {
                "size" => {
                    let v = one()?;
                    p.size = Some(match v.split_once(['x', 'X']) {
                        Some((h, w)) => (side(h)?, side(w)?),
                        None => (side(v)?, side(v)?),
                    });
                }
                "mean" => p.mean = vs.iter().map(|v| num("mean", v)).collect::<Result<_, _>>()?,
                "std" => {
                    p.std = vs.iter().map(|v| num("std", v)).collect::<Result<_, _>>()?;
                    if p.std.contains(&0.0) {
                        return Err(err("--preprocess: std= values must not be 0"));
                    }
                }
                "scale" => {
                    p.scale = num("scale", one()?)?;
                    if p.scale == 0.0 {
                        return Err(err("--preprocess: scale= must not be 0"));
                    }
                }
                "layout" => {
                    p.nchw = Some(match one()?.to_ascii_lowercase().as_str() {
                        "nchw" => true,
                        "nhwc" => false,
                        o => return Err(err(format!("--preprocess: layout '{o}' (nchw or nhwc)"))),
                    })
                }
                "order" => {
                    p.bgr = match one()?.to_ascii_lowercase().as_str() {
                        "rgb" => false,
                        "bgr" => true,
                        o => return Err(err(format!("--preprocess: order '{o}' (rgb or bgr)"))),
                    }
                }
                o => {
                    return Err(err(format!(
                        "--preprocess: unknown key '{o}' (size, mean, std, scale, layout, order)"
                    )));
                }
            }
        }
        Ok(p)
    }
}

/// Whether `p` names an image file this loader reads.
pub fn is_image(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref(),
        Some("png" | "jpg" | "jpeg")
    )
}

/// The model input's layout and size as (nchw, channels, height, width).
fn target(name: &str, ty: Option<&ValueType>, p: &Preprocess) -> Result<(bool, usize, u32, u32), CalibError> {
    let tt = ty
        .and_then(|t| t.as_tensor())
        .ok_or_else(|| err(format!("model input '{name}' has no declared type")))?;
    if tt.dtype != DType::F32 {
        return Err(err(format!(
            "model input '{name}' is {}; image calibration feeds float32 inputs",
            tt.dtype
        )));
    }
    let dims: Vec<Option<u64>> = match &tt.shape {
        Some(s) if s.0.len() == 4 => s.0.iter().map(Dim::known).collect(),
        Some(s) => {
            return Err(err(format!(
                "model input '{name}' has rank {}; images feed rank-4 inputs",
                s.0.len()
            )));
        }
        None => vec![None; 4],
    };
    // Layout: as asked, else channels-first when axis 1 holds 1 or 3 channels.
    let nchw = p.nchw.unwrap_or(matches!(dims[1], Some(1 | 3)) || !matches!(dims[3], Some(1 | 3)));
    let (c, h, w) = if nchw {
        (dims[1], dims[2], dims[3])
    } else {
        (dims[3], dims[1], dims[2])
    };
    let c = match c {
        Some(c @ (1 | 3)) => c as usize,
        None => 3,
        Some(o) => {
            return Err(err(format!(
                "model input '{name}' has {o} channels in its {} layout; images give 1 or 3",
                if nchw { "nchw" } else { "nhwc" }
            )));
        }
    };
    let fixed = |d: Option<u64>| d.and_then(|v| u32::try_from(v).ok()).filter(|&v| v > 0 && v <= MAX_SIDE);
    let (h, w) = match (p.size, fixed(h), fixed(w)) {
        (Some((ph, pw)), mh, mw) => {
            if mh.is_some_and(|m| m != ph) || mw.is_some_and(|m| m != pw) {
                return Err(err(format!(
                    "--preprocess size {ph}x{pw} does not match model input '{name}' ({}x{})",
                    mh.map_or("?".into(), |v| v.to_string()),
                    mw.map_or("?".into(), |v| v.to_string())
                )));
            }
            (ph, pw)
        }
        (None, Some(h), Some(w)) => (h, w),
        (None, _, _) => {
            return Err(err(format!(
                "model input '{name}' has no fixed height and width; give --preprocess size=H[xW]"
            )));
        }
    };
    Ok((nchw, c, h, w))
}

/// Per-channel value of a mean/std list (one value for all channels, or one per channel).
fn per_channel(v: &[f32], c: usize, what: &str) -> Result<Vec<f32>, CalibError> {
    match v.len() {
        1 => Ok(vec![v[0]; c]),
        n if n == c => Ok(v.to_vec()),
        n => Err(err(format!("--preprocess: {what}= has {n} values for {c} channels"))),
    }
}

/// Decodes and preprocesses one image into the model input's tensor.
fn one(path: &Path, p: &Preprocess, (nchw, c, h, w): (bool, usize, u32, u32), mean: &[f32], std: &[f32]) -> Result<Tensor, CalibError> {
    let file = path.display();
    let reader = image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| err(format!("{file}: {e}")))?;
    let mut reader = reader;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(1 << 30);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| err(format!("{file}: cannot decode: {e}")))?;
    let img = img.resize_exact(w, h, image::imageops::FilterType::Triangle);
    let (hu, wu) = (h as usize, w as usize);
    let plane = hu * wu;
    let mut out = vec![0f32; plane * c];
    let px: Vec<[f32; 3]> = if c == 1 {
        img.to_luma8().pixels().map(|q| [q.0[0] as f32; 3]).collect()
    } else {
        img.to_rgb8()
            .pixels()
            .map(|q| {
                let [r, g, b] = q.0;
                if p.bgr {
                    [b as f32, g as f32, r as f32]
                } else {
                    [r as f32, g as f32, b as f32]
                }
            })
            .collect()
    };
    if px.len() != plane {
        return Err(err(format!("{file}: resized image has {} pixels, expected {plane}", px.len())));
    }
    for (i, rgb) in px.iter().enumerate() {
        for ch in 0..c {
            let v = (rgb[ch] / p.scale - mean[ch]) / std[ch];
            let at = if nchw { ch * plane + i } else { i * c + ch };
            if let Some(o) = out.get_mut(at) {
                *o = v;
            }
        }
    }
    let shape = if nchw { vec![1, c, hu, wu] } else { vec![1, hu, wu, c] };
    let t = edgeport_ir::Tensor::from_f32(shape, &out).map_err(|e| err(format!("{file}: {e}")))?;
    Tensor::from_ir(&t).map_err(|e| err(format!("{file}: {e}")))
}

/// Loads every image of `files` as one sample each of the single model input `(name, ty)`.
pub fn load(files: &[PathBuf], name: &str, ty: Option<&ValueType>, p: &Preprocess) -> Result<Vec<Tensor>, CalibError> {
    let t = target(name, ty, p)?;
    let mean = per_channel(&p.mean, t.1, "mean")?;
    let std = per_channel(&p.std, t.1, "std")?;
    files.iter().map(|f| one(f, p, t, &mean, &std)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_keys() {
        let p = Preprocess::parse("size=224,mean=0.485,0.456,0.406,std=0.229,0.224,0.225,layout=nhwc,order=bgr").unwrap();
        assert_eq!(p.size, Some((224, 224)));
        assert_eq!(p.mean, vec![0.485, 0.456, 0.406]);
        assert_eq!(p.std, vec![0.229, 0.224, 0.225]);
        assert_eq!(p.nchw, Some(false));
        assert!(p.bgr);
        assert_eq!(Preprocess::parse("size=32x48").unwrap().size, Some((32, 48)));
    }

    #[test]
    fn rejects_bad_specs() {
        for (s, want) in [
            ("0.5", "has no key"),
            ("size=0", "outside"),
            ("std=1,0", "must not be 0"),
            ("layout=chw", "nchw or nhwc"),
            ("colour=rgb", "unknown key"),
            ("mean=a", "not a number"),
        ] {
            let e = Preprocess::parse(s).unwrap_err().to_string();
            assert!(e.contains(want), "{s}: {e}");
        }
    }
}
