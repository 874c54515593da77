//! `portos token` and `portos pair`, and the login link `up` prints: the
//! owner's credential, from its own 0600 file in the data dir.

use std::net::IpAddr;
use std::path::Path;

use owo_colors::OwoColorize;
use portos_auth::Owner;

use crate::{Failure, Outcome};

/// The owner token, made now if there is none.
fn ensure(data_dir: &Path) -> Result<String, Failure> {
    Owner::new(data_dir)
        .ensure_token()
        .map_err(|e| Failure::state(format!("cannot keep the owner token: {e}")))
}

/// The login link of the UI at `host:port`.
pub fn link(https: bool, host: &str, port: u16, token: &str) -> String {
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let scheme = if https { "https" } else { "http" };
    format!("{scheme}://{host}:{port}/login?token={token}")
}

/// `portos token [--rotate]`.
pub fn token(data_dir: &Path, rotate: bool) -> Outcome {
    if rotate {
        let token = Owner::new(data_dir)
            .rotate()
            .map_err(|e| Failure::state(format!("cannot replace the owner token: {e}")))?;
        println!("{token}");
        eprintln!("portos: a new owner token; every browser session has ended");
        return Ok(());
    }
    println!("{}", ensure(data_dir)?);
    Ok(())
}

/// `portos token --peer NAME`: a new peer credential, printed once.
pub fn peer_token(data_dir: &Path, name: &str) -> Outcome {
    use portos_instances::KeyError;
    let token = portos_instances::PeerKeys::new(data_dir)
        .issue(name)
        .map_err(|e| match e {
            KeyError::InvalidName(_) | KeyError::Exists(_) => Failure::input(e.to_string()),
            other => Failure::state(format!("cannot keep the peer credential: {other}")),
        })?;
    println!("{token}");
    eprintln!(
        "portos: a credential for {name}; on {name}, add this machine on the Instances page with it (shown once; `portos token --revoke {name}` ends it)"
    );
    Ok(())
}

/// `portos token --revoke NAME`.
pub fn revoke_peer(data_dir: &Path, name: &str) -> Outcome {
    let gone = portos_instances::PeerKeys::new(data_dir)
        .revoke(name)
        .map_err(|e| Failure::state(format!("cannot change the peer credentials: {e}")))?;
    if !gone {
        return Err(Failure::input(format!(
            "no peer credential named {name:?} (see `portos token --list`)"
        )));
    }
    eprintln!("portos: the credential {name} is revoked; calls with it are refused");
    Ok(())
}

/// `portos token --list`.
pub fn list_peers(data_dir: &Path) -> Outcome {
    let all = portos_instances::PeerKeys::new(data_dir)
        .list()
        .map_err(|e| Failure::state(format!("cannot read the peer credentials: {e}")))?;
    if all.is_empty() {
        eprintln!("portos: no peer credentials (issue one with `portos token --peer NAME`)");
    }
    for (name, t) in all {
        let kind = t
            .peer_id
            .map_or_else(|| "issued".to_string(), |p| format!("way back of peer {p}"));
        println!("{name}\t{}\t{kind}", t.created_at);
    }
    Ok(())
}

/// This machine's address for a phone: a Tailscale address (100.64.0.0/10)
/// first, else the first private IPv4 of an interface that is up. Read from
/// the interfaces; nothing is sent anywhere.
fn machine_address() -> Option<IpAddr> {
    let addrs: Vec<std::net::Ipv4Addr> = nix::ifaddrs::getifaddrs()
        .ok()?
        .filter(|i| {
            i.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP)
                && !i
                    .flags
                    .contains(nix::net::if_::InterfaceFlags::IFF_LOOPBACK)
        })
        .filter_map(|i| i.address?.as_sockaddr_in().map(|a| a.ip()))
        .collect();
    let tailscale = |a: &std::net::Ipv4Addr| a.octets()[0] == 100 && (a.octets()[1] & 0xc0) == 64;
    addrs
        .iter()
        .find(|a| tailscale(a))
        .or_else(|| addrs.iter().find(|a| a.is_private()))
        .or(addrs.first())
        .map(|a| IpAddr::V4(*a))
}

/// `portos pair`: the link for this machine's address, and its QR code.
pub fn pair(data_dir: &Path, host: Option<String>, port: u16, https: bool) -> Outcome {
    let token = ensure(data_dir)?;
    let host = match host {
        Some(h) => h,
        None => machine_address()
            .map(|a| a.to_string())
            .ok_or_else(|| Failure::state("no network address found; give one with --host"))?,
    };
    let url = link(https, &host, port, &token);
    let code = qrcode::QrCode::new(url.as_bytes())
        .map_err(|e| Failure::state(format!("cannot make the QR code: {e}")))?;
    let qr = code
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    println!("{qr}");
    println!("Scan it with your phone, or open: {url}");
    Ok(())
}

/// What `up` says about logging in: the link, or in red that auth is off.
pub fn announce(data_dir: &Path, auth_off: bool, https: bool) -> Outcome {
    if auth_off {
        eprintln!(
            "{}",
            "portos: PORTOS_AUTH=off: anyone who reaches this machine can use PortOS without logging in"
                .red()
                .bold()
        );
        return Ok(());
    }
    let token = ensure(data_dir)?;
    println!("log in: {}", link(https, "localhost", 5555, &token));
    println!("        (for a phone: `portos pair`)");
    Ok(())
}

/// Whether auth is off: `PORTOS_AUTH=off` in this environment or in the
/// table's `[env]` (every process gets it there).
pub fn auth_off(config: Option<&portos_config::Config>) -> bool {
    let off = |v: &str| v.eq_ignore_ascii_case("off");
    std::env::var("PORTOS_AUTH").is_ok_and(|v| off(&v))
        || config.is_some_and(|c| {
            c.processes
                .iter()
                .any(|p| p.env.get("PORTOS_AUTH").is_some_and(|v| off(v)))
        })
}

/// Whether the table serves the pages over https (`[tls]`).
pub fn https(config: Option<&portos_config::Config>) -> bool {
    config.is_some_and(|c| c.tls.is_some())
}
