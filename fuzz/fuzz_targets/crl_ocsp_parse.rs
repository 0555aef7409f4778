//! CRL and OCSP parsing: `Crl::from_der` (and its checks), `ocsp::requested_serials`,
//! `ocsp::check_response` for fixed certificates, and the responder `ocsp::respond`,
//! which must always answer with a DER OCSPResponse. A panic is a bug.
#![no_main]

#[path = "../src/fixtures.rs"]
mod fixtures;
#[path = "../src/pki.rs"]
mod pki;

use der::Decode;
use egov_pki::crl::Crl;
use egov_pki::ocsp::{self, Status};
use fixtures::NOW;
use libfuzzer_sys::fuzz_target;
use time::Duration;

fuzz_target!(|data: &[u8]| {
    let pki = pki::pki();
    let seed = pki::seed_pki();

    if let Ok(crl) = Crl::from_der(data) {
        for issuer in [&pki.issuing.cert, &seed.issuing] {
            let _ = crl.is_from(issuer);
            let _ = crl.check(issuer, NOW);
        }
        let _ = crl.revoked_at(&seed.leaf.serial_hex);
        let _ = crl.to_pem();
    }
    let _ = Crl::all_from_pem(&String::from_utf8_lossy(data));

    let _ = ocsp::requested_serials(data);

    let _ = ocsp::check_response(data, &pki.leaf, &pki.issuing.cert, NOW);
    let _ = ocsp::check_response(data, &seed.leaf, &seed.issuing, NOW);

    let answer = ocsp::respond(data, &pki.issuing, NOW, Duration::hours(1), |_| {
        Status::Good
    });
    if let Err(e) = x509_ocsp::OcspResponse::from_der(&answer) {
        panic!(
            "respond() gave {} bytes that are not a DER OCSPResponse: {e}",
            answer.len()
        );
    }
    // our own answer goes through the client-side check without panicking
    let _ = ocsp::check_response(&answer, &pki.leaf, &pki.issuing.cert, NOW);
});
