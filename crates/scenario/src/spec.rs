//! The scenario file: one TOML file per scenario (`docs/scenarios.md` documents every key).
//!
//! ```toml
//! regulation = "almaty-2013-housing-queue"
//! channel = "portal"              # portal (A), con (C) or provider (B)
//!
//! [applicant]
//! citizen = "family-father"       # a named test citizen of the seeded registries
//!
//! [procedure]
//! branch = "result"               # what the provider's employees decide
//!
//! [expect]
//! status = "completed"            # ИС МИО's final status
//! result = "registration"         # the kind of the result document
//! ```

use std::path::{Path, PathBuf};

use egov_regulation::Regulation;

/// The channel an application comes through (the regulation's channel id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    /// A: the citizen through the portal (ПЭП).
    Portal,
    /// C: the operator of a service centre (ИС ЦОН).
    Con,
    /// B: the provider's own desk (АРМ РШЭП).
    Provider,
}

impl Channel {
    /// The regulation's channel id.
    pub fn id(self) -> &'static str {
        match self {
            Channel::Portal => "portal",
            Channel::Con => "con",
            Channel::Provider => "provider",
        }
    }
}

/// The certificate the applicant signs with (channel A).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Key {
    /// A signing certificate of the applicant, valid now.
    #[default]
    Valid,
    /// Its validity ended yesterday.
    Expired,
    /// Valid from tomorrow.
    NotYetValid,
    /// Revoked at the certification authority before the signature.
    Revoked,
    /// An authentication certificate, not for signing.
    Authentication,
    /// Another citizen's certificate.
    SomeoneElse,
    /// Issued by a certification authority the systems do not trust.
    Untrusted,
}

/// What the provider's employees decide at each human step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Branch {
    /// Every check passes; the decision is the one that gives the regulation's positive
    /// result (registration on the waiting list, assistance assigned).
    #[default]
    Result,
    /// The motivated refusal (the commission's, or the check's where the regulation
    /// refuses there).
    Refusal,
    /// The documents are found incomplete (C-docs at the provider).
    Incomplete,
}

/// Who applies.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Applicant {
    /// A named test citizen (`family-father`, `atyrau`, `deceased`, `absent`, ...).
    pub citizen: Option<String>,
    /// Or an IIN.
    pub iin: Option<String>,
    /// The category (default: the regulation's first).
    pub category: Option<String>,
    /// The certificate the applicant signs with (portal).
    #[serde(default)]
    pub key: Key,
    /// Log in to the portal with a wrong password (C-auth).
    #[serde(default)]
    pub wrong_password: bool,
    /// Documents of the category left out (C-docs at the door).
    #[serde(default)]
    pub omit_documents: Vec<String>,
    /// A representative acting by a power of attorney of ЕНИС: the named power of
    /// attorney (`valid`, `expired`, `revoked`, `out-of-scope`, `not-yet-valid`); its
    /// principal is the applicant unless `citizen` or `iin` says otherwise (C-poa).
    pub power_of_attorney: Option<String>,
}

/// The provider's procedure.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Procedure {
    /// What the employees decide.
    #[serde(default)]
    pub branch: Branch,
    /// The centre (ИС ЦОН) where channel C takes the application (default: the first
    /// of the regulation's region).
    pub centre: Option<String>,
    /// Whether the applicant comes to the centre for the result (channel C; default
    /// yes). `false`: nobody comes, and the run moves the stack's clock past a month
    /// after the result is ready there, when it goes to the centre's archive. Needs a
    /// stack with a movable clock (`EGOV_DEV_CLOCK_ADDR`); such scenarios run alone,
    /// after the others.
    #[serde(default = "yes")]
    pub collect: bool,
}

fn yes() -> bool {
    true
}

impl Default for Procedure {
    fn default() -> Self {
        Procedure {
            branch: Branch::default(),
            centre: None,
            collect: true,
        }
    }
}

