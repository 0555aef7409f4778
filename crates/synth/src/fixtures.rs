//! Named test citizens: a fixed set of residents, one of each case the flows branch on
//! (a family in Almaty, residents of Atyrau and Akzhar, a deceased person, a cancelled
//! IIN, an expired identity card, a foreigner, an IIN that is valid but absent from
//! ГБД ФЛ, and powers of attorney in every state). Seeding always adds them, so a
//! tester can use them on any seeded system; the generator never produces their IINs.

use std::collections::HashSet;

use egov_iin::{Iin, Sex};
use time::{Date, Duration};

use crate::{Address, Document, Household, Link, Person, Poa, Relation, Status, add_years, date};

/// A named test citizen, as the launcher prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Citizen {
    /// A short key for tests and docs (`family-father`, `deceased`, ...).
    pub key: &'static str,
    /// The IIN.
    pub iin: Iin,
    /// Full name in capitals (empty for the absent IIN).
    pub name: String,
    /// What the case is.
    pub case: &'static str,
}

/// A named power of attorney.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPoa {
    /// A short key (`valid`, `expired`, ...).
    pub key: &'static str,
    /// The power of attorney.
    pub poa: Poa,
    /// What the case is.
    pub case: &'static str,
}

/// The IIN of the first fixture, used in the README's examples.
pub const EXAMPLE_IIN: &str = "870312300046";

fn iin(birth: Date, sex: Sex, serial_from: u16) -> Iin {
    (serial_from..=9999)
        .find_map(|s| Iin::from_parts(birth, sex, s).ok())
        .expect("an assignable serial")
}

struct Spec {
    key: &'static str,
    case: &'static str,
    iin: Iin,
    surname: &'static str,
    name: &'static str,
    patronymic: Option<&'static str>,
    sex: Sex,
    citizenship: &'static str,
    region: (&'static str, &'static str, &'static str, &'static str),
    street: (
        &'static str,
        &'static str,
        Option<&'static str>,
        &'static str,
    ),
}

fn specs() -> Vec<Spec> {
    let almaty = ("almaty", "г. Алматы", "Алмалинский район", "г. Алматы");
    vec![
        Spec {
            key: "family-father",
            case: "alive, Almaty, married with two children, valid identity card",
            iin: Iin::parse(EXAMPLE_IIN).expect("valid"),
            surname: "Ахметов",
            name: "Ерлан",
            patronymic: Some("Сабитович"),
            sex: Sex::Male,
            citizenship: "KZ",
            region: almaty,
            street: ("ул. Жамбыла", "114", Some("25"), "050000"),
        },
        Spec {
            key: "family-mother",
            case: "alive, Almaty, wife of family-father",
            iin: iin(date(1989, 7, 21), Sex::Female, 9000),
            surname: "Нурланова",
            name: "Айгуль",
            patronymic: Some("Сериковна"),
            sex: Sex::Female,
            citizenship: "KZ",
            region: almaty,
            street: ("ул. Жамбыла", "114", Some("25"), "050000"),
        },
        Spec {
            key: "family-son",
            case: "a minor child of the family, birth certificate",
            iin: iin(date(2014, 5, 3), Sex::Male, 9000),
            surname: "Ахметов",
            name: "Данияр",
            patronymic: Some("Ерланович"),
            sex: Sex::Male,
            citizenship: "KZ",
            region: almaty,
            street: ("ул. Жамбыла", "114", Some("25"), "050000"),
        },
        Spec {
            key: "family-daughter",
            case: "a minor child of the family, birth certificate",
            iin: iin(date(2017, 9, 14), Sex::Female, 9000),
            surname: "Ахметова",
            name: "Алия",
            patronymic: Some("Ерлановна"),
            sex: Sex::Female,
            citizenship: "KZ",
            region: almaty,
            street: ("ул. Жамбыла", "114", Some("25"), "050000"),
        },
        Spec {
            key: "atyrau",
            case: "alive, Atyrau; gave a valid power of attorney for housing-queue to representative",
            iin: iin(date(1979, 11, 2), Sex::Male, 9000),
            surname: "Жумабаев",
            name: "Нуржан",
            patronymic: Some("Кайратович"),
            sex: Sex::Male,
            citizenship: "KZ",
            region: ("atyrau", "Атырауская область", "г. Атырау", "г. Атырау"),
            street: ("пр. Азаттык", "48", Some("12"), "060000"),
        },
        Spec {
            key: "akzhar",
            case: "alive, Akzhar district (с. Талшик)",
            iin: iin(date(1965, 2, 8), Sex::Female, 9000),
            surname: "Петренко",
            name: "Ольга",
            patronymic: Some("Викторовна"),
            sex: Sex::Female,
            citizenship: "KZ",
            region: (
                "nko",
                "Северо-Казахстанская область",
                "Акжарский район",
                "с. Талшик",
            ),
            street: ("ул. Целинная", "17", None, "150200"),
        },
        Spec {
            key: "representative",
            case: "alive, Almaty; representative in powers of attorney of every state",
            iin: iin(date(1992, 4, 17), Sex::Female, 9000),
            surname: "Сейткали",
            name: "Асель",
            patronymic: Some("Маратовна"),
            sex: Sex::Female,
            citizenship: "KZ",
            region: ("almaty", "г. Алматы", "Бостандыкский район", "г. Алматы"),
            street: ("ул. Тимирязева", "42", Some("118"), "050040"),
        },
        Spec {
            key: "deceased",
            case: "deceased (the record stays, with the date of death)",
            iin: iin(date(1940, 1, 15), Sex::Male, 9000),
            surname: "Иванов",
            name: "Петр",
            patronymic: Some("Семенович"),
            sex: Sex::Male,
            citizenship: "KZ",
            region: ("almaty", "г. Алматы", "Турксибский район", "г. Алматы"),
            street: ("ул. Сейфуллина", "9", Some("3"), "050006"),
        },
        Spec {
            key: "cancelled",
            case: "IIN cancelled (C-person fails)",
            iin: iin(date(1983, 6, 30), Sex::Male, 9000),
            surname: "Касымов",
            name: "Болат",
            patronymic: Some("Ержанович"),
            sex: Sex::Male,
            citizenship: "KZ",
            region: ("atyrau", "Атырауская область", "г. Атырау", "г. Атырау"),
            street: ("пр. Сатпаева", "3", Some("7"), "060011"),
        },
        Spec {
            key: "expired-id",
            case: "alive, Almaty, identity card expired",
            iin: iin(date(1970, 10, 5), Sex::Female, 9000),
            surname: "Омарова",
            name: "Гульнар",
            patronymic: Some("Бекеновна"),
            sex: Sex::Female,
            citizenship: "KZ",
            region: ("almaty", "г. Алматы", "Ауэзовский район", "г. Алматы"),
            street: ("мкр. Мамыр-4", "101", Some("54"), "050036"),
        },
        Spec {
            key: "foreigner",
            case: "citizen of Uzbekistan with a residence permit, Almaty",
            iin: iin(date(1985, 12, 1), Sex::Male, 9000),
            surname: "Ким",
            name: "Виктор",
            patronymic: Some("Андреевич"),
            sex: Sex::Male,
            citizenship: "UZ",
            region: ("almaty", "г. Алматы", "Медеуский район", "г. Алматы"),
            street: ("пр. Достык", "85", Some("14"), "050010"),
        },
    ]
}

