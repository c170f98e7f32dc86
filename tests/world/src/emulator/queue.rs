//! The SQS queue `chime-events` that an EventBridge rule fills with Chime
//! SDK's events: messages, visibility timeouts, receipt handles, and the
//! chaos a test asks for between an event and the queue (loss, duplicates,
//! delay, reordering). The wire side is in `sqs`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use uuid::Uuid;

use super::EventChaos;
use super::sqs::SqsError;

pub(crate) const QUEUE_NAME: &str = "chime-events";
/// The queue's region in its ARN; calls signed for any region reach it.
const QUEUE_REGION: &str = "us-east-1";
/// The queue's `VisibilityTimeout` attribute, the default of a new queue.
pub(crate) const DEFAULT_VISIBILITY: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct Message {
    id: String,
    body: String,
    md5: String,
    sent: Timestamp,
    /// Until then the message is delayed (never received yet) or in flight.
    visible_at: Instant,
    receive_count: u32,
    first_receive: Option<Timestamp>,
}

/// A message as one ReceiveMessage hands it out.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub(crate) id: String,
    pub(crate) handle: String,
    pub(crate) body: String,
    pub(crate) md5: String,
    pub(crate) sent: Timestamp,
    pub(crate) receive_count: u32,
    pub(crate) first_receive: Timestamp,
}

/// How many messages are visible, in flight and delayed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) visible: usize,
    pub(crate) in_flight: usize,
    pub(crate) delayed: usize,
}

#[derive(Debug)]
pub(crate) struct Queue {
    account_id: String,
    available: bool,
    created: Timestamp,
    /// In delivery order: ReceiveMessage hands out the visible ones first
    /// to last.
    messages: Vec<Message>,
    /// Every receipt handle handed out (while the queue existed), to the
    /// message's ID: a handle of a message deleted since still deletes
    /// (nothing), as in SQS; a handle never handed out is invalid.
    handles: HashMap<String, String>,
    chaos: EventChaos,
    rng: StdRng,
    /// Every event Chime emitted while events were on, before any chaos.
    events: Vec<Value>,
    published: HashMap<String, usize>,
}

impl Queue {
    pub(crate) fn new(account_id: String) -> Self {
        let chaos = EventChaos::default();
        Self {
            account_id,
            available: true,
            created: Timestamp::now(),
            messages: Vec::new(),
            handles: HashMap::new(),
            rng: StdRng::seed_from_u64(chaos.seed),
            chaos,
            events: Vec::new(),
            published: HashMap::new(),
        }
    }

    pub(crate) fn arn(&self) -> String {
        format!(
            "arn:aws:sqs:{QUEUE_REGION}:{}:{QUEUE_NAME}",
            self.account_id
        )
    }

    /// The queue's URL on a server reached as `base` (`http://host:port`).
    pub(crate) fn url(&self, base: &str) -> String {
        format!(
            "{}/{}/{QUEUE_NAME}",
            base.trim_end_matches('/'),
            self.account_id
        )
    }

    pub(crate) fn available(&self) -> bool {
        self.available
    }

    /// Unavailable: the queue is gone, with its messages. Available again:
    /// a new, empty queue of the same name.
    pub(crate) fn set_available(&mut self, available: bool) {
        if self.available == available {
            return;
        }
        self.available = available;
        self.messages.clear();
        self.handles.clear();
        if available {
            self.created = Timestamp::now();
        }
    }

    /// Probabilities are clamped to 0..=1 (NaN counts as 0); the seed
    /// restarts the chaos's random sequence.
    pub(crate) fn set_chaos(&mut self, chaos: EventChaos) {
        let clamp = |p: f64| if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        self.rng = StdRng::seed_from_u64(chaos.seed);
        self.chaos = EventChaos {
            drop: clamp(chaos.drop),
            duplicate: clamp(chaos.duplicate),
            ..chaos
        };
    }

    /// The queue exists and `queue_url` names it: any scheme and host (the
    /// server may be reached under several names), path
    /// `/<account>/chime-events`.
    pub(crate) fn check(&self, queue_url: &str) -> Result<(), SqsError> {
        let path = queue_url
            .split_once("://")
            .and_then(|(_, rest)| rest.split_once('/'))
            .map(|(_, path)| path.trim_end_matches('/'));
        let ours = format!("{}/{QUEUE_NAME}", self.account_id);
        if self.available && path == Some(ours.as_str()) {
            Ok(())
        } else {
            Err(SqsError::no_queue())
        }
    }

    /// The queue that GetQueueUrl names: this one, if it exists.
    pub(crate) fn named(&self, name: &str, owner: Option<&str>) -> Result<(), SqsError> {
        let owner_ok = owner.is_none_or(|o| o == self.account_id);
        if self.available && name == QUEUE_NAME && owner_ok {
            Ok(())
        } else {
            Err(SqsError::no_queue())
        }
    }

    pub(crate) fn created(&self) -> Timestamp {
        self.created
    }

    /// An event Chime emitted: recorded, then through the chaos into the
    /// queue, if there is one.
    pub(crate) fn publish(&mut self, event_type: &str, event: Value) {
        *self.published.entry(event_type.to_owned()).or_default() += 1;
        let body = event.to_string();
        self.events.push(event);
        // Always three draws per event, so that a seed gives the same
        // outcome whatever the probabilities.
        let dropped = self.rng.random::<f64>() < self.chaos.drop;
        let duplicated = self.rng.random::<f64>() < self.chaos.duplicate;
        if dropped || !self.available {
            return;
        }
        let copies = if duplicated { 2 } else { 1 };
        for _ in 0..copies {
            self.enqueue(body.clone(), self.chaos.delay, self.chaos.reorder);
        }
    }

