//! Notification preferences of the signed-in account: which kinds arrive
//! in the bell and which by e-mail.

use std::collections::BTreeMap;

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiJson, ErrorBody};
use crate::notify::{self, ChannelsPatch, KindSetting};
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

/// The notifications part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(get_preferences, put_preferences),
    components(schemas(
        NotificationPreferences,
        NotificationSetting,
        NotificationPreferencesUpdate,
        NotificationChannelsUpdate
    )),
    tags((name = "notification-preferences",
        description = "Which notifications arrive in the app and by e-mail"))
)]
pub struct Doc;

/// The routes, nested under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/account/notifications/preferences",
        get(get_preferences).put(put_preferences),
    )
}

/// One kind's settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationSetting {
    /// `ideas`, `decisions`, `perks`, `announcements` or `account`.
    kind: String,
    /// What it covers, for people.
    label: String,
    /// One line on when it is sent.
    description: String,
    /// Shown in the app's notifications.
    in_app: bool,
    /// Sent by e-mail (to a confirmed address, where e-mail is set up).
    email: bool,
    /// False for account and security notices: always e-mailed.
    switchable: bool,
}

impl From<KindSetting> for NotificationSetting {
    fn from(s: KindSetting) -> Self {
        NotificationSetting {
            kind: s.kind.as_str().to_string(),
            label: s.kind.label().to_string(),
            description: s.kind.description().to_string(),
            in_app: s.channels.in_app,
            email: s.channels.email,
            switchable: s.switchable,
        }
    }
}

/// Every kind's settings in effect.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPreferences {
    /// Whether this installation sends e-mail at all (`[smtp]`); when not,
    /// e-mail settings are kept but nothing is mailed.
    email_available: bool,
    /// The kinds, in a fixed order.
    kinds: Vec<NotificationSetting>,
}

/// The channels to change for one kind; one left out keeps its setting.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationChannelsUpdate {
    /// In the app.
    #[serde(default)]
    in_app: Option<bool>,
    /// By e-mail.
    #[serde(default)]
    email: Option<bool>,
}

/// Changes keyed by kind, e.g. `{"ideas": {"email": true}}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct NotificationPreferencesUpdate(BTreeMap<String, NotificationChannelsUpdate>);

fn answer(state: &AppState, kinds: Vec<KindSetting>) -> NotificationPreferences {
    NotificationPreferences {
        email_available: notify::email_available(state),
        kinds: kinds.into_iter().map(NotificationSetting::from).collect(),
    }
}

/// Your notification settings per kind: in the app, by e-mail.
#[utoipa::path(get, path = "/api/v1/account/notifications/preferences",
    tag = "notification-preferences",
    responses((status = 200, body = NotificationPreferences), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn get_preferences(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<NotificationPreferences>, ApiError> {
    let kinds = notify::preferences(&state, user.account.id).await?;
    Ok(Json(answer(&state, kinds)))
}

/// Changes your notification settings, e.g.
/// `{"ideas": {"email": true}, "decisions": {"in_app": false}}`. Answers
/// every kind's settings after the change. 400 naming the kind for an
/// unknown kind, and `account.email` for account and security notices,
/// which are always e-mailed.
#[utoipa::path(put, path = "/api/v1/account/notifications/preferences",
    tag = "notification-preferences",
    request_body = NotificationPreferencesUpdate,
    responses((status = 200, body = NotificationPreferences), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn put_preferences(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<NotificationPreferencesUpdate>,
) -> Result<Json<NotificationPreferences>, ApiError> {
    let changes =
        b.0.into_iter()
            .map(|(k, v)| {
                (
                    k,
                    ChannelsPatch {
                        in_app: v.in_app,
                        email: v.email,
                    },
                )
            })
            .collect();
    let kinds = notify::update(&state, user.account.id, &changes).await?;
    Ok(Json(answer(&state, kinds)))
}
