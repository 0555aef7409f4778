//! `egov.ncalayer.control`: the stand-in's own module, in commonUtils' answer shape, that
//! says what its headless dialog does from now on, for every connection (a test, or a
//! developer, drives it beside the frontend under test):
//!
//! | method | args | effect | responseObject |
//! |---|---|---|---|
//! | `keys` | none | | every held key ([`summary`]) |
//! | `select` | `[IIN \| alias \| file name]` or `[null]` | pick that person's (that key's) keys; `null`: the first that fits | the keys it names |
//! | `cancel` | `[true \| false]` | `true`: every dialog is cancelled (`action.canceled`, basics' empty body) | none |
//! | `reset` | none | back to the configured selection, no cancelling | none |
//!
//! A selector that names no held key is refused and changes nothing. The module answers
//! `MODULE_NOT_FOUND`, as any unknown module, when the configuration turns it off.

use serde_json::{Value, json};

use crate::Shared;
use crate::keys::HeldKey;
use crate::protocol::{Args, Common};

/// A held key as the control module and the launcher list it.
pub fn summary(k: &HeldKey, selected: bool) -> Value {
    json!({
        "alias": k.alias,
        "iin": k.iin(),
        "subjectCn": k.common_name(),
        "keyType": k.usage.key_type(),
        "file": k.file.display().to_string(),
        "notAfter": k.cert.not_after.unix_timestamp(),
        "selected": selected,
    })
}

/// Answers `method` of the control module.
pub fn call(method: &str, args: Option<&Value>, shared: &Shared) -> Common {
    let a = Args::new(method, args);
    let result = match method {
        "keys" => a.count(0).map(|()| {
            let dialog = shared.dialog();
            Common::Ok(Value::Array(
                shared
                    .keys
                    .keys()
                    .iter()
                    .map(|k| {
                        let sel = dialog.select.as_deref().is_some_and(|s| k.is_named_by(s));
                        summary(k, sel)
                    })
                    .collect(),
            ))
        }),
        "select" => select(&a, shared),
        "cancel" => a.count(1).and_then(|()| a.boolean(0)).map(|cancel| {
            shared.update_dialog(|d| d.cancel = cancel);
            tracing::info!(cancel, "the dialog's answer set");
            Common::Done
        }),
        "reset" => a.count(0).map(|()| {
            shared.reset_dialog();
            Common::Done
        }),
        _ => Err(format!(
            "java.lang.NoSuchMethodException: {}.{method}. Method: {method}",
            crate::protocol::CONTROL
        )),
    };
    result.unwrap_or_else(Common::Fail)
}

fn select(a: &Args<'_>, shared: &Shared) -> Result<Common, String> {
    a.count(1)?;
    let selector = if a.is_null(0) {
        None
    } else {
        Some(a.string(0)?.trim().to_string())
    };
    let named: Vec<Value> = match &selector {
        Some(s) => shared.keys.named_by(s).map(|k| summary(k, true)).collect(),
        None => Vec::new(),
    };
    if let Some(s) = &selector
        && named.is_empty()
    {
        return Err(format!(
            "no held key is named by {s:?} (an IIN, an alias or a file name)"
        ));
    }
    tracing::info!(selector = ?selector, "the dialog's selection set");
    shared.update_dialog(|d| d.select = selector);
    Ok(Common::Ok(Value::Array(named)))
}
