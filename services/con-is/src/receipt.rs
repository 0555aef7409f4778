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
