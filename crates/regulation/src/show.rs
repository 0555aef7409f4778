//! A regulation as the seeds lay out their tables: for a channel, every action in order
//! (the channel's steps, the procedure as that channel runs it, the leg after it) with
//! its СФЕ, the form of completion, the deadline in the seed's words and the next
//! action; for the procedure, the same. `egovctl regulation show` prints it, so that a
//! reader holds the file against the seed line by line.

use std::fmt::Write as _;

use crate::model::*;

/// Column headings and words, per language.
struct Words {
    number: &'static str,
    unit: &'static str,
    system: &'static str,
    action: &'static str,
    completion: &'static str,
    deadline: &'static str,
    next: &'static str,
    status: &'static str,
    end: &'static str,
    yes: &'static str,
    no: &'static str,
    derived: &'static str,
    procedure: &'static str,
    channel: &'static str,
    spans: &'static str,
    total: &'static str,
    wait: &'static str,
    status_to: &'static str,
    result_to: &'static str,
    nobody: &'static str,
    after: &'static str,
}

const RU: Words = Words {
    number: "№",
    unit: "СФЕ",
    system: "система",
    action: "действие",
    completion: "форма завершения",
    deadline: "срок",
    next: "следующее",
    status: "статус",
    end: "конец",
    yes: "да",
    no: "нет",
    derived: "не из регламента",
    procedure: "Процедура услугодателя",
    channel: "Канал",
    spans: "Сроки на несколько действий",
    total: "Общий срок",
    wait: "через",
    status_to: "Статусы получают",
    result_to: "Результат выдает",
    nobody: "никто",
    after: "после решения услугодателя",
};

const KK: Words = Words {
    number: "№",
    unit: "ҚФБ",
    system: "жүйе",
    action: "әрекет",
    completion: "аяқтау нысаны",
    deadline: "мерзім",
    next: "келесі",
    status: "мәртебе",
    end: "соңы",
    yes: "иә",
    no: "жоқ",
    derived: "регламентте жоқ",
    procedure: "Көрсетілетін қызметті берушінің рәсімі",
    channel: "Арна",
    spans: "Бірнеше әрекетке ортақ мерзімдер",
    total: "Жалпы мерзім",
    wait: "өткен соң",
    status_to: "Мәртебелерді алады",
    result_to: "Нәтижені береді",
    nobody: "ешкім",
    after: "көрсетілетін қызметті берушінің шешімінен кейін",
};

