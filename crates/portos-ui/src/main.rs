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
        // PORTOS_API_URL, PORTOS_API_PORT, else the table's `portos-server` api port.
        let api = std::env::var("PORTOS_API_URL").unwrap_or_else(|_| {
            let table = portos_core::siblings::port("portos-server", "api").unwrap_or(5554);
            format!(
                "http://127.0.0.1:{}",
                portos_rt::env_or("PORTOS_API_PORT", &table.to_string())
            )
        });
        Ok(App {
            rest: portos_ui::router(
                portos_ui::Upstream::new(api, portos_rt::internal::token()),
                portos_login::Gate::from_env(),
            ),
            wrap: Some(portos_rt::hosts::wrap_from_env()),
            serves_root: true,
            ..App::default()
        })
    })
}
