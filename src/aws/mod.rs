//! The Chime SDK Media Pipelines calls the operator makes (and one Chime
//! SDK Meetings call, GetMeeting, in `meeting.rs`), with the SDK's types
//! turned into ours and every failure classified into [`Error`].
//! [`client`] holds the clients and the one `call` every request goes
//! through (rate limit, request, metrics); one file per kind holds its calls
//! and the remote type they return.

mod capture;
mod client;
mod concat;
mod meeting;
mod pipeline;
mod pool;
mod queue;

pub use capture::{CaptureDetail, RemoteCapture, capture_pipeline};
pub use client::{
    Aws, AwsOptions, KNOWN_TAGS_MAX, Listed, RateLimit, Regional, SUPPORTED_REGIONS, loader,
    unsupported_region,
};
pub use concat::{ConcatDetail, RemoteConcat, concat_pipeline};
pub use pipeline::{Described, Header, RemotePipeline, StreamDetail, of_type, stream_pipeline};
pub use pool::RemotePool;
pub use queue::{LONGEST_WAIT, Message, Queue};
