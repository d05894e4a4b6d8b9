//! A small builder for the dynamic WHERE clauses of the configuration list endpoints (escalation
//! policies, services, maintenance windows). Every value is bound; only fixed SQL text is formatted.

use super::Db;

/// Conditions joined with AND, with their (string) bind values in placeholder order.
#[derive(Default)]
pub struct Filter {
    clauses: Vec<String>,
    binds: Vec<Bind>,
}

/// A value to bind: text or an integer (instants are BIGINT milliseconds).
pub enum Bind {
    Text(String),
    Int(i64),
}

impl Filter {
    /// The next placeholder (`$n`) for a value about to be bound.
    fn next(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    /// A fixed condition with no values.
    pub fn raw(&mut self, clause: &str) {
        self.clauses.push(clause.to_string());
    }

    /// `template` with every `{}` replaced by the placeholder of the one `value`.
    pub fn one(&mut self, template: &str, value: String) {
        let ph = self.next(Bind::Text(value));
        self.clauses.push(template.replace("{}", &ph));
    }

    /// `template` with every `{}` replaced by the placeholder of the one integer `value`.
    pub fn int(&mut self, template: &str, value: i64) {
        let ph = self.next(Bind::Int(value));
        self.clauses.push(template.replace("{}", &ph));
    }

    /// `template` with `{}` replaced by a comma-separated placeholder list for `values`. An empty set
    /// matches nothing.
    pub fn set(&mut self, template: &str, values: &[String]) {
        if values.is_empty() {
            self.clauses.push("1 = 0".into());
            return;
        }
        let list: Vec<String> = values.iter().map(|v| self.next(Bind::Text(v.clone()))).collect();
        self.clauses.push(template.replace("{}", &list.join(", ")));
    }

    /// `WHERE ...` (or nothing).
    pub fn where_sql(&self) -> String {
        if self.clauses.is_empty() { String::new() } else { format!(" WHERE {}", self.clauses.join(" AND ")) }
    }

    /// `COUNT(*)` of `table` under these conditions when `want` (a list asked for `total=true`), else `None`.
    pub async fn total(&self, read: &sqlx::Pool<Db>, table: &str, want: bool) -> crate::Result<Option<i64>> {
        if !want {
            return Ok(None);
        }
        let sql = format!("SELECT COUNT(*) FROM {table}{}", self.where_sql());
        let (count,): (i64,) =
            self.bind_as(sqlx::query_as::<Db, (i64,)>(sqlx::AssertSqlSafe(sql))).fetch_one(read).await?;
        Ok(Some(count))
    }

    /// `{select}` with these conditions, `ORDER BY {order}` and the `LIMIT`/`OFFSET` placeholders that
    /// follow this filter's values (bind the limit, then the offset, after [`Filter::bind_as`]).
    pub fn page_sql(&self, select: &str, order: &str) -> String {
        let n = self.len();
        format!("{select}{} ORDER BY {order} LIMIT ${} OFFSET ${}", self.where_sql(), n + 1, n + 2)
    }

    /// One page of rows of `{select}` under these conditions, in `order`.
    pub async fn fetch_page<O>(
        &self,
        read: &sqlx::Pool<Db>,
        select: &str,
        order: &str,
        limit: i64,
        offset: i64,
    ) -> crate::Result<Vec<O>>
    where
        O: for<'r> sqlx::FromRow<'r, <Db as sqlx::Database>::Row> + Send + Unpin,
    {
        let sql = self.page_sql(select, order);
        Ok(self
            .bind_as(sqlx::query_as::<Db, O>(sqlx::AssertSqlSafe(sql)))
            .bind(limit)
            .bind(offset)
            .fetch_all(read)
            .await?)
    }

    /// The number of values bound so far (the next `LIMIT`/`OFFSET` placeholders follow it).
    pub fn len(&self) -> usize {
        self.binds.len()
    }

    /// Binds this filter's values to a `query_as`.
    pub fn bind_as<'q, O>(
        &'q self,
        mut q: sqlx::query::QueryAs<'q, Db, O, <Db as sqlx::Database>::Arguments>,
    ) -> sqlx::query::QueryAs<'q, Db, O, <Db as sqlx::Database>::Arguments> {
        for value in &self.binds {
            q = match value {
                Bind::Text(text) => q.bind(text),
                Bind::Int(n) => q.bind(*n),
            };
        }
        q
    }
}

/// `(id, name)` of the live rows of `table` (teams, schedules: soft-deleted tables with a `name`) among
/// `ids`, in no particular order.
pub async fn live_names(read: &sqlx::Pool<Db>, table: &str, ids: &[String]) -> crate::Result<Vec<(String, String)>> {
    let mut w = Filter::default();
    w.raw("deleted_at IS NULL");
    w.set("id IN ({})", ids);
    let sql = format!("SELECT id, name FROM {table}{}", w.where_sql());
    Ok(w.bind_as(sqlx::query_as::<Db, (String, String)>(sqlx::AssertSqlSafe(sql))).fetch_all(read).await?)
}

/// `%text%` for a LIKE search, with LIKE's wildcards in the user's text escaped (`ESCAPE '\'`).
pub fn like_pattern(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{}%", escaped.to_lowercase())
}
