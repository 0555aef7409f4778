//! Signing and verification: roundtrips and every failure, each with its own reason.

mod common;

use common::*;
use egov_pki::authority::CertProfile;
use egov_pki::cms;
use egov_pki::keys::KeyAlgorithm;
use egov_pki::verify::{Revocation, VerifyError, VerifyOptions};
use time::Duration;

const DATA: &[u8] = "Заявление о постановке на учёт / Өтініш".as_bytes();

fn opts() -> VerifyOptions {
    VerifyOptions::default()
}

#[tokio::test]
async fn detached_and_attached_roundtrip_rsa_and_ecdsa() {
    for alg in [KeyAlgorithm::Rsa2048, KeyAlgorithm::EcdsaP256] {
        let fx = Fx::new(alg);
        let p = fx.person(CertProfile::Signing, alg);
        let key = p.key.as_ref().unwrap();
        let det = cms::sign(DATA, key, &p.cert, &[], true, now()).unwrap();
        let s = fx
            .verifier()
            .verify_detached(DATA, &det, &opts())
            .await
            .unwrap();
        assert_eq!(s.identity.iin, Some(iin()));
        assert_eq!(s.identity.common_name.as_deref(), Some("АХМЕТОВ ЕРЛАН"));
        assert_eq!(s.identity.surname.as_deref(), Some("АХМЕТОВ"));
        assert_eq!(s.identity.given_name.as_deref(), Some("САБИТОВИЧ"));
        assert_eq!(s.chain.len(), 3);
        assert_eq!(s.revocation, Revocation::NotChecked);

        let att = cms::sign(
            DATA,
            key,
            &p.cert,
            std::slice::from_ref(&fx.issuing.cert),
            false,
            now(),
        )
        .unwrap();
        // only the root is trusted: the issuing CA comes from the signature itself
        let only_root = egov_pki::Verifier::new(vec![fx.root.cert.clone()]);
        let s = only_root.verify_attached(&att, &opts()).await.unwrap();
        assert_eq!(s.content, DATA);
    }
}

#[tokio::test]
async fn tampered_data_and_signature_are_bad_signature() {
    let fx = Fx::new(KeyAlgorithm::Rsa2048);
    let p = fx.person(CertProfile::Signing, KeyAlgorithm::Rsa2048);
    let sig = cms::sign(DATA, p.key.as_ref().unwrap(), &p.cert, &[], true, now()).unwrap();
    let e = fx
        .verifier()
        .verify_detached(b"other bytes", &sig, &opts())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "bad-signature", "{e}");

    // flip a byte of the signature value (the last bytes of the DER are in it)
    let mut bad = sig.clone();
    let n = bad.len();
    bad[n - 10] ^= 0x01;
    let e = fx
        .verifier()
        .verify_detached(DATA, &bad, &opts())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "bad-signature", "{e}");
}

#[tokio::test]
async fn garbage_is_malformed_not_a_panic() {
    let fx = Fx::new(KeyAlgorithm::EcdsaP256);
    for input in [
        &b""[..],
        b"garbage instead of a CMS",
        &[0x30, 0x82, 0xff, 0xff, 0x01],
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ] {
        let e = fx
            .verifier()
            .verify_detached(DATA, input, &opts())
            .await
            .unwrap_err();
        assert_eq!(e.reason(), "malformed", "{input:?}: {e}");
    }
    // a detached signature given to verify_attached
    let p = fx.person(CertProfile::Signing, KeyAlgorithm::EcdsaP256);
    let sig = cms::sign(DATA, p.key.as_ref().unwrap(), &p.cert, &[], true, now()).unwrap();
    let e = fx
        .verifier()
        .verify_attached(&sig, &opts())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "malformed");
}

#[tokio::test]
async fn unknown_root_is_untrusted() {
    let fx = Fx::new(KeyAlgorithm::EcdsaP256);
    let other = Fx::new(KeyAlgorithm::EcdsaP256);
    let p = fx.person(CertProfile::Signing, KeyAlgorithm::EcdsaP256);
    let sig = cms::sign(
        DATA,
        p.key.as_ref().unwrap(),
        &p.cert,
        std::slice::from_ref(&fx.issuing.cert),
        true,
        now(),
    )
    .unwrap();
    let e = other
        .verifier()
        .verify_detached(DATA, &sig, &opts())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "untrusted", "{e}");
}

