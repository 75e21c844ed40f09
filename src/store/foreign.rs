//! Reading another application's table (the devise_token_auth database `toker import dta`
//! imports from), on any of the three backends: its column names, its row count, and pages of
//! rows in key order with every value read as text, so callers decode one format whatever the
//! database. Read-only.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, Value};

use super::{StoreError, StoreResult};

/// A table in another database, opened for reading.
#[derive(Debug)]
pub struct ForeignTable {
    db: DatabaseConnection,
    backend: DbBackend,
    table: String,
}

/// A row: column → its value as text (`None` for NULL).
pub type TextRow = BTreeMap<String, Option<String>>;

/// Table and column names are written into SQL, so only plain identifiers are accepted.
pub fn plain_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

impl ForeignTable {
    /// Connects to `url` (postgres://, mysql://, sqlite://) to read `table`.
    pub async fn open(url: &str, table: &str) -> Result<ForeignTable, String> {
        if !plain_identifier(table) {
            return Err(format!(
                "table `{table}`: a name of letters, digits and _ is expected"
            ));
        }
        let mut opts = sea_orm::ConnectOptions::new(super::with_default_pg_user(url));
        opts.max_connections(2).sqlx_logging(false);
        let db = Database::connect(opts)
            .await
            .map_err(|e| format!("cannot connect to the source database: {e}"))?;
        Ok(ForeignTable {
            backend: db.get_database_backend(),
            db,
            table: table.to_string(),
        })
    }

    fn quote(&self, name: &str) -> String {
        match self.backend {
            DbBackend::MySql => format!("`{name}`"),
            _ => format!("\"{name}\""),
        }
    }

    /// The table's column names, in the table's order (none: no such table).
    pub async fn columns(&self) -> StoreResult<Vec<String>> {
        let sql = match self.backend {
            DbBackend::Postgres => {
                "SELECT CAST(column_name AS TEXT) AS name FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 \
                 ORDER BY ordinal_position"
            }
            DbBackend::MySql => {
                "SELECT CAST(column_name AS CHAR) AS name FROM information_schema.columns \
                 WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position"
            }
            _ => "SELECT name FROM pragma_table_info(?) ORDER BY cid",
        };
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(
                self.backend,
                sql,
                [Value::from(self.table.as_str())],
            ))
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String>("", "name").map_err(StoreError::from))
            .collect()
    }

    /// How many rows the table has.
    pub async fn count(&self) -> StoreResult<u64> {
        let sql = format!("SELECT COUNT(*) AS n FROM {}", self.quote(&self.table));
        let row = self
            .db
            .query_one_raw(Statement::from_string(self.backend, sql))
            .await?;
        let n: i64 = match row {
            Some(r) => r.try_get("", "n")?,
            None => 0,
        };
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Up to `limit` rows whose integer `key` is greater than `after`, in key order; each
    /// of `columns` read as text. `columns` must be names the table has (`columns()`).
    pub async fn page(
        &self,
        columns: &[String],
        key: &str,
        after: i64,
        limit: u64,
    ) -> StoreResult<Vec<TextRow>> {
        let text = match self.backend {
            DbBackend::MySql => "CHAR",
            _ => "TEXT",
        };
        let list: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("CAST({} AS {text}) AS c{i}", self.quote(c)))
            .collect();
        let placeholder = match self.backend {
            DbBackend::Postgres => "$1",
            _ => "?",
        };
        let sql = format!(
            "SELECT {} FROM {} WHERE {key} > {placeholder} ORDER BY {key} LIMIT {limit}",
            list.join(", "),
            self.quote(&self.table),
            key = self.quote(key),
        );
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(
                self.backend,
                sql,
                [Value::from(after)],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        r.try_get::<Option<String>>("", &format!("c{i}"))
                            .map(|v| (c.clone(), v))
                            .map_err(StoreError::from)
                    })
                    .collect()
            })
            .collect()
    }

    pub async fn close(self) {
        let _ = self.db.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_identifiers_go_into_sql() {
        for ok in ["users", "Users_2", "_x"] {
            assert!(plain_identifier(ok), "{ok}");
        }
        for bad in [
            "",
            "1users",
            "users;drop",
            "a.b",
            "a\"b",
            "a b",
            &"x".repeat(65),
        ] {
            assert!(!plain_identifier(bad), "{bad}");
        }
    }
}
