//! A batch's writes as data: statements with one row of bound values per affected row, run by the backend
//! ([`super::run_script`]) in whatever way suits it.
//!
//! - SQLite prepares each statement once, in its single-row form, and steps it once per row on the write
//!   connection's own handle, without a hop to sqlx's connection thread per statement. Parsing one
//!   multi-row statement per batch (thousands of placeholders, a new shape for every batch size) and
//!   binding every value through sqlx cost more than the rows themselves.
//! - PostgreSQL sends multi-row statements (`INSERT … VALUES (…), (…)`, `UPDATE … FROM (VALUES …)`), one
//!   round trip each, chunked under the parameter limit.
//!
//! Either way the statements run in the order they were added, in the caller's transaction. Values are
//! always bound, never spliced; the SQL pieces are the callers' literals.

use super::Db;
use crate::Result;
use sqlx::QueryBuilder;

// Each backend's copy of this module (see `queries/mod.rs`) uses one of the two forms below: SQLite the
// single-row form, PostgreSQL the multi-row one.

/// Most bind parameters in one statement (SQLite allows 32,766, PostgreSQL 65,535).
#[allow(dead_code)]
const MAX_PARAMS: usize = 30_000;

/// One bound value. NULLs keep their type (PostgreSQL infers a parameter's type from it).
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    Int(Option<i64>),
    Text(Option<String>),
    Bool(bool),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_string()))
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Self {
        Arg::Text(v.map(str::to_string))
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}

/// A piece of a statement's row template: SQL text, or the place of the next bound value.
#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    Sql(String),
    Param,
}

/// How a statement's rows make SQL.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// `<head> VALUES (<row>), (<row>)<tail>`
    Insert { tail: String },
    /// `<head> FROM (VALUES (<row>), (<row>)) AS v <tail>` (the row's values are `v.column1`, `v.column2`, …)
    UpdateFrom { tail: String },
    /// `<head>(<value>, <value>)`: one value per row.
    In,
    /// `<head><row>`: one row, no list.
    Plain,
}

/// One statement of a script.
#[derive(Debug)]
pub struct Statement {
    pub head: String,
    pub shape: Shape,
    /// The template every row follows (the SQL between a row's parentheses).
    pub row: Vec<Piece>,
    /// The bound values, one vector per row, in template order.
    pub rows: Vec<Vec<Arg>>,
}

impl Statement {
    /// The statement for one row, with `?` placeholders (SQLite).
    #[allow(dead_code)]
    pub fn single_row_sql(&self) -> String {
        let row: String = self
            .row
            .iter()
            .map(|p| match p {
                Piece::Sql(s) => s.as_str(),
                Piece::Param => "?",
            })
            .collect();
        match &self.shape {
            Shape::Insert { tail } => format!("{} VALUES ({row}){tail}", self.head),
            Shape::UpdateFrom { tail } => format!("{} FROM (VALUES ({row})) AS v {tail}", self.head),
            Shape::In => format!("{}(?)", self.head),
            Shape::Plain => format!("{}{row}", self.head),
        }
    }

    /// The statement for many rows, built for sqlx (PostgreSQL): one builder per chunk that fits the
    /// parameter limit.
    #[allow(dead_code)]
    pub fn multi_row_builders(&self) -> Vec<QueryBuilder<Db>> {
        let per_row = self.rows.first().map_or(1, Vec::len).max(1);
        let chunk_rows = (MAX_PARAMS / per_row).max(1);
        self.rows.chunks(chunk_rows).map(|chunk| self.builder_for(chunk)).collect()
    }

    /// The statement over all its rows as one query, built for sqlx (a one-row statement, e.g. a fact
    /// query from [`Script::single`]; a statement of many rows may pass the parameter limit).
    #[allow(dead_code)]
    pub fn query_builder(&self) -> QueryBuilder<Db> {
        self.builder_for(&self.rows)
    }

