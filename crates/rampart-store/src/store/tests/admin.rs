//! Admin users, lockout arithmetic, the TOTP replay guard, admin tokens and sessions.

use super::*;
use crate::keys::TokenKind;
use crate::store::admin::{AdminRole, AdminUser};

const PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA";
const SEALED_TOTP: &str = "v1.0123456789abcdef.c2VhbGVkLXRvdHAtc2VjcmV0";

async fn user(store: &Store, name: &str) -> AdminUser {
    store.create_admin_user(name, AdminRole::KeyManager, PHC, Some(SEALED_TOTP)).await.unwrap()
}

async fn admin_users(store: &Store) {
    let alice = user(store, "Alice@Example.com").await;
    assert!(validate::is_id("adm_", &alice.id));
    assert_eq!(alice.username, "alice@example.com");
    assert_eq!((alice.failed_attempts, alice.locked_until, alice.totp_last_step), (0, None, None));
    // Usernames are case-insensitive.
    let duplicate = store.create_admin_user("ALICE@example.com", AdminRole::Viewer, PHC, None).await;
    assert!(matches!(duplicate, Err(StoreError::Conflict(_))), "{duplicate:?}");
    let found = store.get_admin_user("alice@EXAMPLE.com").await.unwrap().unwrap();
    assert_eq!(found.id, alice.id);
    assert_eq!(found.role, AdminRole::KeyManager);
    assert_eq!(found.password_hash, PHC);
    assert_eq!(found.totp_secret.as_deref(), Some(SEALED_TOTP));
    assert_eq!(store.get_admin_user_by_id(&alice.id).await.unwrap().unwrap().username, alice.username);
    assert!(store.get_admin_user("nobody").await.unwrap().is_none());

    // Secrets never show in Debug.
    let debug = format!("{found:?}");
    assert!(!debug.contains("argon2") && !debug.contains(SEALED_TOTP), "{debug}");

    for bad in ["", "has space", "semi;colon", "' OR '1'='1", "nul\0", &"u".repeat(65)] {
        let refused = store.create_admin_user(bad, AdminRole::Admin, PHC, None).await;
        assert!(matches!(refused, Err(StoreError::Invalid(_))), "{bad:?}: {refused:?}");
    }
    for bad_hash in ["", "plaintext-password", "$argon2id$ with space", "$argon2id$\0"] {
        let refused = store.create_admin_user("bob", AdminRole::Admin, bad_hash, None).await;
        assert!(matches!(refused, Err(StoreError::Invalid(_))), "{bad_hash:?}");
    }
    assert!(matches!(
        store.create_admin_user("bob", AdminRole::Admin, PHC, Some("sealed\nwith newline")).await,
        Err(StoreError::Invalid(_))
    ));

    let bob = store.create_admin_user("bob", AdminRole::Viewer, PHC, None).await.unwrap();
    let names: Vec<_> = store.list_admin_users().await.unwrap().into_iter().map(|u| u.username).collect();
    assert_eq!(names, ["alice@example.com", "bob"]);

    assert!(store.set_admin_role(&bob.id, AdminRole::Auditor).await.unwrap());
    assert_eq!(store.get_admin_user("bob").await.unwrap().unwrap().role, AdminRole::Auditor);
    assert!(!store.set_admin_role("adm_0000000000000000", AdminRole::Admin).await.unwrap());
    assert!(store.set_admin_password_hash(&bob.id, "$argon2id$new").await.unwrap());
    assert_eq!(store.get_admin_user("bob").await.unwrap().unwrap().password_hash, "$argon2id$new");
    assert!(store.set_admin_totp_secret(&bob.id, Some(SEALED_TOTP)).await.unwrap());
    assert!(store.set_admin_totp_secret(&alice.id, None).await.unwrap());
    assert_eq!(store.get_admin_user_by_id(&alice.id).await.unwrap().unwrap().totp_secret, None);

    let now = unix_now();
    assert!(store.disable_admin_user(&bob.id, now).await.unwrap());
    assert!(store.disable_admin_user(&bob.id, now + 5).await.unwrap());
    let bob = store.get_admin_user("bob").await.unwrap().unwrap();
    assert!(bob.is_disabled());
    assert_eq!(bob.disabled_at, Some(now));
    assert!(!store.disable_admin_user("adm_0000000000000000", now).await.unwrap());

    for role in AdminRole::ALL {
        assert_eq!(AdminRole::parse(role.as_str()), Some(role));
    }
    assert_eq!(AdminRole::parse("Admin"), None);
    assert_eq!(AdminRole::parse("root"), None);
}

