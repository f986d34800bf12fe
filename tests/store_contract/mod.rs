//! The store contract suite: one async test function per trait operation and rule,
//! written once over the trait objects and run against every backend.
//!
//! A test binary includes this module with `#[macro_use] #[path = "../store_contract/mod.rs"] mod
//! store_contract;`, implements [`StoreFixture`] for its backend and expands
//! `store_contract_tests!(make_fixture())` inside a module: each contract function becomes a
//! `#[tokio::test]` there, under `certificates::`, `devices::`, `sessions::` or `attestation::`. The
//! `devices::` tests run the certificate lifecycle (`apuntador::devices`: enrolment policy, renewal,
//! administrator revocation, and their races) over the backend's stores. Expiry is exercised
//! by writing records that are already expired, never by sleeping. This suite must not depend on any
//! backend's internals.

/// The openssl CSR helper, for the `devices` tests (and the test binary that includes this suite).
#[path = "../support/openssl_csr.rs"]
pub mod openssl_csr;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use apuntador::config::{Platform, ProviderId};
use apuntador::store::{
    AttestationRecord, AttestationStore, CertificateRecord, CertificateStore, OAuthSession,
    OAuthSessionStore, StoreError,
};
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};

/// Gives the contract tests the stores of one fresh backend instance, kept alive for the whole test.
///
/// Each test builds its own fixture: the generation tests expect a counter that was never bumped.
pub trait StoreFixture {
    /// The certificate store under test.
    fn certificates(&self) -> Arc<dyn CertificateStore>;
    /// The OAuth session store under test.
    fn sessions(&self) -> Arc<dyn OAuthSessionStore>;
    /// The attestation store under test.
    fn attestation(&self) -> Arc<dyn AttestationStore>;
    /// All three, for the device lifecycle run over this backend.
    fn devices(&self) -> DeviceStores {
        DeviceStores {
            certificates: self.certificates(),
            sessions: self.sessions(),
            attestation: self.attestation(),
        }
    }
}

/// The stores of one backend, for [`devices`].
pub struct DeviceStores {
    /// The certificate store.
    pub certificates: Arc<dyn CertificateStore>,
    /// The OAuth session store.
    pub sessions: Arc<dyn OAuthSessionStore>,
    /// The attestation store.
    pub attestation: Arc<dyn AttestationStore>,
}

/// Expands every contract function into a `#[tokio::test]` over the fixture `$fixture` (an expression
/// evaluating to a future of a [`StoreFixture`], evaluated once per test).
macro_rules! store_contract_tests {
    ($fixture:expr) => {
        store_contract_tests!(@module $fixture, certificates, [
            get_returns_the_record_written_by_issue,
            get_returns_none_for_an_unknown_serial,
            get_returns_none_when_the_serial_belongs_to_another_device,
            get_treats_a_record_past_its_ttl_as_absent,
            list_for_device_returns_only_the_records_of_that_device,
            list_for_device_returns_nothing_for_an_unknown_device,
            list_for_device_leaves_out_records_past_their_ttl,
            issue_revokes_the_superseded_record_with_the_reason_and_time,
            issue_fails_with_conflict_when_the_serial_already_exists,
            issue_writes_nothing_when_an_active_record_is_not_superseded,
            issue_writes_nothing_for_a_revoked_new_record_beside_an_unnamed_active_one,
            issue_needs_no_supersession_once_every_record_is_revoked,
            issue_ignores_records_past_their_ttl,
            issue_supersedes_an_active_record_whose_certificate_has_expired,
            issue_lets_exactly_one_of_eight_concurrent_first_issues_of_a_device_win,
            issue_lets_exactly_one_of_eight_concurrent_supersessions_win,
            issue_keeps_one_active_record_under_concurrent_list_and_issue_loops,
            issue_writes_nothing_when_a_superseded_record_is_already_revoked,
            issue_writes_nothing_when_a_superseded_serial_does_not_exist,
            issue_writes_nothing_when_a_superseded_serial_belongs_to_another_device,
            issue_writes_nothing_when_a_superseded_record_is_past_its_ttl,
            issue_supersedes_a_serial_named_twice_once,
            revoke_counts_only_the_records_that_were_active,
            revoke_leaves_records_past_their_ttl_alone,
            revoke_of_no_serials_revokes_nothing,
            ping_succeeds,
        ]);
        store_contract_tests!(@module $fixture, devices, [
            enrol_of_a_new_device_stores_one_active_record,
            enrol_while_an_active_certificate_exists_is_refused_and_writes_nothing,
            enrol_is_allowed_again_once_every_record_is_revoked,
            enrol_supersedes_an_active_record_whose_certificate_has_expired,
            enrol_with_replace_active_supersedes_the_active_certificate,
            concurrent_enrolments_of_a_new_device_leave_exactly_one_active,
            concurrent_renewals_of_one_certificate_leave_exactly_one_active,
            renewal_racing_enrolments_with_replace_active_leaves_exactly_one_active,
            renewal_of_a_certificate_superseded_meanwhile_is_refused_and_writes_nothing,
            admin_revoke_revokes_the_active_certificate_and_counts_it,
            admin_revoke_keeps_the_reason_or_says_manual_revocation,
            admin_revoke_of_a_device_without_records_is_not_found,
        ]);
        store_contract_tests!(@module $fixture, sessions, [
            peek_returns_the_created_session,
            peek_returns_none_for_an_unknown_state,
            peek_does_not_consume_the_session,
            peek_treats_an_expired_session_as_absent,
            create_fails_with_conflict_when_the_state_exists,
            consume_returns_the_session_exactly_once,
            consume_treats_an_expired_session_as_absent,
            consume_gives_the_session_to_exactly_one_of_20_concurrent_callers,
            delete_removes_the_session,
            delete_of_an_unknown_state_succeeds,
            ping_succeeds,
        ]);
        store_contract_tests!(@module $fixture, attestation, [
            generation_is_zero_before_any_bump,
            bump_generation_increments_and_returns_the_new_value,
            bump_generation_counts_every_concurrent_bump,
            bump_generation_leaves_stored_results_in_place,
            get_result_returns_the_stored_result,
            get_result_returns_none_when_nothing_was_stored,
            get_result_treats_a_result_past_its_ttl_as_absent,
            get_result_keeps_platforms_and_devices_apart,
            put_result_replaces_the_previous_result,
            consume_result_marks_a_matching_result_consumed,
            consume_result_refuses_a_wrong_attestation_id,
            consume_result_refuses_a_result_without_an_attestation_id,
            consume_result_refuses_an_already_consumed_result,
            consume_result_refuses_a_result_of_an_older_generation,
            consume_result_refuses_a_result_older_than_max_age,
            consume_result_refuses_an_invalid_result,
            consume_result_refuses_when_no_result_is_stored,
            consume_result_refuses_a_result_past_its_ttl,
            consume_result_lets_exactly_one_of_20_concurrent_callers_consume,
            delete_results_with_a_platform_deletes_only_that_platform,
            delete_results_without_a_platform_deletes_every_platform_of_the_device,
            delete_results_keeps_the_desktop_binding,
            record_evidence_reports_first_seen_and_then_not,
            record_evidence_keeps_platforms_apart,
            record_evidence_treats_expired_evidence_as_unseen,
            get_binding_returns_none_for_an_unbound_device,
            bind_if_absent_keeps_the_first_fingerprint,
            bind_if_absent_lets_exactly_one_of_20_concurrent_writers_win,
            delete_binding_removes_the_binding,
            increment_rate_counts_from_one,
            increment_rate_counts_every_concurrent_increment,
            increment_rate_keeps_keys_apart,
            increment_rate_restarts_once_the_counter_has_expired,
        ]);
    };
    (@module $fixture:expr, $module:ident, [$($test:ident),* $(,)?]) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let fixture = $fixture.await;
                    let store = crate::store_contract::StoreFixture::$module(&fixture);
                    crate::store_contract::$module::$test(store).await;
                }
            )*
        }
    };
}

