//! The embedded backend: usage totals in a redb file, rate-limit counters in memory.
//!
//! Two tables. `usage_hourly_v1` maps (hour start, client key, provider, model) to the
//! five counters of [`Totals`]. The hour comes first, so a time range is one ordered scan.
//! `month_cost_v1` maps (month start, client key) to the month's cost, so a budget check
//! reads one row instead of a month of buckets. Every batch of records is one transaction,
//! committed durably before `record_batch` returns.
//!
//! redb locks the file: a second process that opens it gets
//! [`UsageError::DatabaseInUse`]. Rate-limit counters are per process, so several
//! gateways need the Redis backend for a shared limit.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::calendar::{hour_start, month_bounds};
use super::rate::{MemoryRateLimiter, RateDecision};
use super::{Aggregate, Totals, UsageError, UsageFilter, UsageRecord, UsageRow, matches};

type HourlyKey<'a> = (u64, &'a str, &'a str, &'a str);

const HOURLY: TableDefinition<HourlyKey, [u64; 5]> = TableDefinition::new("usage_hourly_v1");
const MONTH_COST: TableDefinition<(u64, &str), u64> = TableDefinition::new("month_cost_v1");

/// Usage totals in a local database file.
pub struct EmbeddedStore {
    database: Arc<Database>,
    path: PathBuf,
    rates: MemoryRateLimiter,
}

impl EmbeddedStore {
    /// Opens the database at `path`, creating it and its folder if needed.
    pub fn open(path: &Path) -> Result<EmbeddedStore, UsageError> {
        if let Some(folder) = path.parent().filter(|folder| !folder.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).map_err(|error| database_error("create the folder", path, error))?;
        }
        let database = match Database::create(path) {
            Ok(database) => database,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(UsageError::DatabaseInUse { path: path.to_path_buf() });
            }
            Err(error) => return Err(database_error("open", path, error)),
        };

        // Create both tables up front, so that readers never meet a missing table.
        let transaction = database.begin_write().map_err(|error| database_error("create tables", path, error))?;
        transaction.open_table(HOURLY).map_err(|error| database_error("create tables", path, error))?;
        transaction.open_table(MONTH_COST).map_err(|error| database_error("create tables", path, error))?;
        transaction.commit().map_err(|error| database_error("create tables", path, error))?;

        tracing::info!(path = %path.display(), "opened the embedded usage store");
        Ok(EmbeddedStore { database: Arc::new(database), path: path.to_path_buf(), rates: MemoryRateLimiter::default() })
    }

    pub async fn record_batch(&self, records: &[UsageRecord]) -> Result<(), UsageError> {
        let database = Arc::clone(&self.database);
        let path = self.path.clone();
        let records = records.to_vec();
        blocking(move || write_records(&database, &records).map_err(|error| database_error("record usage", &path, error))).await
    }

    pub async fn query(&self, filter: &UsageFilter) -> Result<Vec<UsageRow>, UsageError> {
        let database = Arc::clone(&self.database);
        let path = self.path.clone();
        let filter = filter.clone();
        blocking(move || read_rows(&database, &filter).map_err(|error| database_error("query usage", &path, error))).await
    }

    pub async fn month_cost_micro_usd(&self, client_key: &str, now_unix: u64) -> Result<u64, UsageError> {
        let database = Arc::clone(&self.database);
        let path = self.path.clone();
        let client_key = client_key.to_string();
        let (month_start, _) = month_bounds(now_unix);
        blocking(move || {
            read_month_cost(&database, month_start, &client_key).map_err(|error| database_error("read the month's cost", &path, error))
        })
        .await
    }

    pub fn take_rate(&self, client_key: &str, limit_per_minute: u32, now_unix: u64) -> RateDecision {
        self.rates.take(client_key, limit_per_minute, now_unix)
    }
}

fn write_records(database: &Database, records: &[UsageRecord]) -> Result<(), redb::Error> {
    let transaction = database.begin_write()?;
    {
        let mut hourly = transaction.open_table(HOURLY)?;
        let mut month_cost = transaction.open_table(MONTH_COST)?;
        for record in records {
            add_record(&mut hourly, &mut month_cost, record)?;
        }
    }
    transaction.commit()?;
    Ok(())
}

fn add_record(
    hourly: &mut redb::Table<HourlyKey, [u64; 5]>,
    month_cost: &mut redb::Table<(u64, &str), u64>,
    record: &UsageRecord,
) -> Result<(), redb::Error> {
    let hour = hour_start(record.at_unix);
    let key = (hour, record.client_key.as_str(), record.provider.as_str(), record.model.as_str());
    let mut totals = match hourly.get(key)? {
        Some(stored) => Totals::from_array(stored.value()),
        None => Totals::default(),
    };
    totals.add(&Totals::of(record));
    hourly.insert(key, totals.to_array())?;

    let (month_start, _) = month_bounds(record.at_unix);
    let key = (month_start, record.client_key.as_str());
    let cost = month_cost.get(key)?.map(|stored| stored.value()).unwrap_or(0);
    month_cost.insert(key, cost.saturating_add(record.cost_micro_usd))?;
    Ok(())
}

fn read_rows(database: &Database, filter: &UsageFilter) -> Result<Vec<UsageRow>, redb::Error> {
    let from_hour = hour_start(filter.from_unix.unwrap_or(0));
    let to_unix = filter.to_unix.unwrap_or(u64::MAX);
    let transaction = database.begin_read()?;
    let hourly = transaction.open_table(HOURLY)?;

    let mut aggregate = Aggregate::default();
    for item in hourly.range((from_hour, "", "", "")..)? {
        let (key, value) = item?;
        let (hour, client_key, provider, model) = key.value();
        if hour >= to_unix {
            break;
        }
        if matches(filter, client_key, provider, model) {
            aggregate.add(client_key, provider, model, &Totals::from_array(value.value()));
        }
    }
    Ok(aggregate.into_rows())
}

fn read_month_cost(database: &Database, month_start: u64, client_key: &str) -> Result<u64, redb::Error> {
    let transaction = database.begin_read()?;
    let month_cost = transaction.open_table(MONTH_COST)?;
    Ok(month_cost.get((month_start, client_key))?.map(|stored| stored.value()).unwrap_or(0))
}

fn database_error(action: &'static str, path: &Path, error: impl std::fmt::Display) -> UsageError {
    UsageError::Database { action, path: path.to_path_buf(), error: error.to_string() }
}

/// Runs database work on tokio's blocking pool: a commit waits for fsync.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, UsageError> + Send + 'static,
) -> Result<T, UsageError> {
    tokio::task::spawn_blocking(work).await.map_err(|error| UsageError::Task(error.to_string()))?
}
