//! [`IdeaStore`], written once for both backends (see `sqlite/mod.rs` for
//! the dialect seam this file is compiled against). The similar-ideas text
//! match is each backend's own (`ideas_search.rs`: FTS5 vs tsquery).
//!
//! Each write first locks the idea row ([`FOR_UPDATE`]; SQLite's
//! `BEGIN IMMEDIATE` already serialises every writer), so the denormalised
//! counts recomputed with `COUNT(*)` later in the transaction see every
//! committed vote or comment; a vote also takes a per-account lock
//! ([`lock_pair`]) so that two concurrent votes cannot both pass the budget.

use super::ideas_search::{push_similar_match, SIMILAR_RANK};
use super::notify::{deliver, Note};
use super::outbox::enqueue_in;
use super::{lock_pair, text, Backend, Conn, Db, BYTE_ORDER, FOR_UPDATE};
use crate::ideas::{
    IdeaQuery, IdeaSort, IdeaStore, Moderation, NewIdea, Notice, StatusUpdate, Visibility,
    VoteState,
};
use crate::{Result, StoreError};
use async_trait::async_trait;
use marquee_domain::ideas::{
    self, vote_fits_budget, Author, Idea, IdeaComment, IdeaStatus, Notification, PostingLimit,
    StatusChange,
};
use marquee_domain::{Millis, Role};
use sqlx::QueryBuilder;
use std::str::FromStr;

/// A week in ms: the trending decay scale.
const WEEK_MS: f64 = 7.0 * 24.0 * 3600.0 * 1000.0;

/// Namespace (first key) of the per-account lock of votes.
const VOTE_LOCK_NS: i32 = 0x1dea;
/// Namespace of the per-account lock that serialises posting (ideas and
/// comments) so that the rate limit is counted race-free on PostgreSQL.
const POST_LOCK_NS: i32 = 0x1deb;

/// Inside a write transaction: refuses the post when the author's posts in
/// `table` within the limit's window fill it (`posting_wait`).
pub(super) async fn check_posting_limit(
    conn: &mut Conn,
    table: &str,
    author_id: i64,
    limit: Option<PostingLimit>,
    now: Millis,
) -> Result<()> {
    let Some(limit) = limit else {
        return Ok(());
    };
    lock_pair(&mut *conn, POST_LOCK_NS, author_id).await?;
    let (n, oldest) = posted_since(&mut *conn, table, author_id, now - limit.window_ms).await?;
    match ideas::posting_wait(n, oldest, limit, now) {
        Some(retry_after_s) => Err(StoreError::RateLimited { retry_after_s }),
        None => Ok(()),
    }
}

const OPEN_STATUSES: &str = "('open', 'under_review', 'planned', 'in_progress')";

const AUTHOR_NAME: &str = "COALESCE((SELECT p.name FROM profiles p WHERE p.account_id = {a} \
     ORDER BY p.id LIMIT 1), 'Member #' || {a})";

fn author_name_sql(col: &str) -> String {
    AUTHOR_NAME.replace("{a}", col)
}

fn decode_err(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(e.into()))
}

fn status_of(s: &str) -> Result<IdeaStatus> {
    IdeaStatus::from_str(s).map_err(decode_err)
}

fn is_staff_role(role: Option<String>) -> bool {
    role.and_then(|r| Role::from_str(&r).ok())
        .is_some_and(Role::is_staff)
}

/// The select list of an idea row; binds the viewer once.
fn push_idea_select(qb: &mut QueryBuilder<'_, Db>, viewer: Option<i64>) {
    qb.push(
        "SELECT i.id, i.title, i.description, i.status, i.duplicate_of, i.release_note_url, \
         i.vote_count, i.comment_count, i.approved, i.hidden, i.locked, i.created_at, \
         i.status_changed_at, i.author_id, ",
    );
    qb.push(author_name_sql("i.author_id"));
    qb.push(
        " AS author_name, (SELECT a.role FROM accounts a WHERE a.id = i.author_id) AS author_role, \
         (SELECT string_agg(t.tag, '|' ORDER BY t.tag",
    );
    qb.push(BYTE_ORDER);
    qb.push(
        ") FROM idea_tags t WHERE t.idea_id = i.id) AS tag_list, \
         EXISTS (SELECT 1 FROM idea_votes v WHERE v.idea_id = i.id AND v.account_id = ",
    );
    qb.push_bind(viewer);
    qb.push(") AS voted");
}

