//! Cross-service end-to-end tests and benchmarks of the system.
//!
//! This package holds what no single service crate can test on its own: scenarios that
//! run several services together over their real transports, against the local
//! PostgreSQL and NATS of the development environment, and the benchmarks of the shared
//! infrastructure. Each service's own tests stay in that service's crate.
//!
//! - `benches/pki.rs`: throughput of the test PKI (signing, certificate issuance, CMS
//!   verification without revocation checks, with a CRL, and with OCSP against a running
//!   uc service). Run it with `cargo bench -p egov-tests --bench pki` (add `-- --quick`
//!   for a short run); it prints a table and writes `target/bench-pki.json`.
//!
//! More end-to-end scenarios come later, under `tests/`.

pub mod bench;
