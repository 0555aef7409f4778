//! The loader: the shipped files load; each kind of mistake is reported with its file,
//! its line and what is wrong.

use egov_regulation::{Actor, Deadline, Problem, StepKind, parse};

/// A small valid regulation; the tests break it in one place each.
const GOOD: &str = r#"
id = "test-2026-housing-queue"
service = "housing-queue"
region = "nko"
system = "mio-nko"
seed = "none"
language = "ru"
automation = "partial"
transactional = true
result_form = "electronic"
total_deadline = "30 calendar days"
title = { ru = "Тест", kk = "Сынақ" }
service_name = { ru = "Услуга", kk = "Қызмет" }
decree = { number = "1", date = "2026-01-01", issuer = { ru = "Акимат", kk = "Әкімдік" } }
standard = { ru = "Стандарт", kk = "Стандарт" }
refusal_grounds_clause = { ru = "п. 10", kk = "10-т." }
in_force = { from = "2026-01-10" }

[[providers]]
id = "p"
bin = "000140009999"
name = { ru = "Отдел", kk = "Бөлім" }

[[roles]]
id = "executor"
name = { ru = "Исполнитель", kk = "Орындаушы" }

[[lanes]]
id = "mio"
system = "mio"
name = { ru = "ИС МИО", kk = "ЖАО АЖ" }

[[lanes]]
id = "citizen"
system = "citizen"
name = { ru = "Гражданин", kk = "Азамат" }

[[categories]]
id = "all"
name = { ru = "все", kk = "барлығы" }

[[results]]
id = "notice"
kind = "registration"
final_status = "completed"
title = { ru = "Уведомление", kk = "Хабарлама" }
body = { ru = "Номер {queue_number}", kk = "Нөмір {queue_number}" }

[[steps]]
id = "register"
lane = "mio"
actor = "system"
kind = "register"
action = { ru = "регистрация", kk = "тіркеу" }
completion = { ru = "номер", kk = "нөмір" }
deadline = "1 minute"
status = "received"
next = "decide"

[[steps]]
id = "decide"
lane = "mio"
actor = "executor"
kind = "task"
action = { ru = "решение", kk = "шешім" }
completion = { ru = "решение", kk = "шешім" }
deadline = "2 working days"

[[steps.outcomes]]
id = "register"
next = "end"
result = "notice"
effect = "enqueue"

[[steps]]
id = "end"
lane = "mio"
actor = "system"
kind = "end"
action = { ru = "конец", kk = "соңы" }
completion = { ru = "конец", kk = "соңы" }

[[channels]]
id = "portal"
name = { ru = "ПЭП", kk = "ЭҮП" }
handoff = "register"

[[channels.steps]]
id = "send"
lane = "citizen"
actor = "citizen"
action = { ru = "отправка", kk = "жіберу" }
completion = { ru = "отправлено", kk = "жіберілді" }
deadline = "1 minute"
next = "handoff"
"#;

fn problems(text: &str) -> Vec<Problem> {
    parse("t.toml", text).unwrap_err().0
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in the text"))
        + 1
}

fn expect(text: &str, needle_line: &str, message_part: &str) {
    let p = problems(text);
    let line = line_of(text, needle_line);
    assert!(
        p.iter()
            .any(|p| p.line == line && p.message.contains(message_part)),
        "expected line {line} with {message_part:?}, got {:#?}",
        p
    );
    for x in &p {
        assert!(x.to_string().starts_with("t.toml:"), "{x}");
    }
}

#[test]
fn the_good_one_loads() {
    let r = parse("t.toml", GOOD).unwrap();
    assert_eq!(r.steps.len(), 3);
    assert_eq!(
        r.step("decide").unwrap().deadline,
        Some(Deadline::WorkingDays(2))
    );
    assert_eq!(
        r.step("decide").unwrap().actor,
        Actor::Role("executor".into())
    );
    assert_eq!(r.first_step().kind, StepKind::Register);
    assert_eq!(r.working_roles(), vec!["executor"]);
}

#[test]
fn every_shipped_regulation_and_the_test_one_load() {
    let regs = egov_regulation::load_dir(&egov_regulation::shipped_dir()).unwrap();
    assert_eq!(regs.len(), 5);
    let systems: Vec<&str> = regs.iter().map(|r| r.system.as_str()).collect();
    for s in ["mio-almaty", "mio-atyrau", "mio-nko"] {
        assert!(systems.contains(&s), "{s}");
    }
    for r in &regs {
        assert!(r.steps.iter().any(|s| s.kind == StepKind::End), "{}", r.id);
        assert!(!r.fields.is_empty() && !r.documents.is_empty(), "{}", r.id);
        assert!(
            r.steps
                .iter()
                .all(|s| s.kind == StepKind::End || s.deadline.is_some())
        );
    }
    let test_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../services/mio-is/tests/regulations");
    let extra = egov_regulation::load_dir(&test_dir).unwrap();
    assert_eq!(extra.len(), 1);
}