/// An idea row ([`push_idea_select`]).
#[derive(sqlx::FromRow)]
struct IdeaRow {
    id: i64,
    title: String,
    description: String,
    status: String,
    duplicate_of: Option<i64>,
    release_note_url: Option<String>,
    vote_count: i64,
    comment_count: i64,
    approved: i64,
    hidden: i64,
    locked: i64,
    created_at: Millis,
    status_changed_at: Millis,
    author_id: i64,
    author_name: String,
    author_role: Option<String>,
    tag_list: Option<String>,
    voted: bool,
}

impl IdeaRow {
    fn into_idea(self) -> Result<Idea> {
        Ok(Idea {
            id: self.id,
            title: self.title,
            description: self.description,
            tags: self
                .tag_list
                .unwrap_or_default()
                .split('|')
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
            author: Author {
                id: self.author_id,
                name: self.author_name,
                staff: is_staff_role(self.author_role),
            },
            status: status_of(&self.status)?,
            duplicate_of: self.duplicate_of,
            release_note_url: self.release_note_url,
            votes: self.vote_count,
            comment_count: self.comment_count,
            approved: self.approved != 0,
            hidden: self.hidden != 0,
            locked: self.locked != 0,
            created_at: self.created_at,
            status_changed_at: self.status_changed_at,
            voted: self.voted,
        })
    }
}

async fn idea_in(conn: &mut Conn, id: i64, viewer: Option<i64>) -> Result<Option<Idea>> {
    let mut qb = QueryBuilder::new("");
    push_idea_select(&mut qb, viewer);
    qb.push(" FROM ideas i WHERE i.id = ").push_bind(id);
    qb.build_query_as::<IdeaRow>()
        .fetch_optional(&mut *conn)
        .await?
        .map(IdeaRow::into_idea)
        .transpose()
}

/// Status, approved, hidden, locked, duplicate_of of an idea.
struct IdeaFlags {
    status: IdeaStatus,
    visible: bool,
    locked: bool,
    duplicate_of: Option<i64>,
}

const FLAGS_SQL: &str =
    "SELECT status, approved, hidden, locked, duplicate_of FROM ideas WHERE id = $1";

async fn flags(conn: &mut Conn, id: i64) -> Result<IdeaFlags> {
    flags_sql(conn, id, FLAGS_SQL).await
}

/// [`flags`], locking the idea row until the transaction ends: what every
/// read-then-write of an idea starts with.
async fn lock_flags(conn: &mut Conn, id: i64) -> Result<IdeaFlags> {
    flags_sql(conn, id, &format!("{FLAGS_SQL}{FOR_UPDATE}")).await
}

async fn flags_sql(conn: &mut Conn, id: i64, sql: &str) -> Result<IdeaFlags> {
    let (status, approved, hidden, locked, duplicate_of): (String, i64, i64, i64, Option<i64>) =
        sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound { what: "idea" })?;
    Ok(IdeaFlags {
        status: status_of(&status)?,
        visible: approved != 0 && hidden == 0,
        locked: locked != 0,
        duplicate_of,
    })
}

fn closed_error(id: i64, f: &IdeaFlags, doing: &str) -> StoreError {
    let why = match (f.status, f.duplicate_of) {
        (IdeaStatus::Duplicate, Some(o)) => format!("idea #{id} was merged into #{o}"),
        (s, _) => format!("idea #{id} is {}", s.label().to_lowercase()),
    };
    StoreError::Limit {
        field: "idea",
        message: format!("{why}: closed ideas take no {doing}"),
    }
}

