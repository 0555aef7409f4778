//! `kz.gov.pki.knca.basics` `sign`, NCALayer's 2022 call with named arguments, as
//! `ncalayer-js-client`'s `basicsSignCMS` sends it:
//!
//! ```json
//! {"module": "kz.gov.pki.knca.basics", "method": "sign", "args": {
//!   "allowedStorages": ["PKCS12"] | null, "format": "cms", "data": "<b64>" | ["<b64>", …],
//!   "signingParams": {"decode": true, "encapsulate": false, "digested": false, "tsaProfile": {}},
//!   "signerParams": {"extKeyUsageOids": ["1.3.6.1.5.5.7.3.4"], "iin": "…", "bin": "…",
//!                    "serialNumber": "…", "chain": []},
//!   "locale": "ru"}}
//! ```
//!
//! The answer is `{"status":true,"body":{"result":"-----BEGIN CMS-----…"}}` (an array of
//! them when `data` is an array), `{"status":true,"body":{}}` when the dialog is cancelled,
//! or `{"status":false,"code":C,"message":M,"details":D}`.
//!
//! `signingParams`: `decode` (default false) signs the base64-decoded bytes instead of the
//! text, `encapsulate` (default true) puts the data into the CMS, `digested` (default
//! false) takes `data` as the base64 SHA-256 of the content and makes a detached CMS over
//! it; `tsaProfile` is accepted and no timestamp is added (the stand-in has no TSA).
//! `signerParams` narrows the keys the dialog offers: `extKeyUsageOids` (emailProtection
//! asks for a signing key, clientAuth for an authentication key; НУЦ РК's own
//! `1.2.398.3.3.4.1.1` an individual's key, `1.2.398.3.3.4.1.2…` an organisation's,
//! read from whether the subject names a BIN; any other OID must be in the certificate),
//! `iin`, `bin` and `serialNumber` (hex) when not empty. `format` `xml` is refused.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::Shared;
use crate::common_utils::FILE_STORAGE;
use crate::keys::{Choice, HeldKey, Want};
use crate::protocol::{BASICS, Basics, decode_base64};

const KP_CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";
const KP_EMAIL_PROTECTION: &str = "1.3.6.1.5.5.7.3.4";
/// НУЦ РК's extended key usage of an individual's certificate.
const NCA_INDIVIDUAL: &str = "1.2.398.3.3.4.1.1";
/// НУЦ РК's extended key usages of an organisation's certificates (head, signatory,
/// employee… below it).
const NCA_ORGANISATION: &str = "1.2.398.3.3.4.1.2";

/// Answers `method` of basics.
pub fn call(method: &str, args: Option<&Value>, shared: &Shared) -> Basics {
    if method != "sign" {
        return Basics::invocation(format!(
            "java.lang.NoSuchMethodException: {BASICS}.{method}"
        ));
    }
    match sign(args, shared) {
        Ok(b) | Err(b) => b,
    }
}

/// `org.json`'s complaint about `key` of an object.
fn missing(key: &str) -> Basics {
    Basics::invocation(format!(
        "org.json.JSONException: JSONObject[\"{key}\"] not found."
    ))
}

fn not_a(key: &str, kind: &str) -> Basics {
    Basics::invocation(format!(
        "org.json.JSONException: JSONObject[\"{key}\"] is not a {kind}."
    ))
}

fn object<'a>(m: &'a Map<String, Value>, key: &str) -> Result<&'a Map<String, Value>, Basics> {
    match m.get(key) {
        None => Err(missing(key)),
        Some(Value::Object(o)) => Ok(o),
        Some(_) => Err(not_a(key, "JSONObject")),
    }
}

/// An optional boolean, as org.json reads one: `true`/`false` or their strings.
fn flag(m: &Map<String, Value>, key: &str, default: bool) -> Result<bool, Basics> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(not_a(key, "Boolean")),
    }
}

/// An optional string filter; empty is none.
fn text<'a>(m: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, Basics> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim())),
        Some(_) => Err(not_a(key, "String")),
    }
}

fn strings(m: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, Basics> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| not_a(key, "JSONArray of strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(not_a(key, "JSONArray")),
    }
}

fn invalid_params(message: impl Into<String>) -> Basics {
    Basics::Fail {
        code: "INVALID_SIGNING_PARAMS",
        message: message.into(),
        details: String::new(),
    }
}

/// What `signerParams` asks of the key.
struct Signer {
    want: Want,
    oids: Vec<String>,
    iin: Option<String>,
    bin: Option<String>,
    serial: Option<String>,
}

impl Signer {
    fn read(m: &Map<String, Value>) -> Result<Signer, Basics> {
        let oids = strings(m, "extKeyUsageOids")?.unwrap_or_default();
        let sign = oids.iter().any(|o| o == KP_EMAIL_PROTECTION);
        let auth = oids.iter().any(|o| o == KP_CLIENT_AUTH);
        Ok(Signer {
            want: match (sign, auth) {
                (true, false) => Want::Signature,
                (false, true) => Want::Authentication,
                _ => Want::Any,
            },
            oids,
            iin: text(m, "iin")?.map(str::to_string),
            bin: text(m, "bin")?.map(str::to_string),
            serial: text(m, "serialNumber")?.map(str::to_ascii_uppercase),
        })
    }

