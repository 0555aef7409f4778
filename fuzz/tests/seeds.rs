//! The seed corpus matches the seed PKI compiled into the targets: the seed signatures
//! go all the way through the fuzz targets' verifier, and every seed runs through the
//! same calls as the targets without panicking. `cargo test --release` in `fuzz/`.

#[path = "../src/fixtures.rs"]
mod fixtures;
#[path = "../src/pki.rs"]
mod pki;

use std::path::Path;

use egov_pki::VerifyOptions;
use futures::executor::block_on;

fn seed(target: &str, name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target)
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn seed_signatures_reach_the_revocation_check() {
    let v = &pki::pki().verifier;
    let opts = VerifyOptions::default();
    let reason = |name: &str| {
        block_on(v.verify_detached(b"data", &seed("cms_parse", name), &opts))
            .map(|s| s.revocation)
            .map_err(|e| e.reason())
    };
    let ok = Ok(egov_pki::verify::Revocation::Crl);
    assert_eq!(reason("detached.der"), ok);
    assert_eq!(reason("attached.der"), ok);
    assert_eq!(reason("attached.pem"), ok);
    assert_eq!(reason("detached-no-chain.der"), ok);
    assert_eq!(reason("revoked-signer.der"), Err("revoked"));
    assert_eq!(reason("auth-cert-signer.der"), Err("wrong-usage"));
    // BER from `openssl cms -sign -stream` (written only when openssl was available)
    if Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds/cms_parse/openssl-stream.ber")
        .exists()
    {
        assert_eq!(reason("openssl-stream.ber"), ok);
    }
    let attached = block_on(v.verify_attached(&seed("cms_parse", "attached.der"), &opts)).unwrap();
    assert_eq!(attached.content, b"data");
}

#[test]
fn seed_ocsp_answers_check_out() {
    use egov_pki::ocsp::{Status, check_response};
    let s = pki::seed_pki();
    let status = |name: &str| {
        check_response(
            &seed("crl_ocsp_parse", name),
            &s.leaf,
            &s.issuing,
            fixtures::NOW,
        )
        .map(|a| a.status)
    };
    assert_eq!(status("ocsp-response-good.der"), Ok(Status::Good));
    assert_eq!(status("ocsp-response-unknown.der"), Ok(Status::Unknown));
    assert!(matches!(
        status("ocsp-response-revoked.der"),
        Ok(Status::Revoked { .. })
    ));
    assert_eq!(
        egov_pki::ocsp::requested_serials(&seed("crl_ocsp_parse", "ocsp-request.der")),
        vec![s.leaf.serial_hex.clone()]
    );
    assert_eq!(s.crl.check(&s.issuing, fixtures::NOW), Ok(()));
}

#[test]
fn the_regulation_seeds_load_and_the_application_seeds_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    for e in std::fs::read_dir(dir.join("regulation_parse")).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        egov_regulation::parse("seed.toml", &text)
            .unwrap_or_else(|e| panic!("{}: {e:?}", p.display()));
    }
    let regs = egov_regulation::load_dir(&egov_regulation::shipped_dir()).unwrap();
    for e in std::fs::read_dir(dir.join("application_body")).unwrap() {
        let p = e.unwrap().path();
        let doc: egov_contracts::mio::ApplicationDocument =
            serde_json::from_slice(&std::fs::read(&p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        // the form check runs over it for every regulation (its verdicts are the targets')
        for r in &regs {
            let _ = egov_contracts::mio::form::check(r, &doc);
        }
    }
}

#[test]
fn the_envelope_seeds_open_as_the_gateways_open_them() {
    use egov_proto::shep::v1::Envelope;
    use egov_shep_client::envelope::{OpenError, open_request, open_response};
    use prost::Message;
    let v = &pki::pki().verifier;
    let env = |name: &str| Envelope::decode(seed("envelope_open", name).as_slice()).unwrap();
    let opened = block_on(open_request(&env("request.pb"), v)).expect("the request opens");
    assert_eq!(opened.signer.identity.common_name.as_deref(), Some("TESTOV SEED"));
    assert_eq!(opened.header.service_id, "mio.application.submit");
    block_on(open_response(&env("response.pb"), v)).expect("the response opens");
    assert!(matches!(
        block_on(open_request(&env("request-other-sender.pb"), v)),
        Err(OpenError::SenderMismatch { .. })
    ));
    assert!(matches!(
        block_on(open_request(&env("request-tampered.pb"), v)),
        Err(OpenError::Signature(_))
    ));
}