/// One row of a table.
struct Row {
    id: String,
    unit: String,
    system: String,
    action: String,
    completion: String,
    deadline: String,
    status: String,
    next: Vec<(String, String)>,
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// A deadline in words of the table's language: «1 минута», «2 рабочих дня», «1 ай».
pub fn words(d: egov_calendar::Deadline, lang: &str) -> String {
    use egov_calendar::Deadline as D;
    let n = d.amount();
    if lang == "kk" {
        let unit = match d {
            D::Seconds(_) => "секунд",
            D::Minutes(_) => "минут",
            D::Hours(_) => "сағат",
            D::WorkingDays(_) => "жұмыс күні",
            D::CalendarDays(_) => "күнтізбелік күн",
            D::Months(_) => "ай",
        };
        return format!("{n} {unit}");
    }
    // Russian: one, few (2–4), many
    let form = match (n % 10, n % 100) {
        (1, x) if x != 11 => 0,
        (2..=4, x) if !(12..=14).contains(&x) => 1,
        _ => 2,
    };
    let forms: [&str; 3] = match d {
        D::Seconds(_) => ["секунда", "секунды", "секунд"],
        D::Minutes(_) => ["минута", "минуты", "минут"],
        D::Hours(_) => ["час", "часа", "часов"],
        D::WorkingDays(_) => ["рабочий день", "рабочих дня", "рабочих дней"],
        D::CalendarDays(_) => ["календарный день", "календарных дня", "календарных дней"],
        D::Months(_) => ["месяц", "месяца", "месяцев"],
    };
    format!("{n} {}", forms[form])
}

fn deadline(
    w: &Words,
    lang: &str,
    d: Option<egov_calendar::Deadline>,
    text: Option<&str>,
    derived: Option<&str>,
) -> String {
    let mut s = match (text, d) {
        (Some(t), _) => t.to_string(),
        (None, Some(d)) => words(d, lang),
        (None, None) => "—".to_string(),
    };
    if let Some(why) = derived {
        let _ = write!(s, " [{}: {why}]", w.derived);
    }
    s
}

fn marked(w: &Words, text: &str, derived: Option<&str>) -> String {
    match derived {
        Some(why) => format!("{text} [{}: {why}]", w.derived),
        None => text.to_string(),
    }
}

fn conditions_label(w: &Words, conds: &[String], when: &str) -> String {
    // (derived conditions are listed under the table)
    let yes = if when == "yes" { w.yes } else { w.no };
    if conds.is_empty() {
        yes.to_string()
    } else {
        format!("{}: {yes}", conds.join(" + "))
    }
}

fn lane_name(reg: &Regulation, lane: &str, lang: &str) -> String {
    reg.lanes
        .iter()
        .find(|l| l.id == lane)
        .map(|l| l.name.get(lang).to_string())
        .unwrap_or_else(|| lane.to_string())
}

fn status_name(
    reg: &Regulation,
    w: &Words,
    base: Option<Status>,
    stage: Option<&str>,
    lang: &str,
) -> String {
    let Some(b) = base else {
        return String::new();
    };
    let derived = stage
        .and_then(|id| reg.statuses.iter().find(|s| s.id == id))
        .and_then(|s| s.derived.as_deref());
    marked(w, reg.status_label(b, stage).get(lang), derived)
}

fn channel_row(reg: &Regulation, s: &ChannelStep, lang: &str, w: &Words) -> Row {
    let mut next = Vec::new();
    if let Some(n) = &s.next {
        next.push((String::new(), n.clone()));
    }
    for (when, n) in &s.branches {
        next.push((conditions_label(w, &s.conditions, when), n.clone()));
    }
    let mut dl = deadline(
        w,
        lang,
        s.deadline,
        s.deadline_text.as_deref(),
        s.deadline_derived.as_deref(),
    );
    if let Some(wait) = s.wait {
        dl = if lang == "kk" {
            format!("{} {}; {dl}", words(wait, lang), w.wait)
        } else {
            format!("{} {}; {dl}", w.wait, words(wait, lang))
        };
    }
    Row {
        id: s.id.clone(),
        unit: lane_name(reg, &s.lane, lang),
        system: s.executed_by.clone(),
        action: marked(w, s.action.get(lang), s.derived.as_deref()),
        completion: s.completion.get(lang).to_string(),
        deadline: dl,
        status: status_name(reg, w, s.status, s.stage.as_deref(), lang),
        next,
    }
}

fn procedure_row(reg: &Regulation, s: &Step, channel: Option<&str>, lang: &str, w: &Words) -> Row {
    let along = |c: &str| s.deadline_along(c);
    let (d, text, derived) = match channel.and_then(|c| s.variant(c)) {
        Some(v) if v.deadline.is_some() => (
            channel.and_then(along),
            v.deadline_text.as_deref(),
            v.deadline_derived.as_deref(),
        ),
        _ => (
            s.deadline,
            s.deadline_text.as_deref(),
            s.deadline_derived.as_deref(),
        ),
    };
    let (status, stage) = match channel {
        Some(c) => s.status_along(c),
        None => (s.status, s.stage.clone()),
    };
    let mut next = Vec::new();
    if s.kind == StepKind::End {
        next.push((String::new(), "end".to_string()));
    }
    if let Some(n) = &s.next {
        let label = if s.conditions.is_empty() {
            String::new()
        } else {
            s.conditions.join(" + ")
        };
        next.push((label, n.clone()));
    }
    for o in &s.outcomes {
        let way = match channel {
            Some(c) => o.along(c),
            None => o.along(""),
        };
        let variants: Vec<String> = match channel {
            Some(_) => vec![],
            None => o
                .variants
                .iter()
                .map(|v| {
                    let to = v.next.clone().unwrap_or_else(|| o.next.clone());
                    let r = v
                        .result
                        .as_deref()
                        .and_then(|r| reg.result(r))
                        .map(|r| format!(" ({})", r.title.get(lang)))
                        .unwrap_or_default();
                    marked(
                        w,
                        &format!("{}: → {to}{r}", v.channel),
                        v.derived.as_deref(),
                    )
                })
                .collect(),
        };
        let name = o
            .name
            .as_ref()
            .map(|n| n.get(lang).to_string())
            .unwrap_or_else(|| o.id.clone());
        let mut label = if s.conditions.is_empty() {
            name
        } else {
            format!("{}: {name}", s.conditions.join(" + "))
        };
        if let Some(r) = way.result.as_deref().and_then(|r| reg.result(r)) {
            let _ = write!(label, " ({})", r.title.get(lang));
        }
        if !variants.is_empty() {
            let _ = write!(label, " [{}]", variants.join("; "));
        }
        // derived on the outcome, or on its variant along this channel
        let derived = o.derived.as_deref().or_else(|| {
            channel
                .and_then(|c| o.variants.iter().find(|v| v.channel == c))
                .and_then(|v| v.derived.as_deref())
        });
        next.push((marked(w, &label, derived), way.next));
    }
    let completion = match channel {
        Some(c) => s.completion_along(c),
        None => &s.completion,
    };
    let mut action = s.action.get(lang).to_string();
    if channel.is_none() {
        // the procedure alone: what each channel changes
        for v in &s.variants {
            let mut parts = Vec::new();
            if let Some(d) = v.deadline {
                parts.push(v.deadline_text.clone().unwrap_or_else(|| words(d, lang)));
            }
            if let Some(c) = &v.completion {
                parts.push(c.get(lang).to_string());
            }
            if let Some(b) = v.status {
                parts.push(
                    reg.status_label(b, v.stage.as_deref())
                        .get(lang)
                        .to_string(),
                );
            }
            if let Some(r) = v.result.as_deref().and_then(|r| reg.result(r)) {
                parts.push(r.title.get(lang).to_string());
            }
            let _ = write!(
                action,
                " [{}: {}]",
                v.channel,
                marked(w, &parts.join("; "), v.derived.as_deref())
            );
        }
    } else if let Some(v) = channel.and_then(|c| s.variant(c))
        && let Some(why) = &v.derived
    {
        let _ = write!(action, " [{}: {why}]", w.derived);
    }
    Row {
        id: s.id.clone(),
        unit: lane_name(reg, &s.lane, lang),
        system: "mio".into(),
        action: marked(w, &action, s.derived.as_deref()),
        completion: completion.get(lang).to_string(),
        deadline: deadline(w, lang, d, text, derived),
        status: status_name(reg, w, status, stage.as_deref(), lang),
        next,
    }
}

/// The procedure steps a channel runs, in the file's order: those reached from its
/// handoff along the channel.
fn reached(reg: &Regulation, channel: &str, from: &str) -> Vec<usize> {
    let mut seen = vec![false; reg.steps.len()];
    let mut stack: Vec<usize> = reg
        .steps
        .iter()
        .position(|s| s.id == from)
        .into_iter()
        .collect();
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        for n in reg.steps[i].successors_along(channel) {
            if let Some(j) = reg.steps.iter().position(|s| s.id == n) {
                stack.push(j);
            }
        }
    }
    (0..reg.steps.len()).filter(|&i| seen[i]).collect()
}

