//! `portos.instances.v1` both ways. [`client::GrpcLink`] is how this
//! instance calls a peer (a [`portos_instances::PeerLink`]): a connection per
//! call, the peer credential as `authorization: Bearer`, the peer's refusal
//! told apart from its absence. [`server::PeerRpc`] is what this instance
//! answers its peers, over [`server::Local`], what the server it runs in
//! knows of this machine (health, apps, agents, its own read routes).
//!
//! The credential is checked before a call reaches the service, by the
//! server's access guard, which hands the service a [`PeerCall`].
//!
//! Owns: the conversion of `portos.instances.v1` messages.
//! Must not depend on: the api server or any other service crate.

pub mod client;
pub mod server;

use std::net::IpAddr;

/// Where peer calls are routed: every path of the service starts so.
pub const PATH_PREFIX: &str = "/portos.instances.v1.Peer/";
/// The service's full name, for reflection.
pub const SERVICE: &str = "portos.instances.v1.Peer";

/// A peer call whose credential was checked: who called, from where.
#[derive(Debug, Clone)]
pub struct PeerCall {
    /// The name of the issued credential it carried.
    pub credential: String,
    pub address: IpAddr,
}

/// A domain error as a gRPC status.
pub(crate) fn status(e: portos_instances::InstancesError) -> tonic::Status {
    use portos_core::Kind;
    use portos_instances::InstancesError;
    match e {
        InstancesError::Problem(p) => {
            let code = match p.kind {
                Kind::Invalid | Kind::Unprocessable => tonic::Code::InvalidArgument,
                Kind::Unauthenticated => tonic::Code::Unauthenticated,
                Kind::Forbidden => tonic::Code::PermissionDenied,
                Kind::NotFound => tonic::Code::NotFound,
                Kind::Conflict => tonic::Code::FailedPrecondition,
                Kind::TooMany => tonic::Code::ResourceExhausted,
                Kind::BadGateway | Kind::Unavailable => tonic::Code::Unavailable,
                Kind::Internal => tonic::Code::Internal,
            };
            tonic::Status::new(code, p.message)
        }
        other => tonic::Status::internal(other.to_string()),
    }
}
