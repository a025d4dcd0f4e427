//! `larch-embed-convert MODEL_F32.safetensors OUT_DIR`: writes `model.f16.safetensors` and
//! `model.int8.safetensors` (see `larch_embed::weights`). Run by `scripts/fetch-model.sh`.

use std::path::PathBuf;

use larch_embed::weights::{Form, convert};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let (Some(input), Some(out)) = (args.next(), args.next()) else {
        return Err("usage: larch-embed-convert MODEL_F32.safetensors OUT_DIR".into());
    };
    let bytes = std::fs::read(&input)?;
    let out = PathBuf::from(out);
    for (form, file) in [
        (Form::F16, "model.f16.safetensors"),
        (Form::Int8, "model.int8.safetensors"),
    ] {
        let tensors = convert(&bytes, form)?;
        let tmp = out.join(format!("{file}.tmp"));
        candle_core::safetensors::save(&tensors, &tmp)?;
        std::fs::rename(&tmp, out.join(file))?;
        println!("{file}: {} bytes", std::fs::metadata(out.join(file))?.len());
    }
    Ok(())
}
