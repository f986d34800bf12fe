//! DynamoDB stores: certificate records in the certificate table, OAuth sessions
//! and attestation items in the sessions table.
//!
//! Items keep the previous deployment's keys, index names and attribute names; timestamps are written as
//! RFC 3339 `Z` whole seconds and read in the previous format too ([`timestamp`]). Every read that decides
//! authentication or consumption is a strongly consistent `GetItem`/`Query`; every create is conditional on
//! absence, every revoke/consume on the current state, and issue + supersede is one `TransactWriteItems`
//! conditioned on a per-device head item, so a device never has two active certificates.
//! No request path scans or reads an index. Items past their `ttl` (or `expires_at`) are absent to readers
//! and may be overwritten by writers whatever DynamoDB's TTL sweeper has done yet. Only the parent
//! `store::aws` module and its children import the AWS SDK; this module knows nothing of HTTP.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::BuildError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection, ProjectionType, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    TimeToLiveStatus, TransactWriteItem, Update,
};
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::{error_code, sdk_error};
use crate::config::{Platform, ProviderId};
use crate::store::sqlite::rate_key;
use crate::store::{
    AttestationRecord, AttestationStore, CertificateRecord, CertificateStore, OAuthSession,
    OAuthSessionStore, StoreError, StoreResult, timestamp,
};

/// One DynamoDB item.
type Item = HashMap<String, AttributeValue>;

/// The certificate table's GSI on `serial_number` (kept for compatibility and operations).
pub const SERIAL_INDEX: &str = "SerialIndex";
/// The certificate table's GSI on (`device_id`, `expires_at`) (kept for compatibility and operations).
pub const EXPIRATION_INDEX: &str = "ExpirationIndex";
/// The TTL attribute of both tables.
pub const TTL_ATTRIBUTE: &str = "ttl";

/// How long `AUTO_CREATE_RESOURCES` waits for a new table to become active.
const ACTIVE_WAIT: Duration = Duration::from_secs(60);
/// The key readiness reads: no item ever has it (device ids and state tokens never contain `#`).
const PROBE_KEY: &str = "meta#readiness-probe";
/// The sessions-table key of the attestation generation counter.
const GENERATION_KEY: &str = "meta#attestation-generation";
/// How often a transaction cancelled by a concurrent transaction on the same item is tried again.
const TRANSACTION_ATTEMPTS: u32 = 3;
/// How often `increment_rate` tries to restart an expired counter that others keep touching.
const RATE_ATTEMPTS: u32 = 5;

// Certificate table attribute names.
const DEVICE_ID: &str = "device_id";
const SERIAL_NUMBER: &str = "serial_number";
const PLATFORM: &str = "platform";
const ISSUED_AT: &str = "issued_at";
const EXPIRES_AT: &str = "expires_at";
const CERTIFICATE_PEM: &str = "certificate_pem";
const FINGERPRINT: &str = "fingerprint_sha256";
const REVOKED: &str = "revoked";
const REVOKED_AT: &str = "revoked_at";
const REVOCATION_REASON: &str = "revocation_reason";

// The per-device head item of the certificate table: every issue moves it to its next version in
// the same transaction, conditional on the version read before the device's records were listed, so
// two issues for one device can never both commit on the same view. It has no `expires_at` (so it is
// not in `ExpirationIndex`) and no `ttl` (it is never swept); revocations leave it alone, because a
// revocation never makes a record active.
const HEAD_PREFIX: &str = "head#";
const HEAD_VERSION: &str = "version";
const HEAD_ACTIVE_SERIAL: &str = "active_serial";
const HEAD_UPDATED_AT: &str = "updated_at";

// Sessions table attribute names.
const PK: &str = "pk";

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn b(value: bool) -> AttributeValue {
    AttributeValue::Bool(value)
}

/// A string attribute, or NULL when absent (`client_state`, `attestation_id`).
fn s_or_null(value: Option<&str>) -> AttributeValue {
    value.map_or(AttributeValue::Null(true), s)
}

/// Names the builder's missing field; building a request only fails on a programming error.
fn built<T>(result: Result<T, BuildError>) -> StoreResult<T> {
    result.map_err(|error| StoreError::Internal(format!("building a DynamoDB request: {error}")))
}

/// A present string attribute, or a store failure naming the attribute (never its value).
fn required_s<'a>(item: &'a Item, name: &str) -> StoreResult<&'a str> {
    optional_s(item, name)?
        .ok_or_else(|| StoreError::Internal(format!("an item lacks the string attribute {name}")))
}

/// A string attribute that may be absent or NULL.
fn optional_s<'a>(item: &'a Item, name: &str) -> StoreResult<Option<&'a str>> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(value)) => Ok(Some(value)),
        Some(_) => Err(StoreError::Internal(format!(
            "the attribute {name} is not a string"
        ))),
    }
}

