//! DynamoDB store behaviour against moto that the sync's invariants rely on.
use chrono::Utc;
use seatkeeper::domain::profile::LastSync;
use seatkeeper::ports::{ProfileRepo, RunRepo, StoreError};
use seatkeeper_e2e::TestEnv;

#[tokio::test]
async fn operator_edits_and_sync_bookkeeping_never_erase_each_other() {
    let env = TestEnv::start(10, 1).await;
    let profile = env.add_box_profile().await;
    let stale = env.store.profiles.get(&profile.id).await.unwrap().unwrap();

    // a sync finishes between the operator's read and write
    let last = LastSync {
        run_id: "run-1".into(),
        observed_since: None,
        finished_at: Utc::now(),
    };
    env.store
        .profiles
        .set_last_sync(&profile.id, &last)
        .await
        .unwrap();

    let mut edited = stale.clone();
    edited.enabled = false;
    let err = env.store.profiles.put(&edited).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");

    // the read-modify-write path re-reads and keeps the sync's record
    env.store
        .profiles
        .update(&profile.id, |p| -> Result<(), StoreError> {
            p.enabled = false;
            Ok(())
        })
        .await
        .unwrap()
        .expect("profile exists");
    let now = env.store.profiles.get(&profile.id).await.unwrap().unwrap();
    assert!(!now.enabled);
    assert_eq!(now.last_sync, Some(last));
    assert_eq!(now.version, 2);

    let missing = env
        .store
        .profiles
        .update("no-such", |_| -> Result<(), StoreError> { Ok(()) })
        .await
        .unwrap();
    assert!(missing.is_none());
}

#[tokio::test]
async fn a_held_sync_lease_refuses_a_second_sync_until_released_or_expired() {
    let env = TestEnv::start(10, 1).await;
    let profile = env.add_box_profile().await;
    let now = Utc::now();
    let ttl = std::time::Duration::from_secs(60);
    assert!(env
        .store
        .runs
        .acquire_lease(&profile.id, "a", now, ttl)
        .await
        .unwrap());
    assert!(!env
        .store
        .runs
        .acquire_lease(&profile.id, "b", now, ttl)
        .await
        .unwrap());

    // the sync itself refuses with a clear error while the lease is held
    let sync = env.box_sync();
    let err = sync
        .sync_profile(&profile.id, &seatkeeper::sync::NoProgress)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("being synced by another run"),
        "{err}"
    );

    // someone else's release does nothing; the owner's frees it; an expired lease is taken over
    env.store
        .runs
        .release_lease(&profile.id, "b")
        .await
        .unwrap();
    assert!(!env
        .store
        .runs
        .acquire_lease(&profile.id, "b", now, ttl)
        .await
        .unwrap());
    let later = now + chrono::Duration::seconds(61);
    assert!(env
        .store
        .runs
        .acquire_lease(&profile.id, "b", later, ttl)
        .await
        .unwrap());
}

/// The DynamoDB adapters against the repository contract the in-memory ones are unit-tested
/// with (`seatkeeper::memory::repos::contract`): both are held to one behaviour.
#[tokio::test]
async fn dynamodb_repositories_meet_the_repository_contract() {
    let env = TestEnv::start(1, 1).await;
    assert!(
        !env.store.create_table().await.unwrap(),
        "the table exists already"
    );
    seatkeeper::memory::repos::contract::check_all(&env.store, "contract").await;
}
