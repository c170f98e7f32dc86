//! The HTTP side: connection handling, routing, authentication, fault
//! injection and call recording for the AWS routes (Media Pipelines, and
//! Chime SDK Meetings' GetMeeting on the same listener; SQS requests, told
//! apart by their `X-Amz-Target` header, go to `sqs`).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use axum::body::Body;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};
use uuid::Uuid;

use super::error::{ApiError, ApiResult, ErrorKind, Service};
use super::state::State;
use super::{CallRecord, FaultKind, admin, model, sqs};

/// Request bodies of this API are small; anything bigger is a client bug.
const BODY_LIMIT: usize = 1 << 20;

pub(crate) struct Shared {
    pub(crate) started: Instant,
    state: Mutex<State>,
}

impl Shared {
    pub(crate) fn new(state: State, started: Instant) -> Self {
        Self {
            started,
            state: Mutex::new(state),
        }
    }

    /// A panicking test thread must not take the emulator down with it.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Returned by the service to make hyper close the connection unanswered.
#[derive(Debug)]
pub(crate) struct DroppedConnection;

impl fmt::Display for DroppedConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DroppedConnection {}

pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    warn!(%error, "accept failed");
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let shared = Arc::clone(&shared);
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(Arc::clone(&shared), req));
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = shutdown.changed() => {}
            }
        });
    }
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, DroppedConnection> {
    if req.uri().path().starts_with(admin::PREFIX) {
        return Ok(admin::handle(&shared, req).await);
    }
    if let Some(operation) = sqs::operation(req.headers()) {
        return sqs::handle(&shared, req, operation).await;
    }
    let arrived = Instant::now();
    let request_id = Uuid::new_v4().to_string();
    let route = Route::of(req.method(), req.uri().path(), req.uri().query());
    let operation = route.operation();
    let signer = signer(req.headers());

    let (outcome, subject) = answer(&shared, req, &route, signer.region.as_deref()).await;
    let status = match &outcome {
        Outcome::Dropped => None,
        Outcome::Done(Ok((status, _))) => Some(*status),
        Outcome::Done(Err(error)) => Some(error.kind.status()),
    };
    record(&shared, arrived, operation, signer, status, subject);
    match outcome {
        Outcome::Dropped => Err(DroppedConnection),
        Outcome::Done(Ok((status, body))) => Ok(success(status, body, &request_id)),
        Outcome::Done(Err(error)) => Ok(failure(&error, &request_id, route.service())),
    }
}

/// Logs a call to an AWS route (any service), and records it.
pub(crate) fn record(
    shared: &Shared,
    arrived: Instant,
    operation: &str,
    signer: Signer,
    status: Option<u16>,
    subject: Option<String>,
) {
    info!(
        operation,
        region = signer.region.as_deref().unwrap_or("-"),
        status = status.map_or_else(|| "dropped".to_owned(), |s| s.to_string()),
        "request"
    );
    let mut state = shared.lock();
    let at_ms = state.elapsed_ms(arrived);
    state.record_call(CallRecord {
        operation: operation.to_owned(),
        region: signer.region,
        access_key_id: signer.access_key_id,
        status,
        at_ms,
        subject,
    });
}

enum Outcome {
    Done(ApiResult<(u16, Option<Value>)>),
    Dropped,
}

