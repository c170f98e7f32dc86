//! The services' modelled errors and how they go on the wire.

use serde_json::json;

/// One of the error shapes of the service model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    BadRequest,
    Forbidden,
    NotFound,
    Conflict,
    ResourceLimitExceeded,
    Throttled,
    ServiceUnavailable,
    ServiceFailure,
    Unauthorized,
}

impl ErrorKind {
    pub(crate) fn status(self) -> u16 {
        match self {
            Self::BadRequest | Self::ResourceLimitExceeded => 400,
            Self::Forbidden => 403,
            Self::Unauthorized => 401,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::Throttled => 429,
            Self::ServiceFailure => 500,
            Self::ServiceUnavailable => 503,
        }
    }

    /// The shape name in `service`'s model; the SDK picks the typed error
    /// variant from it. Chime SDK Meetings names two of them otherwise.
    pub(crate) fn shape_in(self, service: Service) -> &'static str {
        match (service, self) {
            (Service::Meetings, Self::Throttled) => "ThrottlingException",
            (Service::Meetings, Self::Unauthorized) => "UnauthorizedException",
            _ => self.shape(),
        }
    }

    /// The shape name in the Media Pipelines model.
    fn shape(self) -> &'static str {
        match self {
            Self::BadRequest => "BadRequestException",
            Self::Forbidden => "ForbiddenException",
            Self::NotFound => "NotFoundException",
            Self::Conflict => "ConflictException",
            Self::ResourceLimitExceeded => "ResourceLimitExceededException",
            Self::Throttled => "ThrottledClientException",
            Self::ServiceUnavailable => "ServiceUnavailableException",
            Self::ServiceFailure => "ServiceFailureException",
            Self::Unauthorized => "UnauthorizedClientException",
        }
    }

    /// The `ErrorCode` enum value; the enum has no member for conflicts.
    fn code(self) -> Option<&'static str> {
        match self {
            Self::BadRequest => Some("BadRequest"),
            Self::Forbidden => Some("Forbidden"),
            Self::NotFound => Some("NotFound"),
            Self::Conflict | Self::Unauthorized => None,
            Self::ResourceLimitExceeded => Some("ResourceLimitExceeded"),
            Self::Throttled => Some("Throttling"),
            Self::ServiceUnavailable => Some("ServiceUnavailable"),
            Self::ServiceFailure => Some("ServiceFailure"),
        }
    }
}

/// The service a route belongs to: both share the listener and the signing
/// name `chime`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Service {
    MediaPipelines,
    Meetings,
}

#[derive(Clone, Debug)]
pub(crate) struct ApiError {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    pub(crate) fn body(&self, request_id: &str) -> serde_json::Value {
        let mut body = json!({ "Message": self.message, "RequestId": request_id });
        if let (Some(code), Some(map)) = (self.kind.code(), body.as_object_mut()) {
            map.insert("Code".into(), code.into());
        }
        body
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;
