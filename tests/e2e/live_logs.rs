//! The api server under the real supervisor: a WebSocket client follows a
//! process's log through `logs:subscribe`, as the original's UI does.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use portos_e2e::{Stack, free_port, sh_process};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

#[test]
fn a_websocket_client_follows_a_process_log() {
    let port = free_port();
    let config = format!(
        "[[process]]\nname = \"portos-server\"\ncommand = \"portos-api\"\nenv = {{ HOST = \"127.0.0.1\", PORT = \"{port}\" }}\n\
         ports = {{ api = {port} }}\nhealth = {{ check = \"grpc\", interval = \"200ms\" }}\n\n{}",
        sh_process(
            "ticker",
            "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.05; done",
            ""
        )
    );
    let stack = Stack::new(&config);
    stack.ok(&["up", "-d"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut ws = crate::http::Api::new(port, &stack.owner_token()).ws().await;

        ws.send(Message::Text(
            r#"{"event":"logs:subscribe","data":{"processName":"../etc"}}"#.into(),
        ))
        .await
        .unwrap();
        let e = read(&mut ws).await;
        assert_eq!(e["event"], "logs:subscribe:error", "{e}");
        assert_eq!(e["data"]["details"][0]["path"], "processName");

        ws.send(Message::Text(
            r#"{"event":"logs:subscribe","data":{"processName":"ticker","lines":3}}"#.into(),
        ))
        .await
        .unwrap();
        let e = read(&mut ws).await;
        assert_eq!(e["event"], "logs:subscribed", "{e}");
        let mut ticks = Vec::new();
        while ticks.len() < 10 {
            let e = read(&mut ws).await;
            assert_eq!(e["event"], "logs:line", "{e}");
            assert_eq!(e["data"]["processName"], "ticker");
            assert_eq!(e["data"]["type"], "stdout");
            let n: u64 = e["data"]["line"]
                .as_str()
                .unwrap()
                .strip_prefix("tick ")
                .unwrap()
                .parse()
                .unwrap();
            ticks.push(n);
        }
        assert!(
            ticks.windows(2).all(|w| w[1] == w[0] + 1),
            "in order, none missing: {ticks:?}"
        );

        ws.send(Message::Text(r#"{"event":"logs:unsubscribe"}"#.into()))
            .await
            .unwrap();
        loop {
            let e = read(&mut ws).await;
            if e["event"] == "logs:unsubscribed" {
                break;
            }
        }
        // Nothing more arrives.
        assert!(
            tokio::time::timeout(Duration::from_millis(400), ws.next())
                .await
                .is_err()
        );
    });
}

async fn read(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(t) = m {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}
