//! The client-facing APIs. Each module parses its API's requests into the gateway's
//! API-neutral [`SpeechRequest`](crate::gateway::SpeechRequest) and writes errors in that
//! API's own shape, so its official SDKs work unchanged.

pub mod elevenlabs;
pub mod errors;
pub mod openai;