/// Answers a call; also names its subject for the call log: the
/// ClientRequestToken of a create, or the identifier in the path.
async fn answer(
    shared: &Shared,
    req: Request<Incoming>,
    route: &Route,
    region: Option<&str>,
) -> (Outcome, Option<String>) {
    if matches!(route, Route::Unknown) {
        let message = format!("No operation matches {} {}", req.method(), req.uri().path());
        return (Outcome::Done(Err(ApiError::not_found(message))), None);
    }
    let query = query_pairs(req.uri().query().unwrap_or(""));
    // The body is read before any fault, so that even a refused call is
    // logged with its subject (tests count attempts per resource).
    let body = match axum::body::to_bytes(Body::new(req.into_body()), BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let error = ApiError::bad_request("The request body could not be read");
            return (Outcome::Done(Err(error)), None);
        }
    };
    let subject = route.subject().or_else(|| {
        serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["ClientRequestToken"].as_str().map(str::to_owned))
    });
    let Some(region) = region else {
        let message =
            "Missing Authentication Token: the request must be signed with AWS4-HMAC-SHA256";
        return (
            Outcome::Done(Err(ApiError::new(ErrorKind::Forbidden, message))),
            subject,
        );
    };

    let (latency, fault) = shared.lock().take_faults(route.operation());
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let injected = match fault {
        None | Some(FaultKind::Latency(_)) => None,
        Some(FaultKind::Drop) => return (Outcome::Dropped, subject),
        Some(FaultKind::Throttle) => Some(ApiError::new(ErrorKind::Throttled, "Rate exceeded")),
        Some(FaultKind::Unavailable) => Some(ApiError::new(
            ErrorKind::ServiceUnavailable,
            "The service is currently unavailable",
        )),
        Some(FaultKind::Failure) => Some(ApiError::new(
            ErrorKind::ServiceFailure,
            "The service encountered an error",
        )),
        Some(FaultKind::Forbidden) => Some(ApiError::new(
            ErrorKind::Forbidden,
            "User is not authorized to perform this action (explicit deny in an identity-based policy)",
        )),
        Some(FaultKind::Unauthorized) => Some(ApiError::new(
            ErrorKind::Unauthorized,
            "The security token included in the request is invalid",
        )),
    };
    if let Some(error) = injected {
        return (Outcome::Done(Err(error)), subject);
    }
    (
        Outcome::Done(execute(shared, route, region, &query, &body)),
        subject,
    )
}

fn parse_json(body: &[u8]) -> ApiResult<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}")))
}

fn query_value<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Any kind of pipeline: 201 with the new pipeline.
fn create_pipeline(
    shared: &Shared,
    region: &str,
    input: model::CreatePipelineInput,
) -> ApiResult<(u16, Option<Value>)> {
    Ok((201, Some(shared.lock().create_pipeline(region, input)?)))
}

fn execute(
    shared: &Shared,
    route: &Route,
    region: &str,
    query: &[(String, String)],
    body: &[u8],
) -> ApiResult<(u16, Option<Value>)> {
    let next_token = query_value(query, "next-token");
    match route {
        Route::CreatePipeline => {
            let input = model::parse_create_pipeline(&parse_json(body)?)?;
            create_pipeline(shared, region, input)
        }
        Route::CreateCapturePipeline => {
            let input = model::parse_create_capture_pipeline(&parse_json(body)?)?;
            create_pipeline(shared, region, input)
        }
        Route::CreateConcatenationPipeline => {
            let input = model::parse_create_concatenation_pipeline(&parse_json(body)?)?;
            create_pipeline(shared, region, input)
        }
        Route::GetPipeline(id) => {
            model::check_pipeline_id(id)?;
            Ok((200, Some(shared.lock().get_pipeline(region, id)?)))
        }
        Route::DeletePipeline(id) => {
            model::check_pipeline_id(id)?;
            shared.lock().delete_pipeline(region, id)?;
            Ok((204, None))
        }
        Route::ListPipelines => {
            let max = model::parse_max_results(query_value(query, "max-results"))?;
            Ok((
                200,
                Some(shared.lock().list_pipelines(region, next_token, max)?),
            ))
        }
        Route::TagResource => {
            let (arn, tags) = model::parse_tag_resource(&parse_json(body)?)?;
            shared.lock().tag_resource(region, &arn, &tags)?;
            Ok((204, None))
        }
        Route::UntagResource => {
            let (arn, keys) = model::parse_untag_resource(&parse_json(body)?)?;
            shared.lock().untag_resource(region, &arn, &keys)?;
            Ok((204, None))
        }
        Route::ListTags => {
            let arn = query_value(query, "arn")
                .ok_or_else(|| ApiError::bad_request("ResourceARN is required"))?;
            model::check_resource_arn(arn, "ResourceARN")?;
            Ok((200, Some(shared.lock().list_tags(region, arn)?)))
        }
        Route::CreatePool => {
            let input = model::parse_create_pool(&parse_json(body)?)?;
            Ok((201, Some(shared.lock().create_pool(region, input)?)))
        }
        Route::GetPool(identifier) => {
            model::check_pool_identifier(identifier)?;
            Ok((200, Some(shared.lock().get_pool(region, identifier)?)))
        }
        Route::UpdatePool(identifier) => {
            model::check_pool_identifier(identifier)?;
            let retention = model::parse_update_pool(&parse_json(body)?)?;
            Ok((
                200,
                Some(shared.lock().update_pool(region, identifier, retention)?),
            ))
        }
        Route::DeletePool(identifier) => {
            model::check_pool_identifier(identifier)?;
            shared.lock().delete_pool(region, identifier)?;
            Ok((204, None))
        }
        Route::ListPools => {
            let max = model::parse_max_results(query_value(query, "max-results"))?;
            Ok((
                200,
                Some(shared.lock().list_pools(region, next_token, max)?),
            ))
        }
        Route::GetMeeting(id) => {
            model::check_meeting_id(id)?;
            Ok((200, Some(shared.lock().get_meeting(region, id)?)))
        }
        Route::Unknown => Err(ApiError::not_found("No such operation")),
    }
}

