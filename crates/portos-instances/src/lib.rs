//! The owner's other machines. One PortOS is an *instance*; the others the
//! owner pairs it with are its *peers*. This crate keeps `data/instances.json`
//! in the original's shape (this instance's `self`, made at first start, and
//! its peers), the peer credentials outside it ([`keys`]), pairing and the
//! announce that makes a link mutual, the poll of enabled peers ([`poll`]),
//! the relay of their agents' events ([`relay`]) and the query proxy's
//! allow-list ([`link::QUERY_ALLOWED`]).
//!
//! Unlike the original, nothing is anonymous: a peer is added with a
//! credential it issued (`portos token --peer NAME`), announces and peer calls
//! carry one, and peers of an original's file, which have none, are shown as
//! needing pairing instead of failing. Peers are reached through a
//! [`link::PeerLink`]; events go to the `instances` channel.
//!
//! Must not depend on: any wire (axum, tonic, hyper, tower, portos-proto) or
//! any service crate.

pub mod file;
pub mod keys;
pub mod link;
pub mod poll;
pub mod relay;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use portos_core::{Events, Problem, Refuse};
use portos_store::{JsonStore, StoreError};
use serde_json::{Value, json};

pub use file::{FILE, InstancesFile, Peer, SelfIdentity, Status};
pub use keys::{KeyError, PeerKeys};
pub use link::{AgentEvent, Announce, Identity, LinkError, PeerLink, Target};

/// The live channel of these events.
pub const CHANNEL: &str = "instances";
/// The budget of one call to a peer (announce, or a probe's two requests).
pub const BUDGET: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum InstancesError {
    #[error(transparent)]
    Problem(#[from] Problem),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeyError),
}

pub type Result<T, E = InstancesError> = std::result::Result<T, E>;

/// A peer to add: the original's fields and the credential the peer issued.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewPeer {
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub port: Option<u32>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
}

/// A change to a peer.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeerUpdate {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    /// A (new) credential from the peer: pairs it again.
    pub token: Option<String>,
}

/// An announce as it arrived: who called, with which credential, and what it said.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub address: IpAddr,
    /// The name of the issued credential the call carried.
    pub credential: String,
    pub instance_id: String,
    pub name: String,
    pub port: u32,
    pub token: String,
}

/// The instances of one data dir. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Instances {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<JsonStore>,
    keys: PeerKeys,
    link: Arc<dyn PeerLink>,
    events: Arc<dyn Events>,
    port: AtomicU16,
    relays: relay::Relays,
}

