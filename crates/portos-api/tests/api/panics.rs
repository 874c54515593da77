//! A handler that panics gets an answer, not a dropped connection: the REST
//! layers turn the panic into a 500 in the usual error shape, keep its message
//! out of the answer, and the server goes on serving.

use super::*;

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_server_goes_on() {
    let (data, access, _token) = fixture_data();
    let state = AppState::new(
        data.path().to_path_buf(),
        HostPolicy::new(Vec::new()),
        access,
    );
    let routes = axum::Router::new()
        .route(
            "/api/boom",
            axum::routing::get(|| async {
                if std::hint::black_box(true) {
                    panic!("could not read /home/owner/.ssh/id_ed25519");
                }
                "unreachable"
            }),
        )
        .route("/api/fine", axum::routing::get(|| async { "fine" }));
    let app = portos_api::with_rest_layers(&state, routes);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::builder().no_proxy().build().unwrap();

    let r = http
        .get(format!("http://{addr}/api/boom"))
        .send()
        .await
        .expect("an answer, not a dropped connection");
    assert_eq!(r.status(), 500);
    let body: Value = r.json().await.unwrap();
    assert_error_shape(&body, "INTERNAL_ERROR");
    assert!(!body.to_string().contains("id_ed25519"), "{body}");

    let r = http
        .get(format!("http://{addr}/api/fine"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "fine");
}
