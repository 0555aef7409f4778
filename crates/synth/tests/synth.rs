//! The synthetic population: deterministic, valid, unique, consistent within families,
//! spread over the three regions, with every status and every state of a power of
//! attorney.

use std::collections::{HashMap, HashSet};

use egov_iin::{Iin, Sex};
use egov_synth::{Data, Generator, Household, Relation, Status, age_on, date, fixtures};

fn as_of() -> time::Date {
    date(2026, 6, 1)
}

fn population(n: u64, seed: u64) -> Vec<Household> {
    let mut v = Vec::new();
    Generator::new(seed, as_of()).generate(n, |h| v.push(h));
    v
}

#[test]
fn the_same_seed_gives_the_same_people() {
    let a = population(3000, 42);
    assert_eq!(a, population(3000, 42));
    assert_ne!(a, population(3000, 43));
    assert_eq!(a.iter().map(|h| h.persons.len()).sum::<usize>(), 3000);
}

#[test]
fn iins_are_valid_unique_and_match_birth_and_sex() {
    let pop = population(60_000, 1);
    let reserved = fixtures::reserved_iins(as_of());
    let mut seen = HashSet::new();
    for p in pop.iter().flat_map(|h| &h.persons) {
        let s = p.iin.as_string();
        assert_eq!(Iin::parse(&s).unwrap(), p.iin);
        assert!(seen.insert(p.iin), "duplicate IIN {s}");
        assert!(
            !reserved.contains(&p.iin),
            "{s} belongs to a named test citizen"
        );
        assert!(p.birth_date() <= as_of());
        match p.sex {
            Sex::Male => assert!(p.surname == p.surname.trim() && !p.surname.is_empty()),
            Sex::Female => {}
        }
        assert_eq!(p.iin.sex(), p.sex);
    }
}

#[test]
fn names_are_cyrillic_and_agree_with_sex() {
    let pop = population(20_000, 3);
    let cyrillic = |s: &str| {
        s.chars()
            .all(|c| ('\u{0400}'..='\u{04FF}').contains(&c) || c == '-' || c == ' ' || c == '\'')
    };
    let mut kazakh_style = 0;
    for p in pop.iter().flat_map(|h| &h.persons) {
        assert!(cyrillic(&p.surname) && cyrillic(&p.name), "{p:?}");
        if let Some(pat) = &p.patronymic {
            assert!(cyrillic(pat), "{pat}");
            match p.sex {
                Sex::Male => assert!(
                    pat.ends_with("ич") || pat.ends_with("ұлы"),
                    "a son's patronymic: {pat}"
                ),
                Sex::Female => assert!(
                    pat.ends_with("на") || pat.ends_with("қызы"),
                    "a daughter's patronymic: {pat}"
                ),
            }
            if pat.ends_with("ұлы") || pat.ends_with("қызы") {
                kazakh_style += 1;
            }
        }
    }
    assert!(kazakh_style > 0, "some young Kazakhs carry -ұлы / -қызы");
}

