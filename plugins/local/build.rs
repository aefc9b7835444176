//! Embeds what `prepare/prepare_voice.py` wrote: each voice's config and ONNX halves, and
//! the pronouncing dictionary.
//!
//! The folder is `VOXGATE_LOCAL_VOICE_DIR`, by default `target/local-voice` at the
//! repository root (`make build-plugins` prepares it). A wasm build without it fails with
//! the command to run. A native test build without it embeds nothing, so the text front
//! end's tests still run and the voice tests print that they were skipped and why.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=VOXGATE_LOCAL_VOICE_DIR");
    println!("cargo:rerun-if-changed=build.rs");

    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let voice_dir = env::var_os("VOXGATE_LOCAL_VOICE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir.join("../../target/local-voice"));
    let voice_dir = fs::canonicalize(&voice_dir).unwrap_or(voice_dir);
    let manifest = voice_dir.join("voices.txt");
    println!("cargo:rerun-if-changed={}", manifest.display());
    println!(
        "cargo:rerun-if-changed={}",
        voice_dir.join("fingerprint.txt").display()
    );

    let is_wasm = env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|arch| arch == "wasm32");
    let with_models = env::var_os("CARGO_FEATURE_INFERENCE").is_some();
    let code = match fs::read_to_string(&manifest) {
        Ok(list) => embedded(&voice_dir, &list, with_models),
        Err(_) if is_wasm => {
            eprintln!(
                "error: no prepared voice at {}.\n\
                 Run `make build-plugins` at the repository root, or\n  \
                 .venv/bin/python plugins/local/prepare/prepare_voice.py --out {}\n\
                 and build again (set VOXGATE_LOCAL_VOICE_DIR for another folder).",
                voice_dir.display(),
                voice_dir.display()
            );
            std::process::exit(1);
        }
        Err(_) => nothing_embedded(&voice_dir),
    };

    let out = PathBuf::from(env::var("OUT_DIR").unwrap_or_default()).join("embedded.rs");
    if let Err(error) = fs::write(&out, code) {
        eprintln!("error: cannot write {}: {error}", out.display());
        std::process::exit(1);
    }
}

fn embedded(voice_dir: &Path, list: &str, with_models: bool) -> String {
    let dictionary = voice_dir.join("cmudict.dict");
    let mut code = String::new();
    let _ = writeln!(code, "/// Where the voices were prepared.");
    let _ = writeln!(
        code,
        "pub const VOICE_DIR: &str = {:?};",
        voice_dir.display().to_string()
    );
    let _ = writeln!(code, "/// The prepared CMU Pronouncing Dictionary.");
    let _ = writeln!(
        code,
        "pub static DICTIONARY: &[u8] = include_bytes!({:?});",
        path_text(&dictionary)
    );
    let _ = writeln!(code, "/// The prepared voices.");
    let _ = writeln!(code, "pub static VOICES: &[EmbeddedVoice] = &[");
    for id in list.lines().map(str::trim).filter(|id| !id.is_empty()) {
        let folder = voice_dir.join(id);
        let config = folder.join("voice.json");
        let (encoder, decoder) = if with_models {
            (
                format!(
                    "include_bytes!({:?})",
                    path_text(&folder.join("encoder.onnx"))
                ),
                format!(
                    "include_bytes!({:?})",
                    path_text(&folder.join("decoder.onnx"))
                ),
            )
        } else {
            ("&[]".to_string(), "&[]".to_string())
        };
        for file in [
            &config,
            &folder.join("encoder.onnx"),
            &folder.join("decoder.onnx"),
        ] {
            println!("cargo:rerun-if-changed={}", file.display());
        }
        let _ = writeln!(
            code,
            "    EmbeddedVoice {{ config: include_str!({:?}), encoder: {encoder}, decoder: {decoder} }},",
            path_text(&config)
        );
    }
    let _ = writeln!(code, "];");
    code
}

fn nothing_embedded(voice_dir: &Path) -> String {
    format!(
        "/// Where the voices would have been prepared.\n\
         pub const VOICE_DIR: &str = {:?};\n\
         /// No dictionary was prepared.\n\
         pub static DICTIONARY: &[u8] = &[];\n\
         /// No voice was prepared.\n\
         pub static VOICES: &[EmbeddedVoice] = &[];\n",
        voice_dir.display().to_string()
    )
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}
