//! Peer credentials, in the data dir's secret store (`data/auth/`, 0700, its
//! files 0600), never in `instances.json`, an answer or a log line.
//!
//! - **Issued** (`peer-tokens.json`): the credentials other instances call
//!   this one with, kept as SHA-256 digests only, by name: those the owner made
//!   with `portos token --peer NAME`, and one per paired peer for its way back
//!   (`link:<peer id>`, revoked when the peer is removed).
//! - **Held** (`peer-links.json`): per peer, the credential this instance calls
//!   it with, and the way-back credential it hands that peer when it announces
//!   itself (kept, so announcing again does not cut the link).
//!
//! Every change holds an advisory lock on `.peer-keys.lock`, so `portos token
//! --peer` on the command line and the api server never lose each other's writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const ISSUED: &str = "peer-tokens.json";
const HELD: &str = "peer-links.json";
const LOCK: &str = ".peer-keys.lock";
/// Every peer credential starts so (a log scrubber can find one).
pub const PREFIX: &str = "portos-peer-";

/// What can go wrong with the credential files.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] portos_store::StoreError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid peer name {0:?}: 1 to 64 letters, digits, '.', '_' or '-'")]
    InvalidName(String),
    #[error("a peer credential named {0:?} exists; revoke it first (`portos token --revoke {0}`)")]
    Exists(String),
}

/// One issued credential, as listed (its digest is not shown).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Issued {
    digest: String,
    pub created_at: String,
    /// The peer it is the way back for, when made by pairing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_id: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct IssuedFile {
    #[serde(default)]
    tokens: BTreeMap<String, Issued>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Held {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    call: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    back: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct HeldFile {
    #[serde(default)]
    links: BTreeMap<String, Held>,
}

/// The peer credentials of one data dir.
#[derive(Debug, Clone)]
pub struct PeerKeys {
    dir: PathBuf,
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

/// A new credential: the prefix and 256 random bits.
fn fresh() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random number generator");
    format!("{PREFIX}{}", hex::encode(bytes))
}

/// Whether `token` has the shape of a peer credential.
pub fn well_formed(token: &str) -> bool {
    token
        .strip_prefix(PREFIX)
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn link_name(peer_id: &str) -> String {
    format!("link:{peer_id}")
}

impl PeerKeys {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("auth"),
        }
    }

    fn io(&self, path: &Path) -> impl FnOnce(std::io::Error) -> KeyError {
        let path = path.to_path_buf();
        move |source| KeyError::Io { path, source }
    }

    fn read<T: Default + serde::de::DeserializeOwned>(&self, file: &str) -> Result<T, KeyError> {
        Ok(portos_store::read_json(&self.dir.join(file))?.unwrap_or_default())
    }

    /// `f` over both files, under the lock; what it changed is written back.
    fn change<R>(
        &self,
        f: impl FnOnce(&mut IssuedFile, &mut HeldFile) -> Result<R, KeyError>,
    ) -> Result<R, KeyError> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(&self.dir).map_err(self.io(&self.dir))?;
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))
            .map_err(self.io(&self.dir))?;
        let lock_path = self.dir.join(LOCK);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(self.io(&lock_path))?;
        let _lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| self.io(&lock_path)(e.into()))?;
        let mut issued: IssuedFile = self.read(ISSUED)?;
        let mut held: HeldFile = self.read(HELD)?;
        let r = f(&mut issued, &mut held)?;
        // The store's atomic write makes the file 0600 before it has content.
        portos_store::write_json_file(&self.dir.join(ISSUED), &issued)?;
        portos_store::write_json_file(&self.dir.join(HELD), &held)?;
        Ok(r)
    }

    /// A new credential named `name`, for another instance to call this one
    /// with. Shown once: only its digest is kept.
    pub fn issue(&self, name: &str) -> Result<String, KeyError> {
        if !valid_name(name) {
            return Err(KeyError::InvalidName(name.to_string()));
        }
        self.change(|issued, _| {
            if issued.tokens.contains_key(name) {
                return Err(KeyError::Exists(name.to_string()));
            }
            let token = fresh();
            issued.tokens.insert(name.to_string(), entry(&token, None));
            Ok(token)
        })
    }

    /// Ends the credential named `name`; whether there was one.
    pub fn revoke(&self, name: &str) -> Result<bool, KeyError> {
        self.change(|issued, _| Ok(issued.tokens.remove(name).is_some()))
    }

    /// The issued credentials by name (never the credentials themselves).
    pub fn list(&self) -> Result<Vec<(String, Issued)>, KeyError> {
        let issued: IssuedFile = self.read(ISSUED)?;
        Ok(issued.tokens.into_iter().collect())
    }

    /// The name of the issued credential `token` is, if it is one.
    pub fn check(&self, token: &str) -> Option<String> {
        if !well_formed(token.trim()) {
            return None;
        }
        let d = digest(token);
        let issued: IssuedFile = self.read(ISSUED).ok()?;
        issued
            .tokens
            .into_iter()
            .find(|(_, t)| bool::from(t.digest.as_bytes().ct_eq(d.as_bytes())))
            .map(|(name, _)| name)
    }

    /// The peer a way-back credential was made for.
    pub fn peer_of(name: &str) -> Option<&str> {
        name.strip_prefix("link:")
    }

    /// The credential this instance calls `peer_id` with.
    pub fn call_token(&self, peer_id: &str) -> Option<String> {
        let held: HeldFile = self.read(HELD).ok()?;
        held.links.get(peer_id)?.call.clone()
    }

    /// Keeps `token` as the credential to call `peer_id` with.
    pub fn set_call(&self, peer_id: &str, token: &str) -> Result<(), KeyError> {
        self.change(|_, held| {
            held.links.entry(peer_id.to_string()).or_default().call = Some(token.trim().into());
            Ok(())
        })
    }

    /// The way-back credential for `peer_id`: made at the first announce,
    /// the same one after.
    pub fn back_token(&self, peer_id: &str) -> Result<String, KeyError> {
        self.change(|issued, held| {
            let link = held.links.entry(peer_id.to_string()).or_default();
            let name = link_name(peer_id);
            if let Some(t) = &link.back
                && issued.tokens.contains_key(&name)
            {
                return Ok(t.clone());
            }
            let token = fresh();
            issued
                .tokens
                .insert(name, entry(&token, Some(peer_id.to_string())));
            link.back = Some(token.clone());
            Ok(token)
        })
    }

    /// Forgets `peer_id`: its held credentials, and its way back is revoked.
    pub fn forget(&self, peer_id: &str) -> Result<(), KeyError> {
        self.change(|issued, held| {
            held.links.remove(peer_id);
            issued.tokens.remove(&link_name(peer_id));
            Ok(())
        })
    }
}