/// A number attribute that may be absent or NULL, as an integer (a fraction is dropped).
fn optional_n(item: &Item, name: &str) -> StoreResult<Option<i64>> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(value)) => value
            .parse::<i64>()
            .ok()
            .or_else(|| {
                // Numbers written by other tools may carry a fraction or an exponent.
                // `as` saturates: epoch seconds and counters are far inside the range anyway.
                value
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .map(|v| v.trunc() as i64)
            })
            .map(Some)
            .ok_or_else(|| StoreError::Internal(format!("the attribute {name} is not a number"))),
        Some(_) => Err(StoreError::Internal(format!(
            "the attribute {name} is not a number"
        ))),
    }
}

/// A non-negative counter attribute (absent = 0).
fn counter(item: &Item, name: &str) -> StoreResult<u64> {
    let value = optional_n(item, name)?.unwrap_or(0);
    u64::try_from(value)
        .map_err(|_| StoreError::Internal(format!("the attribute {name} is negative")))
}

/// A boolean attribute that may be absent or NULL (absent = false).
fn optional_bool(item: &Item, name: &str) -> StoreResult<bool> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(false),
        Some(AttributeValue::Bool(value)) => Ok(*value),
        Some(_) => Err(StoreError::Internal(format!(
            "the attribute {name} is not a boolean"
        ))),
    }
}

/// Parses a timestamp attribute, naming only the attribute when it is unreadable.
fn time(item: &Item, name: &str) -> StoreResult<DateTime<Utc>> {
    parse_time(required_s(item, name)?, name)
}

fn parse_time(text: &str, name: &str) -> StoreResult<DateTime<Utc>> {
    timestamp::parse(text)
        .ok_or_else(|| StoreError::Internal(format!("unreadable timestamp in {name}")))
}

/// Epoch seconds `ttl` after `from`, saturating.
fn epoch_after(from: DateTime<Utc>, ttl: Duration) -> i64 {
    from.timestamp()
        .saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX))
}

/// Whether a cancelled transaction's reasons include a failed condition, a conflict with another
/// transaction, or throttling.
#[derive(Debug, Default)]
struct Cancellation {
    condition_failed: bool,
    transaction_conflict: bool,
    throttled: bool,
}

fn cancellation(
    error: &aws_sdk_dynamodb::error::SdkError<
        TransactWriteItemsError,
        aws_sdk_dynamodb::config::http::HttpResponse,
    >,
) -> Option<Cancellation> {
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        error.as_service_error()
    else {
        return None;
    };
    let mut found = Cancellation::default();
    for reason in cancelled.cancellation_reasons() {
        match reason.code() {
            Some("ConditionalCheckFailed") => found.condition_failed = true,
            Some("TransactionConflict") => found.transaction_conflict = true,
            Some("ThrottlingError" | "ProvisionedThroughputExceeded" | "RequestLimitExceeded") => {
                found.throttled = true;
            }
            _ => {}
        }
    }
    Some(found)
}

/// Runs `TransactWriteItems`; a cancellation caused by a concurrent transaction is tried again (it
/// then usually fails its condition, or succeeds when the other one failed).
async fn transact(
    client: &Client,
    items: Vec<TransactWriteItem>,
    context: &str,
) -> StoreResult<()> {
    let mut attempt = 1;
    loop {
        let result = client
            .transact_write_items()
            .set_transact_items(Some(items.clone()))
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(()),
            Err(error) => error,
        };
        let Some(cancelled) = cancellation(&error) else {
            return Err(sdk_error(context, &error));
        };
        if cancelled.condition_failed {
            return Err(StoreError::Conflict(format!(
                "{context}: a condition failed"
            )));
        }
        if cancelled.transaction_conflict && attempt < TRANSACTION_ATTEMPTS {
            attempt += 1;
            tokio::time::sleep(Duration::from_millis(25 * u64::from(attempt))).await;
            continue;
        }
        if cancelled.transaction_conflict {
            return Err(StoreError::Conflict(format!(
                "{context}: a concurrent change of the same records won"
            )));
        }
        if cancelled.throttled {
            return Err(StoreError::Unavailable(format!("{context}: throttled")));
        }
        return Err(sdk_error(context, &error));
    }
}

// ---------------------------------------------------------------------------------------------------
// Certificate table
// ---------------------------------------------------------------------------------------------------

/// Certificate records in a DynamoDB table keyed (`device_id`, `serial_number`).
#[derive(Debug, Clone)]
pub struct DynamoDbCertificateStore {
    client: Client,
    table: String,
}

