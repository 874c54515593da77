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

/// `portos.api.v1`: the api server's gRPC face.
pub mod api {
    pub mod v1 {
        tonic::include_proto!("portos.api.v1");
    }
}

/// `portos.runner.v1`: the chief-of-staff runner's API.
pub mod runner {
    pub mod v1 {
        tonic::include_proto!("portos.runner.v1");
    }
}

/// `portos.integrations.v1`: schedules, platform accounts, activity, JIRA.
pub mod integrations {
    pub mod v1 {
        tonic::include_proto!("portos.integrations.v1");
    }
}

/// `portos.browser.v1`: the browser host's control API.
pub mod browser {
    pub mod v1 {
        tonic::include_proto!("portos.browser.v1");
    }
}

/// `portos.autofixer.v1`: the autofixer's API.
pub mod autofixer {
    pub mod v1 {
        tonic::include_proto!("portos.autofixer.v1");
    }
}

/// `portos.cos.v1`: the chief of staff, as `/api/cos`.
pub mod cos {
    pub mod v1 {
        tonic::include_proto!("portos.cos.v1");
    }
}

/// `portos.instances.v1`: what one PortOS instance answers its peers.
pub mod instances {
    pub mod v1 {
        tonic::include_proto!("portos.instances.v1");
    }
}

/// The encoded `FileDescriptorSet` of every file under `proto/`, for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("portos_descriptor");

/// Connecting to a gRPC server on a Unix socket (the supervisor's control socket).
pub mod unix {
    use std::path::{Path, PathBuf};

    use hyper_util::rt::TokioIo;
    use tonic::transport::{Channel, Endpoint};

    /// A channel to the gRPC server listening on `socket`.
    pub async fn connect(socket: &Path) -> Result<Channel, tonic::transport::Error> {
        let socket: PathBuf = socket.to_path_buf();
        // The URI is required but unused: every connection goes to the socket.
        Endpoint::from_static("http://portos.supervisor")
            .connect_with_connector(tower::service_fn(move |_| {
                let socket = socket.clone();
                async move {
                    let stream = tokio::net::UnixStream::connect(socket).await?;
                    Ok::<_, std::io::Error>(TokioIo::new(stream))
                }
            }))
            .await
    }
}
