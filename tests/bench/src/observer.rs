//! One watch per pipeline kind (MediaStreamPipeline, MediaCapturePipeline,
//! MediaConcatenationPipeline) over the whole cluster, recording when each
//! resource was first seen Ready and how often resources changed. Every
//! figure of the benchmark that says "Ready" comes from here, for the
//! operator and the floor alike.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use chime_pipeline_operator::crd::{
    MediaCapturePipeline, MediaConcatenationPipeline, MediaStreamPipeline, PipelineStatus,
};
use futures::StreamExt;
use k8s_openapi::serde::de::DeserializeOwned;
use kube::core::object::HasStatus;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, Resource, ResourceExt};
use tokio::sync::watch;

/// The key of a resource in [`Seen`]: `namespace/Kind/name`, so that
/// resources of different kinds never share one.
pub fn key<K: Resource<DynamicType = ()>>(ns: &str, name: &str) -> String {
    format!("{ns}/{}/{name}", K::kind(&()))
}

#[derive(Default)]
pub struct Seen {
    /// Latest `status.pipelineStatus` by key, for live resources.
    pub status: HashMap<String, Option<String>>,
    /// Latest `status.mediaPipelineArn` by key, once known.
    pub arn: HashMap<String, String>,
    /// When each resource was first seen with Ready=True.
    pub ready_at: HashMap<String, Instant>,
    /// Resources ever seen Ready, by namespace, and the latest such moment.
    pub ready_count: HashMap<String, usize>,
    pub last_ready: HashMap<String, Instant>,
    /// Changes to existing resources (watch MODIFIED events), by namespace.
    pub updates: HashMap<String, u64>,
}

impl Seen {
    pub fn live(&self) -> usize {
        self.status.len()
    }

    pub fn live_in(&self, ns: &str) -> usize {
        let prefix = format!("{ns}/");
        self.status
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .count()
    }

    /// Live resources by kind.
    pub fn live_by_kind(&self) -> std::collections::BTreeMap<String, usize> {
        let mut m = std::collections::BTreeMap::new();
        for k in self.status.keys() {
            if let Some(kind) = k.split('/').nth(1) {
                *m.entry(kind.to_string()).or_default() += 1;
            }
        }
        m
    }

    pub fn with_status(&self, status: &str) -> usize {
        self.status
            .values()
            .filter(|s| s.as_deref() == Some(status))
            .count()
    }

    pub fn total_updates(&self) -> u64 {
        self.updates.values().sum()
    }

    fn apply<K>(&mut self, obj: &K, init: bool)
    where
        K: Resource<DynamicType = ()> + HasStatus<Status = PipelineStatus>,
    {
        let ns = obj.namespace().unwrap_or_default();
        let key = key::<K>(&ns, &obj.name_any());
        let status = obj.status();
        let known = self
            .status
            .insert(key.clone(), status.and_then(|s| s.pipeline_status.clone()))
            .is_some();
        if let Some(arn) = status.and_then(|s| s.media_pipeline_arn.clone()) {
            self.arn.insert(key.clone(), arn);
        }
        if known && !init {
            *self.updates.entry(ns.clone()).or_default() += 1;
        }
        let ready = status.is_some_and(|s| {
            s.common
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        });
        if ready && !self.ready_at.contains_key(&key) {
            let now = Instant::now();
            self.ready_at.insert(key, now);
            *self.ready_count.entry(ns.clone()).or_default() += 1;
            self.last_ready.insert(ns, now);
        }
    }
}

#[derive(Clone)]
pub struct Observer {
    seen: Arc<Mutex<Seen>>,
    changed: watch::Sender<u64>,
    tasks: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Observer {
    /// Starts watching every pipeline kind; returns once each initial list
    /// is done.
    pub async fn start(client: Client) -> anyhow::Result<Observer> {
        let observer = Observer {
            seen: Arc::default(),
            changed: watch::channel(0).0,
            tasks: Arc::default(),
        };
        let synced = [
            observer.watch::<MediaStreamPipeline>(client.clone()),
            observer.watch::<MediaCapturePipeline>(client.clone()),
            observer.watch::<MediaConcatenationPipeline>(client),
        ];
        for rx in synced {
            tokio::time::timeout(Duration::from_secs(60), rx).await??;
        }
        Ok(observer)
    }

    /// Watches one kind; the answer comes once its initial list is done.
    fn watch<K>(&self, client: Client) -> tokio::sync::oneshot::Receiver<()>
    where
        K: Resource<DynamicType = ()> + HasStatus<Status = PipelineStatus>,
        K: Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    {
        let (synced_tx, synced_rx) = tokio::sync::oneshot::channel();
        let o = self.clone();
        let task = tokio::spawn(async move {
            let api: Api<K> = Api::all(client);
            let mut stream = std::pin::pin!(watcher::watcher(api, watcher::Config::default()));
            let mut synced = Some(synced_tx);
            while let Some(ev) = stream.next().await {
                {
                    let mut seen = o.seen.lock().expect("observer lock");
                    match &ev {
                        Ok(Event::Apply(obj)) => seen.apply(obj, false),
                        Ok(Event::InitApply(obj)) => seen.apply(obj, true),
                        Ok(Event::Delete(obj)) => {
                            let ns = obj.namespace().unwrap_or_default();
                            seen.status.remove(&key::<K>(&ns, &obj.name_any()));
                        }
                        Ok(Event::InitDone) => {
                            if let Some(tx) = synced.take() {
                                let _ = tx.send(());
                            }
                        }
                        Ok(Event::Init) => {}
                        Err(e) => eprintln!("bench: watch error (the watch restarts): {e}"),
                    }
                }
                o.changed.send_modify(|v| *v += 1);
            }
        });
        let mut tasks = self.tasks.lock().expect("observer lock");
        tasks.push(task.abort_handle());
        synced_rx
    }

    /// Ends the watches (before the control plane goes).
    pub fn stop(&self) {
        for task in self.tasks.lock().expect("observer lock").drain(..) {
            task.abort();
        }
    }

    pub fn read<T>(&self, f: impl FnOnce(&Seen) -> T) -> T {
        f(&self.seen.lock().expect("observer lock"))
    }

    /// Waits until `f` answers Some, at most `timeout`.
    pub async fn wait<T>(
        &self,
        what: &str,
        timeout: Duration,
        f: impl Fn(&Seen) -> Option<T>,
    ) -> anyhow::Result<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.changed.subscribe();
        loop {
            if let Some(t) = self.read(&f) {
                return Ok(t);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => bail!("the watch ended while waiting for {what}"),
                Err(_) => bail!("timed out after {timeout:?} waiting for {what}"),
            }
        }
    }

    /// Waits until `n` resources of `ns`, of any kind, have been Ready;
    /// returns when the last of them turned Ready.
    pub async fn all_ready(
        &self,
        ns: &str,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<Instant> {
        self.wait(&format!("{n} Ready in {ns}"), timeout, |s| {
            (s.ready_count.get(ns).copied().unwrap_or(0) >= n)
                .then(|| s.last_ready.get(ns).copied())
                .flatten()
        })
        .await
    }
}
