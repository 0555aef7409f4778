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
executed_by = "portal"
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
        // every step a channel runs has a deadline: its own, or a span's
        for c in &r.channels {
            for s in &r.steps {
                if s.kind != StepKind::End
                    && r.leads(&c.handoff, &s.id, &c.id)
                    && s.deadline_along(&c.id).is_none()
                {
                    assert!(
                        r.span_over(&s.id, &c.id).is_some(),
                        "{}: {} along {}",
                        r.id,
                        s.id,
                        c.id
                    );
                }
            }
        }
        // the second edition everywhere: channel steps name their system
        assert!(
            r.channels
                .iter()
                .flat_map(|c| c.steps.iter().chain(&c.after))
                .all(|s| !s.executed_by.is_empty())
        );
    }
    let test_dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/mio-is/regulations");
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

#[test]
fn any_well_formed_region_code() {
    // the deployment names its regions; a file's region need only be a well-formed code
    for good in ["kyzylzhar", "nko", "a-1", &"a".repeat(32)] {
        let t = GOOD.replace("region = \"nko\"", &format!("region = {good:?}"));
        assert_eq!(parse("t.toml", &t).unwrap().region, good);
    }
    for bad in [
        "Almaty",
        "1abc",
        "-nko",
        "",
        "north kazakhstan",
        "алматы",
        &"a".repeat(33),
    ] {
        let t = GOOD.replace("region = \"nko\"", &format!("region = {bad:?}"));
        expect(
            &t,
            "region =",
            &format!(
                "invalid region code {bad:?} (lowercase latin letters, digits and -, starting with a letter)"
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------
// The second edition: each new rule has a mutant of GOOD that it refuses.

/// GOOD with a second-edition tail: a file status, a span over the registration and the
/// decision, the channel's leg after the procedure.
fn second() -> String {
    GOOD.replace(
        "[[results]]",
        r#"[[statuses]]
id = "received-from-portal"
base = "received"
name = { ru = "поступившие с ПЭП", kk = "ЭҮП-тен түскен" }

[[spans]]
id = "provider-part"
from = "register"
to = "decide"
deadline = "3 working days"
deadline_text = "3 рабочих дня"

[[results]]"#,
    )
    .replace("status = \"received\"", "status = \"received-from-portal\"")
        + r#"
[[channels.after]]
id = "cabinet"
lane = "citizen"
actor = "system"
executed_by = "portal"
action = { ru = "в кабинет", kk = "кабинетке" }
completion = { ru = "показан", kk = "көрсетілді" }
deadline = "1 minute"
next = "end"
"#
}

#[test]
fn the_second_edition_loads() {
    let r = parse("t.toml", &second()).unwrap_or_else(|p| panic!("{p}"));
    let s = r.step("register").unwrap();
    assert_eq!(s.status, Some(egov_regulation::Status::Received));
    assert_eq!(s.stage.as_deref(), Some("received-from-portal"));
    assert_eq!(
        r.status_label(egov_regulation::Status::Received, s.stage.as_deref())
            .ru,
        "поступившие с ПЭП"
    );
    let c = r.channel("portal").unwrap();
    assert_eq!(c.after.len(), 1);
    assert_eq!(
        c.status_to,
        vec!["portal".to_string()],
        "the systems that execute its steps"
    );
    assert_eq!(c.result_to(), Some("portal"));
    assert_eq!(r.spans[0].deadline, Deadline::WorkingDays(3));
    // the show prints every step of the channel in order, before, procedure and after
    let text = egov_regulation::show(&r, Some("portal"), "ru").unwrap();
    let at = |id: &str| {
        text.find(&format!("({id})"))
            .unwrap_or_else(|| panic!("{id} in {text}"))
    };
    assert!(
        at("send") < at("register") && at("register") < at("decide") && at("end") < at("cabinet")
    );
    assert!(text.contains("поступившие с ПЭП"), "{text}");
    assert!(
        text.contains("provider-part: register … decide: 3 рабочих дня"),
        "{text}"
    );
    assert!(egov_regulation::show(&r, Some("con"), "ru").is_none());
}

#[test]
fn executors_conditions_and_statuses() {
    let g = second();
    let t = g.replace(
        "executed_by = \"portal\"\naction = { ru = \"отправка\"",
        "executed_by = \"fax\"\naction = { ru = \"отправка\"",
    );
    expect(
        &t,
        "executed_by = \"fax\"",
        "executed_by \"fax\" is not one of",
    );

    let with_conditions = g.replace(
        "[[results]]",
        "[[conditions]]\nid = \"C-auth\"\nchecked_by = \"citizen\"\ntext = { ru = \"а\", kk = \"ә\" }\non_failure = { ru = \"а\", kk = \"ә\" }\n\n[[results]]",
    );
    let t = with_conditions.replace(
        "deadline = \"2 working days\"",
        "deadline = \"2 working days\"\ncondition = \"C-auth\"\nconditions = [\"C-auth\"]",
    );
    expect(
        &t,
        "condition = \"C-auth\"",
        "give `condition` or `conditions`, not both",
    );
    let t = with_conditions.replace(
        "deadline = \"2 working days\"",
        "deadline = \"2 working days\"\nconditions = [\"C-auth\", \"C-poa\"]",
    );
    expect(
        &t,
        "conditions = [\"C-auth\", \"C-poa\"]",
        "unknown condition \"C-poa\"",
    );

    let t = g.replace("status = \"received-from-portal\"", "status = \"arrived\"");
    expect(
        &t,
        "status = \"arrived\"",
        "unknown status \"arrived\" (known: received-from-portal, received",
    );
    let t = g.replace("base = \"received\"", "base = \"rejected\"");
    expect(&t, "base = \"rejected\"", "base \"rejected\" must be");
    let t = g.replace("id = \"received-from-portal\"", "id = \"completed\"");
    expect(&t, "id = \"completed\"", "is a base status");
    let t = g.replace("[[statuses]]\nid", "[[statuses]]\nderived = \"  \"\nid");
    expect(&t, "derived = \"  \"", "the reason is empty");
    let t = g.replace(
        "[[channels]]\nid = \"portal\"",
        "[[channels]]\nstatus_to = [\"gbd-fl\"]\nid = \"portal\"",
    );
    expect(
        &t,
        "status_to = [\"gbd-fl\"]",
        "status_to \"gbd-fl\" is not one of",
    );
    let t = g.replace(
        "[[channels]]\nid = \"portal\"",
        "[[channels]]\nresult_to = \"enis\"\nid = \"portal\"",
    );
    expect(
        &t,
        "result_to = \"enis\"",
        "result_to \"enis\" is not one of portal, con-is, mio",
    );
    let t = g.replace(
        "[[channels]]\nid = \"portal\"",
        "[[channels]]\nresult_to = \"mio\"\nid = \"portal\"",
    );
    let r = parse("t.toml", &t).unwrap();
    assert_eq!(r.channel("portal").unwrap().result_to(), Some("mio"));
}

#[test]
fn variants_name_a_channel_and_change_something() {
    let g = second();
    let t = g.replace(
        "deadline = \"2 working days\"\n",
        "deadline = \"2 working days\"\n\n[[steps.variants]]\nchannel = \"con\"\ndeadline = \"1 working day\"\n",
    );
    expect(
        &t,
        "channel = \"con\"",
        "variant for channel \"con\", which the file does not have",
    );
    let t = g.replace(
        "deadline = \"2 working days\"\n",
        "deadline = \"2 working days\"\n\n[[steps.variants]]\nchannel = \"portal\"\n",
    );
    expect(&t, "channel = \"portal\"", "a variant changes nothing");
    // a variant that only marks the step as not the seed's along the channel
    let t = g.replace(
        "deadline = \"2 working days\"\n",
        "deadline = \"2 working days\"\n\n[[steps.variants]]\nchannel = \"portal\"\nderived = \"the seed has no such step on the portal\"\n",
    );
    assert!(parse("t.toml", &t).is_ok());
    let t = g.replace(
        "deadline = \"2 working days\"\n",
        "deadline = \"2 working days\"\n\n[[steps.variants]]\nchannel = \"portal\"\ndeadline_text = \"1 день\"\ncompletion = { ru = \"б\", kk = \"б\" }\n",
    );
    expect(&t, "channel = \"portal\"", "needs its deadline");
    let twice = "\n[[steps.variants]]\nchannel = \"portal\"\ndeadline = \"1 working day\"\n";
    let t = g.replace(
        "deadline = \"2 working days\"\n",
        &format!("deadline = \"2 working days\"\n{twice}{twice}"),
    );
    let p = problems(&t);
    assert!(
        p.iter().any(|p| p
            .message
            .contains("duplicate variant of step \"decide\" for the channel id \"portal\"")),
        "{p:#?}"
    );
    let t = g.replace(
        "effect = \"enqueue\"\n",
        "effect = \"enqueue\"\n\n[[steps.outcomes.variants]]\nchannel = \"portal\"\nresult = \"letter\"\nnext = \"nowhere\"\n",
    );
    expect(&t, "result = \"letter\"", "unknown result \"letter\"");
    expect(
        &t,
        "next = \"nowhere\"",
        "next step \"nowhere\" does not exist",
    );
}

#[test]
fn legs_after_the_procedure() {
    let g = second();
    let t = g.replace(
        "deadline = \"1 minute\"\nnext = \"end\"\n",
        "deadline = \"1 minute\"\nnext = \"handoff\" # again\n",
    );
    expect(
        &t,
        "next = \"handoff\" # again",
        "cannot hand over to it again",
    );
    let t = g.replace(
        "executed_by = \"portal\"\naction = { ru = \"отправка\"",
        "executed_by = \"portal\"\nwait = \"1 month\"\naction = { ru = \"отправка\"",
    );
    expect(
        &t,
        "wait = \"1 month\"",
        "only the steps after the procedure",
    );
    let lost = "\n[[channels.after]]\nid = \"lost\"\nlane = \"citizen\"\nactor = \"system\"\nexecuted_by = \"portal\"\nwait = \"1 month\"\naction = { ru = \"а\", kk = \"ә\" }\ncompletion = { ru = \"а\", kk = \"ә\" }\ndeadline = \"1 minute\"\nnext = \"end\"\n";
    let t = format!("{g}{lost}");
    expect(
        &t,
        "id = \"lost\"",
        "cannot be reached from its first step \"cabinet\"",
    );
    // a month is a unit
    assert!(
        parse(
            "t.toml",
            &g.replace(
                "deadline = \"1 minute\"\nnext = \"end\"\n",
                "wait = \"1 month\"\ndeadline = \"1 minute\"\nnext = \"end\"\n"
            )
        )
        .is_ok()
    );
    let t = g.replace("id = \"cabinet\"", "id = \"decide\"");
    let p = problems(&t);
    assert!(
        p.iter().any(|p| p
            .message
            .contains("step \"decide\" has the id of a procedure step")),
        "{p:#?}"
    );
}

#[test]
fn spans_and_totals_hold_on_every_path() {
    let g = second();
    // the decision's 2 working days plus a minute fit in 3 working days; 4 do not
    let t = g.replace(
        "deadline = \"2 working days\"",
        "deadline = \"4 working days\"",
    );
    expect(
        &t,
        "id = \"provider-part\"",
        "path register → decide takes 4 days 1 minute, past the span \"provider-part\" (3 working days)",
    );
    // a nested span counts as its deadline
    let t = g.replace(
        "[[results]]",
        "[[spans]]\nid = \"decision\"\nfrom = \"decide\"\nto = \"decide\"\ndeadline = \"5 calendar days\"\n\n[[results]]",
    );
    expect(
        &t,
        "id = \"provider-part\"",
        "past the span \"provider-part\"",
    );
    // the total
    let t = g.replace(
        "total_deadline = \"30 calendar days\"",
        "total_deadline = \"1 working day\"",
    );
    expect(
        &t,
        "total_deadline = \"1 working day\"",
        "past the total_deadline (1 working day)",
    );
    // a channel's total, from its first step
    let t = g.replace(
        "handoff = \"register\"",
        "handoff = \"register\"\ntotal_deadline = \"2 working days\"",
    );
    let p = problems(&t);
    assert!(
        p.iter().any(|p| p.message.contains("path send → register → decide → end takes 3 days 1 minute, past the channel's total_deadline")),
        "{p:#?}"
    );
    // a step without a deadline needs a span; the span covers it
    let t = g.replace("deadline = \"2 working days\"\n", "");
    assert!(
        parse("t.toml", &t).is_ok(),
        "{:?}",
        parse("t.toml", &t).err()
    );
    let t = g
        .replace("deadline = \"2 working days\"\n", "")
        .replace("to = \"decide\"", "to = \"register\"");
    expect(
        &t,
        "id = \"decide\"",
        "has no deadline and no span covers it",
    );
    // ends that do not exist, or with no path between them
    let t = g.replace("to = \"decide\"", "to = \"decided\"");
    expect(
        &t,
        "to = \"decided\"",
        "\"decided\" is not a procedure step",
    );
    let t = g.replace("to = \"decide\"", "to = \"cabinet\"");
    expect(
        &t,
        "to = \"cabinet\"",
        "name `channel` to span a channel's steps",
    );
    let t = g.replace("to = \"decide\"", "to = \"cabinet\"\nchannel = \"portal\"");
    assert!(
        parse("t.toml", &t).is_ok(),
        "a channel's span reaches its leg after the procedure"
    );
    let t = g
        .replace("from = \"register\"", "from = \"decide\"")
        .replace("to = \"decide\"", "to = \"register\"");
    expect(
        &t,
        "id = \"provider-part\"",
        "no path leads from \"decide\" to \"register\"",
    );
    let t = g.replace(
        "deadline = \"2 working days\"",
        "deadline = \"2 working days\"\ndeadline_derived = \"\"",
    );
    expect(&t, "deadline_derived = \"\"", "the reason is empty");
}
