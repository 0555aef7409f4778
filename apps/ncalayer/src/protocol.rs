//! NCALayer's wire format: one JSON text frame per request, one per answer, in order.
//!
//! On connect the stand-in sends the version greeting `{"result":{"version":"1.4"}}`.
//! A request is `{"module": M, "method": F, "args": A}`:
//!
//! - `kz.gov.pki.knca.commonUtils` ([`crate::common_utils`]): `args` is a positional
//!   array; the answer is `{"code":"200","responseObject":R}` (`{"code":"200"}` when there
//!   is nothing to return) or `{"code":"500","message":M}`;
//! - `kz.gov.pki.knca.basics` ([`crate::basics`]): `args` is an object; the answer is
//!   `{"status":true,"body":{"result":R}}`, `{"status":true,"body":{}}` when the user
//!   cancelled, or `{"status":false,"code":C,"message":M,"details":D}`;
//! - `egov.ncalayer.control` ([`crate::control`]): the stand-in's own module, in the
//!   commonUtils shape, that sets what its headless dialog does;
//! - any other module: `{"success":false,"errorCode":"MODULE_NOT_FOUND"}`.
//!
//! `--heartbeat--` is echoed. A frame that is not a JSON object gets a commonUtils error
//! naming the JSON problem; no input closes the connection. `docs/ncalayer.md` lists every
//! answer and which of them are recorded from NCALayer itself.

use serde_json::{Map, Value, json};

use crate::Shared;

/// The version the greeting announces.
pub const VERSION: &str = "1.4";
/// The keep-alive frame clients send and NCALayer echoes.
pub const HEARTBEAT: &str = "--heartbeat--";
/// The module of the classic signing calls.
pub const COMMON_UTILS: &str = "kz.gov.pki.knca.commonUtils";
/// The module of the 2022 `sign` call.
pub const BASICS: &str = "kz.gov.pki.knca.basics";
/// The stand-in's own control module.
pub const CONTROL: &str = "egov.ncalayer.control";

/// The frame sent first on every connection.
pub fn greeting() -> String {
    json!({ "result": { "version": VERSION } }).to_string()
}

/// A commonUtils-shaped answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Common {
    /// `{"code":"200","responseObject":R}`.
    Ok(Value),
    /// `{"code":"200"}`.
    Done,
    /// `{"code":"500","message":M}`.
    Fail(String),
}

impl Common {
    /// The JSON frame.
    pub fn to_json(&self) -> Value {
        match self {
            Common::Ok(v) => json!({ "code": "200", "responseObject": v }),
            Common::Done => json!({ "code": "200" }),
            Common::Fail(m) => json!({ "code": "500", "message": m }),
        }
    }
}

/// A basics-shaped answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Basics {
    /// `{"status":true,"body":{"result":R}}`.
    Ok(Value),
    /// `{"status":true,"body":{}}`: the user cancelled.
    Cancelled,
    /// `{"status":false,"code":C,"message":M,"details":D}`.
    Fail {
        /// One of NCALayer's failure codes (`INVOCATION_ERROR`, `SIGNING_FAILURE`...).
        code: &'static str,
        /// Its message.
        message: String,
        /// The cause.
        details: String,
    },
}

impl Basics {
    /// `INVOCATION_ERROR`: the method threw; `details` says what.
    pub fn invocation(details: impl Into<String>) -> Self {
        Basics::Fail {
            code: "INVOCATION_ERROR",
            message: "An invoked method threw an exception.".into(),
            details: details.into(),
        }
    }

    /// The JSON frame.
    pub fn to_json(&self) -> Value {
        match self {
            Basics::Ok(v) => json!({ "status": true, "body": { "result": v } }),
            Basics::Cancelled => json!({ "status": true, "body": {} }),
            Basics::Fail {
                code,
                message,
                details,
            } => json!({ "status": false, "code": code, "message": message, "details": details }),
        }
    }
}

/// The answer to an unknown module.
pub fn module_not_found() -> Value {
    json!({ "success": false, "errorCode": "MODULE_NOT_FOUND" })
}

