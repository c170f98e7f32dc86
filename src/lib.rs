//! A Kubernetes operator for Amazon Chime SDK media stream pipelines.
//!
//! Modules by layer, each using only those listed below it:
//! - [`controller`]: the wiring: watches, mappings between kinds, readiness;
//!   [`sweep`]: the orphan sweep beside it.
//! - [`reconcile`]: the one reconcile skeleton, its context, and each kind's
//!   small implementation of it.
//! - [`decide`]: the pure decisions, shared rules and one file per kind.
//! - [`aws`]: the Chime SDK Media Pipelines calls, errors classified.
//! - [`http`], [`metrics`], [`telemetry`]: endpoints, metrics, logging.
//! - [`config`], [`crd`], [`error`]: settings, the resources, the errors.

pub mod aws;
pub mod config;
pub mod controller;
pub mod crd;
pub mod decide;
pub mod error;
pub mod http;
pub mod metrics;
pub mod reconcile;
pub mod sweep;
pub mod telemetry;