impl DynamoDbCertificateStore {
    /// A store over `table`; nothing is sent until the first call.
    pub fn new(client: Client, table: &str) -> DynamoDbCertificateStore {
        DynamoDbCertificateStore {
            client,
            table: table.to_owned(),
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table when missing: on demand, key (`device_id`, `serial_number`), the
    /// `SerialIndex` and `ExpirationIndex` GSIs of the previous deployment, TTL on `ttl`; waits
    /// until it is active.
    pub async fn create_table_if_missing(&self) -> StoreResult<()> {
        let key_schema = vec![
            built(
                KeySchemaElement::builder()
                    .attribute_name(DEVICE_ID)
                    .key_type(KeyType::Hash)
                    .build(),
            )?,
            built(
                KeySchemaElement::builder()
                    .attribute_name(SERIAL_NUMBER)
                    .key_type(KeyType::Range)
                    .build(),
            )?,
        ];
        let attributes = [DEVICE_ID, SERIAL_NUMBER, EXPIRES_AT]
            .into_iter()
            .map(|name| {
                built(
                    AttributeDefinition::builder()
                        .attribute_name(name)
                        .attribute_type(ScalarAttributeType::S)
                        .build(),
                )
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let all = Projection::builder()
            .projection_type(ProjectionType::All)
            .build();
        let serial_index = built(
            GlobalSecondaryIndex::builder()
                .index_name(SERIAL_INDEX)
                .key_schema(built(
                    KeySchemaElement::builder()
                        .attribute_name(SERIAL_NUMBER)
                        .key_type(KeyType::Hash)
                        .build(),
                )?)
                .projection(all.clone())
                .build(),
        )?;
        let expiration_index = built(
            GlobalSecondaryIndex::builder()
                .index_name(EXPIRATION_INDEX)
                .key_schema(built(
                    KeySchemaElement::builder()
                        .attribute_name(DEVICE_ID)
                        .key_type(KeyType::Hash)
                        .build(),
                )?)
                .key_schema(built(
                    KeySchemaElement::builder()
                        .attribute_name(EXPIRES_AT)
                        .key_type(KeyType::Range)
                        .build(),
                )?)
                .projection(all)
                .build(),
        )?;
        create_table(
            &self.client,
            &self.table,
            key_schema,
            attributes,
            vec![serial_index, expiration_index],
        )
        .await
    }

    fn key(&self, device_id: &str, serial: &str) -> Item {
        HashMap::from([
            (DEVICE_ID.to_owned(), s(device_id)),
            (SERIAL_NUMBER.to_owned(), s(serial)),
        ])
    }

    /// The put of a device's head item, conditional on the head still having `version` (absent: no
    /// head, or a head without a version), moving it to the next version and naming `new` as the
    /// device's active record.
    fn head_put(
        &self,
        new: &CertificateRecord,
        version: Option<i64>,
        at: DateTime<Utc>,
    ) -> StoreResult<Put> {
        let mut item = head_key(&new.device_id);
        item.insert(
            HEAD_VERSION.to_owned(),
            n(version.unwrap_or(0).saturating_add(1)),
        );
        item.insert(HEAD_ACTIVE_SERIAL.to_owned(), s(&new.serial));
        item.insert(HEAD_UPDATED_AT.to_owned(), s(timestamp::format(at)));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .expression_attribute_names("#version", HEAD_VERSION);
        let put = match version {
            Some(version) => put
                .condition_expression("#version = :version")
                .expression_attribute_values(":version", n(version)),
            None => put.condition_expression("attribute_not_exists(#version)"),
        };
        built(put.build())
    }

    /// The conditional update that revokes one active, live record.
    fn revocation(
        &self,
        device_id: &str,
        serial: &str,
        reason: &str,
        at: DateTime<Utc>,
        now: i64,
    ) -> StoreResult<Update> {
        built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(self.key(device_id, serial)))
                .update_expression("SET #revoked = :true, #revoked_at = :at, #reason = :reason")
                .condition_expression(REVOCABLE)
                .set_expression_attribute_names(Some(revocation_names()))
                .set_expression_attribute_values(Some(revocation_values(reason, at, now)))
                .build(),
        )
    }
}

/// The key of a device's head item: partition `head#<device_id>`, sort key the same text, so that it
/// shares neither the device's partition (listings never see it) nor a `SerialIndex` partition with
/// another item. Device ids never contain `#`, serials are hexadecimal: no record can have this key.
fn head_key(device_id: &str) -> Item {
    let key = format!("{HEAD_PREFIX}{device_id}");
    HashMap::from([
        (DEVICE_ID.to_owned(), s(key.clone())),
        (SERIAL_NUMBER.to_owned(), s(key)),
    ])
}

/// The condition of a revocation: the record exists, is not revoked and is not past its `ttl` (rows of
/// the previous deployment have no `ttl` and may lack `revoked`).
const REVOCABLE: &str = "attribute_exists(#serial) \
     AND (attribute_not_exists(#revoked) OR #revoked = :false) \
     AND (attribute_not_exists(#ttl) OR #ttl > :now)";

fn revocation_names() -> HashMap<String, String> {
    HashMap::from([
        ("#serial".to_owned(), SERIAL_NUMBER.to_owned()),
        ("#revoked".to_owned(), REVOKED.to_owned()),
        ("#revoked_at".to_owned(), REVOKED_AT.to_owned()),
        ("#reason".to_owned(), REVOCATION_REASON.to_owned()),
        ("#ttl".to_owned(), TTL_ATTRIBUTE.to_owned()),
    ])
}

fn revocation_values(reason: &str, at: DateTime<Utc>, now: i64) -> Item {
    HashMap::from([
        (":true".to_owned(), b(true)),
        (":false".to_owned(), b(false)),
        (":at".to_owned(), s(timestamp::format(at))),
        (":reason".to_owned(), s(reason)),
        (":now".to_owned(), n(now)),
    ])
}

/// The item of a certificate record.
fn certificate_item(record: &CertificateRecord) -> Item {
    let mut item = HashMap::from([
        (DEVICE_ID.to_owned(), s(&record.device_id)),
        (SERIAL_NUMBER.to_owned(), s(&record.serial)),
        (PLATFORM.to_owned(), s(record.platform.as_str())),
        (ISSUED_AT.to_owned(), s(timestamp::format(record.issued_at))),
        (
            EXPIRES_AT.to_owned(),
            s(timestamp::format(record.expires_at)),
        ),
        (CERTIFICATE_PEM.to_owned(), s(&record.certificate_pem)),
        (REVOKED.to_owned(), b(record.revoked)),
        (TTL_ATTRIBUTE.to_owned(), n(record.ttl)),
    ]);
    if let Some(fingerprint) = &record.fingerprint_sha256 {
        item.insert(FINGERPRINT.to_owned(), s(fingerprint));
    }
    if let Some(at) = record.revoked_at {
        item.insert(REVOKED_AT.to_owned(), s(timestamp::format(at)));
    }
    if let Some(reason) = &record.revocation_reason {
        item.insert(REVOCATION_REASON.to_owned(), s(reason));
    }
    item
}

/// Reads a certificate item, in this service's format or the previous deployment's (timestamps with
/// `+0000` and fractions, no `fingerprint_sha256`, no `ttl`: such a row never expires in storage).
fn certificate_record(item: &Item) -> StoreResult<CertificateRecord> {
    let platform = Platform::parse(required_s(item, PLATFORM)?)
        .ok_or_else(|| StoreError::Internal("unknown platform in a certificate record".into()))?;
    Ok(CertificateRecord {
        device_id: required_s(item, DEVICE_ID)?.to_owned(),
        serial: required_s(item, SERIAL_NUMBER)?.to_owned(),
        platform,
        issued_at: time(item, ISSUED_AT)?,
        expires_at: time(item, EXPIRES_AT)?,
        certificate_pem: required_s(item, CERTIFICATE_PEM)?.to_owned(),
        fingerprint_sha256: optional_s(item, FINGERPRINT)?.map(str::to_owned),
        revoked: optional_bool(item, REVOKED)?,
        revoked_at: optional_s(item, REVOKED_AT)?
            .map(|text| parse_time(text, REVOKED_AT))
            .transpose()?,
        revocation_reason: optional_s(item, REVOCATION_REASON)?.map(str::to_owned),
        ttl: optional_n(item, TTL_ATTRIBUTE)?.unwrap_or(i64::MAX),
    })
}

/// Whether a certificate record is still live at `now` (epoch seconds).
fn live_certificate(record: &CertificateRecord, now: i64) -> bool {
    now < record.ttl
}

#[async_trait]
impl CertificateStore for DynamoDbCertificateStore {
    async fn get(&self, device_id: &str, serial: &str) -> StoreResult<Option<CertificateRecord>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.key(device_id, serial)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| sdk_error("reading a certificate record", &error))?;
        let now = Utc::now().timestamp();
        output
            .item()
            .map(certificate_record)
            .transpose()
            .map(|record| record.filter(|record| live_certificate(record, now)))
    }

