//! A data dir from the original: `instances.json` with peers that hold no
//! credential. They load, show as needing pairing, are never called until
//! paired, and nothing the file holds is lost on a write.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use portos_core::NoEvents;
use portos_instances::link::AgentFeed;
use portos_instances::{
    Announce, Identity, Instances, InstancesError, LinkError, PeerLink, PeerUpdate, Target,
};
use portos_store::JsonStore;
use serde_json::{Value, json};

/// A peer that answers every call as the instance "studio"; counts them.
#[derive(Debug, Default)]
struct Studio {
    calls: AtomicUsize,
    tokens: std::sync::Mutex<Vec<String>>,
}

impl Studio {
    fn called(&self, to: &Target) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.tokens.lock().unwrap().push(to.token.clone());
    }
    fn me() -> Identity {
        Identity {
            instance_id: "5b7e0a4c-0000-4000-8000-00000000beef".into(),
            name: "studio".into(),
            port: 5554,
        }
    }
}

#[async_trait::async_trait]
impl PeerLink for Studio {
    async fn announce(&self, to: &Target, _: &Announce) -> Result<Identity, LinkError> {
        self.called(to);
        Ok(Self::me())
    }
    async fn identity(&self, to: &Target) -> Result<Identity, LinkError> {
        self.called(to);
        Ok(Self::me())
    }
    async fn health(&self, to: &Target) -> Result<Value, LinkError> {
        self.called(to);
        Ok(json!({"overallHealth": "healthy", "system": {"uptime": 10}}))
    }
    async fn apps(&self, to: &Target) -> Result<Value, LinkError> {
        self.called(to);
        Ok(json!([{"id": "a", "name": "Site", "uiPort": 3000, "repoPath": "/secret/path"}]))
    }
    async fn query(&self, to: &Target, _: &str) -> Result<(u16, Value), LinkError> {
        self.called(to);
        Ok((200, json!({})))
    }
    async fn agents(&self, to: &Target) -> Result<AgentFeed, LinkError> {
        self.called(to);
        Ok(Box::pin(futures_util::stream::pending()))
    }
}

/// As the original writes it (two-space JSON), with a field of a later
/// version at each level.
const ORIGINAL: &str = r#"{
  "self": {
    "instanceId": "0f4a4b8e-8a55-4a4e-9c43-3c9f1f3a2b10",
    "name": "macbook"
  },
  "peers": [
    {
      "id": "9d1c3c62-5b3e-4a8e-a2f4-6d0f1e2a3b4c",
      "address": "100.64.0.7",
      "port": 5554,
      "name": "studio",
      "instanceId": "5b7e0a4c-0000-4000-8000-00000000beef",
      "addedAt": "2026-02-01T10:00:00.000Z",
      "lastSeen": "2026-02-03T09:30:00.000Z",
      "lastHealth": {"overallHealth": "healthy"},
      "lastApps": [{"id": "a", "name": "Site"}],
      "status": "online",
      "enabled": true,
      "directions": ["outbound", "inbound"],
      "color": "teal"
    }
  ],
  "federation": {"since": 2}
}"#;

fn with_original() -> (tempfile::TempDir, Instances, Arc<Studio>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("instances.json"), ORIGINAL).unwrap();
    let link = Arc::new(Studio::default());
    let i = Instances::new(
        Arc::new(JsonStore::new(dir.path())),
        link.clone(),
        Arc::new(NoEvents),
    );
    (dir, i, link)
}

fn file(dir: &tempfile::TempDir) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.path().join("instances.json")).unwrap())
        .unwrap()
}

const PEER: &str = "9d1c3c62-5b3e-4a8e-a2f4-6d0f1e2a3b4c";
const TOKEN: &str = "portos-peer-00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

#[tokio::test]
async fn the_originals_peers_load_and_wait_for_pairing() {
    let (dir, i, link) = with_original();
    let me = i.ensure_self().await.unwrap();
    assert_eq!(me.instance_id, "0f4a4b8e-8a55-4a4e-9c43-3c9f1f3a2b10");
    let list = i.list().await.unwrap();
    let peer = &list["peers"][0];
    assert_eq!(peer["needsPairing"], true, "{list}");
    assert_eq!(peer["name"], "studio");
    assert_eq!(peer["lastHealth"]["overallHealth"], "healthy");

    // The poll passes over it, and a connect says what is missing.
    i.probe_all().await.unwrap();
    assert_eq!(
        link.calls.load(Ordering::SeqCst),
        0,
        "never called unpaired"
    );
    match i.connect(PEER).await {
        Err(InstancesError::Problem(p)) => assert_eq!(p.code, "NEEDS_PAIRING"),
        other => panic!("{other:?}"),
    }
    assert!(i.query(PEER, "/api/apps").await.is_err());
    assert_eq!(link.calls.load(Ordering::SeqCst), 0);

    // A write keeps what this version does not know, at both levels.
    i.rename_self("macbook pro").await.unwrap();
    let f = file(&dir);
    assert_eq!(f["self"]["name"], "macbook pro");
    assert_eq!(f["federation"], json!({"since": 2}));
    assert_eq!(f["peers"][0]["color"], "teal");
    assert_eq!(f["peers"][0]["directions"], json!(["outbound", "inbound"]));
    assert_eq!(f["peers"][0]["addedAt"], "2026-02-01T10:00:00.000Z");
}

#[tokio::test]
async fn pairing_an_originals_peer_makes_it_callable() {
    let (dir, i, link) = with_original();
    i.ensure_self().await.unwrap();
    let peer = i
        .update_peer(
            PEER,
            PeerUpdate {
                token: Some(TOKEN.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(peer["needsPairing"], false, "{peer}");
    assert!(link.calls.load(Ordering::SeqCst) >= 1, "announced");
    i.probe(PEER).await.unwrap();
    let peer = i.peer(PEER).await.unwrap();
    assert_eq!(peer["status"], "online", "{peer}");
    // Only display fields of the peer's apps are kept, never its paths.
    assert_eq!(peer["lastApps"][0]["name"], "Site");
    assert!(peer["lastApps"][0].get("repoPath").is_none(), "{peer}");
    // Every call carried the credential it was paired with; none is on disk
    // outside data/auth.
    assert!(link.tokens.lock().unwrap().iter().all(|t| t == TOKEN));
    assert!(
        !std::fs::read_to_string(dir.path().join("instances.json"))
            .unwrap()
            .contains(TOKEN)
    );
    assert_eq!(file(&dir)["peers"][0]["color"], "teal");
}
