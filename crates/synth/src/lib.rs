//! Synthetic residents for the registry mocks (ГБД ФЛ and ЕНИС), deterministic from a seed.
//!
//! [`Generator`] yields [`Household`]s: people living at one address (a couple with
//! children, a single person, three generations...) with valid, unique IINs, Kazakh,
//! Russian and other names in Cyrillic with matching surname forms and patronymics,
//! birth dates consistent within the family, an identity document fitting the age and
//! citizenship, a registered address in one of the three regions of the regulations
//! (Almaty and its districts, Atyrau oblast, Akzhar district of North Kazakhstan), and a
//! share of deceased people and cancelled IINs; and powers of attorney (ЕНИС) in every
//! state: valid, expired, not yet valid, revoked, out of scope.
//!
//! The same seed and the same `as_of` date give the same data, byte for byte.
//! [`fixtures`] adds a fixed set of named test citizens (one of each case a test or a
//! tester needs) whose IINs the generator never produces.

pub mod data;
pub mod fixtures;
pub mod rng;

use std::collections::{HashMap, HashSet};

use egov_iin::{Iin, Sex};
use time::{Date, Duration, Month};

pub use data::{Data, data};
pub use rng::Rng;

/// A person's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Alive.
    Alive,
    /// Deceased on that date.
    Deceased(Date),
    /// IIN cancelled on that date, for that reason.
    Cancelled(Date, String),
}

impl Status {
    /// `alive`, `deceased`, `cancelled`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Alive => "alive",
            Status::Deceased(_) => "deceased",
            Status::Cancelled(..) => "cancelled",
        }
    }
}

/// An identity document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// `id-card`, `passport`, `birth-certificate`, `residence-permit`.
    pub kind: &'static str,
    /// Number.
    pub number: String,
    /// Issue date.
    pub issued: Date,
    /// Issuer.
    pub issuer: String,
    /// End of validity.
    pub expires: Option<Date>,
}

/// A registered address: the contract's own type, as ГБД ФЛ answers it.
pub use egov_contracts::gbd_fl::Address;

/// A resident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// IIN.
    pub iin: Iin,
    /// Surname.
    pub surname: String,
    /// Name.
    pub name: String,
    /// Patronymic.
    pub patronymic: Option<String>,
    /// Sex.
    pub sex: Sex,
    /// Citizenship (ISO alpha-2).
    pub citizenship: String,
    /// Status.
    pub status: Status,
    /// Identity document.
    pub document: Document,
    /// Registered address.
    pub address: Address,
}

impl Person {
    /// Birth date (from the IIN).
    pub fn birth_date(&self) -> Date {
        self.iin.birth_date()
    }

    /// "SURNAME NAME PATRONYMIC" in capitals, as certificates write it.
    pub fn full_name_upper(&self) -> String {
        let mut s = format!("{} {}", self.surname, self.name);
        if let Some(p) = &self.patronymic {
            s.push(' ');
            s.push_str(p);
        }
        s.to_uppercase()
    }
}

/// How two people are related.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// Husband or wife.
    Spouse,
    /// `relative` is a child of `person`.
    Child,
    /// `relative` is a parent of `person`.
    Parent,
}

impl Relation {
    /// `spouse`, `child`, `parent`.
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Spouse => "spouse",
            Relation::Child => "child",
            Relation::Parent => "parent",
        }
    }
}

/// A family link (both directions are listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The person.
    pub person: Iin,
    /// The relative.
    pub relative: Iin,
    /// What the relative is to the person.
    pub relation: Relation,
}

/// A notarised power of attorney.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Poa {
    /// Registration number.
    pub number: String,
    /// Index of the notary in [`Data::notaries`].
    pub notary: usize,
    /// Registration date.
    pub registered: Date,
    /// Principal.
    pub principal: Iin,
    /// Representative.
    pub representative: Iin,
    /// Services covered, or `["all"]`.
    pub scope: Vec<String>,
    /// First day of validity.
    pub valid_from: Date,
    /// Last day of validity.
    pub valid_until: Date,
    /// Revocation date.
    pub revoked_on: Option<Date>,
}

