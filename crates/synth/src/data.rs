//! The reference lists the generator draws from (`data/population.toml`): names,
//! regions with districts, localities and streets, document issuers, citizenships,
//! reasons of IIN cancellation, notaries.

use std::sync::LazyLock;

/// The embedded reference data.
pub const POPULATION_TOML: &str = include_str!("../data/population.toml");

static DATA: LazyLock<Data> = LazyLock::new(|| {
    Data::from_toml(POPULATION_TOML).unwrap_or_else(|e| panic!("data/population.toml: {e}"))
});

/// The embedded reference data, parsed once.
pub fn data() -> &'static Data {
    &DATA
}

/// Names of one group of residents.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct NameSet {
    /// `[name, patronymic of a son, patronymic of a daughter]`.
    pub male: Vec<[String; 3]>,
    /// Female names.
    pub female: Vec<String>,
    /// `[male form, female form]`.
    pub surnames: Vec<[String; 2]>,
}

/// Every group.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Names {
    /// Kazakh names.
    pub kazakh: NameSet,
    /// Russian and other Slavic/European names.
    pub russian: NameSet,
    /// Other groups (Uzbek, Uyghur, Tatar, Korean, ...).
    pub other: NameSet,
}

/// A city, town or village.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Locality {
    /// As an address writes it.
    pub name: String,
    /// `city`, `town` or `village`.
    pub kind: String,
    /// Relative weight within the district.
    pub weight: u32,
    /// Postal code.
    #[serde(default)]
    pub postcode: Option<String>,
    /// Streets and microdistricts.
    pub streets: Vec<String>,
    /// House numbers are drawn from `1..=houses`.
    pub houses: u32,
    /// Flats from `1..=flats`; 0: private houses.
    pub flats: u32,
}

/// A district (or a city of the region's significance).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct District {
    /// Name.
    pub name: String,
    /// Relative weight within the region.
    pub weight: u32,
    /// Its localities.
    pub localities: Vec<Locality>,
}

/// A region of the regulations.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Region {
    /// `almaty`, `atyrau`, `nko`.
    pub code: String,
    /// As an address writes it.
    pub name: String,
    /// Share of residents.
    pub weight: u32,
    /// Districts.
    pub districts: Vec<District>,
}

/// Who issues documents.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Issuers {
    /// Identity cards.
    pub id_card_issuers: Vec<String>,
    /// Passports.
    pub passport_issuers: Vec<String>,
    /// Birth certificates.
    pub birth_certificate_issuers: Vec<String>,
    /// Residence permits of foreigners.
    pub residence_permit_issuers: Vec<String>,
}

/// A citizenship and its share.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Citizenship {
    /// ISO 3166 alpha-2.
    pub code: String,
    /// Name in Russian.
    pub name: String,
    /// Share (per mille or any integer scale).
    pub weight: u32,
}

/// Why an IIN was cancelled.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct CancelReason {
    /// The reason.
    pub text: String,
}

/// A private notary.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Notary {
    /// Full name.
    pub name: String,
    /// Region code.
    pub region: String,
    /// Licence number.
    pub licence: String,
    /// Office address.
    pub address: String,
}

/// All reference data.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Data {
    /// Names.
    pub names: Names,
    /// The three regions.
    pub regions: Vec<Region>,
    /// Document issuers.
    pub documents: Issuers,
    /// Citizenships.
    pub citizenships: Vec<Citizenship>,
    /// Cancellation reasons.
    pub cancel_reasons: Vec<CancelReason>,
    /// Notaries.
    pub notaries: Vec<Notary>,
}

impl Data {
    /// Parses and checks reference data.
    pub fn from_toml(text: &str) -> Result<Data, String> {
        let d: Data = toml::from_str(text).map_err(|e| e.to_string())?;
        let sets = [
            ("kazakh", &d.names.kazakh),
            ("russian", &d.names.russian),
            ("other", &d.names.other),
        ];
        for (what, s) in sets {
            if s.male.is_empty() || s.female.is_empty() || s.surnames.is_empty() {
                return Err(format!("names.{what}: every list needs entries"));
            }
        }
        for code in ["almaty", "atyrau", "nko"] {
            if !d.regions.iter().any(|r| r.code == code) {
                return Err(format!("regions: {code} is missing"));
            }
        }
        for r in &d.regions {
            if r.districts.is_empty() {
                return Err(format!("region {}: no districts", r.code));
            }
            for dist in &r.districts {
                if dist.localities.is_empty() {
                    return Err(format!("{}: no localities", dist.name));
                }
                for l in &dist.localities {
                    if l.streets.is_empty() || l.houses == 0 {
                        return Err(format!("{} / {}: no streets or houses", dist.name, l.name));
                    }
                }
            }
        }
        if d.citizenships.iter().all(|c| c.code != "KZ") {
            return Err("citizenships: KZ is missing".into());
        }
        if d.notaries.is_empty() || d.cancel_reasons.is_empty() {
            return Err("notaries and cancel_reasons need entries".into());
        }
        for n in &d.notaries {
            if !d.regions.iter().any(|r| r.code == n.region) {
                return Err(format!("notary {}: unknown region {}", n.name, n.region));
            }
        }
        Ok(d)
    }

    /// A region by code.
    pub fn region(&self, code: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.code == code)
    }
}
