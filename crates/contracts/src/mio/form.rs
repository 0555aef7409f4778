//! An [`ApplicationDocument`] held against its regulation's form: every required field
//! of `[[fields]]` present and of its kind, the category one of the regulation's, the
//! attachments of the regulation's document kinds with base64 scans. ИС МИО's intake
//! refuses with `INVALID_FORM` on any problem; ИС ЦОН's desk makes the same check
//! before the operator signs, and names each problem in the operator's language.

use base64::Engine as _;
use egov_regulation::{Field, FieldKind, Regulation};
use serde_json::Value;

use super::ApplicationDocument;

/// One problem of a form.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// A required field is missing or empty.
    Required(Field),
    /// A field's value is not of its kind.
    Invalid(Field, String),
    /// The category is not one of the regulation's.
    UnknownCategory {
        /// The category given.
        given: String,
        /// The regulation's.
        known: Vec<String>,
    },
    /// An attachment of a kind the regulation does not list.
    UnknownDocument(String),
    /// An attachment whose content is not base64.
    NotBase64(String),
}

impl std::fmt::Display for Problem {
    /// The problem as ИС МИО's intake states it (English, the field's Russian name).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Required(x) => write!(f, "{} ({}) is required", x.id, x.name.ru),
            Problem::Invalid(x, t) => f.write_str(
                &format!(
                    "{} ({}): {t:?} is not a valid {:?}",
                    x.id, x.name.ru, x.kind
                )
                .to_lowercase(),
            ),
            Problem::UnknownCategory { given, known } => {
                write!(f, "category {given:?} is not one of {}", known.join(", "))
            }
            Problem::UnknownDocument(k) => write!(
                f,
                "attached document kind {k:?} is not in the regulation's list"
            ),
            Problem::NotBase64(k) => {
                write!(f, "attached document {k:?}: content is not base64")
            }
        }
    }
}

impl Problem {
    /// The problem in `lang` (`ru` or `kk`), naming the field as the regulation does.
    pub fn text(&self, lang: &str) -> String {
        let kk = lang == "kk";
        match self {
            Problem::Required(x) if kk => format!("«{}» өрісі толтырылмаған", x.name.kk),
            Problem::Required(x) => format!("не заполнено поле «{}»", x.name.ru),
            Problem::Invalid(x, t) if kk => format!("«{}» өрісі: «{t}» мәні жарамсыз", x.name.kk),
            Problem::Invalid(x, t) => format!("поле «{}»: недопустимое значение «{t}»", x.name.ru),
            Problem::UnknownCategory { given, .. } if kk => {
                format!("«{given}» санаты регламентте жоқ")
            }
            Problem::UnknownCategory { given, .. } => {
                format!("категории «{given}» нет в регламенте")
            }
            Problem::UnknownDocument(k) if kk => format!("«{k}» құжат түрі регламентте жоқ"),
            Problem::UnknownDocument(k) => format!("вида документа «{k}» нет в регламенте"),
            Problem::NotBase64(k) if kk => format!("«{k}» құжатының сканері base64 емес"),
            Problem::NotBase64(k) => format!("скан документа «{k}» не в base64"),
        }
    }
}

fn lookup<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    let walk = |root: &'a Value| {
        path.split('.')
            .try_fold(root, |v, k| v.get(k))
            .filter(|v| !v.is_null())
    };
    walk(doc).or_else(|| doc.get("form").and_then(walk))
}

/// Every problem of `doc`'s form against `reg` (none: the form is acceptable).
pub fn check(reg: &Regulation, doc: &ApplicationDocument) -> Result<(), Vec<Problem>> {
    let v = serde_json::to_value(doc).expect("serializes");
    let mut problems = Vec::new();
    for f in &reg.fields {
        let value = lookup(&v, &f.id);
        let text = value.map(|x| match x {
            Value::String(s) => s.trim().to_string(),
            other => other.to_string(),
        });
        match (&text, f.required) {
            (None, true) => {
                problems.push(Problem::Required(f.clone()));
                continue;
            }
            (Some(t), true) if t.is_empty() => {
                problems.push(Problem::Required(f.clone()));
                continue;
            }
            (None, false) => continue,
            _ => {}
        }
        let t = text.expect("present");
        if t.is_empty() {
            continue;
        }
        let ok = match f.kind {
            FieldKind::Iin => egov_iin::Iin::parse(&t).is_ok(),
            FieldKind::Date => crate::date::parse(&t).is_ok(),
            FieldKind::Number => {
                value.is_some_and(|x| x.is_number())
                    || t.replace(',', ".")
                        .parse::<f64>()
                        .is_ok_and(|n| n.is_finite() && n >= 0.0)
            }
            FieldKind::Email => {
                let parts: Vec<&str> = t.split('@').collect();
                parts.len() == 2 && !parts[0].is_empty() && parts[1].contains('.')
            }
            FieldKind::Phone => {
                let digits = t.chars().filter(|c| c.is_ascii_digit()).count();
                (7..=15).contains(&digits)
                    && t.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c))
            }
            FieldKind::Category => reg.category(&t).is_some(),
            FieldKind::Bool => value.is_some_and(|x| x.is_boolean()),
            FieldKind::Text => t.chars().count() <= 2000,
        };
        if !ok {
            problems.push(Problem::Invalid(f.clone(), t));
        }
    }
    if reg.category(&doc.category).is_none() {
        problems.push(Problem::UnknownCategory {
            given: doc.category.clone(),
            known: reg.categories.iter().map(|c| c.id.clone()).collect(),
        });
    }
    for a in &doc.documents {
        if !reg.documents.iter().any(|d| d.id == a.kind) {
            problems.push(Problem::UnknownDocument(a.kind.clone()));
        }
        if let Some(c) = &a.content
            && base64::engine::general_purpose::STANDARD.decode(c).is_err()
        {
            problems.push(Problem::NotBase64(a.kind.clone()));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
