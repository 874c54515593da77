//! `portos_rt::layered` puts a stack of layers around a whole router once:
//! a request through it makes far fewer allocations than through the same
//! layers put on every route with `Router::layer`, whose boxed copies a
//! request clones at every level it passes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::{Next, from_fn};
use axum::response::Response;
use axum::routing::get;
use tower::ServiceExt;

/// The system allocator, counting the blocks asked for while `COUNTING`.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static BLOCKS: AtomicUsize = AtomicUsize::new(0);

#[allow(unsafe_code)]
// SAFETY: every call is passed to `System` unchanged; only a count is kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            BLOCKS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

async fn pass(req: Request, next: Next) -> Response {
    next.run(req).await
}

/// A router of 200 routes, as a service's REST and gRPC paths make one.
fn routes() -> Router {
    (0..200).fold(Router::new(), |r, i| {
        r.route(&format!("/api/thing{i}"), get(|| async { "ok" }))
    })
}

/// Blocks allocated by one GET of `/api/thing7` through `router` (the
/// median of a few, after a first that warms up what is made once).
async fn blocks_per_request(router: Router) -> usize {
    let mut counts = Vec::new();
    for _ in 0..6 {
        let req = Request::get("/api/thing7").body(Body::empty()).unwrap();
        let svc = router.clone();
        BLOCKS.store(0, Ordering::Relaxed);
        COUNTING.store(true, Ordering::Relaxed);
        let resp = svc.oneshot(req).await.unwrap();
        COUNTING.store(false, Ordering::Relaxed);
        assert_eq!(resp.status(), 200);
        counts.push(BLOCKS.load(Ordering::Relaxed));
    }
    counts.sort_unstable();
    counts[counts.len() / 2]
}

#[tokio::test(flavor = "current_thread")]
async fn a_stack_around_the_whole_router_is_passed_once() {
    let per_route = routes()
        .layer(from_fn(pass))
        .layer(from_fn(pass))
        .layer(from_fn(pass))
        .layer(from_fn(pass));
    let once = portos_rt::layered(
        routes(),
        tower::ServiceBuilder::new()
            .layer(from_fn(pass))
            .layer(from_fn(pass))
            .layer(from_fn(pass))
            .layer(from_fn(pass)),
    );
    let (per_route, once) = (
        blocks_per_request(per_route).await,
        blocks_per_request(once).await,
    );
    println!("allocations per request: {per_route} with Router::layer, {once} with layered");
    assert!(
        once * 3 / 2 < per_route,
        "layered made {once} allocations a request, Router::layer {per_route}"
    );
}
