//! The orphan sweep: finds the AWS objects this installation created whose
//! resource no longer exists, which no reconcile can see (a delete that beat
//! the finalizer's addition, a finalizer removed by hand, a CRD or namespace
//! deleted while the operator was down), and reports them or deletes them.
//!
//! An object is this installation's to judge only when its tags name this
//! cluster (`chimeoperator.dev/cluster`) and a namespace this installation
//! watches (`chimeoperator.dev/namespace`; every namespace when it watches
//! all), and that namespace was listed in this very sweep. It is an orphan
//! when no resource of the watched scope has its UID
//! (`chimeoperator.dev/uid`) for longer than the grace period. Report mode
//! logs it, counts it and records an Event; delete mode also deletes it when
//! a fresh read of its tags still says deletion-policy Delete. Anything
//! else (another installation's namespace, another cluster, Retain, no
//! identity tags) is never deleted.
//!
//! Every interval, for each region in use (named by a resource, swept
//! before, or holding an orphan), and each kind: one List, and the tags of
//! the objects no resource's status records (remembered by ARN: identity
//! tags never change). A failure is that object's or that region's alone:
//! counted, logged, and the sweep goes on.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, ListParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, ResourceExt};
use tracing::{info, warn};

use crate::aws::{Aws, Regional, unsupported_region};
use crate::config::{Config, SweepMode};
use crate::crd::{Decoded, MediaPipelineKinesisVideoStreamPool, MediaStreamPipeline, Tag};
use crate::decide::{self, ManagedStatus};
use crate::error::Error;
use crate::metrics::Metrics;
use crate::reconcile::{MANAGER, Managed};

/// What the cluster holds, read afresh at each sweep.
#[derive(Default)]
struct Live {
    uids: HashSet<String>,
    /// The remote IDs and ARNs that resources record: known, not read.
    recorded: HashSet<String>,
    regions: BTreeSet<String>,
}

/// What one sweep found, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub orphans: usize,
    pub deleted: usize,
    /// Listings, tag reads and deletes that failed (each skipped alone).
    pub errors: usize,
}

/// The sweep's memory across intervals: when each orphan was first seen,
/// and every region it has swept.
#[derive(Default)]
pub struct Sweeper {
    first_seen: HashMap<String, Instant>,
    regions: BTreeSet<String>,
}

/// Sweeps every `config.sweep.interval`, the first time one interval after
/// the start (a crash-looping operator lists nothing), until `shutdown`
/// completes.
pub async fn run(
    client: Client,
    aws: Aws,
    config: Config,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    if config.sweep.mode == SweepMode::Off {
        return;
    }
    let mut shutdown = Box::pin(shutdown.fuse());
    let mut sweeper = Sweeper::default();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        },
    );
    loop {
        tokio::select! {
            _ = tokio::time::sleep(config.sweep.interval) => {}
            _ = &mut shutdown => return,
        }
        match sweeper.once(&client, &aws, &config, &recorder).await {
            Ok((pipelines, pools)) => {
                let kinds = [
                    ("MediaStreamPipeline", pipelines),
                    ("MediaPipelineKinesisVideoStreamPool", pools),
                ];
                for (kind, f) in kinds {
                    metrics.orphans(kind, f.orphans, f.deleted);
                    metrics.sweep_errors(kind, f.errors);
                }
            }
            // Without every watched resource, no object can be judged.
            Err(e) => {
                metrics.sweep_errors("", 1);
                warn!(error = %e, "orphan sweep could not list the resources; retried next interval");
            }
        }
    }
}

