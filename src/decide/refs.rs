//! References between resources of a namespace (a stream pipeline's
//! `poolRef`, a concatenation's `captureRef`): resolved to the ARN of the
//! object the named resource records, once it is ready for its user;
//! until then the create waits, or (a name no object can have, a resource
//! that failed) stalls.

use super::flow::Hold;
use crate::error::Error;

/// A reference, as a spec gives it.
pub struct Ref<'a> {
    /// The spec field, for messages (`spec.sinks[].poolRef.name`).
    pub field: &'static str,
    /// The kind it names.
    pub kind: &'static str,
    /// The Ready reason while the create waits for it.
    pub waiting: &'static str,
    /// What the named resource must be for its user (`ACTIVE`, `finished`).
    pub goal: &'static str,
    pub namespace: &'a str,
    pub name: &'a str,
}

/// What the named resource's status says of it.
pub enum Readiness {
    /// Usable: its object's ARN.
    Ready(String),
    /// It may become usable: where it stands.
    NotYet(Option<String>),
    /// It never will (failed, gone): where it stands.
    Broken(String),
}

/// The ARN a reference resolves to, or why not. `target` is the named
/// resource as read (None: no such resource; `Err`: it does not decode,
/// with why); `judge` reads its status.
pub fn resolve<S>(
    r: &Ref<'_>,
    target: Option<Result<&S, String>>,
    judge: impl Fn(&S) -> Readiness,
) -> Result<String, Hold> {
    let what = format!("{} {}/{}", r.kind, r.namespace, r.name);
    let refused = |message: String| Err(Hold::Refused(Error::InvalidReference(message)));
    let waiting = |message: String| {
        Err(Hold::Waiting {
            reason: r.waiting,
            message,
        })
    };
    if !is_object_name(r.name) {
        return refused(format!(
            "{} {:?} is not a Kubernetes object name (a {} of this namespace, lower case, no \
             slash): no such resource can exist; fix the name",
            r.field, r.name, r.kind
        ));
    }
    match target {
        None => waiting(format!("Waiting for {what}: it does not exist")),
        Some(Err(why)) => refused(format!("{what} cannot be read: {why}")),
        Some(Ok(status)) => match judge(status) {
            Readiness::Ready(arn) => Ok(arn),
            Readiness::Broken(state) => refused(format!(
                "{what} is {state}: fix or recreate it, or name another one"
            )),
            Readiness::NotYet(state) => waiting(format!(
                "Waiting for {what} to be {} (it is {})",
                r.goal,
                state.as_deref().unwrap_or("not created yet")
            )),
        },
    }
}

/// A Kubernetes object name (RFC 1123 subdomain), as the CRDs' pattern for
/// references ([`crate::crd::OBJECT_NAME_PATTERN`]) and maxLength say.
pub fn is_object_name(name: &str) -> bool {
    let label = |l: &str| {
        let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let bytes = l.as_bytes();
        bytes.first().is_some_and(|&b| alnum(b))
            && bytes.last().is_some_and(|&b| alnum(b))
            && bytes.iter().all(|&b| alnum(b) || b == b'-')
    };
    name.len() <= 253 && name.split('.').all(label)
}