async fn login_failures_lock_and_reset(store: &Store) {
    let alice = user(store, "alice").await;
    let now = 1_000_000;
    let lock_for = Duration::from_secs(900);
    assert_eq!(store.record_login_failure(&alice.id, now, 3, lock_for).await.unwrap(), Some((1, None)));
    assert_eq!(store.record_login_failure(&alice.id, now, 3, lock_for).await.unwrap(), Some((2, None)));
    assert_eq!(store.record_login_failure(&alice.id, now, 3, lock_for).await.unwrap(), Some((3, Some(now + 900))));
    let locked = store.get_admin_user("alice").await.unwrap().unwrap();
    assert!(locked.is_locked(now + 899));
    assert!(!locked.is_locked(now + 900));
    // Further failures extend the lock, never shorten it.
    assert_eq!(store.record_login_failure(&alice.id, now + 10, 3, lock_for).await.unwrap(), Some((4, Some(now + 910))));
    assert_eq!(
        store.record_login_failure(&alice.id, now + 20, 3, Duration::from_secs(1)).await.unwrap(),
        Some((5, Some(now + 910)))
    );
    // A success clears everything; counting starts over.
    assert!(store.record_login_success(&alice.id).await.unwrap());
    let reset = store.get_admin_user("alice").await.unwrap().unwrap();
    assert_eq!((reset.failed_attempts, reset.locked_until), (0, None));
    assert_eq!(store.record_login_failure(&alice.id, now, 3, lock_for).await.unwrap(), Some((1, None)));
    // lock_after = 0: count, never lock.
    for expected in 2..=10 {
        assert_eq!(store.record_login_failure(&alice.id, now, 0, lock_for).await.unwrap(), Some((expected, None)));
    }
    assert_eq!(store.record_login_failure("adm_0000000000000000", now, 3, lock_for).await.unwrap(), None);
    assert_eq!(store.record_login_failure("' OR '1'='1", now, 3, lock_for).await.unwrap(), None);
    assert!(!store.record_login_success("adm_0000000000000000").await.unwrap());

    // Concurrent failures are all counted (one atomic statement each).
    store.record_login_success(&alice.id).await.unwrap();
    let failures = (0..20).map(|_| {
        let (store, id) = (store.clone(), alice.id.clone());
        tokio::spawn(async move { store.record_login_failure(&id, now, 5, lock_for).await.unwrap().unwrap() })
    });
    let mut counts: Vec<u32> =
        futures_util::future::join_all(failures).await.into_iter().map(|r| r.unwrap().0).collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=20).collect::<Vec<_>>());
    let after = store.get_admin_user("alice").await.unwrap().unwrap();
    assert_eq!((after.failed_attempts, after.locked_until), (20, Some(now + 900)));
}

async fn totp_steps_are_consumed_once(store: &Store) {
    let alice = user(store, "alice").await;
    assert!(store.consume_totp_step(&alice.id, 100).await.unwrap());
    assert!(!store.consume_totp_step(&alice.id, 100).await.unwrap());
    assert!(!store.consume_totp_step(&alice.id, 99).await.unwrap());
    assert!(store.consume_totp_step(&alice.id, 101).await.unwrap());
    assert_eq!(store.get_admin_user_by_id(&alice.id).await.unwrap().unwrap().totp_last_step, Some(101));
    assert!(!store.consume_totp_step("adm_0000000000000000", 500).await.unwrap());
    assert!(!store.consume_totp_step("' OR '1'='1", 500).await.unwrap());

    // Concurrent logins with the same code: exactly one wins, every round.
    for step in 200..210 {
        let logins = (0..12).map(|_| {
            let (store, id) = (store.clone(), alice.id.clone());
            tokio::spawn(async move { store.consume_totp_step(&id, step).await.unwrap() })
        });
        let won = futures_util::future::join_all(logins).await.into_iter().filter(|r| *r.as_ref().unwrap()).count();
        assert_eq!(won, 1, "step {step}");
    }
    // Two users do not interfere.
    let bob = user(store, "bob").await;
    assert!(store.consume_totp_step(&bob.id, 205).await.unwrap());
    assert_eq!(store.get_admin_user_by_id(&alice.id).await.unwrap().unwrap().totp_last_step, Some(209));
}