/// The IIN that is valid but belongs to no one in ГБД ФЛ (C-person fails).
pub fn absent_iin() -> Iin {
    iin(date(1990, 1, 1), Sex::Male, 9500)
}

/// Every IIN the fixtures use (the generator skips them).
pub fn reserved_iins(as_of: Date) -> HashSet<Iin> {
    let mut s: HashSet<Iin> = household(as_of).persons.iter().map(|p| p.iin).collect();
    s.insert(absent_iin());
    s
}

/// The named citizens, the absent IIN last.
pub fn citizens(as_of: Date) -> Vec<Citizen> {
    let h = household(as_of);
    let mut v: Vec<Citizen> = specs()
        .into_iter()
        .zip(h.persons.iter())
        .map(|(s, p)| Citizen {
            key: s.key,
            iin: p.iin,
            name: p.full_name_upper(),
            case: s.case,
        })
        .collect();
    v.push(Citizen {
        key: "absent",
        iin: absent_iin(),
        name: String::new(),
        case: "a valid IIN that ГБД ФЛ does not know (C-person fails)",
    });
    v
}

/// A fixture citizen's IIN by key.
pub fn iin_of(key: &str) -> Iin {
    if key == "absent" {
        return absent_iin();
    }
    specs()
        .into_iter()
        .find(|s| s.key == key)
        .map(|s| s.iin)
        .unwrap_or_else(|| panic!("no fixture citizen {key:?}"))
}

