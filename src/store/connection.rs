//! The pool as the store's queries see it: sea-orm's `DatabaseConnection`, except that on
//! SQLite no statement writes with `RETURNING` outside a transaction.
//!
//! sqlx reads the one row `fetch_one` asks for, then resets the statement and ignores what the
//! reset returns. For an `INSERT/UPDATE … RETURNING` in autocommit mode, SQLite commits at
//! that reset, so a commit that failed (a full or read-only disk, an I/O error) went unseen:
//! the write "succeeded" with a row that was never stored (a sign-in answered a token that did
//! not exist, and the next request was refused). Told that the backend has no `RETURNING`,
//! sea-orm executes each write to its end, where SQLite reports the failed commit, and reads
//! the row back with its key. Transactions are unaffected: their `COMMIT` is a statement of
//! its own whose failure is reported.

use std::ops::Deref;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, Statement,
};

#[derive(Clone, Debug)]
pub(super) struct Db(DatabaseConnection);

impl Db {
    pub(super) fn new(db: DatabaseConnection) -> Db {
        Db(db)
    }
}

/// Everything but the statements (transactions, ping, close) is the pool's own.
impl Deref for Db {
    type Target = DatabaseConnection;

    fn deref(&self) -> &DatabaseConnection {
        &self.0
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DbBackend {
        self.0.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.0.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.0.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.0.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.0.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.get_database_backend() != DbBackend::Sqlite && self.0.support_returning()
    }
}
