//! The SQS wire protocol (JSON 1.0, `X-Amz-Target: AmazonSQS.<Operation>`,
//! POST to the endpoint), as aws-sdk-sqs speaks it, for the one queue of
//! Chime's events: ReceiveMessage (long polling, visibility timeout),
//! DeleteMessage, DeleteMessageBatch, GetQueueAttributes, SendMessage and
//! GetQueueUrl. It shares the listener with the Chime routes; the
//! `X-Amz-Target` header tells the two apart.
//!
//! Errors go as SQS sends them to JSON clients: the shape in `__type`, and
//! the query-compatible code in `x-amzn-query-error`
//! (`AWS.SimpleQueueService.NonExistentQueue;Sender`), which is what the
//! SDK matches its typed errors on.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use axum::body::Body;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::FaultKind;
use super::queue::{DEFAULT_VISIBILITY, Received};
use super::server::{DroppedConnection, Shared, record, signer, with_headers};

const TARGET_PREFIX: &str = "AmazonSQS.";
/// The operations served; any other target is `UnknownOperationException`.
const OPERATIONS: [&str; 6] = [
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
    "GetQueueAttributes",
    "SendMessage",
    "GetQueueUrl",
];
/// How often a long poll looks at the queue again: short enough that it
/// answers "as soon as" a message is there, as far as tests can tell.
const POLL: Duration = Duration::from_millis(10);
/// SQS's limit on a message body.
const MAX_BODY: usize = 262_144;
const BATCH_MAX: usize = 10;
const SENDER_ID: &str = "AIDAEMULATOREVENTS";
/// Requests are small; the largest is a SendMessage of `MAX_BODY` bytes,
/// JSON-escaped.
const REQUEST_LIMIT: usize = 8 * MAX_BODY;

/// An SQS error as it goes on the wire.
#[derive(Clone, Debug)]
pub(crate) struct SqsError {
    status: u16,
    /// The shape, in `__type`.
    shape: &'static str,
    /// The query-compatible error code the SDK matches on.
    code: &'static str,
    message: String,
}

impl SqsError {
    fn new(
        status: u16,
        shape: &'static str,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            shape,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn no_queue() -> Self {
        Self::new(
            400,
            "QueueDoesNotExist",
            "AWS.SimpleQueueService.NonExistentQueue",
            "The specified queue does not exist.",
        )
    }

    pub(crate) fn invalid_handle(handle: &str) -> Self {
        Self::new(
            400,
            "ReceiptHandleIsInvalid",
            "ReceiptHandleIsInvalid",
            format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
        )
    }

    fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(
            400,
            "InvalidParameterValue",
            "InvalidParameterValue",
            message,
        )
    }

    fn missing_parameter(name: &str) -> Self {
        Self::new(
            400,
            "MissingParameter",
            "MissingParameter",
            format!("The request must contain the parameter {name}."),
        )
    }

    /// The fault a test injected, as SQS would show it; `None` for latency.
    fn injected(kind: FaultKind) -> Option<Self> {
        Some(match kind {
            FaultKind::Latency(_) | FaultKind::Drop => return None,
            FaultKind::Throttle => {
                Self::new(400, "RequestThrottled", "RequestThrottled", "Rate exceeded")
            }
            FaultKind::Unavailable => Self::new(
                503,
                "ServiceUnavailable",
                "ServiceUnavailable",
                "The service is currently unavailable",
            ),
            FaultKind::Failure => Self::new(
                500,
                "InternalFailure",
                "InternalFailure",
                "The request processing has failed because of an unknown error",
            ),
            FaultKind::Forbidden => Self::new(
                403,
                "AccessDeniedException",
                "AccessDenied",
                "User is not authorized to perform this action (explicit deny in an identity-based policy)",
            ),
            FaultKind::Unauthorized => Self::new(
                403,
                "UnrecognizedClientException",
                "InvalidClientTokenId",
                "The security token included in the request is invalid",
            ),
        })
    }

    fn response(&self, request_id: &str) -> Response<Body> {
        let body = json!({
            "__type": format!("com.amazonaws.sqs#{}", self.shape),
            "message": self.message,
        });
        let mut response = with_headers(json_response(&body), self.status, request_id);
        let fault = if self.status < 500 {
            "Sender"
        } else {
            "Receiver"
        };
        if let Ok(value) = HeaderValue::from_str(&format!("{};{fault}", self.code)) {
            response
                .headers_mut()
                .insert(HeaderName::from_static("x-amzn-query-error"), value);
        }
        response
    }
}

