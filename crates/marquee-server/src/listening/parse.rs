//! The pure parsers of what listening reads from outside: the ingest API's
//! JSON array, the JSON Lines of `marquee ingest posts`, and the connectors'
//! messages (Jetstream events, Mastodon timeline pages). No I/O: the fuzz
//! targets (`fuzz/`) and the corpus replay tests call these directly.

use super::classify;
use super::RawPost;
use crate::error::{decode_json, AppError};
use marquee_domain::Millis;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A post time: milliseconds since the epoch or an RFC 3339 string.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum PostTime {
    /// ms since the epoch.
    Millis(i64),
    /// e.g. `2026-11-23T05:04:10Z`.
    Rfc3339(String),
}

/// One post to ingest.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostIn {
    /// Where it comes from (`[a-z0-9._-]`, 1 to 40), default `api`.
    #[serde(default = "default_source")]
    pub source: String,
    /// Its id there (1 to 200 characters): `(source, external_id)` is unique.
    pub external_id: String,
    /// The author's handle: `@user@host`, `name.bsky.social` or a DID.
    pub author: String,
    /// The text, 1 to `listening.max_post_chars` characters.
    pub text: String,
    /// When it was posted.
    pub created_at: PostTime,
    /// A link to it (http or https).
    #[serde(default)]
    pub url: Option<String>,
    /// Language tag.
    #[serde(default)]
    pub lang: Option<String>,
}

fn default_source() -> String {
    "api".into()
}

/// Checks one post; the error names the field (prefixed by `prefix`).
pub fn check_post(
    p: PostIn,
    prefix: &str,
    max_chars: usize,
    now: Millis,
) -> Result<RawPost, AppError> {
    let f = |name: &str| format!("{prefix}{name}");
    if p.source.is_empty()
        || p.source.len() > 40
        || !p
            .source
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
    {
        return Err(AppError::invalid(
            f("source"),
            "must be 1 to 40 characters of a-z, 0-9, '.', '_' or '-'",
        ));
    }
    if p.external_id.trim().is_empty() || p.external_id.len() > 200 {
        return Err(AppError::invalid(
            f("external_id"),
            "must be 1 to 200 characters",
        ));
    }
    let author = classify::normalize_handle(&p.author).ok_or_else(|| {
        AppError::invalid(
            f("author"),
            "must be a handle like @user@host, name.bsky.social or a DID",
        )
    })?;
    // Escapes a connector left in the text ("doesn\\u2019t", "&amp;") are
    // decoded, so that the dashboard and the classifiers read the words.
    let text = marquee_domain::text::clean_post_text(&p.text);
    let chars = text.chars().count();
    if text.trim().is_empty() {
        return Err(AppError::invalid(f("text"), "must not be empty"));
    }
    if chars > max_chars {
        return Err(AppError::invalid(
            f("text"),
            format!("is {chars} characters; the most is {max_chars}"),
        ));
    }
    let created_at = match &p.created_at {
        PostTime::Millis(ms) => *ms,
        PostTime::Rfc3339(s) => parse_time(s).ok_or_else(|| {
            AppError::invalid(
                f("created_at"),
                "must be ms since the epoch or an RFC 3339 time",
            )
        })?,
    };
    // 2001-09-09 .. a day ahead of our clock.
    if !(1_000_000_000_000..=now + 86_400_000).contains(&created_at) {
        return Err(AppError::invalid(
            f("created_at"),
            "must be after 2001 and not more than a day in the future",
        ));
    }
    if let Some(u) = &p.url {
        if u.len() > 2000 || !(u.starts_with("https://") || u.starts_with("http://")) {
            return Err(AppError::invalid(
                f("url"),
                "must be an http(s) URL of at most 2000 characters",
            ));
        }
    }
    if let Some(l) = &p.lang {
        if l.is_empty() || l.len() > 20 {
            return Err(AppError::invalid(f("lang"), "must be 1 to 20 characters"));
        }
    }
    Ok(RawPost {
        source: p.source,
        external_id: p.external_id,
        author,
        text,
        url: p.url,
        lang: p.lang,
        created_at,
    })
}

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
        Err(_) => decode_json(bytes).map_err(name_missing)?,
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
    let e: JetstreamEvent = serde_json::from_str(text).map_err(|e| e.to_string())?;
    Ok((e.time_us, bluesky_post(&e, keywords)))
}