/// What must come out.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The door refuses with this code (the API's error code): nothing goes further.
    pub error: Option<String>,
    /// ИС МИО's final status (`completed`, `refused`, ...).
    pub status: Option<String>,
    /// The kind of the result document (`registration`, `assignment`, `refusal`,
    /// `return-letter`, ...).
    pub result: Option<String>,
    /// The statuses the entry side (portal, ИС ЦОН) shows, in order; each named status
    /// must be among them in this order (others may come between).
    #[serde(default)]
    pub statuses: Vec<String>,
    /// Steps of the regulation ИС МИО must have gone through, in this order (others may
    /// come between).
    #[serde(default)]
    pub steps: Vec<String>,
    /// The result document reaches the applicant's side (the cabinet's PDF, the centre's
    /// issue); default: when a result is expected.
    pub delivered: Option<bool>,
    /// Whether the result, not collected, is in the centre's archive a month after it
    /// was ready (channel C with `procedure.collect = false`).
    pub archived: Option<bool>,
}

/// One scenario.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A name (default: the file's path under the folder given).
    #[serde(default)]
    pub name: String,
    /// The regulation id.
    pub regulation: String,
    /// The channel.
    pub channel: Channel,
    /// Who applies.
    #[serde(default)]
    pub applicant: Applicant,
    /// The provider's procedure.
    #[serde(default)]
    pub procedure: Procedure,
    /// What must come out.
    #[serde(default)]
    pub expect: Expect,
    /// Where it was read from.
    #[serde(skip)]
    pub path: PathBuf,
}

/// A scenario file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SpecError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl Scenario {
    /// Parses `text` (read from `path`) and checks it against `regulations`.
    pub fn parse(path: &Path, text: &str, regulations: &[Regulation]) -> Result<Self, SpecError> {
        let err = |message: String| SpecError {
            path: path.display().to_string(),
            message,
        };
        let mut s: Scenario = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        s.path = path.to_path_buf();
        if s.name.is_empty() {
            s.name = path.with_extension("").display().to_string();
        }
        let reg = regulations
            .iter()
            .find(|r| r.id == s.regulation)
            .ok_or_else(|| err(format!("no regulation {:?}", s.regulation)))?;
        if reg.channel(s.channel.id()).is_none() {
            return Err(err(format!(
                "{} has no channel {:?}",
                reg.id,
                s.channel.id()
            )));
        }
        let a = &s.applicant;
        if a.citizen.is_some() == a.iin.is_some() && a.power_of_attorney.is_none() {
            return Err(err(
                "[applicant] needs exactly one of citizen and iin".into()
            ));
        }
        if let Some(c) = &a.citizen
            && !egov_synth::fixtures::citizens(time::OffsetDateTime::now_utc().date())
                .iter()
                .any(|f| f.key == c)
        {
            return Err(err(format!("no named test citizen {c:?}")));
        }
        if let Some(iin) = &a.iin
            && !(iin.len() == 12 && iin.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(err(format!("iin {iin:?} is not twelve digits")));
        }
        if let Some(p) = &a.power_of_attorney
            && !egov_synth::fixtures::named_poas(time::OffsetDateTime::now_utc().date())
                .iter()
                .any(|n| n.key == p)
        {
            return Err(err(format!("no named power of attorney {p:?}")));
        }
        if let Some(c) = &a.category
            && !reg.categories.iter().any(|x| &x.id == c)
        {
            return Err(err(format!("{} has no category {c:?}", reg.id)));
        }
        for d in &a.omit_documents {
            if !reg.documents.iter().any(|x| &x.id == d) {
                return Err(err(format!("{} has no document {d:?}", reg.id)));
            }
        }
        for st in &s.expect.steps {
            if reg.step(st).is_none() {
                return Err(err(format!("{} has no step {st:?}", reg.id)));
            }
        }
        if !s.expect.statuses.is_empty() && !crate::run::shows_statuses(reg, s.channel) {
            return Err(err(format!(
                "expect.statuses: {} shows no statuses of the channel {} where it was taken",
                reg.id,
                s.channel.id()
            )));
        }
        if a.key != Key::Valid && s.channel != Channel::Portal {
            return Err(err(
                "applicant.key applies to the portal: at the desks the staff sign".into(),
            ));
        }
        if a.wrong_password && s.channel != Channel::Portal {
            return Err(err("applicant.wrong_password applies to the portal".into()));
        }
        if !s.procedure.collect && s.channel != Channel::Con {
            return Err(err(
                "procedure.collect applies to channel C: the result collected at a centre".into(),
            ));
        }
        if s.expect.archived.is_some() && s.procedure.collect {
            return Err(err(
                "expect.archived needs procedure.collect = false: a collected result is issued, not archived".into(),
            ));
        }
        if s.expect.error.is_some() && (s.expect.status.is_some() || s.expect.result.is_some()) {
            return Err(err(
                "expect.error stops the scenario at the door: no status or result follows".into(),
            ));
        }
        Ok(s)
    }

    /// Whether its run moves the stack's clock (so runs alone, after the others).
    pub fn moves_clock(&self) -> bool {
        !self.procedure.collect
    }

    /// The category applied for.
    pub fn category<'a>(&'a self, reg: &'a Regulation) -> &'a str {
        self.applicant
            .category
            .as_deref()
            .unwrap_or(&reg.categories[0].id)
    }
}