/// Now, truncated to whole seconds as every backend stores times.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// A unique suffix, so tests sharing a backend never share keys.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n:06}", std::process::id())
}

/// A unique 32-digit upper-case hex serial.
pub fn serial() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos =
        u64::try_from(Utc::now().timestamp_nanos_opt().unwrap_or_default()).unwrap_or_default();
    format!("{nanos:016X}{n:016X}")
}

/// An active certificate record of `device_id`, valid for 30 days from now and kept 30 days more.
pub fn certificate(device_id: &str) -> CertificateRecord {
    let issued_at = now();
    let expires_at = issued_at + TimeDelta::days(30);
    let serial = serial();
    CertificateRecord {
        device_id: device_id.to_owned(),
        serial: serial.clone(),
        platform: Platform::Android,
        issued_at,
        expires_at,
        certificate_pem: format!(
            "-----BEGIN CERTIFICATE-----\n{serial}\n-----END CERTIFICATE-----\n"
        ),
        fingerprint_sha256: Some("ab".repeat(32)),
        revoked: false,
        revoked_at: None,
        revocation_reason: None,
        ttl: (expires_at + TimeDelta::days(30)).timestamp(),
    }
}

/// A certificate record of `device_id` whose `ttl` passed an hour ago.
pub fn expired_certificate(device_id: &str) -> CertificateRecord {
    let issued_at = now() - TimeDelta::days(70);
    let expires_at = issued_at + TimeDelta::days(30);
    CertificateRecord {
        issued_at,
        expires_at,
        ttl: (now() - TimeDelta::hours(1)).timestamp(),
        ..certificate(device_id)
    }
}

/// An OAuth session expiring `lifetime` from now (negative: already expired).
pub fn session(lifetime: TimeDelta) -> OAuthSession {
    let expires_at = now() + lifetime;
    OAuthSession {
        state: unique("state"),
        provider: ProviderId::Dropbox,
        code_verifier: SecretString::from(unique("verifier-with-enough-characters-for-pkce")),
        redirect_uri: "apuntador://oauth-callback".into(),
        provider_redirect_uri: "https://api.example.test/oauth/callback/dropbox".into(),
        client_state: Some("client-state".into()),
        created_at: expires_at - TimeDelta::minutes(10),
        expires_at,
    }
}

/// Asserts that two sessions carry the same fields.
pub fn assert_same_session(actual: &OAuthSession, expected: &OAuthSession) {
    assert_eq!(actual.state, expected.state);
    assert_eq!(actual.provider, expected.provider);
    assert_eq!(
        actual.code_verifier.expose_secret(),
        expected.code_verifier.expose_secret()
    );
    assert_eq!(actual.redirect_uri, expected.redirect_uri);
    assert_eq!(actual.provider_redirect_uri, expected.provider_redirect_uri);
    assert_eq!(actual.client_state, expected.client_state);
    assert_eq!(actual.created_at, expected.created_at);
    assert_eq!(actual.expires_at, expected.expires_at);
}

/// A `valid` attestation result of generation 0, verified now.
pub fn valid_result(platform: Platform, device_id: &str) -> AttestationRecord {
    let attestation_id = unique("attestation-id");
    AttestationRecord {
        platform,
        device_id: device_id.to_owned(),
        status: "valid".into(),
        attestation_id: Some(attestation_id.clone()),
        verified_at: now(),
        generation: 0,
        consumed: false,
        response: serde_json::json!({
            "status": "valid",
            "device_id": device_id,
            "attestation_id": attestation_id,
        }),
    }
}

/// The attestation cache TTL used by the tests (the default).
pub const CACHE_TTL: Duration = Duration::from_secs(3600);

/// The enrolment max age used by the tests (the default).
pub const MAX_AGE: Duration = Duration::from_secs(600);

/// Asserts that `result` is a [`StoreError::Conflict`].
#[track_caller]
pub fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// Certificate store contract.
pub mod certificates {
    use super::*;

    type Store = Arc<dyn CertificateStore>;

    /// Issues a new active record of a device that has none.
    async fn issue_new(store: &Store, device_id: &str) -> CertificateRecord {
        let record = certificate(device_id);
        store
            .issue(&record, &[], "superseded", now())
            .await
            .expect("issue");
        record
    }

    /// The sorted serials of the device's active records.
    async fn active_serials(store: &Store, device_id: &str) -> Vec<String> {
        let mut serials: Vec<String> = store
            .list_for_device(device_id)
            .await
            .expect("list")
            .into_iter()
            .filter(|record| !record.revoked)
            .map(|record| record.serial)
            .collect();
        serials.sort();
        serials
    }

    /// Issues a new active record superseding the device's active ones, as a renewal does.
    async fn issue_next(store: &Store, device_id: &str) -> CertificateRecord {
        let record = certificate(device_id);
        let active = active_serials(store, device_id).await;
        store
            .issue(&record, &active, "superseded", now())
            .await
            .expect("issue");
        record
    }

    pub async fn get_returns_the_record_written_by_issue(store: Store) {
        let device = unique("device");
        let record = certificate(&device);

        store
            .issue(&record, &[], "superseded", now())
            .await
            .expect("issue");
        let read = store.get(&device, &record.serial).await.expect("get");

        assert_eq!(read, Some(record));
    }

    pub async fn get_returns_none_for_an_unknown_serial(store: Store) {
        let device = unique("device");
        issue_new(&store, &device).await;

        assert_eq!(store.get(&device, &serial()).await.expect("get"), None);
    }

    pub async fn get_returns_none_when_the_serial_belongs_to_another_device(store: Store) {
        let record = issue_new(&store, &unique("device")).await;

        let read = store
            .get(&unique("other-device"), &record.serial)
            .await
            .expect("get");

        assert_eq!(read, None);
    }

    pub async fn get_treats_a_record_past_its_ttl_as_absent(store: Store) {
        let device = unique("device");
        let record = expired_certificate(&device);
        store
            .issue(&record, &[], "superseded", now())
            .await
            .expect("issue");

        assert_eq!(store.get(&device, &record.serial).await.expect("get"), None);
    }

    pub async fn list_for_device_returns_only_the_records_of_that_device(store: Store) {
        let device = unique("device");
        let other = unique("other-device");
        let first = issue_new(&store, &device).await;
        let second = issue_next(&store, &device).await;
        issue_new(&store, &other).await;

        let mut listed: Vec<String> = store
            .list_for_device(&device)
            .await
            .expect("list")
            .into_iter()
            .map(|record| record.serial)
            .collect();
        listed.sort();

        let mut expected = vec![first.serial, second.serial];
        expected.sort();
        assert_eq!(listed, expected);
    }

    pub async fn list_for_device_returns_nothing_for_an_unknown_device(store: Store) {
        assert!(
            store
                .list_for_device(&unique("device"))
                .await
                .expect("list")
                .is_empty()
        );
    }

    pub async fn list_for_device_leaves_out_records_past_their_ttl(store: Store) {
        let device = unique("device");
        let expired = expired_certificate(&device);
        store
            .issue(&expired, &[], "superseded", now())
            .await
            .expect("issue");
        let live = issue_new(&store, &device).await;

        let listed = store.list_for_device(&device).await.expect("list");

        assert_eq!(listed, vec![live]);
    }