impl Sweeper {
    /// One sweep of both kinds in every region in use. Fails only when the
    /// resources cannot be listed; AWS failures are counted per kind.
    pub async fn once(
        &mut self,
        client: &Client,
        aws: &Aws,
        config: &Config,
        recorder: &Recorder,
    ) -> Result<(Found, Found), Error> {
        let mut live = Live::default();
        // Every kind: an object whose resource is of a kind left out here
        // would look orphaned.
        macro_rules! read_all {
            ($($kind:ty),+) => { $(read_live::<$kind>(client, config, &mut live).await?;)+ };
        }
        crate::for_each_kind!(read_all);
        self.regions.insert(aws.default_region());
        self.regions.extend(live.regions.iter().cloned());
        self.regions
            .extend(self.first_seen.keys().filter_map(|arn| arn_region(arn)));
        // Where the service has no endpoint there is nothing to list.
        self.regions.retain(|r| unsupported_region(r).is_none());
        let (mut pipelines, mut pools) = (Found::default(), Found::default());
        let mut seen = HashSet::new();
        for region in self.regions.clone() {
            let regional = aws.region(Some(&region));
            let ctx = SweepCtx {
                aws: &regional,
                config,
                recorder,
                live: &live,
            };
            // ListMediaPipelines lists every pipeline type, and
            // DeleteMediaPipeline deletes any: one pass covers stream and
            // capture and concatenation pipelines alike (counted under
            // MediaStreamPipeline).
            add(
                &mut pipelines,
                self.kind::<MediaStreamPipeline>(&ctx, &mut seen).await,
            );
            add(
                &mut pools,
                self.kind::<MediaPipelineKinesisVideoStreamPool>(&ctx, &mut seen)
                    .await,
            );
        }
        self.first_seen.retain(|arn, _| seen.contains(arn));
        Ok((pipelines, pools))
    }

    /// One kind in one region.
    async fn kind<K: Managed>(&mut self, ctx: &SweepCtx<'_>, seen: &mut HashSet<String>) -> Found {
        let mut found = Found::default();
        let listed = match K::list(ctx.aws).await {
            Ok(listed) => listed,
            Err(e) => {
                warn!(error = %e, region = ctx.aws.name(), "orphan sweep: listing {}s failed", K::KIND.noun);
                found.errors += 1;
                return found;
            }
        };
        ctx.aws.keep_known_tags(K::KIND.arn_type, &listed);
        for obj in &listed {
            if ctx.live.recorded.contains(&obj.id) || ctx.live.recorded.contains(&obj.arn) {
                continue;
            }
            let tags = match ctx.aws.known_tags(&obj.arn).await {
                Ok(tags) => tags,
                // Deleted between the List and the tag read.
                Err(Error::NotFound(_)) => continue,
                Err(e) => {
                    warn!(error = %e, arn = %obj.arn, "orphan sweep: reading tags failed");
                    found.errors += 1;
                    continue;
                }
            };
            let Some(uid) = orphan_uid(&tags, ctx) else {
                continue;
            };
            seen.insert(obj.arn.clone());
            let first = *self
                .first_seen
                .entry(obj.arn.clone())
                .or_insert_with(Instant::now);
            if first.elapsed() < ctx.config.sweep.grace {
                continue;
            }
            found.orphans += 1;
            match self.settle::<K>(ctx, &obj.id, &obj.arn, &tags, uid).await {
                Ok(true) => {
                    found.deleted += 1;
                    self.first_seen.remove(&obj.arn);
                }
                Ok(false) => {}
                Err(e) => {
                    warn!(error = %e, arn = %obj.arn, "orphan sweep: settling an orphan failed");
                    found.errors += 1;
                }
            }
        }
        found
    }

    /// Reports an orphan, and deletes it in delete mode when its tags,
    /// read afresh, still say deletion-policy Delete. True if deleted.
    async fn settle<K: Managed>(
        &self,
        ctx: &SweepCtx<'_>,
        id: &str,
        arn: &str,
        tags: &[Tag],
        uid: &str,
    ) -> Result<bool, Error> {
        let reference = former_resource::<K>(tags, uid);
        let deletable = ctx.config.sweep.mode == SweepMode::Delete
            && decide::tag_value(&ctx.aws.list_tags(arn).await?, decide::POLICY_TAG)
                == Some("Delete");
        if !deletable {
            warn!(%arn, resource = ?reference.name, "orphaned {}: its resource is gone", K::KIND.noun);
            let note = format!(
                "{} {arn} outlived this resource: the orphan sweep reports it",
                K::KIND.noun
            );
            publish(ctx.recorder, &reference, "Orphaned", note);
            return Ok(false);
        }
        K::delete(ctx.aws, id).await?;
        info!(%arn, resource = ?reference.name, "deleted orphaned {}", K::KIND.noun);
        let note = format!(
            "{} {arn} outlived this resource: the orphan sweep deleted it",
            K::KIND.noun
        );
        publish(ctx.recorder, &reference, "OrphanDeleted", note);
        Ok(true)
    }
}

