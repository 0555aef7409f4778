//! The gRPC contracts of the system, generated from `proto/egov/**.proto`.
//!
//! Packages are `egov.<area>.v1`; each is a module here. The encoded descriptor set is in
//! [`FILE_DESCRIPTOR_SET`] for gRPC reflection.

#![allow(missing_docs, clippy::all, unreachable_pub)]

/// The encoded `FileDescriptorSet` of every proto file.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("egov_descriptor");

/// `egov.uc.v1`: the certification authority (ИС УЦ) service.
pub mod uc {
    pub mod v1 {
        tonic::include_proto!("egov.uc.v1");
    }
}

/// `egov.shep.v1`: the gateway envelope and its sync and async channels.
pub mod shep {
    pub mod v1 {
        tonic::include_proto!("egov.shep.v1");
    }
}
