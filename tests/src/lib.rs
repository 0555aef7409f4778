//! Cross-service end-to-end tests and benchmarks of the system.
//!
//! This package holds what no single service crate can test on its own: scenarios that
//! run several services together over their real transports, against the local
//! PostgreSQL and NATS of the development environment, one test binary per lane of the
//! diagrams (`gateway/`, `mio-is/`, `gbd-fl/`, `enis/`, `uc/`); the rules of the house
//! (`house/`: the dependency rules read from `cargo metadata`); and the benchmarks.
//! A service's own crate keeps only its unit tests (a service never depends on another).
//!
//! The benchmarks (`benches/`) all run on [`bench`](mod@bench), the one harness of the package
//! (arguments, measuring, the printed table and `target/bench-<name>.json`), on the test
//! world of `egov_testkit` (RSA-2048 PKI, fresh database and NATS prefix, uc, the
//! gateways), which they drop at the end:
//!
//! - `pki`: signing, certificate issuance, CMS verification without revocation checks,
//!   with a CRL, and with OCSP against uc;
//! - `gateway`: signed envelopes point to point, through ШЭП and through РШЭП Алматы →
//!   ШЭП, async sends into a JetStream inbox beside raw publishes, the RSA-2048 bound;
//! - `registries`: seeding a million persons, and person look-ups straight and through
//!   ШЭП, closed loop and at a fixed rate;
//! - `mio`: applications registered per second by ИС МИО from its inbox;
//! - `con`: applications taken at ИС ЦОН's desk beside the bare gateway path;
//! - `portal`: signed submissions through ПЭП to «поступившие» beside the bare async
//!   path, in alternating rounds (`tests/benches/shared` holds the bare path and the API
//!   session the benches share);
//! - `load`: citizens at ПЭП and inspectors at ИС ЦОН at once beside the bare path, on
//!   the system as `egov up` starts it (`egov_testkit::launcher`), not on the test world,
//!   with each gateway's own time per message from the message log.
//!
//! Run one with `cargo bench -p egov-tests --bench <name>`; add `-- --quick` for a short
//! run, `-- --help` for its options, `-- WORD` to run only the cases whose id contains
//! WORD. Under `cargo test --benches` each runs as a smoke test.
//!

pub mod bench;
