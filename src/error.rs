//! The operator's errors. Every variant maps to a condition reason, and to how
//! soon the failed step may be tried again.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// AWS throttled us (ThrottledClientException).
    #[error("AWS throttled the request: {0}")]
    Throttled(String),
    /// 503 ServiceUnavailableException.
    #[error("the service is unavailable: {0}")]
    ServiceUnavailable(String),
    /// 500 ServiceFailureException.
    #[error("the service failed: {0}")]
    ServiceFailure(String),
    /// No answer: connection, DNS, timeout.
    #[error("could not reach AWS: {0}")]
    Network(String),
    /// The region's limit of active media pipelines is reached.
    #[error("the limit of active media pipelines is reached: {0}")]
    ResourceLimitExceeded(String),
    /// AWS refused the request as given (e.g. a meeting or pool it does not accept).
    #[error("AWS refused the request: {0}")]
    BadRequest(String),
    /// The credentials may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The credentials are not valid.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// What the request names (the meeting, the pool) does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The resource is in a state that does not allow the operation.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The name is already taken in the Region (a pool's name): it stays
    /// taken until a person renames or deletes one of the two.
    #[error(
        "the name is already in use in this Region (by another resource, perhaps in another \
         namespace, or a pool made outside the operator): choose another spec.poolName or \
         delete the other pool. AWS: {0}"
    )]
    NameInUse(String),
    /// An answer that we could not make sense of.
    #[error("unexpected answer from AWS: {0}")]
    Unexpected(String),
    /// A pool's deletion waits for the pipelines that still use it.
    #[error("{0}")]
    InUse(String),
    /// sources or sinks differ from those the pipeline was created with.
    #[error("{0}")]
    ImmutableFieldChanged(String),
    /// A reference that cannot resolve until a person acts: a name no
    /// object can have, or a pool that failed or is gone.
    #[error("{0}")]
    InvalidReference(String),
    /// The object has a field the operator cannot read (stored before the
    /// CRD bounded it): the message names the field and its value.
    #[error("{0}")]
    InvalidField(String),
    /// The Region has no endpoint of the service: nothing is sent there.
    #[error("{0}")]
    UnsupportedRegion(String),
    /// The spec asks for something the operator refuses before any call
    /// (e.g. tag keys reserved for the operator).
    #[error("{0}")]
    InvalidSpec(String),
    /// Writing to the Kubernetes API failed.
    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),
}

/// A setting the operator cannot work with, found at start-up before it
/// does anything: named by its flag (or, for one without a flag, its field),
/// with the range it must lie in. Apart from [`Error`]: it never reaches a
/// reconcile, so it has neither a condition reason nor a retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value {value} for {setting}: {allowed}")]
pub struct InvalidSetting {
    /// The flag, e.g. `--poll-min`, or the field, e.g. `settings.poll_max`.
    pub setting: &'static str,
    pub value: String,
    /// What it must be, e.g. `must be from 1ms to 15s`.
    pub allowed: String,
}

/// The condition reasons of errors that need a person ([`Retry::Permanent`]).
pub const PERMANENT_REASONS: [&str; 10] = [
    "BadRequest",
    "Forbidden",
    "Unauthorized",
    "NotFound",
    "ImmutableFieldChanged",
    "InvalidSpec",
    "NameInUse",
    "InvalidReference",
    "InvalidField",
    "UnsupportedRegion",
];

/// How the controller treats an error class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Likely to pass soon: exponential backoff with jitter.
    Transient,
    /// Needs capacity to free up: retried at the slow limit interval.
    Limit,
    /// Needs a person (spec, IAM, meeting): retried rarely, or when the spec changes.
    Permanent,
}