    pub async fn issue_revokes_the_superseded_record_with_the_reason_and_time(store: Store) {
        let device = unique("device");
        let old = issue_new(&store, &device).await;
        let new = certificate(&device);
        let at = now() - TimeDelta::seconds(7);

        store
            .issue(&new, std::slice::from_ref(&old.serial), "replaced", at)
            .await
            .expect("issue");

        let read = store
            .get(&device, &old.serial)
            .await
            .expect("get")
            .expect("present");
        assert!(read.revoked);
        assert_eq!(read.revoked_at, Some(at));
        assert_eq!(read.revocation_reason.as_deref(), Some("replaced"));
        assert_eq!(read.certificate_pem, old.certificate_pem);
        assert_eq!(
            store.get(&device, &new.serial).await.expect("get"),
            Some(new.clone())
        );
        assert_eq!(active_serials(&store, &device).await, vec![new.serial]);
    }

    pub async fn issue_fails_with_conflict_when_the_serial_already_exists(store: Store) {
        let device = unique("device");
        let existing = issue_new(&store, &device).await;
        let revoked_at = now();
        store
            .revoke(
                &device,
                std::slice::from_ref(&existing.serial),
                "Manual revocation",
                revoked_at,
            )
            .await
            .expect("revoke");
        let duplicate = CertificateRecord {
            certificate_pem: "another certificate".into(),
            ..existing.clone()
        };

        assert_conflict(store.issue(&duplicate, &[], "superseded", now()).await);
        let read = store
            .get(&device, &existing.serial)
            .await
            .expect("get")
            .expect("present");
        assert_eq!(read.certificate_pem, existing.certificate_pem);
        assert!(read.revoked);
    }

    pub async fn issue_writes_nothing_when_an_active_record_is_not_superseded(store: Store) {
        let device = unique("device");
        let active = issue_new(&store, &device).await;
        let new = certificate(&device);

        assert_conflict(store.issue(&new, &[], "superseded", now()).await);

        assert_eq!(store.get(&device, &new.serial).await.expect("get"), None);
        assert_eq!(
            store.get(&device, &active.serial).await.expect("get"),
            Some(active)
        );
    }

    pub async fn issue_writes_nothing_for_a_revoked_new_record_beside_an_unnamed_active_one(
        store: Store,
    ) {
        let device = unique("device");
        let active = issue_new(&store, &device).await;
        let new = CertificateRecord {
            revoked: true,
            revoked_at: Some(now()),
            revocation_reason: Some("Manual revocation".into()),
            ..certificate(&device)
        };

        assert_conflict(store.issue(&new, &[], "superseded", now()).await);

        assert_eq!(store.get(&device, &new.serial).await.expect("get"), None);
        assert_eq!(active_serials(&store, &device).await, vec![active.serial]);
    }

    pub async fn issue_needs_no_supersession_once_every_record_is_revoked(store: Store) {
        let device = unique("device");
        let old = issue_new(&store, &device).await;
        store
            .revoke(
                &device,
                std::slice::from_ref(&old.serial),
                "lost phone",
                now(),
            )
            .await
            .expect("revoke");
        let new = certificate(&device);

        store
            .issue(&new, &[], "superseded", now())
            .await
            .expect("issue");

        assert_eq!(active_serials(&store, &device).await, vec![new.serial]);
        let read = store
            .get(&device, &old.serial)
            .await
            .expect("get")
            .expect("present");
        assert_eq!(read.revocation_reason.as_deref(), Some("lost phone"));
    }

    pub async fn issue_ignores_records_past_their_ttl(store: Store) {
        let device = unique("device");
        let expired = expired_certificate(&device);
        store
            .issue(&expired, &[], "superseded", now())
            .await
            .expect("issue");
        let first = issue_new(&store, &device).await;

        let second = issue_next(&store, &device).await;

        assert_eq!(active_serials(&store, &device).await, vec![second.serial]);
        assert!(
            store
                .get(&device, &first.serial)
                .await
                .expect("get")
                .expect("present")
                .revoked
        );
    }

    pub async fn issue_supersedes_an_active_record_whose_certificate_has_expired(store: Store) {
        let device = unique("device");
        // Expired a day ago, still kept (its ttl is weeks away): it is active until superseded.
        let expired = CertificateRecord {
            issued_at: now() - TimeDelta::days(31),
            expires_at: now() - TimeDelta::days(1),
            ..certificate(&device)
        };
        store
            .issue(&expired, &[], "superseded", now())
            .await
            .expect("issue");
        let new = certificate(&device);

        assert_conflict(store.issue(&new, &[], "superseded", now()).await);
        store
            .issue(
                &new,
                std::slice::from_ref(&expired.serial),
                "superseded",
                now(),
            )
            .await
            .expect("issue");

        assert_eq!(active_serials(&store, &device).await, vec![new.serial]);
    }