    async fn list_for_device(&self, device_id: &str) -> StoreResult<Vec<CertificateRecord>> {
        let now = Utc::now().timestamp();
        let mut records = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#device = :device")
                .expression_attribute_names("#device", DEVICE_ID)
                .expression_attribute_values(":device", s(device_id))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|error| sdk_error("listing certificate records", &error))?;
            for item in output.items() {
                let record = certificate_record(item)?;
                if live_certificate(&record, now) {
                    records.push(record);
                }
            }
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(records),
            }
        }
    }

    async fn issue(
        &self,
        new: &CertificateRecord,
        supersede: &[String],
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let superseded: BTreeSet<&String> = supersede.iter().collect();
        if superseded.contains(&new.serial) {
            // The new serial cannot both be absent and be an active record.
            return Err(StoreError::Conflict(
                "issuing a certificate: the new serial is among the superseded ones".into(),
            ));
        }
        // The head is read before the device's records are listed: every issue that committed before
        // this read is then visible to the listing, and every issue that commits after it changes the
        // head's version, which fails this transaction's condition on the head.
        let head = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(head_key(&new.device_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| sdk_error("reading a device head", &error))?;
        let version = head
            .item()
            .map(|item| optional_n(item, HEAD_VERSION))
            .transpose()?
            .flatten();
        let active: BTreeSet<String> = self
            .list_for_device(&new.device_id)
            .await?
            .into_iter()
            .filter(|record| !record.revoked)
            .map(|record| record.serial)
            .collect();
        if !active.iter().eq(superseded.iter().copied()) {
            return Err(StoreError::Conflict(
                "issuing a certificate: the device's active records changed".into(),
            ));
        }
        let now = Utc::now().timestamp();
        // A record past its ttl is absent: its serial may be taken again.
        let put = built(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(certificate_item(new)))
                .condition_expression("attribute_not_exists(#serial) OR #ttl <= :now")
                .expression_attribute_names("#serial", SERIAL_NUMBER)
                .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                .expression_attribute_values(":now", n(now))
                .build(),
        )?;
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        for serial in superseded {
            let update = self.revocation(&new.device_id, serial, reason, at, now)?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        items.push(
            TransactWriteItem::builder()
                .put(self.head_put(new, version, at)?)
                .build(),
        );
        transact(&self.client, items, "issuing a certificate").await
    }

    async fn revoke(
        &self,
        device_id: &str,
        serials: &[String],
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let now = Utc::now().timestamp();
        let serials: BTreeSet<&String> = serials.iter().collect();
        let mut revoked = 0;
        for serial in serials {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(self.key(device_id, serial)))
                .update_expression("SET #revoked = :true, #revoked_at = :at, #reason = :reason")
                .condition_expression(REVOCABLE)
                .set_expression_attribute_names(Some(revocation_names()))
                .set_expression_attribute_values(Some(revocation_values(reason, at, now)))
                .send()
                .await;
            match result {
                Ok(_) => revoked += 1,
                Err(error) => match sdk_error("revoking a certificate", &error) {
                    // Not active (revoked, expired or unknown): not counted.
                    StoreError::Conflict(_) => {}
                    other => return Err(other),
                },
            }
        }
        Ok(revoked)
    }

    async fn ping(&self) -> StoreResult<()> {
        self.client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.key(PROBE_KEY, PROBE_KEY)))
            .consistent_read(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| sdk_error("probing the certificate table", &error))
    }
}

