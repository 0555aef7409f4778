//! Interoperability with the `openssl` binary in both directions: CMS signatures,
//! certificate chains, CRLs and OCSP responses.

mod common;

use common::*;
use egov_pki::authority::CertProfile;
use egov_pki::keys::KeyAlgorithm;
use egov_pki::{cms, ocsp};
use time::Duration;

const DATA: &[u8] = "Уведомление о постановке на учёт № 42".as_bytes();

#[tokio::test]
async fn our_signatures_verify_with_openssl() {
    for alg in [KeyAlgorithm::Rsa2048, KeyAlgorithm::EcdsaP256] {
        let fx = Fx::new(alg);
        let p = fx.person(CertProfile::Signing, alg);
        let data = fx.write("data.bin", DATA);
        let cas = fx.ca_bundle();
        let det = cms::sign(DATA, p.key.as_ref().unwrap(), &p.cert, &[], true, now()).unwrap();
        fx.write("det.der", &det);
        let (ok, out) = openssl(
            &[
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-in",
                "det.der",
                "-content",
                data.to_str().unwrap(),
                "-CAfile",
                cas.to_str().unwrap(),
                "-out",
                "/dev/null",
            ],
            fx.dir.path(),
        );
        assert!(ok, "{alg:?} detached: {out}");
        let att = cms::sign(
            DATA,
            p.key.as_ref().unwrap(),
            &p.cert,
            std::slice::from_ref(&fx.issuing.cert),
            false,
            now(),
        )
        .unwrap();
        fx.write("att.der", &att);
        let root = fx.write("root.pem", fx.root.cert.to_pem());
        let (ok, out) = openssl(
            &[
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-in",
                "att.der",
                "-CAfile",
                root.to_str().unwrap(),
                "-out",
                "content.out",
            ],
            fx.dir.path(),
        );
        assert!(ok, "{alg:?} attached: {out}");
        assert_eq!(std::fs::read(fx.path("content.out")).unwrap(), DATA);
        // and openssl notices tampering
        let other = fx.write("other.bin", b"tampered");
        let (ok, _) = openssl(
            &[
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-in",
                "det.der",
                "-content",
                other.to_str().unwrap(),
                "-CAfile",
                cas.to_str().unwrap(),
                "-out",
                "/dev/null",
            ],
            fx.dir.path(),
        );
        assert!(!ok, "openssl accepted a tampered payload");
    }
}

#[tokio::test]
async fn openssl_signatures_verify_with_ours() {
    let alg = KeyAlgorithm::Rsa2048;
    let fx = Fx::new(alg);
    let p = fx.person(CertProfile::Signing, alg);
    fx.write("data.bin", DATA);
    fx.write("signer.pem", p.cert.to_pem());
    fx.write("signer.key", p.key.as_ref().unwrap().to_pem());
    fx.write("issuing.pem", fx.issuing.cert.to_pem());
    for (name, extra) in [
        ("det.der", vec!["-outform", "DER"]),
        ("att.der", vec!["-nodetach", "-outform", "DER"]),
        (
            "stream.der",
            vec!["-nodetach", "-stream", "-outform", "DER"],
        ),
        ("att.pem", vec!["-nodetach", "-outform", "PEM"]),
    ] {
        let mut args = vec![
            "cms",
            "-sign",
            "-binary",
            "-in",
            "data.bin",
            "-signer",
            "signer.pem",
            "-inkey",
            "signer.key",
            "-certfile",
            "issuing.pem",
            "-out",
            name,
        ];
        args.extend(extra);
        let (ok, out) = openssl(&args, fx.dir.path());
        assert!(ok, "{name}: {out}");
        let sig = std::fs::read(fx.path(name)).unwrap();
        let only_root = egov_pki::Verifier::new(vec![fx.root.cert.clone()]);
        let s = only_root
            .verify_detached(DATA, &sig, &Default::default())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(s.identity.iin, Some(iin()), "{name}");
        let e = only_root
            .verify_detached(b"x", &sig, &Default::default())
            .await
            .unwrap_err();
        assert_eq!(e.reason(), "bad-signature", "{name}");
    }
}

