//! Ports: who listens where (the live TCP sockets of `/proc`, each with the
//! process that holds it, and the supervised process or app it belongs to),
//! the ports registered apps reserve, free ranges and the next free ports in
//! the managed range — the original's `/api/ports`, with owners named (the
//! original shelled out to `ss` and knew numbers only).

use std::collections::{BTreeMap, BTreeSet};

use portos_core::Refuse;
use serde_json::{Value, json};

use portos_sockets::{Listener, listening};

use crate::{Apps, AppsError, ProcessInfo};

/// The range new apps get ports from.
pub const RANGE: (u16, u16) = (6000, 6099);

/// Ports the registered apps reserve (`uiPort`, `apiPort`, their processes'
/// ports) and PortOS's own.
async fn reserved(apps: &Apps) -> Result<BTreeSet<u16>, AppsError> {
    let mut out: BTreeSet<u16> = [5554, 5555].into();
    for (_, a) in crate::registry::all(apps).await? {
        for key in ["uiPort", "apiPort"] {
            if let Some(p) = a[key].as_u64().and_then(|p| u16::try_from(p).ok()) {
                out.insert(p);
            }
        }
        for proc_ in a["processes"].as_array().into_iter().flatten() {
            for p in proc_["ports"].as_object().into_iter().flatten() {
                if let Some(p) = p.1.as_u64().and_then(|p| u16::try_from(p).ok()) {
                    out.insert(p);
                }
            }
        }
    }
    Ok(out)
}

/// The ports in use: listening now, and reserved by the apps (and ours).
struct Taken {
    listeners: Vec<Listener>,
    used: BTreeSet<u16>,
    reserved: BTreeSet<u16>,
}

impl Taken {
    async fn now(apps: &Apps) -> Result<Self, AppsError> {
        let listeners = listening();
        let used = listeners.iter().map(|l| l.port).collect();
        Ok(Self {
            listeners,
            used,
            reserved: reserved(apps).await?,
        })
    }

    fn occupied(&self) -> BTreeSet<u16> {
        self.used.union(&self.reserved).copied().collect()
    }
}

/// `GET /api/ports/scan`: the original's answer, plus `owners` (who holds
/// each listening port: pid, command, and the supervised process and group).
pub async fn scan(apps: &Apps) -> Result<Value, AppsError> {
    let taken = Taken::now(apps).await?;
    let supervised = apps.supervisor.list().await.unwrap_or_default();
    let occupied = taken.occupied();
    let owners: Vec<Value> = taken
        .listeners
        .iter()
        .map(|l| {
            let sup = supervised
                .iter()
                .find(|p| p.pid != 0 && l.pgid == Some(p.pid as i32));
            json!({
                "port": l.port,
                "address": l.address.to_string(),
                "pid": l.pid,
                "command": l.command,
                "process": sup.map(|p| p.name.clone()),
                "group": sup.map(|p| p.group.clone()),
            })
        })
        .collect();
    Ok(json!({
        "usedPorts": taken.used,
        "reservedPorts": taken.reserved,
        "allOccupied": occupied,
        "freeRanges": free_ranges(&occupied, RANGE),
        "suggestedPorts": next_free(&occupied, RANGE, 2),
        "defaultRange": { "start": RANGE.0, "end": RANGE.1 },
        "owners": owners,
    }))
}

fn free_ranges(occupied: &BTreeSet<u16>, (start, end): (u16, u16)) -> Vec<Value> {
    let mut out = Vec::new();
    let mut from = start;
    for &p in occupied.range(start..=end) {
        if from < p {
            out.push(json!({ "start": from, "end": p - 1, "count": p - from }));
        }
        from = p + 1;
    }
    if from <= end {
        out.push(json!({ "start": from, "end": end, "count": end - from + 1 }));
    }
    out
}

/// The first `n` ports of the range neither listening nor reserved (the
/// original also handed out reserved ones, and repeated ports past two).
fn next_free(occupied: &BTreeSet<u16>, (start, end): (u16, u16), n: usize) -> Vec<u16> {
    (start..=end)
        .filter(|p| !occupied.contains(p))
        .take(n)
        .collect()
}

