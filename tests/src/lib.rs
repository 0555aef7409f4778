//! Cross-service end-to-end tests and benchmarks of the system.
//!
//! This package holds what no single service crate can test on its own: scenarios that
//! run several services together over their real transports, against the local
//! PostgreSQL and NATS of the development environment, one test binary per lane of the
//! diagrams (`gateway/`, `mio-is/`, `gbd-fl/`, `enis/`, `uc/`); the rules of the house
//! (`house/`: the dependency rules read from `cargo metadata`); and the benchmarks.
//! A service's own crate keeps only its unit tests (a service never depends on another).
//!
//! - `benches/pki.rs`: throughput of the test PKI (signing, certificate issuance, CMS
//!   verification without revocation checks, with a CRL, and with OCSP against a running
//!   uc service). Run it with `cargo bench -p egov-tests --bench pki` (add `-- --quick`
//!   for a short run); it prints a table and writes `target/bench-pki.json`.
//!

pub mod bench;
