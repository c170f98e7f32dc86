//! The optional event queue: an SQS queue that an EventBridge rule fills
//! with Chime SDK's state changes. ReceiveMessage (long polling) and
//! DeleteMessageBatch, nothing else.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs as sqs;
use jiff::Timestamp;

use super::client::{Aws, timed};
use crate::error::Error;
use crate::metrics::Metrics;

/// One SQS queue, by URL.
#[derive(Clone)]
pub struct Queue {
    client: sqs::Client,
    url: String,
    metrics: Arc<Metrics>,
}

/// A message as received: its body (an EventBridge event, as JSON), the
/// handle that deletes it, and when SQS got it.
#[derive(Debug, Clone)]
pub struct Message {
    pub body: String,
    pub receipt: String,
    pub sent: Option<Timestamp>,
}

impl Aws {
    /// The queue at `url`, in the Region its URL names
    /// (`https://sqs.<region>.amazonaws.com/...`), else the operator's.
    pub fn queue(&self, url: &str) -> Queue {
        // A long poll holds its request up to LONGEST_WAIT: the timeouts of
        // every other call (10 s an attempt) would cut each empty one short
        // and count it as a failure of the queue.
        let timeouts = match self.sdk().timeout_config() {
            Some(t) => t.to_builder(),
            None => aws_config::timeout::TimeoutConfig::builder(),
        };
        let timeouts = timeouts
            .operation_attempt_timeout(LONGEST_WAIT + Duration::from_secs(10))
            .operation_timeout(LONGEST_WAIT + Duration::from_secs(20))
            .build();
        let mut conf = sqs::config::Builder::from(self.sdk()).timeout_config(timeouts);
        if let Some(region) = url_region(url) {
            conf = conf.region(aws_config::Region::new(region.to_string()));
        }
        Queue {
            client: sqs::Client::from_conf(conf.build()),
            url: url.to_string(),
            metrics: self.metrics(),
        }
    }
}

/// The longest a ReceiveMessage may wait for a first message (SQS's most).
pub const LONGEST_WAIT: Duration = Duration::from_secs(20);

impl Queue {
    /// ReceiveMessage: up to 10 messages, waiting up to `wait` (at most
    /// [`LONGEST_WAIT`]) for the first.
    pub async fn receive(&self, wait: Duration) -> Result<Vec<Message>, Error> {
        let secs = i32::try_from(wait.min(LONGEST_WAIT).as_secs()).unwrap_or(20);
        let send = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .wait_time_seconds(secs)
            .message_system_attribute_names(sqs::types::MessageSystemAttributeName::SentTimestamp)
            .send();
        let out = timed(&self.metrics, "ReceiveMessage", send).await?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(message)
            .collect())
    }

    /// DeleteMessageBatch of up to 10 handles; a handle SQS no longer knows
    /// (deleted already, or expired) is no failure.
    pub async fn delete(&self, receipts: &[String]) -> Result<(), Error> {
        for chunk in receipts.chunks(10) {
            let entries = chunk.iter().enumerate().filter_map(|(i, r)| {
                sqs::types::DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(r)
                    .build()
                    .ok()
            });
            let send = self
                .client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries.collect()))
                .send();
            timed(&self.metrics, "DeleteMessageBatch", send).await?;
        }
        Ok(())
    }
}

fn message(m: sqs::types::Message) -> Option<Message> {
    let sent = m
        .attributes
        .as_ref()
        .and_then(|a| a.get(&sqs::types::MessageSystemAttributeName::SentTimestamp))
        .and_then(|ms| ms.parse::<i64>().ok())
        .and_then(|ms| Timestamp::from_millisecond(ms).ok());
    Some(Message {
        body: m.body?,
        receipt: m.receipt_handle?,
        sent,
    })
}

/// The Region of an SQS queue URL, when it names one.
fn url_region(url: &str) -> Option<&str> {
    let host = url.split("://").nth(1)?.split('/').next()?;
    let mut parts = host.split('.');
    (parts.next()? == "sqs").then_some(())?;
    parts.next().filter(|r| r.contains('-'))
}

#[cfg(test)]
mod tests {
    use super::url_region;

    #[test]
    fn a_queue_url_names_its_region() {
        let url = "https://sqs.eu-central-1.amazonaws.com/111122223333/chime-events";
        assert_eq!(url_region(url), Some("eu-central-1"));
        assert_eq!(url_region("http://127.0.0.1:4566/111122223333/q"), None);
    }
}