async fn recount_votes(conn: &mut Conn, idea_id: i64, now: Millis) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "UPDATE ideas SET vote_count = (SELECT COUNT(*) FROM idea_votes WHERE idea_id = $1), \
         updated_at = $2 WHERE id = $1 RETURNING vote_count",
    )
    .bind(idea_id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?)
}

async fn used_in(conn: &mut Conn, account_id: i64) -> Result<i64> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM idea_votes v JOIN ideas i ON i.id = v.idea_id \
         WHERE v.account_id = $1 AND i.status IN {OPEN_STATUSES}"
    ))
    .bind(account_id)
    .fetch_one(&mut *conn)
    .await?)
}

/// Notifies the subscribers of an idea (author, voters, commenters) but the actor.
async fn notify_subscribers(
    conn: &mut Conn,
    idea_id: i64,
    actor_id: i64,
    notice: &Notice,
    now: Millis,
) -> Result<u64> {
    let done = deliver(
        conn,
        "SELECT s.account_id AS a FROM ( \
           SELECT author_id AS account_id FROM ideas WHERE id = $1 \
           UNION SELECT account_id FROM idea_votes WHERE idea_id = $1 \
           UNION SELECT author_id FROM idea_comments WHERE idea_id = $1 \
         ) s WHERE s.account_id <> $2",
        &[idea_id, actor_id],
        &Note {
            kind: &notice.kind,
            message: &notice.message,
            link: &notice.link,
        },
        now,
    )
    .await?;
    if let Some(ev) = &notice.event {
        enqueue_in(conn, ev, now).await?;
    }
    Ok(done)
}