/// One Mastodon timeline page (a JSON array of statuses), oldest first by id.
pub fn mastodon_page(body: &[u8]) -> Result<Vec<MastodonStatus>, String> {
    let mut statuses: Vec<MastodonStatus> =
        serde_json::from_slice(body).map_err(|e| e.to_string())?;
    statuses.sort_by(|a, b| status_id_key(&a.id).cmp(&status_id_key(&b.id)));
    Ok(statuses)
}

/// A Jetstream event (the parts read here).
#[derive(Debug, Clone, Deserialize)]
pub struct JetstreamEvent {
    /// The repo's DID.
    pub did: String,
    /// Event time, µs since the epoch: the cursor.
    pub time_us: i64,
    /// `commit`, `identity` or `account`.
    pub kind: String,
    /// For commits.
    pub commit: Option<JetstreamCommit>,
}

/// A repo commit.
#[derive(Debug, Clone, Deserialize)]
pub struct JetstreamCommit {
    /// `create`, `update` or `delete`.
    pub operation: String,
    /// e.g. `app.bsky.feed.post`.
    pub collection: String,
    /// Record key.
    pub rkey: String,
    /// The record (absent on delete).
    pub record: Option<BlueskyPost>,
}

/// An `app.bsky.feed.post` record.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlueskyPost {
    /// The text.
    #[serde(default)]
    pub text: String,
    /// ISO 8601.
    pub created_at: Option<String>,
    /// Languages.
    #[serde(default)]
    pub langs: Vec<String>,
}

/// The post a Jetstream event carries, when it is a new post mentioning a keyword.
pub fn bluesky_post(e: &JetstreamEvent, keywords: &[String]) -> Option<RawPost> {
    let c = e.commit.as_ref()?;
    if e.kind != "commit" || c.operation != "create" || c.collection != "app.bsky.feed.post" {
        return None;
    }
    let r = c.record.as_ref()?;
    let lower = r.text.to_lowercase();
    if !keywords.iter().any(|k| lower.contains(k.as_str())) {
        return None;
    }
    let created_at = r
        .created_at
        .as_deref()
        .and_then(parse_time)
        .unwrap_or(e.time_us / 1000);
    Some(RawPost {
        source: "bluesky".into(),
        external_id: format!("at://{}/app.bsky.feed.post/{}", e.did, c.rkey),
        author: e.did.clone(),
        text: r.text.chars().take(5000).collect(),
        url: Some(format!(
            "https://bsky.app/profile/{}/post/{}",
            e.did, c.rkey
        )),
        lang: r.langs.first().cloned(),
        created_at,
    })
}

/// The parts of a Mastodon `Status` entity the connector reads.
#[derive(Debug, Clone, Deserialize)]
pub struct MastodonStatus {
    /// Snowflake id, as a string.
    pub id: String,
    /// ISO 8601.
    pub created_at: String,
    /// HTML.
    pub content: String,
    /// Web link.
    pub url: Option<String>,
    /// The canonical URI.
    pub uri: Option<String>,
    /// ISO 639 language.
    pub language: Option<String>,
    /// Content warning.
    #[serde(default)]
    pub spoiler_text: String,
    /// The author.
    pub account: MastodonAccount,
    /// A boost wraps the original.
    pub reblog: Option<Box<serde_json::Value>>,
}

