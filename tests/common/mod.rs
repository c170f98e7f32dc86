//! What the operator's integration tests share: a namespace on the shared
//! control plane, an emulator of their own, and the operator running against
//! both (in-process, watching only that namespace).
#![allow(dead_code)] // each test binary uses its own subset

pub mod gitops;
pub mod kinds;

use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_sdk_chimesdkmediapipelines::config::Credentials;
use chime_pipeline_operator::aws::{self, Aws, AwsOptions, RateLimit};
use chime_pipeline_operator::config::{Backoff, Config, Settings, Sweep, SweepMode};
use chime_pipeline_operator::crd::{MediaStreamPipeline, MediaStreamPipelineSpec};
use chime_pipeline_operator::decide::ManagedStatus;
use chime_pipeline_operator::metrics::Metrics;
use chime_pipeline_operator::{controller, sweep};
use futures::FutureExt;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use kube::core::object::HasStatus;
use kube::{Client, ResourceExt};
use testworld::TestEnv;
use testworld::emulator::{Emulator, EmulatorConfig};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

pub const REGION: &str = "us-east-1";
pub const POOL_ARN: &str =
    "arn:aws:chime:us-east-1:111122223333:media-pipeline-kinesis-video-stream-pool/pool-a";

/// Timings short enough for tests; the behaviour is the production one.
/// The orphan sweep is off, so that AWS call counts are the reconcile's
/// alone (tests of the sweep turn it on).
pub fn test_config(namespace: &str) -> Config {
    Config {
        namespaces: vec![namespace.into()],
        cluster_id: "test-cluster".into(),
        sweep: Sweep {
            mode: SweepMode::Off,
            ..Sweep::default()
        },
        settings: Settings {
            refresh_interval: Duration::from_secs(1),
            poll_min: Duration::from_millis(100),
            poll_max: Duration::from_secs(1),
            backoff: Backoff {
                base: Duration::from_millis(500),
                max: Duration::from_secs(4),
                limit: Duration::from_secs(1),
                permanent: Duration::from_secs(600),
            },
        },
        ..Config::default()
    }
}

pub async fn test_aws(endpoint: &str, rate_limit: Option<RateLimit>) -> Aws {
    test_aws_counted(endpoint, rate_limit, Arc::default()).await
}

/// The same, counting its calls in `metrics`.
pub async fn test_aws_counted(
    endpoint: &str,
    rate_limit: Option<RateLimit>,
    metrics: Arc<Metrics>,
) -> Aws {
    let opts = AwsOptions {
        region: Some(REGION.into()),
        endpoint_url: Some(endpoint.into()),
        rate_limit,
    };
    let creds = Credentials::new("AKIDTEST", "secret", None, None, "tests");
    let loader = aws::loader(&opts).credentials_provider(creds);
    Aws::from_loader(loader, rate_limit, metrics).await
}