/// Validity is checked at the verifier's clock: the signingTime attribute is the
/// signer's own claim, and a backdated one must not pass an expired certificate.
#[tokio::test]
async fn validity_at_the_verifiers_clock_not_the_claimed_signing_time() {
    let fx = Fx::new(KeyAlgorithm::EcdsaP256);
    let alg = KeyAlgorithm::EcdsaP256;
    let expired = fx.person_valid(
        CertProfile::Signing,
        alg,
        now() - Duration::days(10),
        now() - Duration::days(1),
    );
    let sig = cms::sign(
        DATA,
        expired.key.as_ref().unwrap(),
        &expired.cert,
        &[],
        true,
        now(),
    )
    .unwrap();
    let e = fx
        .verifier()
        .verify_detached(DATA, &sig, &opts())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "expired", "{e}");
    // the same certificate with a signingTime backdated to when it was valid: refused
    let backdated = cms::sign(
        DATA,
        expired.key.as_ref().unwrap(),
        &expired.cert,
        &[],
        true,
        now() - Duration::days(5),
    )
    .unwrap();
    let e = fx
        .verifier()
        .verify_detached(DATA, &backdated, &opts())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "expired", "{e}");
    // a caller that archived the document and knows when it arrived checks at that time
    let mut o = opts();
    o.at = Some(now() - Duration::days(5));
    let s = fx
        .verifier()
        .verify_detached(DATA, &backdated, &o)
        .await
        .unwrap();
    assert_eq!(s.checked_at, o.at.unwrap());
    assert!((s.signing_time - (now() - Duration::days(5))).abs() < Duration::minutes(1));
    // a signingTime ahead of the verifier's clock is refused
    let valid = fx.person(CertProfile::Signing, alg);
    let ahead = cms::sign(
        DATA,
        valid.key.as_ref().unwrap(),
        &valid.cert,
        &[],
        true,
        now() + Duration::hours(1),
    )
    .unwrap();
    let e = fx
        .verifier()
        .verify_detached(DATA, &ahead, &opts())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "malformed", "{e}");
    assert!(e.to_string().contains("signingTime"), "{e}");
    // a verifier on a clock moved forward (checking at that time) takes what a signer on
    // the same clock signed, and still refuses a signingTime ahead of that time
    let mut moved = opts();
    moved.at = Some(now() + Duration::hours(2));
    fx.verifier()
        .verify_detached(DATA, &ahead, &moved)
        .await
        .unwrap();
    moved.at = Some(now() + Duration::minutes(10));
    let e = fx
        .verifier()
        .verify_detached(DATA, &ahead, &moved)
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "malformed", "{e}");

    let future = fx.person_valid(
        CertProfile::Signing,
        alg,
        now() + Duration::days(1),
        now() + Duration::days(10),
    );
    let sig = cms::sign(
        DATA,
        future.key.as_ref().unwrap(),
        &future.cert,
        &[],
        true,
        now(),
    )
    .unwrap();
    let e = fx
        .verifier()
        .verify_detached(DATA, &sig, &opts())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "not-yet-valid", "{e}");
}

#[tokio::test]
async fn authentication_certificate_cannot_sign_documents() {
    let fx = Fx::new(KeyAlgorithm::EcdsaP256);
    let p = fx.person(CertProfile::Authentication, KeyAlgorithm::EcdsaP256);
    let sig = cms::sign(DATA, p.key.as_ref().unwrap(), &p.cert, &[], true, now()).unwrap();
    let e = fx
        .verifier()
        .verify_detached(DATA, &sig, &opts())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "wrong-usage", "{e}");
}

#[tokio::test]
async fn expected_iin_must_match() {
    let fx = Fx::new(KeyAlgorithm::EcdsaP256);
    let p = fx.person(CertProfile::Signing, KeyAlgorithm::EcdsaP256);
    let sig = cms::sign(DATA, p.key.as_ref().unwrap(), &p.cert, &[], true, now()).unwrap();
    let mut o = opts();
    o.expected_iin = Some(iin());
    fx.verifier().verify_detached(DATA, &sig, &o).await.unwrap();
    o.expected_iin = Some(egov_iin::Iin::parse("900101400019").unwrap_or_else(|_| {
        egov_iin::Iin::from_parts(
            time::macros::date!(1990 - 01 - 01),
            egov_iin::Sex::Female,
            1,
        )
        .unwrap()
    }));
    let e = fx
        .verifier()
        .verify_detached(DATA, &sig, &o)
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "iin-mismatch", "{e}");
    assert!(matches!(e, VerifyError::IinMismatch { .. }));
}

