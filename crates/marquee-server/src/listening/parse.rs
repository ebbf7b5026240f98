//! The pure parsers of what listening reads from outside: the ingest API's
//! JSON array, the JSON Lines of `marquee ingest posts`, and the connectors'
//! messages (Jetstream events, Mastodon timeline pages). No I/O: the fuzz
//! targets (`fuzz/`) and the corpus replay tests call these directly.

use super::{jetstream, mastodon, RawPost};
use crate::api::listening::{check_post, PostIn};
use crate::error::{parse_json, ApiError, AppError};
use marquee_domain::Millis;

/// Parses and checks an ingest request body (a JSON array of posts). A bad
/// post rejects the whole batch with its index in `field` (e.g. `[3].text`).
pub fn posts_body(
    bytes: &[u8],
    max_chars: usize,
    max_batch: usize,
    now: Millis,
) -> Result<Vec<RawPost>, AppError> {
    // Fast path; on failure, parse again to name the offending field.
    let posts: Vec<PostIn> = match serde_json::from_slice(bytes) {
        Ok(p) => p,
        Err(_) => parse_json(bytes).map_err(|ApiError(e)| name_missing(e))?,
    };
    if posts.len() > max_batch {
        return Err(AppError::invalid(
            "body",
            format!(
                "{} posts in one batch; the most is {max_batch}",
                posts.len()
            ),
        ));
    }
    posts
        .into_iter()
        .enumerate()
        .map(|(i, p)| check_post(p, &format!("[{i}]."), max_chars, now))
        .collect()
}

/// A missing field inside an element is reported at the element (`[3]`);
/// name the field itself (`[3].text`).
fn name_missing(e: AppError) -> AppError {
    match e {
        AppError::BadRequest {
            field: Some(f),
            message,
        } if f.ends_with(']') && message.contains("missing field `") => {
            let name = message
                .split("missing field `")
                .nth(1)
                .and_then(|r| r.split('`').next())
                .unwrap_or("");
            AppError::BadRequest {
                field: Some(format!("{f}.{name}")),
                message,
            }
        }
        other => other,
    }
}

/// Parses and checks one line of a JSON Lines file of posts: the post as JSON
/// for the ingest API, or why not (`field message`).
pub fn jsonl_line(line: &str, max_chars: usize, now: Millis) -> Result<serde_json::Value, String> {
    let p: PostIn = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let back = serde_json::to_value(&p).map_err(|e| e.to_string())?;
    check_post(p, "", max_chars, now).map_err(|e| match e {
        AppError::BadRequest {
            field: Some(f),
            message,
        } => format!("{f} {message}"),
        other => other.to_string(),
    })?;
    Ok(back)
}

/// One Jetstream WebSocket text message: its cursor (`time_us`) and the post
/// it carries when it is a new post mentioning one of `keywords` (lower case).
pub fn jetstream_message(
    text: &str,
    keywords: &[String],
) -> Result<(i64, Option<RawPost>), String> {
    let e: jetstream::Event = serde_json::from_str(text).map_err(|e| e.to_string())?;
    Ok((e.time_us, jetstream::to_raw(&e, keywords)))
}

/// One Mastodon timeline page (a JSON array of statuses), oldest first by id.
pub fn mastodon_page(body: &[u8]) -> Result<Vec<mastodon::Status>, String> {
    let mut statuses: Vec<mastodon::Status> =
        serde_json::from_slice(body).map_err(|e| e.to_string())?;
    statuses.sort_by(|a, b| mastodon::id_key(&a.id).cmp(&mastodon::id_key(&b.id)));
    Ok(statuses)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_800_000_000_000;

    #[test]
    fn body_names_the_bad_field() {
        let ok =
            br#"[{"external_id":"1","author":"@a@b.c","text":"hi","created_at":1790000000000}]"#;
        assert_eq!(posts_body(ok, 100, 10, NOW).unwrap().len(), 1);
        let missing = br#"[{"external_id":"1","author":"@a@b.c","created_at":1790000000000}]"#;
        match posts_body(missing, 100, 10, NOW) {
            Err(AppError::BadRequest { field, .. }) => {
                assert_eq!(field.as_deref(), Some("[0].text"))
            }
            other => panic!("{other:?}"),
        }
        let two =
            br#"[{"external_id":"1","author":"@a@b.c","text":"hi","created_at":1790000000000},
            {"external_id":"2","author":"@a@b.c","text":"hi","created_at":1790000000000}]"#;
        assert!(posts_body(two, 100, 1, NOW).is_err());
    }

    #[test]
    fn connector_messages_parse() {
        let ev = r#"{"did":"did:plc:abc","time_us":1790000000000000,"kind":"commit",
            "commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"3k",
            "record":{"text":"Price rise again","createdAt":"2026-09-01T10:00:00Z","langs":["en"]}}}"#;
        let (cursor, p) = jetstream_message(ev, &["price".into()]).unwrap();
        assert_eq!(cursor, 1_790_000_000_000_000);
        assert_eq!(p.unwrap().source, "bluesky");
        assert!(jetstream_message("{", &[]).is_err());
        let page = br#"[{"id":"100","created_at":"2019-12-08T03:48:33.901Z","content":"<p>b</p>",
            "account":{"acct":"a@b.c"}},{"id":"99","created_at":"2019-12-08T03:48:33.901Z",
            "content":"<p>a</p>","account":{"acct":"a@b.c"}}]"#;
        let s = mastodon_page(page).unwrap();
        assert_eq!(s[0].id, "99");
        assert!(mastodon_page(b"{}").is_err());
    }
}