    #[allow(dead_code)]
    fn builder_for(&self, chunk: &[Vec<Arg>]) -> QueryBuilder<Db> {
        let mut qb = QueryBuilder::<Db>::new(&self.head);
        match &self.shape {
            Shape::Insert { .. } => qb.push(" VALUES "),
            Shape::UpdateFrom { .. } => qb.push(" FROM (VALUES "),
            Shape::In => qb.push("("),
            Shape::Plain => &mut qb,
        };
        for (i, values) in chunk.iter().enumerate() {
            if i > 0 {
                qb.push(", ");
            }
            match self.shape {
                Shape::In => push_args(&mut qb, &[Piece::Param], values),
                Shape::Plain => push_args(&mut qb, &self.row, values),
                _ => {
                    qb.push("(");
                    push_args(&mut qb, &self.row, values);
                    qb.push(")");
                }
            }
        }
        match &self.shape {
            Shape::Insert { tail } => qb.push(tail),
            Shape::UpdateFrom { tail } => qb.push(") AS v ").push(tail),
            Shape::In => qb.push(")"),
            Shape::Plain => &mut qb,
        };
        qb
    }
}

#[allow(dead_code)]
fn push_args(qb: &mut QueryBuilder<Db>, row: &[Piece], values: &[Arg]) {
    let mut values = values.iter();
    for piece in row {
        match piece {
            Piece::Sql(s) => {
                qb.push(s);
            }
            Piece::Param => match values.next().cloned() {
                Some(Arg::Int(v)) => {
                    qb.push_bind(v);
                }
                Some(Arg::Text(v)) => {
                    qb.push_bind(v);
                }
                Some(Arg::Bool(v)) => {
                    qb.push_bind(v);
                }
                None => {
                    qb.push("NULL");
                }
            },
        }
    }
}

/// Records one row: its values, and (for the statement's first row) the template.
pub struct RowBuilder<'a> {
    template: Option<&'a mut Vec<Piece>>,
    values: Vec<Arg>,
    separated: bool,
    empty: bool,
}

impl RowBuilder<'_> {
    fn separate(&mut self) {
        if self.separated && !self.empty {
            self.sql(", ");
        }
        self.empty = false;
    }

    fn sql(&mut self, sql: &str) {
        if let Some(t) = self.template.as_deref_mut() {
            match t.last_mut() {
                Some(Piece::Sql(s)) => s.push_str(sql),
                _ => t.push(Piece::Sql(sql.to_string())),
            }
        }
    }

    fn param(&mut self, value: Arg) {
        if let Some(t) = self.template.as_deref_mut() {
            t.push(Piece::Param);
        }
        self.values.push(value);
    }

    /// A bound value (after a `, ` in a row).
    pub fn push_bind(&mut self, value: impl Into<Arg>) -> &mut Self {
        self.separate();
        self.param(value.into());
        self
    }

    /// A bound value right after the previous piece.
    pub fn push_bind_unseparated(&mut self, value: impl Into<Arg>) -> &mut Self {
        self.empty = false;
        self.param(value.into());
        self
    }

    /// Literal SQL (after a `, ` in a row).
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.separate();
        self.sql(sql);
        self
    }
}

/// Statements to run together, in order (see the module documentation).
#[derive(Debug, Default)]
pub struct Script {
    pub statements: Vec<Statement>,
}