async fn admin_tokens(store: &Store) {
    let hasher = hasher();
    let (record, token) =
        store.create_admin_token(&hasher, "ci deploys", AdminRole::KeyManager, None, Some("alice")).await.unwrap();
    assert!(token.key.starts_with("ra-") && token.key.len() == 46);
    assert!(token.key.starts_with(&record.prefix));
    assert!(validate::is_id("tok_", &record.id));
    let found = store.find_admin_token(&hasher, &token.key).await.unwrap().unwrap();
    assert_eq!(
        (found.id.as_str(), found.role, found.created_by.as_deref()),
        (record.id.as_str(), AdminRole::KeyManager, Some("alice"))
    );
    assert_eq!(found.status(unix_now()), KeyStatus::Active);
    assert!(!format!("{found:?}").contains(&token.key));

    // Wrong shapes, other prefixes, other secrets: not found.
    let other = KeyHasher::new(b"another-secret-another-secret-!!");
    assert!(store.find_admin_token(&other, &token.key).await.unwrap().is_none());
    let as_key = token.key.replacen("ra-", "rk-", 1);
    let long = format!("{}{}", token.key, "a".repeat(100_000));
    for bad in
        ["", "ra-", "' OR '1'='1", as_key.as_str(), &token.key[..45], long.as_str(), &format!("{}\0", &token.key[..45])]
    {
        assert!(store.find_admin_token(&hasher, bad).await.unwrap().is_none(), "{bad:?}");
    }
    // A virtual key is never an admin token.
    let (_, key) = store.create_key(&hasher, "k", &ModelScope::all(), None).await.unwrap();
    assert!(store.find_admin_token(&hasher, &key.key).await.unwrap().is_none());

    let (expired, expired_token) =
        store.create_admin_token(&hasher, "old", AdminRole::Viewer, Some(unix_now() - 1), None).await.unwrap();
    assert_eq!(
        store.find_admin_token(&hasher, &expired_token.key).await.unwrap().unwrap().status(unix_now()),
        KeyStatus::Expired
    );
    let listed = store.list_admin_tokens().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().any(|t| t.id == expired.id));

    assert!(store.revoke_admin_token(&record.id).await.unwrap());
    let revoked = store.find_admin_token(&hasher, &token.key).await.unwrap().unwrap();
    assert_eq!(revoked.status(unix_now()), KeyStatus::Revoked);
    let first = revoked.revoked_at;
    assert!(store.revoke_admin_token(&record.id).await.unwrap());
    assert_eq!(store.find_admin_token(&hasher, &token.key).await.unwrap().unwrap().revoked_at, first);
    assert!(!store.revoke_admin_token("tok_0000000000000000").await.unwrap());
    assert!(!store.revoke_admin_token("' OR '1'='1").await.unwrap());
    assert!(matches!(
        store.create_admin_token(&hasher, "", AdminRole::Admin, None, None).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn sessions(store: &Store) {
    let hasher = hasher();
    let alice = user(store, "alice").await;
    let now = 2_000_000_000;
    let ttl = Duration::from_secs(8 * 3600);
    let session = store.create_session(&hasher, &alice.id, ttl, now).await.unwrap().unwrap();
    assert!(session.token.starts_with("rs-") && session.token.len() == TokenKind::Session.token_len());
    assert!(session.csrf.starts_with("rc-"));
    let debug = format!("{session:?}");
    assert!(!debug.contains(&session.token) && !debug.contains(&session.csrf), "{debug}");

    let found = store.find_session(&hasher, &session.token, now + 1).await.unwrap().unwrap();
    assert_eq!(found.user_id, alice.id);
    assert_eq!((found.created_at, found.expires_at), (now, now + 8 * 3600));
    assert!(found.verify_csrf(&hasher, &session.csrf));
    assert!(!found.verify_csrf(&hasher, &session.token));
    assert!(!found.verify_csrf(&hasher, ""));
    assert!(!found.verify_csrf(&hasher, &session.csrf[..45]));
    assert!(!found.verify_csrf(&KeyHasher::new(b"another-secret-another-secret-!!"), &session.csrf));
    let second = store.create_session(&hasher, &alice.id, ttl, now).await.unwrap().unwrap();
    assert!(!found.verify_csrf(&hasher, &second.csrf));
    // The CSRF token is not a session.
    assert!(store.find_session(&hasher, &session.csrf, now).await.unwrap().is_none());
    assert!(store.find_session(&hasher, &session.token.replacen("rs-", "rc-", 1), now).await.unwrap().is_none());

    // last_seen_at moves at most once a minute.
    assert_eq!(store.find_session(&hasher, &session.token, now + 59).await.unwrap().unwrap().last_seen_at, now);
    assert_eq!(store.find_session(&hasher, &session.token, now + 61).await.unwrap().unwrap().last_seen_at, now + 61);
    assert_eq!(store.find_session(&hasher, &session.token, now + 62).await.unwrap().unwrap().last_seen_at, now + 61);

    // Expiry is exclusive.
    assert!(store.find_session(&hasher, &session.token, now + 8 * 3600 - 1).await.unwrap().is_some());
    assert!(store.find_session(&hasher, &session.token, now + 8 * 3600).await.unwrap().is_none());

    // Logout.
    assert!(store.revoke_session(&hasher, &session.token).await.unwrap());
    assert!(!store.revoke_session(&hasher, &session.token).await.unwrap());
    assert!(store.find_session(&hasher, &session.token, now + 2).await.unwrap().is_none());
    assert!(store.find_session(&hasher, &second.token, now + 2).await.unwrap().is_some());
    assert!(!store.revoke_session(&hasher, "' OR '1'='1").await.unwrap());

    // Revoking all of a user's sessions.
    let third = store.create_session(&hasher, &alice.id, ttl, now).await.unwrap().unwrap();
    assert_eq!(store.revoke_sessions_of(&alice.id).await.unwrap(), 2);
    assert_eq!(store.revoke_sessions_of(&alice.id).await.unwrap(), 0);
    assert!(store.find_session(&hasher, &second.token, now + 2).await.unwrap().is_none());
    assert!(store.find_session(&hasher, &third.token, now + 2).await.unwrap().is_none());

    // Disabled users lose their sessions and get no new ones.
    let bob = user(store, "bob").await;
    let bobs = store.create_session(&hasher, &bob.id, ttl, now).await.unwrap().unwrap();
    assert!(store.disable_admin_user(&bob.id, now).await.unwrap());
    assert!(store.find_session(&hasher, &bobs.token, now + 1).await.unwrap().is_none());
    assert!(store.create_session(&hasher, &bob.id, ttl, now).await.unwrap().is_none());
    assert!(store.create_session(&hasher, "adm_0000000000000000", ttl, now).await.unwrap().is_none());
    assert!(store.create_session(&hasher, "' OR '1'='1", ttl, now).await.unwrap().is_none());

    // Housekeeping.
    let short = store.create_session(&hasher, &alice.id, Duration::from_secs(10), now).await.unwrap().unwrap();
    assert!(store.find_session(&hasher, &short.token, now + 1).await.unwrap().is_some());
    assert_eq!(store.delete_expired_sessions(now + 11).await.unwrap(), 1);
    assert!(store.find_session(&hasher, &short.token, now + 1).await.unwrap().is_none());
    assert_eq!(store.delete_expired_sessions(now + 8 * 3600).await.unwrap(), 4);
}

on_both_backends!(admin_users, login_failures_lock_and_reset, totp_steps_are_consumed_once, admin_tokens, sessions);