/// A metric's value in `metrics`, summed over the label sets whose text
/// contains `labels_contain`; 0 when absent.
pub fn metric_value(metrics: &Metrics, name: &str, labels_contain: &str) -> f64 {
    metrics
        .encode()
        .lines()
        .filter(|l| l.starts_with(name) && l.contains(labels_contain))
        .filter(|l| l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

pub struct Harness {
    pub env: TestEnv,
    pub emulator: Emulator,
    /// The in-process operator's metrics (reconciles by kind, AWS calls).
    pub metrics: Arc<Metrics>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Harness {
    pub async fn start(prefix: &str) -> anyhow::Result<Harness> {
        Harness::start_with(prefix, EmulatorConfig::default(), |_| {}).await
    }

    /// Starts the world; `tweak` adjusts the operator's config.
    pub async fn start_with(
        prefix: &str,
        emulator: EmulatorConfig,
        tweak: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Harness> {
        let env = TestEnv::new(prefix).await?;
        let emulator = Emulator::start(emulator).await?;
        let mut h = Harness {
            env,
            emulator,
            metrics: Arc::default(),
            stop: None,
            task: None,
        };
        let client = h.env.client.clone();
        let mut config = test_config(&h.env.namespace);
        tweak(&mut config);
        h.run_operator(client, config).await;
        Ok(h)
    }

    /// A Harness on a given environment, with its own emulator, no operator.
    pub async fn on(env: TestEnv, emulator: EmulatorConfig) -> anyhow::Result<Harness> {
        Ok(Harness {
            env,
            emulator: Emulator::start(emulator).await?,
            metrics: Arc::default(),
            stop: None,
            task: None,
        })
    }

    /// Starts a Harness without an operator (for tests of the API alone).
    pub async fn without_operator(prefix: &str) -> anyhow::Result<Harness> {
        Ok(Harness {
            env: TestEnv::new(prefix).await?,
            emulator: Emulator::start(EmulatorConfig::default()).await?,
            metrics: Arc::default(),
            stop: None,
            task: None,
        })
    }

    pub async fn run_operator(&mut self, client: Client, config: Config) {
        let endpoint = self.emulator.endpoint_url();
        let aws = test_aws_counted(&endpoint, None, self.metrics.clone()).await;
        self.run_operator_with(client, aws, config).await;
    }

    pub async fn run_operator_with(&mut self, client: Client, aws: Aws, config: Config) {
        let (tx, rx) = oneshot::channel();
        self.stop = Some(tx);
        let stop = async {
            let _ = rx.await;
        }
        .shared();
        let metrics = self.metrics.clone();
        let sweeping = sweep::run(
            client.clone(),
            aws.clone(),
            config.clone(),
            metrics.clone(),
            stop.clone(),
        );
        let controllers = controller::run(client, aws, config, metrics, stop);
        self.task = Some(tokio::spawn(async move {
            futures::join!(controllers, sweeping);
        }));
    }

    pub async fn stop_operator(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }

    pub fn api(&self) -> Api<MediaStreamPipeline> {
        self.env.api()
    }

    pub async fn create(
        &self,
        name: &str,
        spec: MediaStreamPipelineSpec,
    ) -> anyhow::Result<MediaStreamPipeline> {
        let obj = MediaStreamPipeline {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            spec,
            status: None,
        };
        Ok(self.api().create(&PostParams::default(), &obj).await?)
    }

    pub async fn delete(&self, name: &str) -> anyhow::Result<()> {
        self.api().delete(name, &DeleteParams::default()).await?;
        Ok(())
    }

    /// Waits until the resource satisfies `pred`; on timeout, the error
    /// carries what the resource looked like.
    pub async fn wait_for(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&MediaStreamPipeline) -> bool,
    ) -> anyhow::Result<MediaStreamPipeline> {
        wait_for(&self.api(), name, what, Duration::from_secs(60), pred).await
    }

    pub async fn wait_ready(&self, name: &str) -> anyhow::Result<MediaStreamPipeline> {
        wait_ready(&self.api(), name).await
    }

    pub async fn wait_gone(&self, name: &str) -> anyhow::Result<()> {
        wait_gone(&self.api(), name).await
    }

    /// The promise of the operator: at most one pipeline per resource UID,
    /// ever, and exactly one for each of `uids`.
    pub fn assert_one_pipeline_per_uid(&self, uids: &[String]) {
        kinds::assert_one_per_uid::<MediaStreamPipeline>(&self.emulator, uids);
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Polls `done` until it holds or `timeout` passes; false then. For what
/// AWS finishes after answering (a pool stays DELETING a while).
pub async fn eventually(timeout: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while !done() {
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    true
}

pub async fn wait_for<K>(
    api: &Api<K>,
    name: &str,
    what: &str,
    timeout: Duration,
    pred: impl Fn(&K) -> bool,
) -> anyhow::Result<K>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let obj = api.get_opt(name).await?;
        match obj {
            Some(o) if pred(&o) => return Ok(o),
            _ if tokio::time::Instant::now() > deadline => {
                bail!("{name} not {what} within {timeout:?}; last seen: {obj:#?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Waits until the named resource of any kind is gone (its cleanup done).
pub async fn wait_gone<K>(api: &Api<K>, name: &str) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while api.get_opt(name).await?.is_some() {
        if tokio::time::Instant::now() > deadline {
            bail!("{name} still exists after 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// (status, reason, message) of a condition, for either kind.
pub fn condition<K>(o: &K, type_: &str) -> Option<(String, String, String)>
where
    K: HasStatus<Status: ManagedStatus>,
{
    o.status()?
        .conditions()
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Ready, for either kind: Ready=True with the remote object recorded.
pub fn is_ready<K>(o: &K) -> bool
where
    K: HasStatus<Status: ManagedStatus>,
{
    condition(o, "Ready").is_some_and(|c| c.0 == "True")
        && o.status().and_then(|s| s.remote_id()).is_some()
}

/// Waits until the named resource of either kind is Ready.
pub async fn wait_ready<K>(api: &Api<K>, name: &str) -> anyhow::Result<K>
where
    K: kube::Resource + HasStatus<Status: ManagedStatus>,
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    wait_for(api, name, "Ready", Duration::from_secs(60), is_ready).await
}

pub fn uid(o: &MediaStreamPipeline) -> anyhow::Result<String> {
    o.uid().context("object without a UID")
}

pub fn spec_json(meeting: &str, extra: serde_json::Value) -> MediaStreamPipelineSpec {
    let mut v = serde_json::json!({
        "sources": [{"sourceType": "ChimeSdkMeeting", "sourceArn": format!("arn:aws:chime:us-east-1:111122223333:meeting/{meeting}")}],
        "sinks": [{"sinkType": "KinesisVideoStreamPool", "sinkArn": POOL_ARN, "reservedStreamCapacity": 1, "mediaStreamType": "MixedAudio"}],
    });
    if let (Some(map), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
        for (k, val) in extra {
            map.insert(k.clone(), val.clone());
        }
    }
    serde_json::from_value(v).expect("test spec")
}

/// A pipeline's tags without the operator's identity tags.
pub fn user_tags(tags: &[(String, String)]) -> Vec<(String, String)> {
    let mut t: Vec<_> = tags
        .iter()
        .filter(|(k, _)| !k.starts_with("chimeoperator.dev/"))
        .cloned()
        .collect();
    t.sort();
    t
}

pub fn meeting_arn(meeting: &str) -> String {
    format!("arn:aws:chime:us-east-1:111122223333:meeting/{meeting}")
}

/// A pool resource in us-east-1 keeping data 24 hours.
pub fn pool_manifest(
    name: &str,
) -> anyhow::Result<chime_pipeline_operator::crd::MediaPipelineKinesisVideoStreamPool> {
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "media.chimeoperator.dev/v1alpha1",
        "kind": "MediaPipelineKinesisVideoStreamPool",
        "metadata": {"name": name},
        "spec": {"streamConfiguration": {"region": "us-east-1", "dataRetentionInHours": 24}},
    }))?)
}

/// A spec whose one sink names a pool resource.
pub fn spec_with_pool_ref(meeting: &str, pool: &str) -> MediaStreamPipelineSpec {
    serde_json::from_value(serde_json::json!({
        "sources": [{"sourceType": "ChimeSdkMeeting", "sourceArn": meeting_arn(meeting)}],
        "sinks": [{"sinkType": "KinesisVideoStreamPool", "poolRef": {"name": pool}, "reservedStreamCapacity": 1, "mediaStreamType": "MixedAudio"}],
    }))
    .expect("spec")
}

/// Creates a pipeline through the SDK, as the operator or someone else
/// would: the meeting's audio, mixed, into `sink`, with the token and tags
/// given; returns its ID.
pub async fn sdk_pipeline(
    client: &aws_sdk_chimesdkmediapipelines::Client,
    meeting: &str,
    sink: &str,
    token: Option<&str>,
    tags: &[(&str, &str)],
) -> anyhow::Result<String> {
    use aws_sdk_chimesdkmediapipelines::types as t;
    let mut req = client
        .create_media_stream_pipeline()
        .sources(
            t::MediaStreamSource::builder()
                .source_type(t::MediaPipelineSourceType::ChimeSdkMeeting)
                .source_arn(meeting_arn(meeting))
                .build()?,
        )
        .sinks(
            t::MediaStreamSink::builder()
                .sink_arn(sink)
                .sink_type(t::MediaStreamPipelineSinkType::KinesisVideoStreamPool)
                .reserved_stream_capacity(1)
                .media_stream_type(t::MediaStreamType::MixedAudio)
                .build()?,
        )
        .set_client_request_token(token.map(str::to_string));
    for (k, v) in tags {
        req = req.tags(t::Tag::builder().key(*k).value(*v).build()?);
    }
    let made = req.send().await?;
    Ok(made
        .media_stream_pipeline
        .and_then(|p| p.media_pipeline_id)
        .unwrap_or_default())
}

/// Creates a pipeline in the emulator directly, as someone else would (the
/// meeting's audio, mixed, into POOL_ARN); returns its ID.
pub async fn pipeline_made_elsewhere(emulator: &Emulator, meeting: &str) -> anyhow::Result<String> {
    let client = testworld::emulator::sdk_client(&emulator.endpoint_url(), REGION).await;
    sdk_pipeline(&client, meeting, POOL_ARN, None, &[]).await
}

/// An operator process, killed when dropped.
pub struct Operator {
    pub child: Child,
    pub http: String,
}

/// Which of two replicas leads, as (leader, standby); fails unless exactly
/// one does.
pub async fn leader_of(ops: &[Operator]) -> anyhow::Result<(usize, usize)> {
    let mut leaders = vec![];
    for op in ops {
        leaders.push(op.metric("chime_operator_leader", "").await);
    }
    let leader = leaders.iter().position(|l| *l == 1.0);
    let leader = leader.ok_or_else(|| anyhow::anyhow!("no leader"))?;
    let standby = 1 - leader;
    anyhow::ensure!(leaders[standby] == 0.0, "two leaders");
    Ok((leader, standby))
}

impl Operator {
    pub fn spawn(
        kubeconfig: &Path,
        emulator: &Emulator,
        namespace: &str,
        extra: &[&str],
    ) -> anyhow::Result<Operator> {
        Operator::spawn_at(kubeconfig, &emulator.endpoint_url(), namespace, extra)
    }

    /// The same, given the emulator's URL.
    pub fn spawn_at(
        kubeconfig: &Path,
        endpoint: &str,
        namespace: &str,
        extra: &[&str],
    ) -> anyhow::Result<Operator> {
        Operator::spawn_with(
            kubeconfig,
            endpoint,
            namespace,
            extra,
            &[],
            Stdio::inherit(),
        )
    }

    pub fn spawn_with(
        kubeconfig: &Path,
        endpoint: &str,
        namespace: &str,
        extra: &[&str],
        env: &[(&str, &str)],
        log: Stdio,
    ) -> anyhow::Result<Operator> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Operator::command(kubeconfig, endpoint, namespace, port, extra)
            .envs(env.iter().copied())
            .stdout(log)
            .spawn()?;
        Ok(Operator {
            child,
            http: format!("http://127.0.0.1:{port}"),
        })
    }

    /// `run` with the tests' flags and `extra`, against `kubeconfig` and
    /// the emulator at `endpoint`, serving HTTP on `port`.
    fn command(
        kubeconfig: &Path,
        endpoint: &str,
        namespace: &str,
        port: u16,
        extra: &[&str],
    ) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_chime-pipeline-operator"));
        c.arg("run")
            .args(["--namespace", namespace, "--region", REGION])
            .args(["--endpoint-url", endpoint])
            .args(["--http-addr", &format!("127.0.0.1:{port}")])
            .args(["--refresh-interval", "1s"])
            .args(extra)
            .env("KUBECONFIG", kubeconfig)
            .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        c
    }

    /// Runs the operator with `extra` flags until it exits by itself, for
    /// flags it must refuse: its exit code and what it wrote to stderr. An
    /// operator still running after 60 s did not refuse them (the bound
    /// only catches that; a refusal takes no time).
    pub async fn run_to_exit(
        kubeconfig: &Path,
        emulator: &Emulator,
        namespace: &str,
        extra: &[&str],
    ) -> anyhow::Result<(Option<i32>, String)> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Operator::command(kubeconfig, &emulator.endpoint_url(), namespace, port, extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .with_context(|| format!("the operator still runs with {extra:?}: not refused"))??;
        Ok((
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }

    /// GET a path of the operator's HTTP server: (status, body).
    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        testworld::http_get(&self.http, path).await
    }

    /// A metric's value summed over its label sets; 0 when absent.
    pub async fn metric(&self, name: &str, labels_contain: &str) -> f64 {
        let Ok((_, text)) = self.get("/metrics").await else {
            return 0.0;
        };
        text.lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#') && l.contains(labels_contain))
            .filter(|l| l[name.len()..].starts_with(['{', ' ']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Polls a metric (summed over its label sets) until `done` holds, at
    /// most 60 s; `what` names the wait in the failure.
    pub async fn wait_metric(
        &self,
        name: &str,
        what: &str,
        done: impl Fn(f64) -> bool,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done(self.metric(name, "").await) {
            anyhow::ensure!(Instant::now() < deadline, "{what}: not within 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// The lines of `/metrics` of the metric `name` (one per label set).
    pub async fn series(&self, name: &str) -> anyhow::Result<Vec<String>> {
        let (_, text) = self.get("/metrics").await?;
        Ok(text
            .lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
            .map(str::to_string)
            .collect())
    }

    pub async fn wait_http(&self, path: &str, status: u16) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if matches!(self.get(path).await, Ok((s, _)) if s == status) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{path} never answered {status}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