/// The SQS operation a request names in `X-Amz-Target` (`Unknown` for an
/// operation not served); `None` when it is no SQS request.
pub(crate) fn operation(headers: &HeaderMap) -> Option<&'static str> {
    let target = headers.get("x-amz-target")?.to_str().ok()?;
    let name = target.strip_prefix(TARGET_PREFIX)?;
    Some(
        OPERATIONS
            .into_iter()
            .find(|op| *op == name)
            .unwrap_or("Unknown"),
    )
}

/// Answers one SQS request and records it as a call.
pub(crate) async fn handle(
    shared: &Shared,
    req: Request<Incoming>,
    operation: &'static str,
) -> Result<Response<Body>, DroppedConnection> {
    let arrived = Instant::now();
    let request_id = Uuid::new_v4().to_string();
    let signer = signer(req.headers());
    let base = base_url(req.headers());
    let outcome = answer(shared, req, operation, signer.region.is_some(), &base).await;
    let status = outcome
        .as_ref()
        .map(|result| result.as_ref().map_or_else(|e| e.status, |_| 200));
    record(shared, arrived, operation, signer, status, None);
    match outcome {
        None => Err(DroppedConnection),
        Some(Ok(body)) => Ok(with_headers(json_response(&body), 200, &request_id)),
        Some(Err(error)) => Ok(error.response(&request_id)),
    }
}

/// The server as the client reached it (`http://<Host>`): queue URLs
/// name it so.
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(|| "http://localhost".to_owned(), |h| format!("http://{h}"))
}

fn json_response(body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::from(body.to_string()));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    response
}

/// `None`: the connection is to be dropped (an injected fault).
async fn answer(
    shared: &Shared,
    req: Request<Incoming>,
    operation: &'static str,
    signed: bool,
    base: &str,
) -> Option<Result<Value, SqsError>> {
    let Ok(bytes) = axum::body::to_bytes(Body::new(req.into_body()), REQUEST_LIMIT).await else {
        return Some(Err(SqsError::invalid_parameter(
            "The request body could not be read",
        )));
    };
    if !signed {
        return Some(Err(SqsError::new(
            403,
            "MissingAuthenticationTokenException",
            "MissingAuthenticationToken",
            "Missing Authentication Token: the request must be signed with AWS4-HMAC-SHA256",
        )));
    }
    let (latency, fault) = shared.lock().take_faults(operation);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if fault == Some(FaultKind::Drop) {
        return None;
    }
    if let Some(error) = fault.and_then(SqsError::injected) {
        return Some(Err(error));
    }
    let input = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(value) if value.is_object() => value,
            _ => {
                return Some(Err(SqsError::new(
                    400,
                    "SerializationException",
                    "SerializationException",
                    "The request body is not a JSON object",
                )));
            }
        }
    };
    Some(execute(shared, operation, &input, base).await)
}

async fn execute(
    shared: &Shared,
    operation: &str,
    input: &Value,
    base: &str,
) -> Result<Value, SqsError> {
    match operation {
        "ReceiveMessage" => receive(shared, input).await,
        "DeleteMessage" => {
            let url = required(input, "QueueUrl")?;
            let handle = required(input, "ReceiptHandle")?;
            let mut state = shared.lock();
            let queue = state.queue();
            queue.check(url)?;
            queue.delete(handle)?;
            Ok(json!({}))
        }
        "DeleteMessageBatch" => delete_batch(shared, input),
        "GetQueueAttributes" => attributes(shared, input),
        "SendMessage" => send(shared, input),
        "GetQueueUrl" => {
            let name = required(input, "QueueName")?;
            let owner = input["QueueOwnerAWSAccountId"].as_str();
            let mut state = shared.lock();
            let queue = state.queue();
            queue.named(name, owner)?;
            Ok(json!({ "QueueUrl": queue.url(base) }))
        }
        _ => Err(SqsError::new(
            400,
            "UnknownOperationException",
            "UnknownOperation",
            "The emulator serves ReceiveMessage, DeleteMessage, DeleteMessageBatch, \
             GetQueueAttributes, SendMessage and GetQueueUrl",
        )),
    }
}

fn required<'a>(input: &'a Value, name: &str) -> Result<&'a str, SqsError> {
    input[name]
        .as_str()
        .ok_or_else(|| SqsError::missing_parameter(name))
}

/// An optional integer member within `lo..=hi`.
fn bounded(input: &Value, name: &str, lo: u64, hi: u64) -> Result<Option<u64>, SqsError> {
    let value = &input[name];
    if value.is_null() {
        return Ok(None);
    }
    match value.as_u64() {
        Some(n) if (lo..=hi).contains(&n) => Ok(Some(n)),
        _ => Err(SqsError::invalid_parameter(format!(
            "Value {value} for parameter {name} is invalid. Reason: Must be between {lo} and {hi}, if provided."
        ))),
    }
}

