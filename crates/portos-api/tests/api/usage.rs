//! `/api/usage` through the real server: the original's counters, its
//! summary's shape field by field, checked input, and who may call.

use super::*;

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn usage_counts_as_the_original_and_checks_its_input() {
    let s = start().await;
    assert_eq!(s.delete("/api/usage").await.1, json!({ "success": true }));
    for (p, name) in [("claude", "Claude"), ("llama", "Llama"), ("llama", "Llama")] {
        let (st, body) = s
            .post_json(
                "/api/usage/session",
                &json!({ "providerId": p, "providerName": name, "model": "m1" }),
            )
            .await;
        assert_eq!(st, 200, "{body}");
    }
    assert_eq!(
        s.post_json("/api/usage/session", &json!({ "providerId": "llama" }))
            .await
            .1,
        json!({ "sessionNumber": 4 })
    );
    let (st, _) = s
        .post_json(
            "/api/usage/messages",
            &json!({ "providerId": "llama", "model": "m1", "messageCount": 2, "tokenCount": 500 }),
        )
        .await;
    assert_eq!(st, 200);
    s.post_json("/api/usage/tokens", &json!({ "inputTokens": 1_000_000 }))
        .await;

    let (st, u) = s.get("/api/usage").await;
    assert_eq!(st, 200);
    assert_eq!(
        keys(&u),
        [
            "currentStreak",
            "estimatedCost",
            "hourlyActivity",
            "last7Days",
            "lastUpdated",
            "longestStreak",
            "topModels",
            "topProviders",
            "totalMessages",
            "totalSessions",
            "totalTokens",
            "totalToolCalls"
        ]
    );
    assert_eq!(
        (u["totalSessions"].as_u64(), u["totalMessages"].as_u64()),
        (Some(4), Some(2))
    );
    assert_eq!(
        u["totalTokens"],
        json!({ "input": 1_000_000, "output": 500 })
    );
    assert_eq!(u["estimatedCost"], 3.01);
    assert_eq!(
        (u["currentStreak"].as_u64(), u["longestStreak"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        keys(&u["last7Days"][6]),
        ["date", "label", "messages", "sessions", "tokens"]
    );
    assert_eq!(u["last7Days"][6]["sessions"], 4);
    assert_eq!(
        u["hourlyActivity"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_u64)
            .sum::<u64>(),
        4
    );
    assert_eq!(
        u["topProviders"][0],
        json!({ "id": "llama", "name": "Llama", "sessions": 3, "messages": 2, "tokens": 500 })
    );
    assert_eq!(u["topProviders"][1]["id"], "claude");
    assert_eq!(
        u["topModels"][0],
        json!({ "model": "m1", "sessions": 3, "messages": 2, "tokens": 500 })
    );
    let daily = s.get("/api/usage/daily?days=3").await.1;
    assert_eq!(daily.as_array().unwrap().len(), 3);
    assert_eq!(
        daily[2]["byProvider"]["llama"],
        json!({ "sessions": 3, "messages": 2, "tokens": 500 }),
        "{daily}"
    );
    assert_eq!(daily[2]["byProvider"]["claude"]["sessions"], 1);
    assert_eq!(s.get("/api/usage/daily?days=0").await.0, 400);
    let raw = s.get("/api/usage/raw").await.1;
    assert_eq!(raw["byProvider"]["claude"]["sessions"], 1);

    for (path, body) in [
        ("/api/usage/messages", json!({ "providerId": "llama" })),
        (
            "/api/usage/messages",
            json!({ "providerId": "llama", "messageCount": -1 }),
        ),
        ("/api/usage/tokens", json!({ "inputTokens": "many" })),
        ("/api/usage/session", json!({ "model": "m" })),
    ] {
        let (st, e) = s.post_json(path, &body).await;
        assert_eq!(st, 400, "{path} {body}: {e}");
        assert_error_shape(&e, "VALIDATION_ERROR");
    }
    assert_eq!(
        s.get("/api/usage").await.1["totalMessages"],
        2,
        "nothing counted by a refusal"
    );
    s.delete("/api/usage").await;
    assert_eq!(s.get("/api/usage").await.1["totalSessions"], 0);
}

#[tokio::test]
async fn usage_needs_the_owner_and_our_own_origin() {
    let s = start().await;
    let anon = reqwest::Client::builder().no_proxy().build().unwrap();
    assert_eq!(
        anon.get(format!("{}/api/usage", s.base))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let (status, _) = from_another_site(&s, reqwest::Method::DELETE, "/api/usage", None).await;
    assert_eq!(status, 403);
}

/// `/api/system/health/details` has the original's fields, part by part.
#[tokio::test]
async fn system_health_has_the_originals_shape() {
    let s = start().await;
    let (st, h) = s.get("/api/system/health").await;
    assert_eq!(st, 200);
    assert_eq!(
        keys(&h),
        [
            "hostname",
            "instanceId",
            "status",
            "timestamp",
            "uptime",
            "version"
        ]
    );
    let (st, d) = s.get("/api/system/health/details").await;
    assert_eq!(st, 200);
    assert_eq!(
        keys(&d),
        [
            "apps",
            "cos",
            "hostname",
            "instanceId",
            "overallHealth",
            "processes",
            "system",
            "timestamp",
            "warnings"
        ]
    );
    assert_eq!(
        keys(&d["system"]),
        ["cpu", "memory", "uptime", "uptimeFormatted"]
    );
    assert_eq!(
        keys(&d["system"]["memory"]),
        [
            "free",
            "freeFormatted",
            "total",
            "totalFormatted",
            "usagePercent",
            "used",
            "usedFormatted"
        ]
    );
    assert_eq!(
        keys(&d["system"]["cpu"]),
        ["cores", "loadAvg1m", "usagePercent"]
    );
    assert_eq!(
        keys(&d["processes"]),
        [
            "errored",
            "online",
            "stopped",
            "total",
            "totalCpu",
            "totalMemory",
            "totalRestarts"
        ]
    );
    assert_eq!(
        keys(&d["apps"]),
        ["notStarted", "online", "stopped", "total"]
    );
    assert!(d["system"]["memory"]["total"].as_u64().unwrap() > 0);
    let anon = reqwest::Client::builder().no_proxy().build().unwrap();
    let r = anon
        .get(format!("{}/api/system/health/details", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
