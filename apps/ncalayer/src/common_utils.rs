//! `kz.gov.pki.knca.commonUtils`, the calls that sign with positional arguments:
//!
//! | method | args | responseObject |
//! |---|---|---|
//! | `getActiveTokens` | none | `[]`: no hardware token is attached; the keys are files (`PKCS12`) |
//! | `getKeyInfo` | `[storage]` | the picked key's certificate ([`crate::key_info`]) |
//! | `createCAdESFromBase64` | `[storage, keyType, base64, attach]` | the CMS, base64 of its DER |
//! | `createCMSSignatureFromBase64` | the same | the same (NCALayer adds a timestamp; the stand-in has no TSA) |
//! | `createCAdESFromBase64Hash` | `[storage, keyType, base64 SHA-256]` | a detached CMS over that digest |
//! | `changeLocale` | `[locale]` | none (`{"code":"200"}`) |
//!
//! `storage` must be `PKCS12`; `keyType` `SIGNATURE` or `AUTHENTICATION` asks for a key of
//! that usage, any other string lets the dialog pick any key. Refusals, all
//! `{"code":"500","message":M}`: `action.canceled` (the dialog was cancelled),
//! `EMPTY_KEY_LIST` (no held key fits), `UNKNOWN_STORAGE` (a storage other than
//! `PKCS12`), Java's messages for a wrong argument count or type, bad base64 and an
//! unknown method, each followed by `. Method: F` as NCALayer writes them.

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::Shared;
use crate::keys::{Choice, HeldKey, Want};
use crate::protocol::{Args, COMMON_UTILS, Common, decode_base64, encode_base64};

/// The storage type of key files, the only one the stand-in has.
pub const FILE_STORAGE: &str = "PKCS12";

/// Answers `method` of commonUtils.
pub fn call(method: &str, args: Option<&Value>, shared: &Shared) -> Common {
    let a = Args::new(method, args);
    let result = match method {
        "getActiveTokens" => a.count(0).map(|()| Common::Ok(json!([]))),
        "getKeyInfo" => key_info(&a, shared),
        "createCAdESFromBase64" | "createCMSSignatureFromBase64" => sign(&a, method, shared),
        "createCAdESFromBase64Hash" => sign_hash(&a, method, shared),
        "changeLocale" => a.count(1).and_then(|()| a.string(0)).map(|_| Common::Done),
        "signXml" | "signXmls" => Err(format!(
            "XML signing is not supported by the development stand-in. Method: {method}"
        )),
        _ => Err(format!(
            "java.lang.NoSuchMethodException: {COMMON_UTILS}.{method}. Method: {method}"
        )),
    };
    result.unwrap_or_else(Common::Fail)
}

/// The dialog's pick for a call on `storage` wanting `want`, or the refusal.
fn pick<'a>(storage: &str, want: Want, shared: &'a Shared) -> Result<&'a HeldKey, String> {
    if storage != FILE_STORAGE {
        return Err("UNKNOWN_STORAGE".into());
    }
    match shared.dialog().choose(&shared.keys, want, |_| true) {
        Choice::Key(k) => Ok(k),
        Choice::Cancelled => Err("action.canceled".into()),
        Choice::NoKey => Err("EMPTY_KEY_LIST".into()),
    }
}

fn key_info(a: &Args<'_>, shared: &Shared) -> Result<Common, String> {
    a.count(1)?;
    let storage = a.string(0)?;
    let key = pick(storage, Want::Any, shared)?;
    tracing::info!(alias = %key.alias, iin = ?key.iin(), "getKeyInfo picked a key");
    Ok(Common::Ok(crate::key_info::of(key)))
}

fn sign(a: &Args<'_>, method: &str, shared: &Shared) -> Result<Common, String> {
    a.count(4)?;
    let storage = a.string(0)?;
    let want = Want::from_key_type(a.string(1)?);
    let data = a.string(2)?;
    let attach = a.boolean(3)?;
    let data = decode_base64(data).map_err(|e| format!("{e}. Method: {method}"))?;
    let key = pick(storage, want, shared)?;
    let der = egov_pki::cms::sign(
        &data,
        &key.key,
        &key.cert,
        &key.chain,
        !attach,
        OffsetDateTime::now_utc(),
    )
    .map_err(|e| format!("{e}. Method: {method}"))?;
    tracing::info!(alias = %key.alias, iin = ?key.iin(), method, attach, bytes = data.len(), "signed");
    Ok(Common::Ok(Value::String(encode_base64(&der))))
}

fn sign_hash(a: &Args<'_>, method: &str, shared: &Shared) -> Result<Common, String> {
    a.count(3)?;
    let storage = a.string(0)?;
    let want = Want::from_key_type(a.string(1)?);
    let digest = decode_base64(a.string(2)?).map_err(|e| format!("{e}. Method: {method}"))?;
    if digest.len() != 32 {
        return Err(format!(
            "java.lang.IllegalArgumentException: a SHA-256 hash has 32 bytes, got {}. Method: {method}",
            digest.len()
        ));
    }
    let key = pick(storage, want, shared)?;
    let der = egov_pki::cms::sign_digest(
        &digest,
        &key.key,
        &key.cert,
        &key.chain,
        OffsetDateTime::now_utc(),
    )
    .map_err(|e| format!("{e}. Method: {method}"))?;
    tracing::info!(alias = %key.alias, iin = ?key.iin(), method, "signed a hash");
    Ok(Common::Ok(Value::String(encode_base64(&der))))
}
