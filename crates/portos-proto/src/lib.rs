//! The gRPC contracts of PortOS-rs, generated at build time from `proto/`.
//!
//! Owns: the prost/tonic types of every service and the encoded descriptor set
//! that server reflection publishes. Knows nothing of our domain crates: it is
//! the wire, and only the edges (the supervisor's control service, the CLI, the
//! services) convert to and from it.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

/// `portos.supervisor.v1`: the supervisor's control API.
pub mod supervisor {
    pub mod v1 {
        tonic::include_proto!("portos.supervisor.v1");
    }
}

/// The encoded `FileDescriptorSet` of every file under `proto/`, for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("portos_descriptor");
