//! How GitOps tools read an object's health: Argo CD's Lua health checks
//! of deploy/argocd/ (run with Debian's lua5.1; Argo CD embeds gopher-lua, a
//! Lua 5.1) and kstatus, which Flux uses. Shared by tests/health.rs (sample
//! statuses) and the tests that check live objects.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

pub const ARGOCD_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/argocd");
pub const PIPELINE_LUA: &str = "health-mediastreampipeline.lua";
pub const POOL_LUA: &str = "health-kinesisvideostreampool.lua";
pub const CAPTURE_LUA: &str = "health-mediacapturepipeline.lua";
pub const CONCAT_LUA: &str = "health-mediaconcatenationpipeline.lua";

/// A Lua 5.1 string literal holding `s`.
pub fn lua_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            // Three digits, so a digit that follows cannot extend the escape.
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\{:03}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A Lua table constructor for a JSON value, the way Argo CD hands objects to
/// health scripts: objects become tables keyed by field name, arrays become
/// sequences (1-based), null fields are absent.
pub fn lua_value(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => lua_string(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(lua_value).collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Object(fields) => {
            let fields: Vec<String> = fields
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| format!("[{}] = {}", lua_string(k), lua_value(v)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub status: String,
    pub message: String,
}

pub fn read_script(file: &str) -> String {
    let path = format!("{ARGOCD_DIR}/{file}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Runs the health script `file` with `obj` as Argo CD would: `obj` global,
/// the script's chunk returns `hs`.
pub fn argocd_health(file: &str, obj: &Value) -> Health {
    let script = read_script(file);
    let chunk = format!(
        "obj = {}\nlocal hs = (function()\n{script}\nend)()\n\
         io.write(tostring(hs.status), \"\\n\", tostring(hs.message))\n",
        lua_value(obj)
    );
    let mut child = Command::new("lua5.1")
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run lua5.1 ({e}): install it with `apt-get install -y lua5.1`")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(chunk.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "lua5.1 failed on {file}: {}\nchunk:\n{chunk}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, message) = stdout.split_once('\n').unwrap_or((&stdout, ""));
    Health {
        status: status.into(),
        message: message.into(),
    }
}

// kstatus: what Flux (and `kubectl`-less tools built on cli-utils) read.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KStatus {
    InProgress,
    Failed,
    Current,
    Terminating,
}

/// kstatus's status of a custom resource (one without a type-specific rule),
/// in the order kstatus applies its rules. Source: sigs.k8s.io/cli-utils,
/// `pkg/kstatus/status/generic.go` (`checkGenericProperties`,
/// `checkGeneration`) and `status.go` (`Compute`), plus the section "The
/// `Ready` Condition" of `pkg/kstatus/README.md`:
///
/// 1. `metadata.deletionTimestamp` set: Terminating.
/// 2. `metadata.generation` and `status.observedGeneration` both present and
///    different: InProgress (`LatestGenerationNotObserved`). An absent
///    observedGeneration skips this rule.
/// 3. In condition order, the first of `Reconciling=True` (InProgress) or
///    `Stalled=True` (Failed).
/// 4. `Ready=True`: Current; `Ready=False`: InProgress (README; older
///    releases of generic.go skip this rule, which is why the operator must
///    set Reconciling while it works, and not rely on Ready=False).
/// 5. Otherwise, including no status or no conditions at all: Current.
pub fn kstatus(obj: &Value) -> KStatus {
    if obj["metadata"]["deletionTimestamp"]
        .as_str()
        .is_some_and(|t| !t.is_empty())
    {
        return KStatus::Terminating;
    }
    if let (Some(generation), Some(observed)) = (
        obj["metadata"]["generation"].as_i64(),
        obj["status"]["observedGeneration"].as_i64(),
    ) && generation != observed
    {
        return KStatus::InProgress;
    }
    let conditions = obj["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for c in &conditions {
        match (c["type"].as_str(), c["status"].as_str()) {
            (Some("Reconciling"), Some("True")) => return KStatus::InProgress,
            (Some("Stalled"), Some("True")) => return KStatus::Failed,
            _ => {}
        }
    }
    for c in &conditions {
        match (c["type"].as_str(), c["status"].as_str()) {
            (Some("Ready"), Some("True")) => return KStatus::Current,
            (Some("Ready"), Some("False")) => return KStatus::InProgress,
            _ => {}
        }
    }
    KStatus::Current
}
