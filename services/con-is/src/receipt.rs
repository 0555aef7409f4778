//! The receipts the inspector gives the citizen, as PDF in Russian and in Kazakh
//! (`egov-documents`): the receipt (расписка) of an application taken, with its journal
//! number, the documents received and the date the service is due; and the receipt
//! refusing acceptance of an incomplete set, naming the documents missing.

use egov_documents::Part;
use egov_regulation::Regulation;
use serde_json::Value;

use crate::centres::Centre;
use crate::desk::Application;
use crate::operators::Operator;

fn date(t: time::OffsetDateTime) -> String {
    let d = egov_calendar::local_date(t);
    format!("{:02}.{:02}.{}", d.day(), d.month() as u8, d.year())
}

fn applicant_name(app: &Application) -> String {
    ["surname", "name", "patronymic"]
        .iter()
        .filter_map(|k| app.applicant.get(*k).and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The parts of the receipt of `app` (taken, or refused as incomplete), Russian then
/// Kazakh; `None` for a draft, which has no receipt yet.
pub fn parts(
    app: &Application,
    reg: &Regulation,
    centre: &Centre,
    inspector: &Operator,
) -> Option<Vec<Part>> {
    let refused = match app.state.as_str() {
        "sent" => false,
        "refused" => true,
        _ => return None,
    };
    let provider = reg.provider(&app.provider_id);
    let when = app.sent_at.unwrap_or(app.created_at);
    Some(
        ["ru", "kk"]
            .into_iter()
            .map(|lang| {
                let kk = lang == "kk";
                let mut body = Vec::new();
                body.push(if kk {
                    format!("Мемлекеттік көрсетілетін қызмет: «{}»", reg.service_name.kk)
                } else {
                    format!("Государственная услуга: «{}»", reg.service_name.ru)
                });
                if let Some(p) = provider {
                    body.push(if kk {
                        format!("Көрсетілетін қызметті беруші: {}", p.name.kk)
                    } else {
                        format!("Услугодатель: {}", p.name.ru)
                    });
                }
                body.push(if kk {
                    format!("Көрсетілетін қызметті алушы: {} (ЖСН {})", applicant_name(app), app.applicant_iin)
                } else {
                    format!("Услугополучатель: {} (ИИН {})", applicant_name(app), app.applicant_iin)
                });
                if let (Some(rep), Some(poa)) = (&app.representative_iin, &app.poa_number) {
                    body.push(if kk {
                        format!("Өкіл: ЖСН {rep}, № {poa} нотариат куәландырған сенімхат")
                    } else {
                        format!("Представитель: ИИН {rep}, нотариально удостоверенная доверенность № {poa}")
                    });
                }
                if refused {
                    body.push(if kk {
                        "Құжаттар топтамасы толық ұсынылмағандықтан, құжаттарды қабылдаудан бас тартылды. Ұсынылмаған құжаттар:".to_string()
                    } else {
                        "В приеме документов отказано в связи с представлением неполного пакета документов. Не представлены:".to_string()
                    });
                    for m in app
                        .missing_documents
                        .as_ref()
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let key = if kk { "name_kk" } else { "name_ru" };
                        body.push(format!("— {}", m[key].as_str().unwrap_or("")));
                    }
                } else {
                    body.push(if kk { "Қабылданған құжаттар:" } else { "Приняты документы:" }.to_string());
                    for d in app.documents.as_array().into_iter().flatten() {
                        let kind = d["kind"].as_str().unwrap_or("");
                        let name = reg
                            .documents
                            .iter()
                            .find(|x| x.id == kind)
                            .map(|x| x.name.get(lang).to_string())
                            .unwrap_or_else(|| kind.to_string());
                        let how = match (d["paper"].as_bool() == Some(true), d["scan_bytes"].as_u64().unwrap_or(0) > 0) {
                            (true, true) if kk => "түпнұсқа, сканер",
                            (true, true) => "оригинал, скан",
                            (true, false) if kk => "түпнұсқа",
                            (true, false) => "оригинал",
                            _ if kk => "сканер",
                            _ => "скан",
                        };
                        body.push(format!("— {name} ({how})"));
                    }
                    if let Some(due) = app.due_at {
                        body.push(if kk {
                            format!("Қызмет көрсету мерзімі: {} дейін", date(due))
                        } else {
                            format!("Срок оказания услуги: до {}", date(due))
                        });
                    }
                    if let Some(m) = &app.mio_number {
                        body.push(if kk {
                            format!("ЖАО АЖ-дағы өтініш нөмірі: {m}")
                        } else {
                            format!("Номер заявления в ИС МИО: {m}")
                        });
                    }
                    body.push(if kk {
                        format!("Өтініштің мәртебесін № {} бойынша ХҚО-да және порталда білуге болады.", app.number)
                    } else {
                        format!("Статус заявления можно узнать по номеру {} в ЦОН и на портале.", app.number)
                    });
                }
                let (pos_ru, pos_kk) = inspector.role.position();
                Part {
                    header: centre.name.get(lang).to_string(),
                    address: [
                        centre.address.as_ref().map(|a| a.get(lang).to_string()),
                        centre.hours.as_ref().map(|h| h.get(lang).to_string()),
                        centre.phone.clone(),
                    ]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("; "),
                    reference: if kk {
                        format!("{} жылғы № {}", date(when), app.number)
                    } else {
                        format!("№ {} от {}", app.number, date(when))
                    },
                    title: match (refused, kk) {
                        (false, false) => "Расписка о приеме документов",
                        (false, true) => "Құжаттарды қабылдау туралы қолхат",
                        (true, false) => "Расписка об отказе в приеме документов",
                        (true, true) => "Құжаттарды қабылдаудан бас тарту туралы қолхат",
                    }
                    .to_string(),
                    body: body.join("\n"),
                    footer: if kk {
                        format!("{pos_kk}: {} ______________", inspector.full_name())
                    } else {
                        format!("{pos_ru}: {} ______________", inspector.full_name())
                    },
                }
            })
            .collect(),
    )
}

/// The receipt as a PDF.
pub fn render(parts: &[Part]) -> Result<Vec<u8>, String> {
    egov_documents::render(parts, &parts[0].title, "ИС ЦОН (egov-mirror)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app(state: &str) -> Application {
        let now = time::OffsetDateTime::now_utc();
        Application {
            id: uuid::Uuid::new_v4(),
            number: "NKO-AKZ-2026-000007".into(),
            centre_id: "akzhar".into(),
            operator_iin: "870312300046".into(),
            regulation_id: "akzhar-2012-housing-queue".into(),
            service: "housing-queue".into(),
            provider_id: "akzhar-housing".into(),
            region: "nko".into(),
            applicant_iin: "890721490005".into(),
            applicant: json!({"surname": "Нурланова", "name": "Айгуль", "patronymic": "Сериковна"}),
            representative_iin: Some("900101300011".into()),
            representative: None,
            poa_number: Some("20250001900002".into()),
            category: Some("wwii-veterans".into()),
            form: json!({}),
            documents: json!([{"kind": "identity", "paper": true, "scan_bytes": 10}]),
            state: state.into(),
            refusal_code: None,
            refusal_message: None,
            missing_documents: Some(
                json!([{"id": "identity", "name_ru": "копия удостоверения", "name_kk": "куәліктің көшірмесі"}]),
            ),
            message_id: None,
            sent_at: Some(now),
            mio_number: Some("NKO-2026-000003".into()),
            status: None,
            stage: None,
            status_ru: None,
            status_kk: None,
            status_at: None,
            due_at: Some(now),
            result: None,
            created_at: now,
        }
    }

    fn inspector() -> Operator {
        Operator {
            iin: "870312300046".into(),
            centre_id: "akzhar".into(),
            role: crate::operators::Role::Inspector,
            surname: "Ахметов".into(),
            name: "Ерлан".into(),
            patronymic: None,
            active: true,
        }
    }

    fn setup() -> (Regulation, Centre) {
        let reg = egov_regulation::load_dir(&egov_regulation::shipped_dir())
            .unwrap()
            .into_iter()
            .find(|r| r.id == "akzhar-2012-housing-queue")
            .unwrap();
        let centre = crate::centres::shipped()
            .unwrap()
            .into_iter()
            .find(|c| c.id == "akzhar")
            .unwrap();
        (reg, centre)
    }

    #[test]
    fn the_receipt_names_the_number_the_documents_and_the_representative_in_both_languages() {
        let (reg, centre) = setup();
        let p = parts(&app("sent"), &reg, &centre, &inspector()).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].title, "Расписка о приеме документов");
        assert_eq!(p[1].title, "Құжаттарды қабылдау туралы қолхат");
        for part in &p {
            assert!(part.reference.contains("NKO-AKZ-2026-000007"), "{part:?}");
            assert!(
                part.body.contains("NKO-2026-000003"),
                "ИС МИО's number: {part:?}"
            );
            assert!(
                part.body.contains("20250001900002"),
                "the power of attorney: {part:?}"
            );
            assert!(part.body.contains("Нурланова Айгуль Сериковна"));
            assert!(part.footer.contains("Ахметов Ерлан"));
        }
        let identity = reg.documents.iter().find(|d| d.id == "identity").unwrap();
        assert!(p[0].body.contains(&identity.name.ru));
        assert!(p[1].body.contains(&identity.name.kk));
        let pdf = render(&p).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        // every line fits the page
        assert!(
            egov_documents::layout(&p)
                .iter()
                .all(|l| l.width <= egov_documents::TEXT_WIDTH)
        );
    }

    #[test]
    fn the_refusal_receipt_names_what_is_missing_and_a_draft_has_none() {
        let (reg, centre) = setup();
        let p = parts(&app("refused"), &reg, &centre, &inspector()).unwrap();
        assert_eq!(p[0].title, "Расписка об отказе в приеме документов");
        assert!(p[0].body.contains("— копия удостоверения"), "{:?}", p[0]);
        assert!(p[1].body.contains("— куәліктің көшірмесі"), "{:?}", p[1]);
        assert!(!p[0].body.contains("Приняты документы"));
        assert!(parts(&app("draft"), &reg, &centre, &inspector()).is_none());
    }
}
