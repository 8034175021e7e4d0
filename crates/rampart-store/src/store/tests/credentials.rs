//! Sealed provider credentials: upserts with versions, listings without the sealed text.

use super::*;

const SEALED_ONE: &str = "v1.0123456789abcdef.AAAAsealed-one-ciphertext";
const SEALED_TWO: &str = "v1.fedcba9876543210.BBBBsealed-two-ciphertext";

async fn provider_credentials(store: &Store) {
    let first = store.set_provider_credential("openai", SEALED_ONE, "0123456789abcdef", Some("alice")).await.unwrap();
    assert_eq!((first.provider.as_str(), first.version, first.kek_id.as_str()), ("openai", 1, "0123456789abcdef"));
    assert_eq!(first.updated_by.as_deref(), Some("alice"));
    let second = store.set_provider_credential("openai", SEALED_TWO, "fedcba9876543210", None).await.unwrap();
    assert_eq!((second.version, second.kek_id.as_str(), second.updated_by.as_deref()), (2, "fedcba9876543210", None));
    store.set_provider_credential("anthropic", SEALED_ONE, "0123456789abcdef", Some("bob")).await.unwrap();

    let sealed = store.get_sealed_credential("openai").await.unwrap().unwrap();
    assert_eq!(sealed.sealed, SEALED_TWO);
    assert_eq!(sealed.info, second);
    assert!(!format!("{sealed:?}").contains("sealed-two"), "{sealed:?}");
    assert!(store.get_sealed_credential("azure").await.unwrap().is_none());

    // Listings carry metadata only: the type has no field for the sealed text, and
    // nothing of it shows in their Debug output either.
    let listed = store.list_provider_credentials().await.unwrap();
    let names: Vec<_> = listed.iter().map(|c| c.provider.as_str()).collect();
    assert_eq!(names, ["anthropic", "openai"]);
    let debug = format!("{listed:?}");
    assert!(!debug.contains("ciphertext"), "{debug}");
    assert_eq!(listed[1], second);

    for (provider, sealed, kek) in [
        ("", SEALED_ONE, "k"),
        ("nul\0", SEALED_ONE, "k"),
        ("openai", "", "k"),
        ("openai", "line\nbreak", "k"),
        ("openai", SEALED_ONE, ""),
    ] {
        let refused = store.set_provider_credential(provider, sealed, kek, None).await;
        assert!(matches!(refused, Err(StoreError::Invalid(_))), "{provider:?} {kek:?}: {refused:?}");
    }
    let huge = "s".repeat(validate::MAX_SEALED_BYTES + 1);
    assert!(matches!(store.set_provider_credential("openai", &huge, "k", None).await, Err(StoreError::Invalid(_))));
    assert_eq!(store.get_sealed_credential("openai").await.unwrap().unwrap().info.version, 2);

    assert!(store.delete_provider_credential("openai").await.unwrap());
    assert!(!store.delete_provider_credential("openai").await.unwrap());
    assert!(store.get_sealed_credential("openai").await.unwrap().is_none());
    // Setting it again starts a new history.
    assert_eq!(store.set_provider_credential("openai", SEALED_ONE, "k", None).await.unwrap().version, 1);
    assert_eq!(store.list_provider_credentials().await.unwrap().len(), 2);
}

/// Concurrent upserts each count: versions are never reused.
async fn concurrent_credential_updates_count_every_version(store: &Store) {
    let writes = (0..10).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store.set_provider_credential("openai", &format!("v1.k.sealed-{i}"), "k", None).await.unwrap().version
        })
    });
    let mut versions: Vec<i64> = futures_util::future::join_all(writes).await.into_iter().map(Result::unwrap).collect();
    versions.sort_unstable();
    assert_eq!(versions, (1..=10).collect::<Vec<_>>());
}

on_both_backends!(provider_credentials, concurrent_credential_updates_count_every_version);