#[tokio::test]
async fn crl_revocation_and_expired_crl() {
    let fx = Fx::new(KeyAlgorithm::EcdsaP256);
    let alg = KeyAlgorithm::EcdsaP256;
    let good = fx.person(CertProfile::Signing, alg);
    let bad = fx.person(CertProfile::Signing, alg);
    let entry = egov_pki::authority::RevokedEntry {
        serial_hex: bad.cert.serial_hex.clone(),
        revoked_at: now() - Duration::minutes(1),
        reason: 1,
    };
    let crl_der = fx
        .issuing
        .crl(
            std::slice::from_ref(&entry),
            1,
            now() - Duration::minutes(2),
            now() + Duration::days(1),
        )
        .unwrap();
    let crl = egov_pki::crl::Crl::from_der(&crl_der).unwrap();
    let v = fx.verifier().with_crls(vec![crl]);

    let sig = cms::sign(
        DATA,
        good.key.as_ref().unwrap(),
        &good.cert,
        &[],
        true,
        now(),
    )
    .unwrap();
    assert_eq!(
        v.verify_detached(DATA, &sig, &opts())
            .await
            .unwrap()
            .revocation,
        Revocation::Crl
    );

    let sig = cms::sign(DATA, bad.key.as_ref().unwrap(), &bad.cert, &[], true, now()).unwrap();
    let e = v.verify_detached(DATA, &sig, &opts()).await.unwrap_err();
    assert_eq!(e.reason(), "revoked", "{e}");

    let stale_der = fx
        .issuing
        .crl(&[], 2, now() - Duration::days(3), now() - Duration::days(1))
        .unwrap();
    let stale = fx
        .verifier()
        .with_crls(vec![egov_pki::crl::Crl::from_der(&stale_der).unwrap()]);
    let sig = cms::sign(
        DATA,
        good.key.as_ref().unwrap(),
        &good.cert,
        &[],
        true,
        now(),
    )
    .unwrap();
    let e = stale
        .verify_detached(DATA, &sig, &opts())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "crl-expired", "{e}");
    assert!(
        !e.is_transient(),
        "a stale CRL alone, with no OCSP to ask, is a final answer"
    );

    // OCSP unreachable and the CRL out of date: the status is unknown for now, which is
    // transient (asked again later), never a final refusal
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/ocsp", dead.local_addr().unwrap());
    drop(dead);
    let unreachable = fx
        .verifier()
        .with_crls(vec![egov_pki::crl::Crl::from_der(&stale_der).unwrap()])
        .with_ocsp(std::sync::Arc::new(egov_pki::ocsp::Client::new(
            &url,
            std::time::Duration::from_millis(500),
            Duration::minutes(10),
        )));
    let e = unreachable
        .verify_detached(DATA, &sig, &opts())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "revocation-unknown", "{e}");
    assert!(e.is_transient(), "{e}");
    assert!(e.to_string().contains("OCSP failed"), "{e}");

    // a CRL signed by another CA with the same name is not accepted
    let other = Fx::new(alg);
    let forged = other
        .issuing
        .crl(
            &[],
            1,
            now() - Duration::minutes(1),
            now() + Duration::days(1),
        )
        .unwrap();
    let v = fx
        .verifier()
        .with_crls(vec![egov_pki::crl::Crl::from_der(&forged).unwrap()]);
    let e = v.verify_detached(DATA, &sig, &opts()).await.unwrap_err();
    assert_eq!(e.reason(), "crl-invalid", "{e}");
}

#[tokio::test]
async fn revocation_required_without_sources_is_unknown() {
    let fx = Fx::new(KeyAlgorithm::EcdsaP256);
    let p = fx.person(CertProfile::Signing, KeyAlgorithm::EcdsaP256);
    let sig = cms::sign(DATA, p.key.as_ref().unwrap(), &p.cert, &[], true, now()).unwrap();
    let mut o = opts();
    o.require_revocation = true;
    let e = fx
        .verifier()
        .verify_detached(DATA, &sig, &o)
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "revocation-unknown", "{e}");
}

#[test]
fn pem_that_is_not_a_certificate() {
    let e =
        egov_pki::CertInfo::from_pem("-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n")
            .unwrap_err();
    assert!(
        e.to_string().contains("expected a CERTIFICATE block"),
        "{e}"
    );
    let e = egov_pki::CertInfo::from_pem("hello").unwrap_err();
    assert!(e.to_string().contains("certificate PEM"), "{e}");
    let e = egov_pki::CertInfo::from_der(b"\x30\x03\x02\x01\x01").unwrap_err();
    assert!(e.to_string().contains("not a DER X.509 certificate"), "{e}");
}

