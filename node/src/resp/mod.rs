//! The RESP wire protocol: request framing (`request`) and reply encoding (`reply`).
//! This layer knows bytes and frames only; it never looks at what a command means.

pub mod client;
pub mod reply;
pub mod request;

pub use reply::Reply;
pub use request::{FrameLimits, ProtocolError, RequestParser};