// ---------------------------------------------------------------------------------------------------
// Sessions table
// ---------------------------------------------------------------------------------------------------

/// OAuth sessions and attestation items in a DynamoDB table keyed `pk`.
#[derive(Debug, Clone)]
pub struct DynamoDbSessionStore {
    client: Client,
    table: String,
}

impl DynamoDbSessionStore {
    /// A store over `table`; nothing is sent until the first call.
    pub fn new(client: Client, table: &str) -> DynamoDbSessionStore {
        DynamoDbSessionStore {
            client,
            table: table.to_owned(),
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table when missing: on demand, partition key `pk`, TTL on `ttl`; waits
    /// until it is active.
    pub async fn create_table_if_missing(&self) -> StoreResult<()> {
        let key_schema = vec![built(
            KeySchemaElement::builder()
                .attribute_name(PK)
                .key_type(KeyType::Hash)
                .build(),
        )?];
        let attributes = vec![built(
            AttributeDefinition::builder()
                .attribute_name(PK)
                .attribute_type(ScalarAttributeType::S)
                .build(),
        )?];
        create_table(
            &self.client,
            &self.table,
            key_schema,
            attributes,
            Vec::new(),
        )
        .await
    }

    fn key(pk: &str) -> Item {
        HashMap::from([(PK.to_owned(), s(pk))])
    }

    /// Strongly consistent read of one item.
    async fn get(&self, pk: &str, context: &str) -> StoreResult<Option<Item>> {
        self.client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk)))
            .consistent_read(true)
            .send()
            .await
            .map(|output| output.item)
            .map_err(|error| sdk_error(context, &error))
    }

    async fn delete(&self, pk: &str, context: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk)))
            .send()
            .await
            .map(|_| ())
            .map_err(|error| sdk_error(context, &error))
    }

    /// Puts `item` unless a live item holds its key (an item past its `ttl` is absent and replaced);
    /// returns whether it was written.
    async fn put_if_absent(&self, item: Item, now: i64, context: &str) -> StoreResult<bool> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #ttl <= :now")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) => match sdk_error(context, &error) {
                StoreError::Conflict(_) => Ok(false),
                other => Err(other),
            },
        }
    }
}

/// The key of a session.
fn session_key(state: &str) -> String {
    format!("oauth#{state}")
}

/// The item of a session: the fields of the [`OAuthSession`], `ttl` = `expires_at`.
fn session_item(session: &OAuthSession) -> Item {
    HashMap::from([
        (PK.to_owned(), s(session_key(&session.state))),
        ("state".to_owned(), s(&session.state)),
        ("provider".to_owned(), s(session.provider.as_str())),
        (
            "code_verifier".to_owned(),
            s(session.code_verifier.expose_secret()),
        ),
        ("redirect_uri".to_owned(), s(&session.redirect_uri)),
        (
            "provider_redirect_uri".to_owned(),
            s(&session.provider_redirect_uri),
        ),
        (
            "client_state".to_owned(),
            s_or_null(session.client_state.as_deref()),
        ),
        (
            "created_at".to_owned(),
            s(timestamp::format(session.created_at)),
        ),
        (
            "expires_at".to_owned(),
            s(timestamp::format(session.expires_at)),
        ),
        (TTL_ATTRIBUTE.to_owned(), n(session.expires_at.timestamp())),
    ])
}

