//! An HTTP answer of the APIs, and the assertions on it the tests share.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// An HTTP answer: status, headers and the body as text and as JSON (Null
/// when it is not JSON).
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Answer {
    pub async fn of(resp: reqwest::Response) -> Self {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        Self {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    /// The first `tppMessages` entry as (code, path).
    pub fn tpp_message(&self) -> (Option<&str>, Option<&str>) {
        let message = &self.body["tppMessages"][0];
        (message["code"].as_str(), message["path"].as_str())
    }

    /// The status with the first `tppMessages` code and path.
    pub fn refusal(&self) -> (StatusCode, Option<&str>, Option<&str>) {
        let (code, path) = self.tpp_message();
        (self.status, code, path)
    }

    /// Asserts the status and the first `tppMessages` code.
    #[track_caller]
    pub fn assert_tpp_message(&self, status: StatusCode, code: &str) {
        assert_eq!(
            (self.status, self.tpp_message().0),
            (status, Some(code)),
            "{}",
            self.body
        );
    }

    /// Asserts the status with the first `tppMessages` code and path.
    #[track_caller]
    pub fn assert_refusal(&self, status: StatusCode, code: &str, path: &str) {
        assert_eq!(
            self.refusal(),
            (status, Some(code), Some(path)),
            "{}",
            self.body
        );
    }

    /// Asserts the status and the OAuth `error` code.
    #[track_caller]
    pub fn assert_oauth_error(&self, status: StatusCode, error: &str) {
        assert_eq!(
            (self.status, self.body["error"].as_str()),
            (status, Some(error)),
            "{}",
            self.body
        );
    }

    /// Asserts that the OAuth `error_description` mentions `text`.
    #[track_caller]
    pub fn assert_error_describes(&self, text: &str) {
        let description = self.body["error_description"].as_str().unwrap_or_default();
        assert!(description.contains(text), "{}", self.body);
    }

    /// The IBANs of an account list, in its order.
    pub fn listed_ibans(&self) -> Vec<&str> {
        self.body["accounts"]
            .as_array()
            .unwrap_or_else(|| panic!("an account list: {}", self.body))
            .iter()
            .map(|a| a["iban"].as_str().unwrap())
            .collect()
    }

    /// Asserts a 201 Created; the body's `key` (`consentId`, `paymentId`, …).
    #[track_caller]
    pub fn created(&self, key: &str) -> String {
        assert_eq!(self.status, StatusCode::CREATED, "{}", self.body);
        self.body[key].as_str().unwrap().to_owned()
    }
}
