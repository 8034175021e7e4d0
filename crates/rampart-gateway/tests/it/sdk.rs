//! The official `openai` Python SDK as a client. `scripts/test` creates a venv with it
//! and sets `RAMPART_SDK_PYTHON`; without it the test says so and skips.

use std::path::Path;
use std::process::Command;

use rampart_test::Harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdk_works_through_rampart() {
    let Ok(python) = std::env::var("RAMPART_SDK_PYTHON") else {
        eprintln!("RAMPART_SDK_PYTHON is not set (scripts/test sets it up): skipping the OpenAI SDK test");
        return;
    };
    let h = Harness::start().await;
    let key = h.any_key().await;
    let (_, narrow) = h.key(&["gpt-4o-mini"]).await;
    let single = rampart_store::KeySpec {
        limits: rampart_store::KeyLimits { max_concurrency: Some(1), ..Default::default() },
        ..rampart_store::KeySpec::new("single", rampart_store::ModelScope::all())
    };
    let single = h.store.create_scoped_key(&h.hasher, &single).await.unwrap().1.key;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/openai_sdk.py");
    let base_url = format!("http://{}/v1", h.addr);
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .env("OPENAI_BASE_URL", base_url)
            .env("RAMPART_KEY", key)
            .env("RAMPART_NARROW_KEY", narrow)
            .env("RAMPART_SINGLE_KEY", single)
            .env_remove("OPENAI_API_KEY")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}");
    assert!(output.status.success(), "SDK test failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    // Only the rate-limit test retries, and after a 429 with `retry-after-ms: 1000` it
    // needs one retry; the SDK's own backoff (0.5 s, then 1 s) would have needed two.
    let retried: Vec<String> = h
        .mock
        .requests()
        .iter()
        .filter_map(|r| r.header("x-stainless-retry-count").map(str::to_owned))
        .filter(|count| count != "0")
        .collect();
    assert_eq!(retried, ["1"], "the SDK's retries as the provider saw them");
}
