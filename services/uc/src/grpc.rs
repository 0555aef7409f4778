//! The gRPC side: `egov.uc.v1.CertificationAuthority`.

use std::sync::Arc;

use egov_iin::Iin;
use egov_pki::authority::{CertProfile, SubjectSpec, parse_reason, reason_name};
use egov_pki::keys::KeyAlgorithm;
use egov_proto::uc::v1 as pb;
use pb::certification_authority_server::{CertificationAuthority, CertificationAuthorityServer};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use tonic::{Request, Response, Status};

use crate::State;
use crate::store::{self, Record};

/// The gRPC service implementation.
pub struct Service {
    state: Arc<State>,
}

/// The tonic server of the service.
pub fn server(state: Arc<State>) -> CertificationAuthorityServer<Service> {
    CertificationAuthorityServer::new(Service { state })
}

/// A client error with a stable code in the message (`code: text`) and in the
/// `egov-error-code` metadata.
fn invalid(code: &'static str, message: impl std::fmt::Display) -> Status {
    let mut s = Status::invalid_argument(format!("{code}: {message}"));
    s.metadata_mut()
        .insert("egov-error-code", code.parse().expect("ascii code"));
    s
}

fn internal(e: impl std::fmt::Display) -> Status {
    tracing::error!(error = %e, "uc internal error");
    Status::internal("internal error")
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn to_pb(r: &Record) -> pb::CertificateRecord {
    pb::CertificateRecord {
        serial: r.serial.clone(),
        subject: r.subject.clone(),
        iin: r.iin.clone().unwrap_or_default(),
        bin: r.bin.clone().unwrap_or_default(),
        profile: match r.profile.as_str() {
            "authentication" => pb::Profile::Authentication as i32,
            _ => pb::Profile::Signing as i32,
        },
        not_before: rfc3339(r.not_before),
        not_after: rfc3339(r.not_after),
        certificate_pem: r.certificate_pem.clone(),
        status: if r.revoked_at.is_some() {
            "REVOKED"
        } else {
            "GOOD"
        }
        .into(),
        revoked_at: r.revoked_at.map(rfc3339).unwrap_or_default(),
        revocation_reason: r
            .revocation_reason
            .map(|c| reason_name(c as u8).to_string())
            .unwrap_or_default(),
    }
}

/// Only the registration authority (a client certificate under its policy) may issue
/// and revoke; everyone else, systems and persons alike, is refused.
fn registration_authority<T>(request: &Request<T>, what: &str) -> Result<String, Status> {
    let peer = egov_grpc::peer_certificate(request);
    let caller = peer
        .as_ref()
        .and_then(|c| c.identity.common_name.clone())
        .unwrap_or_default();
    if peer.is_some_and(|c| c.is_registration_authority()) {
        Ok(caller)
    } else {
        tracing::warn!(%caller, what, "refused: not the registration authority");
        Err(Status::permission_denied(format!(
            "access-denied: only the registration authority may {what} certificates, not {caller:?}"
        )))
    }
}

/// Takes a certificate issued offline (`egovctl pki init`/`issue`: in the PKI folder's
/// index, with its file under `systems/`) into the database, so that it can be revoked
/// like one issued here. Nothing happens when it is not found (the caller answers
/// `unknown-certificate`); one already revoked in the index is `already-revoked`.
async fn import_offline(state: &State, serial: &str) -> Result<(), Status> {
    let pki = state.pki();
    let index = pki.index().map_err(internal)?;
    let issued = index
        .iter()
        .any(|r| matches!(r, egov_pki::dir::IndexRecord::Issue { serial: s, .. } if s == serial));
    if !issued {
        return Ok(());
    }
    if pki.revoked().map_err(internal)?.contains_key(serial) {
        return Err(Status::failed_precondition(format!(
            "already-revoked: certificate {serial} is already revoked (in the PKI folder)"
        )));
    }
    let Some(cert) = offline_certificate(pki.path(), serial) else {
        return Ok(());
    };
    let record = Record {
        serial: cert.serial_hex.clone(),
        subject: cert.subject_string(),
        iin: cert.identity.iin.map(|i| i.to_string()),
        bin: cert.identity.bin.clone(),
        profile: "system".into(),
        not_before: cert.not_before,
        not_after: cert.not_after,
        certificate_pem: cert.to_pem(),
        revoked_at: None,
        revocation_reason: None,
    };
    store::insert_if_absent(state.pool(), &record)
        .await
        .map_err(internal)?;
    Ok(())
}

/// The certificate with `serial` among the PKI folder's system certificate files.
fn offline_certificate(pki_dir: &std::path::Path, serial: &str) -> Option<egov_pki::CertInfo> {
    std::fs::read_dir(pki_dir.join("systems"))
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".cert.pem"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|text| egov_pki::CertInfo::from_pem(&text).ok())
        .find(|c| c.serial_hex == serial)
}

