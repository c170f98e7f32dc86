//! A Kubernetes operator for Amazon Chime SDK media stream pipelines.
//!
//! - [`crd`]: the MediaStreamPipeline resource and its generated CRD.
//! - [`decide`]: the pure reconcile decision.
//! - [`aws`]: the Chime SDK Media Pipelines calls, errors classified.
//! - [`controller`]: observe, decide, act; the controller loop.
//! - [`pool`]: the Kinesis Video Stream pool kind: its decision and reconcile.
//! - [`error`]: errors, their condition reasons and retry classes.
//! - [`metrics`]: Prometheus metrics and the health endpoints.

pub mod aws;
pub mod controller;
pub mod crd;
pub mod decide;
pub mod error;
pub mod metrics;
pub mod pool;
