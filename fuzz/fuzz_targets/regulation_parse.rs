//! The regulation loader: `egov_regulation::parse` of the input as lossy UTF-8 (a TOML
//! regulation file as an operator might write it). A file that loads is a valid model:
//! every channel walks, the catalogue's questions have answers, and it prints as the
//! diagrams' text in both languages.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match egov_regulation::parse("fuzz.toml", &text) {
        Ok(reg) => {
            for c in &reg.categories {
                let _ = reg.required_documents(&c.id);
            }
            let _ = reg.working_roles();
            let _ = reg.commission_decisions();
            for ch in &reg.channels {
                let _ = ch.result_to();
                for s in ch.steps.iter().chain(&ch.after) {
                    let _ = reg.span_over(&s.id, &ch.id);
                }
            }
            for lang in ["ru", "kk"] {
                let _ = egov_regulation::show(&reg, None, lang);
            }
        }
        Err(problems) => {
            let _ = format!("{problems:?}");
        }
    }
});