/// The fixtures as one "household" to seed: the people, the family links and the
/// powers of attorney (dates relative to `as_of`).
pub fn household(as_of: Date) -> Household {
    let mut h = Household::default();
    for s in specs() {
        let birth = s.iin.birth_date();
        let adult = as_of >= add_years(birth, 16);
        let document = match (s.key, s.citizenship, adult) {
            ("expired-id", _, _) => Document {
                kind: "id-card",
                number: "041234567".into(),
                issued: add_years(as_of, -11),
                issuer: "МЮ РК".into(),
                expires: Some(add_years(as_of, -1)),
            },
            (_, "KZ", true) => Document {
                kind: "id-card",
                number: format!("05{}", &s.iin.as_string()[..7]),
                issued: add_years(as_of, -3),
                issuer: "МВД РК".into(),
                expires: Some(add_years(as_of, 7)),
            },
            (_, "KZ", false) => Document {
                kind: "birth-certificate",
                number: s.iin.as_string()[..7].to_string(),
                issued: birth + Duration::days(10),
                issuer: "Отдел ЗАГС г. Алматы".into(),
                expires: None,
            },
            _ => Document {
                kind: "residence-permit",
                number: "F07123456".into(),
                issued: add_years(as_of, -2),
                issuer: "Департамент миграционной службы г. Алматы".into(),
                expires: Some(add_years(as_of, 8)),
            },
        };
        let status = match s.key {
            "deceased" => Status::Deceased(as_of - Duration::days(400)),
            "cancelled" => {
                Status::Cancelled(as_of - Duration::days(2000), "дублирование ИИН".to_string())
            }
            _ => Status::Alive,
        };
        h.persons.push(Person {
            iin: s.iin,
            surname: s.surname.into(),
            name: s.name.into(),
            patronymic: s.patronymic.map(String::from),
            sex: s.sex,
            citizenship: s.citizenship.into(),
            status,
            document,
            address: Address {
                region_code: s.region.0.into(),
                region: s.region.1.into(),
                district: s.region.2.into(),
                locality: s.region.3.into(),
                street: s.street.0.into(),
                house: s.street.1.into(),
                flat: s.street.2.map(String::from),
                postcode: Some(s.street.3.into()),
                since: add_years(as_of, -9).max(birth),
            },
        });
    }
    let by = |k: &str| iin_of(k);
    let mut link = |a: &str, b: &str, b_to_a: Relation, a_to_b: Relation| {
        h.links.push(Link {
            person: by(a),
            relative: by(b),
            relation: b_to_a,
        });
        h.links.push(Link {
            person: by(b),
            relative: by(a),
            relation: a_to_b,
        });
    };
    link(
        "family-father",
        "family-mother",
        Relation::Spouse,
        Relation::Spouse,
    );
    for child in ["family-son", "family-daughter"] {
        link("family-father", child, Relation::Child, Relation::Parent);
        link("family-mother", child, Relation::Child, Relation::Parent);
    }
    h.poas = named_poas(as_of).into_iter().map(|n| n.poa).collect();
    h
}

/// The named powers of attorney, one per state, all naming `representative`.
pub fn named_poas(as_of: Date) -> Vec<NamedPoa> {
    let rep = iin_of("representative");
    let mk = |n: u32,
              principal: &str,
              reg: Date,
              from: Date,
              until: Date,
              scope: &[&str],
              revoked: Option<Date>| Poa {
        number: format!("{}0001{:06}", reg.year(), 900_000 + n),
        notary: 0,
        registered: reg,
        principal: iin_of(principal),
        representative: rep,
        scope: scope.iter().map(|s| s.to_string()).collect(),
        valid_from: from,
        valid_until: until,
        revoked_on: revoked,
    };
    let year_ago = as_of - Duration::days(365);
    vec![
        NamedPoa {
            key: "valid",
            case: "valid today for housing-queue",
            poa: mk(
                1,
                "atyrau",
                year_ago,
                year_ago,
                add_years(as_of, 2),
                &["housing-queue"],
                None,
            ),
        },
        NamedPoa {
            key: "valid-all",
            case: "valid today for every service",
            poa: mk(
                2,
                "akzhar",
                year_ago,
                year_ago,
                add_years(as_of, 1),
                &["all"],
                None,
            ),
        },
        NamedPoa {
            key: "expired",
            case: "expired",
            poa: mk(
                3,
                "family-father",
                add_years(as_of, -3),
                add_years(as_of, -3),
                as_of - Duration::days(30),
                &["housing-queue"],
                None,
            ),
        },
        NamedPoa {
            key: "revoked",
            case: "revoked by the principal",
            poa: mk(
                4,
                "family-mother",
                year_ago,
                year_ago,
                add_years(as_of, 2),
                &["all"],
                Some(as_of - Duration::days(60)),
            ),
        },
        NamedPoa {
            key: "out-of-scope",
            case: "valid, but only for pension-payments",
            poa: mk(
                5,
                "expired-id",
                year_ago,
                year_ago,
                add_years(as_of, 2),
                &["pension-payments"],
                None,
            ),
        },
        NamedPoa {
            key: "not-yet-valid",
            case: "registered, acting only from a future date",
            poa: mk(
                6,
                "foreigner",
                as_of - Duration::days(2),
                as_of + Duration::days(30),
                add_years(as_of, 1),
                &["housing-queue", "housing-assistance"],
                None,
            ),
        },
    ]
}
