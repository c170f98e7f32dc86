//! The resources the benchmark creates: one manifest builder per pipeline
//! kind, and the mix of kinds of the large fills (the memory figure with
//! `big` resources and the scaling curve): a third stream pipelines, a
//! third capture pipelines recording the namespace's meeting to S3, and a
//! third concatenation pipelines joining those captures, by ARN.
//!
//! The manifests follow deploy/samples (04, 06, 07) and are built from JSON
//! rather than the Rust types, so that the benchmark follows the resources'
//! wire form, which changes less often than the types.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chime_pipeline_operator::crd::{
    MediaCapturePipeline, MediaConcatenationPipeline, MediaStreamPipeline,
};
use futures::{StreamExt, TryStreamExt};
use kube::Client;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::observer::{Observer, key};
use crate::{POOL_ARN, meeting_arn};

/// How long a concatenation pipeline of the emulator stays InProgress (its
/// processing) while the benchmark measures: the whole run, until the
/// at-rest phase ends every pipeline.
pub const CONCATENATION_RUNS: Duration = Duration::from_secs(24 * 3600);

const BUCKET: &str = "arn:aws:s3:::meeting-recordings";

/// A stream pipeline of the namespace's meeting into the benchmark's pool.
pub fn stream(ns: &str, name: String) -> MediaStreamPipeline {
    serde_json::from_value(json!({
        "apiVersion": "media.chimeoperator.dev/v1alpha1",
        "kind": "MediaStreamPipeline",
        "metadata": { "name": name, "namespace": ns },
        "spec": {
            "sources": [{"sourceType": "ChimeSdkMeeting", "sourceArn": meeting_arn(ns)}],
            "sinks": [{
                "sinkType": "KinesisVideoStreamPool",
                "sinkArn": POOL_ARN,
                "reservedStreamCapacity": 1,
                "mediaStreamType": "MixedAudio",
            }],
        },
    }))
    .expect("a valid MediaStreamPipeline")
}

/// A recording of the namespace's meeting to S3 (deploy/samples/06-capture.yaml).
pub fn capture(ns: &str, name: String) -> MediaCapturePipeline {
    serde_json::from_value(json!({
        "apiVersion": "media.chimeoperator.dev/v1alpha1",
        "kind": "MediaCapturePipeline",
        "metadata": { "name": name, "namespace": ns },
        "spec": {
            "sourceType": "ChimeSdkMeeting",
            "sourceArn": meeting_arn(ns),
            "sinkType": "S3Bucket",
            "sinkArn": BUCKET,
            "chimeSdkMeetingConfiguration": {"artifactsConfiguration": {
                "audio": {"muxType": "AudioWithActiveSpeakerVideo"},
                "video": {"state": "Enabled", "muxType": "VideoOnly"},
                "content": {"state": "Disabled"},
            }},
            "ttlSecondsAfterFinished": 3600,
        },
    }))
    .expect("a valid MediaCapturePipeline")
}

/// The capture pipeline `capture_arn` joined into files
/// (deploy/samples/07-recording.yaml, by ARN).
pub fn concat(ns: &str, name: String, capture_arn: &str) -> MediaConcatenationPipeline {
    let off = json!({"state": "Disabled"});
    serde_json::from_value(json!({
        "apiVersion": "media.chimeoperator.dev/v1alpha1",
        "kind": "MediaConcatenationPipeline",
        "metadata": { "name": name, "namespace": ns },
        "spec": {
            "sources": [{
                "type": "MediaCapturePipeline",
                "mediaCapturePipelineSourceConfiguration": {
                    "mediaPipelineArn": capture_arn,
                    "chimeSdkMeetingConfiguration": {"artifactsConfiguration": {
                        "audio": {"state": "Enabled"},
                        "video": {"state": "Enabled"},
                        "content": off,
                        "dataChannel": off,
                        "transcriptionMessages": off,
                        "meetingEvents": off,
                        "compositedVideo": off,
                    }},
                },
            }],
            "sinks": [{
                "type": "S3Bucket",
                "s3BucketSinkConfiguration": {"destination": format!("{BUCKET}/joined")},
            }],
            "ttlSecondsAfterFinished": 3600,
        },
    }))
    .expect("a valid MediaConcatenationPipeline")
}