fn table(out: &mut String, rows: &[Row], w: &Words, handoff: Option<&str>) {
    let number = |id: &str| -> String {
        match id {
            "end" => w.end.to_string(),
            "handoff" => handoff
                .and_then(|h| rows.iter().position(|r| r.id == h))
                .map(|i| (i + 1).to_string())
                .unwrap_or_else(|| "→".into()),
            id => rows
                .iter()
                .position(|r| r.id == id)
                .map(|i| (i + 1).to_string())
                .unwrap_or_else(|| id.to_string()),
        }
    };
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} | {} | {} |",
        w.number, w.unit, w.system, w.action, w.completion, w.deadline, w.status, w.next
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for (i, r) in rows.iter().enumerate() {
        let next: Vec<String> = r
            .next
            .iter()
            .map(|(label, n)| {
                if label.is_empty() {
                    number(n)
                } else {
                    format!("{} – {label}", number(n))
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "| {} ({}) | {} | {} | {} | {} | {} | {} | {} |",
            i + 1,
            r.id,
            cell(&r.unit),
            r.system,
            cell(&r.action),
            cell(&r.completion),
            cell(&r.deadline),
            cell(&r.status),
            cell(&next.join("; "))
        );
    }
}

fn spans(out: &mut String, reg: &Regulation, channel: Option<&str>, lang: &str, w: &Words) {
    let list: Vec<&Span> = reg
        .spans
        .iter()
        .filter(|s| match channel {
            Some(c) => s.channel.as_deref().is_none_or(|x| x == c),
            None => s.channel.is_none(),
        })
        .collect();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{}: {}{}",
        w.total,
        reg.total_deadline_text
            .clone()
            .unwrap_or_else(|| words(reg.total_deadline, lang)),
        reg.total_deadline_derived
            .as_deref()
            .map(|d| format!(" [{}: {d}]", w.derived))
            .unwrap_or_default()
    );
    if let Some(c) = channel.and_then(|c| reg.channel(c))
        && let Some(t) = c.total_deadline
    {
        let _ = writeln!(
            out,
            "{} ({}): {}",
            w.total,
            c.name.get(lang),
            c.total_deadline_text
                .clone()
                .unwrap_or_else(|| words(t, lang))
        );
    }
    for c in reg.conditions.iter().filter(|c| c.derived.is_some()) {
        let _ = writeln!(
            out,
            "{}: {}",
            c.id,
            marked(w, c.text.get(lang), c.derived.as_deref())
        );
    }
    if list.is_empty() {
        return;
    }
    let _ = writeln!(out, "{}:", w.spans);
    for s in list {
        let _ = writeln!(
            out,
            "- {}{}: {} … {}: {}",
            s.id,
            s.channel
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default(),
            s.from,
            s.to,
            marked(
                w,
                &s.deadline_text
                    .clone()
                    .unwrap_or_else(|| words(s.deadline, lang)),
                s.derived.as_deref()
            )
        );
    }
}