#[tokio::test]
async fn cached_chains_still_check_validity_and_iin_every_time() {
    let fx = Fx::new(KeyAlgorithm::EcdsaP256);
    let p = fx.person(CertProfile::Signing, KeyAlgorithm::EcdsaP256);
    let sig = cms::sign(DATA, p.key.as_ref().unwrap(), &p.cert, &[], true, now()).unwrap();
    let v = fx.verifier();
    v.verify_detached(DATA, &sig, &opts()).await.unwrap();
    // the chain is cached now; a later check time past the certificate's end still fails
    let mut o = opts();
    o.at = Some(now() + Duration::days(60));
    let e = v.verify_detached(DATA, &sig, &o).await.unwrap_err();
    assert_eq!(e.reason(), "expired", "{e}");
    let mut o = opts();
    o.expected_iin = Some(
        egov_iin::Iin::from_parts(
            time::macros::date!(1990 - 01 - 01),
            egov_iin::Sex::Female,
            1,
        )
        .unwrap(),
    );
    assert_eq!(
        v.verify_detached(DATA, &sig, &o)
            .await
            .unwrap_err()
            .reason(),
        "iin-mismatch"
    );
    // and a verifier trusting another root does not share the cache
    let other = Fx::new(KeyAlgorithm::EcdsaP256);
    let e = other
        .verifier()
        .verify_detached(DATA, &sig, &opts())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "untrusted");
}

/// A certificate brought with a pile of CA certificates bearing its issuer's name (each
/// a real CA of the same root, with a key of its own) costs at most
/// `MAX_ISSUER_CANDIDATES` signature checks, then is refused with its own reason; so is
/// a chain longer than `MAX_CHAIN_LENGTH`. The same certificates in a fitting order pass.
#[tokio::test]
async fn chain_building_is_bounded_in_candidates_and_length() {
    use egov_pki::verify::{MAX_CHAIN_LENGTH, MAX_ISSUER_CANDIDATES, Usage};
    let alg = KeyAlgorithm::EcdsaP256;
    let fx = Fx::new(alg);
    let leaf = fx.person(CertProfile::Signing, alg).cert;
    let start = now() - time::Duration::days(30);
    let impostors: Vec<_> = (0..MAX_ISSUER_CANDIDATES)
        .map(|_| {
            fx.root
                .new_issuing("Fixture Issuing", alg, start, 4)
                .unwrap()
                .cert
        })
        .collect();
    assert!(impostors.iter().all(|c| c.subject() == leaf.issuer()));
    let any = VerifyOptions {
        usage: Usage::Any,
        ..Default::default()
    };
    // the root alone is trusted; the issuing CA comes with the certificate
    let v = egov_pki::Verifier::new(vec![fx.root.cert.clone()]);
    let mut pile = impostors.clone();
    pile.push(fx.issuing.cert.clone());
    let e = v
        .check_certificate(&leaf, &pile, now(), &any)
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "chain-too-complex", "{e}");
    assert!(e.to_string().contains("candidate issuers"), "{e}");
    // the real issuer within the bound: the chain is built
    let mut fitting = impostors[..MAX_ISSUER_CANDIDATES - 2].to_vec();
    fitting.push(fx.issuing.cert.clone());
    let (chain, _) = v
        .check_certificate(&leaf, &fitting, now(), &any)
        .await
        .unwrap();
    assert_eq!(chain.len(), 3);

    // a chain of one CA under another, deeper than the bound
    let mut cas = vec![fx.root.new_issuing("Level 1", alg, start, 4).unwrap()];
    for i in 2..MAX_CHAIN_LENGTH {
        let next = cas
            .last()
            .unwrap()
            .new_issuing(&format!("Level {i}"), alg, start, 4)
            .unwrap();
        cas.push(next);
    }
    let spec = egov_pki::SubjectSpec::person(iin(), "АХМЕТОВ ЕРЛАН САБИТОВИЧ");
    let deep = cas
        .last()
        .unwrap()
        .issue(
            &spec,
            CertProfile::Signing,
            alg,
            start,
            now() + time::Duration::days(1),
        )
        .unwrap()
        .cert;
    let pool: Vec<_> = cas.iter().map(|a| a.cert.clone()).collect();
    // leaf + 7 CAs + root = 9 certificates: one too many
    let e = v
        .check_certificate(&deep, &pool, now(), &any)
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "chain-too-complex", "{e}");
    // one level less fits exactly
    let shallow = cas[cas.len() - 2]
        .issue(
            &spec,
            CertProfile::Signing,
            alg,
            start,
            now() + time::Duration::days(1),
        )
        .unwrap()
        .cert;
    let (chain, _) = v
        .check_certificate(&shallow, &pool, now(), &any)
        .await
        .unwrap();
    assert_eq!(chain.len(), MAX_CHAIN_LENGTH);
}
