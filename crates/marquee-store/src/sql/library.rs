//! [`LibraryStore`], written once for both backends (see `sqlite/mod.rs`
//! for the dialect seam this file is compiled against).

use super::{Backend, Db, Tx};
use crate::changes::Bump;
use crate::library::{
    ArtworkRow, CatalogAuditEntry, EditorRow, EpisodeRow, ItemOutcome, LibraryDetail, LibraryItem,
    LibraryStore, LibraryTitle, MediaLocation, MediaProbeRow, MediaRow, NewTitle, Outcome,
    PersonRow, Posterless, StoredRating,
};
use crate::{Result, StoreError};
use async_trait::async_trait;
use marquee_domain::catalog::TitleFields;
use marquee_domain::{Millis, TitleKind};
use sqlx::QueryBuilder;
use std::str::FromStr;

/// Rows per multi-row INSERT of a title's children (at most 5 binds each):
/// far under either backend's bind limit, whatever a feed lists.
const MULTI_ROW: usize = 1000;

/// Where an episode goes: its series and season row ids.
struct Parent {
    series_id: i64,
    season_id: i64,
}

/// Inserts or updates one title by its key.
async fn upsert_title(
    tx: &mut Tx<'_>,
    t: &LibraryTitle,
    parent: Option<Parent>,
    now: Millis,
) -> Result<(i64, Outcome)> {
    let existing: Option<(i64, Option<String>)> =
        sqlx::query_as("SELECT id, content_hash FROM titles WHERE catalog_key = $1")
            .bind(&t.key)
            .fetch_optional(&mut **tx)
            .await?;
    let (series_id, season_id) = match &parent {
        Some(p) => (Some(p.series_id), Some(p.season_id)),
        None => (None, None),
    };
    let (id, outcome) = match existing {
        Some((id, Some(hash))) if hash == t.content_hash => return Ok((id, Outcome::Unchanged)),
        Some((id, _)) => {
            for table in [
                "title_genres",
                "title_people",
                "title_languages",
                "title_external_ids",
            ] {
                sqlx::query(&format!("DELETE FROM {table} WHERE title_id = $1"))
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
            }
            // Catalog tags only: viewers' (MovieLens) tags carry their user.
            sqlx::query("DELETE FROM title_tags WHERE title_id = $1 AND source_user IS NULL")
                .bind(id)
                .execute(&mut **tx)
                .await?;
            (id, Outcome::Updated)
        }
        None => {
            // The row with its identity; the fields as for an update.
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO titles(kind, name, source, catalog_key, created_at) \
                 VALUES ($1, $2, 'library', $3, $4) RETURNING id",
            )
            .bind(t.kind.as_str())
            .bind(&t.name)
            .bind(&t.key)
            .bind(now)
            .fetch_one(&mut **tx)
            .await?;
            (id, Outcome::Added)
        }
    };
    let rating = t.maturity.as_ref();
    sqlx::query(
        "UPDATE titles SET kind = $2, name = $3, year = $4, duration_s = $5, \
         synopsis = $6, release_date = $7, maturity = $8, maturity_system = $9, \
         maturity_age = $10, available_from = $11, available_until = $12, \
         series_id = $13, season_id = $14, episode_number = $15, content_hash = $16, \
         updated_at = $17 WHERE id = $1",
    )
    .bind(id)
    .bind(t.kind.as_str())
    .bind(&t.name)
    .bind(t.year.map(i64::from))
    .bind(t.runtime_s)
    .bind(&t.synopsis)
    .bind(&t.release_date)
    .bind(rating.map(|r| r.code.clone()))
    .bind(rating.map(|r| r.system.clone()))
    .bind(rating.map(|r| r.min_age))
    .bind(t.available_from)
    .bind(t.available_until)
    .bind(series_id)
    .bind(season_id)
    .bind(t.episode)
    .bind(&t.content_hash)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    write_children(tx, id, t, now, outcome == Outcome::Added).await?;
    Ok((id, outcome))
}