/// The parts of a Mastodon `Account` entity the connector reads.
#[derive(Debug, Clone, Deserialize)]
pub struct MastodonAccount {
    /// `user` for local accounts, `user@host` for remote ones.
    pub acct: String,
    /// Profile URL.
    pub url: Option<String>,
}

/// Orders snowflake ids numerically (they are decimal strings).
pub fn status_id_key(id: &str) -> (usize, &str) {
    (id.len(), id)
}

/// `https://host/...` → `host`.
pub fn host_of(url: &str) -> String {
    url.split("://")
        .nth(1)
        .unwrap_or(url)
        .split(['/', '?', '#'])
        .next()
        .unwrap_or("")
        .to_lowercase()
}

/// A Mastodon status as a post, or `None` for boosts.
pub fn mastodon_post(s: &MastodonStatus, instance_host: &str) -> Option<RawPost> {
    if s.reblog.is_some() {
        return None;
    }
    let created_at = parse_time(&s.created_at)?;
    // Local accounts' `acct` has no domain: take it from the profile URL.
    let acct = if s.account.acct.contains('@') {
        s.account.acct.clone()
    } else {
        let home = s
            .account
            .url
            .as_deref()
            .map(host_of)
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| instance_host.to_string());
        format!("{}@{home}", s.account.acct)
    };
    let mut text = classify::html_to_text(&s.content);
    if !s.spoiler_text.is_empty() {
        text = format!("{} {text}", s.spoiler_text);
    }
    Some(RawPost {
        source: "mastodon".into(),
        external_id: s
            .uri
            .clone()
            .unwrap_or_else(|| format!("{instance_host}/{}", s.id)),
        author: format!("@{acct}"),
        text: text.chars().take(5000).collect(),
        url: s.url.clone(),
        lang: s.language.clone(),
        created_at,
    })
}

/// RFC 3339 → ms.
pub fn parse_time(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
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

    #[test]
    fn commit_events_filter_by_keyword() {
        let e: JetstreamEvent = serde_json::from_str(
            r#"{"did":"did:plc:eygmaihciaxprqvxpfvl6flk","time_us":1725911162329308,"kind":"commit",
            "commit":{"rev":"3l3qo2vutsw2b","operation":"create","collection":"app.bsky.feed.post",
            "rkey":"3l3qo2vuowo2b","record":{"$type":"app.bsky.feed.post",
            "createdAt":"2024-09-09T19:46:02.102Z","langs":["en"],"text":"Marquee raised the price again"},
            "cid":"bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi"}}"#,
        )
        .unwrap();
        let p = bluesky_post(&e, &["marquee".into()]).unwrap();
        assert_eq!(
            p.external_id,
            "at://did:plc:eygmaihciaxprqvxpfvl6flk/app.bsky.feed.post/3l3qo2vuowo2b"
        );
        assert_eq!(p.created_at, 1_725_911_162_102);
        assert!(bluesky_post(&e, &["netflix".into()]).is_none());
    }

    #[test]
    fn status_becomes_a_post() {
        let s: MastodonStatus = serde_json::from_str(
            r#"{"id":"103270115826048975","created_at":"2019-12-08T03:48:33.901Z",
            "content":"<p>The new <a href=\"x\">#price</a> is too much &amp; I&#39;m out</p>",
            "url":"https://mastodon.social/@alice/103270115826048975",
            "uri":"https://mastodon.social/users/alice/statuses/103270115826048975",
            "language":"en","spoiler_text":"","visibility":"public","reblog":null,
            "account":{"id":"1","username":"alice","acct":"alice","url":"https://mastodon.social/@alice"}}"#,
        )
        .unwrap();
        let p = mastodon_post(&s, "mastodon.social").unwrap();
        assert_eq!(p.author, "@alice@mastodon.social");
        assert_eq!(p.text, "The new #price is too much & I'm out");
        assert_eq!(p.created_at, 1_575_776_913_901);
        assert!(status_id_key("99") < status_id_key("100"));
    }
}