    /// Runs `tasks` concurrently; returns how many succeeded (every failure must be a conflict).
    async fn wins(tasks: Vec<tokio::task::JoinHandle<Result<(), StoreError>>>) -> usize {
        let mut wins = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(()) => wins += 1,
                Err(StoreError::Conflict(_)) => {}
                Err(other) => panic!("unexpected error {other:?}"),
            }
        }
        wins
    }

    pub async fn issue_lets_exactly_one_of_eight_concurrent_first_issues_of_a_device_win(
        store: Store,
    ) {
        let device = unique("device");
        let candidates: Vec<CertificateRecord> = (0..8).map(|_| certificate(&device)).collect();

        let tasks = candidates
            .iter()
            .cloned()
            .map(|new| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.issue(&new, &[], "superseded", now()).await })
            })
            .collect();

        assert_eq!(wins(tasks).await, 1);
        let listed = store.list_for_device(&device).await.expect("list");
        assert_eq!(listed.len(), 1, "the losers wrote nothing: {listed:?}");
        assert!(!listed[0].revoked);
        assert!(candidates.iter().any(|c| c.serial == listed[0].serial));
    }

    pub async fn issue_lets_exactly_one_of_eight_concurrent_supersessions_win(store: Store) {
        let device = unique("device");
        let old = issue_new(&store, &device).await;

        let tasks = (0..8)
            .map(|_| {
                let store = Arc::clone(&store);
                let new = certificate(&device);
                let supersede = vec![old.serial.clone()];
                tokio::spawn(
                    async move { store.issue(&new, &supersede, "superseded", now()).await },
                )
            })
            .collect();

        assert_eq!(wins(tasks).await, 1);
        let listed = store.list_for_device(&device).await.expect("list");
        assert_eq!(listed.len(), 2, "the losers wrote nothing: {listed:?}");
        assert_eq!(listed.iter().filter(|record| !record.revoked).count(), 1);
    }

    pub async fn issue_keeps_one_active_record_under_concurrent_list_and_issue_loops(store: Store) {
        let device = unique("device");
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let store = Arc::clone(&store);
                let device = device.clone();
                tokio::spawn(async move {
                    let mut issued = Vec::new();
                    for _ in 0..5 {
                        let new = certificate(&device);
                        let active = active_serials(&store, &device).await;
                        match store.issue(&new, &active, "superseded", now()).await {
                            Ok(()) => issued.push(new.serial),
                            Err(StoreError::Conflict(_)) => {}
                            Err(other) => panic!("unexpected error {other:?}"),
                        }
                        let active = active_serials(&store, &device).await;
                        assert!(active.len() <= 1, "two active records: {active:?}");
                    }
                    issued
                })
            })
            .collect();
        let mut issued = Vec::new();
        for task in tasks {
            issued.extend(task.await.expect("task"));
        }

        assert!(!issued.is_empty());
        let listed = store.list_for_device(&device).await.expect("list");
        let mut stored: Vec<&String> = listed.iter().map(|record| &record.serial).collect();
        stored.sort();
        let mut expected: Vec<&String> = issued.iter().collect();
        expected.sort();
        assert_eq!(stored, expected, "exactly the successful issues are stored");
        assert_eq!(listed.iter().filter(|record| !record.revoked).count(), 1);
    }

    pub async fn issue_writes_nothing_when_a_superseded_record_is_already_revoked(store: Store) {
        let device = unique("device");
        let revoked = issue_new(&store, &device).await;
        let revoked_at = now() - TimeDelta::minutes(5);
        let count = store
            .revoke(
                &device,
                std::slice::from_ref(&revoked.serial),
                "Manual revocation",
                revoked_at,
            )
            .await
            .expect("revoke");
        assert_eq!(count, 1);
        let active = issue_new(&store, &device).await;
        let new = certificate(&device);

        let result = store
            .issue(
                &new,
                &[active.serial.clone(), revoked.serial.clone()],
                "superseded",
                now(),
            )
            .await;

        assert_conflict(result);
        assert_eq!(store.get(&device, &new.serial).await.expect("get"), None);
        assert_eq!(
            store.get(&device, &active.serial).await.expect("get"),
            Some(active)
        );
        let still = store
            .get(&device, &revoked.serial)
            .await
            .expect("get")
            .expect("present");
        assert_eq!(
            still.revocation_reason.as_deref(),
            Some("Manual revocation")
        );
        assert_eq!(still.revoked_at, Some(revoked_at));
    }

    pub async fn issue_writes_nothing_when_a_superseded_serial_does_not_exist(store: Store) {
        let device = unique("device");
        let active = issue_new(&store, &device).await;
        let new = certificate(&device);

        let result = store
            .issue(
                &new,
                &[active.serial.clone(), serial()],
                "superseded",
                now(),
            )
            .await;

        assert_conflict(result);
        assert_eq!(store.get(&device, &new.serial).await.expect("get"), None);
        assert_eq!(
            store.get(&device, &active.serial).await.expect("get"),
            Some(active)
        );
    }

    pub async fn issue_writes_nothing_when_a_superseded_serial_belongs_to_another_device(
        store: Store,
    ) {
        let device = unique("device");
        let other = unique("other-device");
        let foreign = issue_new(&store, &other).await;
        let new = certificate(&device);

        let result = store
            .issue(
                &new,
                std::slice::from_ref(&foreign.serial),
                "superseded",
                now(),
            )
            .await;

        assert_conflict(result);
        assert_eq!(store.get(&device, &new.serial).await.expect("get"), None);
        assert_eq!(
            store.get(&other, &foreign.serial).await.expect("get"),
            Some(foreign)
        );
    }

    pub async fn issue_writes_nothing_when_a_superseded_record_is_past_its_ttl(store: Store) {
        let device = unique("device");
        let expired = expired_certificate(&device);
        store
            .issue(&expired, &[], "superseded", now())
            .await
            .expect("issue");
        let new = certificate(&device);

        let result = store
            .issue(
                &new,
                std::slice::from_ref(&expired.serial),
                "superseded",
                now(),
            )
            .await;

        assert_conflict(result);
        assert_eq!(store.get(&device, &new.serial).await.expect("get"), None);
    }

    pub async fn issue_supersedes_a_serial_named_twice_once(store: Store) {
        let device = unique("device");
        let old = issue_new(&store, &device).await;
        let new = certificate(&device);

        store
            .issue(
                &new,
                &[old.serial.clone(), old.serial.clone()],
                "superseded",
                now(),
            )
            .await
            .expect("issue");

        let read = store
            .get(&device, &old.serial)
            .await
            .expect("get")
            .expect("present");
        assert!(read.revoked);
        assert!(
            store
                .get(&device, &new.serial)
                .await
                .expect("get")
                .is_some()
        );
    }

    pub async fn revoke_counts_only_the_records_that_were_active(store: Store) {
        let device = unique("device");
        let already = issue_new(&store, &device).await;
        let earlier = now() - TimeDelta::minutes(5);
        store
            .revoke(
                &device,
                std::slice::from_ref(&already.serial),
                "superseded",
                earlier,
            )
            .await
            .expect("revoke");
        let current = issue_new(&store, &device).await;
        let foreign = issue_new(&store, &unique("other-device")).await;
        let at = now();

        let count = store
            .revoke(
                &device,
                &[
                    current.serial.clone(),
                    already.serial.clone(),
                    foreign.serial.clone(),
                    serial(),
                ],
                "lost phone",
                at,
            )
            .await
            .expect("revoke");

        assert_eq!(count, 1);
        let read = store
            .get(&device, &current.serial)
            .await
            .expect("get")
            .expect("present");
        assert!(read.revoked);
        assert_eq!(read.revoked_at, Some(at));
        assert_eq!(read.revocation_reason.as_deref(), Some("lost phone"));
        let kept = store
            .get(&device, &already.serial)
            .await
            .expect("get")
            .expect("present");
        assert_eq!(kept.revoked_at, Some(earlier));
        assert_eq!(kept.revocation_reason.as_deref(), Some("superseded"));
        let foreign_read = store
            .get(&foreign.device_id, &foreign.serial)
            .await
            .expect("get")
            .expect("present");
        assert!(!foreign_read.revoked);
    }

    pub async fn revoke_leaves_records_past_their_ttl_alone(store: Store) {
        let device = unique("device");
        let expired = expired_certificate(&device);
        store
            .issue(&expired, &[], "superseded", now())
            .await
            .expect("issue");

        let count = store
            .revoke(
                &device,
                std::slice::from_ref(&expired.serial),
                "Manual revocation",
                now(),
            )
            .await
            .expect("revoke");

        assert_eq!(count, 0);
    }

    pub async fn revoke_of_no_serials_revokes_nothing(store: Store) {
        let device = unique("device");
        let record = issue_new(&store, &device).await;

        let count = store
            .revoke(&device, &[], "Manual revocation", now())
            .await
            .expect("revoke");

        assert_eq!(count, 0);
        assert_eq!(
            store.get(&device, &record.serial).await.expect("get"),
            Some(record)
        );
    }

    pub async fn ping_succeeds(store: Store) {
        store.ping().await.expect("ping");
    }
}

/// The device certificate lifecycle over a backend's stores: at most one active
/// certificate per device, the re-enrolment policy and the administrator's revocation, with races.
pub mod devices {
    use super::*;
    use apuntador::AppState;
    use apuntador::config::Config;
    use apuntador::devices::{self, AuthenticatedDevice, DeviceError, Enrollment, Issued};
    use apuntador::store::memory::{MemoryBlobStore, MemorySecretStore};

    use super::openssl_csr;

    /// One CSR for every test: the service issues for its key, and renewals may reuse it.
    fn csr() -> String {
        static CSR: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        CSR.get_or_init(openssl_csr::p256_csr).clone()
    }

    /// An application state over `stores` with a fresh development CA and `overrides`.
    fn state(stores: &DeviceStores, overrides: &[(&str, &str)]) -> AppState {
        let mut env: std::collections::HashMap<String, String> =
            [("LOG_LEVEL", "error"), ("ENABLED_CLOUD_PROVIDERS", ",")]
                .iter()
                .chain(overrides)
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
        env.entry("ENVIRONMENT".into())
            .or_insert_with(|| "development".into());
        let config = Config::from_lookup(|name| env.get(name).cloned()).expect("configuration");
        let ca = apuntador::authority::development_material(Utc::now()).expect("development CA");
        AppState::from_parts(
            config,
            Arc::clone(&stores.certificates),
            Arc::clone(&stores.sessions),
            Arc::clone(&stores.attestation),
            Arc::new(MemorySecretStore::with_ca(ca)),
            Arc::new(MemoryBlobStore::new()),
        )
    }

