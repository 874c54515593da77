//! The client against a fake JIRA Server/Data Center on 127.0.0.1 following its
//! REST v2 / Agile 1.0 contract: `Authorization: Bearer <PAT>`, 201/204 where
//! JIRA answers them, `{ errorMessages, errors }` bodies, 401 for a bad token,
//! the login page (HTML, 200) for an expired one, 403 with
//! `X-Seraph-LoginReason: AUTHENTICATION_DENIED` for a locked account, 429 with
//! `Retry-After`, 5xx, a call that never answers — and a TLS instance whose
//! certificate comes from a private CA.

use std::time::Duration;

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use portos_jira::{CustomFields, Jira, JiraError, NewIssue};
use portos_test_support::{Fake, Incoming, PrivateCa, serve, serve_tls};
use serde_json::{Value, json};

const PAT: &str = "NjE0MzkxODk0NzI2OmJ0aWxlZ29vZHRva2Vu";
const EXPIRED: &str = "ZXhwaXJlZHRva2VuZXhwaXJlZHRva2Vu";
const LOCKED: &str = "bG9ja2VkdG9rZW5sb2NrZWR0b2tlbg==";
const THROTTLED: &str = "dGhyb3R0bGVkdGhyb3R0bGVkdGhy";

async fn handle(r: Incoming) -> Response {
    let errors = |status: StatusCode, messages: Value, errors: Value| {
        (
            status,
            Json(json!({ "errorMessages": messages, "errors": errors })),
        )
            .into_response()
    };
    match r.bearer() {
        Some(PAT) => {}
        Some(EXPIRED) => {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html")],
                "<!DOCTYPE html><html><title>Log in - JIRA</title></html>",
            )
                .into_response();
        }
        Some(LOCKED) => {
            return (
                StatusCode::FORBIDDEN,
                [("X-Seraph-LoginReason", "AUTHENTICATION_DENIED")],
                Json(json!({ "errorMessages": ["CAPTCHA_CHALLENGE"], "errors": {} })),
            )
                .into_response();
        }
        Some(THROTTLED) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    ("Retry-After", "30"),
                    ("X-RateLimit-Limit", "100"),
                    ("X-RateLimit-Remaining", "0"),
                ],
                Json(json!({ "errorMessages": ["Rate limit exceeded."], "errors": {} })),
            )
                .into_response();
        }
        _ => {
            return (
                StatusCode::UNAUTHORIZED,
                [("X-Seraph-LoginReason", "AUTHENTICATED_FAILED")],
                Json(json!({ "errorMessages": ["You are not authenticated. Authentication required to perform this operation."], "errors": {} })),
            )
                .into_response();
        }
    }
    let m = r.method.as_str();
    let p = r.path.trim_start_matches("/jira");
    match (m, p) {
        ("GET", "/rest/api/2/myself") => Json(json!({ "name": "ada", "displayName": "Ada Lovelace", "emailAddress": "ada@example.com" })).into_response(),
        ("GET", "/rest/api/2/project") => Json(json!([{ "id": "10000", "key": "PORT", "name": "PortOS", "projectTypeKey": "software" }])).into_response(),
        ("GET", "/rest/api/2/field") => Json(json!([{ "id": "customfield_10200", "name": "Story Points", "custom": true }])).into_response(),
        ("POST", "/rest/api/2/issue") => {
            if r.body["fields"]["summary"].as_str().unwrap_or_default().is_empty() {
                return errors(StatusCode::BAD_REQUEST, json!([]), json!({ "summary": "You must specify a summary of the issue." }));
            }
            (StatusCode::CREATED, Json(json!({ "id": "10001", "key": "PORT-1", "self": "http://jira/rest/api/2/issue/10001" }))).into_response()
        }
        ("GET", "/rest/api/2/issue/BROKEN-1") => errors(StatusCode::INTERNAL_SERVER_ERROR, json!(["Internal server error"]), json!({})),
        ("GET", "/rest/api/2/issue/SLOW-1") => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Json(json!({})).into_response()
        }
        ("GET", "/rest/api/2/issue/PORT-404") => errors(StatusCode::NOT_FOUND, json!(["Issue Does Not Exist"]), json!({})),
        ("GET", "/rest/api/2/issue/PORT-1") => Json(json!({ "key": "PORT-1", "fields": { "summary": "Ship it" } })).into_response(),
        ("PUT", "/rest/api/2/issue/PORT-1") => StatusCode::NO_CONTENT.into_response(),
        ("POST", "/rest/api/2/issue/PORT-1/comment") => (StatusCode::CREATED, Json(json!({ "id": "777", "body": r.body["body"] }))).into_response(),
        ("GET", "/rest/api/2/issue/PORT-1/transitions") => Json(json!({ "transitions": [
            { "id": "11", "name": "Start Progress", "to": { "name": "In Progress" } },
            { "id": "31", "name": "Done", "to": { "name": "Done" } } ] })).into_response(),
        ("POST", "/rest/api/2/issue/PORT-1/transitions") => StatusCode::NO_CONTENT.into_response(),
        ("DELETE", "/rest/api/2/issue/PORT-1") => StatusCode::NO_CONTENT.into_response(),
        ("GET", "/rest/api/2/search") => Json(json!({ "total": 1, "issues": [
            { "key": "PORT-7", "fields": { "summary": "Sprint work", "status": { "name": "In Progress", "statusCategory": { "name": "In Progress" } },
              "priority": { "name": "High" }, "issuetype": { "name": "Story" }, "updated": "2026-11-20T10:00:00.000+0000", "customfield_10200": 5 } } ] })).into_response(),
        ("GET", "/rest/agile/1.0/board/42/sprint") => Json(json!({ "maxResults": 50, "isLast": true, "values": [
            { "id": 9, "name": "Sprint 9", "state": "active", "startDate": "2026-11-18T09:00:00.000Z", "endDate": "2026-12-02T09:00:00.000Z", "originBoardId": 42 } ] })).into_response(),
        _ => errors(StatusCode::NOT_FOUND, json!(["no such resource"]), json!({})),
    }
}

