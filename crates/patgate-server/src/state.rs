use patgate_app::App;

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    /// The externally visible base URL, for the `url` fields of responses (no trailing slash).
    pub base_url: String,
    /// The git gateway's storage; `None` disables git over HTTP.
    pub git: Option<crate::git::GitConfig>,
    /// The abuse limit of `POST /credentials/revoke` (per process).
    pub revoke_throttle: std::sync::Arc<crate::throttle::Throttle>,
    /// Failed password attempts per client address (per process).
    pub password_throttle: std::sync::Arc<crate::throttle::Throttle>,
}
