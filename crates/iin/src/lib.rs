//! The Kazakh individual identification number (ИИН / ЖСН).
//!
//! An IIN has twelve digits: `YYMMDD` (birth date), one digit for century and sex
//! (1–6), four serial digits and a check digit. The check digit is the weighted sum
//! of the first eleven digits with weights 1..11, modulo 11; when that gives 10 the
//! weights 3..11,1,2 are used instead, and when that gives 10 too the number cannot
//! be assigned (it is invalid).
//!
//! [`Iin`] can only hold a valid number: parse with [`Iin::parse`] (or `str::parse`),
//! and make test numbers with [`Iin::generate`] or [`Iin::from_parts`].

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use time::{Date, Month};

/// Why a string is not a valid IIN. Each rule has its own variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not exactly twelve characters.
    #[error("an IIN has 12 digits, this one has {0} characters")]
    Length(usize),
    /// A character that is not an ASCII digit.
    #[error("an IIN has only digits; character {position} is {found:?}")]
    NotDigit {
        /// 1-based position of the offending character.
        position: usize,
        /// The character found there.
        found: char,
    },
    /// The 7th digit is not 1–6.
    #[error("the 7th digit (century and sex) must be 1 to 6, found {0}")]
    CenturySex(u8),
    /// The first six digits are not a calendar date.
    #[error("the first six digits {0} are not a valid birth date (YYMMDD)")]
    BirthDate(String),
    /// The check digit does not match.
    #[error("the check digit is {found}, expected {expected}")]
    CheckDigit {
        /// The digit the rule computes.
        expected: u8,
        /// The 12th digit of the input.
        found: u8,
    },
    /// Both weight sequences give 10: no valid check digit exists for these 11 digits.
    #[error("no check digit exists for these first 11 digits (both weightings give 10)")]
    Unassignable,
}

impl Error {
    /// A stable, machine-readable name of the rule that failed.
    pub fn rule(&self) -> &'static str {
        match self {
            Error::Length(_) => "length",
            Error::NotDigit { .. } => "not-digit",
            Error::CenturySex(_) => "century-sex",
            Error::BirthDate(_) => "birth-date",
            Error::CheckDigit { .. } => "check-digit",
            Error::Unassignable => "unassignable",
        }
    }
}

/// Sex encoded in the 7th digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    /// Odd century digit.
    Male,
    /// Even century digit.
    Female,
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sex::Male => "male",
            Sex::Female => "female",
        })
    }
}

/// A valid IIN. Construct it with [`Iin::parse`], [`Iin::from_parts`] or [`Iin::generate`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Iin([u8; 12]);

const W1: [u32; 11] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const W2: [u32; 11] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];

/// Computes the check digit of the first 11 digits, or `None` when unassignable.
pub fn check_digit(first11: &[u8; 11]) -> Option<u8> {
    let sum = |w: &[u32; 11]| -> u32 {
        first11
            .iter()
            .zip(w)
            .map(|(d, w)| u32::from(*d) * w)
            .sum::<u32>()
            % 11
    };
    match sum(&W1) {
        10 => match sum(&W2) {
            10 => None,
            c => Some(c as u8),
        },
        c => Some(c as u8),
    }
}