#[test]
fn syntax_unknown_and_missing_keys() {
    let p = problems("id = \"x\"\nnot toml at all");
    assert_eq!(p[0].line, 2, "{p:?}");
    let t = GOOD.replace(
        "automation = \"partial\"",
        "automation = \"partial\"\ncolour = \"blue\"",
    );
    expect(&t, "colour", "unknown field `colour`");
    let t = GOOD.replace(
        "title = { ru = \"Тест\", kk = \"Сынақ\" }",
        "title = { ru = \"Тест\" }",
    );
    expect(&t, "title =", "missing field `kk`");
    let t = GOOD.replace("transactional = true\n", "");
    assert!(problems(&t)[0].message.contains("transactional"));
}

#[test]
fn references_to_things_that_do_not_exist() {
    let t = GOOD.replace("next = \"decide\"", "next = \"decied\"");
    expect(
        &t,
        "next = \"decied\"",
        "next step \"decied\" does not exist",
    );
    let t = GOOD.replace("actor = \"executor\"", "actor = \"janitor\"");
    expect(&t, "actor = \"janitor\"", "unknown actor \"janitor\"");
    let t = GOOD.replace("result = \"notice\"", "result = \"letter\"");
    expect(&t, "result = \"letter\"", "unknown result \"letter\"");
    let t = GOOD.replace(
        "lane = \"mio\"\nactor = \"executor\"",
        "lane = \"citizen\"\nactor = \"executor\"",
    );
    expect(&t, "lane = \"citizen\"", "not a lane of ИС МИО");
    let t = GOOD.replace("handoff = \"register\"", "handoff = \"intake\"");
    expect(
        &t,
        "handoff = \"intake\"",
        "handoff step \"intake\" does not exist",
    );
}

#[test]
fn duplicates_unreachable_steps_and_cycles() {
    let t = GOOD.replace(
        "id = \"executor\"",
        "id = \"executor\"\nname = { ru = \"И\", kk = \"О\" }\n\n[[roles]]\nid = \"executor\"",
    );
    let p = problems(&t);
    assert!(
        p.iter().any(|p| p
            .message
            .contains("duplicate role id \"executor\" (first declared on line")),
        "{p:#?}"
    );

    // a step nobody leads to
    let orphan = "\n[[steps]]\nid = \"orphan\"\nlane = \"mio\"\nactor = \"executor\"\nkind = \"task\"\naction = { ru = \"а\", kk = \"ә\" }\ncompletion = { ru = \"а\", kk = \"ә\" }\ndeadline = \"1 minute\"\nnext = \"end\"\n";
    let t = GOOD.replace("\n[[channels]]", &format!("{orphan}\n[[channels]]"));
    expect(
        &t,
        "id = \"orphan\"",
        "cannot be reached from the first step",
    );

    // a loop without exit: decide → again → decide
    let again = "\n[[steps]]\nid = \"again\"\nlane = \"mio\"\nactor = \"executor\"\nkind = \"task\"\naction = { ru = \"а\", kk = \"ә\" }\ncompletion = { ru = \"а\", kk = \"ә\" }\ndeadline = \"1 minute\"\nnext = \"decide\"\n";
    let t = GOOD
        .replace(
            "next = \"end\"\nresult = \"notice\"",
            "next = \"again\"\nresult = \"notice\"",
        )
        .replace("\n[[channels]]", &format!("{again}\n[[channels]]"));
    expect(&t, "id = \"again\"", "cycle without exit");
}

#[test]
fn deadlines_actors_and_texts() {
    let t = GOOD.replace("deadline = \"2 working days\"\n", "");
    expect(&t, "id = \"decide\"", "has no deadline");
    let t = GOOD.replace("deadline = \"2 working days\"", "deadline = \"3 weeks\"");
    expect(&t, "deadline = \"3 weeks\"", "deadline \"3 weeks\"");
    let t = GOOD.replace(
        "total_deadline = \"30 calendar days\"",
        "total_deadline = \"soon\"",
    );
    expect(&t, "total_deadline", "total_deadline");
    let t = GOOD.replace(
        "actor = \"executor\"\nkind = \"task\"",
        "actor = \"system\"\nkind = \"check\"",
    );
    let p = problems(&t);
    assert!(
        p.iter().any(|p| p.message.contains("needs a person")),
        "{p:#?}"
    );
    let t = GOOD.replace(
        "action = { ru = \"решение\", kk = \"шешім\" }",
        "action = { ru = \"решение\", kk = \" \" }",
    );
    expect(&t, "kk = \" \"", "Kazakh text is empty");
    let t = GOOD.replacen("kind = \"register\"", "kind = \"task\"", 1);
    let p = problems(&t);
    assert!(
        p.iter()
            .any(|p| p.message.contains("must be the registration")),
        "{p:#?}"
    );
    let t = GOOD.replace("next = \"handoff\"", "next = \"nowhere\"");
    expect(&t, "next = \"nowhere\"", "does not exist");
}
