//! Moving a live installation from SQLite to PostgreSQL (`marquee migrate-data`).
//!
//! The copy reads one consistent snapshot of the SQLite database (a single read
//! transaction: WAL lets the server keep writing meanwhile) and writes every
//! table into an empty, freshly migrated PostgreSQL database in one
//! transaction with its foreign keys deferred, so either everything arrives or
//! nothing does. Identity sequences are moved past the copied ids.
//!
//! Then it verifies: for every table, the row count and a checksum over the
//! rows, computed the same way on both sides (each row rendered canonically
//! and hashed; the sorted row hashes hashed again, so row order and collation
//! do not matter). Any difference is an error and the copy is rolled back.

use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;
use crate::{Result, StoreError};
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::{Postgres, QueryBuilder, Row};

/// Rows per INSERT: under PostgreSQL's 65,535 bind parameters for any table here.
const CHUNK: usize = 500;

/// Reports progress of the copy.
pub trait CopyProgress {
    /// Starts a table of `rows` rows.
    fn table(&mut self, name: &str, rows: u64);
    /// `n` more rows of the current table copied.
    fn advance(&mut self, n: u64);
    /// The copy is over (verification follows).
    fn done(&mut self);
}

/// What was copied: one line per table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    /// Table name.
    pub table: String,
    /// Rows in the source snapshot.
    pub source_rows: u64,
    /// Rows in the target after the copy.
    pub target_rows: u64,
    /// Hex sha256 of the source rows (order-independent).
    pub source_checksum: String,
    /// Hex sha256 of the target rows, computed the same way.
    pub target_checksum: String,
}

/// The column types the two schemas use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColType {
    Int,
    Float,
    Text,
    Bytes,
}

#[derive(Debug, Clone)]
struct Column {
    name: String,
    ty: ColType,
}

/// One value, as read from either side.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Value {
    /// Canonical bytes for checksums: a type tag and the exact value.
    fn canonical(&self, out: &mut Vec<u8>) {
        match self {
            Value::Null => out.push(0),
            Value::Int(i) => {
                out.push(1);
                out.extend_from_slice(&i.to_le_bytes());
            }
            Value::Float(f) => {
                out.push(2);
                out.extend_from_slice(&f.to_bits().to_le_bytes());
            }
            Value::Text(s) => {
                out.push(3);
                out.extend_from_slice(&(s.len() as u64).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            Value::Bytes(b) => {
                out.push(4);
                out.extend_from_slice(&(b.len() as u64).to_le_bytes());
                out.extend_from_slice(b);
            }
        }
    }
}

fn row_hash(values: &[Value]) -> [u8; 32] {
    let mut buf = Vec::with_capacity(64);
    for v in values {
        v.canonical(&mut buf);
    }
    Sha256::digest(&buf).into()
}

fn table_checksum(mut hashes: Vec<[u8; 32]>) -> String {
    hashes.sort_unstable();
    let mut h = Sha256::new();
    for r in &hashes {
        h.update(r);
    }
    hex::encode(h.finalize())
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// One row's values, in the columns' order, from either backend.
fn read_row<'r, R>(row: &'r R, cols: &[Column]) -> Result<Vec<Value>>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    cols.iter()
        .enumerate()
        .map(|(i, c)| {
            Ok(match c.ty {
                ColType::Int => row
                    .try_get::<Option<i64>, _>(i)?
                    .map_or(Value::Null, Value::Int),
                ColType::Float => row
                    .try_get::<Option<f64>, _>(i)?
                    .map_or(Value::Null, Value::Float),
                ColType::Text => row
                    .try_get::<Option<String>, _>(i)?
                    .map_or(Value::Null, Value::Text),
                ColType::Bytes => row
                    .try_get::<Option<Vec<u8>>, _>(i)?
                    .map_or(Value::Null, Value::Bytes),
            })
        })
        .collect()
}

/// The tables to copy, in creation order: every table of the SQLite schema
/// except SQLite's own and its full-text index tables (PostgreSQL derives
/// those from generated columns).
async fn source_tables(conn: &mut sqlx::SqliteConnection) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT GLOB 'sqlite_*' AND name NOT GLOB '_sqlx_*' \
         AND name NOT GLOB '*_fts' AND name NOT GLOB '*_fts_*' ORDER BY rowid",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).map_err(StoreError::from))
        .collect()
}