/// The region an ARN names (its fourth field).
fn arn_region(arn: &str) -> Option<String> {
    arn.split(':')
        .nth(3)
        .filter(|r| !r.is_empty())
        .map(str::to_string)
}

struct SweepCtx<'a> {
    aws: &'a Regional,
    config: &'a Config,
    recorder: &'a Recorder,
    live: &'a Live,
}

fn add(total: &mut Found, more: Found) {
    total.orphans += more.orphans;
    total.deleted += more.deleted;
    total.errors += more.errors;
}

/// The UID an object was created for, when it is this installation's (this
/// cluster, a namespace it watches and has just listed) and no resource it
/// listed has that UID.
fn orphan_uid<'t>(tags: &'t [Tag], ctx: &SweepCtx<'_>) -> Option<&'t str> {
    let cluster = decide::tag_value(tags, decide::CLUSTER_TAG)?;
    let namespace = decide::tag_value(tags, decide::NAMESPACE_TAG)?;
    let uid = decide::tag_value(tags, decide::UID_TAG)?;
    let watched =
        ctx.config.namespaces.is_empty() || ctx.config.namespaces.iter().any(|ns| ns == namespace);
    (cluster == ctx.config.cluster_id && watched && !ctx.live.uids.contains(uid)).then_some(uid)
}

/// Every resource of kind K in the watched namespaces: its UID, what its
/// status records, and its region.
async fn read_live<K: Managed>(
    client: &Client,
    config: &Config,
    live: &mut Live,
) -> Result<(), Error> {
    // Read through Decoded: an object that does not decode is still live,
    // and must neither fail the sweep nor lose its AWS object to it.
    let apis: Vec<Api<Decoded<K>>> = if config.namespaces.is_empty() {
        vec![Api::all(client.clone())]
    } else {
        config
            .namespaces
            .iter()
            .map(|ns| Api::namespaced(client.clone(), ns))
            .collect()
    };
    for api in apis {
        // Page by page: a list of every resource at once would hold them
        // all twice (body and objects), the largest allocation the
        // operator would ever make.
        let mut params = ListParams::default().limit(LIST_PAGE);
        loop {
            let page = api.list(&params).await?;
            for decoded in &page.items {
                note_live(decoded, live);
            }
            match page.metadata.continue_ {
                Some(token) if !token.is_empty() => params = params.continue_token(&token),
                _ => break,
            }
        }
    }
    Ok(())
}

/// Objects per page when the sweep lists resources.
const LIST_PAGE: u32 = 500;

fn note_live<K: Managed>(decoded: &Decoded<K>, live: &mut Live) {
    live.uids.extend(decoded.uid());
    let Some(obj) = decoded.valid() else {
        return;
    };
    let status = obj.status();
    live.recorded
        .extend(status.and_then(|s| s.remote_id()).map(str::to_string));
    live.recorded
        .extend(status.and_then(|s| s.remote_arn()).map(str::to_string));
    let region = status.and_then(|s| s.region()).or(obj.spec_region());
    live.regions.extend(region.map(str::to_string));
}

/// The resource an orphan was made for, as its tags name it: Events about
/// it land in its namespace, under its name.
fn former_resource<K: Managed>(tags: &[Tag], uid: &str) -> ObjectReference {
    let tag = |k: &str| {
        decide::tag_value(tags, &format!("{}{k}", decide::TAG_PREFIX)).map(str::to_string)
    };
    ObjectReference {
        api_version: Some(K::api_version(&()).into()),
        kind: Some(K::kind(&()).into()),
        namespace: tag("namespace"),
        name: tag("name"),
        uid: Some(uid.into()),
        ..ObjectReference::default()
    }
}

fn publish(recorder: &Recorder, reference: &ObjectReference, reason: &str, note: String) {
    let ev = Event {
        type_: EventType::Warning,
        reason: reason.into(),
        note: Some(note),
        action: reason.into(),
        secondary: None,
    };
    let (recorder, reference) = (recorder.clone(), reference.clone());
    tokio::spawn(async move {
        if let Err(e) = recorder.publish(&ev, &reference).await {
            warn!(error = %e, "could not publish event");
        }
    });
}
