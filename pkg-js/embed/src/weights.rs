//! The weight forms: f32 (the PyPI package's `model.safetensors`), f16, and int8 (each 2-D
//! matrix stored as `u8` = round(w / scale) + 128 with a per-row f32 `<name>.scale`; 1-D
//! tensors — biases, layer norms — stay f16). [`convert`] makes the compact forms;
//! [`widen`] reads any form back as f32 tensors.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};

use crate::Error;
use crate::minilm::{Tensors, wanted};

/// A compact form of the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    F16,
    Int8,
}

const SCALE: &str = ".scale";

/// Converts the f32 safetensors to `form`, returning the new file's tensors.
pub fn convert(f32_safetensors: &[u8], form: Form) -> Result<Tensors, Error> {
    let device = Device::Cpu;
    let tensors =
        candle_core::safetensors::load_buffer(f32_safetensors, &device).map_err(Error::weights)?;
    let mut out = HashMap::new();
    for (name, t) in tensors {
        if !wanted(&name) {
            continue;
        }
        let t = t.to_dtype(DType::F32).map_err(Error::weights)?;
        if form == Form::Int8 && t.rank() == 2 {
            let (q, scale) = quantize_rows(&t).map_err(Error::weights)?;
            out.insert(format!("{name}{SCALE}"), scale);
            out.insert(name, q);
        } else {
            out.insert(name, t.to_dtype(DType::F16).map_err(Error::weights)?);
        }
    }
    Ok(out)
}

fn quantize_rows(t: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
    let rows = t.to_vec2::<f32>()?;
    let cols = t.dim(1)?;
    let mut codes = Vec::with_capacity(rows.len() * cols);
    let mut scales = Vec::with_capacity(rows.len());
    for row in &rows {
        let max = row.iter().fold(0f32, |m, x| m.max(x.abs()));
        let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        scales.push(scale);
        codes.extend(
            row.iter()
                .map(|x| ((x / scale).round().clamp(-127.0, 127.0) as i32 + 128) as u8),
        );
    }
    let device = t.device();
    Ok((
        Tensor::from_vec(codes, (rows.len(), cols), device)?,
        Tensor::from_vec(scales, rows.len(), device)?,
    ))
}

/// Reads weights of any form as f32 tensors.
pub fn widen(safetensors: &[u8], device: &Device) -> Result<Tensors, Error> {
    let mut tensors =
        candle_core::safetensors::load_buffer(safetensors, device).map_err(Error::weights)?;
    let scaled: Vec<String> = tensors
        .keys()
        .filter_map(|k| k.strip_suffix(SCALE).map(str::to_owned))
        .collect();
    let mut out = HashMap::new();
    for name in scaled {
        let scale = tensors.remove(&format!("{name}{SCALE}"));
        let codes = tensors.remove(&name);
        let (Some(scale), Some(codes)) = (scale, codes) else {
            return Err(Error::Weights {
                reason: format!("int8 tensor {name} lacks its codes"),
            });
        };
        let run = || -> candle_core::Result<Tensor> {
            let centered = (codes.to_dtype(DType::F32)? - 128.0)?;
            centered.broadcast_mul(&scale.to_dtype(DType::F32)?.unsqueeze(1)?)
        };
        out.insert(name, run().map_err(Error::weights)?);
    }
    for (name, t) in tensors {
        if wanted(&name) {
            out.insert(name, t.to_dtype(DType::F32).map_err(Error::weights)?);
        }
    }
    Ok(out)
}
