//! SQLite implementation of [`IdeaStore`].

use super::outbox::enqueue_in;
use super::SqliteStore;
use crate::ideas::{
    similar_terms, IdeaQuery, IdeaSort, IdeaStore, Moderation, NewIdea, Notice, StatusUpdate,
    Visibility, VoteState,
};
use crate::{Result, StoreError};
use async_trait::async_trait;
use marquee_domain::ideas::{Author, Idea, IdeaComment, IdeaStatus, Notification, StatusChange};
use marquee_domain::{Millis, Role};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use std::str::FromStr;

/// A week in ms: the trending decay scale.
const WEEK_MS: f64 = 7.0 * 24.0 * 3600.0 * 1000.0;

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
fn push_idea_select(qb: &mut QueryBuilder<'_, Sqlite>, viewer: Option<i64>) {
    qb.push(
        "SELECT i.id, i.title, i.description, i.status, i.duplicate_of, i.release_note_url, \
         i.vote_count, i.comment_count, i.approved, i.hidden, i.locked, i.created_at, \
         i.status_changed_at, i.author_id, ",
    );
    qb.push(author_name_sql("i.author_id"));
    qb.push(
        " AS author_name, (SELECT a.role FROM accounts a WHERE a.id = i.author_id) AS author_role, \
         (SELECT GROUP_CONCAT(t.tag, '|') FROM (SELECT tag FROM idea_tags WHERE idea_id = i.id ORDER BY tag) t) AS tag_list, \
         EXISTS (SELECT 1 FROM idea_votes v WHERE v.idea_id = i.id AND v.account_id = ",
    );
    qb.push_bind(viewer);
    qb.push(") AS voted");
}

fn idea_from_row(row: &SqliteRow) -> Result<Idea> {
    let status: String = row.try_get("status")?;
    let tags: Option<String> = row.try_get("tag_list")?;
    Ok(Idea {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        tags: tags
            .unwrap_or_default()
            .split('|')
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        author: Author {
            id: row.try_get("author_id")?,
            name: row.try_get("author_name")?,
            staff: is_staff_role(row.try_get("author_role")?),
        },
        status: status_of(&status)?,
        duplicate_of: row.try_get("duplicate_of")?,
        release_note_url: row.try_get("release_note_url")?,
        votes: row.try_get("vote_count")?,
        comment_count: row.try_get("comment_count")?,
        approved: row.try_get::<i64, _>("approved")? != 0,
        hidden: row.try_get::<i64, _>("hidden")? != 0,
        locked: row.try_get::<i64, _>("locked")? != 0,
        created_at: row.try_get("created_at")?,
        status_changed_at: row.try_get("status_changed_at")?,
        voted: row.try_get::<i64, _>("voted")? != 0,
    })
}

async fn idea_in(
    conn: &mut SqliteConnection,
    id: i64,
    viewer: Option<i64>,
) -> Result<Option<Idea>> {
    let mut qb = QueryBuilder::new("");
    push_idea_select(&mut qb, viewer);
    qb.push(" FROM ideas i WHERE i.id = ").push_bind(id);
    qb.build()
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| idea_from_row(&r))
        .transpose()
}

/// Status, approved, hidden, locked, duplicate_of of an idea.
struct IdeaFlags {
    status: IdeaStatus,
    visible: bool,
    locked: bool,
    duplicate_of: Option<i64>,
}

async fn flags(conn: &mut SqliteConnection, id: i64) -> Result<IdeaFlags> {
    let row = sqlx::query(
        "SELECT status, approved, hidden, locked, duplicate_of FROM ideas WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound { what: "idea" })?;
    let status: String = row.try_get("status")?;
    Ok(IdeaFlags {
        status: status_of(&status)?,
        visible: row.try_get::<i64, _>("approved")? != 0 && row.try_get::<i64, _>("hidden")? == 0,
        locked: row.try_get::<i64, _>("locked")? != 0,
        duplicate_of: row.try_get("duplicate_of")?,
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

async fn recount_votes(conn: &mut SqliteConnection, idea_id: i64, now: Millis) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "UPDATE ideas SET vote_count = (SELECT COUNT(*) FROM idea_votes WHERE idea_id = ?1), \
         updated_at = ?2 WHERE id = ?1 RETURNING vote_count",
    )
    .bind(idea_id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?)
}

async fn used_in(conn: &mut SqliteConnection, account_id: i64) -> Result<i64> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM idea_votes v JOIN ideas i ON i.id = v.idea_id \
         WHERE v.account_id = ? AND i.status IN {OPEN_STATUSES}"
    ))
    .bind(account_id)
    .fetch_one(&mut *conn)
    .await?)
}

