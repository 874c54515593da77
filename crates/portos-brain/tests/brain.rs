//! The brain over real files in a temp data dir, with a scripted model (the
//! end-to-end tests use llama.cpp's server) and a manual clock.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portos_brain::model::Boxed;
use portos_brain::schedule::Fired;
use portos_brain::{Ask, Brain, Dest, Job, Model};
use portos_ratelimit::ManualClock;
use portos_store::JsonStore;
use portos_test_support::git;
use serde_json::{Value, json};

type Answer = Box<dyn Fn(&Ask) -> Result<String, String> + Send + Sync>;

struct Scripted {
    answer: Mutex<Answer>,
    asked: AtomicUsize,
    /// When set, each answer waits for a permit.
    gate: Option<Arc<tokio::sync::Semaphore>>,
}

impl std::fmt::Debug for Scripted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scripted")
    }
}

impl Scripted {
    fn new(answer: impl Fn(&Ask) -> Result<String, String> + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            answer: Mutex::new(Box::new(answer)),
            asked: AtomicUsize::new(0),
            gate: None,
        })
    }
    fn set(&self, answer: impl Fn(&Ask) -> Result<String, String> + Send + Sync + 'static) {
        *self.answer.lock().unwrap() = Box::new(answer);
    }
}

impl Model for Scripted {
    fn ask(&self, ask: Ask) -> Boxed<'_, Result<String, String>> {
        Box::pin(async move {
            self.asked.fetch_add(1, Ordering::SeqCst);
            if let Some(g) = &self.gate {
                g.acquire().await.unwrap().forget();
            }
            (self.answer.lock().unwrap())(&ask)
        })
    }
    fn models(&self, id: &str) -> Boxed<'_, Option<Vec<String>>> {
        let known = id == "lmstudio";
        Box::pin(async move { known.then(|| vec!["gptoss-20b".to_string()]) })
    }
}

#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<(String, Value)>>);

impl portos_core::Events for Recorder {
    fn broadcast(&self, event: &str, data: &Value) {
        self.0
            .lock()
            .unwrap()
            .push((event.to_string(), data.clone()));
    }
    fn publish(&self, _: &str, event: &str, data: &Value) {
        self.broadcast(event, data);
    }
}

impl Recorder {
    fn named(&self, prefix: &str) -> Vec<Value> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(e, _)| e.starts_with(prefix))
            .map(|(_, d)| d.clone())
            .collect()
    }
}

const DIGEST: &str = r#"{"digestText":"d","topActions":["a"],"stuckThing":"s","smallWin":"w"}"#;
const REVIEW: &str = r#"{"reviewText":"r","whatHappened":[],"biggestOpenLoops":[],"suggestedActionsNextWeek":[],"recurringTheme":"t"}"#;

fn jobs_answer(ask: &Ask) -> Result<String, String> {
    Ok(if ask.stage == "brain-daily-digest" {
        DIGEST
    } else {
        REVIEW
    }
    .to_string())
}

struct World {
    dir: tempfile::TempDir,
    store: Arc<JsonStore>,
    clock: Arc<ManualClock>,
    events: Arc<Recorder>,
}

impl World {
    fn new(at: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ms = chrono::DateTime::parse_from_rfc3339(at)
            .unwrap()
            .timestamp_millis() as u64;
        Self {
            store: Arc::new(JsonStore::new(dir.path())),
            dir,
            clock: Arc::new(ManualClock::new(ms)),
            events: Arc::default(),
        }
    }
    /// A brain as PortOS starts one (a restart is a new one on the same files).
    fn brain(&self, model: Arc<dyn Model>) -> Brain {
        Brain::new(
            self.store.clone(),
            model,
            self.events.clone(),
            self.clock.clone(),
        )
    }
    fn file(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.dir.path().join(rel)).unwrap_or_default()
    }
}

fn copy_sample(to: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sample/brain");
    std::fs::create_dir_all(to.join("brain")).unwrap();
    for f in std::fs::read_dir(from).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), to.join("brain").join(f.file_name())).unwrap();
    }
}

const FILES: &[&str] = &[
    "brain/meta.json",
    "brain/people.json",
    "brain/projects.json",
    "brain/ideas.json",
    "brain/admin.json",
    "brain/inbox_log.jsonl",
    "brain/digests.jsonl",
    "brain/reviews.jsonl",
];