/// The JSON parser's complaint, worded as NCALayer's parser (org.json) words it.
fn json_problem(text: &str, e: Option<serde_json::Error>) -> String {
    match e {
        _ if !text.trim_start().starts_with('{') => {
            "org.json.JSONException: A JSONObject text must begin with '{' at 1".into()
        }
        Some(e) => format!("org.json.JSONException: {e}"),
        None => "org.json.JSONException: not a JSONObject".into(),
    }
}

/// The answer to one text frame.
pub fn answer(text: &str, shared: &Shared) -> String {
    if text == HEARTBEAT {
        return HEARTBEAT.to_string();
    }
    let request: Map<String, Value> = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Common::Fail(json_problem(text, None)).to_json().to_string(),
        Err(e) => {
            return Common::Fail(json_problem(text, Some(e)))
                .to_json()
                .to_string();
        }
    };
    let method = request.get("method").and_then(Value::as_str).unwrap_or("");
    let args = request.get("args");
    let module = request.get("module").and_then(Value::as_str);
    let reply = match module {
        Some(COMMON_UTILS) => crate::common_utils::call(method, args, shared).to_json(),
        Some(BASICS) => crate::basics::call(method, args, shared).to_json(),
        Some(CONTROL) if shared.control => crate::control::call(method, args, shared).to_json(),
        _ => module_not_found(),
    };
    tracing::debug!(ncalayer_module = module.unwrap_or(""), method, "answered");
    reply.to_string()
}

/// Positional arguments of a commonUtils call, read as NCALayer's reflective call reads
/// them: the count must match the method's and each value must have its Java type
/// (`null` matches none).
pub struct Args<'a> {
    method: &'a str,
    list: &'a [Value],
    /// `args` was given but is no array.
    not_a_list: bool,
}

impl<'a> Args<'a> {
    /// The arguments of `method`; an absent `args` is none.
    pub fn new(method: &'a str, args: Option<&'a Value>) -> Self {
        match args {
            None | Some(Value::Null) => Args {
                method,
                list: &[],
                not_a_list: false,
            },
            Some(Value::Array(a)) => Args {
                method,
                list: a,
                not_a_list: false,
            },
            Some(_) => Args {
                method,
                list: &[],
                not_a_list: true,
            },
        }
    }

    /// Refuses any count but `n`.
    pub fn count(&self, n: usize) -> Result<(), String> {
        if self.not_a_list {
            return Err(self.mismatch());
        }
        if self.list.len() != n {
            return Err(format!(
                "java.lang.IllegalArgumentException: wrong number of arguments. Method: {}",
                self.method
            ));
        }
        Ok(())
    }

    /// Argument `i` as a string.
    pub fn string(&self, i: usize) -> Result<&'a str, String> {
        self.list
            .get(i)
            .and_then(Value::as_str)
            .ok_or_else(|| self.mismatch())
    }

    /// Argument `i` as a boolean.
    pub fn boolean(&self, i: usize) -> Result<bool, String> {
        self.list
            .get(i)
            .and_then(Value::as_bool)
            .ok_or_else(|| self.mismatch())
    }

    /// Whether argument `i` is JSON `null`.
    pub fn is_null(&self, i: usize) -> bool {
        matches!(self.list.get(i), Some(Value::Null))
    }

    /// The message of an argument of the wrong type (as recorded from NCALayer).
    pub fn mismatch(&self) -> String {
        format!(
            "java.lang.IllegalArgumentException: argument type mismatch. Method: {}",
            self.method
        )
    }
}

/// Decodes standard base64 as Java's decoder does, its complaint worded as Java's.
pub fn decode_base64(s: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| match e {
            base64::DecodeError::InvalidByte(_, b) => {
                format!("java.lang.IllegalArgumentException: Illegal base64 character {b:x}")
            }
            _ => {
                "java.lang.IllegalArgumentException: Input byte array has wrong 4-byte ending unit"
                    .into()
            }
        })
}

/// Encodes standard base64 without line breaks.
pub fn encode_base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