#[async_trait]
impl IdeaStore for Backend {
    async fn create_idea(
        &self,
        new: &NewIdea,
        limit: Option<PostingLimit>,
        now: Millis,
    ) -> Result<Idea> {
        let mut tx = self.begin_write().await?;
        check_posting_limit(&mut tx, "ideas", new.author_id, limit, now).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO ideas(author_id, title, description, approved, created_at, updated_at, status_changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(new.author_id)
        .bind(&new.title)
        .bind(&new.description)
        .bind(i64::from(new.approved))
        .bind(now)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        for t in &new.tags {
            sqlx::query(
                "INSERT INTO idea_tags(idea_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(t)
            .execute(&mut *tx)
            .await?;
        }
        let idea = idea_in(&mut tx, id, Some(new.author_id))
            .await?
            .ok_or(StoreError::NotFound { what: "idea" })?;
        tx.commit().await?;
        Ok(idea)
    }

    async fn idea(&self, id: i64, viewer: Option<i64>) -> Result<Option<Idea>> {
        let mut conn = self.read().await?;
        idea_in(&mut conn, id, viewer).await
    }

    async fn list_ideas(&self, q: &IdeaQuery) -> Result<Vec<Idea>> {
        let mut qb = QueryBuilder::new("");
        push_idea_select(&mut qb, q.viewer);
        qb.push(" FROM ideas i");
        if q.sort == IdeaSort::MyVotes {
            qb.push(" JOIN idea_votes mv ON mv.idea_id = i.id AND mv.account_id = ")
                .push_bind(q.viewer.unwrap_or(-1));
        }
        qb.push(" WHERE 1 = 1");
        match q.visibility {
            Visibility::Public => {
                qb.push(" AND i.hidden = 0 AND (i.approved = 1 OR i.author_id = ")
                    .push_bind(q.viewer.unwrap_or(-1))
                    .push(")");
            }
            Visibility::Pending => {
                qb.push(" AND i.approved = 0 AND i.hidden = 0");
            }
            Visibility::Hidden => {
                qb.push(" AND i.hidden = 1");
            }
            Visibility::All => {}
        }
        match q.status {
            Some(s) => {
                qb.push(" AND i.status = ").push_bind(s.as_str());
            }
            None if q.sort != IdeaSort::MyVotes => {
                qb.push(" AND i.status != 'duplicate'");
            }
            None => {}
        }
        if let Some(tag) = &q.tag {
            // TEXT cannot hold NUL: such a tag is stored nowhere, and binding it would fail.
            qb.push(" AND EXISTS (SELECT 1 FROM idea_tags t WHERE t.idea_id = i.id AND t.tag = ")
                .push_bind(text(tag).into_owned())
                .push(")");
        }
        if let Some(a) = q.author {
            qb.push(" AND i.author_id = ").push_bind(a);
        }
        match q.sort {
            IdeaSort::Trending => {
                // A vote's weight decays with its age in weeks (a vote from
                // the future counts as new).
                qb.push(" ORDER BY (SELECT COALESCE(SUM(1.0 / (1.0 + CASE WHEN v.created_at < ")
                    .push_bind(q.now)
                    .push(" THEN (")
                    .push_bind(q.now)
                    .push(" - v.created_at) / CAST(")
                    .push_bind(WEEK_MS)
                    .push(" AS DOUBLE PRECISION) ELSE 0 END)), 0) FROM idea_votes v WHERE v.idea_id = i.id) \
                     DESC, i.created_at DESC, i.id DESC");
            }
            IdeaSort::Top => {
                qb.push(" ORDER BY i.vote_count DESC, i.id DESC");
            }
            IdeaSort::New => {
                qb.push(" ORDER BY i.created_at DESC, i.id DESC");
            }
            IdeaSort::MyVotes => {
                qb.push(" ORDER BY mv.created_at DESC, i.id DESC");
            }
            IdeaSort::RecentlyChanged => {
                qb.push(" ORDER BY i.status_changed_at DESC, i.id DESC");
            }
        }
        qb.push(" LIMIT ")
            .push_bind(i64::from(q.limit))
            .push(" OFFSET ")
            .push_bind(i64::from(q.offset));
        let mut conn = self.read().await?;
        qb.build_query_as::<IdeaRow>()
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(IdeaRow::into_idea)
            .collect()
    }

    async fn similar_ideas(
        &self,
        text: &str,
        viewer: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Idea>> {
        let mut qb = QueryBuilder::new("");
        push_idea_select(&mut qb, viewer);
        if !push_similar_match(&mut qb, text) {
            return Ok(Vec::new());
        }
        qb.push(" AND i.hidden = 0 AND i.approved = 1 AND i.status <> 'duplicate' ORDER BY ")
            .push(SIMILAR_RANK)
            .push(", i.vote_count DESC, i.id LIMIT ")
            .push_bind(i64::from(limit));
        let mut conn = self.read().await?;
        qb.build_query_as::<IdeaRow>()
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(IdeaRow::into_idea)
            .collect()
    }

    async fn idea_tags(&self) -> Result<Vec<(String, i64)>> {
        let mut conn = self.read().await?;
        Ok(sqlx::query_as(&format!(
            "SELECT t.tag, COUNT(*) AS n FROM idea_tags t JOIN ideas i ON i.id = t.idea_id \
             WHERE i.hidden = 0 AND i.approved = 1 AND i.status != 'duplicate' \
             GROUP BY t.tag ORDER BY n DESC, t.tag{BYTE_ORDER} LIMIT 100"
        ))
        .fetch_all(&mut *conn)
        .await?)
    }

    async fn idea_author(&self, account_id: i64) -> Result<Option<Author>> {
        let mut conn = self.read().await?;
        let row: Option<(i64, Option<String>, String)> = sqlx::query_as(&format!(
            "SELECT a.id, a.role, {} AS name FROM accounts a WHERE a.id = $1",
            author_name_sql("a.id")
        ))
        .bind(account_id)
        .fetch_optional(&mut *conn)
        .await?;
        Ok(row.map(|(id, role, name)| Author {
            id,
            name,
            staff: is_staff_role(role),
        }))
    }

    async fn vote(
        &self,
        idea_id: i64,
        account_id: i64,
        budget: Option<u32>,
        now: Millis,
    ) -> Result<VoteState> {
        let mut tx = self.begin_write().await?;
        // The budget counts the account's votes across ideas: serialise the
        // account's votes.
        lock_pair(&mut tx, VOTE_LOCK_NS, account_id).await?;
        let f = lock_flags(&mut tx, idea_id).await?;
        if !f.visible {
            return Err(StoreError::NotFound { what: "idea" });
        }
        if f.status.is_closed() {
            return Err(closed_error(idea_id, &f, "votes"));
        }
        let already: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM idea_votes WHERE idea_id = $1 AND account_id = $2)",
        )
        .bind(idea_id)
        .bind(account_id)
        .fetch_one(&mut *tx)
        .await?;
        let mut used = used_in(&mut tx, account_id).await?;
        if !vote_fits_budget(budget, used, already) {
            let b = budget.unwrap_or(0);
            return Err(StoreError::Limit {
                field: "votes",
                message: format!(
                    "you have used all {b} of your votes; withdraw one, or wait until an idea you voted for closes and its vote comes back"
                ),
            });
        }
        if !already {
            sqlx::query(
                "INSERT INTO idea_votes(idea_id, account_id, created_at) VALUES ($1, $2, $3)",
            )
            .bind(idea_id)
            .bind(account_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            used += 1;
        }
        let votes = recount_votes(&mut tx, idea_id, now).await?;
        tx.commit().await?;
        Ok(VoteState {
            voted: true,
            votes,
            budget_used: used,
        })
    }

    async fn unvote(&self, idea_id: i64, account_id: i64) -> Result<VoteState> {
        let mut tx = self.begin_write().await?;
        let f = lock_flags(&mut tx, idea_id).await?;
        if f.status.is_closed() {
            return Err(closed_error(idea_id, &f, "vote changes"));
        }
        sqlx::query("DELETE FROM idea_votes WHERE idea_id = $1 AND account_id = $2")
            .bind(idea_id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        let votes: i64 = sqlx::query_scalar(
            "UPDATE ideas SET vote_count = (SELECT COUNT(*) FROM idea_votes WHERE idea_id = $1) \
             WHERE id = $1 RETURNING vote_count",
        )
        .bind(idea_id)
        .fetch_one(&mut *tx)
        .await?;
        let used = used_in(&mut tx, account_id).await?;
        tx.commit().await?;
        Ok(VoteState {
            voted: false,
            votes,
            budget_used: used,
        })
    }

    async fn votes_used(&self, account_id: i64) -> Result<i64> {
        let mut conn = self.read().await?;
        used_in(&mut conn, account_id).await
    }

    async fn ideas_posted_since(
        &self,
        account_id: i64,
        since: Millis,
    ) -> Result<(i64, Option<Millis>)> {
        let mut conn = self.read().await?;
        posted_since(&mut conn, "ideas", account_id, since).await
    }

    async fn comments_posted_since(
        &self,
        account_id: i64,
        since: Millis,
    ) -> Result<(i64, Option<Millis>)> {
        let mut conn = self.read().await?;
        posted_since(&mut conn, "idea_comments", account_id, since).await
    }

    async fn add_comment(
        &self,
        idea_id: i64,
        author_id: i64,
        body: &str,
        official: bool,
        limit: Option<PostingLimit>,
        now: Millis,
    ) -> Result<IdeaComment> {
        let mut tx = self.begin_write().await?;
        check_posting_limit(&mut tx, "idea_comments", author_id, limit, now).await?;
        let f = lock_flags(&mut tx, idea_id).await?;
        if !f.visible && !official {
            return Err(StoreError::NotFound { what: "idea" });
        }
        if f.locked {
            return Err(StoreError::Limit {
                field: "idea",
                message: format!("the thread of idea #{idea_id} is locked"),
            });
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO idea_comments(idea_id, author_id, body, official, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(idea_id)
        .bind(author_id)
        .bind(body)
        .bind(i64::from(official))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE ideas SET comment_count = (SELECT COUNT(*) FROM idea_comments \
             WHERE idea_id = $1 AND hidden = 0), updated_at = $2 WHERE id = $1",
        )
        .bind(idea_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let c = comments_in(&mut tx, idea_id, true, Some(id))
            .await?
            .pop()
            .ok_or(StoreError::NotFound { what: "comment" })?;
        tx.commit().await?;
        Ok(c)
    }

    async fn comments(&self, idea_id: i64, include_hidden: bool) -> Result<Vec<IdeaComment>> {
        let mut conn = self.read().await?;
        comments_in(&mut conn, idea_id, include_hidden, None).await
    }

    async fn set_comment_hidden(&self, comment_id: i64, hidden: bool) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let idea_id: i64 = sqlx::query_scalar(
            "UPDATE idea_comments SET hidden = $1 WHERE id = $2 RETURNING idea_id",
        )
        .bind(i64::from(hidden))
        .bind(comment_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound { what: "comment" })?;
        // Lock the idea before counting, so a comment committed meanwhile is counted.
        lock_flags(&mut tx, idea_id).await?;
        sqlx::query(
            "UPDATE ideas SET comment_count = (SELECT COUNT(*) FROM idea_comments \
             WHERE idea_id = $1 AND hidden = 0) WHERE id = $1",
        )
        .bind(idea_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(idea_id)
    }

    async fn status_history(&self, idea_id: i64) -> Result<Vec<StatusChange>> {
        let mut conn = self.read().await?;
        sqlx::query_as::<_, StatusRow>(&format!(
            "SELECT c.from_status, c.to_status, c.explanation, c.duplicate_of, c.release_note_url, \
             c.created_at, CASE WHEN c.actor_id IS NULL THEN NULL ELSE {} END AS actor \
             FROM idea_status_changes c WHERE c.idea_id = $1 ORDER BY c.created_at, c.id",
            author_name_sql("c.actor_id")
        ))
        .bind(idea_id)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|r| {
            Ok(StatusChange {
                from: status_of(&r.from_status)?,
                to: status_of(&r.to_status)?,
                explanation: r.explanation,
                duplicate_of: r.duplicate_of,
                release_note_url: r.release_note_url,
                actor: r.actor,
                at: r.created_at,
            })
        })
        .collect()
    }

    async fn change_status(&self, u: &StatusUpdate, notice: &Notice) -> Result<(Idea, u64)> {
        if u.to == IdeaStatus::Duplicate {
            return Err(StoreError::Invalid {
                field: "status",
                message: "mark a duplicate by merging it into the original (duplicate_of)".into(),
            });
        }
        let mut tx = self.begin_write().await?;
        let f = lock_flags(&mut tx, u.idea_id).await?;
        if f.status == IdeaStatus::Duplicate {
            return Err(closed_error(u.idea_id, &f, "status changes"));
        }
        if f.status == u.to {
            return Err(StoreError::Limit {
                field: "status",
                message: format!("idea #{} is already {}", u.idea_id, u.to.as_str()),
            });
        }
        let note = if u.to == IdeaStatus::Launched {
            u.release_note_url.clone()
        } else {
            None
        };
        sqlx::query(
            "UPDATE ideas SET status = $1, release_note_url = COALESCE($2, release_note_url), \
             status_changed_at = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(u.to.as_str())
        .bind(&note)
        .bind(u.now)
        .bind(u.now)
        .bind(u.idea_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO idea_status_changes(idea_id, actor_id, from_status, to_status, explanation, release_note_url, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(u.idea_id)
        .bind(u.actor_id)
        .bind(f.status.as_str())
        .bind(u.to.as_str())
        .bind(&u.explanation)
        .bind(&note)
        .bind(u.now)
        .execute(&mut *tx)
        .await?;
        let n = notify_subscribers(&mut tx, u.idea_id, u.actor_id, notice, u.now).await?;
        let idea = idea_in(&mut tx, u.idea_id, None)
            .await?
            .ok_or(StoreError::NotFound { what: "idea" })?;
        tx.commit().await?;
        Ok((idea, n))
    }

    async fn merge_idea(
        &self,
        duplicate: i64,
        original: i64,
        actor_id: i64,
        explanation: &str,
        now: Millis,
        notice: &Notice,
    ) -> Result<(Idea, u64)> {
        ideas::check_merge(duplicate, original, &[])?;
        let mut tx = self.begin_write().await?;
        // Lock both ideas, in id order so that two merges cannot deadlock.
        sqlx::query(&format!(
            "SELECT id FROM ideas WHERE id IN ($1, $2) ORDER BY id{FOR_UPDATE}"
        ))
        .bind(duplicate)
        .bind(original)
        .fetch_all(&mut *tx)
        .await?;
        let d = flags(&mut tx, duplicate).await?;
        if d.status == IdeaStatus::Duplicate {
            return Err(closed_error(duplicate, &d, "merges"));
        }
        let o = match flags(&mut tx, original).await {
            Err(StoreError::NotFound { .. }) => {
                return Err(StoreError::Invalid {
                    field: "duplicate_of",
                    message: format!("there is no idea #{original}"),
                })
            }
            other => other?,
        };
        // The original's chain of merges, nearest first, for the domain's
        // cycle and merge-into-a-duplicate rules.
        let mut chain = Vec::new();
        let mut cur = o.duplicate_of;
        while let Some(next) = cur {
            chain.push(next);
            if next == duplicate || chain.len() > 1000 {
                break;
            }
            cur = flags(&mut tx, next).await?.duplicate_of;
        }
        if chain.is_empty() && o.status == IdeaStatus::Duplicate {
            chain.push(original); // a duplicate whose link is lost
        }
        ideas::check_merge(duplicate, original, &chain)?;
        let n = notify_subscribers(&mut tx, duplicate, actor_id, notice, now).await?;
        sqlx::query(
            "INSERT INTO idea_votes(idea_id, account_id, created_at) \
             SELECT $1, account_id, created_at FROM idea_votes WHERE idea_id = $2 \
             ON CONFLICT DO NOTHING",
        )
        .bind(original)
        .bind(duplicate)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM idea_votes WHERE idea_id = $1")
            .bind(duplicate)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE ideas SET status = 'duplicate', duplicate_of = $1, vote_count = 0, \
             status_changed_at = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(original)
        .bind(now)
        .bind(now)
        .bind(duplicate)
        .execute(&mut *tx)
        .await?;
        recount_votes(&mut tx, original, now).await?;
        sqlx::query(
            "INSERT INTO idea_status_changes(idea_id, actor_id, from_status, to_status, explanation, duplicate_of, created_at) \
             VALUES ($1, $2, $3, 'duplicate', $4, $5, $6)",
        )
        .bind(duplicate)
        .bind(actor_id)
        .bind(d.status.as_str())
        .bind(explanation)
        .bind(original)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let idea = idea_in(&mut tx, original, None)
            .await?
            .ok_or(StoreError::NotFound { what: "idea" })?;
        tx.commit().await?;
        Ok((idea, n))
    }

    async fn moderate_idea(&self, idea_id: i64, action: Moderation, now: Millis) -> Result<Idea> {
        let set = match action {
            Moderation::Approve => "approved = 1",
            Moderation::Hide => "hidden = 1",
            Moderation::Unhide => "hidden = 0",
            Moderation::Lock => "locked = 1",
            Moderation::Unlock => "locked = 0",
        };
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(&format!(
            "UPDATE ideas SET {set}, updated_at = $1 WHERE id = $2"
        ))
        .bind(now)
        .bind(idea_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 0 {
            return Err(StoreError::NotFound { what: "idea" });
        }
        let idea = idea_in(&mut tx, idea_id, None)
            .await?
            .ok_or(StoreError::NotFound { what: "idea" })?;
        tx.commit().await?;
        Ok(idea)
    }

    async fn set_idea_tags(&self, idea_id: i64, tags: &[String], now: Millis) -> Result<Idea> {
        let mut tx = self.begin_write().await?;
        lock_flags(&mut tx, idea_id).await?;
        sqlx::query("DELETE FROM idea_tags WHERE idea_id = $1")
            .bind(idea_id)
            .execute(&mut *tx)
            .await?;
        for t in tags {
            sqlx::query(
                "INSERT INTO idea_tags(idea_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(idea_id)
            .bind(t)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE ideas SET updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(idea_id)
            .execute(&mut *tx)
            .await?;
        let idea = idea_in(&mut tx, idea_id, None)
            .await?
            .ok_or(StoreError::NotFound { what: "idea" })?;
        tx.commit().await?;
        Ok(idea)
    }

    async fn notifications(&self, account_id: i64, limit: u32) -> Result<Vec<Notification>> {
        let mut conn = self.read().await?;
        let rows: Vec<(i64, String, String, String, Millis, Option<Millis>)> = sqlx::query_as(
            "SELECT id, kind, message, link, created_at, read_at FROM notifications \
             WHERE account_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(account_id)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, kind, message, link, created_at, read_at)| Notification {
                    id,
                    kind,
                    message,
                    link,
                    created_at,
                    read_at,
                },
            )
            .collect())
    }

    async fn unread_notifications(&self, account_id: i64) -> Result<i64> {
        let mut conn = self.read().await?;
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM notifications WHERE account_id = $1 AND read_at IS NULL",
        )
        .bind(account_id)
        .fetch_one(&mut *conn)
        .await?)
    }

    async fn mark_notifications_read(&self, account_id: i64, now: Millis) -> Result<u64> {
        let mut conn = self.read().await?;
        Ok(sqlx::query(
            "UPDATE notifications SET read_at = $1 WHERE account_id = $2 AND read_at IS NULL",
        )
        .bind(now)
        .bind(account_id)
        .execute(&mut *conn)
        .await?
        .rows_affected())
    }
}

/// How many rows of `table` an author created after `since`, and the oldest's time.
async fn posted_since(
    conn: &mut Conn,
    table: &str,
    account_id: i64,
    since: Millis,
) -> Result<(i64, Option<Millis>)> {
    Ok(sqlx::query_as(&format!(
        "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM {table} \
         WHERE author_id = $1 AND created_at > $2"
    ))
    .bind(account_id)
    .bind(since)
    .fetch_one(&mut *conn)
    .await?)
}

async fn comments_in(
    conn: &mut Conn,
    idea_id: i64,
    include_hidden: bool,
    only: Option<i64>,
) -> Result<Vec<IdeaComment>> {
    Ok(    sqlx::query_as::<_, CommentRow>(&format!(
        "SELECT c.id, c.idea_id, c.author_id, c.body, c.official, c.hidden, c.created_at, \
         {} AS author_name, (SELECT a.role FROM accounts a WHERE a.id = c.author_id) AS author_role \
         FROM idea_comments c WHERE c.idea_id = $1 AND ($2 OR c.hidden = 0) \
         AND (CAST($3 AS BIGINT) IS NULL OR c.id = $3) ORDER BY c.created_at, c.id",
        author_name_sql("c.author_id")
    ))
    .bind(idea_id)
    .bind(include_hidden)
    .bind(only)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| IdeaComment {
        id: r.id,
        idea_id: r.idea_id,
        author: Author {
            id: r.author_id,
            name: r.author_name,
            staff: is_staff_role(r.author_role),
        },
        body: r.body,
        official: r.official != 0,
        hidden: r.hidden != 0,
        created_at: r.created_at,
    })
    .collect())
}

/// A row of [`comments_in`].
#[derive(sqlx::FromRow)]
struct CommentRow {
    id: i64,
    idea_id: i64,
    author_id: i64,
    body: String,
    official: i64,
    hidden: i64,
    created_at: Millis,
    author_name: String,
    author_role: Option<String>,
}

/// A row of `idea_status_changes`, with the actor's name.
#[derive(sqlx::FromRow)]
struct StatusRow {
    from_status: String,
    to_status: String,
    explanation: String,
    duplicate_of: Option<i64>,
    release_note_url: Option<String>,
    actor: Option<String>,
    created_at: Millis,
}