fn strings(input: &Value, name: &str) -> Vec<String> {
    input[name]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// ReceiveMessage: waits up to `WaitTimeSeconds` for a first message, then
/// answers at once with up to `MaxNumberOfMessages`.
async fn receive(shared: &Shared, input: &Value) -> Result<Value, SqsError> {
    let url = required(input, "QueueUrl")?;
    let max = bounded(input, "MaxNumberOfMessages", 1, 10)?.unwrap_or(1);
    let wait = bounded(input, "WaitTimeSeconds", 0, 20)?.unwrap_or(0);
    let visibility = bounded(input, "VisibilityTimeout", 0, 43_200)?
        .map_or(DEFAULT_VISIBILITY, Duration::from_secs);
    // The deprecated AttributeNames and its successor ask for the same.
    let mut names = strings(input, "AttributeNames");
    names.extend(strings(input, "MessageSystemAttributeNames"));
    let max = usize::try_from(max).unwrap_or(1);
    let deadline = Instant::now() + Duration::from_secs(wait);
    loop {
        let received = {
            let mut state = shared.lock();
            let queue = state.queue();
            queue.check(url)?;
            queue.receive(max, visibility)
        };
        let now = Instant::now();
        if !received.is_empty() {
            let messages: Vec<Value> = received.iter().map(|m| message(m, &names)).collect();
            return Ok(json!({ "Messages": messages }));
        }
        if now >= deadline {
            // SQS leaves `Messages` out when there are none.
            return Ok(json!({}));
        }
        tokio::time::sleep(POLL.min(deadline - now)).await;
    }
}

fn message(m: &Received, names: &[String]) -> Value {
    let wanted = |name: &str| names.iter().any(|n| n == name || n == "All");
    let mut attributes = Map::new();
    for (name, value) in [
        ("SenderId", SENDER_ID.to_owned()),
        ("SentTimestamp", m.sent.as_millisecond().to_string()),
        ("ApproximateReceiveCount", m.receive_count.to_string()),
        (
            "ApproximateFirstReceiveTimestamp",
            m.first_receive.as_millisecond().to_string(),
        ),
    ] {
        if wanted(name) {
            attributes.insert(name.to_owned(), value.into());
        }
    }
    let mut out = json!({
        "MessageId": m.id,
        "ReceiptHandle": m.handle,
        "MD5OfBody": m.md5,
        "Body": m.body,
    });
    if let (false, Some(map)) = (attributes.is_empty(), out.as_object_mut()) {
        map.insert("Attributes".into(), Value::Object(attributes));
    }
    out
}

fn delete_batch(shared: &Shared, input: &Value) -> Result<Value, SqsError> {
    let url = required(input, "QueueUrl")?;
    let entries = input["Entries"]
        .as_array()
        .ok_or_else(|| SqsError::missing_parameter("Entries"))?;
    if entries.is_empty() {
        return Err(SqsError::new(
            400,
            "EmptyBatchRequest",
            "AWS.SimpleQueueService.EmptyBatchRequest",
            "There should be at least one DeleteMessageBatchRequestEntry in the request.",
        ));
    }
    if entries.len() > BATCH_MAX {
        return Err(SqsError::new(
            400,
            "TooManyEntriesInBatchRequest",
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            format!(
                "Maximum number of entries per request are {BATCH_MAX}. You have sent {}.",
                entries.len()
            ),
        ));
    }
    let mut seen = HashSet::new();
    for entry in entries {
        let id = entry["Id"].as_str().unwrap_or_default();
        let valid = (1..=80).contains(&id.len())
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(SqsError::new(
                400,
                "InvalidBatchEntryId",
                "AWS.SimpleQueueService.InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and \
                 underscores. It can be at most 80 letters long.",
            ));
        }
        if !seen.insert(id) {
            return Err(SqsError::new(
                400,
                "BatchEntryIdsNotDistinct",
                "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
                format!("Id {id} repeated."),
            ));
        }
    }
    let mut state = shared.lock();
    let queue = state.queue();
    queue.check(url)?;
    let (mut successful, mut failed) = (Vec::new(), Vec::new());
    for entry in entries {
        let id = entry["Id"].as_str().unwrap_or_default();
        let handle = entry["ReceiptHandle"].as_str().unwrap_or_default();
        match queue.delete(handle) {
            Ok(()) => successful.push(json!({ "Id": id })),
            Err(e) => failed.push(json!({
                "Id": id, "SenderFault": true, "Code": e.code, "Message": e.message,
            })),
        }
    }
    Ok(json!({ "Successful": successful, "Failed": failed }))
}