/// The target's writable columns of a table (generated columns excluded),
/// which must all exist in the source.
async fn target_columns(
    conn: &mut sqlx::PgConnection,
    table: &str,
    source_cols: &[String],
) -> Result<Vec<Column>> {
    let rows = sqlx::query(
        "SELECT column_name, data_type FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER' \
         ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Err(StoreError::Invalid {
            field: "to",
            message: format!("the target database has no table {table}: schema versions differ"),
        });
    }
    let mut cols = Vec::with_capacity(rows.len());
    for r in rows {
        let name: String = r.try_get(0)?;
        let data_type: String = r.try_get(1)?;
        let ty = match data_type.as_str() {
            "bigint" | "integer" | "smallint" => ColType::Int,
            "double precision" | "real" | "numeric" => ColType::Float,
            "text" | "character varying" => ColType::Text,
            "bytea" => ColType::Bytes,
            other => {
                return Err(StoreError::Invalid {
                    field: "to",
                    message: format!("{table}.{name}: column type {other} is not supported"),
                })
            }
        };
        if !source_cols.iter().any(|c| c == &name) {
            return Err(StoreError::Invalid {
                field: "from",
                message: format!(
                    "the source has no column {table}.{name}: schema versions differ \
                     (run `marquee migrate` on the source first)"
                ),
            });
        }
        cols.push(Column { name, ty });
    }
    Ok(cols)
}

async fn source_columns(conn: &mut sqlx::SqliteConnection, table: &str) -> Result<Vec<String>> {
    let rows = sqlx::query(&format!("PRAGMA table_info({})", quote(table)))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>("name").map_err(StoreError::from))
        .collect()
}

/// Tables a migration fills with defaults (SLA policies, the plans' first
/// prices, the first canned responses): the target may hold those rows; the
/// source's replace them.
const SEEDED_TABLES: &[&str] = &["support_sla", "plan_prices", "support_canned"];

