//! The body every entry system sends ИС МИО (`mio.application.submit`'s application
//! document, as the portal and ИС ЦОН build it from their API's request bodies): parsed
//! from the input as JSON, then checked against every shipped regulation by
//! `egov_contracts::mio::form::check`, the check the intake and the portal's API make. A
//! refusal is a list of problems, never a panic.
#![no_main]

use std::sync::OnceLock;

use egov_contracts::mio::ApplicationDocument;
use egov_regulation::Regulation;
use libfuzzer_sys::fuzz_target;

fn regulations() -> &'static [Regulation] {
    static REGS: OnceLock<Vec<Regulation>> = OnceLock::new();
    REGS.get_or_init(|| {
        egov_regulation::load_dir(&egov_regulation::shipped_dir())
            .expect("the shipped regulations load")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = serde_json::from_slice::<ApplicationDocument>(data) else {
        return;
    };
    for reg in regulations() {
        if let Err(problems) = egov_contracts::mio::form::check(reg, &doc) {
            assert!(!problems.is_empty(), "a refusal names its problems");
        }
    }
    // what is parsed prints back as JSON that parses again
    let again = serde_json::to_vec(&doc).expect("serializes");
    let _: ApplicationDocument = serde_json::from_slice(&again).expect("round-trips");
});
