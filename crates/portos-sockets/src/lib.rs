//! The listening TCP sockets of this machine (IPv4 and IPv6), read from
//! `/proc/net/tcp*`, each with the process holding it (found through the
//! processes' file descriptors, where this user may read them). Read only:
//! nothing is ever sent to any address.
//!
//! Must not depend on: any other PortOS crate (the apps' ports and `portos
//! doctor` both use it).

use std::collections::HashMap;

/// One listening TCP socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub port: u16,
    pub address: std::net::IpAddr,
    /// The process holding it, when this user may see it.
    pub pid: Option<i32>,
    /// Its process group (a supervised process leads its own).
    pub pgid: Option<i32>,
    /// The holder's command line, shortened.
    pub command: Option<String>,
}

impl Listener {
    /// Who holds it, for people: `pid 123 (node server.js)`.
    pub fn holder(&self) -> String {
        match (self.pid, &self.command) {
            (Some(pid), Some(c)) => format!("pid {pid} ({c})"),
            (Some(pid), None) => format!("pid {pid}"),
            _ => "a process of another user".into(),
        }
    }
}

/// Every listening TCP socket (IPv4 and IPv6), with its holder.
pub fn listening() -> Vec<Listener> {
    let mut sockets: Vec<(u64, std::net::SocketAddr)> = Vec::new();
    for table in [procfs::net::tcp(), procfs::net::tcp6()] {
        for e in table.into_iter().flatten() {
            if e.state == procfs::net::TcpState::Listen {
                sockets.push((e.inode, e.local_address));
            }
        }
    }
    let holders = socket_holders();
    let mut out: Vec<Listener> = sockets
        .into_iter()
        .map(|(inode, addr)| {
            let holder = holders.get(&inode);
            Listener {
                port: addr.port(),
                address: addr.ip(),
                pid: holder.map(|h| h.0),
                pgid: holder.map(|h| h.1),
                command: holder.map(|h| h.2.clone()),
            }
        })
        .collect();
    out.sort_by_key(|l| (l.port, l.address));
    out.dedup_by_key(|l| (l.port, l.pid));
    out
}

/// Socket inode → (pid, pgid, command line), over every process we may read.
fn socket_holders() -> HashMap<u64, (i32, i32, String)> {
    let mut out = HashMap::new();
    let Ok(all) = procfs::process::all_processes() else {
        return out;
    };
    for p in all.flatten() {
        let Ok(fds) = p.fd() else { continue };
        let inodes: Vec<u64> = fds
            .flatten()
            .filter_map(|fd| match fd.target {
                procfs::process::FDTarget::Socket(i) => Some(i),
                _ => None,
            })
            .collect();
        if inodes.is_empty() {
            continue;
        }
        let pgid = p.stat().map(|s| s.pgrp).unwrap_or(p.pid);
        let full = p.cmdline().map(|c| c.join(" ")).unwrap_or_default();
        let command = if full.chars().count() > 120 {
            full.chars().take(117).chain(std::iter::once('…')).collect()
        } else {
            full
        };
        for i in inodes {
            out.entry(i).or_insert((p.pid, pgid, command.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_listening_socket_is_found_with_its_holder() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let found = super::listening()
            .into_iter()
            .find(|x| x.port == port)
            .unwrap();
        assert_eq!(found.pid, Some(std::process::id() as i32));
        assert!(found.command.is_some());
    }
}
