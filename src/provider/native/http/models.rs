//! The provider's model list: `GET {base}/v1/models` (Anthropic) or `GET {base}/models` (OpenAI-compatible), for
//! `tandem_session_available_models`.

use reqwest::header::{HeaderValue, ACCEPT};
use serde_json::Value;

use super::{error_message, transport_error, HttpModel};
use crate::provider::native::model::ModelError;

impl HttpModel {
    /// The IDs of the models the provider serves (without the `provider:` prefix), in the order it lists them.
    pub async fn list_models(&self) -> Result<Vec<String>, ModelError> {
        let key = self.key()?;
        let mut headers = self.headers(key.as_deref())?;
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let idle = self.idle_timeout;
        let timeout = || ModelError::transient("timeout: the model list did not arrive");
        let response = tokio::time::timeout(
            idle,
            self.client
                .get()?
                .get(&self.models_url)
                .headers(headers)
                .send(),
        )
        .await
        .map_err(|_| timeout())?
        .map_err(transport_error)?;
        let status = response.status();
        let body = tokio::time::timeout(idle, response.bytes())
            .await
            .map_err(|_| timeout())?
            .map_err(transport_error)?;
        if !status.is_success() {
            let message = error_message(&body).unwrap_or_else(|| status.to_string());
            return Err(ModelError::http(status.as_u16(), message, None));
        }
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| ModelError::fatal(format!("the model list is not JSON: {e}")))?;
        // Both APIs answer {"data": [{"id": …}, …]}; ollama's /api/tags shape is not used (its /v1 is compatible).
        let ids: Vec<String> = v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["id"].as_str().map(str::to_string))
            .collect();
        if ids.is_empty() {
            return Err(ModelError::fatal("the model list is empty"));
        }
        Ok(ids)
    }
}