impl Iin {
    /// Parses and validates a 12-digit IIN, naming the first rule that fails.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let n = s.chars().count();
        if n != 12 {
            return Err(Error::Length(n));
        }
        let mut d = [0u8; 12];
        for (i, c) in s.chars().enumerate() {
            d[i] = c
                .to_digit(10)
                .filter(|_| c.is_ascii_digit())
                .ok_or(Error::NotDigit {
                    position: i + 1,
                    found: c,
                })? as u8;
        }
        if !(1..=6).contains(&d[6]) {
            return Err(Error::CenturySex(d[6]));
        }
        birth_date_of(&d).ok_or_else(|| Error::BirthDate(s[..6].to_string()))?;
        let first11: [u8; 11] = d[..11].try_into().expect("11 digits");
        let expected = check_digit(&first11).ok_or(Error::Unassignable)?;
        if expected != d[11] {
            return Err(Error::CheckDigit {
                expected,
                found: d[11],
            });
        }
        Ok(Iin(d))
    }

    /// Builds the IIN of a person born on `birth_date` (years 1800–2099) with the given
    /// sex and 4-digit serial (0..=9999). `Err(Unassignable)` when this serial has no
    /// check digit: the caller takes the next serial.
    pub fn from_parts(birth_date: Date, sex: Sex, serial: u16) -> Result<Self, Error> {
        let year = birth_date.year();
        let century_digit = match (year / 100, sex) {
            (18, Sex::Male) => 1,
            (18, Sex::Female) => 2,
            (19, Sex::Male) => 3,
            (19, Sex::Female) => 4,
            (20, Sex::Male) => 5,
            (20, Sex::Female) => 6,
            _ => return Err(Error::BirthDate(birth_date.to_string())),
        };
        if serial > 9999 {
            return Err(Error::Length(13));
        }
        let yy = (year % 100) as u8;
        let mm = birth_date.month() as u8;
        let dd = birth_date.day();
        let s = serial;
        let first11 = [
            yy / 10,
            yy % 10,
            mm / 10,
            mm % 10,
            dd / 10,
            dd % 10,
            century_digit,
            (s / 1000) as u8,
            (s / 100 % 10) as u8,
            (s / 10 % 10) as u8,
            (s % 10) as u8,
        ];
        let c = check_digit(&first11).ok_or(Error::Unassignable)?;
        let mut d = [0u8; 12];
        d[..11].copy_from_slice(&first11);
        d[11] = c;
        Ok(Iin(d))
    }

    /// A random valid IIN for a person born on `birth_date` with the given sex.
    pub fn generate_for<R: Rng + ?Sized>(rng: &mut R, birth_date: Date, sex: Sex) -> Self {
        let start: u16 = rng.gen_range(0..10000);
        (0..10000u16)
            .find_map(|k| Iin::from_parts(birth_date, sex, (start + k) % 10000).ok())
            .expect("at least one serial of 10000 has a check digit")
    }

    /// A random valid IIN with a birth date between 1930 and 2007 and a random sex.
    pub fn generate<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let start = Date::from_calendar_date(1930, Month::January, 1).expect("valid");
        let days: i64 = rng.gen_range(0..(78 * 365));
        let date = start + time::Duration::days(days);
        let sex = if rng.gen_bool(0.5) {
            Sex::Male
        } else {
            Sex::Female
        };
        Self::generate_for(rng, date, sex)
    }

    /// The birth date encoded in the first seven digits.
    pub fn birth_date(&self) -> Date {
        birth_date_of(&self.0).expect("validated at construction")
    }

    /// The sex encoded in the 7th digit.
    pub fn sex(&self) -> Sex {
        if self.0[6] % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// The twelve digits as a string.
    pub fn as_string(&self) -> String {
        self.0.iter().map(|d| char::from(b'0' + d)).collect()
    }
}

fn birth_date_of(d: &[u8; 12]) -> Option<Date> {
    let century = match d[6] {
        1 | 2 => 1800,
        3 | 4 => 1900,
        5 | 6 => 2000,
        _ => return None,
    };
    let year = century + i32::from(d[0] * 10 + d[1]);
    let month = Month::try_from(d[2] * 10 + d[3]).ok()?;
    Date::from_calendar_date(year, month, d[4] * 10 + d[5]).ok()
}

impl FromStr for Iin {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Iin::parse(s)
    }
}

impl fmt::Display for Iin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_string())
    }
}

impl fmt::Debug for Iin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Iin({self})")
    }
}

impl serde::Serialize for Iin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_string())
    }
}