impl Error {
    /// The condition reason for this error (CamelCase, as the API conventions ask).
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Throttled(_) => "Throttled",
            Error::ServiceUnavailable(_) => "ServiceUnavailable",
            Error::ServiceFailure(_) => "ServiceFailure",
            Error::Network(_) => "NetworkError",
            Error::ResourceLimitExceeded(_) => "ResourceLimitExceeded",
            Error::BadRequest(_) => "BadRequest",
            Error::Forbidden(_) => "Forbidden",
            Error::Unauthorized(_) => "Unauthorized",
            Error::NotFound(_) => "NotFound",
            Error::Conflict(_) => "Conflict",
            Error::NameInUse(_) => "NameInUse",
            Error::InvalidReference(_) => "InvalidReference",
            Error::InvalidField(_) => "InvalidField",
            Error::Unexpected(_) => "UnexpectedResponse",
            Error::ImmutableFieldChanged(_) => "ImmutableFieldChanged",
            Error::InvalidSpec(_) => "InvalidSpec",
            Error::UnsupportedRegion(_) => "UnsupportedRegion",
            Error::InUse(_) => "InUse",
            Error::Kube(_) => "KubernetesError",
        }
    }

    pub fn retry(&self) -> Retry {
        match self {
            Error::Throttled(_)
            | Error::ServiceUnavailable(_)
            | Error::ServiceFailure(_)
            | Error::Network(_)
            | Error::Conflict(_)
            | Error::Unexpected(_)
            | Error::InUse(_)
            | Error::Kube(_) => Retry::Transient,
            Error::ResourceLimitExceeded(_) => Retry::Limit,
            Error::BadRequest(_)
            | Error::Forbidden(_)
            | Error::Unauthorized(_)
            | Error::NotFound(_)
            | Error::ImmutableFieldChanged(_)
            | Error::InvalidSpec(_)
            | Error::NameInUse(_)
            | Error::InvalidReference(_)
            | Error::InvalidField(_)
            | Error::UnsupportedRegion(_) => Retry::Permanent,
        }
    }

    /// Might a create that failed so have made its object all the same? Yes
    /// unless AWS refused it outright (throttled, over the limit, or an
    /// answer saying why not): a 5xx, a timeout or a lost connection leave
    /// the outcome unknown.
    pub fn may_have_succeeded(&self) -> bool {
        !matches!(
            self,
            Error::Throttled(_)
                | Error::ResourceLimitExceeded(_)
                | Error::BadRequest(_)
                | Error::Forbidden(_)
                | Error::Unauthorized(_)
                | Error::NotFound(_)
                | Error::NameInUse(_)
                | Error::UnsupportedRegion(_)
        )
    }

    /// Classifies an AWS error by what it means for `operation`: the first
    /// row of [`AWS_ERRORS`] that matches. `code` is the error shape's name
    /// (`x-amzn-ErrorType`); `None` means the request got no service answer
    /// at all.
    pub fn from_aws(operation: &str, code: Option<&str>, message: String) -> Error {
        let Some(code) = code else {
            return Error::Network(message);
        };
        let row = AWS_ERRORS
            .iter()
            .find(|(op, c, _)| *c == code && op.is_none_or(|op| op == operation));
        match row {
            Some((_, _, make)) => make(message),
            None => Error::Unexpected(format!("{code}: {message}")),
        }
    }
}