#[test]
fn families_are_consistent() {
    let pop = population(30_000, 5);
    let mut spouses = 0;
    let mut children = 0;
    for h in &pop {
        let by: HashMap<Iin, &egov_synth::Person> = h.persons.iter().map(|p| (p.iin, p)).collect();
        let links: HashSet<(Iin, Iin, &'static str)> = h
            .links
            .iter()
            .map(|l| (l.person, l.relative, l.relation.as_str()))
            .collect();
        for l in &h.links {
            let a = by[&l.person];
            let b = by[&l.relative];
            // every link is listed both ways
            let back = match l.relation {
                Relation::Spouse => "spouse",
                Relation::Child => "parent",
                Relation::Parent => "child",
            };
            assert!(links.contains(&(l.relative, l.person, back)), "{l:?}");
            match l.relation {
                Relation::Spouse => {
                    spouses += 1;
                    assert_ne!(a.sex, b.sex);
                    assert!(age_on(a.birth_date(), as_of()) >= 18);
                    assert!(age_on(b.birth_date(), as_of()) >= 18);
                }
                Relation::Child => {
                    children += 1;
                    let gap = age_on(a.birth_date(), b.birth_date());
                    assert!(
                        (16..=60).contains(&gap),
                        "parent {} child {}",
                        a.birth_date(),
                        b.birth_date()
                    );
                }
                Relation::Parent => {}
            }
            // the household shares its address
            assert_eq!(a.address.street, b.address.street);
            assert_eq!(a.address.house, b.address.house);
            assert_eq!(a.address.flat, b.address.flat);
        }
    }
    assert!(spouses > 1000 && children > 1000, "{spouses} {children}");
}

#[test]
fn regions_statuses_and_documents() {
    let pop = population(50_000, 9);
    let mut regions: HashMap<String, usize> = HashMap::new();
    let (mut deceased, mut cancelled, mut expired, mut foreign) = (0, 0, 0, 0);
    for p in pop.iter().flat_map(|h| &h.persons) {
        *regions.entry(p.address.region_code.clone()).or_default() += 1;
        match &p.status {
            Status::Alive => {}
            Status::Deceased(d) => {
                deceased += 1;
                assert!(*d >= p.birth_date() && *d <= as_of());
            }
            Status::Cancelled(d, reason) => {
                cancelled += 1;
                assert!(*d <= as_of() && !reason.is_empty());
            }
        }
        let age = age_on(p.birth_date(), as_of());
        let d = &p.document;
        assert!(d.issued >= p.birth_date() && d.issued <= as_of(), "{p:?}");
        match d.kind {
            "birth-certificate" => assert!(age < 16 || p.citizenship != "KZ", "{p:?}"),
            "residence-permit" => assert_ne!(p.citizenship, "KZ"),
            _ => assert!(age >= 16),
        }
        if d.expires.is_some_and(|e| e < as_of()) {
            expired += 1;
        }
        if p.citizenship != "KZ" {
            foreign += 1;
        }
        assert!(p.address.since >= p.birth_date() && p.address.since <= as_of());
    }
    let share = |code: &str| regions[code] as f64 / 50_000.0;
    assert!((0.68..0.80).contains(&share("almaty")), "{regions:?}");
    assert!((0.19..0.31).contains(&share("atyrau")), "{regions:?}");
    assert!((0.003..0.03).contains(&share("nko")), "{regions:?}");
    assert!(
        deceased > 50 && cancelled > 10 && expired > 100 && foreign > 100,
        "{deceased} {cancelled} {expired} {foreign}"
    );
}

#[test]
fn powers_of_attorney_in_every_state() {
    let pop = population(100_000, 11);
    let on = as_of();
    let mut states: HashMap<&str, usize> = HashMap::new();
    let mut numbers = HashSet::new();
    for p in pop.iter().flat_map(|h| &h.poas) {
        assert!(
            numbers.insert(p.number.clone()),
            "duplicate number {}",
            p.number
        );
        assert_ne!(p.principal, p.representative);
        assert!(p.valid_from <= p.valid_until);
        let s = if p.revoked_on.is_some_and(|r| r <= on) {
            "revoked"
        } else if on < p.valid_from {
            "not-yet-valid"
        } else if on > p.valid_until {
            "expired"
        } else if p
            .scope
            .iter()
            .any(|s| s == "all" || s.starts_with("housing"))
        {
            "valid"
        } else {
            "out-of-scope"
        };
        *states.entry(s).or_default() += 1;
    }
    for s in [
        "valid",
        "expired",
        "revoked",
        "not-yet-valid",
        "out-of-scope",
    ] {
        assert!(states.get(s).copied().unwrap_or(0) > 20, "{states:?}");
    }
}

#[test]
fn the_named_citizens_cover_every_case() {
    let c = fixtures::citizens(as_of());
    let keys: Vec<&str> = c.iter().map(|c| c.key).collect();
    for k in [
        "family-father",
        "deceased",
        "cancelled",
        "absent",
        "representative",
        "akzhar",
        "atyrau",
    ] {
        assert!(keys.contains(&k), "{k}");
    }
    assert_eq!(
        fixtures::iin_of("family-father").as_string(),
        fixtures::EXAMPLE_IIN
    );
    let h = fixtures::household(as_of());
    assert!(!h.persons.iter().any(|p| p.iin == fixtures::absent_iin()));
    let named = fixtures::named_poas(as_of());
    assert_eq!(named.len(), 6);
}

#[test]
fn broken_reference_data_is_refused() {
    let good = egov_synth::data::POPULATION_TOML;
    assert!(Data::from_toml(good).is_ok());
    let no_nko = good.replace("code = \"nko\"", "code = \"mars\"");
    assert!(Data::from_toml(&no_nko).unwrap_err().contains("nko"));
    assert!(Data::from_toml("names = 1").is_err());
}
