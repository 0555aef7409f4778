//! Writes the seed corpus of the fuzz targets under `fuzz/seeds/` (or the directory
//! given as the first argument), from a throw-away test PKI made on the spot.
//!
//! **Test material only**: the keys are generated here and thrown away (only
//! certificates, CRLs, signatures and OCSP messages are written). `seeds/pki/` holds the
//! seed PKI's certificates and CRL; the fuzz targets compile them in (as trust anchor,
//! intermediate and CRL) so that the seed signatures verify end to end. Regenerate the
//! whole directory at once, then rebuild the targets.
//!
//! When `openssl` is on the PATH it also writes a BER (`-stream`) CMS signature and
//! OCSP requests made by `openssl ocsp`, with and without a nonce.
//!
//! ```sh
//! cd fuzz && cargo run --release --bin make_seeds
//! ```

#[path = "../fixtures.rs"]
mod fixtures;

use std::path::{Path, PathBuf};
use std::process::Command;

use egov_pki::authority::{CertProfile, RevokedEntry};
use egov_pki::ocsp::{self, Status};
use egov_pki::{cms, pem_encode};
use egov_proto::shep::v1::{Envelope, MessageType, RequestInfo, ResponseInfo, SenderInfo};
use prost::Message;
use fixtures::NOW;
use time::Duration;

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    assert!(
        bytes.len() < 10 * 1024,
        "seed {name} is {} bytes, keep seeds under 10 KiB",
        bytes.len()
    );
    std::fs::create_dir_all(dir).expect("create seed directory");
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    println!("{:>6} {}", bytes.len(), path.display());
}

fn openssl(args: &[&str]) -> bool {
    match Command::new("openssl").args(args).output() {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            eprintln!(
                "openssl {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&o.stderr)
            );
            false
        }
        Err(e) => {
            eprintln!("openssl not available ({e}), skipping the openssl seeds");
            false
        }
    }
}