#[tonic::async_trait]
impl CertificationAuthority for Service {
    #[tracing::instrument(skip_all, fields(lane = "ИС УЦ"))]
    async fn issue_certificate(
        &self,
        request: Request<pb::IssueCertificateRequest>,
    ) -> Result<Response<pb::IssueCertificateResponse>, Status> {
        let caller = registration_authority(&request, "issue")?;
        let r = request.into_inner();
        let iin =
            Iin::parse(&r.iin).map_err(|e| invalid("invalid-iin", format!("{}: {e}", r.iin)))?;
        let profile = match pb::Profile::try_from(r.profile) {
            Ok(pb::Profile::Signing | pb::Profile::Unspecified) => CertProfile::Signing,
            Ok(pb::Profile::Authentication) => CertProfile::Authentication,
            Err(_) => {
                return Err(invalid(
                    "invalid-profile",
                    format!("unknown profile {}", r.profile),
                ));
            }
        };
        let alg = match pb::KeyAlgorithm::try_from(r.algorithm) {
            Ok(pb::KeyAlgorithm::EcdsaP256) => KeyAlgorithm::EcdsaP256,
            Ok(_) => KeyAlgorithm::Rsa2048,
            Err(_) => {
                return Err(invalid(
                    "invalid-algorithm",
                    format!("unknown algorithm {}", r.algorithm),
                ));
            }
        };
        let days = if r.days == 0 { 365 } else { i64::from(r.days) };
        if days > 3650 {
            return Err(invalid(
                "invalid-validity",
                format!("{days} days is more than 10 years"),
            ));
        }
        let not_before = if r.not_before.is_empty() {
            OffsetDateTime::now_utc() - Duration::minutes(1)
        } else {
            OffsetDateTime::parse(&r.not_before, &Rfc3339).map_err(|e| {
                invalid(
                    "invalid-validity",
                    format!("not_before {:?}: {e}", r.not_before),
                )
            })?
        };
        let mut spec = SubjectSpec::person(iin, &r.name);
        if !r.organization.is_empty() {
            spec.organization = Some(r.organization.clone());
        }
        if !r.bin.is_empty() {
            spec.bin = Some(r.bin.clone());
        }
        let authority = &self.state.pki().issuing;
        let not_after = not_before + Duration::days(days);
        let issued = if r.csr_pem.is_empty() {
            authority.issue(&spec, profile, alg, not_before, not_after)
        } else {
            authority.issue_for_csr(&r.csr_pem, &spec, profile, not_before, not_after)
        }
        .map_err(|e| match e {
            egov_pki::Error::Invalid(m) => invalid("invalid-subject", m),
            egov_pki::Error::Malformed { what, detail } => {
                invalid("invalid-csr", format!("{what}: {detail}"))
            }
            other => internal(other),
        })?;
        let record = Record {
            serial: issued.cert.serial_hex.clone(),
            subject: issued.cert.subject_string(),
            iin: Some(iin.to_string()),
            bin: spec.bin.clone(),
            profile: match profile {
                CertProfile::Authentication => "authentication",
                _ => "signing",
            }
            .into(),
            not_before: issued.cert.not_before,
            not_after: issued.cert.not_after,
            certificate_pem: issued.cert.to_pem(),
            revoked_at: None,
            revocation_reason: None,
        };
        store::insert(self.state.pool(), &record)
            .await
            .map_err(internal)?;
        metrics::counter!("egov_uc_certificates_issued_total", "profile" => record.profile.clone())
            .increment(1);
        tracing::info!(serial = %record.serial, %caller, profile = %record.profile, "certificate issued");
        Ok(Response::new(pb::IssueCertificateResponse {
            certificate: Some(to_pb(&record)),
            private_key_pem: issued.key.map(|k| k.to_pem()).unwrap_or_default(),
            chain_pem: format!(
                "{}{}",
                authority.cert.to_pem(),
                self.state.pki().root.to_pem()
            ),
        }))
    }