fn entry(token: &str, peer_id: Option<String>) -> Issued {
    Issued {
        digest: digest(token),
        created_at: portos_core::time::now_iso(),
        peer_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn issued_credentials_are_kept_as_digests_and_end_when_revoked() {
        let data = tempfile::tempdir().unwrap();
        let keys = PeerKeys::new(data.path());
        let t = keys.issue("laptop").unwrap();
        assert!(well_formed(&t), "{t}");
        assert_eq!(keys.check(&t).as_deref(), Some("laptop"));
        assert_eq!(keys.check(&format!(" {t}\n")).as_deref(), Some("laptop"));
        assert!(keys.check("portos-peer-00").is_none() && keys.check("").is_none());
        assert!(matches!(keys.issue("laptop"), Err(KeyError::Exists(_))));
        assert!(matches!(keys.issue("a b"), Err(KeyError::InvalidName(_))));
        assert!(matches!(
            keys.issue("link:x"),
            Err(KeyError::InvalidName(_))
        ));
        let file = data.path().join("auth/peer-tokens.json");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains(&t[PREFIX.len()..]),
            "only the digest is kept"
        );
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(keys.revoke("laptop").unwrap());
        assert!(!keys.revoke("laptop").unwrap());
        assert!(keys.check(&t).is_none());
    }

    #[test]
    fn the_way_back_is_made_once_and_ends_with_the_peer() {
        let data = tempfile::tempdir().unwrap();
        let keys = PeerKeys::new(data.path());
        let back = keys.back_token("p1").unwrap();
        assert_eq!(
            keys.back_token("p1").unwrap(),
            back,
            "announcing again keeps it"
        );
        assert_eq!(keys.check(&back).as_deref(), Some("link:p1"));
        assert_eq!(PeerKeys::peer_of("link:p1"), Some("p1"));
        keys.set_call("p1", "portos-peer-xyz").unwrap();
        assert_eq!(keys.call_token("p1").as_deref(), Some("portos-peer-xyz"));
        keys.forget("p1").unwrap();
        assert!(keys.check(&back).is_none() && keys.call_token("p1").is_none());
    }
}