impl Script {
    /// `<head><sql and values>`: one statement, completed through the answered builder.
    pub fn statement(&mut self, head: &str, build: impl FnOnce(&mut RowBuilder<'_>)) {
        self.statements.push(Self::single(head, build));
    }

    /// A statement of its own (not part of a script), e.g. a query: `<head><sql and values>`.
    pub fn single(head: &str, build: impl FnOnce(&mut RowBuilder<'_>)) -> Statement {
        let mut row = Vec::new();
        let mut b = RowBuilder { template: Some(&mut row), values: Vec::new(), separated: false, empty: true };
        build(&mut b);
        let values = b.values;
        Statement { head: head.to_string(), shape: Shape::Plain, row, rows: vec![values] }
    }

    /// `INSERT INTO … VALUES (…), (…) <tail>` over `rows`.
    /// `rows` may be borrowed (`&rows`) or owned (the binder then moves values out of each row).
    pub fn insert_rows<I: IntoIterator>(
        &mut self,
        head: &str,
        tail: &str,
        rows: I,
        bind: impl FnMut(&mut RowBuilder<'_>, I::Item),
    ) {
        self.rows(head, Shape::Insert { tail: tail.to_string() }, rows, bind);
    }

    /// `UPDATE … FROM (VALUES (…), (…)) AS v <tail>` over `rows` (columns `v.column1`, `v.column2`, …).
    pub fn update_rows<I: IntoIterator>(
        &mut self,
        head: &str,
        tail: &str,
        rows: I,
        bind: impl FnMut(&mut RowBuilder<'_>, I::Item),
    ) {
        self.rows(head, Shape::UpdateFrom { tail: tail.to_string() }, rows, bind);
    }

    /// `<head> (…)` over `values` (e.g. `DELETE FROM t WHERE id IN `).
    pub fn delete_in(&mut self, head: &str, values: &[&str]) {
        if values.is_empty() {
            return;
        }
        let rows = values.iter().map(|v| vec![Arg::from(*v)]).collect();
        self.statements.push(Statement { head: head.to_string(), shape: Shape::In, row: vec![Piece::Param], rows });
    }

    fn rows<I: IntoIterator>(
        &mut self,
        head: &str,
        shape: Shape,
        rows: I,
        mut bind: impl FnMut(&mut RowBuilder<'_>, I::Item),
    ) {
        let rows = rows.into_iter();
        let mut template = Vec::new();
        let mut values: Vec<Vec<Arg>> = Vec::with_capacity(rows.size_hint().0);
        for row in rows {
            // Every row binds as many values as the first: later rows allocate their values once.
            let first = values.is_empty();
            let mut b = RowBuilder {
                template: if first { Some(&mut template) } else { None },
                values: Vec::with_capacity(values.first().map_or(0, Vec::len)),
                separated: true,
                empty: true,
            };
            bind(&mut b, row);
            values.push(b.values);
        }
        if values.is_empty() {
            return;
        }
        self.statements.push(Statement { head: head.to_string(), shape, row: template, rows: values });
    }

    /// Runs the statements in `tx`, in order.
    pub async fn run(self, tx: &mut sqlx::Transaction<'_, Db>) -> Result<()> {
        if self.statements.is_empty() {
            return Ok(());
        }
        super::run_script(tx, self).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_template_records_literals_and_places_of_values() {
        let mut script = Script::default();
        script.insert_rows("INSERT INTO t (a, b, c, d)", " ON CONFLICT DO NOTHING", &[1i64, 2], |b, n| {
            b.push_bind(*n).push("(SELECT 1) - ").push_bind_unseparated(*n).push("NULL").push_bind("x");
        });
        let s = &script.statements[0];
        assert_eq!(
            s.single_row_sql(),
            "INSERT INTO t (a, b, c, d) VALUES (?, (SELECT 1) - ?, NULL, ?) ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            s.rows,
            vec![
                vec![Arg::Int(Some(1)), Arg::Int(Some(1)), Arg::from("x")],
                vec![Arg::Int(Some(2)), Arg::Int(Some(2)), Arg::from("x")]
            ]
        );
    }

    #[test]
    fn update_in_and_plain_statements_have_their_single_row_forms() {
        let mut script = Script::default();
        script.update_rows("UPDATE t SET a = v.column2", "WHERE t.id = v.column1", &["k"], |b, k| {
            b.push_bind(*k).push_bind(None::<i64>);
        });
        script.delete_in("DELETE FROM t WHERE id IN ", &["a", "b"]);
        script.statement("UPDATE c SET value = value + ", |b| {
            b.push_bind(3i64).push(" WHERE name = 'n'");
        });
        let sql: Vec<String> = script.statements.iter().map(Statement::single_row_sql).collect();
        assert_eq!(
            sql,
            [
                "UPDATE t SET a = v.column2 FROM (VALUES (?, ?)) AS v WHERE t.id = v.column1",
                "DELETE FROM t WHERE id IN (?)",
                "UPDATE c SET value = value + ? WHERE name = 'n'"
            ]
        );
        assert_eq!(script.statements[1].rows.len(), 2);
    }

    #[test]
    fn no_rows_make_no_statement() {
        let mut script = Script::default();
        script.insert_rows("INSERT INTO t (a)", "", &[] as &[i64], |b, n| {
            b.push_bind(*n);
        });
        script.delete_in("DELETE FROM t WHERE id IN ", &[]);
        assert!(script.statements.is_empty());
    }
}
