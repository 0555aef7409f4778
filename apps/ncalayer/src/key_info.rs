//! `getKeyInfo`'s responseObject: the picked key's certificate as NCALayer describes it.
//!
//! ```json
//! {"alias": "…", "keyId": "…", "algorithm": "RSA", "subjectCn": "АХМЕТОВ ЕРЛАН",
//!  "subjectDn": "CN=АХМЕТОВ ЕРЛАН,SURNAME=АХМЕТОВ,SERIALNUMBER=IIN870312300046,C=KZ,G=САБИТОВИЧ",
//!  "issuerCn": "…", "issuerDn": "…", "serialNumber": "<decimal>",
//!  "certNotBefore": "<ms since 1970>", "certNotAfter": "<ms since 1970>",
//!  "authorityKeyIdentifier": "<hex>", "pem": "-----BEGIN CERTIFICATE-----…"}
//! ```
//!
//! Names are written in the certificate's order with NCALayer's attribute names (`G` for
//! givenName, `E` for emailAddress); the serial number in decimal; the validity as the
//! milliseconds of Java's `Date.getTime()`, as strings; `keyId` is the subjectKeyIdentifier
//! in upper-case hex (the serial number when the certificate has none, as the test PKI's
//! end-entity certificates), `authorityKeyIdentifier` the issuer's key id in lower-case hex.

use const_oid::ObjectIdentifier as Oid;
use egov_pki::keys::KeyAlgorithm;
use serde_json::{Value, json};
use x509_cert::name::Name;

use crate::keys::HeldKey;

/// The description of `key`.
pub fn of(key: &HeldKey) -> Value {
    let c = &key.cert;
    let millis = |t: time::OffsetDateTime| (t.unix_timestamp_nanos() / 1_000_000).to_string();
    json!({
        "alias": key.alias,
        "keyId": c.subject_key_id().map(hex::encode_upper).unwrap_or_else(|| key.alias.to_ascii_uppercase()),
        "algorithm": match key.key.algorithm() {
            KeyAlgorithm::Rsa2048 => "RSA",
            KeyAlgorithm::EcdsaP256 => "EC",
        },
        "subjectCn": common_name(c.subject()),
        "subjectDn": dn(c.subject()),
        "issuerCn": common_name(c.issuer()),
        "issuerDn": dn(c.issuer()),
        "serialNumber": decimal(c.cert.tbs_certificate.serial_number.as_bytes()),
        "certNotBefore": millis(c.not_before),
        "certNotAfter": millis(c.not_after),
        "authorityKeyIdentifier": c.authority_key_id().map(hex::encode).unwrap_or_default(),
        "pem": c.to_pem(),
    })
}

/// NCALayer's short name of a name attribute, else its OID.
fn attribute_name(oid: &Oid) -> String {
    const NAMES: &[(&str, &str)] = &[
        ("2.5.4.3", "CN"),
        ("2.5.4.4", "SURNAME"),
        ("2.5.4.5", "SERIALNUMBER"),
        ("2.5.4.6", "C"),
        ("2.5.4.7", "L"),
        ("2.5.4.8", "ST"),
        ("2.5.4.10", "O"),
        ("2.5.4.11", "OU"),
        ("2.5.4.42", "G"),
        ("1.2.840.113549.1.9.1", "E"),
    ];
    let s = oid.to_string();
    NAMES
        .iter()
        .find(|(o, _)| *o == s)
        .map_or(s, |(_, n)| (*n).to_string())
}

/// `name` as `CN=…,SURNAME=…,…` in the certificate's order, special characters escaped.
pub fn dn(name: &Name) -> String {
    let mut parts = Vec::new();
    for rdn in name.0.iter() {
        let atvs: Vec<String> = rdn
            .0
            .iter()
            .map(|atv| {
                let value = egov_pki::cert::any_to_string(&atv.value)
                    .unwrap_or_else(|| format!("#{}", hex::encode(atv.value.value())));
                format!("{}={}", attribute_name(&atv.oid), escape(&value))
            })
            .collect();
        parts.push(atvs.join("+"));
    }
    parts.join(",")
}

fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for ch in v.chars() {
        if matches!(ch, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

fn common_name(name: &Name) -> String {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|atv| atv.oid == egov_pki::oids::AT_COMMON_NAME)
        .and_then(|atv| egov_pki::cert::any_to_string(&atv.value))
        .unwrap_or_default()
}

/// The unsigned big-endian integer `bytes` in decimal.
pub fn decimal(bytes: &[u8]) -> String {
    // repeated division by 10 of the base-256 number
    let mut n: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    if n.is_empty() {
        return "0".into();
    }
    let mut digits = Vec::new();
    while !n.is_empty() {
        let mut rem = 0u32;
        for b in n.iter_mut() {
            let cur = (rem << 8) | u32::from(*b);
            *b = (cur / 10) as u8;
            rem = cur % 10;
        }
        digits.push(b'0' + rem as u8);
        let zeros = n.iter().take_while(|b| **b == 0).count();
        n.drain(..zeros);
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_numbers_in_decimal() {
        assert_eq!(decimal(&[]), "0");
        assert_eq!(decimal(&[0, 0]), "0");
        assert_eq!(decimal(&[0x01, 0x00]), "256");
        assert_eq!(decimal(&[0xff; 8]), u64::MAX.to_string());
        // a 20-byte serial as НУЦ РК's certificates have
        let serial = hex::decode("3a8ee4783538997fca7b09c09555b28aaf0a94ef").unwrap();
        assert_eq!(
            decimal(&serial),
            "334308073031793478474460668302841842975940187375"
        );
    }

    #[test]
    fn special_characters_are_escaped() {
        assert_eq!(escape("ТОО \"Рога, копыта\""), "ТОО \\\"Рога\\, копыта\\\"");
        assert_eq!(escape("АХМЕТОВ ЕРЛАН"), "АХМЕТОВ ЕРЛАН");
    }
}
