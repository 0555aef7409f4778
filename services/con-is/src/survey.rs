//! The survey (анкета) of the regulations' last appendix, given to the citizen with the
//! result: the questions and answers of the seeds that print one
//! (`data/surveys.toml`, embedded), found by the regulation's `seed`.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use egov_regulation::Regulation;

/// A text in Russian and Kazakh.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// Russian.
    pub ru: String,
    /// Kazakh.
    pub kk: String,
}

/// A question or an answer.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Its id.
    pub id: String,
    /// Its words.
    pub text: Text,
}

/// One survey form and the seeds that print it.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Survey {
    /// The seeds whose last appendix it is.
    pub seeds: Vec<String>,
    /// Which appendix, per seed.
    pub appendix: BTreeMap<String, String>,
    /// The questions, in order.
    pub questions: Vec<Item>,
    /// The answers every question takes.
    pub answers: Vec<Item>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    surveys: Vec<Survey>,
}

static SURVEYS: LazyLock<Vec<Survey>> = LazyLock::new(|| {
    toml::from_str::<File>(include_str!("../data/surveys.toml"))
        .expect("data/surveys.toml parses")
        .surveys
});

/// The survey the regulation's seed prints, if it prints one.
pub fn of(reg: &Regulation) -> Option<&'static Survey> {
    SURVEYS.iter().find(|s| s.seeds.contains(&reg.seed))
}

/// The answers of one citizen: question id → answer id.
pub type Answers = BTreeMap<String, String>;

/// Why answers do not fit the survey: (Russian, Kazakh).
pub fn check(survey: &Survey, answers: &Answers) -> Result<(), (String, String)> {
    for (q, a) in answers {
        if !survey.questions.iter().any(|x| &x.id == q) {
            return Err((
                format!("в анкете нет вопроса «{q}»"),
                format!("сауалнамада «{q}» сұрағы жоқ"),
            ));
        }
        if !survey.answers.iter().any(|x| &x.id == a) {
            return Err((
                format!("«{a}» не ответ анкеты на вопрос «{q}»"),
                format!("«{a}» — «{q}» сұрағына сауалнаманың жауабы емес"),
            ));
        }
    }
    let missing: Vec<&str> = survey
        .questions
        .iter()
        .filter(|q| !answers.contains_key(&q.id))
        .map(|q| q.id.as_str())
        .collect();
    if !missing.is_empty() {
        return Err((
            format!("в анкете нет ответа на вопросы: {}", missing.join(", ")),
            format!(
                "сауалнамада мына сұрақтарға жауап жоқ: {}",
                missing.join(", ")
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_with_a_survey_have_two_questions_of_three_answers() {
        let regs = egov_regulation::load_dir(&egov_regulation::shipped_dir()).unwrap();
        let with: Vec<&str> = regs
            .iter()
            .filter(|r| of(r).is_some())
            .map(|r| r.seed.as_str())
            .collect();
        for seed in ["000", "001", "003"] {
            assert!(with.contains(&seed), "{seed}: {with:?}");
        }
        assert!(!with.contains(&"002") && !with.contains(&"004"));
        let s = &SURVEYS[0];
        assert_eq!(s.questions.len(), 2);
        assert_eq!(s.answers.len(), 3);
        let ok: Answers = [
            ("quality", "satisfied"),
            ("information", "partly-satisfied"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert!(check(s, &ok).is_ok());
        let mut bad = ok.clone();
        bad.insert("quality".into(), "maybe".into());
        assert!(check(s, &bad).is_err());
        bad = ok.clone();
        bad.remove("information");
        assert!(check(s, &bad).unwrap_err().0.contains("information"));
    }
}
