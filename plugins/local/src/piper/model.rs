//! Runs a prepared Piper voice with tract: the encoder half unplanned, the decoder half
//! optimised for each utterance's frame count.
//!
//! Measured for this project (tract 0.23.9, wasm32-wasip2 with SIMD, 2-core x86_64):
//! the encoder cannot be typed with a symbolic phoneme count, and optimising it per
//! request costs more than it saves, so it runs as an un-typed plan. The decoder (flow
//! and HiFi-GAN, 361 nodes of convolutions) runs 2.3 times faster optimised than
//! un-typed, and optimises in about 0.25 s for a concrete frame count, so it is planned
//! for each utterance.
//!
//! NOTE: a single plan with a symbolic frame count would save that planning and runs as
//! fast, but measured in the gateway it needed more than 384 MiB of linear memory for a
//! 6 s utterance that the concrete plan speaks within 320 MiB.

use tract_onnx::Onnx;
use tract_onnx::data_resolver::ModelDataResolver;
use tract_onnx::model::OnnxOpRegister;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::SimplePlan;

use super::alignment::{frame_counts, prior_sample};
use super::noise::Noise;
use crate::voice::{EmbeddedVoice, Voice};

/// The most audio frames one utterance may have. Each frame is 256 samples (Piper's hop
/// length), so 1000 frames are 11.6 s at 22,050 Hz, about twice what the utterance limit
/// lets through at normal speed (a 6 s utterance already needs about 300 MiB). It turns a
/// runaway duration prediction into a clear error instead of an out-of-memory trap.
pub const MAX_FRAMES: usize = 1000;

/// An inference failure. These are faults of the plugin or its voice, never of the
/// caller's text.
#[derive(Debug)]
pub enum InferenceError {
    /// An embedded ONNX half could not be parsed.
    Load { part: &'static str, message: String },
    /// tract failed while running or planning a half.
    Run { part: &'static str, message: String },
    /// The encoder predicted more frames than [`MAX_FRAMES`].
    TooLong { frames: usize },
}

impl std::fmt::Display for InferenceError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InferenceError::Load { part, message } => {
                write!(formatter, "cannot load the voice's {part}: {message}")
            }
            InferenceError::Run { part, message } => {
                write!(formatter, "the voice's {part} failed: {message}")
            }
            InferenceError::TooLong { frames } => {
                write!(
                    formatter,
                    "an utterance came to {frames} frames, more than the {MAX_FRAMES} allowed"
                )
            }
        }
    }
}

impl std::error::Error for InferenceError {}

/// The speaking parameters of one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scales {
    /// Prior noise (Piper's `noise_scale`).
    pub noise: f32,
    /// Duration multiplier; 1 is the voice's normal pace, 2 half as fast.
    pub length: f32,
    /// Duration noise (Piper's `noise_w`).
    pub noise_w: f32,
}

/// A loaded voice, ready to speak utterances.
pub struct Synthesizer {
    encoder: Arc<InferenceSimplePlan>,
    decoder: InferenceModel,
}

impl Synthesizer {
    /// Parses both halves of an embedded voice.
    ///
    /// # Errors
    ///
    /// Returns [`InferenceError::Load`] when a half is not a graph tract can read.
    pub fn load(embedded: &EmbeddedVoice) -> Result<Self, InferenceError> {
        let mut encoder = parse(embedded.encoder, "encoder")?;
        // The graph names its input dimensions (`batch_size`, `phonemes`), and a plan
        // checks every input against them, so any concrete length would be refused.
        // Element types alone let the plan accept each utterance's length.
        for (index, datum_type) in [
            i64::datum_type(),
            i64::datum_type(),
            f32::datum_type(),
            f32::datum_type(),
        ]
        .into_iter()
        .enumerate()
        {
            encoder
                .set_input_fact(index, InferenceFact::dt(datum_type))
                .map_err(|error| load_error("encoder", error))?;
        }
        let encoder = SimplePlan::new(encoder).map_err(|error| load_error("encoder", error))?;
        let decoder = parse(embedded.decoder, "decoder")?;
        Ok(Self { encoder, decoder })
    }

