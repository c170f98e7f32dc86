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
    /// An answer that we could not make sense of.
    #[error("unexpected answer from AWS: {0}")]
    Unexpected(String),
    /// A pool's deletion waits for the pipelines that still use it.
    #[error("{0}")]
    InUse(String),
    /// sources or sinks differ from those the pipeline was created with.
    #[error("{0}")]
    ImmutableFieldChanged(String),
    /// Writing to the Kubernetes API failed.
    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),
    /// Adding or removing our finalizer, or the step it wrapped, failed.
    #[error(transparent)]
    Finalizer(#[from] Box<kube::runtime::finalizer::Error<Error>>),
}

/// The condition reasons of errors that need a person ([`Retry::Permanent`]).
pub const PERMANENT_REASONS: [&str; 5] = [
    "BadRequest",
    "Forbidden",
    "Unauthorized",
    "NotFound",
    "ImmutableFieldChanged",
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
            Error::Unexpected(_) => "UnexpectedResponse",
            Error::ImmutableFieldChanged(_) => "ImmutableFieldChanged",
            Error::InUse(_) => "InUse",
            Error::Kube(_) => "KubernetesError",
            Error::Finalizer(e) => match e.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(inner)
                | kube::runtime::finalizer::Error::CleanupFailed(inner) => inner.reason(),
                _ => "KubernetesError",
            },
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
            Error::Finalizer(e) => match e.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(inner)
                | kube::runtime::finalizer::Error::CleanupFailed(inner) => inner.retry(),
                _ => Retry::Transient,
            },
            Error::ResourceLimitExceeded(_) => Retry::Limit,
            Error::BadRequest(_)
            | Error::Forbidden(_)
            | Error::Unauthorized(_)
            | Error::NotFound(_)
            | Error::ImmutableFieldChanged(_) => Retry::Permanent,
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
        )
    }

    /// Maps an AWS error code (the `x-amzn-ErrorType` shape name) to a variant.
    /// `None` means the request got no service answer at all.
    pub fn from_aws_code(code: Option<&str>, message: String) -> Error {
        match code {
            Some(
                "ThrottledClientException" | "ThrottlingException" | "TooManyRequestsException",
            ) => Error::Throttled(message),
            Some("ServiceUnavailableException") => Error::ServiceUnavailable(message),
            Some("ServiceFailureException" | "InternalServerError") => {
                Error::ServiceFailure(message)
            }
            Some("ResourceLimitExceededException") => Error::ResourceLimitExceeded(message),
            Some("BadRequestException" | "ValidationException") => Error::BadRequest(message),
            Some("ForbiddenException" | "AccessDeniedException") => Error::Forbidden(message),
            Some("UnauthorizedClientException" | "UnrecognizedClientException") => {
                Error::Unauthorized(message)
            }
            Some("NotFoundException") => Error::NotFound(message),
            Some("ConflictException") => Error::Conflict(message),
            Some(other) => Error::Unexpected(format!("{other}: {message}")),
            None => Error::Network(message),
        }
    }
}

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
            let e = Error::from_aws_code(Some(code), "m".into());
            assert_eq!(e.reason(), reason, "{code}");
            assert_eq!(e.retry(), retry, "{code}");
        }
        let e = Error::from_aws_code(None, "connection reset".into());
        assert_eq!((e.reason(), e.retry()), ("NetworkError", Retry::Transient));
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
