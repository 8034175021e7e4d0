//! What one key lookup costs, which is why the gateway caches keys under the
//! key-change epoch. Run pinned to one core, as the load benchmark pins rampart:
//!
//! ```sh
//! cargo build --release -p rampart-store --example lookup_cost
//! taskset -c 0 target/release/examples/lookup_cost sqlite:///tmp/lookup.db
//! taskset -c 0 target/release/examples/lookup_cost postgres://postgres@127.0.0.1/postgres
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

use rampart_store::{KeyHasher, ModelScope, PresentedKey, Store};

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let url = std::env::args().nth(1).expect("usage: lookup_cost STORE_URL");
    let store = Store::connect(&url).await.unwrap();
    let hasher = KeyHasher::new(b"lookup-cost-secret-0123456789abcdef");
    let (_, key) = store.create_key(&hasher, "lookup-cost", &ModelScope::all(), None).await.unwrap();
    let presented = PresentedKey::parse(&key.key).unwrap();
    let epoch = store.epoch_reader();
    let rounds = 20_000;
    for _ in 0..2_000 {
        store.find_key(&hasher, presented).await.unwrap();
    }
    let started = Instant::now();
    for _ in 0..rounds {
        store.find_key(&hasher, presented).await.unwrap();
    }
    let lookup = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(hasher.hash(presented));
    }
    let hmac = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
    println!("{}: store lookup {lookup:.1} us, HMAC {hmac:.2} us", store.backend_name());
    if let Some(epoch) = epoch {
        let started = Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(epoch.read());
        }
        println!("epoch read {:.2} us", started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds));
    }
}