/// Who signed a request, from its SigV4 credential scope
/// (`Credential=AKID/20261125/us-east-1/chime/aws4_request`): the access
/// key ID and the region. Signatures are not verified: any credentials are
/// accepted.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Signer {
    pub(crate) access_key_id: Option<String>,
    pub(crate) region: Option<String>,
}

pub(crate) fn signer(headers: &HeaderMap) -> Signer {
    credential_scope(headers).map_or_else(Signer::default, |(key, region)| Signer {
        access_key_id: Some(key),
        region: Some(region),
    })
}

fn credential_scope(headers: &HeaderMap) -> Option<(String, String)> {
    let auth = headers.get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    let rest = auth.strip_prefix("AWS4-HMAC-SHA256")?;
    let scope = rest.split("Credential=").nth(1)?;
    let scope = scope.split([',', ' ']).next()?;
    let parts: Vec<&str> = scope.split('/').collect();
    match parts.as_slice() {
        [key, date, region, service, "aws4_request"]
            if !key.is_empty() && !date.is_empty() && !region.is_empty() && !service.is_empty() =>
        {
            Some(((*key).to_owned(), (*region).to_owned()))
        }
        _ => None,
    }
}

#[derive(Debug)]
enum Route {
    CreatePipeline,
    CreateCapturePipeline,
    CreateConcatenationPipeline,
    GetPipeline(String),
    DeletePipeline(String),
    ListPipelines,
    TagResource,
    UntagResource,
    ListTags,
    CreatePool,
    GetPool(String),
    UpdatePool(String),
    DeletePool(String),
    ListPools,
    /// Chime SDK Meetings' GetMeeting.
    GetMeeting(String),
    Unknown,
}

impl Route {
    /// The identifier the path names, if any.
    fn subject(&self) -> Option<String> {
        match self {
            Route::GetPipeline(id)
            | Route::DeletePipeline(id)
            | Route::GetPool(id)
            | Route::UpdatePool(id)
            | Route::DeletePool(id)
            | Route::GetMeeting(id) => Some(id.clone()),
            _ => None,
        }
    }

    fn of(method: &Method, path: &str, query: Option<&str>) -> Self {
        // Split before decoding: an identifier may be an ARN whose `/` arrives as %2F.
        let segments: Vec<String> = path
            .trim_matches('/')
            .split('/')
            .map(|s| percent_decode(s).unwrap_or_else(|| s.to_owned()))
            .collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let tag_operation = query_pairs(query.unwrap_or(""))
            .into_iter()
            .find(|(k, _)| k == "operation")
            .map(|(_, v)| v);
        match (method.as_str(), segments.as_slice()) {
            ("POST", ["sdk-media-stream-pipelines"]) => Self::CreatePipeline,
            ("POST", ["sdk-media-capture-pipelines"]) => Self::CreateCapturePipeline,
            ("POST", ["sdk-media-concatenation-pipelines"]) => Self::CreateConcatenationPipeline,
            ("GET", ["sdk-media-pipelines"]) => Self::ListPipelines,
            ("GET", ["sdk-media-pipelines", id]) => Self::GetPipeline((*id).to_owned()),
            ("DELETE", ["sdk-media-pipelines", id]) => Self::DeletePipeline((*id).to_owned()),
            ("POST", ["tags"]) => match tag_operation.as_deref() {
                Some("tag-resource") => Self::TagResource,
                Some("untag-resource") => Self::UntagResource,
                _ => Self::Unknown,
            },
            ("GET", ["tags"]) => Self::ListTags,
            ("POST", ["media-pipeline-kinesis-video-stream-pools"]) => Self::CreatePool,
            ("GET", ["media-pipeline-kinesis-video-stream-pools"]) => Self::ListPools,
            ("GET", ["media-pipeline-kinesis-video-stream-pools", id]) => {
                Self::GetPool((*id).to_owned())
            }
            ("PUT", ["media-pipeline-kinesis-video-stream-pools", id]) => {
                Self::UpdatePool((*id).to_owned())
            }
            ("DELETE", ["media-pipeline-kinesis-video-stream-pools", id]) => {
                Self::DeletePool((*id).to_owned())
            }
            ("GET", ["meetings", id]) => Self::GetMeeting((*id).to_owned()),
            _ => Self::Unknown,
        }
    }