/// Every `*.toml` scenario under `paths` (files or folders, recursively, in name order).
pub fn load(paths: &[PathBuf], regulations: &[Regulation]) -> Result<Vec<Scenario>, SpecError> {
    let mut files = Vec::new();
    for p in paths {
        collect(p, &mut files).map_err(|e| SpecError {
            path: p.display().to_string(),
            message: e.to_string(),
        })?;
    }
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| SpecError {
            path: f.display().to_string(),
            message: e.to_string(),
        })?;
        out.push(Scenario::parse(&f, &text, regulations)?);
    }
    Ok(out)
}

fn collect(p: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if p.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for e in entries {
            if e.is_dir() || e.extension().is_some_and(|x| x == "toml") {
                collect(&e, out)?;
            }
        }
        Ok(())
    } else {
        std::fs::metadata(p)?;
        out.push(p.to_path_buf());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regs() -> Vec<Regulation> {
        egov_regulation::load_dir(&egov_regulation::shipped_dir()).unwrap()
    }

    #[test]
    fn a_scenario_reads_and_bad_ones_say_why() {
        let regs = regs();
        let ok = r#"
            regulation = "almaty-2013-housing-queue"
            channel = "portal"
            [applicant]
            citizen = "family-father"
            [expect]
            status = "completed"
        "#;
        let s = Scenario::parse(Path::new("a/b.toml"), ok, &regs).unwrap();
        assert_eq!(s.name, "a/b");
        assert_eq!(s.channel, Channel::Portal);
        for (text, want) in [
            (
                ok.replace("almaty-2013-housing-queue", "nowhere"),
                "no regulation",
            ),
            (ok.replace("\"portal\"", "\"fax\""), "unknown variant"),
            (
                ok.replace("family-father", "nobody"),
                "no named test citizen",
            ),
            (ok.replace("status =", "colour ="), "unknown field"),
            (
                ok.replace("citizen = \"family-father\"", ""),
                "exactly one of citizen and iin",
            ),
            (
                ok.replace("[expect]", "[expect]\nerror = \"X\""),
                "stops the scenario",
            ),
            (
                ok.replace("[expect]", "[procedure]\ncollect = false\n[expect]"),
                "applies to channel C",
            ),
            (
                ok.replace("\"portal\"", "\"con\"")
                    .replace("[expect]", "[expect]\narchived = true"),
                "needs procedure.collect = false",
            ),
        ] {
            let e = Scenario::parse(Path::new("x.toml"), &text, &regs).unwrap_err();
            assert!(e.to_string().contains(want), "{want}: {e}");
        }
    }
}