    fn enrolment(device_id: &str) -> Enrollment {
        Enrollment {
            device_id: device_id.to_owned(),
            platform: Platform::Android,
            csr: csr(),
            attestation: None,
        }
    }

    async fn enrol(state: &AppState, device_id: &str) -> Result<Issued, DeviceError> {
        devices::enroll(state, &enrolment(device_id)).await
    }

    /// Authenticates with an issued certificate, as the device routes do.
    async fn authenticated(state: &AppState, issued: &Issued) -> AuthenticatedDevice {
        let der = apuntador::pki::first_certificate_der(&issued.certificate.pem).expect("PEM");
        devices::authenticate(state, &der, Utc::now())
            .await
            .expect("the certificate authenticates")
    }

    async fn renew(state: &AppState, device: &AuthenticatedDevice) -> Result<Issued, DeviceError> {
        devices::renew(state, device, &device.serial, &csr()).await
    }

    async fn records(state: &AppState, device_id: &str) -> Vec<CertificateRecord> {
        state
            .certificates
            .list_for_device(device_id)
            .await
            .expect("list")
    }

    async fn active(state: &AppState, device_id: &str) -> Vec<String> {
        records(state, device_id)
            .await
            .into_iter()
            .filter(|record| !record.revoked)
            .map(|record| record.serial)
            .collect()
    }

    pub async fn enrol_of_a_new_device_stores_one_active_record(stores: DeviceStores) {
        let state = state(&stores, &[]);
        let device = unique("device");

        let issued = enrol(&state, &device).await.expect("enrolled");

        assert_eq!(
            active(&state, &device).await,
            vec![issued.certificate.serial]
        );
    }

    pub async fn enrol_while_an_active_certificate_exists_is_refused_and_writes_nothing(
        stores: DeviceStores,
    ) {
        let state = state(&stores, &[]);
        let device = unique("device");
        let first = enrol(&state, &device).await.expect("enrolled");
        let before = records(&state, &device).await;

        let again = enrol(&state, &device).await;

        match again {
            Err(DeviceError::AlreadyEnrolled(id)) => assert_eq!(id, device),
            other => panic!("expected AlreadyEnrolled, got {other:?}"),
        }
        assert_eq!(records(&state, &device).await, before);
        authenticated(&state, &first).await;
    }

    pub async fn enrol_is_allowed_again_once_every_record_is_revoked(stores: DeviceStores) {
        let state = state(&stores, &[]);
        let device = unique("device");
        let first = enrol(&state, &device).await.expect("enrolled");
        let renewed = renew(&state, &authenticated(&state, &first).await)
            .await
            .expect("renewed");
        assert!(
            devices::revoke(&state, &device, Some("sold"))
                .await
                .expect("revoke")
        );

        let again = enrol(&state, &device).await.expect("enrolled again");

        assert_eq!(
            active(&state, &device).await,
            vec![again.certificate.serial.clone()]
        );
        let renewed_record = state
            .certificates
            .get(&device, &renewed.certificate.serial)
            .await
            .expect("get")
            .expect("present");
        assert_eq!(renewed_record.revocation_reason.as_deref(), Some("sold"));
    }

    pub async fn enrol_supersedes_an_active_record_whose_certificate_has_expired(
        stores: DeviceStores,
    ) {
        let state = state(&stores, &[]);
        let device = unique("device");
        let expired = CertificateRecord {
            issued_at: now() - TimeDelta::days(8),
            expires_at: now() - TimeDelta::days(1),
            ..certificate(&device)
        };
        state
            .certificates
            .issue(&expired, &[], "superseded", now())
            .await
            .expect("issue");

        let issued = enrol(&state, &device).await.expect("enrolled");

        assert_eq!(
            active(&state, &device).await,
            vec![issued.certificate.serial]
        );
        let old = state
            .certificates
            .get(&device, &expired.serial)
            .await
            .expect("get")
            .expect("present");
        assert_eq!(old.revocation_reason.as_deref(), Some("superseded"));
    }

    pub async fn enrol_with_replace_active_supersedes_the_active_certificate(stores: DeviceStores) {
        let state = state(&stores, &[("ENROLLMENT_REPLACE_ACTIVE", "true")]);
        let device = unique("device");
        let first = enrol(&state, &device).await.expect("enrolled");

        let second = enrol(&state, &device).await.expect("enrolled again");

        assert_eq!(
            active(&state, &device).await,
            vec![second.certificate.serial]
        );
        let old = state
            .certificates
            .get(&device, &first.certificate.serial)
            .await
            .expect("get")
            .expect("present");
        assert!(old.revoked);
        assert_eq!(old.revocation_reason.as_deref(), Some("superseded"));
    }