    /// Speaks one utterance given as phoneme ids; returns samples in [-1, 1] (roughly:
    /// the vocoder's output is not clipped here).
    ///
    /// # Errors
    ///
    /// Returns an [`InferenceError`] when tract fails or the utterance is too long.
    pub fn speak(&self, ids: &[i64], scales: Scales) -> Result<Vec<f32>, InferenceError> {
        let phonemes = ids.len();
        let mut noise = Noise::for_ids(ids);

        let inputs = tvec![
            tensor(&[1, phonemes], ids, "encoder")?,
            tensor(&[1], &[phonemes as i64], "encoder")?,
            tensor(
                &[3],
                &[scales.noise, scales.length, scales.noise_w],
                "encoder"
            )?,
            tensor(&[1, 2, phonemes], &noise.normals(2 * phonemes), "encoder")?,
        ];
        let outputs = self
            .encoder
            .run(inputs)
            .map_err(|error| run_error("encoder", error))?;
        let [m_p, logs_p, w_ceil] = [0, 1, 2].map(|index| outputs.get(index));
        let (Some(m_p), Some(logs_p), Some(w_ceil)) = (m_p, logs_p, w_ceil) else {
            return Err(InferenceError::Run {
                part: "encoder",
                message: format!("returned {} outputs, not 3", outputs.len()),
            });
        };
        let channels = m_p.shape().get(1).copied().unwrap_or(0);
        let frames_per_phoneme = frame_counts(&floats(w_ceil, "encoder")?);
        // Piper clamps the frame count to at least 1.
        let frames = frames_per_phoneme.iter().sum::<usize>().max(1);
        if frames > MAX_FRAMES {
            return Err(InferenceError::TooLong { frames });
        }

        let mut frames_per_phoneme = frames_per_phoneme;
        if frames_per_phoneme.iter().all(|&count| count == 0)
            && let Some(first) = frames_per_phoneme.first_mut()
        {
            *first = 1;
        }
        let z_p = prior_sample(
            &floats(m_p, "encoder")?,
            &floats(logs_p, "encoder")?,
            channels,
            &frames_per_phoneme,
            scales.noise,
            &mut noise,
        );
        if z_p.is_empty() {
            return Err(InferenceError::Run {
                part: "encoder",
                message: format!("unexpected output shape {:?}", m_p.shape()),
            });
        }

        self.decode(z_p, channels, frames)
    }

    fn decode(
        &self,
        z_p: Vec<f32>,
        channels: usize,
        frames: usize,
    ) -> Result<Vec<f32>, InferenceError> {
        let plan = self
            .decoder
            .clone()
            .with_input_fact(
                0,
                InferenceFact::dt_shape(f32::datum_type(), [1, channels, frames]),
            )
            .and_then(|model| {
                model.with_input_fact(
                    1,
                    InferenceFact::dt_shape(f32::datum_type(), [1, 1, frames]),
                )
            })
            .and_then(|model| model.into_optimized())
            .and_then(|model| model.into_runnable())
            .map_err(|error| run_error("decoder", error))?;

        let z_p = Tensor::from_shape(&[1, channels, frames], &z_p)
            .map_err(|error| run_error("decoder", error))?;
        let mask = tensor(&[1, 1, frames], &vec![1.0f32; frames], "decoder")?;
        let outputs = plan
            .run(tvec![z_p.into_tvalue(), mask])
            .map_err(|error| run_error("decoder", error))?;
        let audio = outputs.first().ok_or_else(|| InferenceError::Run {
            part: "decoder",
            message: "returned no output".to_string(),
        })?;
        floats(audio, "decoder")
    }
}

/// Returns the scales a request speaks with: the voice's defaults, with the length divided by the
/// requested speed.
pub fn scales(voice: &Voice, speed: f32) -> Scales {
    Scales {
        noise: voice.noise_scale,
        length: voice.length_scale / speed,
        noise_w: voice.noise_w,
    }
}

fn parse(bytes: &[u8], part: &'static str) -> Result<InferenceModel, InferenceError> {
    onnx()
        .model_for_read(&mut &bytes[..])
        .map_err(|error| load_error(part, error))
}

/// The ONNX front end, built field by field instead of with `tract_onnx::onnx()`.
///
/// `onnx()` installs a data resolver that opens files for tensors stored outside the
/// model. Its code alone makes the component import `wasi:filesystem`, which the host
/// refuses for provider plugins. The prepared halves keep every tensor inside the
/// model, so a resolver that never touches a file loses nothing.
fn onnx() -> Onnx {
    let mut ops = OnnxOpRegister::default();
    tract_onnx::ops::register_all_ops(&mut ops);
    Onnx {
        op_register: ops,
        // The halves' value_info and output shapes name symbolic dimensions that clash
        // with concrete input facts (tract then fails to set the input facts), and tract
        // does not need them.
        use_output_shapes: false,
        ignore_output_types: false,
        ignore_value_info: true,
        provider: Arc::new(NoExternalData),
    }
}

/// Refuses ONNX tensors stored in external files.
struct NoExternalData;

impl ModelDataResolver for NoExternalData {
    fn read_bytes_from_path(
        &self,
        _buffer: &mut Vec<u8>,
        path: &std::path::Path,
        _offset: usize,
        _length: Option<usize>,
    ) -> TractResult<()> {
        Err(TractError::msg(format!(
            "tensor data in an external file ({}) is not supported; prepare the voice again",
            path.display()
        )))
    }
}

fn tensor<T: Datum + Copy>(
    shape: &[usize],
    data: &[T],
    part: &'static str,
) -> Result<TValue, InferenceError> {
    Tensor::from_shape(shape, data)
        .map(IntoTValue::into_tvalue)
        .map_err(|error| run_error(part, error))
}

fn floats(value: &TValue, part: &'static str) -> Result<Vec<f32>, InferenceError> {
    value
        .to_plain_array_view::<f32>()
        .map(|view| view.iter().copied().collect())
        .map_err(|error| run_error(part, error))
}

fn load_error(part: &'static str, error: TractError) -> InferenceError {
    InferenceError::Load {
        part,
        message: format!("{error:#}"),
    }
}

fn run_error(part: &'static str, error: TractError) -> InferenceError {
    InferenceError::Run {
        part,
        message: format!("{error:#}"),
    }
}
