//! Certificate parsing: `CertInfo::from_der`, `CertInfo::all_from_pem` (of the input as
//! lossy UTF-8, and of the input wrapped in a CERTIFICATE PEM block), then every
//! accessor of a parsed certificate and `cert_signed_by`. A panic is a bug.
#![no_main]

#[path = "../src/fixtures.rs"]
mod fixtures;
#[path = "../src/pki.rs"]
mod pki;

use egov_pki::CertInfo;
use libfuzzer_sys::fuzz_target;

fn exercise(cert: &CertInfo) {
    let _ = cert.allows_document_signing();
    let _ = cert.allows_cert_signing();
    let _ = cert.allows_crl_signing();
    let _ = cert.subject_string();
    let _ = cert.issuer().to_string();
    let _ = cert.public_key_raw();
    let _ = cert.to_pem();
    let identity = egov_pki::cert::identity_of(cert.subject());
    assert_eq!(identity, cert.identity, "identity_of is deterministic");
    if let Some(iin) = cert.identity.iin {
        let _ = (iin.birth_date(), iin.sex(), iin.to_string());
    }
    let _ = egov_pki::verify::cert_signed_by(cert, cert);
    let _ = egov_pki::verify::cert_signed_by(cert, &pki::seed_pki().issuing);
    // what was parsed re-parses from its own DER
    CertInfo::from_der(&cert.der).expect("a parsed certificate re-parses from its DER");
}

fuzz_target!(|data: &[u8]| {
    if let Ok(cert) = CertInfo::from_der(data) {
        exercise(&cert);
    }
    if let Ok(certs) = CertInfo::all_from_pem(&String::from_utf8_lossy(data)) {
        certs.iter().for_each(exercise);
    }
    let wrapped = egov_pki::pem_encode("CERTIFICATE", data);
    if let Ok(certs) = CertInfo::all_from_pem(&wrapped) {
        certs.iter().for_each(exercise);
    }
});
