//! The owner's credential. One person owns a PortOS: the owner token (256
//! random bits, made on first start) lives in `data/auth/owner-token`, mode
//! 0600, and nowhere else — never in an answer, a log line or a command line.
//! A login with it opens a browser session: a random id the browser keeps as
//! an HttpOnly cookie, stored here only as its SHA-256 (`data/auth/sessions.json`,
//! 0600), so the file alone logs nobody in. Rotating the token ends every session.
//!
//! Every server reads the same files, so one login serves the api server, the
//! UI and the autofixer UI, and a rotation is seen by all at their next request.
//! Must not depend on: any wire (axum, tonic, hyper, tower) or any service crate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The folder of the data dir that holds the credential files.
pub const DIR: &str = "auth";
const TOKEN_FILE: &str = "owner-token";
const SESSIONS_FILE: &str = "sessions.json";

/// What can go wrong with the credential files.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Store(#[from] portos_store::StoreError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One open session, as kept on disk (the id itself is not).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub created_at: String,
    /// What opened it (the browser's User-Agent), for the owner to recognise.
    #[serde(default)]
    pub agent: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Sessions {
    /// SHA-256 (hex) of the session id → the session.
    #[serde(default)]
    sessions: BTreeMap<String, Session>,
}

/// A file's parsed contents, kept while the file is unchanged: nothing
/// changed in the folder since (`portos_store::changes`, no syscall but one
/// read of an empty queue), else one `stat` (inode, modification time, size).
#[derive(Debug, Default)]
struct Cached<T> {
    generation: Option<u64>,
    key: Option<(u64, i64, i64, u64)>,
    value: Arc<T>,
}

/// The owner's credential in one data dir.
#[derive(Debug)]
pub struct Owner {
    dir: PathBuf,
    token: Mutex<Cached<String>>,
    sessions: Mutex<Cached<Sessions>>,
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random number generator");
    hex::encode(bytes)
}