/// How many resources of each kind.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mix {
    pub streams: usize,
    pub captures: usize,
    pub concats: usize,
}

impl Mix {
    /// `total` in thirds; the stream pipelines take the remainder.
    pub fn thirds(total: usize) -> Mix {
        let third = total / 3;
        Mix {
            streams: total - 2 * third,
            captures: third,
            concats: third,
        }
    }

    pub fn total(&self) -> usize {
        self.streams + self.captures + self.concats
    }

    /// What `self` has beyond `had`, kind by kind.
    pub fn beyond(&self, had: &Mix) -> Mix {
        Mix {
            streams: self.streams.saturating_sub(had.streams),
            captures: self.captures.saturating_sub(had.captures),
            concats: self.concats.saturating_sub(had.concats),
        }
    }

    pub fn plus(&self, more: &Mix) -> Mix {
        Mix {
            streams: self.streams + more.streams,
            captures: self.captures + more.captures,
            concats: self.concats + more.concats,
        }
    }

    pub fn to_json(self) -> Value {
        json!(BTreeMap::from([
            ("MediaStreamPipeline", self.streams),
            ("MediaCapturePipeline", self.captures),
            ("MediaConcatenationPipeline", self.concats),
        ]))
    }
}

/// Creates `mix` in `ns`: stream pipelines `{prefix}-{i}` and capture
/// pipelines `{prefix}-c{i}` interleaved, and concatenation pipelines
/// `{prefix}-j{i}`, each as soon as capture `{prefix}-c{i}` has its ARN (as a
/// recording is joined once its capture exists); `concurrency` creations in
/// flight in all. Returns once every create is done, not once all are
/// Ready: wait for that with [`Observer::all_ready`].
pub async fn create(
    client: &Client,
    obs: &Observer,
    ns: &str,
    prefix: &str,
    mix: Mix,
    concurrency: usize,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        mix.concats <= mix.captures,
        "each concatenation joins a capture"
    );
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let (streams, captures) = (mix.streams, mix.captures);
    let recorders = async {
        let api_s: Api<MediaStreamPipeline> = Api::namespaced(client.clone(), ns);
        let api_c: Api<MediaCapturePipeline> = Api::namespaced(client.clone(), ns);
        futures::stream::iter(0..streams.max(captures))
            .flat_map(|i| {
                let s = (i < streams).then_some((i, true));
                let c = (i < captures).then_some((i, false));
                futures::stream::iter(s.into_iter().chain(c))
            })
            .map(|(i, is_stream)| {
                let (api_s, api_c, permits) = (api_s.clone(), api_c.clone(), permits.clone());
                async move {
                    let _permit = permits.acquire_owned().await?;
                    let pp = PostParams::default();
                    if is_stream {
                        api_s
                            .create(&pp, &stream(ns, format!("{prefix}-{i}")))
                            .await?;
                    } else {
                        api_c
                            .create(&pp, &capture(ns, format!("{prefix}-c{i}")))
                            .await?;
                    }
                    anyhow::Ok(())
                }
            })
            .buffer_unordered(concurrency.max(1))
            .try_collect::<()>()
            .await
    };
    let joiners = async {
        let api: Api<MediaConcatenationPipeline> = Api::namespaced(client.clone(), ns);
        futures::stream::iter(0..mix.concats)
            .map(|i| {
                let (api, permits) = (api.clone(), permits.clone());
                async move {
                    let of = key::<MediaCapturePipeline>(ns, &format!("{prefix}-c{i}"));
                    let arn = obs
                        .wait(
                            &format!("the ARN of {of}"),
                            Duration::from_secs(1800),
                            |s| s.arn.get(&of).cloned(),
                        )
                        .await?;
                    let _permit = permits.acquire_owned().await?;
                    let obj = concat(ns, format!("{prefix}-j{i}"), &arn);
                    api.create(&PostParams::default(), &obj).await?;
                    anyhow::Ok(())
                }
            })
            .buffer_unordered(concurrency.max(1))
            .try_collect::<()>()
            .await
    };
    futures::try_join!(recorders, joiners)?;
    Ok(())
}