/// Copies every row of `src` into `dst` (which must be empty) and verifies
/// counts and checksums. Nothing is written to `dst` unless all of it verifies.
pub async fn copy_sqlite_to_postgres(
    src: &SqliteStore,
    dst: &PgStore,
    progress: &mut dyn CopyProgress,
) -> Result<Vec<TableReport>> {
    sqlx::migrate!("./migrations/postgres")
        .run(dst.pool())
        .await?;
    // One read transaction: a consistent snapshot while the server writes on.
    let mut s = src.pool().begin().await?;
    let mut t = dst.pool().begin().await?;
    sqlx::query("SET CONSTRAINTS ALL DEFERRED")
        .execute(&mut *t)
        .await?;

    let tables = source_tables(&mut s).await?;
    let mut plan = Vec::with_capacity(tables.len());
    for table in &tables {
        let src_cols = source_columns(&mut s, table).await?;
        let cols = target_columns(&mut t, table, &src_cols).await?;
        let existing: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", quote(table)))
            .fetch_one(&mut *t)
            .await?;
        if existing > 0 && !SEEDED_TABLES.contains(&table.as_str()) {
            return Err(StoreError::Invalid {
                field: "to",
                message: format!("the target is not empty: {table} has {existing} rows"),
            });
        }
        plan.push((table.clone(), cols));
    }

    let mut reports = Vec::with_capacity(plan.len());
    for (table, cols) in &plan {
        // Rows a migration seeds (`SEEDED_TABLES`) are replaced by the source's.
        sqlx::query(&format!("DELETE FROM {}", quote(table)))
            .execute(&mut *t)
            .await?;
        let list = cols
            .iter()
            .map(|c| quote(&c.name))
            .collect::<Vec<_>>()
            .join(", ");
        let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", quote(table)))
            .fetch_one(&mut *s)
            .await?;
        progress.table(table, u64::try_from(total).unwrap_or(0));
        let select = format!("SELECT {list} FROM {}", quote(table));
        let mut rows = sqlx::query(&select).fetch(&mut *s);
        let mut src_hashes = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
        let mut chunk = Vec::with_capacity(CHUNK);
        loop {
            let next = rows.try_next().await?;
            if let Some(row) = &next {
                let v = read_row(row, cols)?;
                src_hashes.push(row_hash(&v));
                chunk.push(v);
            }
            if chunk.len() == CHUNK || (next.is_none() && !chunk.is_empty()) {
                let n = chunk.len() as u64;
                let mut qb: QueryBuilder<Postgres> =
                    QueryBuilder::new(format!("INSERT INTO {} ({list}) ", quote(table)));
                qb.push_values(chunk.drain(..), |mut b, row| {
                    for v in row {
                        match v {
                            Value::Null => b.push("NULL"),
                            Value::Int(i) => b.push_bind(i),
                            Value::Float(f) => b.push_bind(f),
                            Value::Text(s) => b.push_bind(s),
                            Value::Bytes(v) => b.push_bind(v),
                        };
                    }
                });
                qb.build().execute(&mut *t).await?;
                progress.advance(n);
            }
            if next.is_none() {
                break;
            }
        }
        drop(rows);
        // Identity columns continue after the copied ids.
        if cols.iter().any(|c| c.name == "id") {
            let max: Option<i64> =
                sqlx::query_scalar(&format!("SELECT MAX(id) FROM {}", quote(table)))
                    .fetch_one(&mut *t)
                    .await?;
            let seq: Option<String> = sqlx::query_scalar("SELECT pg_get_serial_sequence($1, 'id')")
                .bind(table)
                .fetch_one(&mut *t)
                .await?;
            if let Some(seq) = seq {
                sqlx::query("SELECT setval($1::regclass, $2, false)")
                    .bind(seq)
                    .bind(max.unwrap_or(0) + 1)
                    .execute(&mut *t)
                    .await?;
            }
        }
        // Verify inside the transaction, before anything is committed.
        let back = sqlx::query(&format!("SELECT {list} FROM {}", quote(table)))
            .fetch_all(&mut *t)
            .await?;
        let mut dst_hashes = Vec::with_capacity(back.len());
        for row in &back {
            let v = read_row(row, cols)?;
            dst_hashes.push(row_hash(&v));
        }
        let report = TableReport {
            table: table.clone(),
            source_rows: src_hashes.len() as u64,
            target_rows: dst_hashes.len() as u64,
            source_checksum: table_checksum(src_hashes),
            target_checksum: table_checksum(dst_hashes),
        };
        if report.source_rows != report.target_rows
            || report.source_checksum != report.target_checksum
        {
            return Err(StoreError::Invalid {
                field: "to",
                message: format!(
                    "{table}: verification failed ({} rows / {} in the source, checksum {} / {})",
                    report.target_rows,
                    report.source_rows,
                    report.target_checksum,
                    report.source_checksum
                ),
            });
        }
        reports.push(report);
    }
    progress.done();
    // Deferred foreign keys are checked here; a dangling reference aborts it all.
    t.commit().await?;
    s.rollback().await?;
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Vec<Value>> {
        vec![
            vec![Value::Int(1), Value::Text("Heat".into()), Value::Float(4.5)],
            vec![Value::Int(2), Value::Null, Value::Float(3.0)],
            vec![Value::Int(3), Value::Text("Ran".into()), Value::Null],
        ]
    }

    #[test]
    fn checksum_ignores_row_order_but_not_values() {
        let a = table_checksum(rows().iter().map(|r| row_hash(r)).collect());
        let b = table_checksum(rows().iter().rev().map(|r| row_hash(r)).collect());
        assert_eq!(a, b);
        let mut changed = rows();
        changed[1][2] = Value::Float(3.000_000_1);
        let c = table_checksum(changed.iter().map(|r| row_hash(r)).collect());
        assert_ne!(a, c);
        // NULL and an empty string, 0 and 0.0 are different values.
        assert_ne!(
            row_hash(&[Value::Null]),
            row_hash(&[Value::Text(String::new())])
        );
        assert_ne!(row_hash(&[Value::Int(0)]), row_hash(&[Value::Float(0.0)]));
        // Column boundaries matter: ("ab","c") is not ("a","bc").
        assert_ne!(
            row_hash(&[Value::Text("ab".into()), Value::Text("c".into())]),
            row_hash(&[Value::Text("a".into()), Value::Text("bc".into())])
        );
    }
}
