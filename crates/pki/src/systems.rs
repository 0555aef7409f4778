//! The information systems and gateways that get a test identity: those of the
//! deployment's topology (`deploy/topology/`, [`egov_topology`]).
//!
//! `egovctl pki init` issues every one a transport-signing certificate and a mutual-TLS
//! certificate. The BINs are made up for the test PKI.

pub use egov_topology::Identity as System;

/// Every gateway and system of the shipped topology.
pub fn shipped() -> Vec<System> {
    egov_topology::Topology::shipped().identities()
}

/// A system of the shipped topology by id.
pub fn by_id(id: &str) -> Option<System> {
    shipped().into_iter().find(|s| s.id == id)
}
