//! `portos-ui`: the PortOS web UI (5555). A thin shell over the library:
//! where the api server is (`PORTOS_API_PORT`, or `PORTOS_API_URL`), the frame
//! from `portos-rt`, and the Host allow-list around everything it serves.

use std::process::ExitCode;

use portos_rt::{App, ServiceInfo};

const INFO: ServiceInfo = ServiceInfo {
    name: "portos-ui",
    description: "PortOS web UI",
    default_host: "0.0.0.0",
    default_port: 5555,
};

fn main() -> ExitCode {
    portos_rt::main(INFO, |_ctx| async {
        let api = std::env::var("PORTOS_API_URL").unwrap_or_else(|_| {
            format!(
                "http://127.0.0.1:{}",
                portos_rt::env_or("PORTOS_API_PORT", "5554")
            )
        });
        let hosts = std::sync::Arc::new(portos_rt::hosts::HostPolicy::from_env());
        Ok(App {
            rest: portos_ui::router(portos_ui::Upstream::new(api)),
            wrap: Some(Box::new(move |all| {
                all.layer(axum::middleware::from_fn_with_state(
                    hosts,
                    portos_rt::hosts::check_host,
                ))
            })),
            serves_root: true,
            ..App::default()
        })
    })
}
