//! The PKIs the fuzz targets check against. **Test material only.**
//!
//! - the in-memory PKI ([`pki`]): built once per fuzzing process with
//!   `Authority::new_root` / `new_issuing` (fresh random keys each run);
//! - the fixed seed PKI of `fuzz/seeds/pki/` ([`seed_pki`]; certificates and CRL only,
//!   written by `make_seeds` together with the seed corpus). It is compiled in so that
//!   the seed signatures chain to a trusted root and the fuzzer reaches the verifier's
//!   checks after chain building (validity, key usage, IIN, CRL revocation) instead of
//!   stopping at "untrusted".
#![allow(dead_code)]

use std::sync::OnceLock;

use egov_pki::authority::CertProfile;
use egov_pki::crl::Crl;
use egov_pki::{Authority, CertInfo, Verifier};

use crate::fixtures::{self, NOW};

/// The in-memory PKI and a verifier.
pub struct Pki {
    /// Self-signed root CA ("Fuzz Root").
    pub root: Authority,
    /// Issuing CA signed by the root.
    pub issuing: Authority,
    /// A document-signing certificate issued by `issuing`.
    pub leaf: CertInfo,
    /// Trusts the in-memory root and the seed root, knows both issuing CAs and has
    /// both issuing CAs' CRLs. No OCSP client: nothing goes to the network.
    pub verifier: Verifier,
}

/// The fixed seed PKI (see `make_seeds`).
pub struct SeedPki {
    /// Seed root certificate.
    pub root: CertInfo,
    /// Seed issuing CA certificate.
    pub issuing: CertInfo,
    /// Seed signing leaf certificate.
    pub leaf: CertInfo,
    /// Seed issuing CA's CRL.
    pub crl: Crl,
}

static SEED_ROOT: &[u8] = include_bytes!("../seeds/pki/root.der");
static SEED_ISSUING: &[u8] = include_bytes!("../seeds/pki/issuing.der");
static SEED_LEAF: &[u8] = include_bytes!("../seeds/pki/leaf.der");
static SEED_CRL: &[u8] = include_bytes!("../seeds/pki/issuing-crl.der");

/// The seed PKI, parsed once.
pub fn seed_pki() -> &'static SeedPki {
    static SEED: OnceLock<SeedPki> = OnceLock::new();
    SEED.get_or_init(|| SeedPki {
        root: CertInfo::from_der(SEED_ROOT).expect("seeds/pki/root.der"),
        issuing: CertInfo::from_der(SEED_ISSUING).expect("seeds/pki/issuing.der"),
        leaf: CertInfo::from_der(SEED_LEAF).expect("seeds/pki/leaf.der"),
        crl: Crl::from_der(SEED_CRL).expect("seeds/pki/issuing-crl.der"),
    })
}

/// The in-memory PKI, built once per process.
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let (root, issuing) = fixtures::build_cas("Fuzz", NOW);
        let leaf = fixtures::issue_person(&issuing, CertProfile::Signing, "TESTOV FUZZ", NOW);
        let crl = Crl::from_der(&fixtures::crl(&issuing, NOW, &[])).expect("own CRL parses");
        let seed = seed_pki();
        let verifier = Verifier::new(vec![root.cert.clone()])
            .with_cas(vec![
                issuing.cert.clone(),
                seed.root.clone(),
                seed.issuing.clone(),
            ])
            .with_crls(vec![crl, seed.crl.clone()]);
        Pki {
            root,
            issuing,
            leaf: leaf.cert,
            verifier,
        }
    })
}