fn uuid_like(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

/// An address a peer may have: an IP address (not unspecified, multicast or
/// link-local) or a host name (a Tailscale MagicDNS name, say).
fn valid_address(a: &str) -> bool {
    match a.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => !(v4.is_unspecified() || v4.is_multicast() || v4.is_link_local()),
        Ok(IpAddr::V6(v6)) => !(v6.is_unspecified() || v6.is_multicast()),
        Err(_) => {
            (1..=253).contains(&a.len())
                && a.split('.').all(|l| {
                    (1..=63).contains(&l.len())
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
        }
    }
}

fn port_of(p: Option<u32>) -> Result<u16> {
    match p {
        None => Ok(5554),
        Some(p) if (1..=65535).contains(&p) => Ok(p as u16),
        Some(p) => Err(InstancesError::validation(format!(
            "port {p} is not between 1 and 65535"
        ))),
    }
}

fn check_token(t: Option<&str>) -> Result<String> {
    let t = t.map(str::trim).unwrap_or_default();
    if t.is_empty() {
        return Err(InstancesError::bad_request(
            "TOKEN_REQUIRED",
            "a peer credential is required: run `portos token --peer <a name for this machine>` on the peer",
        ));
    }
    if !keys::well_formed(t) {
        return Err(InstancesError::bad_request(
            "INVALID_TOKEN",
            "that is not a peer credential (they start with portos-peer-)",
        ));
    }
    Ok(t.to_string())
}

fn not_found() -> InstancesError {
    InstancesError::not_found("Peer not found")
}

impl Instances {
    pub fn new(store: Arc<JsonStore>, link: Arc<dyn PeerLink>, events: Arc<dyn Events>) -> Self {
        let keys = PeerKeys::new(store.root());
        Self {
            inner: Arc::new(Inner {
                store,
                keys,
                link,
                events,
                port: AtomicU16::new(5554),
                relays: Default::default(),
            }),
        }
    }

    pub fn keys(&self) -> &PeerKeys {
        &self.inner.keys
    }

    /// The api port this instance tells its peers.
    pub fn port(&self) -> u16 {
        self.inner.port.load(Ordering::Relaxed)
    }

    /// Sets [`Instances::port`] (the port actually bound).
    pub fn set_port(&self, port: u16) {
        self.inner.port.store(port, Ordering::Relaxed);
    }

    async fn load(&self) -> Result<InstancesFile> {
        Ok(self.inner.store.load(FILE).await?)
    }

    async fn update<R>(&self, f: impl FnOnce(&mut InstancesFile) -> Result<R>) -> Result<R> {
        self.inner.store.update(FILE, f).await?
    }

    /// This instance's identity, made now (a random id and the host name) if
    /// the file has none.
    pub async fn ensure_self(&self) -> Result<SelfIdentity> {
        self.update(|f| {
            Ok(f.self_
                .get_or_insert_with(|| {
                    let name = nix::unistd::gethostname()
                        .map(|h| h.to_string_lossy().into_owned())
                        .unwrap_or_else(|_| "portos".into());
                    tracing::info!(%name, "instance identity created");
                    SelfIdentity {
                        instance_id: uuid::Uuid::new_v4().to_string(),
                        name,
                        extra: Default::default(),
                    }
                })
                .clone())
        })
        .await
    }

    /// This instance's id, if it has one yet.
    pub async fn instance_id(&self) -> Option<String> {
        Some(self.load().await.ok()?.self_?.instance_id)
    }

    async fn me(&self) -> Result<Identity> {
        let s = self.ensure_self().await?;
        Ok(Identity {
            instance_id: s.instance_id,
            name: s.name,
            port: self.port(),
        })
    }

    /// A peer as answered: its record and whether it still needs pairing.
    fn view(&self, p: &Peer) -> Value {
        let mut v = json!(p);
        v["needsPairing"] = json!(self.inner.keys.call_token(&p.id).is_none());
        v
    }

    fn views(&self, peers: &[Peer]) -> Value {
        Value::Array(peers.iter().map(|p| self.view(p)).collect())
    }

    fn peers_updated(&self, peers: &[Peer]) {
        self.inner
            .events
            .publish(CHANNEL, "instances:peers:updated", &self.views(peers));
    }

    /// `{self, peers}`.
    pub async fn list(&self) -> Result<Value> {
        let f = self.load().await?;
        Ok(json!({ "self": f.self_, "peers": self.views(&f.peers) }))
    }

    pub async fn self_identity(&self) -> Result<Option<SelfIdentity>> {
        Ok(self.load().await?.self_)
    }

    pub async fn rename_self(&self, name: &str) -> Result<SelfIdentity> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(InstancesError::validation(
                "Name is required (at most 100 characters)",
            ));
        }
        self.ensure_self().await?;
        self.update(|f| {
            let s = f
                .self_
                .as_mut()
                .ok_or_else(|| InstancesError::internal("Self identity not initialized"))?;
            s.name = name.to_string();
            Ok(s.clone())
        })
        .await
    }

    /// One peer as answered.
    pub async fn peer(&self, id: &str) -> Result<Value> {
        let f = self.load().await?;
        let p = f.peers.iter().find(|p| p.id == id).ok_or_else(not_found)?;
        Ok(self.view(p))
    }

    async fn stored(&self, id: &str) -> Result<Peer> {
        let f = self.load().await?;
        f.peers
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(not_found)
    }

    fn target(&self, p: &Peer) -> Option<Target> {
        Some(Target {
            address: p.address.clone(),
            port: p.port,
            token: self.inner.keys.call_token(&p.id)?,
        })
    }

    /// Adds a peer with the credential it issued: announces this instance to
    /// it (with a credential for the way back) and probes it. A peer that
    /// refuses the credential is not kept (422 `PEER_REFUSED`); one that is
    /// not reachable now is kept `offline` with the reason, and paired at a
    /// later poll.
    pub async fn add_peer(&self, new: NewPeer) -> Result<Value> {
        let address = new.address.trim().to_string();
        if !valid_address(&address) {
            return Err(InstancesError::validation(format!(
                "address {address:?} is not an IP address or host name"
            )));
        }
        let port = port_of(new.port)?;
        let token = check_token(new.token.as_deref())?;
        let name = new
            .name
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
        let peer = Peer::new(
            &address,
            port,
            name.as_deref().unwrap_or(""),
            portos_core::time::now_iso(),
        );
        {
            let f = self.load().await?;
            if let Some(p) = f
                .peers
                .iter()
                .find(|p| p.address == address && p.port == port)
            {
                return Err(InstancesError::conflict(
                    "PEER_EXISTS",
                    format!(
                        "{address}:{port} is peer {:?} already; pair it again with PUT /api/instances/peers/{} and a token",
                        p.name, p.id
                    ),
                ));
            }
        }
        // Kept before the announce: the peer's announce back may come first.
        self.inner.keys.set_call(&peer.id, &token)?;
        let id = peer.id.clone();
        self.update(|f| {
            f.peers.push(peer.clone());
            Ok(())
        })
        .await?;
        let outcome = self.announce_to(&peer, &token).await;
        if let Err(LinkError::Refused(why)) = &outcome {
            self.update(|f| {
                f.peers.retain(|p| p.id != id);
                Ok(())
            })
            .await?;
            self.inner.keys.forget(&id)?;
            return Err(Problem::new(
                portos_core::Kind::Unprocessable,
                "PEER_REFUSED",
                format!("{address}:{port} refused the credential: {why}"),
            )
            .into());
        }
        self.update(|f| {
            if let Some(p) = f.peers.iter_mut().find(|p| p.id == id) {
                settle_announce(p, &outcome, name.is_none());
            }
            Ok(())
        })
        .await?;
        tracing::info!(peer = %id, address = %address, port, "peer added");
        if outcome.is_ok() {
            self.probe(&id).await?;
        } else {
            self.emit_all().await;
        }
        self.peer(&id).await
    }

    /// Announces this instance to `peer` with `token`; the way back is its own.
    async fn announce_to(&self, peer: &Peer, token: &str) -> Result<Identity, LinkError> {
        let me = self
            .me()
            .await
            .map_err(|e| LinkError::Failed(e.to_string()))?;
        let back = self
            .inner
            .keys
            .back_token(&peer.id)
            .map_err(|e| LinkError::Failed(e.to_string()))?;
        let target = Target {
            address: peer.address.clone(),
            port: peer.port,
            token: token.to_string(),
        };
        let announce = Announce { me, token: back };
        match tokio::time::timeout(BUDGET, self.inner.link.announce(&target, &announce)).await {
            Ok(r) => r,
            Err(_) => Err(LinkError::Timeout(BUDGET.as_secs())),
        }
    }

    async fn emit_all(&self) {
        if let Ok(f) = self.load().await {
            self.peers_updated(&f.peers);
        }
    }

    /// Renames, enables or disables a peer, or pairs it again with a new token.
    pub async fn update_peer(&self, id: &str, u: PeerUpdate) -> Result<Value> {
        let name = match u.name.as_deref().map(str::trim) {
            Some("") => return Err(InstancesError::validation("name must not be empty")),
            n => n.map(str::to_string),
        };
        let peer = self.stored(id).await?;
        if let Some(t) = u.token.as_deref() {
            let token = check_token(Some(t))?;
            let outcome = self.announce_to(&peer, &token).await;
            if let Err(LinkError::Refused(why)) = &outcome {
                return Err(Problem::new(
                    portos_core::Kind::Unprocessable,
                    "PEER_REFUSED",
                    format!("the peer refused the credential: {why}"),
                )
                .into());
            }
            self.inner.keys.set_call(id, &token)?;
            self.update(|f| {
                if let Some(p) = f.peers.iter_mut().find(|p| p.id == id) {
                    settle_announce(p, &outcome, false);
                }
                Ok(())
            })
            .await?;
        }
        if u.enabled == Some(false) {
            self.inner.relays.stop(id, &*self.inner.events);
        }
        let peers = self
            .update(|f| {
                let p = f
                    .peers
                    .iter_mut()
                    .find(|p| p.id == id)
                    .ok_or_else(not_found)?;
                if let Some(n) = name {
                    p.name = n;
                }
                if let Some(e) = u.enabled {
                    p.enabled = e;
                }
                Ok(f.peers.clone())
            })
            .await?;
        self.peers_updated(&peers);
        if u.token.is_some() {
            self.probe(id).await?;
        }
        self.peer(id).await
    }

    /// Removes a peer; its way back is revoked.
    pub async fn remove_peer(&self, id: &str) -> Result<()> {
        let peers = self
            .update(|f| {
                let before = f.peers.len();
                f.peers.retain(|p| p.id != id);
                if f.peers.len() == before {
                    return Err(not_found());
                }
                Ok(f.peers.clone())
            })
            .await?;
        self.inner.relays.stop(id, &*self.inner.events);
        self.inner.keys.forget(id)?;
        tracing::info!(peer = %id, "peer removed");
        self.peers_updated(&peers);
        Ok(())
    }

    /// Announces this instance to the peer again, then probes it.
    pub async fn connect(&self, id: &str) -> Result<Value> {
        let peer = self.stored(id).await?;
        let token = self.inner.keys.call_token(id).ok_or_else(needs_pairing)?;
        let outcome = self.announce_to(&peer, &token).await;
        self.update(|f| {
            if let Some(p) = f.peers.iter_mut().find(|p| p.id == id) {
                settle_announce(p, &outcome, false);
            }
            Ok(())
        })
        .await?;
        self.probe(id).await
    }

    /// One allow-listed read route of the peer, its body as it answered.
    pub async fn query(&self, id: &str, path: &str) -> Result<Value> {
        if !link::query_allowed(path) {
            return Err(Problem::new(
                portos_core::Kind::Forbidden,
                "PATH_NOT_ALLOWED",
                format!(
                    "only these read routes of a peer can be asked: {}",
                    link::QUERY_ALLOWED.join(", ")
                ),
            )
            .into());
        }
        let peer = self.stored(id).await?;
        let target = self.target(&peer).ok_or_else(needs_pairing)?;
        match tokio::time::timeout(BUDGET, self.inner.link.query(&target, path)).await {
            Ok(Ok((_, body))) => Ok(body),
            Ok(Err(e)) => Err(bad_gateway(e)),
            Err(_) => Err(bad_gateway(LinkError::Timeout(BUDGET.as_secs()))),
        }
    }

    /// An announce from a peer, already authenticated by one of our issued
    /// credentials: the peer is found (by the way-back credential it used, its
    /// instance id, or its address and port) or added, keeps the credential
    /// it handed over, and is announced back to when the link is not yet
    /// mutual. Whether it was new, and `{self, peer}`.
    pub async fn announced(&self, a: Incoming) -> Result<(bool, Value)> {
        if !uuid_like(&a.instance_id) {
            return Err(InstancesError::validation("instanceId must be a UUID"));
        }
        let port = port_of(Some(a.port))?;
        let token = check_token(Some(&a.token))?;
        let address = match a.address {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map_or_else(|| v6.to_string(), |v4| v4.to_string()),
            v4 => v4.to_string(),
        };
        let by_link = PeerKeys::peer_of(&a.credential).map(str::to_string);
        let name = a.name.trim().chars().take(100).collect::<String>();
        let now = portos_core::time::now_iso();
        let (created, peer) = self
            .update(|f| {
                let found = f
                    .peers
                    .iter()
                    .find(|p| by_link.as_deref() == Some(&p.id))
                    .map(|p| p.id.clone())
                    .or_else(|| {
                        f.peers
                            .iter()
                            .find(|p| p.instance_id.as_deref() == Some(&a.instance_id))
                            .or_else(|| {
                                f.peers
                                    .iter()
                                    .find(|p| p.address == address && p.port == port)
                            })
                            .map(|p| p.id.clone())
                    });
                let created = found.is_none();
                if created {
                    f.peers.push(Peer::new(&address, port, &name, now.clone()));
                }
                let p = match &found {
                    Some(id) => f.peers.iter_mut().find(|p| &p.id == id),
                    None => f.peers.last_mut(),
                }
                .ok_or_else(not_found)?;
                p.last_seen = Some(now);
                p.status = Status::Online;
                p.instance_id = Some(a.instance_id.clone());
                if !name.is_empty() && (p.name.is_empty() || p.name == p.address) {
                    p.name = name;
                }
                p.add_direction(file::INBOUND);
                Ok((created, p.clone()))
            })
            .await?;
        self.inner.keys.set_call(&peer.id, &token)?;
        tracing::info!(peer = %peer.id, address = %address, port, created, "peer announced itself");
        self.emit_all().await;
        let mutual = peer.directions.iter().any(|d| d == file::OUTBOUND);
        let view = self.view(&peer);
        let this = self.clone();
        let id = peer.id.clone();
        tokio::spawn(async move {
            if !mutual {
                let outcome = this.announce_to(&peer, &token).await;
                let _ = this
                    .update(|f| {
                        if let Some(p) = f.peers.iter_mut().find(|p| p.id == id) {
                            settle_announce(p, &outcome, false);
                        }
                        Ok(())
                    })
                    .await;
            }
            if let Err(e) = this.probe(&id).await {
                tracing::warn!(peer = %id, error = %e, "announced peer not probed");
            }
        });
        let me = self.me().await?;
        Ok((
            created,
            json!({
                "self": { "instanceId": me.instance_id, "name": me.name },
                "peer": view,
            }),
        ))
    }

    /// The agents of every online peer, as the relay knows them now, each
    /// with its last output lines.
    pub fn peer_agents(&self) -> Value {
        self.inner.relays.snapshot()
    }
}

