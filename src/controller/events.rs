//! The optional event queue's reader (on the leader only, as the
//! controllers): it long-polls the SQS queue an EventBridge rule fills with
//! Chime SDK's state changes, and wakes exactly the resources each event
//! names (a pipeline by ID, a pool by ARN, the pipelines of a meeting that
//! ended), which then read AWS once. Events are hints: duplicate, late,
//! reordered, foreign and malformed ones are counted, logged at debug and
//! deleted, never fatal; a message is deleted only once its wake-ups were
//! handed to the controllers. When the queue fails, polling alone keeps
//! status fresh (a metric and a log say so; readiness is unaffected), and
//! events resume when it answers again.

use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use tracing::{debug, info, warn};

use crate::aws::{LONGEST_WAIT, Message, Queue};
use crate::crd::Decoded;
use crate::decide::event::{self, Hint, Parsed};
use crate::reconcile::{Context, Managed};

/// The longest pause between receives while the queue fails.
const LONGEST_RETRY: Duration = Duration::from_secs(60);

/// One kind's part: its cached resources, and the channel that wakes them.
pub struct Waker<K: Managed> {
    pub store: Store<Decoded<K>>,
    pub wake: mpsc::UnboundedSender<ObjectRef<Decoded<K>>>,
}

/// What the reader needs of each kind, whatever the kind.
pub trait Wake: Send + Sync {
    /// Wakes the resources `hint` names, after marking them due for a read;
    /// how many, or None when the controller is gone (shutting down).
    fn wake(&self, ctx: &Context, hint: &Hint) -> Option<usize>;
    /// Wakes every resource, so that each reckons its next read anew.
    fn wake_all(&self);
}

impl<K: Managed> Wake for Waker<K> {
    fn wake(&self, ctx: &Context, hint: &Hint) -> Option<usize> {
        let mut woken = 0;
        for obj in self.store.state() {
            let Some(k) = obj.valid().filter(|k| k.named_by(&hint.subject)) else {
                continue;
            };
            ctx.woken(&k.uid().unwrap_or_default(), hint.time);
            let target = object_ref(k.namespace(), &k.name_any());
            self.wake.unbounded_send(target).ok()?;
            woken += 1;
        }
        Some(woken)
    }

    fn wake_all(&self) {
        for obj in self.store.state() {
            let _ = self
                .wake
                .unbounded_send(object_ref(obj.namespace(), &obj.name_any()));
        }
    }
}

/// The reference a controller is woken with.
pub fn object_ref<K: Resource<DynamicType = ()>>(ns: Option<String>, name: &str) -> ObjectRef<K> {
    match ns {
        Some(ns) => ObjectRef::new(name).within(&ns),
        None => ObjectRef::new(name),
    }
}

/// Reads the queue until the future is dropped (with the controllers).
pub async fn run(ctx: Arc<Context>, queue: Queue, kinds: Vec<Box<dyn Wake>>, silence: Duration) {
    let mut failures = 0u32;
    let mut was_flowing = false;
    loop {
        match queue.receive(LONGEST_WAIT).await {
            Ok(messages) => {
                if failures > 0 {
                    info!("the event queue answers again: events resume");
                }
                failures = 0;
                ctx.metrics.events.queue_up(true);
                ctx.events.answered(messages.len());
                let handled = handle(&ctx, &kinds, &messages);
                if let Err(e) = queue.delete(&handled).await {
                    // They come back after their visibility timeout: a
                    // duplicate hint, harmless.
                    debug!(error = %e, "could not delete handled events");
                }
            }
            Err(e) => {
                failures += 1;
                ctx.metrics.events.queue_up(false);
                if failures == 1 {
                    warn!(error = %e, "the event queue fails: polling alone keeps status fresh until it answers again");
                } else {
                    debug!(error = %e, failures, "the event queue still fails");
                }
                tokio::time::sleep(retry_after(failures)).await;
            }
        }
        let flowing = ctx.events.flowing(silence);
        if was_flowing && !flowing {
            info!("events stopped flowing: objects at rest are read at --refresh-interval again");
            kinds.iter().for_each(|k| k.wake_all());
        }
        was_flowing = flowing;
    }
}

/// Wakes what each message names; returns the receipts of the messages
/// handled (all but those whose wake-up could not be handed over).
fn handle(ctx: &Context, kinds: &[Box<dyn Wake>], messages: &[Message]) -> Vec<String> {
    let events = &ctx.metrics.events;
    let mut handled = vec![];
    for m in messages {
        let outcome = match event::parse(&m.body) {
            Parsed::Hint(hint) => {
                events.received(hint.event_type);
                let woken: Option<usize> = kinds.iter().map(|k| k.wake(ctx, &hint)).sum();
                let Some(woken) = woken else { continue };
                debug!(event = hint.event_type, subject = ?hint.subject, woken, "event");
                if woken > 0 { "matched" } else { "unmatched" }
            }
            Parsed::Foreign(what) => {
                debug!(%what, "event about nothing the operator follows");
                "foreign"
            }
            Parsed::Malformed(why) => {
                debug!(%why, "malformed event");
                "malformed"
            }
        };
        events.outcome(outcome);
        handled.push(m.receipt.clone());
    }
    handled
}

/// The pause after `failures` failed receives in a row: 1 s, doubling, at
/// most a minute.
fn retry_after(failures: u32) -> Duration {
    let secs = 1u64 << failures.saturating_sub(1).min(6);
    Duration::from_secs(secs).min(LONGEST_RETRY)
}

#[cfg(test)]
mod tests {
    use super::retry_after;
    use std::time::Duration;

    #[test]
    fn a_failing_queue_is_retried_less_and_less_often() {
        let pauses: Vec<u64> = (1..=9).map(|f| retry_after(f).as_secs()).collect();
        assert_eq!(pauses, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert!(retry_after(u32::MAX) <= Duration::from_secs(60));
    }
}
