//! Personal data kept out of the logs: IINs show their first six digits (the birth date
//! and sex digit: `900101******`), and values quoted in a message (`"…"`: form values,
//! names, addresses as the checks quote them) show as `"***"`. Everything ИС МИО logs
//! that may carry an applicant's data goes through [`text`].

/// `s` with every IIN (a run of exactly twelve digits) cut to its first six digits and
/// every double-quoted value replaced by `"***"`.
pub fn text(s: &str) -> String {
    let quoted = quoted_values(s);
    iins(&quoted)
}

/// `s` with every run of exactly twelve digits shown as its first six and `******`.
pub fn iins(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let run: String = chars[start..i].iter().collect();
            if run.len() == 12 {
                out.push_str(&run[..6]);
                out.push_str("******");
            } else {
                out.push_str(&run);
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// `s` with the content of every pair of double quotes replaced by `***` (an escaped
/// quote, `\"`, inside does not end it).
fn quoted_values(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut inside = false;
    let mut escaped = false;
    for c in s.chars() {
        if inside {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                inside = false;
                out.push_str("***\"");
            }
        } else {
            out.push(c);
            if c == '"' {
                inside = true;
            }
        }
    }
    if inside {
        out.push_str("***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iins_keep_their_first_six_digits() {
        assert_eq!(
            iins("signer 900101300125 is not 870312300046"),
            "signer 900101****** is not 870312******"
        );
        // not an IIN: other lengths of digits
        assert_eq!(
            iins("ALM-2026-000123, 12345678901234"),
            "ALM-2026-000123, 12345678901234"
        );
        assert_eq!(iins("x900101300125y"), "x900101******y");
    }

    #[test]
    fn quoted_values_are_hidden() {
        assert_eq!(
            text(r#"current_housing "ул. Абая, 5" is too long; iin "900101300125""#),
            r#"current_housing "***" is too long; iin "***""#
        );
        assert_eq!(text(r#"a "b \" c" d"#), r#"a "***" d"#);
        assert_eq!(
            text(r#"unterminated "900101300125"#),
            r#"unterminated "***"#
        );
        assert_eq!(text("no personal data"), "no personal data");
    }
}