fn needs_pairing() -> InstancesError {
    InstancesError::conflict(
        "NEEDS_PAIRING",
        "this peer has no credential yet: run `portos token --peer <a name for this machine>` on it and pair it with that token",
    )
}

fn bad_gateway(e: LinkError) -> InstancesError {
    Problem::new(
        portos_core::Kind::BadGateway,
        "PEER_UNREACHABLE",
        format!("Failed to query peer: {e}"),
    )
    .into()
}

/// What an announce to `p` did to its record.
fn settle_announce(p: &mut Peer, outcome: &Result<Identity, LinkError>, take_name: bool) {
    match outcome {
        Ok(id) => {
            p.instance_id = Some(id.instance_id.clone());
            if take_name && !id.name.is_empty() {
                p.name = id.name.clone();
            }
            p.add_direction(file::OUTBOUND);
            p.last_error = None;
        }
        Err(e) => {
            p.status = Status::Offline;
            p.last_error = Some(format!("announce: {e}"));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn addresses() {
        for ok in [
            "100.64.0.7",
            "127.0.0.1",
            "::1",
            "studio",
            "mac.tail1234.ts.net",
        ] {
            assert!(super::valid_address(ok), "{ok}");
        }
        for bad in [
            "",
            "0.0.0.0",
            "169.254.1.1",
            "224.0.0.1",
            "a b",
            "-x.com",
            "x/y",
            "a..b",
        ] {
            assert!(!super::valid_address(bad), "{bad}");
        }
    }
}
