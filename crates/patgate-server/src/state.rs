use patgate_app::App;

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    /// The externally visible base URL, for the `url` fields of responses (no trailing slash).
    pub base_url: String,
}