/// `POST /api/ports/check`: `{ "<port>": available }`.
pub async fn check(apps: &Apps, ports: &Value) -> Result<BTreeMap<String, bool>, AppsError> {
    let list: Vec<u16> = ports
        .as_array()
        .filter(|a| !a.is_empty())
        .and_then(|a| {
            a.iter()
                .map(|p| p.as_u64().and_then(|p| u16::try_from(p).ok()))
                .collect::<Option<Vec<u16>>>()
        })
        .ok_or_else(|| AppsError::validation("ports must be a non-empty array of numbers"))?;
    let occupied = Taken::now(apps).await?.occupied();
    Ok(list
        .into_iter()
        .map(|p| (p.to_string(), !occupied.contains(&p)))
        .collect())
}

/// `POST /api/ports/allocate`: `count` (1–10) distinct free ports of the range
/// (topping up past it, to 6199).
pub async fn allocate(apps: &Apps, count: &Value) -> Result<Vec<u16>, AppsError> {
    let n = match count {
        Value::Null => 1,
        v => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .map(|n| if n == 0 { 1 } else { n })
            .unwrap_or(0),
    };
    if !(1..=10).contains(&n) {
        return Err(AppsError::validation("count must be between 1 and 10"));
    }
    let occupied = Taken::now(apps).await?.occupied();
    Ok(next_free(&occupied, (RANGE.0, RANGE.1 + 100), n as usize))
}

/// Refuses a table whose ports another program listens on, naming it (a
/// supervised one by its process and group); a port held by `group`'s own
/// running processes (a re-apply) is fine.
pub fn refuse_taken(
    ports: &[(String, u16)],
    group: &str,
    supervised: &[ProcessInfo],
) -> Result<(), AppsError> {
    let listeners = listening();
    let holder_of = |l: &Listener| {
        supervised
            .iter()
            .find(|p| p.pid != 0 && l.pgid == Some(p.pid as i32))
    };
    for (who, port) in ports {
        let Some(l) = listeners
            .iter()
            .filter(|l| l.port == *port)
            .find(|l| holder_of(l).is_none_or(|p| p.group != group))
        else {
            continue;
        };
        let holder = match holder_of(l) {
            Some(p) => format!("{} of {} (pid {})", p.name, p.group, p.pid),
            None => l.holder(),
        };
        return Err(AppsError::bad_request(
            "PORT_IN_USE",
            format!("port {port} of {who} is in use by {holder}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ranges_and_suggestions_skip_what_is_taken() {
        let taken: BTreeSet<u16> = [6000, 6002, 6003, 7000].into();
        assert_eq!(
            free_ranges(&taken, (6000, 6005)),
            vec![
                json!({ "start": 6001, "end": 6001, "count": 1 }),
                json!({ "start": 6004, "end": 6005, "count": 2 }),
            ]
        );
        assert_eq!(next_free(&taken, (6000, 6099), 3), vec![6001, 6004, 6005]);
    }

    #[test]
    fn a_listening_socket_is_found_with_its_holder() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let found = listening().into_iter().find(|x| x.port == port).unwrap();
        assert_eq!(found.pid, Some(std::process::id() as i32));
        let err = refuse_taken(&[("web".into(), port)], "app", &[]).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("port {port} of web is in use by pid")),
            "{err}"
        );
        // The group's own process holding it is no clash; another group's is named.
        let mine = ProcessInfo {
            name: "web".into(),
            group: "app".into(),
            state: crate::ProcessState::Healthy,
            pid: found.pgid.unwrap() as u32,
            cpu_percent: 0.0,
            memory_bytes: 0,
            uptime_ms: 0,
            restarts: 0,
            reason: String::new(),
            ports: Vec::new(),
            min_uptime_ms: 0,
            command: String::new(),
        };
        assert!(refuse_taken(&[("web".into(), port)], "app", std::slice::from_ref(&mine)).is_ok());
        let err = refuse_taken(&[("web".into(), port)], "other", &[mine]).unwrap_err();
        assert!(err.to_string().contains("in use by web of app"), "{err}");
    }
}