impl<'de> serde::Deserialize<'de> for Iin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Iin::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use time::macros::date;

    #[test]
    fn valid_vectors() {
        // 1st weighting: 8*1+7*2+0*3+3*4+1*5+2*6+3*7+0*8+0*9+0*10+4*11 = 160, 160 % 11 = 6
        let iin = Iin::parse("870312300046").unwrap();
        assert_eq!(iin.birth_date(), date!(1987 - 03 - 12));
        assert_eq!(iin.sex(), Sex::Male);
        let f = Iin::from_parts(date!(2001 - 12 - 31), Sex::Female, 17).unwrap();
        assert_eq!(&f.to_string()[..11], "01123160017");
        assert_eq!(Iin::parse(&f.to_string()).unwrap(), f);
        assert_eq!(f.sex(), Sex::Female);
        assert_eq!(f.birth_date(), date!(2001 - 12 - 31));
    }

    #[test]
    fn second_weighting_is_used_when_first_gives_ten() {
        // find an 11-digit prefix whose first weighting is 10 and check the second one applies
        let mut found = false;
        for serial in 0..10000u16 {
            let s = format!("9001014{serial:04}");
            let d: Vec<u8> = s.bytes().map(|b| b - b'0').collect();
            let first11: [u8; 11] = d.clone().try_into().unwrap();
            let s1: u32 = d
                .iter()
                .zip(W1)
                .map(|(d, w)| u32::from(*d) * w)
                .sum::<u32>()
                % 11;
            if s1 != 10 {
                continue;
            }
            let s2: u32 = d
                .iter()
                .zip(W2)
                .map(|(d, w)| u32::from(*d) * w)
                .sum::<u32>()
                % 11;
            if s2 == 10 {
                assert_eq!(check_digit(&first11), None);
                assert_eq!(Iin::parse(&format!("{s}0")), Err(Error::Unassignable));
                continue;
            }
            found = true;
            let full = format!("{s}{s2}");
            assert_eq!(Iin::parse(&full).unwrap().to_string(), full);
        }
        assert!(found);
    }

    #[test]
    fn each_invalid_kind() {
        assert_eq!(Iin::parse("87031230004"), Err(Error::Length(11)));
        assert_eq!(Iin::parse("8703123000461"), Err(Error::Length(13)));
        assert_eq!(
            Iin::parse("87031230004x"),
            Err(Error::NotDigit {
                position: 12,
                found: 'x'
            })
        );
        assert_eq!(
            Iin::parse("８７0312300046").unwrap_err().rule(),
            "not-digit"
        );
        assert_eq!(Iin::parse("870312700046"), Err(Error::CenturySex(7)));
        assert_eq!(Iin::parse("870312000046"), Err(Error::CenturySex(0)));
        assert_eq!(Iin::parse("871312300046").unwrap_err().rule(), "birth-date");
        assert_eq!(Iin::parse("870230300046").unwrap_err().rule(), "birth-date");
        assert_eq!(
            Iin::parse("870312300047"),
            Err(Error::CheckDigit {
                expected: 6,
                found: 7
            })
        );
    }

    #[test]
    fn leap_day_depends_on_century() {
        // 00-02-29: valid in 2000 (digit 5/6), invalid in 1900 (digit 3/4)
        let ok = Iin::from_parts(date!(2000 - 02 - 29), Sex::Male, 1).unwrap();
        assert_eq!(ok.birth_date(), date!(2000 - 02 - 29));
        let mut s: Vec<u8> = ok.to_string().into_bytes();
        s[6] = b'3';
        assert_eq!(
            Iin::parse(std::str::from_utf8(&s).unwrap())
                .unwrap_err()
                .rule(),
            "birth-date"
        );
    }

    #[test]
    fn generator_yields_valid_numbers() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..2000 {
            let iin = Iin::generate(&mut rng);
            assert_eq!(Iin::parse(&iin.to_string()), Ok(iin));
        }
    }

    #[test]
    fn serde_roundtrip_rejects_invalid() {
        let iin = Iin::parse("870312300046").unwrap();
        let j = serde_json::to_string(&iin).unwrap();
        assert_eq!(j, "\"870312300046\"");
        assert_eq!(serde_json::from_str::<Iin>(&j).unwrap(), iin);
        assert!(serde_json::from_str::<Iin>("\"870312300047\"").is_err());
    }
}