#[test]
fn openssl_accepts_chains_crls_and_ocsp_answers() {
    let alg = KeyAlgorithm::Rsa2048;
    let fx = Fx::new(alg);
    let good = fx.person(CertProfile::Signing, alg);
    let bad = fx.person(CertProfile::Authentication, alg);
    fx.write("root.pem", fx.root.cert.to_pem());
    fx.write("issuing.pem", fx.issuing.cert.to_pem());
    fx.write("good.pem", good.cert.to_pem());
    fx.write("bad.pem", bad.cert.to_pem());
    let (ok, out) = openssl(
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "good.pem",
        ],
        fx.dir.path(),
    );
    assert!(ok, "{out}");
    // subject as НУЦ РК writes it
    let (_, text) = openssl(
        &[
            "x509",
            "-in",
            "good.pem",
            "-noout",
            "-subject",
            "-nameopt",
            "RFC2253,-esc_msb",
        ],
        fx.dir.path(),
    );
    assert!(text.contains("serialNumber=IIN870312300046"), "{text}");
    assert!(text.contains("C=KZ"), "{text}");

    let revoked = egov_pki::authority::RevokedEntry {
        serial_hex: bad.cert.serial_hex.clone(),
        revoked_at: now() - Duration::minutes(1),
        reason: 1,
    };
    let crl = fx
        .issuing
        .crl(
            &[revoked],
            7,
            now() - Duration::minutes(2),
            now() + Duration::days(1),
        )
        .unwrap();
    fx.write("crl.pem", pem::encode(&pem::Pem::new("X509 CRL", crl)));
    let (ok, out) = openssl(
        &[
            "crl",
            "-in",
            "crl.pem",
            "-CAfile",
            "issuing.pem",
            "-noout",
            "-verify",
        ],
        fx.dir.path(),
    );
    assert!(ok && out.contains("verify OK"), "{out}");
    let (ok, out) = openssl(
        &[
            "verify",
            "-crl_check",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "-CRLfile",
            "crl.pem",
            "bad.pem",
        ],
        fx.dir.path(),
    );
    assert!(!ok && out.contains("revoked"), "{out}");

    // an OCSP request made by openssl, answered by us, checked by openssl (the nonce
    // path is covered live against the uc service's responder)
    let (ok, out) = openssl(
        &[
            "ocsp",
            "-no_nonce",
            "-issuer",
            "issuing.pem",
            "-cert",
            "good.pem",
            "-cert",
            "bad.pem",
            "-reqout",
            "req.der",
        ],
        fx.dir.path(),
    );
    assert!(ok, "{out}");
    let req = std::fs::read(fx.path("req.der")).unwrap();
    let bad_serial = bad.cert.serial_hex.clone();
    let resp = ocsp::respond(&req, &fx.issuing, now(), Duration::hours(1), |s| {
        if s == bad_serial {
            ocsp::Status::Revoked {
                at: now() - Duration::minutes(1),
                reason: 1,
            }
        } else {
            ocsp::Status::Good
        }
    });
    fx.write("resp.der", &resp);
    fx.write(
        "cas.pem",
        format!("{}{}", fx.issuing.cert.to_pem(), fx.root.cert.to_pem()),
    );
    let (ok, out) = openssl(
        &[
            "ocsp",
            "-no_nonce",
            "-respin",
            "resp.der",
            "-issuer",
            "issuing.pem",
            "-cert",
            "good.pem",
            "-cert",
            "bad.pem",
            "-CAfile",
            "cas.pem",
        ],
        fx.dir.path(),
    );
    assert!(ok, "{out}");
    assert!(out.contains("Response verify OK"), "{out}");
    assert!(out.contains("good.pem: good"), "{out}");
    assert!(out.contains("bad.pem: revoked"), "{out}");

    // and our client side reads the same answer
    let a = ocsp::check_response(&resp, &good.cert, &fx.issuing.cert, now()).unwrap();
    assert_eq!(a.status, ocsp::Status::Good);
    let a = ocsp::check_response(&resp, &bad.cert, &fx.issuing.cert, now()).unwrap();
    assert!(matches!(a.status, ocsp::Status::Revoked { reason: 1, .. }));
    // an answer signed by another CA is rejected
    let other = Fx::new(alg);
    assert!(ocsp::check_response(&resp, &good.cert, &other.issuing.cert, now()).is_err());
    // past its nextUpdate it is stale
    let e = ocsp::check_response(
        &resp,
        &good.cert,
        &fx.issuing.cert,
        now() + Duration::hours(2),
    )
    .unwrap_err();
    assert!(matches!(e, ocsp::OcspError::Stale(_)), "{e}");
    // garbage requests get malformedRequest, not a panic
    let r = ocsp::respond(b"garbage", &fx.issuing, now(), Duration::hours(1), |_| {
        ocsp::Status::Good
    });
    let e = ocsp::check_response(&r, &good.cert, &fx.issuing.cert, now()).unwrap_err();
    assert!(matches!(e, ocsp::OcspError::ResponderStatus(_)), "{e}");
}
