//! CMS parsing and the verifier: `cms::parse`, then `verify_detached` over `b"data"` and
//! `verify_attached` against the in-memory PKI (plus the seed PKI, so that the seed
//! signatures verify end to end). Errors are fine; a panic is a bug.
#![no_main]

#[path = "../src/fixtures.rs"]
mod fixtures;
#[path = "../src/pki.rs"]
mod pki;

use egov_pki::VerifyOptions;
use egov_pki::verify::Usage;
use futures::executor::block_on;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = egov_pki::cms::parse(data) else {
        return;
    };
    // what the verifier and other callers read from a parsed signature
    for si in parsed.signed_data.signer_infos.0.iter() {
        let _ = egov_pki::cms::signed_attrs_der(si);
        let _ = egov_pki::cms::attr_value(si, egov_pki::oids::SIGNING_TIME);
    }
    let _ = egov_pki::cms::encode(&parsed.signed_data);

    let verifier = &pki::pki().verifier;
    let default = VerifyOptions::default();
    let _ = block_on(verifier.verify_detached(b"data", data, &default));
    if let Ok(signer) = block_on(verifier.verify_attached(data, &default)) {
        let _ = signer.identity.iin.map(|i| (i.birth_date(), i.sex()));
    }
    // the other option paths: a fixed time, an expected IIN, any usage, required revocation
    let strict = VerifyOptions {
        expected_iin: egov_iin::Iin::parse(fixtures::TEST_IIN).ok(),
        at: Some(fixtures::NOW),
        require_revocation: true,
        usage: Usage::Any,
    };
    let _ = block_on(verifier.verify_detached(b"data", data, &strict));
});
