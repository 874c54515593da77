//! Who may call the api server: the owner's credential on everything but the
//! probes, and the same-origin rule on every change and every socket.

use super::*;

use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn plain() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

#[tokio::test]
async fn nothing_answers_without_the_owners_credential() {
    let s = start().await;
    let anon = plain();
    let r = anon
        .get(format!("{}/api/settings", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_error_shape(&body, "UNAUTHENTICATED");
    assert!(!body.to_string().contains(&s.token));
    // A wrong bearer is no better, a cookie that is no session neither.
    for (k, v) in [
        ("authorization", "Bearer not-the-token"),
        ("cookie", "portos_session=made-up"),
    ] {
        let r = anon
            .get(format!("{}/api/settings", s.base))
            .header(k, v)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{k}");
    }
    // The probe stays open (served by the service frame, not by this router:
    // it passes the check); the owner token opens the rest.
    let r = anon
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 401);
    assert_eq!(s.get("/api/settings").await.0, 200);
    // The live socket, too.
    assert!(
        tokio_tungstenite::connect_async(format!("ws://{}/ws", s.addr))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_session_works_from_its_own_origin_only() {
    let s = start().await;
    let owner = portos_auth::Owner::new(s.data.path());
    let id = owner.open_session("test").unwrap();
    let cookie = format!("portos_session={id}");
    let own = format!("http://{}", s.addr);
    let anon = plain();
    let r = anon
        .get(format!("{}/api/settings", s.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a read with the session");
    let post = |origin: Option<&str>, site: Option<&str>| {
        let mut req = anon
            .put(format!("{}/api/settings", s.base))
            .header("cookie", &cookie)
            .header("content-type", "application/json")
            .body(r#"{"testMarker": "set-through-the-session"}"#);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(f) = site {
            req = req.header("sec-fetch-site", f);
        }
        req.send()
    };
    for (origin, site) in [
        (Some("http://evil.example"), Some("cross-site")),
        (Some("http://localhost:9999"), Some("same-site")),
        (None, Some("same-site")),
        (None, None),
    ] {
        let r = post(origin, site).await.unwrap();
        assert_eq!(r.status(), 403, "{origin:?} {site:?}");
        let body: Value = r.json().await.unwrap();
        assert_error_shape(&body, "CROSS_ORIGIN");
    }
    let settings = std::fs::read_to_string(s.data.path().join("settings.json")).unwrap();
    assert!(
        !settings.contains("set-through-the-session"),
        "nothing changed"
    );
    assert_eq!(post(Some(&own), None).await.unwrap().status(), 200);
    assert_eq!(post(None, Some("same-origin")).await.unwrap().status(), 200);

    // A socket from another origin with the session: refused; from its own: opened.
    let ws = |origin: &str| {
        let mut req = format!("ws://{}/ws", s.addr).into_client_request().unwrap();
        req.headers_mut().insert("cookie", cookie.parse().unwrap());
        req.headers_mut().insert("origin", origin.parse().unwrap());
        tokio_tungstenite::connect_async(req)
    };
    assert!(ws("http://localhost:9999").await.is_err());
    assert!(ws(&own).await.is_ok());

    // Rotating the token ends the session.
    owner.rotate().unwrap();
    let r = anon
        .get(format!("{}/api/settings", s.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn an_address_that_keeps_failing_is_slowed_down() {
    let s = start().await;
    let anon = plain();
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let r = anon
            .get(format!("{}/api/settings", s.base))
            .bearer_auth("guess")
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert!(statuses[..5].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // Even the right token waits its turn from that address.
    let r = anon
        .get(format!("{}/api/settings", s.base))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
}