fn fields() -> CustomFields {
    CustomFields {
        story_points: "customfield_10200".into(),
        ..CustomFields::default()
    }
}

fn client(fake: &Fake, token: &str) -> Jira {
    Jira::new(
        &format!("http://{}/jira", fake.addr),
        token,
        Duration::from_secs(1),
        None,
        fields(),
    )
    .unwrap()
}

#[tokio::test]
async fn every_call_reaches_its_documented_endpoint() {
    let fake = serve(handle).await;
    let j = client(&fake, PAT);

    let me = j.myself().await.unwrap();
    assert_eq!(me.display_name.as_deref(), Some("Ada Lovelace"));
    let projects = j.projects().await.unwrap();
    assert_eq!(projects[0].key, "PORT");
    j.fields().await.unwrap();
    let created = j
        .create_issue(&NewIssue {
            project_key: "PORT".into(),
            summary: "Ship it".into(),
            assignee: Some("ada".into()),
            story_points: Some(3.0),
            epic_key: Some("PORT-100".into()),
            sprint: Some(json!(9)),
            labels: vec!["portos".into()],
            ..NewIssue::default()
        })
        .await
        .unwrap();
    assert_eq!(created.key, "PORT-1");
    assert_eq!(
        created.url,
        format!("http://{}/jira/browse/PORT-1", fake.addr)
    );
    assert_eq!(
        j.issue("PORT-1", Some("summary")).await.unwrap()["fields"]["summary"],
        "Ship it"
    );
    j.update_issue("PORT-1", json!({ "summary": "Ship it now" }))
        .await
        .unwrap();
    j.comment("PORT-1", "Looks good").await.unwrap();
    let t = j.transitions("PORT-1").await.unwrap();
    assert_eq!(
        (t[0].id.as_str(), t[0].to.as_deref()),
        ("11", Some("In Progress"))
    );
    j.transition("PORT-1", "31").await.unwrap();
    j.delete_issue("PORT-1").await.unwrap();
    let mine = j
        .my_sprint_issues(r#"PORT" OR project = "HR"#)
        .await
        .unwrap();
    assert_eq!(
        mine[0].story_points,
        json!(5),
        "read from the instance's own field id"
    );
    assert_eq!(mine[0].status_category.as_deref(), Some("In Progress"));
    let sprints = j.active_sprints("42").await.unwrap();
    assert_eq!((sprints[0].id, sprints[0].state.as_str()), (9, "active"));
    let epics = j.epics("PORT", "login").await.unwrap();
    assert_eq!(epics[0].key, "PORT-7");

    let lines = fake.seen.lines("/jira");
    let expected = [
        "GET /rest/api/2/myself",
        "GET /rest/api/2/project",
        "GET /rest/api/2/field",
        r#"POST /rest/api/2/issue {"fields":{"project":{"key":"PORT"},"summary":"Ship it","description":"Ship it","issuetype":{"name":"Task"},"assignee":{"name":"ada"},"customfield_10200":3.0,"customfield_10101":"PORT-100","customfield_10105":9,"labels":["portos"]}}"#,
        "GET /rest/api/2/issue/PORT-1?fields=summary",
        r#"PUT /rest/api/2/issue/PORT-1 {"fields":{"summary":"Ship it now"}}"#,
        r#"POST /rest/api/2/issue/PORT-1/comment {"body":"Looks good"}"#,
        "GET /rest/api/2/issue/PORT-1/transitions",
        r#"POST /rest/api/2/issue/PORT-1/transitions {"transition":{"id":"31"}}"#,
        "DELETE /rest/api/2/issue/PORT-1",
        // The project key stays a JQL value (the original let it become JQL).
        "GET /rest/api/2/search?jql=project+%3D+%22PORT%5C%22+OR+project+%3D+%5C%22HR%22+AND+assignee+%3D+currentUser%28%29+AND+sprint+in+openSprints%28%29+ORDER+BY+priority+DESC%2C+updated+DESC&fields=summary%2Cstatus%2Cpriority%2Cissuetype%2Cassignee%2Cupdated%2Ccustomfield_10200&maxResults=50",
        "GET /rest/agile/1.0/board/42/sprint?state=active",
        "GET /rest/api/2/search?jql=project+%3D+%22PORT%22+AND+issuetype+%3D+Epic+AND+summary+%7E+%22login%22+ORDER+BY+updated+DESC&fields=summary%2Cstatus&maxResults=10",
    ];
    assert_eq!(lines, expected);
    for r in fake.seen.requests() {
        assert_eq!(r.bearer(), Some(PAT), "{}", r.line(""));
        assert_eq!(r.headers["accept"], "application/json");
    }
}

#[tokio::test]
async fn failures_are_told_apart_and_never_carry_the_token() {
    let fake = serve(handle).await;
    let mut all = Vec::new();

    let e = client(&fake, "not-a-token").myself().await.unwrap_err();
    assert!(
        matches!(&e, JiraError::Auth(m) if m.contains("not authenticated")),
        "{e:?}"
    );
    all.push(e);

    let e = client(&fake, EXPIRED).myself().await.unwrap_err();
    assert!(
        matches!(&e, JiraError::Auth(m) if m.contains("Regenerate your PAT")),
        "{e:?}"
    );
    assert_eq!(e.http_status(), 401);
    all.push(e);

    let e = client(&fake, LOCKED).myself().await.unwrap_err();
    assert!(
        matches!(&e, JiraError::Locked(m) if m == "CAPTCHA_CHALLENGE"),
        "{e:?}"
    );
    all.push(e);

    let e = client(&fake, THROTTLED).projects().await.unwrap_err();
    assert!(
        matches!(&e, JiraError::RateLimited { retry_after: Some(d), message } if *d == Duration::from_secs(30) && message == "Rate limit exceeded."),
        "{e:?}"
    );
    all.push(e);

    let j = client(&fake, PAT);
    let e = j.issue("BROKEN-1", None).await.unwrap_err();
    assert!(
        matches!(&e, JiraError::Remote { status: 500, message } if message == "Internal server error"),
        "{e:?}"
    );
    all.push(e);
    let e = j.issue("PORT-404", None).await.unwrap_err();
    assert!(
        matches!(&e, JiraError::Remote { status: 404, message } if message == "Issue Does Not Exist"),
        "{e:?}"
    );
    all.push(e);
    let e = j
        .create_issue(&NewIssue {
            project_key: "PORT".into(),
            ..NewIssue::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&e, JiraError::Remote { status: 400, message } if message == "summary: You must specify a summary of the issue."),
        "{e:?}"
    );
    all.push(e);
    let e = j.issue("SLOW-1", None).await.unwrap_err();
    assert!(matches!(e, JiraError::Timeout(_)), "{e:?}");
    all.push(e);

    let dead = Jira::new(
        "http://127.0.0.1:9",
        PAT,
        Duration::from_secs(1),
        None,
        fields(),
    )
    .unwrap();
    let e = dead.myself().await.unwrap_err();
    assert!(matches!(e, JiraError::Network(_)), "{e:?}");
    all.push(e);

    for e in &all {
        for token in [PAT, EXPIRED, LOCKED, THROTTLED] {
            assert!(!format!("{e} {e:?}").contains(token), "{e:?}");
        }
    }
    assert!(!format!("{j:?}").contains(PAT));
}

#[tokio::test]
async fn a_private_ca_is_trusted_when_given_and_only_then() {
    let ca = PrivateCa::new();
    let fake = serve_tls(&ca, handle).await;
    let base = format!("https://127.0.0.1:{}", fake.addr.port());

    let j = Jira::new(
        &base,
        PAT,
        Duration::from_secs(5),
        Some(ca.ca_pem.as_bytes()),
        fields(),
    )
    .unwrap();
    assert_eq!(j.myself().await.unwrap().name.as_deref(), Some("ada"));
    assert_eq!(fake.seen.hits(), 1);

    // Without the CA, the certificate is refused and nothing is sent.
    let other = PrivateCa::new();
    for ca_pem in [None, Some(other.ca_pem.as_bytes())] {
        let j = Jira::new(&base, PAT, Duration::from_secs(5), ca_pem, fields()).unwrap();
        let e = j.myself().await.unwrap_err();
        let JiraError::Network(m) = &e else {
            panic!("a TLS refusal, got {e:?}")
        };
        assert!(m.to_lowercase().contains("certificate"), "{m}");
    }
    assert_eq!(
        fake.seen.hits(),
        1,
        "no request went to an untrusted server"
    );

    let e = Jira::new(
        &base,
        PAT,
        Duration::from_secs(5),
        Some(b"not a pem"),
        fields(),
    )
    .unwrap_err();
    assert!(matches!(e, JiraError::Config(_)), "{e:?}");
}