    #[tracing::instrument(skip_all, fields(lane = "ИС УЦ"))]
    async fn revoke_certificate(
        &self,
        request: Request<pb::RevokeCertificateRequest>,
    ) -> Result<Response<pb::RevokeCertificateResponse>, Status> {
        let caller = registration_authority(&request, "revoke")?;
        let r = request.into_inner();
        let serial = r.serial.trim().to_ascii_uppercase();
        if serial.is_empty() || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(
                "invalid-serial",
                format!("{:?} is not a hex serial number", r.serial),
            ));
        }
        let reason = if r.reason.is_empty() {
            0
        } else {
            parse_reason(&r.reason).map_err(|e| invalid("invalid-reason", e))?
        };
        let now = OffsetDateTime::now_utc();
        if store::get(self.state.pool(), &serial)
            .await
            .map_err(internal)?
            .is_none()
        {
            // issued offline (the PKI folder's systems): taken into the database first
            import_offline(&self.state, &serial).await?;
        }
        match store::revoke(self.state.pool(), &serial, now, reason)
            .await
            .map_err(internal)?
        {
            Some(rec) => {
                tracing::info!(%serial, %caller, reason = reason_name(reason), "certificate revoked");
                metrics::counter!("egov_uc_certificates_revoked_total").increment(1);
                Ok(Response::new(pb::RevokeCertificateResponse {
                    certificate: Some(to_pb(&rec)),
                }))
            }
            None => match store::get(self.state.pool(), &serial)
                .await
                .map_err(internal)?
            {
                Some(_) => Err(Status::failed_precondition(format!(
                    "already-revoked: certificate {serial} is already revoked"
                ))),
                None => Err(Status::not_found(format!(
                    "unknown-certificate: no certificate {serial}"
                ))),
            },
        }
    }

    async fn get_certificate(
        &self,
        request: Request<pb::GetCertificateRequest>,
    ) -> Result<Response<pb::CertificateRecord>, Status> {
        let serial = request.into_inner().serial.trim().to_ascii_uppercase();
        match store::get(self.state.pool(), &serial)
            .await
            .map_err(internal)?
        {
            Some(r) => Ok(Response::new(to_pb(&r))),
            None => Err(Status::not_found(format!(
                "unknown-certificate: no certificate {serial}"
            ))),
        }
    }

    async fn list_certificates(
        &self,
        request: Request<pb::ListCertificatesRequest>,
    ) -> Result<Response<pb::ListCertificatesResponse>, Status> {
        let r = request.into_inner();
        let iin =
            Iin::parse(&r.iin).map_err(|e| invalid("invalid-iin", format!("{}: {e}", r.iin)))?;
        let list = store::by_iin(self.state.pool(), &iin.to_string())
            .await
            .map_err(internal)?;
        Ok(Response::new(pb::ListCertificatesResponse {
            certificates: list.iter().map(to_pb).collect(),
        }))
    }
}