/// What each AWS error means: (operation, or None for every operation;
/// error code; variant). Rows for one operation come before the general
/// ones. The model lists, per operation, the errors it may answer; a test
/// (tests/model_bounds.rs) classifies every one of them.
#[allow(clippy::type_complexity)]
pub const AWS_ERRORS: &[(Option<&str>, &str, fn(String) -> Error)] = &[
    // A pool's name is unique in its Region: the create's conflict is the
    // name, held by another pool; no retry can change that.
    (
        Some("CreateMediaPipelineKinesisVideoStreamPool"),
        "ConflictException",
        Error::NameInUse,
    ),
    // Elsewhere a conflict is a state that passes: a pool still in use or
    // being updated, a pipeline being deleted.
    (None, "ConflictException", Error::Conflict),
    (None, "ThrottledClientException", Error::Throttled),
    (None, "ThrottlingException", Error::Throttled),
    (None, "TooManyRequestsException", Error::Throttled),
    (
        None,
        "ServiceUnavailableException",
        Error::ServiceUnavailable,
    ),
    (None, "ServiceFailureException", Error::ServiceFailure),
    (None, "InternalServerError", Error::ServiceFailure),
    (
        None,
        "ResourceLimitExceededException",
        Error::ResourceLimitExceeded,
    ),
    (None, "BadRequestException", Error::BadRequest),
    (None, "ValidationException", Error::BadRequest),
    (None, "ForbiddenException", Error::Forbidden),
    (None, "AccessDeniedException", Error::Forbidden),
    (None, "UnauthorizedClientException", Error::Unauthorized),
    (None, "UnrecognizedClientException", Error::Unauthorized),
    // Chime SDK Meetings' name for it (GetMeeting).
    (None, "UnauthorizedException", Error::Unauthorized),
    (None, "NotFoundException", Error::NotFound),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_codes_map_to_classes() {
        let cases = [
            ("ThrottledClientException", "Throttled", Retry::Transient),
            (
                "ServiceUnavailableException",
                "ServiceUnavailable",
                Retry::Transient,
            ),
            (
                "ServiceFailureException",
                "ServiceFailure",
                Retry::Transient,
            ),
            (
                "ResourceLimitExceededException",
                "ResourceLimitExceeded",
                Retry::Limit,
            ),
            ("BadRequestException", "BadRequest", Retry::Permanent),
            ("ForbiddenException", "Forbidden", Retry::Permanent),
            (
                "UnauthorizedClientException",
                "Unauthorized",
                Retry::Permanent,
            ),
            ("NotFoundException", "NotFound", Retry::Permanent),
            ("ConflictException", "Conflict", Retry::Transient),
        ];
        for (code, reason, retry) in cases {
            let e = Error::from_aws("GetMediaPipeline", Some(code), "m".into());
            assert_eq!(e.reason(), reason, "{code}");
            assert_eq!(e.retry(), retry, "{code}");
        }
        let e = Error::from_aws("GetMediaPipeline", None, "connection reset".into());
        assert_eq!((e.reason(), e.retry()), ("NetworkError", Retry::Transient));
        // Chime SDK Meetings names two of them differently (GetMeeting).
        for (code, reason) in [
            ("ThrottlingException", "Throttled"),
            ("UnauthorizedException", "Unauthorized"),
        ] {
            let e = Error::from_aws("GetMeeting", Some(code), "m".into());
            assert_eq!(e.reason(), reason, "{code}");
        }
        // The same code means something else for a pool's create: its name.
        let op = "CreateMediaPipelineKinesisVideoStreamPool";
        let e = Error::from_aws(op, Some("ConflictException"), "taken".into());
        assert_eq!((e.reason(), e.retry()), ("NameInUse", Retry::Permanent));
        assert!(!e.may_have_succeeded());
    }

    #[test]
    fn permanent_reasons_are_those_of_permanent_errors() {
        let all = [
            Error::Throttled(String::new()),
            Error::ServiceUnavailable(String::new()),
            Error::ServiceFailure(String::new()),
            Error::Network(String::new()),
            Error::ResourceLimitExceeded(String::new()),
            Error::BadRequest(String::new()),
            Error::Forbidden(String::new()),
            Error::Unauthorized(String::new()),
            Error::NotFound(String::new()),
            Error::Conflict(String::new()),
            Error::Unexpected(String::new()),
            Error::ImmutableFieldChanged(String::new()),
            Error::InvalidSpec(String::new()),
            Error::NameInUse(String::new()),
            Error::InvalidReference(String::new()),
            Error::InvalidField(String::new()),
            Error::InUse(String::new()),
        ];
        for e in all {
            assert_eq!(
                PERMANENT_REASONS.contains(&e.reason()),
                e.retry() == Retry::Permanent,
                "{}",
                e.reason()
            );
        }
    }
}
