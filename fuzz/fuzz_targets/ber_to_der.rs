//! The BER → DER normaliser: never panics, and is idempotent on its own output
//! (`to_der(to_der(x)) == to_der(x)`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(der) = egov_pki::ber::to_der(data) {
        match egov_pki::ber::to_der(&der) {
            Ok(again) => assert_eq!(again, der, "to_der is not idempotent"),
            Err(e) => panic!("to_der rejects its own output: {e}"),
        }
    }
});
