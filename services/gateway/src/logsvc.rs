//! The MessageLog gRPC service: search and verify the message log.

use std::sync::Arc;

use egov_proto::shep::v1 as pb;
use egov_shep_client::envelope::{from_timestamp, timestamp};
use pb::message_log_server::MessageLog;
use tonic::{Request, Response, Status};

use crate::journal::{Filter, Journal, StoredRecord};
use crate::status::ToStatus;

/// The service.
pub struct LogService {
    pub(crate) journal: Journal,
    pub(crate) readers: Arc<Vec<String>>,
    /// Checks the signatures of the chains' signed heads.
    pub(crate) verifier: Arc<egov_pki::Verifier>,
}

impl LogService {
    fn authorize<T>(&self, req: &Request<T>) -> Result<(), Status> {
        match egov_grpc::peer_system(req) {
            Some(p) if self.readers.contains(&p) => Ok(()),
            Some(p) => Err(Status::permission_denied(format!(
                "access-denied: {p} may not read the message log"
            ))),
            None => Err(Status::unauthenticated("no client certificate")),
        }
    }
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn to_pb(r: StoredRecord) -> pb::LogRecord {
    let ts = |t: Option<time::OffsetDateTime>| t.map(timestamp);
    let rec = r.record;
    pb::LogRecord {
        seq: r.seq,
        gateway_id: rec.gateway_id,
        event: rec.event.as_str().to_string(),
        channel: rec.channel.as_str().to_string(),
        message_id: rec.message_id,
        correlation_id: rec.correlation_id,
        service_id: rec.service_id,
        sender_id: rec.sender_id,
        recipient_id: rec.recipient_id.unwrap_or_default(),
        message_type: rec.message_type,
        region: rec.region.unwrap_or_default(),
        route: rec.route,
        payload_size: rec.payload_size,
        signature_size: rec.signature_size,
        payload_sha256: rec.payload_sha256,
        signer_serial: rec.signer_serial.unwrap_or_default(),
        verification: rec.verification,
        status_code: rec.status_code,
        status_message: rec.status_message,
        at: Some(timestamp(rec.at)),
        request_in_at: ts(rec.request_in_at),
        request_out_at: ts(rec.request_out_at),
        response_in_at: ts(rec.response_in_at),
        response_out_at: ts(rec.response_out_at),
        duration_ms: rec.duration_ms.unwrap_or_default(),
        trace_id: rec.trace_id.unwrap_or_default(),
        prev_hash: r.prev_hash,
        hash: r.hash,
    }
}

#[tonic::async_trait]
impl MessageLog for LogService {
    async fn search(
        &self,
        request: Request<pb::SearchLogRequest>,
    ) -> Result<Response<pb::SearchLogResponse>, Status> {
        self.authorize(&request)?;
        let r = request.into_inner();
        let time = |t: &Option<prost_types::Timestamp>,
                    name: &str|
         -> Result<Option<time::OffsetDateTime>, Status> {
            match t {
                None => Ok(None),
                Some(t) => from_timestamp(t).map(Some).ok_or_else(|| {
                    Status::invalid_argument(format!("invalid-time: {name} is out of range"))
                }),
            }
        };
        if r.limit > 1000 {
            return Err(Status::invalid_argument(
                "invalid-limit: at most 1000 records per search",
            ));
        }
        let filter = Filter {
            message_id: opt(&r.message_id),
            correlation_id: opt(&r.correlation_id),
            sender_id: opt(&r.sender_id),
            service_id: opt(&r.service_id),
            gateway_id: opt(&r.gateway_id),
            from: time(&r.from, "from")?,
            to: time(&r.to, "to")?,
            limit: (r.limit > 0).then_some(i64::from(r.limit)),
        };
        let rows = self
            .journal
            .search(&filter)
            .await
            .map_err(|e| e.to_status("log search failed"))?;
        Ok(Response::new(pb::SearchLogResponse {
            records: rows.into_iter().map(to_pb).collect(),
        }))
    }

    async fn verify(
        &self,
        request: Request<pb::VerifyLogRequest>,
    ) -> Result<Response<pb::VerifyLogResponse>, Status> {
        self.authorize(&request)?;
        let r = request.into_inner();
        let report = self
            .journal
            .verify_signed(opt(&r.gateway_id).as_deref(), &self.verifier)
            .await
            .map_err(|e| e.to_status("log verification failed"))?;
        Ok(Response::new(pb::VerifyLogResponse {
            ok: report.ok(),
            chains: report
                .chains
                .into_iter()
                .map(|c| pb::ChainReport {
                    gateway_id: c.gateway_id,
                    rows: c.rows,
                    problems: c.problems.iter().map(|p| p.to_string()).collect(),
                })
                .collect(),
        }))
    }
}
