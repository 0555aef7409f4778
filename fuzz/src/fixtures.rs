//! Building a small PKI in memory: shared by the fuzz targets and `make_seeds`
//! (included with `#[path]`, there is no library target so that `make_seeds` can run
//! before `seeds/pki/` exists). **Test material only.**
#![allow(dead_code)]

use egov_pki::authority::{CertProfile, RevokedEntry, SubjectSpec};
use egov_pki::{Authority, IssuedCert, KeyAlgorithm};
use time::{Duration, OffsetDateTime};

/// The fixed "now" of the fuzz PKI (reproducible runs).
pub const NOW: OffsetDateTime = time::macros::datetime!(2026-01-01 00:00 UTC);

/// A valid test IIN (the vector of `egov-iin`'s unit tests).
pub const TEST_IIN: &str = "870312300046";

/// A root CA and an issuing CA signed by it, both ECDSA P-256, valid 20 years from `now`
/// (the verifier checks validity at the wall-clock time, and the seeds are committed).
pub fn build_cas(prefix: &str, now: OffsetDateTime) -> (Authority, Authority) {
    let root = Authority::new_root(&format!("{prefix} Root"), KeyAlgorithm::EcdsaP256, now, 20)
        .expect("root CA");
    let issuing = root
        .new_issuing(
            &format!("{prefix} Issuing"),
            KeyAlgorithm::EcdsaP256,
            now,
            20,
        )
        .expect("issuing CA");
    (root, issuing)
}

/// A certificate of `profile` for the test person, valid ten years from `now`.
pub fn issue_person(
    ca: &Authority,
    profile: CertProfile,
    name: &str,
    now: OffsetDateTime,
) -> IssuedCert {
    let iin = egov_iin::Iin::parse(TEST_IIN).expect("test IIN");
    ca.issue(
        &SubjectSpec::person(iin, name),
        profile,
        KeyAlgorithm::EcdsaP256,
        now,
        now + Duration::days(3650),
    )
    .expect("leaf certificate")
}

/// A CRL of `ca` listing `revoked`, valid from `now` for 20 years (the verifier checks
/// CRLs at the wall-clock time, so a short-lived one would go stale).
pub fn crl(ca: &Authority, now: OffsetDateTime, revoked: &[RevokedEntry]) -> Vec<u8> {
    ca.crl(revoked, 1, now, now + Duration::days(365 * 20))
        .expect("CRL")
}
