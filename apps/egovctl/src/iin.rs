//! `egovctl iin`: check and generate IINs.

use std::io::Write;

use anyhow::{Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use egov_iin::{Iin, Sex};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::{Date, Duration, Month};

use crate::util;

/// The `iin` subcommands.
#[derive(Debug, Subcommand)]
pub enum IinCommand {
    /// Validate an IIN and print the birth date and sex it encodes (exit 1, naming the
    /// failed rule, when it is invalid).
    Check(CheckArgs),
    /// Print valid random IINs, one per line.
    Generate(GenerateArgs),
}

/// Arguments of `iin check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The 12-digit IIN to check.
    #[arg(value_name = "IIN")]
    pub iin: String,
}

/// Arguments of `iin generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// How many IINs to print.
    #[arg(long, short = 'n', default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub count: u32,
    /// Seed of the random generator: the same seed and options print the same IINs.
    /// Without it the output is different on each run.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Birth date of every generated IIN (YYYY-MM-DD, years 1800 to 2099). Default: a
    /// random date between 1930 and 2007.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub born: Option<String>,
    /// Sex of every generated IIN. Default: random.
    #[arg(long, value_enum)]
    pub sex: Option<SexArg>,
}

/// Sex as the command line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SexArg {
    /// Odd 7th digit.
    Male,
    /// Even 7th digit.
    Female,
}

impl From<SexArg> for Sex {
    fn from(s: SexArg) -> Self {
        match s {
            SexArg::Male => Sex::Male,
            SexArg::Female => Sex::Female,
        }
    }
}

/// Runs an `iin` subcommand.
pub fn run(cmd: IinCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        IinCommand::Check(a) => check(&a, out),
        IinCommand::Generate(a) => generate(&a, out),
    }
}

fn check(a: &CheckArgs, out: &mut dyn Write) -> Result<()> {
    let iin = util::parse_iin(&a.iin)?;
    writeln!(out, "IIN {iin}: born {}, {}", iin.birth_date(), iin.sex())?;
    Ok(())
}

/// Parses `--born`: a calendar date an IIN can encode (1800–2099).
fn parse_born(s: &str) -> Result<Date> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let Ok(d) = Date::parse(s, &fmt) else {
        bail!(
            "--born {}: not a date, expected YYYY-MM-DD such as 1987-03-12",
            util::shown(s)
        );
    };
    if !(1800..=2099).contains(&d.year()) {
        bail!("--born {d}: an IIN encodes birth years 1800 to 2099 only");
    }
    Ok(d)
}

fn generate(a: &GenerateArgs, out: &mut dyn Write) -> Result<()> {
    let born = a.born.as_deref().map(parse_born).transpose()?;
    let mut rng = match a.seed {
        Some(s) => StdRng::seed_from_u64(s),
        None => StdRng::from_entropy(),
    };
    let first_day = Date::from_calendar_date(1930, Month::January, 1)?;
    for _ in 0..a.count {
        let iin = match (born, a.sex) {
            (None, None) => Iin::generate(&mut rng),
            (date, sex) => {
                let date = match date {
                    Some(d) => d,
                    None => first_day + Duration::days(rng.gen_range(0..78 * 365)),
                };
                let sex = match sex {
                    Some(s) => s.into(),
                    None if rng.gen_bool(0.5) => Sex::Male,
                    None => Sex::Female,
                };
                Iin::generate_for(&mut rng, date, sex)
            }
        };
        writeln!(out, "{iin}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gen_lines(a: &GenerateArgs) -> Vec<String> {
        let mut out = Vec::new();
        generate(a, &mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn generate_honours_born_sex_and_seed() {
        let a = GenerateArgs {
            count: 20,
            seed: Some(42),
            born: Some("2001-12-31".into()),
            sex: Some(SexArg::Female),
        };
        let lines = gen_lines(&a);
        assert_eq!(lines.len(), 20);
        for l in &lines {
            let iin = Iin::parse(l).unwrap();
            assert_eq!(iin.birth_date().to_string(), "2001-12-31");
            assert_eq!(iin.sex(), Sex::Female);
        }
        assert_eq!(lines, gen_lines(&a), "same seed, same output");
    }

    #[test]
    fn born_outside_iin_range_is_rejected() {
        assert!(parse_born("1799-12-31").is_err());
        assert!(parse_born("2100-01-01").is_err());
        assert!(parse_born("1987-02-30").is_err());
        assert_eq!(parse_born("1800-01-01").unwrap().year(), 1800);
    }
}