/// Reads a session item; `None` when it is past its `expires_at`.
fn live_session(item: &Item, now: DateTime<Utc>) -> StoreResult<Option<OAuthSession>> {
    let provider = ProviderId::parse(required_s(item, "provider")?)
        .ok_or_else(|| StoreError::Internal("unknown provider in a session".into()))?;
    let session = OAuthSession {
        state: required_s(item, "state")?.to_owned(),
        provider,
        code_verifier: SecretString::from(required_s(item, "code_verifier")?.to_owned()),
        redirect_uri: required_s(item, "redirect_uri")?.to_owned(),
        provider_redirect_uri: required_s(item, "provider_redirect_uri")?.to_owned(),
        client_state: optional_s(item, "client_state")?.map(str::to_owned),
        created_at: time(item, "created_at")?,
        expires_at: time(item, "expires_at")?,
    };
    Ok((session.expires_at > now).then_some(session))
}

#[async_trait]
impl OAuthSessionStore for DynamoDbSessionStore {
    async fn create(&self, session: &OAuthSession) -> StoreResult<()> {
        let now = Utc::now().timestamp();
        if self
            .put_if_absent(session_item(session), now, "creating a session")
            .await?
        {
            Ok(())
        } else {
            Err(StoreError::Conflict(
                "creating a session: the state token already exists".into(),
            ))
        }
    }

    async fn peek(&self, state: &str) -> StoreResult<Option<OAuthSession>> {
        let item = self.get(&session_key(state), "reading a session").await?;
        item.map(|item| live_session(&item, Utc::now()))
            .transpose()
            .map(Option::flatten)
    }