/// The attributes of the model's `QueueAttributeName` that a standard queue
/// without a policy, redrive or KMS key has no value for: asked for, they
/// are left out; any other unknown name is `InvalidAttributeName`.
const ABSENT_ATTRIBUTES: [&str; 9] = [
    "Policy",
    "RedrivePolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedriveAllowPolicy",
];

fn attributes(shared: &Shared, input: &Value) -> Result<Value, SqsError> {
    let url = required(input, "QueueUrl")?;
    let names = strings(input, "AttributeNames");
    let mut state = shared.lock();
    let queue = state.queue();
    queue.check(url)?;
    let counts = queue.counts();
    let created = queue.created().as_second().to_string();
    let all = [
        ("QueueArn", queue.arn()),
        ("ApproximateNumberOfMessages", counts.visible.to_string()),
        (
            "ApproximateNumberOfMessagesNotVisible",
            counts.in_flight.to_string(),
        ),
        (
            "ApproximateNumberOfMessagesDelayed",
            counts.delayed.to_string(),
        ),
        ("CreatedTimestamp", created.clone()),
        ("LastModifiedTimestamp", created),
        (
            "VisibilityTimeout",
            DEFAULT_VISIBILITY.as_secs().to_string(),
        ),
        ("MaximumMessageSize", MAX_BODY.to_string()),
        ("MessageRetentionPeriod", "345600".to_owned()),
        ("DelaySeconds", "0".to_owned()),
        ("ReceiveMessageWaitTimeSeconds", "0".to_owned()),
        ("SqsManagedSseEnabled", "true".to_owned()),
    ];
    let mut out = Map::new();
    for name in &names {
        let known = all.iter().any(|(n, _)| n == name);
        if !known && name != "All" && !ABSENT_ATTRIBUTES.contains(&name.as_str()) {
            return Err(SqsError::new(
                400,
                "InvalidAttributeName",
                "InvalidAttributeName",
                format!("Unknown Attribute {name}."),
            ));
        }
    }
    for (name, value) in all {
        if names.iter().any(|n| n == name || n == "All") {
            out.insert(name.to_owned(), value.into());
        }
    }
    if out.is_empty() {
        return Ok(json!({}));
    }
    Ok(json!({ "Attributes": out }))
}

/// The characters SQS allows in a message body.
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn send(shared: &Shared, input: &Value) -> Result<Value, SqsError> {
    let url = required(input, "QueueUrl")?;
    let body = required(input, "MessageBody")?;
    if body.is_empty() {
        return Err(SqsError::missing_parameter("MessageBody"));
    }
    if body.len() > MAX_BODY {
        return Err(SqsError::invalid_parameter(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {MAX_BODY} bytes."
        )));
    }
    if let Some(c) = body.chars().find(|c| !allowed(*c)) {
        return Err(SqsError::new(
            400,
            "InvalidMessageContents",
            "InvalidMessageContents",
            format!(
                "Invalid binary character '#x{:X}' was found in the message body, the set of \
                 allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | \
                 #x10000 to #x10FFFF",
                u32::from(c)
            ),
        ));
    }
    let delay = bounded(input, "DelaySeconds", 0, 900)?.unwrap_or(0);
    let mut state = shared.lock();
    let queue = state.queue();
    queue.check(url)?;
    let (id, md5) = queue
        .send(body.to_owned(), Duration::from_secs(delay))
        .ok_or_else(SqsError::no_queue)?;
    Ok(json!({ "MessageId": id, "MD5OfMessageBody": md5 }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_name_sqs_operations() {
        let mut headers = HeaderMap::new();
        assert_eq!(operation(&headers), None);
        headers.insert(
            "x-amz-target",
            HeaderValue::from_static("AmazonSQS.ReceiveMessage"),
        );
        assert_eq!(operation(&headers), Some("ReceiveMessage"));
        headers.insert(
            "x-amz-target",
            HeaderValue::from_static("AmazonSQS.PurgeQueue"),
        );
        assert_eq!(operation(&headers), Some("Unknown"));
    }

    #[test]
    fn bounded_members() {
        let input = json!({ "MaxNumberOfMessages": 11, "WaitTimeSeconds": 20 });
        assert!(bounded(&input, "MaxNumberOfMessages", 1, 10).is_err());
        assert_eq!(bounded(&input, "WaitTimeSeconds", 0, 20).unwrap(), Some(20));
        assert_eq!(bounded(&input, "VisibilityTimeout", 0, 5).unwrap(), None);
    }
}