/// The table of one channel (`Some`) or of the procedure (`None`), in `lang` (`ru` or
/// `kk`). `None` when the file has no such channel.
pub fn show(reg: &Regulation, channel: Option<&str>, lang: &str) -> Option<String> {
    let w = if lang == "kk" { &KK } else { &RU };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}, seed {})",
        reg.title.get(lang),
        reg.id,
        reg.seed
    );
    let _ = writeln!(out);
    match channel {
        None => {
            let _ = writeln!(out, "{}", w.procedure);
            let _ = writeln!(out);
            let rows: Vec<Row> = reg
                .steps
                .iter()
                .map(|s| procedure_row(reg, s, None, lang, w))
                .collect();
            table(&mut out, &rows, w, None);
            spans(&mut out, reg, None, lang, w);
        }
        Some(c) => {
            let ch = reg.channel(c)?;
            let _ = writeln!(out, "{} «{}» ({})", w.channel, ch.name.get(lang), ch.id);
            let to = if ch.status_to.is_empty() {
                w.nobody.to_string()
            } else {
                ch.status_to.join(", ")
            };
            let _ = writeln!(out, "{}: {to}", w.status_to);
            let _ = writeln!(
                out,
                "{}: {}",
                w.result_to,
                ch.result_to().unwrap_or(w.nobody)
            );
            let _ = writeln!(out);
            let mut rows: Vec<Row> = ch
                .steps
                .iter()
                .map(|s| channel_row(reg, s, lang, w))
                .collect();
            rows.extend(
                reached(reg, c, &ch.handoff)
                    .into_iter()
                    .map(|i| procedure_row(reg, &reg.steps[i], Some(c), lang, w)),
            );
            let end = reg.steps.iter().find(|s| s.kind == StepKind::End);
            if let (Some(first), Some(end)) = (
                ch.after.first(),
                end.and_then(|e| rows.iter_mut().find(|r| r.id == e.id)),
            ) {
                for n in &mut end.next {
                    if n.1 == "end" {
                        n.0 = w.after.to_string();
                        n.1 = first.id.clone();
                    }
                }
            }
            rows.extend(ch.after.iter().map(|s| channel_row(reg, s, lang, w)));
            table(&mut out, &rows, w, Some(&ch.handoff));
            spans(&mut out, reg, Some(c), lang, w);
        }
    }
    Some(out)
}