    async fn consume(&self, state: &str) -> StoreResult<Option<OAuthSession>> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(&session_key(state))))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => output
                .attributes()
                .map(|item| live_session(item, Utc::now()))
                .transpose()
                .map(Option::flatten),
            Err(error) => match sdk_error("consuming a session", &error) {
                // Absent, or consumed by a concurrent caller.
                StoreError::Conflict(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn delete(&self, state: &str) -> StoreResult<()> {
        self.delete(&session_key(state), "deleting a session").await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.get(PROBE_KEY, "probing the sessions table")
            .await
            .map(|_| ())
    }
}

/// The key of the latest result of (platform, device).
fn result_key(platform: Platform, device_id: &str) -> String {
    format!("att#{}#{device_id}", platform.as_str())
}

/// The key of a desktop binding.
fn binding_key(device_id: &str) -> String {
    format!("dbind#{device_id}")
}

/// Reads an attestation result item.
fn attestation_record(
    item: &Item,
    platform: Platform,
    device_id: &str,
) -> StoreResult<AttestationRecord> {
    let response = required_s(item, "response")?;
    let response = serde_json::from_str(response).map_err(|error| {
        StoreError::Internal(format!(
            "an attestation result holds invalid JSON ({:?} error)",
            error.classify()
        ))
    })?;
    Ok(AttestationRecord {
        platform,
        device_id: device_id.to_owned(),
        status: required_s(item, "status")?.to_owned(),
        attestation_id: optional_s(item, "attestation_id")?.map(str::to_owned),
        verified_at: time(item, "verified_at")?,
        generation: counter(item, "generation")?,
        consumed: optional_bool(item, "consumed")?,
        response,
    })
}

/// Whether an item with a `ttl` is live at `now` (epoch seconds); an item without one never expires.
fn live_item(item: &Item, now: i64) -> StoreResult<bool> {
    Ok(optional_n(item, TTL_ATTRIBUTE)?.is_none_or(|ttl| now < ttl))
}

/// The oldest `verified_at` text that is at most `max_age` old at `now`.
///
/// Stored times are whole seconds, so rounding the cut-off up to a whole second keeps the comparison
/// exact; `timestamp::format` text has a fixed width, so it orders as the times do.
fn oldest_acceptable(now: DateTime<Utc>, max_age: Duration) -> String {
    let cutoff = now - TimeDelta::from_std(max_age).unwrap_or(TimeDelta::MAX);
    let whole = cutoff.trunc_subsecs(0);
    let rounded_up = if whole < cutoff {
        whole + TimeDelta::seconds(1)
    } else {
        whole
    };
    timestamp::format(rounded_up)
}

#[async_trait]
impl AttestationStore for DynamoDbSessionStore {
    async fn generation(&self) -> StoreResult<u64> {
        let item = self
            .get(GENERATION_KEY, "reading the attestation generation")
            .await?;
        item.map_or(Ok(0), |item| counter(&item, "generation"))
    }

    async fn bump_generation(&self) -> StoreResult<u64> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(GENERATION_KEY)))
            .update_expression("ADD #generation :one")
            .expression_attribute_names("#generation", "generation")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|error| sdk_error("bumping the attestation generation", &error))?;
        let attributes = output.attributes.unwrap_or_default();
        counter(&attributes, "generation")
    }

    async fn put_result(&self, record: &AttestationRecord, ttl: Duration) -> StoreResult<()> {
        let response = serde_json::to_string(&record.response).map_err(|error| {
            StoreError::Internal(format!(
                "writing an attestation result: {:?} JSON error",
                error.classify()
            ))
        })?;
        let item = HashMap::from([
            (
                PK.to_owned(),
                s(result_key(record.platform, &record.device_id)),
            ),
            ("status".to_owned(), s(&record.status)),
            (
                "attestation_id".to_owned(),
                s_or_null(record.attestation_id.as_deref()),
            ),
            (
                "verified_at".to_owned(),
                s(timestamp::format(record.verified_at)),
            ),
            ("generation".to_owned(), n(record.generation)),
            ("consumed".to_owned(), b(record.consumed)),
            ("response".to_owned(), s(response)),
            // The item lives until verified_at + ttl.
            (
                TTL_ATTRIBUTE.to_owned(),
                n(epoch_after(record.verified_at, ttl)),
            ),
        ]);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map(|_| ())
            .map_err(|error| sdk_error("writing an attestation result", &error))
    }

    async fn get_result(
        &self,
        platform: Platform,
        device_id: &str,
    ) -> StoreResult<Option<AttestationRecord>> {
        let item = self
            .get(
                &result_key(platform, device_id),
                "reading an attestation result",
            )
            .await?;
        let now = Utc::now().timestamp();
        match item {
            Some(item) if live_item(&item, now)? => {
                attestation_record(&item, platform, device_id).map(Some)
            }
            _ => Ok(None),
        }
    }

    async fn consume_result(
        &self,
        platform: Platform,
        device_id: &str,
        attestation_id: &str,
        generation: u64,
        max_age: Duration,
    ) -> StoreResult<bool> {
        if attestation_id.is_empty() {
            return Ok(false);
        }
        let now = Utc::now();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(&result_key(platform, device_id))))
            .update_expression("SET #consumed = :true")
            .condition_expression(
                "attribute_exists(#pk) AND #status = :valid AND #consumed = :false \
                 AND #generation = :generation AND #id = :id AND #ttl > :now \
                 AND #verified_at >= :oldest",
            )
            .set_expression_attribute_names(Some(HashMap::from([
                ("#pk".to_owned(), PK.to_owned()),
                ("#status".to_owned(), "status".to_owned()),
                ("#consumed".to_owned(), "consumed".to_owned()),
                ("#generation".to_owned(), "generation".to_owned()),
                ("#id".to_owned(), "attestation_id".to_owned()),
                ("#ttl".to_owned(), TTL_ATTRIBUTE.to_owned()),
                ("#verified_at".to_owned(), "verified_at".to_owned()),
            ])))
            .set_expression_attribute_values(Some(HashMap::from([
                (":true".to_owned(), b(true)),
                (":false".to_owned(), b(false)),
                (":valid".to_owned(), s("valid")),
                (":generation".to_owned(), n(generation)),
                (":id".to_owned(), s(attestation_id)),
                (":now".to_owned(), n(now.timestamp())),
                (":oldest".to_owned(), s(oldest_acceptable(now, max_age))),
            ])))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) => match sdk_error("consuming an attestation result", &error) {
                StoreError::Conflict(_) => Ok(false),
                other => Err(other),
            },
        }
    }

    async fn delete_results(&self, device_id: &str, platform: Option<Platform>) -> StoreResult<()> {
        const CONTEXT: &str = "deleting attestation results";
        if let Some(platform) = platform {
            return self.delete(&result_key(platform, device_id), CONTEXT).await;
        }
        // One transaction: every platform's result goes, or none does.
        let items = Platform::ALL
            .into_iter()
            .map(|platform| {
                built(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(Self::key(&result_key(platform, device_id))))
                        .build(),
                )
                .map(|delete| TransactWriteItem::builder().delete(delete).build())
            })
            .collect::<StoreResult<Vec<_>>>()?;
        transact(&self.client, items, CONTEXT).await
    }

    async fn record_evidence(
        &self,
        platform: Platform,
        sha256_hex: &str,
        ttl: Duration,
    ) -> StoreResult<bool> {
        let now = Utc::now().trunc_subsecs(0);
        let item = HashMap::from([
            (
                PK.to_owned(),
                s(format!("evidence#{}#{sha256_hex}", platform.as_str())),
            ),
            ("first_seen".to_owned(), s(timestamp::format(now))),
            (TTL_ATTRIBUTE.to_owned(), n(epoch_after(now, ttl))),
        ]);
        self.put_if_absent(item, now.timestamp(), "recording evidence")
            .await
    }

    async fn get_binding(&self, device_id: &str) -> StoreResult<Option<String>> {
        let item = self
            .get(&binding_key(device_id), "reading a binding")
            .await?;
        item.map(|item| required_s(&item, "fingerprint").map(str::to_owned))
            .transpose()
    }

    async fn bind_if_absent(&self, device_id: &str, fingerprint: &str) -> StoreResult<String> {
        const CONTEXT: &str = "binding a device";
        let pk = binding_key(device_id);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(&pk))
            .item("fingerprint", s(fingerprint))
            .item("bound_at", s(timestamp::format(Utc::now())))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(fingerprint.to_owned()),
            Err(error) => error,
        };
        if let Some(PutItemError::ConditionalCheckFailedException(failed)) =
            error.as_service_error()
            && let Some(item) = failed.item()
        {
            return required_s(item, "fingerprint").map(str::to_owned);
        }
        match sdk_error(CONTEXT, &error) {
            // The first writer won; the service did not return its item, so read it.
            StoreError::Conflict(_) => self
                .get(&pk, CONTEXT)
                .await?
                .map(|item| required_s(&item, "fingerprint").map(str::to_owned))
                .transpose()?
                .ok_or_else(|| StoreError::Internal(format!("{CONTEXT}: the binding vanished"))),
            other => Err(other),
        }
    }

    async fn delete_binding(&self, device_id: &str) -> StoreResult<()> {
        self.delete(&binding_key(device_id), "deleting a binding")
            .await
    }

    async fn increment_rate(&self, key: &str, window_end: DateTime<Utc>) -> StoreResult<u64> {
        const CONTEXT: &str = "incrementing a rate counter";
        let pk = rate_key(key);
        // Kept until the window's end plus one hour.
        let ttl = window_end.timestamp().saturating_add(3600);
        for _ in 0..RATE_ATTEMPTS {
            let now = Utc::now().timestamp();
            // Count on a live (or new) counter …
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(Self::key(&pk)))
                .update_expression("ADD #count :one SET #ttl = :ttl")
                .condition_expression("attribute_not_exists(#pk) OR #ttl > :now")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#count", "count")
                .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":ttl", n(ttl))
                .expression_attribute_values(":now", n(now))
                .return_values(ReturnValue::UpdatedNew)
                .send()
                .await;
            match result {
                Ok(output) => return counter(&output.attributes.unwrap_or_default(), "count"),
                Err(error) => match sdk_error(CONTEXT, &error) {
                    StoreError::Conflict(_) => {}
                    other => return Err(other),
                },
            }
            // … or restart an expired one that storage still holds.
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .item(PK, s(&pk))
                .item("count", n(1))
                .item(TTL_ATTRIBUTE, n(ttl))
                .condition_expression("#ttl <= :now")
                .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                .expression_attribute_values(":now", n(now))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(1),
                Err(error) => match sdk_error(CONTEXT, &error) {
                    // Restarted (or deleted) by a concurrent caller: count again.
                    StoreError::Conflict(_) => {}
                    other => return Err(other),
                },
            }
        }
        Err(StoreError::Unavailable(format!(
            "{CONTEXT}: the counter kept changing under concurrent updates"
        )))
    }
}