fn digest(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

fn same(a: &str, b: &str) -> bool {
    !a.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AuthError + '_ {
    move |source| AuthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Owner {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join(DIR),
            token: Mutex::default(),
            sessions: Mutex::default(),
        }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// A file parsed once per version of it; the default when missing.
    fn read<T: Default>(
        &self,
        file: &str,
        cache: &Mutex<Cached<T>>,
        parse: impl FnOnce(&str) -> T,
    ) -> Arc<T> {
        use std::os::unix::fs::MetadataExt;
        let generation = portos_store::changes::generation(&self.dir);
        {
            let c = cache.lock().unwrap_or_else(|e| e.into_inner());
            if generation.is_some() && c.generation == generation && c.key.is_some() {
                return c.value.clone();
            }
        }
        let path = self.path(file);
        let Ok(m) = std::fs::metadata(&path) else {
            return Arc::default();
        };
        let key = (m.ino(), m.mtime(), m.mtime_nsec(), m.size());
        let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
        if c.key != Some(key) {
            c.value = Arc::new(parse(&std::fs::read_to_string(&path).unwrap_or_default()));
            c.key = Some(key);
        }
        c.generation = generation;
        c.value.clone()
    }

    fn write(&self, file: &str, text: &str) -> Result<(), AuthError> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io(&self.dir))?;
        // The store's atomic write makes the file 0600 before it has content.
        portos_store::write_atomic(&self.path(file), text.as_bytes())?;
        Ok(())
    }

    /// The owner token, made now when there is none yet.
    pub fn ensure_token(&self) -> Result<String, AuthError> {
        let current = self.token();
        if !current.is_empty() {
            return Ok(current);
        }
        let token = random_hex();
        self.write(TOKEN_FILE, &format!("{token}\n"))?;
        Ok(token)
    }

    /// The owner token, empty when none was made yet.
    pub fn token(&self) -> String {
        self.current_token().to_string()
    }

    fn current_token(&self) -> Arc<String> {
        self.read(TOKEN_FILE, &self.token, |t| t.trim().to_string())
    }

    /// Whether `given` is the owner token.
    pub fn is_token(&self, given: &str) -> bool {
        same(given.trim(), &self.current_token())
    }

    /// A new owner token; every session ends.
    pub fn rotate(&self) -> Result<String, AuthError> {
        let token = random_hex();
        self.write(TOKEN_FILE, &format!("{token}\n"))?;
        self.write(SESSIONS_FILE, "{\n  \"sessions\": {}\n}\n")?;
        Ok(token)
    }

    fn sessions_now(&self) -> Arc<Sessions> {
        self.read(SESSIONS_FILE, &self.sessions, |t| {
            serde_json::from_str(t).unwrap_or_default()
        })
    }

    /// Opens a session for a login with the owner token: its id, for the cookie.
    pub fn open_session(&self, agent: &str) -> Result<String, AuthError> {
        let id = random_hex();
        let mut all = Sessions {
            sessions: self.sessions_now().sessions.clone(),
        };
        all.sessions.insert(
            digest(&id),
            Session {
                created_at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
                agent: agent.chars().take(200).collect(),
            },
        );
        let text = serde_json::to_string_pretty(&all).unwrap_or_default();
        self.write(SESSIONS_FILE, &format!("{text}\n"))?;
        Ok(id)
    }

    /// The login an open session belongs to: a short name derived from the
    /// session's digest (it tells nothing of the id), stable for the
    /// session's life; `None` for a session that is not open.
    pub fn login_of(&self, id: &str) -> Option<String> {
        let d = digest(id);
        (!id.is_empty() && self.sessions_now().sessions.contains_key(&d))
            .then(|| format!("session:{}", &d[..16]))
    }

    /// Whether `id` is an open session.
    pub fn is_session(&self, id: &str) -> bool {
        // Looked up by digest: its timing tells nothing of the id.
        !id.is_empty() && self.sessions_now().sessions.contains_key(&digest(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_token_is_made_once_kept_private_and_rotation_ends_sessions() {
        let data = tempfile::tempdir().unwrap();
        let owner = Owner::new(data.path());
        assert_eq!(owner.token(), "");
        let token = owner.ensure_token().unwrap();
        assert_eq!(token.len(), 64, "256 bits as hex");
        assert_eq!(owner.ensure_token().unwrap(), token, "made once");
        let file = data.path().join("auth/owner-token");
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(owner.is_token(&token) && !owner.is_token("") && !owner.is_token("nope"));

        let id = owner.open_session("test").unwrap();
        assert!(owner.is_session(&id) && !owner.is_session("") && !owner.is_session("x"));
        let stored = std::fs::read_to_string(data.path().join("auth/sessions.json")).unwrap();
        assert!(!stored.contains(&id), "only the digest is kept");
        // Another reader of the same files (another server) sees the same.
        assert!(Owner::new(data.path()).is_session(&id));

        let new = owner.rotate().unwrap();
        assert_ne!(new, token);
        assert!(!owner.is_token(&token) && owner.is_token(&new));
        assert!(!owner.is_session(&id), "rotation ends every session");
    }

    #[test]
    fn a_rotation_by_another_program_counts_at_the_next_check() {
        let data = tempfile::tempdir().unwrap();
        let server = Owner::new(data.path());
        let old = server.ensure_token().unwrap();
        // Warm: the folder is watched, checks need no stat.
        for _ in 0..3 {
            assert!(server.is_token(&old));
        }
        for round in 0..50 {
            // The CLI's `portos token --rotate`: another process, another Owner.
            let new = Owner::new(data.path()).rotate().unwrap();
            assert!(
                !server.is_token(&old),
                "round {round}: the old token still counted"
            );
            assert!(server.is_token(&new), "round {round}");
            // An edit in place, not a rename, counts as well.
            let edited = format!("{:064x}", round + 1);
            std::fs::write(data.path().join("auth/owner-token"), format!("{edited}\n")).unwrap();
            assert!(
                !server.is_token(&new) && server.is_token(&edited),
                "round {round}"
            );
        }
    }
}
