//! The Piper VITS voice: seeded noise, the alignment step between the two graph halves,
//! and (with the `inference` feature) the tract runtime.

pub mod alignment;
#[cfg(feature = "inference")]
pub mod model;
pub mod noise;