// ---------------------------------------------------------------------------------------------------
// AUTO_CREATE_RESOURCES
// ---------------------------------------------------------------------------------------------------

/// Creates `table` unless it exists, waits until it is active and enables TTL on `ttl` when disabled.
async fn create_table(
    client: &Client,
    table: &str,
    key_schema: Vec<KeySchemaElement>,
    attributes: Vec<AttributeDefinition>,
    indexes: Vec<GlobalSecondaryIndex>,
) -> StoreResult<()> {
    let context = format!("creating the DynamoDB table {table}");
    let described = client.describe_table().table_name(table).send().await;
    let exists = match described {
        Ok(_) => true,
        Err(error) if error_code(&error) == Some("ResourceNotFoundException") => false,
        Err(error) => return Err(sdk_error(&context, &error)),
    };
    if !exists {
        let created = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(key_schema))
            .set_attribute_definitions(Some(attributes))
            .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
            .send()
            .await;
        match created {
            Ok(_) => tracing::info!(dynamodb.table = table, "created the DynamoDB table"),
            // Another instance is creating it at the same time.
            Err(error) if error_code(&error) == Some("ResourceInUseException") => {}
            Err(error) => return Err(sdk_error(&context, &error)),
        }
    }
    wait_until_active(client, table, &context).await?;
    enable_ttl(client, table, &context).await
}

/// Polls `DescribeTable` until the table is active, for at most [`ACTIVE_WAIT`].
async fn wait_until_active(client: &Client, table: &str, context: &str) -> StoreResult<()> {
    let deadline = Instant::now() + ACTIVE_WAIT;
    loop {
        let output = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|error| sdk_error(context, &error))?;
        let status = output.table().and_then(|table| table.table_status());
        if status == Some(&TableStatus::Active) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(StoreError::Unavailable(format!(
                "{context}: not active after {} s",
                ACTIVE_WAIT.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Enables TTL on `ttl` unless TTL is already enabled (or being enabled).
async fn enable_ttl(client: &Client, table: &str, context: &str) -> StoreResult<()> {
    let output = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|error| sdk_error(context, &error))?;
    let status = output
        .time_to_live_description()
        .and_then(|description| description.time_to_live_status());
    if matches!(
        status,
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ) {
        return Ok(());
    }
    let specification = built(
        TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(TTL_ATTRIBUTE)
            .build(),
    )?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(specification)
        .send()
        .await
        .map(|_| ())
        .map_err(|error| sdk_error(context, &error))
}