    pub async fn concurrent_enrolments_of_a_new_device_leave_exactly_one_active(
        stores: DeviceStores,
    ) {
        let state = state(&stores, &[]);
        let device = unique("device");

        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let state = state.clone();
                let device = device.clone();
                tokio::spawn(async move { enrol(&state, &device).await })
            })
            .collect();
        let mut issued = Vec::new();
        for task in tasks {
            match task.await.expect("task") {
                Ok(certificate) => issued.push(certificate.certificate.serial),
                Err(DeviceError::AlreadyEnrolled(_) | DeviceError::EnrollmentConflict(_)) => {}
                Err(other) => panic!("unexpected error {other:?}"),
            }
        }

        assert_eq!(issued.len(), 1, "exactly one enrolment wins");
        let listed = records(&state, &device).await;
        assert_eq!(listed.len(), 1, "the losers wrote nothing: {listed:?}");
        assert_eq!(active(&state, &device).await, issued);
    }

    pub async fn concurrent_renewals_of_one_certificate_leave_exactly_one_active(
        stores: DeviceStores,
    ) {
        let state = state(&stores, &[]);
        let device = unique("device");
        let first = enrol(&state, &device).await.expect("enrolled");
        let presented = authenticated(&state, &first).await;

        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let state = state.clone();
                let presented = presented.clone();
                tokio::spawn(async move { renew(&state, &presented).await })
            })
            .collect();
        let mut issued = Vec::new();
        for task in tasks {
            match task.await.expect("task") {
                Ok(certificate) => issued.push(certificate.certificate.serial),
                Err(DeviceError::Superseded) => {}
                Err(other) => panic!("unexpected error {other:?}"),
            }
        }

        assert_eq!(issued.len(), 1, "exactly one renewal wins");
        assert_eq!(records(&state, &device).await.len(), 2);
        assert_eq!(active(&state, &device).await, issued);
    }

    pub async fn renewal_racing_enrolments_with_replace_active_leaves_exactly_one_active(
        stores: DeviceStores,
    ) {
        let state = state(&stores, &[("ENROLLMENT_REPLACE_ACTIVE", "true")]);
        let device = unique("device");
        let first = enrol(&state, &device).await.expect("enrolled");
        let presented = authenticated(&state, &first).await;

        let renewal = {
            let state = state.clone();
            tokio::spawn(async move { renew(&state, &presented).await })
        };
        let enrolments: Vec<_> = (0..2)
            .map(|_| {
                let state = state.clone();
                let device = device.clone();
                tokio::spawn(async move { enrol(&state, &device).await })
            })
            .collect();
        let mut issued = Vec::new();
        match renewal.await.expect("task") {
            Ok(certificate) => issued.push(certificate.certificate.serial),
            Err(DeviceError::Superseded) => {}
            Err(other) => panic!("unexpected renewal error {other:?}"),
        }
        for task in enrolments {
            match task.await.expect("task") {
                Ok(certificate) => issued.push(certificate.certificate.serial),
                Err(DeviceError::EnrollmentConflict(_)) => {}
                Err(other) => panic!("unexpected enrolment error {other:?}"),
            }
        }

        assert!(!issued.is_empty());
        let listed = records(&state, &device).await;
        assert_eq!(
            listed.len(),
            1 + issued.len(),
            "only the winners wrote: {listed:?}"
        );
        let active = active(&state, &device).await;
        assert_eq!(active.len(), 1);
        assert!(issued.contains(&active[0]));
    }

    pub async fn renewal_of_a_certificate_superseded_meanwhile_is_refused_and_writes_nothing(
        stores: DeviceStores,
    ) {
        let state = state(&stores, &[]);
        let device = unique("device");
        let first = enrol(&state, &device).await.expect("enrolled");
        let presented = authenticated(&state, &first).await;
        let second = renew(&state, &presented).await.expect("renewed");

        let late = renew(&state, &presented).await;

        assert!(matches!(late, Err(DeviceError::Superseded)), "{late:?}");
        assert_eq!(records(&state, &device).await.len(), 2);
        assert_eq!(
            active(&state, &device).await,
            vec![second.certificate.serial]
        );
    }

    pub async fn admin_revoke_revokes_the_active_certificate_and_counts_it(stores: DeviceStores) {
        let state = state(&stores, &[]);
        let device = unique("device");
        let issued = enrol(&state, &device).await.expect("enrolled");
        let der = apuntador::pki::first_certificate_der(&issued.certificate.pem).expect("PEM");

        let count = devices::revoke_by_admin(&state, &device, None)
            .await
            .expect("revoke");

        assert_eq!(count, 1);
        assert!(active(&state, &device).await.is_empty());
        assert!(matches!(
            devices::authenticate(&state, &der, Utc::now()).await,
            Err(DeviceError::Revoked)
        ));
        assert_eq!(
            devices::revoke_by_admin(&state, &device, None)
                .await
                .expect("revoke again"),
            0
        );
        enrol(&state, &device)
            .await
            .expect("the device enrols again");
    }

    pub async fn admin_revoke_keeps_the_reason_or_says_manual_revocation(stores: DeviceStores) {
        let state = state(&stores, &[]);
        for (reason, stored) in [
            (None, "Manual revocation"),
            (Some("   "), "Manual revocation"),
            (Some("  phone lost "), "phone lost"),
        ] {
            let device = unique("device");
            let issued = enrol(&state, &device).await.expect("enrolled");

            devices::revoke_by_admin(&state, &device, reason)
                .await
                .expect("revoke");

            let record = state
                .certificates
                .get(&device, &issued.certificate.serial)
                .await
                .expect("get")
                .expect("present");
            assert_eq!(record.revocation_reason.as_deref(), Some(stored));
        }
    }

    pub async fn admin_revoke_of_a_device_without_records_is_not_found(stores: DeviceStores) {
        let state = state(&stores, &[]);
        let device = unique("device");

        let result = devices::revoke_by_admin(&state, &device, None).await;

        match result {
            Err(DeviceError::DeviceNotFound(id)) => assert_eq!(id, device),
            other => panic!("expected DeviceNotFound, got {other:?}"),
        }
    }
}

/// OAuth session store contract.
pub mod sessions {
    use super::*;

    type Store = Arc<dyn OAuthSessionStore>;

    pub async fn peek_returns_the_created_session(store: Store) {
        let session = session(TimeDelta::minutes(10));

        store.create(&session).await.expect("create");
        let read = store
            .peek(&session.state)
            .await
            .expect("peek")
            .expect("present");

        assert_same_session(&read, &session);
    }

    pub async fn peek_returns_none_for_an_unknown_state(store: Store) {
        assert!(store.peek(&unique("state")).await.expect("peek").is_none());
    }

    pub async fn peek_does_not_consume_the_session(store: Store) {
        let session = session(TimeDelta::minutes(10));
        store.create(&session).await.expect("create");

        store
            .peek(&session.state)
            .await
            .expect("peek")
            .expect("present");
        let consumed = store
            .consume(&session.state)
            .await
            .expect("consume")
            .expect("present");

        assert_same_session(&consumed, &session);
    }

    pub async fn peek_treats_an_expired_session_as_absent(store: Store) {
        let session = session(-TimeDelta::minutes(1));
        store.create(&session).await.expect("create");

        assert!(store.peek(&session.state).await.expect("peek").is_none());
    }

    pub async fn create_fails_with_conflict_when_the_state_exists(store: Store) {
        let first = session(TimeDelta::minutes(10));
        store.create(&first).await.expect("create");
        let second = OAuthSession {
            code_verifier: SecretString::from("another-verifier".to_owned()),
            ..first.clone()
        };

        assert_conflict(store.create(&second).await);
        let read = store
            .peek(&first.state)
            .await
            .expect("peek")
            .expect("present");
        assert_same_session(&read, &first);
    }

    pub async fn consume_returns_the_session_exactly_once(store: Store) {
        let session = session(TimeDelta::minutes(10));
        store.create(&session).await.expect("create");

        let first = store.consume(&session.state).await.expect("consume");
        let second = store.consume(&session.state).await.expect("consume");

        assert_same_session(&first.expect("first consume gets the session"), &session);
        assert!(second.is_none());
        assert!(store.peek(&session.state).await.expect("peek").is_none());
    }

    pub async fn consume_treats_an_expired_session_as_absent(store: Store) {
        let session = session(-TimeDelta::seconds(5));
        store.create(&session).await.expect("create");

        assert!(
            store
                .consume(&session.state)
                .await
                .expect("consume")
                .is_none()
        );
    }

    pub async fn consume_gives_the_session_to_exactly_one_of_20_concurrent_callers(store: Store) {
        let session = session(TimeDelta::minutes(10));
        store.create(&session).await.expect("create");

        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let store = Arc::clone(&store);
                let state = session.state.clone();
                tokio::spawn(async move { store.consume(&state).await })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            if task.await.expect("task").expect("consume").is_some() {
                winners += 1;
            }
        }

        assert_eq!(winners, 1);
    }

    pub async fn delete_removes_the_session(store: Store) {
        let session = session(TimeDelta::minutes(10));
        store.create(&session).await.expect("create");

        store.delete(&session.state).await.expect("delete");

        assert!(store.peek(&session.state).await.expect("peek").is_none());
        assert!(
            store
                .consume(&session.state)
                .await
                .expect("consume")
                .is_none()
        );
    }

    pub async fn delete_of_an_unknown_state_succeeds(store: Store) {
        store.delete(&unique("state")).await.expect("delete");
    }

    pub async fn ping_succeeds(store: Store) {
        store.ping().await.expect("ping");
    }
}

/// Attestation store contract.
pub mod attestation {
    use super::*;

    type Store = Arc<dyn AttestationStore>;

    async fn put(store: &Store, record: &AttestationRecord) {
        store
            .put_result(record, CACHE_TTL)
            .await
            .expect("put_result");
    }

    async fn consume(store: &Store, record: &AttestationRecord, id: &str) -> bool {
        store
            .consume_result(
                record.platform,
                &record.device_id,
                id,
                record.generation,
                MAX_AGE,
            )
            .await
            .expect("consume_result")
    }

