//! The intake: applications from the inbox (the portal, ИС ЦОН, and the АРМ's own
//! channel B). Each is checked (the document signature with revocation, the signer's IIN,
//! the service, provider and channel, the form) and either registered, with its number,
//! status «поступившие» and the status messages, in one transaction with the inbox
//! deduplication, or rejected with a signed negative status to its sender and nothing
//! registered.

use base64::Engine as _;
use egov_contracts::mio::{ApplicationDocument, Reason, Submission, rejections, services};
use egov_regulation::{Regulation, Status};
use egov_shep_client::inbox::{Delivery, Outcome, first_time};
use sha2::Digest;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::engine::Engine;
use crate::outbox::{self, Extras};
use crate::store::{self, Application, BaseStatus, Channel};

/// A reason to reject an application.
#[derive(Debug, Clone)]
pub struct Rejection {
    /// A code of [`rejections`].
    pub code: &'static str,
    /// A human message.
    pub message: String,
    /// The application, when it could be read (the rejection names its service, ...).
    pub document: Option<Box<ApplicationDocument>>,
    /// Not a verdict on the application: a registry could not be asked; the message
    /// comes again later.
    pub transient: bool,
}

/// A check that could not be made now (a registry unreachable): never a rejection.
fn transient(message: impl Into<String>) -> Rejection {
    Rejection {
        transient: true,
        ..reject("TRANSIENT", message)
    }
}

fn reject(code: &'static str, message: impl Into<String>) -> Rejection {
    Rejection {
        transient: false,
        code,
        message: message.into(),
        document: None,
    }
}

/// An application that passed every check.
pub struct Checked {
    /// The document as signed.
    pub bytes: Vec<u8>,
    /// Its signature.
    pub signature: Vec<u8>,
    /// Parsed.
    pub doc: ApplicationDocument,
    /// The regulation.
    pub regulation: std::sync::Arc<Regulation>,
    /// The channel it came by.
    pub channel: Channel,
    /// Who signed.
    pub signer_iin: String,
    /// Their name.
    pub signer_name: String,
}

/// The form's required fields and kinds (`INVALID_FORM` names each problem): the check
/// of `egov_contracts::mio::form`, shared with ИС ЦОН's desk.
pub fn check_form(reg: &Regulation, doc: &ApplicationDocument) -> Result<(), Rejection> {
    egov_contracts::mio::form::check(reg, doc).map_err(|problems| {
        let mut texts: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        texts.dedup();
        reject(rejections::INVALID_FORM, texts.join("; "))
    })
}