    fn accepts(&self, k: &HeldKey) -> bool {
        let id = &k.cert.identity;
        let eku = k.cert.ext_key_usage.clone().unwrap_or_default();
        let oids_ok = self.oids.iter().all(|o| match o.as_str() {
            NCA_INDIVIDUAL => id.bin.is_none(),
            o if o.starts_with(NCA_ORGANISATION) => id.bin.is_some(),
            o => eku.iter().any(|e| e.to_string() == o),
        });
        oids_ok
            && self
                .iin
                .as_deref()
                .is_none_or(|i| k.iin().as_deref() == Some(i))
            && self
                .bin
                .as_deref()
                .is_none_or(|b| id.bin.as_deref() == Some(b))
            && self.serial.as_deref().is_none_or(|s| {
                s.trim_start_matches('0') == k.cert.serial_hex.trim_start_matches('0')
            })
    }
}

fn sign(args: Option<&Value>, shared: &Shared) -> Result<Basics, Basics> {
    let args = match args {
        None => return Err(missing("args")),
        Some(Value::Object(o)) => o,
        Some(_) => return Err(not_a("args", "JSONObject")),
    };
    match args.get("format").and_then(Value::as_str) {
        Some("cms") => {}
        Some("xml") => {
            return Err(invalid_params(
                "XML signing is not supported by the development stand-in",
            ));
        }
        Some(other) => return Err(invalid_params(format!("unknown format {other:?}"))),
        None if args.contains_key("format") => return Err(not_a("format", "String")),
        None => return Err(missing("format")),
    }
    let params = object(args, "signingParams")?;
    let decode = flag(params, "decode", false)?;
    let encapsulate = flag(params, "encapsulate", true)?;
    let digested = flag(params, "digested", false)?;
    if digested && encapsulate {
        return Err(invalid_params(
            "digested data cannot be encapsulated: set encapsulate to false",
        ));
    }
    let (items, many) = match args.get("data") {
        None => return Err(missing("data")),
        Some(Value::String(s)) => (vec![s.as_str()], false),
        Some(Value::Array(a)) if !a.is_empty() => (
            a.iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| not_a("data", "JSONArray of strings"))
                })
                .collect::<Result<Vec<_>, _>>()?,
            true,
        ),
        Some(_) => return Err(not_a("data", "String")),
    };
    let signer = match args.get("signerParams") {
        None | Some(Value::Null) => Signer::read(&Map::new())?,
        Some(Value::Object(o)) => Signer::read(o)?,
        Some(_) => return Err(not_a("signerParams", "JSONObject")),
    };
    let files_allowed = strings(args, "allowedStorages")?
        .is_none_or(|s| s.is_empty() || s.iter().any(|s| s == FILE_STORAGE));
    // the bytes to sign, or their digest, before anyone is asked for a key
    let mut contents = Vec::with_capacity(items.len());
    for item in &items {
        let bytes = if decode || digested {
            decode_base64(item).map_err(Basics::invocation)?
        } else {
            item.as_bytes().to_vec()
        };
        if digested && bytes.len() != 32 {
            return Err(invalid_params(format!(
                "a SHA-256 hash has 32 bytes, got {}",
                bytes.len()
            )));
        }
        contents.push(bytes);
    }
    let key = match shared.dialog().choose(&shared.keys, signer.want, |k| {
        files_allowed && signer.accepts(k)
    }) {
        Choice::Key(k) => k,
        Choice::Cancelled => return Ok(Basics::Cancelled),
        Choice::NoKey => {
            return Err(Basics::Fail {
                code: "SIGNING_FAILURE",
                message: "EMPTY_KEY_LIST".into(),
                details: "no held key is of the storage, usage and holder asked for".into(),
            });
        }
    };
    let now = OffsetDateTime::now_utc();
    let mut signatures = Vec::with_capacity(contents.len());
    for content in &contents {
        let der = if digested {
            egov_pki::cms::sign_digest(content, &key.key, &key.cert, &key.chain, now)
        } else {
            egov_pki::cms::sign(content, &key.key, &key.cert, &key.chain, !encapsulate, now)
        }
        .map_err(|e| Basics::Fail {
            code: "SIGNING_FAILURE",
            message: "The signature could not be made.".into(),
            details: e.to_string(),
        })?;
        signatures.push(Value::String(pem::encode_config(
            &pem::Pem::new("CMS", der),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )));
    }
    tracing::info!(alias = %key.alias, iin = ?key.iin(), documents = signatures.len(), encapsulate, digested, "basics.sign signed");
    Ok(Basics::Ok(if many {
        Value::Array(signatures)
    } else {
        signatures.remove(0)
    }))
}