/// People at one address, their links, and the powers of attorney they gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Household {
    /// The residents.
    pub persons: Vec<Person>,
    /// Family links.
    pub links: Vec<Link>,
    /// Powers of attorney whose principal lives here.
    pub poas: Vec<Poa>,
}

/// The services a power of attorney may name; the last ones are outside housing.
pub const POA_SERVICES: [&str; 5] = [
    "housing-queue",
    "housing-assistance",
    "pension-payments",
    "real-estate-registration",
    "vehicle-registration",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Group {
    Kazakh,
    Russian,
    Other,
}

/// The generator of households.
pub struct Generator {
    rng: Rng,
    data: &'static Data,
    as_of: Date,
    serials: HashMap<(Date, bool), u16>,
    reserved: HashSet<Iin>,
    recent_adults: Vec<Iin>,
    doc_counter: u64,
    poa_counter: u64,
    kz_share: f64,
}

const RESERVED_SERIALS: u16 = 9000;

impl Generator {
    /// A generator for `seed`, with dates relative to `as_of` ("today" of the data).
    pub fn new(seed: u64, as_of: Date) -> Self {
        Generator {
            rng: Rng::new(seed),
            data: data(),
            as_of,
            serials: HashMap::new(),
            reserved: fixtures::reserved_iins(as_of),
            recent_adults: Vec::with_capacity(1024),
            doc_counter: seed.wrapping_mul(7919) % 100_000_000,
            poa_counter: 0,
            // the reference data gives the share of citizens of Kazakhstan
            kz_share: {
                let c = &data().citizenships;
                let total: u32 = c.iter().map(|c| c.weight).sum();
                let kz: u32 = c.iter().filter(|c| c.code == "KZ").map(|c| c.weight).sum();
                f64::from(kz) / f64::from(total.max(1))
            },
        }
    }

    /// Generates households until `persons` residents were produced (the last household
    /// is cut to fit), calling `sink` for each.
    pub fn generate(&mut self, persons: u64, mut sink: impl FnMut(Household)) {
        let mut made = 0u64;
        while made < persons {
            let mut h = self.household();
            let room = (persons - made) as usize;
            if h.persons.len() > room {
                h.persons.truncate(room);
                let kept: HashSet<Iin> = h.persons.iter().map(|p| p.iin).collect();
                h.links
                    .retain(|l| kept.contains(&l.person) && kept.contains(&l.relative));
                h.poas.retain(|p| kept.contains(&p.principal));
            }
            made += h.persons.len() as u64;
            sink(h);
        }
    }

    fn group(&mut self, region: &str) -> Group {
        let w: [u32; 3] = match region {
            "atyrau" => [92, 5, 3],
            "nko" => [48, 44, 8],
            _ => [60, 28, 12],
        };
        match self.rng.weighted(w.into_iter()) {
            0 => Group::Kazakh,
            1 => Group::Russian,
            _ => Group::Other,
        }
    }

    fn names(&self, g: Group) -> &'static data::NameSet {
        match g {
            Group::Kazakh => &self.data.names.kazakh,
            Group::Russian => &self.data.names.russian,
            Group::Other => &self.data.names.other,
        }
    }

    fn iin(&mut self, birth: Date, sex: Sex) -> Iin {
        let male = sex == Sex::Male;
        let next = self.serials.entry((birth, male)).or_insert(0);
        loop {
            let serial = *next;
            *next += 1;
            assert!(
                serial < RESERVED_SERIALS,
                "more than 9000 residents born on {birth} of one sex"
            );
            if let Ok(iin) = Iin::from_parts(birth, sex, serial)
                && !self.reserved.contains(&iin)
            {
                return iin;
            }
        }
    }

    fn birth_date(&mut self, age_lo: i64, age_hi: i64) -> Date {
        let days_lo = age_lo * 365 + age_lo / 4;
        let days_hi = age_hi * 365 + age_hi / 4 + 364;
        let d = self.as_of - Duration::days(self.rng.range(days_lo, days_hi));
        // IINs hold births from 1800 on; and no one is born after the reference date
        d.max(date(1900, 1, 1)).min(self.as_of)
    }

    fn address(&mut self) -> Address {
        let data = self.data;
        let region = &data.regions[self.rng.weighted(data.regions.iter().map(|r| r.weight))];
        let district =
            &region.districts[self.rng.weighted(region.districts.iter().map(|d| d.weight))];
        let loc = &district.localities[self
            .rng
            .weighted(district.localities.iter().map(|l| l.weight))];
        let street = self.rng.pick(&loc.streets).clone();
        let mut house = self.rng.range(1, i64::from(loc.houses)).to_string();
        if self.rng.chance(0.08) {
            house.push_str(["А", "Б", "В"][self.rng.below(3) as usize]);
        }
        let flat = (loc.flats > 0 && !self.rng.chance(0.15))
            .then(|| self.rng.range(1, i64::from(loc.flats)).to_string());
        Address {
            region_code: region.code.clone(),
            region: region.name.clone(),
            district: district.name.clone(),
            locality: loc.name.clone(),
            street,
            house,
            flat,
            postcode: loc.postcode.clone(),
            since: self.as_of,
        }
    }

    /// A foreign citizenship, by the weights of the reference data.
    fn foreign_citizenship(&mut self) -> String {
        let c: Vec<&data::Citizenship> = self
            .data
            .citizenships
            .iter()
            .filter(|c| c.code != "KZ")
            .collect();
        if c.is_empty() {
            return "KZ".into();
        }
        c[self.rng.weighted(c.iter().map(|c| c.weight))]
            .code
            .clone()
    }

    fn next_doc_number(&mut self) -> u64 {
        // a bijection of 0..10^8 (48271 is coprime with 10^8): unique numbers that do
        // not look sequential
        self.doc_counter = (self.doc_counter + 1) % 100_000_000;
        (self.doc_counter * 48_271 + 12_345) % 100_000_000
    }

    fn document(&mut self, birth: Date, citizenship: &str) -> Document {
        let age_days = (self.as_of - birth).whole_days();
        let sixteen = add_years(birth, 16);
        let n = self.next_doc_number();
        if citizenship != "KZ" && self.as_of >= add_years(birth, 18) {
            let issued = self.as_of - Duration::days(self.rng.range(30, 9 * 365));
            return Document {
                kind: "residence-permit",
                number: format!("F{n:08}"),
                issued,
                issuer: self
                    .rng
                    .pick(&self.data.documents.residence_permit_issuers)
                    .clone(),
                expires: Some(add_years(issued, 10)),
            };
        }
        if self.as_of < sixteen {
            let issued = birth + Duration::days(self.rng.range(3, 30).min(age_days.max(0)));
            return Document {
                kind: "birth-certificate",
                number: format!("{:07}", n % 10_000_000),
                issued,
                issuer: self
                    .rng
                    .pick(&self.data.documents.birth_certificate_issuers)
                    .clone(),
                expires: None,
            };
        }
        // the card is renewed every ten years from the 16th birthday; a few are overdue
        let mut issued = sixteen + Duration::days(self.rng.range(0, 90));
        while add_years(issued, 10) <= self.as_of {
            issued = add_years(issued, 10) + Duration::days(self.rng.range(-20, 60));
        }
        if issued > self.as_of {
            issued = self.as_of - Duration::days(self.rng.range(1, 30));
        }
        if self.rng.chance(0.04) && issued > add_years(sixteen, 10) {
            issued = add_years(issued, -10);
        }
        if self.rng.chance(0.12) {
            return Document {
                kind: "passport",
                number: format!("N{:08}", n),
                issued,
                issuer: self.rng.pick(&self.data.documents.passport_issuers).clone(),
                expires: Some(add_years(issued, 10)),
            };
        }
        Document {
            kind: "id-card",
            number: format!("0{:08}", n),
            issued,
            issuer: self.rng.pick(&self.data.documents.id_card_issuers).clone(),
            expires: Some(add_years(issued, 10)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn person(
        &mut self,
        group: Group,
        sex: Sex,
        birth: Date,
        surname_pair: &[String; 2],
        father_name: Option<&[String; 3]>,
        address: &Address,
        citizenship: &str,
    ) -> Person {
        let names = self.names(group);
        let (name, surname) = match sex {
            Sex::Male => (
                self.rng.pick(&names.male)[0].clone(),
                surname_pair[0].clone(),
            ),
            Sex::Female => (
                self.rng.pick(&names.female).clone(),
                surname_pair[1].clone(),
            ),
        };
        let father = match father_name {
            Some(f) => f.clone(),
            None => self.rng.pick(&names.male).clone(),
        };
        let patronymic = if group == Group::Kazakh && birth.year() >= 1995 && self.rng.chance(0.25)
        {
            Some(match sex {
                Sex::Male => format!("{}ұлы", father[0]),
                Sex::Female => format!("{}қызы", father[0]),
            })
        } else if group == Group::Other && self.rng.chance(0.1) {
            None
        } else {
            Some(match sex {
                Sex::Male => father[1].clone(),
                Sex::Female => father[2].clone(),
            })
        };
        let document = self.document(birth, citizenship);
        let age = (self.as_of - birth).whole_days() / 365;
        let status = if self.rng.chance(0.0015) {
            let on = self.as_of - Duration::days(self.rng.range(30, 12 * 365));
            Status::Cancelled(
                on.max(birth),
                self.rng.pick(&self.data.cancel_reasons).text.clone(),
            )
        } else if self.rng.chance(if age >= 70 { 0.06 } else { 0.003 }) {
            let died = self.as_of - Duration::days(self.rng.range(1, 8 * 365));
            Status::Deceased(died.max(birth))
        } else {
            Status::Alive
        };
        let mut address = address.clone();
        address.since = address.since.max(birth);
        Person {
            iin: self.iin(birth, sex),
            surname,
            name,
            patronymic,
            sex,
            citizenship: citizenship.to_string(),
            status,
            document,
            address,
        }
    }

    fn surname_pair(&mut self, g: Group) -> [String; 2] {
        self.rng.pick(&self.names(g).surnames).clone()
    }

    /// One household.
    pub fn household(&mut self) -> Household {
        let mut address = self.address();
        let group = self.group(&address.region_code);
        let citizenship = if self.rng.chance(self.kz_share) {
            "KZ".to_string()
        } else {
            self.foreign_citizenship()
        };
        let moved_in_years = self.rng.range(0, 30);
        address.since = self.as_of - Duration::days(moved_in_years * 365 + self.rng.range(0, 364));
        let mut h = Household::default();
        let kind = self.rng.weighted([22u32, 15, 43, 12, 8].into_iter());
        match kind {
            0 | 4 => {
                let (lo, hi) = if kind == 0 { (18, 85) } else { (65, 92) };
                let sex = if self.rng.chance(0.5) {
                    Sex::Male
                } else {
                    Sex::Female
                };
                let birth = self.birth_date(lo, hi);
                let sp = self.surname_pair(group);
                let p = self.person(group, sex, birth, &sp, None, &address, &citizenship);
                h.persons.push(p);
            }
            _ => {
                let with_children = kind != 1;
                let single_mother = kind == 3;
                let father_age = if with_children {
                    self.rng.range(24, 62)
                } else {
                    self.rng.range(22, 85)
                };
                let father_birth = self.birth_date(father_age, father_age);
                let mother_birth = (father_birth + Duration::days(self.rng.range(0, 6 * 365)))
                    .min(add_years(self.as_of, -19));
                let family_sp = self.surname_pair(group);
                let father_names = self.rng.pick(&self.names(group).male).clone();
                let mut father = None;
                if !single_mother {
                    let mut f = self.person(
                        group,
                        Sex::Male,
                        father_birth,
                        &family_sp,
                        None,
                        &address,
                        &citizenship,
                    );
                    f.name = father_names[0].clone();
                    father = Some(f.iin);
                    h.persons.push(f);
                }
                let mother_sp = if single_mother || self.rng.chance(0.5) {
                    if self.rng.chance(0.5) {
                        family_sp.clone()
                    } else {
                        self.surname_pair(group)
                    }
                } else {
                    family_sp.clone()
                };
                let m = self.person(
                    group,
                    Sex::Female,
                    mother_birth,
                    &mother_sp,
                    None,
                    &address,
                    &citizenship,
                );
                let mother = m.iin;
                h.persons.push(m);
                if let Some(f) = father {
                    link_both(&mut h, f, mother, Relation::Spouse, Relation::Spouse);
                }
                if with_children {
                    let n = 1 + self.rng.weighted([35u32, 40, 18, 7].into_iter());
                    let first =
                        add_years(mother_birth, 19).max(address.since - Duration::days(20 * 365));
                    for _ in 0..n {
                        let latest = add_years(mother_birth, 42).min(self.as_of);
                        if first > latest {
                            break;
                        }
                        let span = (latest - first).whole_days();
                        let birth = first + Duration::days(self.rng.range(0, span));
                        let sex = if self.rng.chance(0.51) {
                            Sex::Male
                        } else {
                            Sex::Female
                        };
                        let sp = if group == Group::Kazakh && self.rng.chance(0.1) && !single_mother
                        {
                            surname_from_name(&father_names[0])
                        } else {
                            family_sp.clone()
                        };
                        let c = self.person(
                            group,
                            sex,
                            birth,
                            &sp,
                            Some(&father_names),
                            &address,
                            &citizenship,
                        );
                        let ci = c.iin;
                        h.persons.push(c);
                        link_both(&mut h, mother, ci, Relation::Child, Relation::Parent);
                        if let Some(f) = father {
                            link_both(&mut h, f, ci, Relation::Child, Relation::Parent);
                        }
                    }
                }
                // a grandparent living with the family
                if let Some(f) = father
                    && self.rng.chance(0.12)
                {
                    let age =
                        (self.as_of - father_birth).whole_days() / 365 + self.rng.range(22, 34);
                    if age <= 95 {
                        let birth = self.birth_date(age, age);
                        let sex = if self.rng.chance(0.6) {
                            Sex::Female
                        } else {
                            Sex::Male
                        };
                        let sp = family_sp.clone();
                        let mut g =
                            self.person(group, sex, birth, &sp, None, &address, &citizenship);
                        if sex == Sex::Male {
                            g.name = father_names[0].clone();
                        }
                        let gi = g.iin;
                        h.persons.push(g);
                        link_both(&mut h, gi, f, Relation::Child, Relation::Parent);
                    }
                }
            }
        }
        // the father's given name became the children's patronymic; keep the grandfather
        // (same given name in this simplification) distinct by patronymic only
        let adults: Vec<Iin> = h
            .persons
            .iter()
            .filter(|p| p.status == Status::Alive && age_on(p.birth_date(), self.as_of) >= 18)
            .map(|p| p.iin)
            .collect();
        for a in &adults {
            if self.rng.chance(0.04) {
                let spouse = h
                    .links
                    .iter()
                    .find(|l| l.person == *a && l.relation == Relation::Spouse)
                    .map(|l| l.relative);
                let representative = match spouse {
                    Some(s) if self.rng.chance(0.4) => Some(s),
                    _ if !self.recent_adults.is_empty() => {
                        Some(*self.rng.pick(&self.recent_adults))
                    }
                    _ => spouse,
                };
                if let Some(rep) = representative {
                    let poa = self.poa(*a, rep, &address.region_code);
                    h.poas.push(poa);
                }
            }
        }
        for a in adults {
            if self.recent_adults.len() < 1024 {
                self.recent_adults.push(a);
            } else {
                let i = self.rng.below(1024) as usize;
                self.recent_adults[i] = a;
            }
        }
        h
    }

    fn poa(&mut self, principal: Iin, representative: Iin, region: &str) -> Poa {
        let data = self.data;
        let local: Vec<usize> = (0..data.notaries.len())
            .filter(|&i| data.notaries[i].region == region)
            .collect();
        let notary = if local.is_empty() {
            self.rng.below(data.notaries.len() as u64) as usize
        } else {
            *self.rng.pick(&local)
        };
        // the state the data should show on `as_of`
        let state = self.rng.weighted([55u32, 20, 10, 5, 10].into_iter());
        let (registered, valid_from, valid_until, revoked_on) = match state {
            // valid
            0 => {
                let reg = self.as_of - Duration::days(self.rng.range(0, 700));
                (
                    reg,
                    reg,
                    add_years(reg, self.rng.range(1, 3) as i32) + Duration::days(-1),
                    None,
                )
            }
            // expired
            1 => {
                let reg = self.as_of - Duration::days(self.rng.range(800, 3000));
                let until =
                    (add_years(reg, 1) - Duration::days(1)).min(self.as_of - Duration::days(1));
                (reg, reg, until, None)
            }
            // revoked
            2 => {
                let reg = self.as_of - Duration::days(self.rng.range(30, 700));
                let rev =
                    reg + Duration::days(self.rng.range(1, (self.as_of - reg).whole_days().max(1)));
                (
                    reg,
                    reg,
                    add_years(reg, 3) - Duration::days(1),
                    Some(rev.min(self.as_of)),
                )
            }
            // not yet valid: registered now, acting from a future date
            3 => {
                let reg = self.as_of - Duration::days(self.rng.range(0, 20));
                let from = self.as_of + Duration::days(self.rng.range(5, 60));
                (reg, from, add_years(from, 1) - Duration::days(1), None)
            }
            // valid, for services outside housing (out of scope for housing checks)
            _ => {
                let reg = self.as_of - Duration::days(self.rng.range(0, 700));
                (reg, reg, add_years(reg, 2) - Duration::days(1), None)
            }
        };
        let scope: Vec<String> = if state == 4 {
            vec![POA_SERVICES[2 + self.rng.below(3) as usize].to_string()]
        } else {
            match self.rng.weighted([35u32, 30, 15, 20].into_iter()) {
                0 => vec!["all".to_string()],
                1 => vec!["housing-queue".to_string()],
                2 => vec!["housing-assistance".to_string()],
                _ => vec![
                    "housing-queue".to_string(),
                    "housing-assistance".to_string(),
                ],
            }
        };
        self.poa_counter += 1;
        let licence = &data.notaries[notary].licence;
        let tail: String = licence
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        Poa {
            number: format!(
                "{}{:0>4}{:06}",
                registered.year(),
                tail,
                self.poa_counter % 1_000_000
            ),
            notary,
            registered,
            principal,
            representative,
            scope,
            valid_from,
            valid_until,
            revoked_on,
        }
    }
}

fn link_both(h: &mut Household, a: Iin, b: Iin, b_to_a: Relation, a_to_b: Relation) {
    h.links.push(Link {
        person: a,
        relative: b,
        relation: b_to_a,
    });
    h.links.push(Link {
        person: b,
        relative: a,
        relation: a_to_b,
    });
}

/// A surname formed from a father's given name (Ерлан → Ерланов / Ерланова), the old
/// Kazakh custom some families keep.
fn surname_from_name(name: &str) -> [String; 2] {
    let stem = name.trim_end_matches(['а', 'я', 'й', 'ь']);
    [format!("{stem}ов"), format!("{stem}ова")]
}

/// Full years between `birth` and `on`.
pub fn age_on(birth: Date, on: Date) -> i32 {
    let mut age = on.year() - birth.year();
    if (on.month() as u8, on.day()) < (birth.month() as u8, birth.day()) {
        age -= 1;
    }
    age
}

/// `d` moved by whole years (29 February becomes 28 February).
pub fn add_years(d: Date, years: i32) -> Date {
    let y = d.year() + years;
    Date::from_calendar_date(y, d.month(), d.day())
        .or_else(|_| Date::from_calendar_date(y, d.month(), d.day() - 1))
        .expect("valid date")
}

/// A date (panics on an invalid one: for constants).
pub fn date(y: i32, m: u8, d: u8) -> Date {
    Date::from_calendar_date(y, Month::try_from(m).expect("month"), d).expect("valid date")
}