impl Engine {
    /// Every check of an application from `sender` (the verified senderId).
    pub async fn check(&self, sender: &str, payload: &[u8]) -> Result<Checked, Rejection> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let sub: Submission = serde_json::from_slice(payload).map_err(|e| {
            reject(
                rejections::MALFORMED,
                format!("the submission is not valid: {e}"),
            )
        })?;
        let bytes = b64
            .decode(&sub.document)
            .map_err(|_| reject(rejections::MALFORMED, "document is not base64"))?;
        let signature = b64
            .decode(&sub.signature)
            .map_err(|_| reject(rejections::MALFORMED, "signature is not base64"))?;
        let doc: ApplicationDocument = serde_json::from_slice(&bytes).map_err(|e| {
            reject(
                rejections::MALFORMED,
                format!("the application is not valid: {e}"),
            )
        })?;
        match self.check_document(sender, &bytes, &signature, &doc).await {
            Ok((regulation, channel, signer_iin, signer_name)) => Ok(Checked {
                bytes,
                signature,
                doc,
                regulation,
                channel,
                signer_iin,
                signer_name,
            }),
            Err(mut r) => {
                r.document = Some(Box::new(doc));
                Err(r)
            }
        }
    }

    /// The checks of a readable application: regulation, channel and sender, C-sign, the
    /// signer's IIN, the employee, the form. Returns the regulation, the channel and the
    /// signer.
    async fn check_document(
        &self,
        sender: &str,
        bytes: &[u8],
        signature: &[u8],
        doc: &ApplicationDocument,
    ) -> Result<(std::sync::Arc<Regulation>, Channel, String, String), Rejection> {
        let reg = self
            .catalog
            .find(&doc.service, &doc.provider, doc.regulation.as_deref())
            .map_err(|what| match what {
                "provider" => reject(
                    rejections::UNKNOWN_PROVIDER,
                    format!(
                        "provider {:?} does not provide {:?} here",
                        doc.provider, doc.service
                    ),
                ),
                "regulation" => reject(
                    rejections::UNKNOWN_SERVICE,
                    format!("no regulation {:?} in {}", doc.regulation, self.system_id),
                ),
                _ => reject(
                    rejections::UNKNOWN_SERVICE,
                    format!("{} provides no service {:?}", self.system_id, doc.service),
                ),
            })?
            .clone();
        let Some(channel) = Channel::parse(&doc.channel) else {
            return Err(reject(
                rejections::WRONG_CHANNEL,
                format!("unknown channel {:?} (portal, provider, con)", doc.channel),
            ));
        };
        let expected_sender = match channel {
            Channel::Portal => "portal",
            Channel::Con => "con-is",
            Channel::Provider => self.system_id.as_str(),
        };
        if reg.channel(&doc.channel).is_none() {
            return Err(reject(
                rejections::WRONG_CHANNEL,
                format!("the regulation {} has no channel {:?}", reg.id, doc.channel),
            ));
        }
        if sender != expected_sender {
            return Err(reject(
                rejections::WRONG_CHANNEL,
                format!(
                    "channel {:?} applications come from {expected_sender}, not {sender}",
                    doc.channel
                ),
            ));
        }
        // C-sign: the signature, the certificate's validity and revocation
        let signer = self
            .verifier
            .verify_detached(
                bytes,
                signature,
                &egov_pki::VerifyOptions {
                    usage: egov_pki::verify::Usage::Signing,
                    require_revocation: true,
                    // at the system's time, as the portal and ИС ЦОН check it
                    at: Some(self.clock.now()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| {
                if e.is_transient() {
                    // the CA cannot be asked now: not a verdict on the signature
                    transient(format!("C-sign cannot be checked now: {e}"))
                } else {
                    reject(
                        rejections::SIGNATURE_NOT_CONFIRMED,
                        format!("подлинность ЭЦП не подтверждена ({}): {e}", e.reason()),
                    )
                }
            })?;
        let signer_iin = signer.identity.iin.map(|i| i.as_string()).ok_or_else(|| {
            reject(
                rejections::IIN_MISMATCH,
                "the signing certificate names no IIN",
            )
        })?;
        let expected = match channel {
            Channel::Portal => doc
                .representative
                .as_ref()
                .map(|r| r.iin.clone())
                .unwrap_or_else(|| doc.applicant.iin.clone()),
            Channel::Provider | Channel::Con => doc
                .operator
                .as_ref()
                .map(|o| o.iin.clone())
                .ok_or_else(|| {
                    reject(
                        rejections::INVALID_FORM,
                        "operator is required for this channel",
                    )
                })?,
        };
        if signer_iin != expected {
            return Err(reject(
                rejections::IIN_MISMATCH,
                format!("the application names IIN {expected}, but it is signed by {signer_iin}"),
            ));
        }
        if channel == Channel::Provider {
            let e = crate::employees::get(&self.pool, &signer_iin)
                .await
                .map_err(|e| reject(rejections::UNKNOWN_EMPLOYEE, e.to_string()))?;
            if !e.is_some_and(|e| e.active && e.provider_id == doc.provider) {
                return Err(reject(
                    rejections::UNKNOWN_EMPLOYEE,
                    format!("{signer_iin} is not an active employee of {}", doc.provider),
                ));
            }
        }
        egov_iin::Iin::parse(&doc.applicant.iin).map_err(|e| {
            reject(
                rejections::INVALID_FORM,
                format!("applicant.iin {:?}: {e}", doc.applicant.iin),
            )
        })?;
        check_form(&reg, doc)?;
        self.check_poa(doc).await?;
        let signer_name = signer.identity.common_name.clone().unwrap_or_default();
        Ok((reg, channel, signer_iin, signer_name))
    }

    /// C-poa for every representative, whatever the channel: ЕНИС, asked through the
    /// gateway, must confirm the power of attorney for this principal, representative
    /// and service today. An unreachable ЕНИС delays the application; it never refuses it.
    async fn check_poa(&self, doc: &ApplicationDocument) -> Result<(), Rejection> {
        use egov_contracts::enis;
        let Some(rep) = &doc.representative else {
            return Ok(());
        };
        let Some(poa) = doc.poa.as_ref().filter(|p| !p.number.trim().is_empty()) else {
            return Err(reject(
                rejections::POA_NOT_CONFIRMED,
                format!(
                    "представитель {} действует без номера нотариально удостоверенной доверенности",
                    rep.iin
                ),
            ));
        };
        let client = self
            .gateway
            .get()
            .ok_or_else(|| transient("the gateway client is not running yet"))?;
        let body = enis::PoaCheckRequest {
            number: poa.number.trim().to_string(),
            principal_iin: doc.applicant.iin.clone(),
            representative_iin: rep.iin.clone(),
            service: doc.service.clone(),
            on: None,
            purpose: egov_contracts::Purpose {
                service: Some(doc.service.clone()),
                application: None,
                requester_iin: Some(rep.iin.clone()),
            },
        };
        let reply = client
            .call(
                enis::services::POA_CHECK,
                "",
                "",
                serde_json::to_vec(&body).expect("serializes"),
            )
            .await
            .map_err(|e| transient(format!("ЕНИС could not be asked: {e}")))?;
        let code = reply.code().to_string();
        if code == egov_shep_client::codes::BUSINESS_ERROR {
            // ЕНИС refused the question itself (an invalid IIN, a malformed number)
            let message = reply
                .info
                .status
                .as_ref()
                .map(|s| s.message.clone())
                .unwrap_or_default();
            return Err(reject(
                rejections::POA_NOT_CONFIRMED,
                format!("ЕНИС: {message}"),
            ));
        }
        if !reply.is_success() {
            return Err(transient(format!("ЕНИС could not be asked: {code}")));
        }
        let answer: enis::PoaCheckAnswer = serde_json::from_slice(&reply.payload)
            .map_err(|e| transient(format!("ЕНИС answered unreadably: {e}")))?;
        if answer.valid {
            Ok(())
        } else {
            Err(reject(
                rejections::POA_NOT_CONFIRMED,
                format!(
                    "доверенность № {} не подтверждена ЕНИС ({}): {}",
                    body.number,
                    answer.reason.map(|r| r.as_str()).unwrap_or("invalid"),
                    answer.message
                ),
            ))
        }
    }

    /// Registers a checked application: its number, status «поступившие», the status
    /// messages, and the first human step as a task.
    pub async fn register(
        &self,
        conn: &mut PgConnection,
        c: Checked,
        sender: &str,
        message_id: &str,
        correlation_id: &str,
        now: OffsetDateTime,
    ) -> Result<Application, crate::engine::Error> {
        let reg = c.regulation.clone();
        let year = egov_calendar::local_date(now).year();
        let n = store::next_number(conn, "application", &year.to_string()).await?;
        let number = format!("{}-{year}-{n:06}", number_prefix(&self.system_id));
        let total = reg
            .channel(c.channel.as_str())
            .and_then(|ch| ch.total_deadline)
            .unwrap_or(reg.total_deadline);
        let a = &c.doc.applicant;
        let applicant_name = [a.surname.clone(), a.name.clone(), a.patronymic.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let mut app = Application {
            id: Uuid::new_v4(),
            number,
            regulation_id: reg.id.clone(),
            service: reg.service.clone(),
            provider_id: c.doc.provider.clone(),
            channel: c.channel,
            status: BaseStatus::Received,
            stage: None,
            current_step: Some(reg.first_step().id.clone()),
            applicant_iin: a.iin.clone(),
            applicant_name: if applicant_name.is_empty() {
                a.iin.clone()
            } else {
                applicant_name
            },
            category: c.doc.category.clone(),
            representative_iin: c.doc.representative.as_ref().map(|r| r.iin.clone()),
            document: c.bytes.clone(),
            signature: c.signature.clone(),
            signer_iin: c.signer_iin.clone(),
            signer_name: c.signer_name.clone(),
            sender_system: sender.to_string(),
            message_id: message_id.to_string(),
            correlation_id: correlation_id.to_string(),
            registered_at: now,
            due_at: total.due(self.calendar, now),
            overdue: false,
            assignee_iin: None,
            result_id: None,
            grounds: vec![],
            missing_documents: vec![],
            decision_number: None,
            decision_date: None,
            amount: None,
            queue_category: None,
            queue_number: None,
            registration_date: None,
            completed_at: None,
            updated_at: now,
        };
        // the columns fixed at registration; the ones the engine changes are saved by it
        sqlx::query(
            "insert into applications (id, number, regulation_id, service, provider_id, channel, status, current_step,
                applicant_iin, applicant_name, category, representative_iin, document, signature, signer_iin,
                signer_name, sender_system, message_id, correlation_id, registered_at, due_at, updated_at, trace_parent)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $20, $22)",
        )
        .bind(app.id)
        .bind(&app.number)
        .bind(&app.regulation_id)
        .bind(&app.service)
        .bind(&app.provider_id)
        .bind(app.channel)
        .bind(app.status)
        .bind(&app.current_step)
        .bind(&app.applicant_iin)
        .bind(&app.applicant_name)
        .bind(&app.category)
        .bind(&app.representative_iin)
        .bind(&app.document)
        .bind(&app.signature)
        .bind(&app.signer_iin)
        .bind(&app.signer_name)
        .bind(&app.sender_system)
        .bind(&app.message_id)
        .bind(&app.correlation_id)
        .bind(app.registered_at)
        .bind(app.due_at)
        .bind(egov_telemetry::current_traceparent())
        .execute(&mut *conn)
        .await?;
        let span = tracing::Span::current();
        span.record("egov.application", app.number.as_str());
        span.record("egov.regulation", app.regulation_id.as_str());
        if let Some(step) = &app.current_step {
            span.record("egov.step", step.as_str());
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        for d in &c.doc.documents {
            let content = d.content.as_ref().and_then(|x| b64.decode(x).ok());
            let sha = content
                .as_ref()
                .map(|c| hex::encode(sha2::Sha256::digest(c)));
            sqlx::query(
                "insert into attachments (id, application_id, kind, name, media_type, content, paper, sha256, added_at)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(Uuid::new_v4())
            .bind(app.id)
            .bind(&d.kind)
            .bind(if d.name.is_empty() { &d.kind } else { &d.name })
            .bind(if d.media_type.is_empty() { "application/octet-stream" } else { &d.media_type })
            .bind(content)
            .bind(d.paper)
            .bind(sha)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
        let first = reg.first_step().clone();
        let due = self.due(conn, &app, &reg, &first, now).await?;
        sqlx::query(
            "insert into step_runs (application_id, step_id, kind, status, started_at, due_at, completed_at, completed_by)
             values ($1, $2, 'register', 'done', $3, $4, $3, 'system')",
        )
        .bind(app.id)
        .bind(&first.id)
        .bind(now)
        .bind(due)
        .execute(&mut *conn)
        .await?;
        let (status, stage) = first.status_along(app.channel.as_str());
        self.record_status(
            conn,
            &mut app,
            &reg,
            status.unwrap_or(Status::Received),
            stage.as_deref(),
            Some(&first.id),
            now,
            Extras::default(),
        )
        .await?;
        let next = first
            .next
            .clone()
            .or_else(|| {
                first
                    .outcomes
                    .first()
                    .map(|o| o.along(app.channel.as_str()).next)
            })
            .ok_or_else(|| {
                crate::engine::Error::Internal("the registration leads nowhere".into())
            })?;
        self.enter(conn, &mut app, &reg, &next, now).await?;
        metrics::counter!("egov_mio_applications_registered_total", "system" => self.system_id.clone(), "regulation" => reg.id.clone(), "channel" => app.channel.as_str()).increment(1);
        Ok(app)
    }

    /// Handles one message of the inbox (ack after commit, deduplicated by messageId).
    pub async fn intake(&self, d: Delivery) -> Outcome {
        let header = &d.opened.header;
        let sender = header
            .sender
            .as_ref()
            .map(|s| s.sender_id.clone())
            .unwrap_or_default();
        let message_id = header.message_id.clone();
        let correlation_id = header.correlation_id.clone();
        if header.service_id != services::SUBMIT {
            return Outcome::Reject(format!(
                "{} does not accept {}",
                self.system_id, header.service_id
            ));
        }
        let now = self.clock.now();
        let checked = self.check(&sender, &d.opened.payload).await;
        if let Err(r) = &checked
            && r.transient
        {
            tracing::warn!(%message_id, reason = %crate::mask::text(&r.message), "a check could not be made now; the message will come again");
            return Outcome::Retry(r.message.clone());
        }
        let result: Result<Outcome, String> = async {
            let mut tx = self.pool.begin().await.map_err(|e| e.to_string())?;
            if !first_time(&mut tx, &sender, &message_id)
                .await
                .map_err(|e| e.to_string())?
            {
                // a redelivery of something already committed
                return Ok(Outcome::Done);
            }
            let outcome = match checked {
                Ok(c) => {
                    let app = self
                        .register(&mut tx, c, &sender, &message_id, &correlation_id, now)
                        .await
                        .map_err(|e| e.to_string())?;
                    tracing::info!(number = %app.number, regulation = %app.regulation_id, channel = %app.channel, "application registered");
                    Outcome::Done
                }
                Err(r) => {
                    sqlx::query(
                        "insert into intake_rejections (message_id, sender_system, correlation_id, code, message, at) values ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&message_id)
                    .bind(&sender)
                    .bind(&correlation_id)
                    .bind(r.code)
                    .bind(&r.message)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| e.to_string())?;
                    outbox::notify_rejection(
                        &mut tx,
                        &sender,
                        &message_id,
                        &correlation_id,
                        r.document.as_deref(),
                        Reason {
                            code: r.code.to_string(),
                            message: r.message.clone(),
                        },
                        now,
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                    metrics::counter!("egov_mio_applications_rejected_total", "system" => self.system_id.clone(), "code" => r.code).increment(1);
                    tracing::warn!(%message_id, %sender, code = r.code, message = %crate::mask::text(&r.message), "application rejected");
                    // the reason goes to the inbox's log and the delivery notice: masked; the
                    // sender has it whole in the signed negative status
                    Outcome::Reject(crate::mask::text(&format!("{}: {}", r.code, r.message)))
                }
            };
            tx.commit().await.map_err(|e| e.to_string())?;
            Ok(outcome)
        }
        .await;
        match result {
            Ok(o) => {
                self.wake();
                o
            }
            Err(e) => {
                let e = crate::mask::text(&e);
                tracing::error!(%message_id, error = %e, "intake failed; the message will come again");
                Outcome::Retry(e)
            }
        }
    }
}

/// The prefix of a system's application numbers.
pub fn number_prefix(system: &str) -> &'static str {
    match system {
        "mio-almaty" => "ALM",
        "mio-atyrau" => "ATR",
        "mio-nko" => "SKO",
        _ => "MIO",
    }
}
