//! The gateway's envelope as it arrives from the wire: decoded as `Envelope` (prost),
//! its header as a request and as a response, its dates read, then opened as the
//! gateways and every system open it (`open_request` / `open_response`: the header, the
//! transport signature over the signing input, the signer's chain, key usage and CRL
//! revocation, the signer against the claimed senderId) against the in-memory PKI and
//! the seed PKI. The seeds are envelopes sealed by the seed PKI's signer, so mutations
//! start from ones that open. Errors are fine; a panic is a bug.
#![no_main]

#[path = "../src/fixtures.rs"]
mod fixtures;
#[path = "../src/pki.rs"]
mod pki;

use egov_proto::shep::v1::{Envelope, ResponseInfo};
use egov_shep_client::envelope::{self, OpenError};
use futures::executor::block_on;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(env) = Envelope::decode(data) else {
        return;
    };
    let _ = envelope::signing_input(&env.header, &env.payload);
    if let Ok(info) = envelope::decode_request(&env) {
        if let Some(t) = &info.message_date {
            let _ = envelope::from_timestamp(t);
        }
    }
    if let Ok(info) = ResponseInfo::decode(env.header.as_slice()) {
        if let Some(t) = &info.response_date {
            let _ = envelope::from_timestamp(t);
        }
    }
    let verifier = &pki::pki().verifier;
    for opened in [
        block_on(envelope::open_request(&env, verifier)).map(|o| o.signer),
        block_on(envelope::open_response(&env, verifier)).map(|o| o.signer),
    ] {
        match opened {
            Ok(signer) => assert!(signer.identity.common_name.is_some()),
            Err(e) => {
                // every refusal says why, and only a revocation check may be transient
                assert!(!e.to_string().is_empty());
                if e.is_transient() {
                    assert!(matches!(e, OpenError::Signature(_)));
                }
            }
        }
    }
});