fn main() {
    let root_dir: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds"));
    let d = |t: &str| root_dir.join(t);

    // --- the seed PKI (keys stay in memory) ---
    let (root, issuing) = fixtures::build_cas("Fuzz Seed", NOW);
    let leaf = fixtures::issue_person(&issuing, CertProfile::Signing, "TESTOV SEED", NOW);
    let leaf_key = leaf.key.as_ref().expect("generated key");
    let revoked = fixtures::issue_person(&issuing, CertProfile::Signing, "REVOKOV SEED", NOW);
    let auth = fixtures::issue_person(&issuing, CertProfile::Authentication, "AUTHOV SEED", NOW);
    let revoked_entry = RevokedEntry {
        serial_hex: revoked.cert.serial_hex.clone(),
        revoked_at: NOW + Duration::hours(1),
        reason: 1,
    };
    let crl = fixtures::crl(&issuing, NOW, std::slice::from_ref(&revoked_entry));
    let chain = [issuing.cert.clone()];

    let pki = d("pki");
    write(&pki, "root.der", &root.cert.der);
    write(&pki, "issuing.der", &issuing.cert.der);
    write(&pki, "leaf.der", &leaf.cert.der);
    write(&pki, "issuing-crl.der", &crl);

    // --- cert_parse ---
    let c = d("cert_parse");
    write(&c, "root.der", &root.cert.der);
    write(&c, "issuing.der", &issuing.cert.der);
    write(&c, "leaf-signing.der", &leaf.cert.der);
    write(&c, "leaf-auth.der", &auth.cert.der);
    write(
        &c,
        "chain.pem",
        format!("{}{}", leaf.cert.to_pem(), issuing.cert.to_pem()).as_bytes(),
    );

    // --- cms_parse: the targets verify against b"data" ---
    let data = b"data";
    let sign = |key: &egov_pki::PrivateKey, cert: &egov_pki::CertInfo, detached: bool| {
        cms::sign(data, key, cert, &chain, detached, NOW + Duration::hours(2)).expect("sign")
    };
    let c = d("cms_parse");
    let detached = sign(leaf_key, &leaf.cert, true);
    let attached = sign(leaf_key, &leaf.cert, false);
    write(&c, "detached.der", &detached);
    write(&c, "attached.der", &attached);
    write(
        &c,
        "attached.pem",
        pem_encode("CMS", attached.clone()).as_bytes(),
    );
    write(
        &c,
        "revoked-signer.der",
        &sign(revoked.key.as_ref().unwrap(), &revoked.cert, false),
    );
    write(
        &c,
        "auth-cert-signer.der",
        &sign(auth.key.as_ref().unwrap(), &auth.cert, true),
    );
    let no_chain = cms::sign(data, leaf_key, &leaf.cert, &[], true, NOW).expect("sign");
    write(&c, "detached-no-chain.der", &no_chain);

    // --- crl_ocsp_parse ---
    let c = d("crl_ocsp_parse");
    write(&c, "crl-one-revoked.der", &crl);
    write(&c, "crl-empty.der", &fixtures::crl(&issuing, NOW, &[]));
    let req = ocsp::request_der(&leaf.cert, &issuing.cert).expect("OCSP request");
    write(&c, "ocsp-request.der", &req);
    let respond = |req: &[u8], status: Status| {
        ocsp::respond(req, &issuing, NOW, Duration::hours(1), move |_| status)
    };
    write(&c, "ocsp-response-good.der", &respond(&req, Status::Good));
    write(
        &c,
        "ocsp-response-revoked.der",
        &respond(&req, Status::Revoked { at: NOW, reason: 1 }),
    );
    write(
        &c,
        "ocsp-response-unknown.der",
        &respond(&req, Status::Unknown),
    );
    write(
        &c,
        "ocsp-response-malformed.der",
        &respond(b"junk", Status::Good),
    );
    write(
        &c,
        "ocsp-response-internal-error.der",
        &ocsp::internal_error(),
    );

    // --- ber_to_der ---
    let c = d("ber_to_der");
    // from egov-pki's unit test: indefinite lengths and a constructed OCTET STRING
    write(
        &c,
        "indefinite.ber",
        &[
            0x30, 0x80, 0x24, 0x80, 0x04, 0x01, b'a', 0x04, 0x02, b'b', b'c', 0, 0, 0, 0,
        ],
    );
    write(&c, "cms-attached.der", &attached);
    write(&c, "crl.der", &crl);

    // --- iin_parse ---
    let c = d("iin_parse");
    write(&c, "valid.txt", fixtures::TEST_IIN.as_bytes());
    write(&c, "bad-check-digit.txt", b"870312300047");
    write(&c, "leap-day-2000.txt", b"000229500018");
    write(&c, "century-digit.txt", b"870312700046");
    write(&c, "fullwidth-digit.txt", "８７0312300046".as_bytes());

    // --- openssl-made seeds (optional) ---
    let tmp = std::env::temp_dir().join(format!("egov-fuzz-seeds-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let t = |n: &str| tmp.join(n).to_string_lossy().into_owned();
    std::fs::write(t("leaf.pem"), leaf.cert.to_pem()).unwrap();
    std::fs::write(t("leaf.key"), leaf_key.to_pem()).unwrap();
    std::fs::write(t("issuing.pem"), issuing.cert.to_pem()).unwrap();
    std::fs::write(t("data"), data).unwrap();
    if openssl(&[
        "cms",
        "-sign",
        "-stream",
        "-binary",
        "-nodetach",
        "-md",
        "sha256",
        "-in",
        &t("data"),
        "-signer",
        &t("leaf.pem"),
        "-inkey",
        &t("leaf.key"),
        "-certfile",
        &t("issuing.pem"),
        "-outform",
        "DER",
        "-out",
        &t("ber.der"),
    ]) {
        let ber = std::fs::read(t("ber.der")).unwrap();
        write(&d("cms_parse"), "openssl-stream.ber", &ber);
        write(&d("ber_to_der"), "openssl-stream.ber", &ber);
    }
    if openssl(&[
        "ocsp",
        "-issuer",
        &t("issuing.pem"),
        "-cert",
        &t("leaf.pem"),
        "-reqout",
        &t("req.der"),
        "-no_nonce",
    ]) {
        let r = std::fs::read(t("req.der")).unwrap();
        if r == req {
            println!("openssl ocsp -no_nonce request is identical to ocsp-request.der");
        } else {
            write(&d("crl_ocsp_parse"), "openssl-ocsp-request.der", &r);
        }
    }
    if openssl(&[
        "ocsp",
        "-issuer",
        &t("issuing.pem"),
        "-cert",
        &t("leaf.pem"),
        "-reqout",
        &t("req-nonce.der"),
    ]) {
        let r = std::fs::read(t("req-nonce.der")).unwrap();
        write(&d("crl_ocsp_parse"), "openssl-ocsp-request-nonce.der", &r);
        write(
            &d("crl_ocsp_parse"),
            "ocsp-response-nonce.der",
            &respond(&r, Status::Good),
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);

    // --- envelope_open: envelopes sealed by the seed leaf, whose CN is the sender ---
    let c = d("envelope_open");
    let cn = "TESTOV SEED";
    let seal = |header: Vec<u8>, payload: &[u8]| {
        let input = egov_shep_client::envelope::signing_input(&header, payload);
        let signature =
            cms::sign(&input, leaf_key, &leaf.cert, &chain, true, NOW + Duration::hours(2))
                .expect("sign");
        Envelope {
            header,
            payload: payload.to_vec(),
            signature,
        }
        .encode_to_vec()
    };
    let request = |sender: &str| RequestInfo {
        message_id: "7a0c6f0e-0000-4000-8000-000000000001".into(),
        correlation_id: "7a0c6f0e-0000-4000-8000-000000000001".into(),
        service_id: "mio.application.submit".into(),
        message_type: MessageType::Request as i32,
        route_id: "almaty".into(),
        message_date: Some(egov_shep_client::envelope::timestamp(NOW)),
        sender: Some(SenderInfo {
            sender_id: sender.into(),
            password: leaf.cert.serial_hex.clone(),
        }),
        properties: vec![],
        session_id: String::new(),
    };
    let body = br#"{"regulation":"almaty-2013-housing-queue"}"#;
    write(&c, "request.pb", &seal(request(cn).encode_to_vec(), body));
    write(
        &c,
        "request-other-sender.pb",
        &seal(request("portal").encode_to_vec(), body),
    );
    let response = ResponseInfo {
        message_id: "7a0c6f0e-0000-4000-8000-000000000002".into(),
        correlation_id: "7a0c6f0e-0000-4000-8000-000000000001".into(),
        response_date: Some(egov_shep_client::envelope::timestamp(NOW)),
        status: Some(egov_proto::shep::v1::Status {
            code: "SCSS002".into(),
            message: "accepted".into(),
        }),
        session_id: String::new(),
        responder_id: cn.into(),
        error_info: None,
        route: vec!["shep".into(), "rshep-almaty".into()],
    };
    write(&c, "response.pb", &seal(response.encode_to_vec(), b""));
    let mut tampered = Envelope::decode(seal(request(cn).encode_to_vec(), body).as_slice())
        .expect("own envelope decodes");
    tampered.payload.push(b' ');
    write(&c, "request-tampered.pb", &tampered.encode_to_vec());

    // --- self-check: the seeds reach the verifier's checks after chain building ---
    let crl = egov_pki::crl::Crl::from_der(&crl).expect("seed CRL parses");
    let verifier = egov_pki::Verifier::new(vec![root.cert.clone()])
        .with_cas(vec![issuing.cert.clone()])
        .with_crls(vec![crl]);
    let opts = egov_pki::VerifyOptions::default();
    let run = |sig: &[u8]| {
        futures::executor::block_on(verifier.verify_detached(data, sig, &opts))
            .map(|s| s.revocation)
            .map_err(|e| e.reason())
    };
    let crl_ok = Ok(egov_pki::verify::Revocation::Crl);
    assert_eq!(run(&detached), crl_ok, "detached seed verifies");
    assert_eq!(run(&attached), crl_ok, "attached seed verifies");
    assert_eq!(
        run(&no_chain),
        crl_ok,
        "no chain: the verifier knows the issuing CA"
    );
    for (name, want) in [
        ("revoked-signer.der", Err("revoked")),
        ("auth-cert-signer.der", Err("wrong-usage")),
        ("openssl-stream.ber", crl_ok),
    ] {
        if let Ok(sig) = std::fs::read(d("cms_parse").join(name)) {
            assert_eq!(run(&sig), want, "{name}");
        }
    }
    println!("self-check passed: seed signatures verify (or fail) as expected");
}
