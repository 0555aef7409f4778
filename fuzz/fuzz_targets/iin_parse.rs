//! IIN parsing: `Iin::parse` of the input as lossy UTF-8; a valid IIN round-trips
//! through its string form and its birth date and sex can be read.
#![no_main]

use egov_iin::Iin;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Iin::parse(&text) {
        Ok(iin) => {
            let s = iin.to_string();
            assert_eq!(s, text, "a valid IIN prints as it was written");
            assert_eq!(Iin::parse(&s), Ok(iin), "parse(to_string()) round-trips");
            assert_eq!(s.parse::<Iin>(), Ok(iin));
            let _ = iin.birth_date();
            let _ = iin.sex();
            let _ = format!("{iin:?}");
        }
        Err(e) => {
            let _ = e.rule();
            let _ = e.to_string();
        }
    }
});