#[tokio::test]
async fn the_originals_files_load_and_are_written_back_unchanged_where_nothing_changed() {
    let w = World::new("2024-02-05T12:00:00Z");
    copy_sample(w.dir.path());
    let before: Vec<Vec<u8>> = FILES.iter().map(|f| w.file(f)).collect();
    let brain = w.brain(Scripted::new(jobs_answer));
    // Every read, and a settings answer with every key.
    let people = brain.list(Dest::People, None).await.unwrap();
    assert_eq!(people[0]["id"], "0b8a5c1e-3f7d-4e2a-9c61-5d4b2a1f0e93");
    assert_eq!(
        people[0]["followUps"],
        json!(["Ask about the route-setting course", "Return the chalk bag"])
    );
    assert_eq!(people[1]["lastTouched"], Value::Null);
    assert_eq!(
        brain
            .list(Dest::Projects, Some("active"))
            .await
            .unwrap()
            .len(),
        1
    );
    let inbox = brain.inbox(&Default::default()).await.unwrap();
    assert_eq!(
        inbox["counts"],
        json!({"total":3,"classifying":0,"filed":2,"needs_review":1,"corrected":0,"done":0,"error":0})
    );
    let order: Vec<_> = inbox["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["capturedAt"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        order,
        [
            "2024-02-02T09:00:00.000Z",
            "2024-02-01T10:30:00.000Z",
            "2024-01-15T20:00:00.000Z"
        ]
    );
    let summary = brain.summary().await.unwrap();
    assert_eq!(
        summary["counts"]["projects"], 2,
        "archived records are counted, as the original does"
    );
    assert_eq!(
        (
            summary["activeIdeas"].clone(),
            summary["openAdmin"].clone(),
            summary["needsReview"].clone()
        ),
        (json!(1), json!(1), json!(1))
    );
    assert_eq!(
        brain.latest(Job::DailyDigest).await.unwrap()["smallWin"],
        "Library books returned"
    );
    assert_eq!(brain.history(Job::WeeklyReview, 10).await.unwrap().len(), 1);
    assert_eq!(brain.settings().await.unwrap()["weeklyReviewDay"], "sunday");
    brain.schedule().await.unwrap();
    let after: Vec<Vec<u8>> = FILES.iter().map(|f| w.file(f)).collect();
    assert_eq!(before, after, "reading rewrote a file");

    // A change to one record: every other record and field is as it was.
    let people_before: Value = serde_json::from_slice(&w.file("brain/people.json")).unwrap();
    brain
        .update(
            Dest::People,
            "7d2e9f40-1a6b-4c3d-8e5f-b0a1c2d3e4f5",
            &json!({"context": "Accountant."}),
        )
        .await
        .unwrap();
    let people_after: Value = serde_json::from_slice(&w.file("brain/people.json")).unwrap();
    let (b, a) = (&people_before["records"], &people_after["records"]);
    assert_eq!(
        a["0b8a5c1e-3f7d-4e2a-9c61-5d4b2a1f0e93"],
        b["0b8a5c1e-3f7d-4e2a-9c61-5d4b2a1f0e93"]
    );
    let changed = &a["7d2e9f40-1a6b-4c3d-8e5f-b0a1c2d3e4f5"];
    assert_eq!(changed["context"], "Accountant.");
    assert_eq!(changed["createdAt"], "2023-11-02T10:00:00.000Z");
    assert_eq!(changed["updatedAt"], "2024-02-05T12:00:00.000Z");
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        keys(changed),
        keys(&b["7d2e9f40-1a6b-4c3d-8e5f-b0a1c2d3e4f5"]),
        "key order kept"
    );

    // One inbox entry done: the other lines are byte for byte the same.
    let lines_before: Vec<String> = String::from_utf8(w.file("brain/inbox_log.jsonl"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    brain
        .done("d2b3c4d5-e6f7-4a8b-9c0d-1e2f3a4b5c6d")
        .await
        .unwrap();
    let lines_after: Vec<String> = String::from_utf8(w.file("brain/inbox_log.jsonl"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines_after[0], lines_before[0]);
    assert_eq!(lines_after[2], lines_before[2]);
    assert!(
        lines_after[1].ends_with(r#""status":"done","doneAt":"2024-02-05T12:00:00.000Z"}"#),
        "{}",
        lines_after[1]
    );

    // Fixing the entry the original's retry filed (`recordId`) archives its old record.
    let fixed = brain
        .fix(&json!({"inboxLogId": "e3c4d5e6-f7a8-4b9c-8d1e-2f3a4b5c6d7e", "newDestination": "projects", "note": "it is a project"}))
        .await
        .unwrap();
    assert_eq!(fixed["inboxLog"]["status"], "corrected");
    assert_eq!(
        fixed["inboxLog"]["correction"]["previousDestination"],
        "ideas"
    );
    assert_eq!(
        brain
            .get(Dest::Ideas, "8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d")
            .await
            .unwrap()["archived"],
        true
    );
    assert_eq!(
        fixed["newRecord"]["name"], "Photo wall",
        "the classification's title"
    );
}

async fn settled(brain: &Brain, id: &str) -> serde_json::Map<String, Value> {
    for _ in 0..500 {
        let e = brain.entry(id).await.unwrap();
        if e["status"] != "classifying" {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("entry {id} still classifying");
}

async fn capture(brain: &Brain, text: &str) -> String {
    let got = brain.capture(&json!({"text": text})).await.unwrap();
    assert_eq!(got["inboxLog"]["status"], "classifying");
    assert_eq!(got["message"], "Thought captured! AI is classifying...");
    got["inboxLog"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn every_answer_of_the_model_ends_filed_or_in_review_with_the_reason() {
    let w = World::new("2026-12-02T10:00:00Z");
    let model = Scripted::new(|_| Ok("I would say this is about a person.".into()));
    let brain = w.brain(model.clone());

    let id = capture(&brain, "Call Dana about the lease").await;
    let e = settled(&brain, &id).await;
    assert_eq!(e["status"], "needs_review");
    assert_eq!(e["error"]["message"], "Could not parse AI response as JSON");
    assert_eq!(
        e["classification"]["reasons"],
        json!(["Could not parse AI response as JSON"])
    );

    model.set(|_| Err("No AI provider available".into()));
    let e = settled(&brain, &capture(&brain, "x").await).await;
    assert_eq!(
        (e["status"].clone(), e["error"]["message"].clone()),
        (json!("needs_review"), json!("No AI provider available"))
    );

    model.set(|_| {
        Ok(r#"{"destination":"unknown","confidence":0.97,"title":"?","extracted":{}}"#.into())
    });
    let e = settled(&brain, &capture(&brain, "the thing").await).await;
    assert_eq!(e["status"], "needs_review");
    assert!(e.get("error").is_none());

    model.set(|a| {
        assert_eq!(a.stage, "brain-classifier");
        assert_eq!(a.variables["capturedText"], "Call Dana about the lease");
        assert_eq!(a.provider, "lmstudio", "meta.json's defaultProvider");
        Ok("```json\n{\"destination\":\"people\",\"confidence\":0.82,\"title\":\"Dana lease call\",\"extracted\":{\"name\":\"Dana\",\"followUps\":[\"Call about the lease\"]},\"reasons\":[\"Named person\"]}\n```".into())
    });
    let e = settled(&brain, &capture(&brain, "Call Dana about the lease").await).await;
    assert_eq!(e["status"], "filed");
    let person = brain
        .get(Dest::People, e["filed"]["destinationId"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(person["name"], "Dana");
    assert_eq!(person["followUps"], json!(["Call about the lease"]));
    assert_eq!(person["context"], "");
    let classified = w.events.named("brain:classified");
    assert_eq!(classified.len(), 4);
    assert_eq!(classified[3]["status"], "filed");
    assert_eq!(classified[3]["destination"], "people");

    // Retry of the first (unparseable) one: now filed, under destinationId.
    let r = brain.retry(&id, &Value::Null).await.unwrap();
    assert_eq!(r["message"], "Successfully classified as people");
    assert!(r["inboxLog"]["filed"]["destinationId"].is_string(), "{r}");
    assert_eq!(r["inboxLog"]["error"], Value::Null);
    // A confident unknown on retry is a review, not an error (the original threw).
    model.set(|_| {
        Ok(r#"{"destination":"unknown","confidence":0.99,"title":"?","extracted":{}}"#.into())
    });
    let other = capture(&brain, "hmm").await;
    settled(&brain, &other).await;
    let r = brain.retry(&other, &json!({})).await.unwrap();
    assert_eq!(r["inboxLog"]["status"], "needs_review");
    // Resolving a failed classification files under the thought's words.
    model.set(|_| Err("CLI exited with code 1".into()));
    let failed = capture(&brain, "Buy stamps before Friday").await;
    settled(&brain, &failed).await;
    let r = brain
        .resolve(&json!({"inboxLogId": failed, "destination": "admin"}))
        .await
        .unwrap();
    assert_eq!(r["filedRecord"]["title"], "Buy stamps before Friday");
    assert_eq!(r["inboxLog"]["classification"]["confidence"], 1);
    let again = brain
        .resolve(&json!({"inboxLogId": failed, "destination": "admin"}))
        .await
        .unwrap_err();
    assert!(
        matches!(again, portos_brain::BrainError::Problem(p) if p.kind == portos_core::Kind::Conflict)
    );
}

#[tokio::test]
async fn thoughts_left_classifying_by_a_previous_run_are_classified_at_start() {
    let w = World::new("2026-12-02T10:00:00Z");
    std::fs::create_dir_all(w.dir.path().join("brain")).unwrap();
    std::fs::write(
        w.dir.path().join("brain/inbox_log.jsonl"),
        "{\"id\":\"c1a2b3c4-d5e6-4f7a-8b9c-0d1e2f3a4b5c\",\"capturedText\":\"Renew the passport\",\"source\":\"brain_ui\",\"ai\":{\"providerId\":\"lmstudio\",\"modelId\":\"m\",\"promptTemplateId\":\"brain-classifier\"},\"status\":\"classifying\",\"capturedAt\":\"2026-12-01T10:00:00.000Z\"}\n",
    )
    .unwrap();
    let brain = w.brain(Scripted::new(|a| {
        assert_eq!(a.variables["capturedText"], "Renew the passport");
        Ok(r#"{"destination":"admin","confidence":0.9,"title":"Passport","extracted":{}}"#.into())
    }));
    assert_eq!(brain.resume().await.unwrap(), 1);
    let e = settled(&brain, "c1a2b3c4-d5e6-4f7a-8b9c-0d1e2f3a4b5c").await;
    assert_eq!(e["status"], "filed", "{e:?}");
    assert_eq!(
        brain.list(Dest::Admin, None).await.unwrap()[0]["title"],
        "Passport"
    );
    assert_eq!(brain.resume().await.unwrap(), 0, "nothing left classifying");
}

#[tokio::test]
async fn concurrent_captures_lose_nothing() {
    let w = World::new("2026-12-02T10:00:00Z");
    let brain = w.brain(Scripted::new(|a| {
        let t = a.variables["capturedText"].as_str().unwrap().to_string();
        Ok(
            json!({"destination":"ideas","confidence":0.9,"title":t,"extracted":{"title":t}})
                .to_string(),
        )
    }));
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(capture(&brain, &format!("idea {i}")).await);
    }
    for id in &ids {
        assert_eq!(settled(&brain, id).await["status"], "filed");
    }
    assert_eq!(brain.list(Dest::Ideas, None).await.unwrap().len(), 30);
    assert_eq!(
        brain.inbox(&Default::default()).await.unwrap()["counts"]["filed"],
        30
    );
}

async fn run_days(w: &World, brain: &Brain, hours: u64) -> Vec<Fired> {
    let mut fired = Vec::new();
    // Every three minutes (PortOS looks every minute and at each slot).
    for _ in 0..hours * 20 {
        w.clock.advance(Duration::from_secs(180));
        fired.extend(brain.tick().await.unwrap());
    }
    fired
}

#[tokio::test]
async fn the_schedule_fires_once_a_slot_and_missed_slots_follow_the_policy() {
    // Monday 2026-11-30, 00:05 UTC; the defaults: digest 09:00, review Sunday 16:00.
    let w = World::new("2026-11-30T00:05:00Z");
    let model = Scripted::new(jobs_answer);
    let brain = w.brain(model.clone());
    assert!(
        brain.tick().await.unwrap().is_empty(),
        "a fresh install has missed nothing"
    );
    let week = run_days(&w, &brain, 7 * 24).await;
    let digests: Vec<_> = week.iter().filter(|f| f.job == Job::DailyDigest).collect();
    assert_eq!(digests.len(), 7, "{week:?}");
    for (i, d) in digests.iter().enumerate() {
        let day = chrono::DateTime::parse_from_rfc3339("2026-11-30T09:00:00Z").unwrap()
            + chrono::Duration::days(i as i64);
        assert_eq!(d.slot, day);
        assert_eq!((d.trigger, d.outcome, d.missed), ("schedule", "ran", 0));
    }
    let stored = brain.history(Job::DailyDigest, 100).await.unwrap();
    assert_eq!(stored.len(), 7);
    assert_eq!(stored[0]["ai"]["promptTemplateId"], "brain-daily-digest");
    let reviews: Vec<_> = week.iter().filter(|f| f.job == Job::WeeklyReview).collect();
    assert_eq!(reviews.len(), 1);
    assert_eq!(
        portos_brain::iso(reviews[0].slot),
        "2026-12-06T16:00:00.000Z",
        "Sunday"
    );
    assert_eq!(w.events.named("brain:digest:completed").len(), 7);

    // PortOS down for three days across three digest times (runOnce, the default).
    drop(brain);
    w.clock.advance(Duration::from_secs(3 * 86_400));
    let brain = w.brain(model.clone());
    let fired = brain.tick().await.unwrap();
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(
        (fired[0].trigger, fired[0].outcome, fired[0].missed),
        ("missed", "ran", 3)
    );
    assert!(
        run_days(&w, &brain, 1).await.is_empty(),
        "recorded once, not again"
    );
    assert_eq!(brain.history(Job::DailyDigest, 100).await.unwrap().len(), 8);

    // With `skip`: down for two days → one record, no digest.
    brain
        .put_settings(&json!({"missedRuns": "skip"}))
        .await
        .unwrap();
    drop(brain);
    w.clock.advance(Duration::from_secs(2 * 86_400));
    let brain = w.brain(model.clone());
    let fired = brain.tick().await.unwrap();
    assert_eq!(
        fired
            .iter()
            .map(|f| (f.job, f.outcome, f.missed))
            .collect::<Vec<_>>(),
        [(Job::DailyDigest, "skipped", 2)]
    );
    assert!(brain.tick().await.unwrap().is_empty());
    assert_eq!(brain.history(Job::DailyDigest, 100).await.unwrap().len(), 8);
    let schedule = brain.schedule().await.unwrap();
    assert_eq!(schedule["log"][0]["outcome"], "skipped");
    assert_eq!(
        schedule["log"][0]["reason"],
        "missed 2 runs while PortOS was not running (missedRuns: skip)"
    );
    let log = String::from_utf8(w.file("brain/schedule_log.jsonl")).unwrap();
    assert_eq!(log.lines().filter(|l| l.contains("\"skipped\"")).count(), 1);

    // A failing model: the failure is recorded and announced.
    model.set(|_| Err("AI API error: 500 - boom".into()));
    let fired = run_days(&w, &brain, 24).await;
    assert_eq!(
        fired.iter().map(|f| f.outcome).collect::<Vec<_>>(),
        ["failed"]
    );
    assert_eq!(
        w.events.named("brain:digest:failed").last().unwrap()["error"],
        "AI API error: 500 - boom"
    );
}

#[tokio::test]
async fn one_run_of_a_job_at_a_time() {
    let w = World::new("2026-12-02T10:00:00Z");
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let model = Arc::new(Scripted {
        gate: Some(gate.clone()),
        ..Arc::into_inner(Scripted::new(jobs_answer)).unwrap()
    });
    let brain = w.brain(model.clone());
    let first = tokio::spawn({
        let brain = brain.clone();
        async move { brain.run_job(Job::DailyDigest, &Value::Null).await }
    });
    while model.asked.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    let second = brain
        .run_job(Job::DailyDigest, &Value::Null)
        .await
        .unwrap_err();
    assert_eq!(
        second.to_string(),
        "A daily digest is already being written"
    );
    // The other job is not held up.
    gate.add_permits(2);
    brain
        .run_job(Job::WeeklyReview, &Value::Null)
        .await
        .unwrap();
    let digest = first.await.unwrap().unwrap();
    assert_eq!(
        brain.settings().await.unwrap()["lastDailyDigest"],
        digest["generatedAt"]
    );
    assert_eq!(model.asked.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn settings_refuse_what_could_never_work() {
    let w = World::new("2026-12-02T10:00:00Z");
    let brain = w.brain(Scripted::new(jobs_answer));
    let e = brain
        .put_settings(&json!({"dailyDigestTime": "99:99"}))
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("dailyDigestTime must be a time of day"),
        "{e}"
    );
    let e = brain
        .put_settings(&json!({"defaultProvider": "nope"}))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "Provider \"nope\" not found");
    let e = brain
        .put_settings(&json!({"defaultModel": "other"}))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("is not one of"), "{e}");
    assert!(
        !w.dir.path().join("brain/meta.json").exists(),
        "nothing written on a refusal"
    );
    let s = brain
        .put_settings(&json!({"confidenceThreshold": 0.8, "version": 9}))
        .await
        .unwrap();
    assert_eq!(
        (s["confidenceThreshold"].clone(), s["version"].clone()),
        (json!(0.8), json!(1))
    );
}

#[tokio::test]
async fn a_github_link_is_cloned_and_pulled() {
    let w = World::new("2026-12-02T10:00:00Z");
    // "GitHub" is a folder of bare repositories here.
    let hub = tempfile::tempdir().unwrap();
    let work = hub.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("README.md"), "hello\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-qm", "one"]);
    std::fs::create_dir_all(hub.path().join("octo")).unwrap();
    git(
        hub.path(),
        &["clone", "-q", "--bare", "work", "octo/tools.git"],
    );
    let base = format!("file://{}", hub.path().display());
    let brain = Brain::with_github(
        w.store.clone(),
        Scripted::new(jobs_answer),
        w.events.clone(),
        w.clock.clone(),
        &base,
    );

    let link = brain
        .create_link(&json!({"url": "https://github.com/octo/tools"}))
        .await
        .unwrap();
    assert_eq!(
        (
            link["title"].clone(),
            link["linkType"].clone(),
            link["cloneStatus"].clone()
        ),
        (json!("octo/tools"), json!("github"), json!("pending"))
    );
    let id = link["id"].as_str().unwrap().to_string();
    let mut l = link;
    for _ in 0..500 {
        l = brain.link(&id).await.unwrap();
        if l["cloneStatus"] == "cloned" || l["cloneStatus"] == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(l["cloneStatus"], "cloned", "{l}");
    let local = Path::new(l["localPath"].as_str().unwrap());
    assert_eq!(local, w.dir.path().join("repos/octo/tools"));
    assert_eq!(
        std::fs::read_to_string(local.join("README.md")).unwrap(),
        "hello\n"
    );
    let dup = brain
        .create_link(&json!({"url": "https://github.com/octo/tools"}))
        .await
        .unwrap_err();
    assert!(dup.to_string().contains("already exists"));
    let pulled = brain.pull_link(&id).await.unwrap();
    assert_eq!(pulled["success"], true);

    // A repository that does not exist: failed, with git's reason.
    let bad = brain
        .create_link(&json!({"url": "https://github.com/octo/missing"}))
        .await
        .unwrap();
    let bid = bad["id"].as_str().unwrap().to_string();
    for _ in 0..500 {
        if brain.link(&bid).await.unwrap()["cloneStatus"] == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let b = brain.link(&bid).await.unwrap();
    assert!(
        b["cloneError"]
            .as_str()
            .unwrap()
            .starts_with("Git clone failed:"),
        "{b}"
    );
    // A link that is not GitHub is never cloned.
    let plain = brain
        .create_link(&json!({"url": "https://example.com/post", "autoClone": true}))
        .await
        .unwrap();
    assert_eq!(
        (
            plain["cloneStatus"].clone(),
            plain.get("gitHubOwner").is_none()
        ),
        (json!("none"), true)
    );
    let q = portos_brain::links::LinksQuery::parse(None, Some("false"), None, None).unwrap();
    assert_eq!(brain.links(&q).await.unwrap()["total"], 1);
}