    /// A message straight into the queue (SendMessage, or a test's raw
    /// body), past the chaos; its ID, or `None` when there is no queue.
    pub(crate) fn send(&mut self, body: String, delay: Duration) -> Option<(String, String)> {
        if !self.available {
            return None;
        }
        let message = self.enqueue(body, delay, false);
        Some((message.id.clone(), message.md5.clone()))
    }

    fn enqueue(&mut self, body: String, delay: Duration, reorder: bool) -> &Message {
        let now = Instant::now();
        let message = Message {
            id: Uuid::new_v4().to_string(),
            md5: md5_hex(body.as_bytes()),
            body,
            sent: Timestamp::now(),
            visible_at: now.checked_add(delay).unwrap_or(now),
            receive_count: 0,
            first_receive: None,
        };
        let at = if reorder {
            self.rng.random_range(0..=self.messages.len())
        } else {
            self.messages.len()
        };
        self.messages.insert(at, message);
        &self.messages[at]
    }

    /// Up to `max` visible messages, oldest in delivery order first; each
    /// is invisible for `visibility` from now on, unless deleted.
    pub(crate) fn receive(&mut self, max: usize, visibility: Duration) -> Vec<Received> {
        let now = Instant::now();
        let ts = Timestamp::now();
        let mut out = Vec::new();
        for m in &mut self.messages {
            if out.len() >= max {
                break;
            }
            if m.visible_at > now {
                continue;
            }
            m.visible_at = now.checked_add(visibility).unwrap_or(now);
            m.receive_count = m.receive_count.saturating_add(1);
            let first_receive = *m.first_receive.get_or_insert(ts);
            let handle = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
            self.handles.insert(handle.clone(), m.id.clone());
            out.push(Received {
                id: m.id.clone(),
                handle,
                body: m.body.clone(),
                md5: m.md5.clone(),
                sent: m.sent,
                receive_count: m.receive_count,
                first_receive,
            });
        }
        out
    }

    /// Deletes the message a receipt handle was handed out for; fine if it
    /// is gone already.
    pub(crate) fn delete(&mut self, handle: &str) -> Result<(), SqsError> {
        let id = self
            .handles
            .get(handle)
            .ok_or_else(|| SqsError::invalid_handle(handle))?;
        self.messages.retain(|m| &m.id != id);
        Ok(())
    }

    pub(crate) fn counts(&self) -> Counts {
        let now = Instant::now();
        let mut counts = Counts::default();
        for m in &self.messages {
            if m.visible_at <= now {
                counts.visible += 1;
            } else if m.receive_count > 0 {
                counts.in_flight += 1;
            } else {
                counts.delayed += 1;
            }
        }
        counts
    }

    pub(crate) fn events(&self) -> Vec<Value> {
        self.events.clone()
    }

    pub(crate) fn published(&self) -> HashMap<String, usize> {
        self.published.clone()
    }
}

/// MD5 (RFC 1321) as lower-case hex: SQS answers `MD5OfBody` and
/// `MD5OfMessageBody`, and no crate of the workspace offers MD5.
pub(crate) fn md5_hex(data: &[u8]) -> String {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    // K[i] = floor(abs(sin(i + 1)) * 2^32), as the RFC defines them.
    let k: Vec<u32> = (0..64u32)
        .map(|i| {
            let v = (f64::from(i + 1).sin().abs() * 4_294_967_296.0).floor();
            // In 0..2^32 by construction; the cast only drops the fraction.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let v = v as u32;
            v
        })
        .collect();
    let mut state: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    let mut message = data.to_vec();
    let bit_len = u64::try_from(data.len())
        .unwrap_or(u64::MAX)
        .wrapping_mul(8);
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&bit_len.to_le_bytes());
    for chunk in message.chunks_exact(64) {
        let mut m = [0u32; 16];
        for (word, bytes) in m.iter_mut().zip(chunk.chunks_exact(4)) {
            *word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let rotated = a
                .wrapping_add(f)
                .wrapping_add(k[i])
                .wrapping_add(m[g])
                .rotate_left(S[i]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(rotated);
        }
        for (s, v) in state.iter_mut().zip([a, b, c, d]) {
            *s = s.wrapping_add(v);
        }
    }
    state
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_matches_rfc_1321_vectors() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            md5_hex(b"The quick brown fox jumps over the lazy dog"),
            "9e107d9d372bb6826bd81d3542a419d6"
        );
        let long =
            b"12345678901234567890123456789012345678901234567890123456789012345678901234567890";
        assert_eq!(md5_hex(long), "57edf4a22be3c955ac49da2e2107b67a");
    }

    #[test]
    fn urls_name_the_queue_by_path() {
        let q = Queue::new("111122223333".into());
        assert!(
            q.check("http://127.0.0.1:1/111122223333/chime-events")
                .is_ok()
        );
        assert!(q.check("https://sqs.x/111122223333/chime-events/").is_ok());
        assert!(q.check("http://127.0.0.1:1/111122223333/other").is_err());
        assert!(q.check("chime-events").is_err());
    }

    #[test]
    fn visibility_and_delete() {
        let mut q = Queue::new("1".into());
        q.send("a".into(), Duration::ZERO);
        let got = q.receive(10, Duration::from_secs(30));
        assert_eq!(got.len(), 1);
        assert!(q.receive(10, Duration::ZERO).is_empty());
        q.delete(&got[0].handle).unwrap();
        // A handle of a message deleted since still deletes nothing.
        q.delete(&got[0].handle).unwrap();
        assert!(q.delete("never-handed-out").is_err());
        assert_eq!(q.counts(), Counts::default());
    }
}