    fn id_of(record: &AttestationRecord) -> String {
        record
            .attestation_id
            .clone()
            .expect("a valid result has an id")
    }

    // Every test gets a fresh fixture (see `StoreFixture`), so the counter starts at zero.
    pub async fn generation_is_zero_before_any_bump(store: Store) {
        assert_eq!(store.generation().await.expect("generation"), 0);
    }

    pub async fn bump_generation_increments_and_returns_the_new_value(store: Store) {
        let first = store.bump_generation().await.expect("bump");
        let second = store.bump_generation().await.expect("bump");

        assert_eq!((first, second), (1, 2));
        assert_eq!(store.generation().await.expect("generation"), 2);
    }

    pub async fn bump_generation_counts_every_concurrent_bump(store: Store) {
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.bump_generation().await })
            })
            .collect();
        let mut returned = BTreeSet::new();
        for task in tasks {
            returned.insert(task.await.expect("task").expect("bump"));
        }

        assert_eq!(returned, (1..=10).collect());
        assert_eq!(store.generation().await.expect("generation"), 10);
    }

    pub async fn bump_generation_leaves_stored_results_in_place(store: Store) {
        let record = valid_result(Platform::Ios, &unique("device"));
        put(&store, &record).await;

        store.bump_generation().await.expect("bump");

        let read = store
            .get_result(Platform::Ios, &record.device_id)
            .await
            .expect("get_result");
        assert_eq!(read, Some(record));
    }

    pub async fn get_result_returns_the_stored_result(store: Store) {
        let record = valid_result(Platform::Android, &unique("device"));

        put(&store, &record).await;

        let read = store
            .get_result(Platform::Android, &record.device_id)
            .await
            .expect("get_result");
        assert_eq!(read, Some(record));
    }

    pub async fn get_result_returns_none_when_nothing_was_stored(store: Store) {
        let read = store
            .get_result(Platform::Android, &unique("device"))
            .await
            .expect("get_result");

        assert_eq!(read, None);
    }

    pub async fn get_result_treats_a_result_past_its_ttl_as_absent(store: Store) {
        let record = AttestationRecord {
            verified_at: now() - TimeDelta::hours(2),
            ..valid_result(Platform::Android, &unique("device"))
        };

        put(&store, &record).await;

        let read = store
            .get_result(Platform::Android, &record.device_id)
            .await
            .expect("get_result");
        assert_eq!(read, None);
    }

    pub async fn get_result_keeps_platforms_and_devices_apart(store: Store) {
        let device = unique("device");
        let android = valid_result(Platform::Android, &device);
        let ios = valid_result(Platform::Ios, &device);
        let other = valid_result(Platform::Android, &unique("other-device"));
        for record in [&android, &ios, &other] {
            put(&store, record).await;
        }

        assert_eq!(
            store
                .get_result(Platform::Android, &device)
                .await
                .expect("get"),
            Some(android)
        );
        assert_eq!(
            store.get_result(Platform::Ios, &device).await.expect("get"),
            Some(ios)
        );
        assert_eq!(
            store
                .get_result(Platform::Desktop, &device)
                .await
                .expect("get"),
            None
        );
        assert_eq!(
            store
                .get_result(Platform::Android, &other.device_id)
                .await
                .expect("get"),
            Some(other)
        );
    }

    pub async fn put_result_replaces_the_previous_result(store: Store) {
        let device = unique("device");
        let first = valid_result(Platform::Desktop, &device);
        put(&store, &first).await;
        let second = AttestationRecord {
            status: "invalid".into(),
            attestation_id: None,
            response: serde_json::json!({"status": "invalid"}),
            ..valid_result(Platform::Desktop, &device)
        };

        put(&store, &second).await;

        let read = store
            .get_result(Platform::Desktop, &device)
            .await
            .expect("get_result");
        assert_eq!(read, Some(second));
        assert!(!consume(&store, &first, &id_of(&first)).await);
    }

    pub async fn consume_result_marks_a_matching_result_consumed(store: Store) {
        let record = valid_result(Platform::Android, &unique("device"));
        put(&store, &record).await;

        assert!(consume(&store, &record, &id_of(&record)).await);

        let read = store
            .get_result(Platform::Android, &record.device_id)
            .await
            .expect("get");
        assert_eq!(
            read,
            Some(AttestationRecord {
                consumed: true,
                ..record
            })
        );
    }

    pub async fn consume_result_refuses_a_wrong_attestation_id(store: Store) {
        let record = valid_result(Platform::Android, &unique("device"));
        put(&store, &record).await;

        assert!(!consume(&store, &record, &unique("attestation-id")).await);
        assert!(!consume(&store, &record, "").await);
        assert!(consume(&store, &record, &id_of(&record)).await);
    }

    pub async fn consume_result_refuses_a_result_without_an_attestation_id(store: Store) {
        let record = AttestationRecord {
            attestation_id: None,
            ..valid_result(Platform::Android, &unique("device"))
        };
        put(&store, &record).await;

        assert!(!consume(&store, &record, "").await);
    }

    pub async fn consume_result_refuses_an_already_consumed_result(store: Store) {
        let record = valid_result(Platform::Ios, &unique("device"));
        put(&store, &record).await;

        assert!(consume(&store, &record, &id_of(&record)).await);
        assert!(!consume(&store, &record, &id_of(&record)).await);
    }

    pub async fn consume_result_refuses_a_result_of_an_older_generation(store: Store) {
        let record = valid_result(Platform::Ios, &unique("device"));
        put(&store, &record).await;

        let consumed = store
            .consume_result(
                Platform::Ios,
                &record.device_id,
                &id_of(&record),
                1,
                MAX_AGE,
            )
            .await
            .expect("consume_result");

        assert!(!consumed);
        assert!(consume(&store, &record, &id_of(&record)).await);
    }

    pub async fn consume_result_refuses_a_result_older_than_max_age(store: Store) {
        let record = AttestationRecord {
            verified_at: now() - TimeDelta::minutes(11),
            ..valid_result(Platform::Android, &unique("device"))
        };
        put(&store, &record).await;

        assert!(!consume(&store, &record, &id_of(&record)).await);
        let read = store
            .get_result(Platform::Android, &record.device_id)
            .await
            .expect("get");
        assert_eq!(read.map(|read| read.consumed), Some(false));
    }

    pub async fn consume_result_refuses_an_invalid_result(store: Store) {
        let record = AttestationRecord {
            status: "invalid".into(),
            ..valid_result(Platform::Android, &unique("device"))
        };
        put(&store, &record).await;

        assert!(!consume(&store, &record, &id_of(&record)).await);
    }

    pub async fn consume_result_refuses_when_no_result_is_stored(store: Store) {
        let record = valid_result(Platform::Android, &unique("device"));

        assert!(!consume(&store, &record, &id_of(&record)).await);
    }

    pub async fn consume_result_refuses_a_result_past_its_ttl(store: Store) {
        let record = AttestationRecord {
            verified_at: now() - TimeDelta::minutes(2),
            ..valid_result(Platform::Android, &unique("device"))
        };
        store
            .put_result(&record, Duration::from_secs(60))
            .await
            .expect("put_result");

        assert!(!consume(&store, &record, &id_of(&record)).await);
    }

    pub async fn consume_result_lets_exactly_one_of_20_concurrent_callers_consume(store: Store) {
        let record = valid_result(Platform::Android, &unique("device"));
        put(&store, &record).await;

        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let store = Arc::clone(&store);
                let record = record.clone();
                tokio::spawn(async move { consume(&store, &record, &id_of(&record)).await })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            if task.await.expect("task") {
                winners += 1;
            }
        }

        assert_eq!(winners, 1);
    }

    pub async fn delete_results_with_a_platform_deletes_only_that_platform(store: Store) {
        let device = unique("device");
        let android = valid_result(Platform::Android, &device);
        let ios = valid_result(Platform::Ios, &device);
        put(&store, &android).await;
        put(&store, &ios).await;

        store
            .delete_results(&device, Some(Platform::Android))
            .await
            .expect("delete_results");

        assert_eq!(
            store
                .get_result(Platform::Android, &device)
                .await
                .expect("get"),
            None
        );
        assert_eq!(
            store.get_result(Platform::Ios, &device).await.expect("get"),
            Some(ios)
        );
    }

    pub async fn delete_results_without_a_platform_deletes_every_platform_of_the_device(
        store: Store,
    ) {
        let device = unique("device");
        let other = valid_result(Platform::Android, &unique("other-device"));
        for platform in [Platform::Android, Platform::Ios, Platform::Desktop] {
            put(&store, &valid_result(platform, &device)).await;
        }
        put(&store, &other).await;

        store
            .delete_results(&device, None)
            .await
            .expect("delete_results");

        for platform in [Platform::Android, Platform::Ios, Platform::Desktop] {
            assert_eq!(
                store.get_result(platform, &device).await.expect("get"),
                None
            );
        }
        assert_eq!(
            store
                .get_result(Platform::Android, &other.device_id)
                .await
                .expect("get"),
            Some(other)
        );
    }

    pub async fn delete_results_keeps_the_desktop_binding(store: Store) {
        let device = unique("device");
        let fingerprint = "a".repeat(64);
        put(&store, &valid_result(Platform::Desktop, &device)).await;
        store
            .bind_if_absent(&device, &fingerprint)
            .await
            .expect("bind");

        store
            .delete_results(&device, None)
            .await
            .expect("delete_results");

        assert_eq!(
            store.get_binding(&device).await.expect("get_binding"),
            Some(fingerprint)
        );
    }

    pub async fn record_evidence_reports_first_seen_and_then_not(store: Store) {
        let hash = "c".repeat(64) + &unique("evidence");

        let first = store
            .record_evidence(Platform::Android, &hash, CACHE_TTL)
            .await
            .expect("rec");
        let second = store
            .record_evidence(Platform::Android, &hash, CACHE_TTL)
            .await
            .expect("rec");

        assert!(first);
        assert!(!second);
    }

    pub async fn record_evidence_keeps_platforms_apart(store: Store) {
        let hash = "d".repeat(64) + &unique("evidence");

        let android = store
            .record_evidence(Platform::Android, &hash, CACHE_TTL)
            .await
            .expect("rec");
        let ios = store
            .record_evidence(Platform::Ios, &hash, CACHE_TTL)
            .await
            .expect("rec");

        assert!(android);
        assert!(ios);
    }

    pub async fn record_evidence_treats_expired_evidence_as_unseen(store: Store) {
        let hash = "e".repeat(64) + &unique("evidence");

        let first = store
            .record_evidence(Platform::Ios, &hash, Duration::ZERO)
            .await
            .expect("rec");
        let again = store
            .record_evidence(Platform::Ios, &hash, CACHE_TTL)
            .await
            .expect("rec");
        let replay = store
            .record_evidence(Platform::Ios, &hash, CACHE_TTL)
            .await
            .expect("rec");

        assert!(first);
        assert!(again);
        assert!(!replay);
    }

    pub async fn get_binding_returns_none_for_an_unbound_device(store: Store) {
        assert_eq!(
            store
                .get_binding(&unique("device"))
                .await
                .expect("get_binding"),
            None
        );
    }

    pub async fn bind_if_absent_keeps_the_first_fingerprint(store: Store) {
        let device = unique("device");
        let first = "1".repeat(64);
        let second = "2".repeat(64);

        let bound_first = store.bind_if_absent(&device, &first).await.expect("bind");
        let bound_second = store.bind_if_absent(&device, &second).await.expect("bind");

        assert_eq!(bound_first, first);
        assert_eq!(bound_second, first);
        assert_eq!(
            store.get_binding(&device).await.expect("get_binding"),
            Some(first)
        );
    }

    pub async fn bind_if_absent_lets_exactly_one_of_20_concurrent_writers_win(store: Store) {
        let device = unique("device");

        let tasks: Vec<_> = (0..20)
            .map(|n| {
                let store = Arc::clone(&store);
                let device = device.clone();
                let fingerprint = format!("{n:064x}");
                tokio::spawn(async move { store.bind_if_absent(&device, &fingerprint).await })
            })
            .collect();
        let mut bound = BTreeSet::new();
        for task in tasks {
            bound.insert(task.await.expect("task").expect("bind"));
        }

        assert_eq!(
            bound.len(),
            1,
            "every writer sees the one winning fingerprint"
        );
        let winner = bound.into_iter().next();
        assert_eq!(
            store.get_binding(&device).await.expect("get_binding"),
            winner
        );
    }

    pub async fn delete_binding_removes_the_binding(store: Store) {
        let device = unique("device");
        store
            .bind_if_absent(&device, &"1".repeat(64))
            .await
            .expect("bind");

        store.delete_binding(&device).await.expect("delete_binding");

        assert_eq!(store.get_binding(&device).await.expect("get_binding"), None);
        let rebound = store
            .bind_if_absent(&device, &"2".repeat(64))
            .await
            .expect("bind");
        assert_eq!(rebound, "2".repeat(64));
    }

    fn rate_key(device: &str) -> String {
        format!("rate#desktop#{device}#{}", now().timestamp() / 3600)
    }

    fn window_end() -> DateTime<Utc> {
        DateTime::from_timestamp((now().timestamp() / 3600 + 1) * 3600, 0).expect("in range")
    }

    pub async fn increment_rate_counts_from_one(store: Store) {
        let key = rate_key(&unique("device"));

        let first = store
            .increment_rate(&key, window_end())
            .await
            .expect("increment");
        let second = store
            .increment_rate(&key, window_end())
            .await
            .expect("increment");

        assert_eq!((first, second), (1, 2));
    }

    pub async fn increment_rate_counts_every_concurrent_increment(store: Store) {
        let key = rate_key(&unique("device"));

        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let store = Arc::clone(&store);
                let key = key.clone();
                tokio::spawn(async move { store.increment_rate(&key, window_end()).await })
            })
            .collect();
        let mut counts = BTreeSet::new();
        for task in tasks {
            counts.insert(task.await.expect("task").expect("increment"));
        }

        assert_eq!(counts, (1..=20).collect());
        assert_eq!(
            store
                .increment_rate(&key, window_end())
                .await
                .expect("increment"),
            21
        );
    }

    pub async fn increment_rate_keeps_keys_apart(store: Store) {
        let first = rate_key(&unique("device"));
        let second = rate_key(&unique("device"));
        store
            .increment_rate(&first, window_end())
            .await
            .expect("increment");
        store
            .increment_rate(&first, window_end())
            .await
            .expect("increment");

        assert_eq!(
            store
                .increment_rate(&second, window_end())
                .await
                .expect("increment"),
            1
        );
    }

    pub async fn increment_rate_restarts_once_the_counter_has_expired(store: Store) {
        let key = rate_key(&unique("device"));
        // Kept until window_end + 1 hour: a window that ended two hours ago has expired.
        let ended = window_end() - TimeDelta::hours(3);

        let first = store.increment_rate(&key, ended).await.expect("increment");
        let second = store.increment_rate(&key, ended).await.expect("increment");

        assert_eq!((first, second), (1, 1));
    }
}