/// Notifies the subscribers of an idea (author, voters, commenters) but the actor.
async fn notify_subscribers(
    conn: &mut SqliteConnection,
    idea_id: i64,
    actor_id: i64,
    notice: &Notice,
    now: Millis,
) -> Result<u64> {
    let done = sqlx::query(
        "INSERT INTO notifications(account_id, kind, message, link, created_at) \
         SELECT s.account_id, ?2, ?3, ?4, ?5 FROM ( \
           SELECT author_id AS account_id FROM ideas WHERE id = ?1 \
           UNION SELECT account_id FROM idea_votes WHERE idea_id = ?1 \
           UNION SELECT author_id FROM idea_comments WHERE idea_id = ?1 \
         ) s WHERE s.account_id != ?6",
    )
    .bind(idea_id)
    .bind(&notice.kind)
    .bind(&notice.message)
    .bind(&notice.link)
    .bind(now)
    .bind(actor_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if let Some(ev) = &notice.event {
        enqueue_in(conn, ev, now).await?;
    }
    Ok(done)
}

/// Turns typed text into an FTS5 OR-query of quoted terms (the last one a
/// prefix, as it may still be being typed), without stop words.
fn similar_query(text: &str) -> Option<String> {
    let terms: Vec<String> = similar_terms(text)
        .into_iter()
        .map(|(w, prefix)| {
            if prefix {
                format!("\"{w}\"*")
            } else {
                format!("\"{w}\"")
            }
        })
        .collect();
    (!terms.is_empty()).then(|| terms.join(" OR "))
}

#[async_trait]
impl IdeaStore for SqliteStore {
    async fn create_idea(&self, new: &NewIdea, now: Millis) -> Result<Idea> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO ideas(author_id, title, description, approved, created_at, updated_at, status_changed_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
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
            sqlx::query("INSERT OR IGNORE INTO idea_tags(idea_id, tag) VALUES (?, ?)")
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
        let mut conn = self.pool.acquire().await?;
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
            qb.push(" AND EXISTS (SELECT 1 FROM idea_tags t WHERE t.idea_id = i.id AND t.tag = ")
                .push_bind(tag.clone())
                .push(")");
        }
        if let Some(a) = q.author {
            qb.push(" AND i.author_id = ").push_bind(a);
        }
        match q.sort {
            IdeaSort::Trending => {
                qb.push(
                    " ORDER BY (SELECT COALESCE(SUM(1.0 / (1.0 + MAX(0, ",
                )
                .push_bind(q.now)
                .push(" - v.created_at) / ")
                .push_bind(WEEK_MS)
                .push(")), 0) FROM idea_votes v WHERE v.idea_id = i.id) DESC, i.created_at DESC, i.id DESC");
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
        qb.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(idea_from_row)
            .collect()
    }

    async fn similar_ideas(
        &self,
        text: &str,
        viewer: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Idea>> {
        let Some(fts) = similar_query(text) else {
            return Ok(Vec::new());
        };
        let mut qb = QueryBuilder::new("");
        push_idea_select(&mut qb, viewer);
        qb.push(
            " FROM ideas_fts f JOIN ideas i ON i.id = f.rowid \
             WHERE ideas_fts MATCH ",
        )
        .push_bind(fts)
        .push(
            " AND i.hidden = 0 AND i.approved = 1 AND i.status != 'duplicate' \
             ORDER BY bm25(ideas_fts, 4.0, 1.0), i.vote_count DESC LIMIT ",
        )
        .push_bind(i64::from(limit));
        qb.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(idea_from_row)
            .collect()
    }

    async fn idea_tags(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT t.tag, COUNT(*) AS n FROM idea_tags t JOIN ideas i ON i.id = t.idea_id \
             WHERE i.hidden = 0 AND i.approved = 1 AND i.status != 'duplicate' \
             GROUP BY t.tag ORDER BY n DESC, t.tag LIMIT 100",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("tag")?, r.try_get("n")?)))
            .collect()
    }

    async fn idea_author(&self, account_id: i64) -> Result<Option<Author>> {
        let row = sqlx::query(&format!(
            "SELECT a.id, a.role, {} AS name FROM accounts a WHERE a.id = ?",
            author_name_sql("a.id")
        ))
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Author {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                staff: is_staff_role(r.try_get("role")?),
            })
        })
        .transpose()
    }

    async fn vote(
        &self,
        idea_id: i64,
        account_id: i64,
        budget: Option<u32>,
        now: Millis,
    ) -> Result<VoteState> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let f = flags(&mut tx, idea_id).await?;
        if !f.visible {
            return Err(StoreError::NotFound { what: "idea" });
        }
        if f.status.is_closed() {
            return Err(closed_error(idea_id, &f, "votes"));
        }
        let already: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM idea_votes WHERE idea_id = ? AND account_id = ?)",
        )
        .bind(idea_id)
        .bind(account_id)
        .fetch_one(&mut *tx)
        .await?;
        let mut used = used_in(&mut tx, account_id).await?;
        if !already {
            if let Some(b) = budget {
                if used >= i64::from(b) {
                    return Err(StoreError::Limit {
                        field: "votes",
                        message: format!(
                            "you have used all {b} of your votes; withdraw one, or wait until an idea you voted for closes and its vote comes back"
                        ),
                    });
                }
            }
            sqlx::query("INSERT INTO idea_votes(idea_id, account_id, created_at) VALUES (?, ?, ?)")
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let f = flags(&mut tx, idea_id).await?;
        if f.status.is_closed() {
            return Err(closed_error(idea_id, &f, "vote changes"));
        }
        sqlx::query("DELETE FROM idea_votes WHERE idea_id = ? AND account_id = ?")
            .bind(idea_id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        let votes: i64 = sqlx::query_scalar(
            "UPDATE ideas SET vote_count = (SELECT COUNT(*) FROM idea_votes WHERE idea_id = ?1) \
             WHERE id = ?1 RETURNING vote_count",
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
        let mut conn = self.pool.acquire().await?;
        used_in(&mut conn, account_id).await
    }

    async fn ideas_posted_since(
        &self,
        account_id: i64,
        since: Millis,
    ) -> Result<(i64, Option<Millis>)> {
        posted_since(&self.pool, "ideas", account_id, since).await
    }

    async fn comments_posted_since(
        &self,
        account_id: i64,
        since: Millis,
    ) -> Result<(i64, Option<Millis>)> {
        posted_since(&self.pool, "idea_comments", account_id, since).await
    }

    async fn add_comment(
        &self,
        idea_id: i64,
        author_id: i64,
        body: &str,
        official: bool,
        now: Millis,
    ) -> Result<IdeaComment> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let f = flags(&mut tx, idea_id).await?;
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
             VALUES (?, ?, ?, ?, ?) RETURNING id",
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
             WHERE idea_id = ?1 AND hidden = 0), updated_at = ?2 WHERE id = ?1",
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
        let mut conn = self.pool.acquire().await?;
        comments_in(&mut conn, idea_id, include_hidden, None).await
    }

    async fn set_comment_hidden(&self, comment_id: i64, hidden: bool) -> Result<i64> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let idea_id: i64 = sqlx::query_scalar(
            "UPDATE idea_comments SET hidden = ? WHERE id = ? RETURNING idea_id",
        )
        .bind(i64::from(hidden))
        .bind(comment_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound { what: "comment" })?;
        sqlx::query(
            "UPDATE ideas SET comment_count = (SELECT COUNT(*) FROM idea_comments \
             WHERE idea_id = ?1 AND hidden = 0) WHERE id = ?1",
        )
        .bind(idea_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(idea_id)
    }

    async fn status_history(&self, idea_id: i64) -> Result<Vec<StatusChange>> {
        let rows = sqlx::query(&format!(
            "SELECT c.from_status, c.to_status, c.explanation, c.duplicate_of, c.release_note_url, \
             c.created_at, CASE WHEN c.actor_id IS NULL THEN NULL ELSE {} END AS actor \
             FROM idea_status_changes c WHERE c.idea_id = ? ORDER BY c.created_at, c.id",
            author_name_sql("c.actor_id")
        ))
        .bind(idea_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let from: String = r.try_get("from_status")?;
                let to: String = r.try_get("to_status")?;
                Ok(StatusChange {
                    from: status_of(&from)?,
                    to: status_of(&to)?,
                    explanation: r.try_get("explanation")?,
                    duplicate_of: r.try_get("duplicate_of")?,
                    release_note_url: r.try_get("release_note_url")?,
                    actor: r.try_get("actor")?,
                    at: r.try_get("created_at")?,
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let f = flags(&mut tx, u.idea_id).await?;
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
            "UPDATE ideas SET status = ?, release_note_url = COALESCE(?, release_note_url), \
             status_changed_at = ?, updated_at = ? WHERE id = ?",
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
             VALUES (?, ?, ?, ?, ?, ?, ?)",
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
        if duplicate == original {
            return Err(StoreError::Invalid {
                field: "duplicate_of",
                message: format!("idea #{duplicate} cannot be a duplicate of itself"),
            });
        }
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
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
        // Walk the original's chain: reaching the duplicate would close a cycle.
        let mut cur = o.duplicate_of;
        let mut root = original;
        let mut steps = 0;
        while let Some(next) = cur {
            if next == duplicate {
                return Err(StoreError::Invalid {
                    field: "duplicate_of",
                    message: format!(
                        "merging #{duplicate} into #{original} would make a cycle (#{original} is already a duplicate of #{duplicate})"
                    ),
                });
            }
            root = next;
            steps += 1;
            if steps > 1000 {
                break;
            }
            cur = flags(&mut tx, next).await?.duplicate_of;
        }
        if o.status == IdeaStatus::Duplicate {
            return Err(StoreError::Invalid {
                field: "duplicate_of",
                message: format!(
                    "idea #{original} is itself a duplicate; merge into #{root} instead"
                ),
            });
        }
        let n = notify_subscribers(&mut tx, duplicate, actor_id, notice, now).await?;
        sqlx::query(
            "INSERT OR IGNORE INTO idea_votes(idea_id, account_id, created_at) \
             SELECT ?, account_id, created_at FROM idea_votes WHERE idea_id = ?",
        )
        .bind(original)
        .bind(duplicate)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM idea_votes WHERE idea_id = ?")
            .bind(duplicate)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE ideas SET status = 'duplicate', duplicate_of = ?, vote_count = 0, \
             status_changed_at = ?, updated_at = ? WHERE id = ?",
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
             VALUES (?, ?, ?, 'duplicate', ?, ?, ?)",
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let done = sqlx::query(&format!(
            "UPDATE ideas SET {set}, updated_at = ? WHERE id = ?"
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        flags(&mut tx, idea_id).await?;
        sqlx::query("DELETE FROM idea_tags WHERE idea_id = ?")
            .bind(idea_id)
            .execute(&mut *tx)
            .await?;
        for t in tags {
            sqlx::query("INSERT OR IGNORE INTO idea_tags(idea_id, tag) VALUES (?, ?)")
                .bind(idea_id)
                .bind(t)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE ideas SET updated_at = ? WHERE id = ?")
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
        let rows = sqlx::query(
            "SELECT id, kind, message, link, created_at, read_at FROM notifications \
             WHERE account_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
        )
        .bind(account_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Notification {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    message: r.try_get("message")?,
                    link: r.try_get("link")?,
                    created_at: r.try_get("created_at")?,
                    read_at: r.try_get("read_at")?,
                })
            })
            .collect()
    }

    async fn unread_notifications(&self, account_id: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM notifications WHERE account_id = ? AND read_at IS NULL",
        )
        .bind(account_id)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn mark_notifications_read(&self, account_id: i64, now: Millis) -> Result<u64> {
        Ok(sqlx::query(
            "UPDATE notifications SET read_at = ? WHERE account_id = ? AND read_at IS NULL",
        )
        .bind(now)
        .bind(account_id)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }
}

/// How many rows of `table` an author created after `since`, and the oldest's time.
async fn posted_since(
    pool: &sqlx::SqlitePool,
    table: &str,
    account_id: i64,
    since: Millis,
) -> Result<(i64, Option<Millis>)> {
    let row = sqlx::query(&format!(
        "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM {table} \
         WHERE author_id = ? AND created_at > ?"
    ))
    .bind(account_id)
    .bind(since)
    .fetch_one(pool)
    .await?;
    Ok((row.try_get("n")?, row.try_get("oldest")?))
}

async fn comments_in(
    conn: &mut SqliteConnection,
    idea_id: i64,
    include_hidden: bool,
    only: Option<i64>,
) -> Result<Vec<IdeaComment>> {
    let rows = sqlx::query(&format!(
        "SELECT c.id, c.idea_id, c.author_id, c.body, c.official, c.hidden, c.created_at, \
         {} AS author_name, (SELECT a.role FROM accounts a WHERE a.id = c.author_id) AS author_role \
         FROM idea_comments c WHERE c.idea_id = ?1 AND (?2 OR c.hidden = 0) \
         AND (?3 IS NULL OR c.id = ?3) ORDER BY c.created_at, c.id",
        author_name_sql("c.author_id")
    ))
    .bind(idea_id)
    .bind(include_hidden)
    .bind(only)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(IdeaComment {
                id: r.try_get("id")?,
                idea_id: r.try_get("idea_id")?,
                author: Author {
                    id: r.try_get("author_id")?,
                    name: r.try_get("author_name")?,
                    staff: is_staff_role(r.try_get("author_role")?),
                },
                body: r.try_get("body")?,
                official: r.try_get::<i64, _>("official")? != 0,
                hidden: r.try_get::<i64, _>("hidden")? != 0,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CatalogStore, NewAccount};
    use marquee_domain::Plan;

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let s = SqliteStore::open(&url, 4).await.unwrap();
        s.migrate().await.unwrap();
        (dir, s)
    }

    async fn account(s: &SqliteStore, email: &str) -> i64 {
        s.create_account(
            &NewAccount {
                email: email.into(),
                password_hash: "x".into(),
                role: Role::Viewer,
                plan: Plan::Basic,
                must_change_password: false,
                first_profile: email.split('@').next().unwrap().into(),
            },
            1,
        )
        .await
        .unwrap()
        .id
    }

    fn notice() -> Notice {
        Notice {
            kind: "idea.status_changed".into(),
            message: "changed".into(),
            link: "/ideas/1".into(),
            event: None,
        }
    }

    async fn new_idea(s: &SqliteStore, author: i64, title: &str) -> i64 {
        s.create_idea(
            &NewIdea {
                author_id: author,
                title: title.into(),
                description: String::new(),
                tags: vec![],
                approved: true,
            },
            10,
        )
        .await
        .unwrap()
        .id
    }

    #[test]
    fn similar_query_builds_or_terms() {
        assert_eq!(
            similar_query("Add a dark mode to the ap").as_deref(),
            Some("\"dark\" OR \"mode\" OR \"ap\"*")
        );
        assert_eq!(similar_query("the a ").as_deref(), None);
        assert_eq!(
            similar_query("\"xx\" OR yy*").as_deref(),
            Some("\"xx\" OR \"yy\"")
        );
    }

    #[tokio::test]
    async fn merge_moves_voters_once_and_refuses_cycles() {
        let (_d, s) = store().await;
        let a = account(&s, "a@x.com").await;
        let b = account(&s, "b@x.com").await;
        let c = account(&s, "c@x.com").await;
        let orig = new_idea(&s, a, "Offline downloads").await;
        let dup = new_idea(&s, b, "Download for offline").await;
        for v in [a, b] {
            s.vote(orig, v, None, 20).await.unwrap();
        }
        for v in [b, c] {
            s.vote(dup, v, None, 20).await.unwrap();
        }
        let (o, notified) = s
            .merge_idea(dup, orig, a, "same thing", 30, &notice())
            .await
            .unwrap();
        assert_eq!(o.votes, 3); // a, b (voted both) and c
        assert_eq!(notified, 2); // b (author and voter) and c; a is the actor
        let d = s.idea(dup, None).await.unwrap().unwrap();
        assert_eq!(
            (d.status, d.duplicate_of, d.votes),
            (IdeaStatus::Duplicate, Some(orig), 0)
        );
        assert!(matches!(
            s.merge_idea(orig, dup, a, "x", 40, &notice()).await,
            Err(StoreError::Invalid {
                field: "duplicate_of",
                ..
            })
        ));
        assert!(matches!(
            s.merge_idea(orig, orig, a, "x", 40, &notice()).await,
            Err(StoreError::Invalid { .. })
        ));
        assert!(matches!(
            s.vote(dup, a, None, 50).await,
            Err(StoreError::Limit { field: "idea", .. })
        ));
    }
}