    fn operation(&self) -> &'static str {
        match self {
            Self::CreatePipeline => "CreateMediaStreamPipeline",
            Self::CreateCapturePipeline => "CreateMediaCapturePipeline",
            Self::CreateConcatenationPipeline => "CreateMediaConcatenationPipeline",
            Self::GetPipeline(_) => "GetMediaPipeline",
            Self::DeletePipeline(_) => "DeleteMediaPipeline",
            Self::ListPipelines => "ListMediaPipelines",
            Self::TagResource => "TagResource",
            Self::UntagResource => "UntagResource",
            Self::ListTags => "ListTagsForResource",
            Self::CreatePool => "CreateMediaPipelineKinesisVideoStreamPool",
            Self::GetPool(_) => "GetMediaPipelineKinesisVideoStreamPool",
            Self::UpdatePool(_) => "UpdateMediaPipelineKinesisVideoStreamPool",
            Self::DeletePool(_) => "DeleteMediaPipelineKinesisVideoStreamPool",
            Self::ListPools => "ListMediaPipelineKinesisVideoStreamPools",
            Self::GetMeeting(_) => "GetMeeting",
            Self::Unknown => "Unknown",
        }
    }

    fn service(&self) -> Service {
        match self {
            Self::GetMeeting(_) => Service::Meetings,
            _ => Service::MediaPipelines,
        }
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| percent_decode(s).unwrap_or_else(|| s.to_owned());
            (decode(k), decode(v))
        })
        .collect()
}

pub(crate) fn with_headers(
    mut response: Response<Body>,
    status: u16,
    request_id: &str,
) -> Response<Body> {
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(id) = HeaderValue::from_str(request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-amzn-requestid"), id);
    }
    response
}

pub(crate) fn json_body(value: &Value) -> Response<Body> {
    let mut response = Response::new(Body::from(value.to_string()));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn success(status: u16, body: Option<Value>, request_id: &str) -> Response<Body> {
    let response = body
        .as_ref()
        .map_or_else(|| Response::new(Body::empty()), json_body);
    with_headers(response, status, request_id)
}

fn failure(error: &ApiError, request_id: &str, service: Service) -> Response<Body> {
    let mut response = with_headers(
        json_body(&error.body(request_id)),
        error.kind.status(),
        request_id,
    );
    response.headers_mut().insert(
        HeaderName::from_static("x-amzn-errortype"),
        HeaderValue::from_static(error.kind.shape_in(service)),
    );
    response
}

/// For the admin routes, which never fail in a way the SDK must parse.
pub(crate) fn plain(status: StatusCode, body: Option<&Value>) -> Response<Body> {
    let mut response = body.map_or_else(|| Response::new(Body::empty()), json_body);
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_signer_from_the_credential_scope() {
        let mut headers = HeaderMap::new();
        let auth = "AWS4-HMAC-SHA256 Credential=AKID/20261125/eu-west-2/chime/aws4_request, \
                    SignedHeaders=host;x-amz-date, Signature=abc";
        headers.insert(hyper::header::AUTHORIZATION, HeaderValue::from_static(auth));
        let signed = signer(&headers);
        assert_eq!(signed.region.as_deref(), Some("eu-west-2"));
        assert_eq!(signed.access_key_id.as_deref(), Some("AKID"));
        headers.insert(
            hyper::header::AUTHORIZATION,
            HeaderValue::from_static("Bearer x"),
        );
        assert_eq!(signer(&headers), Signer::default());
    }

    #[test]
    fn routes_decoded_identifiers() {
        let arn =
            "arn%3Aaws%3Achime%3Aus-east-1%3A1%3Amedia-pipeline-kinesis-video-stream-pool%2Fp";
        let route = Route::of(
            &Method::GET,
            &format!("/media-pipeline-kinesis-video-stream-pools/{arn}"),
            None,
        );
        assert!(
            matches!(route, Route::GetPool(ref id) if id == "arn:aws:chime:us-east-1:1:media-pipeline-kinesis-video-stream-pool/p")
        );
        let route = Route::of(&Method::POST, "/tags", Some("operation=untag-resource"));
        assert_eq!(route.operation(), "UntagResource");
    }
}