/// Genres, tags, people, languages, ids and media of a title just inserted
/// or cleared.
async fn write_children(
    tx: &mut Tx<'_>,
    id: i64,
    t: &LibraryTitle,
    now: Millis,
    is_new: bool,
) -> Result<()> {
    // One multi-row statement per table: a title's five actors, three tags
    // and two genres are a handful of statements, not a dozen.
    let genres = dedup(&t.genres);
    for genres in genres.chunks(MULTI_ROW) {
        let mut qb: QueryBuilder<Db> = QueryBuilder::new("INSERT INTO genres(name) ");
        qb.push_values(genres, |mut b, g| {
            b.push_bind(*g);
        });
        qb.push(" ON CONFLICT DO NOTHING");
        qb.build().execute(&mut **tx).await?;
        let mut qb: QueryBuilder<Db> =
            QueryBuilder::new("INSERT INTO title_genres(title_id, genre_id) SELECT ");
        qb.push_bind(id).push(", id FROM genres WHERE name IN (");
        let mut sep = qb.separated(", ");
        for g in genres {
            sep.push_bind(*g);
        }
        qb.push(") ON CONFLICT DO NOTHING");
        qb.build().execute(&mut **tx).await?;
    }
    let tags = dedup(&t.tags);
    for tags in tags.chunks(MULTI_ROW) {
        let mut qb: QueryBuilder<Db> =
            QueryBuilder::new("INSERT INTO title_tags(title_id, tag, source_user, tagged_at) ");
        qb.push_values(tags, |mut b, tag| {
            b.push_bind(id)
                .push_bind(*tag)
                .push_bind(None::<i64>)
                .push_bind(now);
        });
        qb.build().execute(&mut **tx).await?;
    }
    let people: Vec<(usize, &PersonRow)> = t.people.iter().enumerate().collect();
    for people in people.chunks(MULTI_ROW) {
        let mut qb: QueryBuilder<Db> =
            QueryBuilder::new("INSERT INTO title_people(title_id, ord, name, role, character) ");
        qb.push_values(people, |mut b, (ord, p)| {
            b.push_bind(id)
                .push_bind(*ord as i64)
                .push_bind(&p.name)
                .push_bind(&p.role)
                .push_bind(&p.character);
        });
        qb.build().execute(&mut **tx).await?;
    }
    let langs = dedup(&t.languages);
    for langs in langs.chunks(MULTI_ROW) {
        let mut qb: QueryBuilder<Db> =
            QueryBuilder::new("INSERT INTO title_languages(title_id, lang) ");
        qb.push_values(langs, |mut b, l| {
            b.push_bind(id).push_bind(*l);
        });
        qb.build().execute(&mut **tx).await?;
    }
    for ids in t.ids.chunks(MULTI_ROW) {
        let mut qb: QueryBuilder<Db> =
            QueryBuilder::new("INSERT INTO title_external_ids(title_id, kind, value) ");
        qb.push_values(ids, |mut b, (kind, value)| {
            b.push_bind(id).push_bind(kind).push_bind(value);
        });
        qb.push(" ON CONFLICT DO NOTHING");
        qb.build().execute(&mut **tx).await?;
    }
    if is_new && t.media.is_empty() {
        return Ok(());
    }
    // Media rows keep their ids across re-imports (playback refers to them).
    let locations: Vec<&str> = t.media.iter().map(|m| m.location.as_str()).collect();
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT location FROM media_sources WHERE title_id = $1")
            .bind(id)
            .fetch_all(&mut **tx)
            .await?;
    for gone in stored.iter().filter(|l| !locations.contains(&l.as_str())) {
        sqlx::query("DELETE FROM media_sources WHERE title_id = $1 AND location = $2")
            .bind(id)
            .bind(gone)
            .execute(&mut **tx)
            .await?;
    }
    for m in &t.media {
        sqlx::query(
            "INSERT INTO media_sources(title_id, location, library, size_bytes, subtitles, added_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (title_id, location) DO UPDATE SET \
             library = excluded.library, size_bytes = excluded.size_bytes, \
             subtitles = excluded.subtitles",
        )
        .bind(id)
        .bind(&m.location)
        .bind(&m.library)
        .bind(m.size_bytes)
        .bind(m.subtitles.join("\n"))
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Writes an editor's fields; `false` when the title does not exist.
async fn write_fields(
    tx: &mut Tx<'_>,
    id: i64,
    f: &TitleFields,
    rating: Option<&StoredRating>,
    now: Millis,
) -> Result<bool> {
    let n = sqlx::query(
        "UPDATE titles SET name = $2, year = $3, synopsis = $4, duration_s = $5, \
         release_date = $6, maturity = $7, maturity_system = $8, maturity_age = $9, \
         available_from = $10, available_until = $11, hidden = $12, updated_at = $13 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(&f.name)
    .bind(f.year.map(i64::from))
    .bind(&f.synopsis)
    .bind(f.runtime_s)
    .bind(&f.release_date)
    .bind(rating.map(|r| r.code.clone()))
    .bind(rating.map(|r| r.system.clone()))
    .bind(rating.map(|r| r.min_age))
    .bind(f.available_from)
    .bind(f.available_until)
    .bind(i64::from(f.hidden))
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Appends to the catalog audit trail.
async fn audit(
    tx: &mut Tx<'_>,
    title_id: i64,
    actor_id: i64,
    action: &str,
    summary: &str,
    now: Millis,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO catalog_audit(title_id, actor_id, action, summary, at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(title_id)
    .bind(actor_id)
    .bind(action)
    .bind(summary)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Distinct values, first spelling kept (case-insensitively).
fn dedup(v: &[String]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::with_capacity(v.len());
    for s in v {
        let s = s.trim();
        if !s.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(s)) {
            out.push(s);
        }
    }
    out
}

/// The season row of a series, created (or renamed) as needed.
async fn season_id(
    tx: &mut Tx<'_>,
    series_id: i64,
    number: i64,
    name: Option<&str>,
) -> Result<i64> {
    let found: Option<(i64, Option<String>)> =
        sqlx::query_as("SELECT id, name FROM seasons WHERE series_id = $1 AND number = $2")
            .bind(series_id)
            .bind(number)
            .fetch_optional(&mut **tx)
            .await?;
    match found {
        Some((id, old)) => {
            if name.is_some() && old.as_deref() != name {
                sqlx::query("UPDATE seasons SET name = $2 WHERE id = $1")
                    .bind(id)
                    .bind(name)
                    .execute(&mut **tx)
                    .await?;
            }
            Ok(id)
        }
        None => Ok(sqlx::query_scalar(
            "INSERT INTO seasons(series_id, number, name) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(series_id)
        .bind(number)
        .bind(name)
        .fetch_one(&mut **tx)
        .await?),
    }
}

#[derive(sqlx::FromRow)]
struct ArtRow {
    title_id: i64,
    kind: String,
    size: String,
    width: i64,
    height: i64,
    etag: String,
    source_hash: String,
    origin: String,
}

impl From<ArtRow> for ArtworkRow {
    fn from(r: ArtRow) -> Self {
        ArtworkRow {
            title_id: r.title_id,
            kind: r.kind,
            size: r.size,
            width: r.width,
            height: r.height,
            etag: r.etag,
            source_hash: r.source_hash,
            origin: r.origin,
        }
    }
}

#[async_trait]
impl LibraryStore for Backend {
    async fn upsert_library_item(&self, item: &LibraryItem, now: Millis) -> Result<ItemOutcome> {
        let mut out = self
            .upsert_library_items(std::slice::from_ref(item), now)
            .await?;
        out.pop().ok_or_else(|| StoreError::Invalid {
            field: "item",
            message: "nothing was written".into(),
        })
    }

    async fn upsert_library_items(
        &self,
        items: &[LibraryItem],
        now: Millis,
    ) -> Result<Vec<ItemOutcome>> {
        let mut tx = self.begin_write().await?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let title = upsert_title(&mut tx, &item.title, None, now).await?;
            let mut episodes = Vec::with_capacity(item.episodes.len());
            for e in &item.episodes {
                let Some((number, name)) = &e.season else {
                    return Err(StoreError::Invalid {
                        field: "season",
                        message: format!("episode {} has no season", e.key),
                    });
                };
                let season = season_id(&mut tx, title.0, *number, name.as_deref()).await?;
                let parent = Parent {
                    series_id: title.0,
                    season_id: season,
                };
                episodes.push(upsert_title(&mut tx, e, Some(parent), now).await?);
            }
            out.push(ItemOutcome { title, episodes });
        }
        tx.commit().await?;
        let changed = out.iter().any(|o| {
            std::iter::once(&o.title)
                .chain(&o.episodes)
                .any(|(_, x)| *x != Outcome::Unchanged)
        });
        if changed {
            self.changes.on_return(Bump::All);
        }
        Ok(out)
    }

    async fn artwork_source(&self, title_id: i64, kind: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(source_hash) FROM title_artwork WHERE title_id = $1 AND kind = $2",
        )
        .bind(title_id)
        .bind(kind)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn set_artwork(&self, rows: &[ArtworkRow], now: Millis) -> Result<()> {
        let _changed = self.changes.on_return(Bump::All);
        let mut tx = self.begin_write().await?;
        let mut cleared: Vec<(i64, &str)> = Vec::new();
        for r in rows {
            if !cleared.contains(&(r.title_id, r.kind.as_str())) {
                sqlx::query("DELETE FROM title_artwork WHERE title_id = $1 AND kind = $2")
                    .bind(r.title_id)
                    .bind(&r.kind)
                    .execute(&mut *tx)
                    .await?;
                cleared.push((r.title_id, r.kind.as_str()));
            }
            sqlx::query(
                "INSERT INTO title_artwork(title_id, kind, size, width, height, etag, source_hash, \
                 origin, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(r.title_id)
            .bind(&r.kind)
            .bind(&r.size)
            .bind(r.width)
            .bind(r.height)
            .bind(&r.etag)
            .bind(&r.source_hash)
            .bind(&r.origin)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn artwork_of(&self, title_ids: &[i64]) -> Result<Vec<ArtworkRow>> {
        if title_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = sqlx::QueryBuilder::<super::Db>::new(
            "SELECT title_id, kind, size, width, height, etag, source_hash, origin \
             FROM title_artwork WHERE title_id IN (",
        );
        let mut sep = qb.separated(", ");
        for id in title_ids.iter().take(super::CHUNK) {
            sep.push_bind(*id);
        }
        qb.push(") ORDER BY title_id, kind, size");
        let rows: Vec<ArtRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(ArtworkRow::from).collect())
    }

    async fn artwork_exists(&self, etag: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM title_artwork WHERE etag = $1")
            .bind(etag)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    async fn posterless(&self, after_id: i64, limit: u32) -> Result<Vec<Posterless>> {
        let rows: Vec<(i64, String, String, Option<i64>, Option<String>)> = sqlx::query_as(
            "SELECT t.id, t.kind, t.name, t.year, \
             (SELECT MIN(g.name) FROM title_genres tg JOIN genres g ON g.id = tg.genre_id \
              WHERE tg.title_id = t.id) AS genre \
             FROM titles t WHERE t.id > $1 AND t.kind <> 'episode' AND NOT EXISTS \
             (SELECT 1 FROM title_artwork a WHERE a.title_id = t.id AND a.kind = 'poster') \
             ORDER BY t.id LIMIT $2",
        )
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, kind, name, year, genre)| {
                Ok(Posterless {
                    id,
                    kind: TitleKind::from_str(&kind)?,
                    name,
                    year: year.and_then(|y| i32::try_from(y).ok()),
                    genre,
                })
            })
            .collect()
    }

    async fn media_sources(&self, title_id: i64) -> Result<Vec<MediaRow>> {
        let media: Vec<(String, Option<String>, Option<i64>, String)> = sqlx::query_as(
            "SELECT location, library, size_bytes, subtitles FROM media_sources \
             WHERE title_id = $1 ORDER BY id",
        )
        .bind(title_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(media
            .into_iter()
            .map(|(location, library, size_bytes, subtitles)| MediaRow {
                location,
                library,
                size_bytes,
                subtitles: subtitles
                    .split('\n')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            })
            .collect())
    }

    async fn library_detail(&self, id: i64) -> Result<Option<LibraryDetail>> {
        type Head = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            i64,
        );
        let head: Option<Head> = sqlx::query_as(
            "SELECT synopsis, release_date, maturity, maturity_system, maturity_age, \
             available_from, available_until, hidden FROM titles WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some((synopsis, release_date, code, system, age, from, until, hidden)) = head else {
            return Ok(None);
        };
        let people: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT name, role, character FROM title_people WHERE title_id = $1 ORDER BY ord",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let languages: Vec<String> = sqlx::query_scalar(
            "SELECT lang FROM title_languages WHERE title_id = $1 ORDER BY lang",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let ids: Vec<(String, String)> = sqlx::query_as(
            "SELECT kind, value FROM title_external_ids WHERE title_id = $1 ORDER BY kind",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let seasons: Vec<(i64, Option<String>)> =
            sqlx::query_as("SELECT number, name FROM seasons WHERE series_id = $1 ORDER BY number")
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
        let episodes: Vec<(i64, i64, i64, String, Option<String>, Option<i64>)> = sqlx::query_as(
            "SELECT t.id, s.number, t.episode_number, t.name, t.synopsis, t.duration_s \
             FROM titles t JOIN seasons s ON s.id = t.season_id \
             WHERE t.series_id = $1 AND t.kind = 'episode' AND t.hidden = 0 \
             ORDER BY s.number, t.episode_number, t.id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let media = self.media_sources(id).await?;
        Ok(Some(LibraryDetail {
            synopsis,
            release_date,
            maturity: match (code, system, age) {
                (Some(code), Some(system), Some(min_age)) => Some(StoredRating {
                    code,
                    system,
                    min_age,
                }),
                _ => None,
            },
            available_from: from,
            available_until: until,
            hidden: hidden != 0,
            people: people
                .into_iter()
                .map(|(name, role, character)| PersonRow {
                    name,
                    role,
                    character,
                })
                .collect(),
            languages,
            ids,
            seasons,
            episodes: episodes
                .into_iter()
                .map(
                    |(id, season, episode, name, synopsis, runtime_s)| EpisodeRow {
                        id,
                        season,
                        episode,
                        name,
                        synopsis,
                        runtime_s,
                    },
                )
                .collect(),
            media,
        }))
    }

    async fn title_by_key(&self, key: &str) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT id FROM titles WHERE catalog_key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn title_fields(&self, id: i64) -> Result<Option<(TitleKind, TitleFields)>> {
        type Row = (
            String,
            String,
            Option<i64>,
            Option<String>,
            Option<i64>,
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<i64>,
            i64,
        );
        let row: Option<Row> = sqlx::query_as(
            "SELECT kind, name, year, synopsis, duration_s, release_date, maturity, \
             available_from, available_until, hidden FROM titles WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some((
            kind,
            name,
            year,
            synopsis,
            runtime_s,
            release_date,
            maturity,
            from,
            until,
            hidden,
        )) = row
        else {
            return Ok(None);
        };
        Ok(Some((
            TitleKind::from_str(&kind)?,
            TitleFields {
                name,
                year: year.and_then(|y| i32::try_from(y).ok()),
                synopsis,
                runtime_s,
                release_date,
                maturity,
                available_from: from,
                available_until: until,
                hidden: hidden != 0,
            },
        )))
    }

    async fn edit_title(
        &self,
        id: i64,
        fields: &TitleFields,
        rating: Option<&StoredRating>,
        actor_id: i64,
        summary: &str,
        now: Millis,
    ) -> Result<bool> {
        let _changed = self.changes.on_return(Bump::All);
        let mut tx = self.begin_write().await?;
        let done = write_fields(&mut tx, id, fields, rating, now).await?;
        if !done {
            return Ok(false);
        }
        audit(&mut tx, id, actor_id, "edited", summary, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn create_title(&self, new: &NewTitle, actor_id: i64, now: Millis) -> Result<i64> {
        let _changed = self.changes.on_return(Bump::All);
        let mut tx = self.begin_write().await?;
        let (series_id, season_id, episode) = match new.episode_of {
            Some((series, season, episode)) => {
                let kind: Option<String> =
                    sqlx::query_scalar("SELECT kind FROM titles WHERE id = $1")
                        .bind(series)
                        .fetch_optional(&mut *tx)
                        .await?;
                if kind.as_deref() != Some("series") {
                    return Err(StoreError::Invalid {
                        field: "series_id",
                        message: format!("title {series} is not a series"),
                    });
                }
                let season = season_id(&mut tx, series, season, None).await?;
                let taken: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM titles WHERE season_id = $1 AND episode_number = $2",
                )
                .bind(season)
                .bind(episode)
                .fetch_optional(&mut *tx)
                .await?;
                if taken.is_some() {
                    return Err(StoreError::Conflict { field: "episode" });
                }
                (Some(series), Some(season), Some(episode))
            }
            None => (None, None, None),
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO titles(kind, name, series_id, season_id, episode_number, source, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'marquee', $6) RETURNING id",
        )
        .bind(new.kind.as_str())
        .bind(&new.fields.name)
        .bind(series_id)
        .bind(season_id)
        .bind(episode)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        write_fields(&mut tx, id, &new.fields, new.rating.as_ref(), now).await?;
        audit(
            &mut tx,
            id,
            actor_id,
            "created",
            &format!("Created {}", new.fields.name),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn record_catalog_action(
        &self,
        title_id: i64,
        actor_id: i64,
        action: &str,
        summary: &str,
        now: Millis,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        audit(&mut tx, title_id, actor_id, action, summary, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn catalog_audit(&self, title_id: i64, limit: u32) -> Result<Vec<CatalogAuditEntry>> {
        let rows: Vec<(Millis, Option<String>, String, String)> = sqlx::query_as(
            "SELECT c.at, a.email, c.action, c.summary FROM catalog_audit c \
             LEFT JOIN accounts a ON a.id = c.actor_id WHERE c.title_id = $1 \
             ORDER BY c.at DESC, c.id DESC LIMIT $2",
        )
        .bind(title_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(at, actor, action, summary)| CatalogAuditEntry {
                at,
                actor,
                action,
                summary,
            })
            .collect())
    }

    async fn editor_titles(&self, q: &str, limit: u32, offset: u32) -> Result<Vec<EditorRow>> {
        let pattern = format!(
            "%{}%",
            q.trim()
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let rows: Vec<(
            i64,
            String,
            String,
            Option<i64>,
            Option<String>,
            i64,
            String,
        )> = sqlx::query_as(
            "SELECT id, kind, name, year, maturity, hidden, source FROM titles \
                 WHERE kind <> 'episode' AND lower(name) LIKE $1 ESCAPE '\\' \
                 ORDER BY id DESC LIMIT $2 OFFSET $3",
        )
        .bind(pattern)
        .bind(i64::from(limit))
        .bind(i64::from(offset))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, kind, name, year, maturity, hidden, source)| {
                Ok(EditorRow {
                    id,
                    kind: TitleKind::from_str(&kind)?,
                    name,
                    year: year.and_then(|y| i32::try_from(y).ok()),
                    maturity,
                    hidden: hidden != 0,
                    source,
                })
            })
            .collect()
    }

    async fn media_locations(&self) -> Result<Vec<MediaLocation>> {
        let rows: Vec<(i64, String, Option<String>)> = sqlx::query_as(
            "SELECT title_id, location, library FROM media_sources WHERE library IS NOT NULL \
             UNION ALL SELECT id, media_path, NULL FROM titles WHERE media_path IS NOT NULL \
             ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(title_id, location, library)| MediaLocation {
                title_id,
                location,
                library,
            })
            .collect())
    }

    async fn media_probes(&self, paths: &[String]) -> Result<Vec<MediaProbeRow>> {
        let mut out = Vec::new();
        for chunk in paths.chunks(MULTI_ROW) {
            let mut qb: QueryBuilder<Db> = QueryBuilder::new(
                "SELECT path, size_bytes, modified_ms, probe, error, duration_ms, probed_at \
                 FROM media_probes WHERE path IN (",
            );
            let mut list = qb.separated(", ");
            for p in chunk {
                list.push_bind(p);
            }
            qb.push(")");
            let rows: Vec<ProbeTuple> = qb.build_query_as().fetch_all(&self.pool).await?;
            out.extend(rows.into_iter().map(probe_row));
        }
        Ok(out)
    }

    async fn save_media_probe(&self, row: &MediaProbeRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO media_probes(path, size_bytes, modified_ms, probe, error, duration_ms, probed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (path) DO UPDATE SET \
             size_bytes = excluded.size_bytes, modified_ms = excluded.modified_ms, \
             probe = excluded.probe, error = excluded.error, \
             duration_ms = excluded.duration_ms, probed_at = excluded.probed_at",
        )
        .bind(&row.path)
        .bind(row.size_bytes)
        .bind(row.modified_ms)
        .bind(&row.probe)
        .bind(&row.error)
        .bind(row.duration_ms)
        .bind(row.probed_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn media_probe_failures(&self, limit: u32) -> Result<Vec<MediaProbeRow>> {
        let rows: Vec<ProbeTuple> = sqlx::query_as(
            "SELECT path, size_bytes, modified_ms, probe, error, duration_ms, probed_at \
             FROM media_probes WHERE error IS NOT NULL ORDER BY probed_at DESC, path LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(probe_row).collect())
    }

    async fn set_runtime_if_missing(&self, title_id: i64, duration_s: i64) -> Result<bool> {
        if duration_s <= 0 {
            return Ok(false);
        }
        let _changed = self.changes.on_return(Bump::All);
        let n =
            sqlx::query("UPDATE titles SET duration_s = $1 WHERE id = $2 AND duration_s IS NULL")
                .bind(duration_s)
                .bind(title_id)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(n > 0)
    }
}

type ProbeTuple = (
    String,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<i64>,
    i64,
);

fn probe_row(
    (path, size_bytes, modified_ms, probe, error, duration_ms, probed_at): ProbeTuple,
) -> MediaProbeRow {
    MediaProbeRow {
        path,
        size_bytes,
        modified_ms,
        probe,
        error,
        duration_ms,
        probed_at,
    }
}
