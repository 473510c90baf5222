//! Finding models on the hub: its model search (`/api/models?search=…`) and a repository's GGUF
//! files with their sizes (`/api/models/{repo}/tree/{revision}`). A hub's answers are read up to
//! `MAX_ANSWER_BYTES` and at most `MAX_REPOS` / `MAX_FILES` of what they list are kept, whatever
//! they claim; a mirror without these endpoints is said to be one.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::download::{DownloadError, DownloadRequest};

/// The most of a hub's answer read: a search of 50 repositories is a few tens of KB.
const MAX_ANSWER_BYTES: usize = 4 << 20;
pub const MAX_REPOS: usize = 50;
pub const MAX_FILES: usize = 500;

/// A repository the hub's search found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct HubRepo {
    pub repo: String,
    pub downloads: u64,
    pub likes: u64,
}

/// A GGUF file of a repository, with its size on the hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct HubFile {
    pub file: String,
    pub size: u64,
}

fn client(req: &DownloadRequest) -> Result<reqwest::Client, DownloadError> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(t) = req.token_or_env() {
        let mut v = reqwest::header::HeaderValue::from_str(&format!("Bearer {t}")).map_err(|_| DownloadError::Unauthorized {
            repo: req.repo.clone(),
            endpoint: req.endpoint_or_env(),
            status: 0,
        })?;
        v.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, v);
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| DownloadError::Unreachable { endpoint: req.endpoint_or_env(), reason: e.to_string() })
}

/// A GET whose answer is read up to `MAX_ANSWER_BYTES`, then parsed as `T`.
async fn get_json<T: serde::de::DeserializeOwned>(req: &DownloadRequest, url: &str, what: &'static str) -> Result<T, DownloadError> {
    let endpoint = req.endpoint_or_env();
    let unreachable = |reason: String| DownloadError::Unreachable { endpoint: endpoint.clone(), reason };
    let mut resp = client(req)?.get(url).send().await.map_err(|e| unreachable(e.without_url().to_string()))?;
    let status = resp.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(DownloadError::Unauthorized { repo: req.repo.clone(), endpoint, status: status.as_u16() });
    }
    if status == reqwest::StatusCode::NOT_FOUND && !req.repo.is_empty() {
        return Err(DownloadError::NoRepo { repo: req.repo.clone(), endpoint });
    }
    if !status.is_success() {
        return Err(DownloadError::NotAHub { file: what.into(), endpoint, what: "a successful status" });
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| unreachable(e.without_url().to_string()))? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(DownloadError::NotAHub { file: what.into(), endpoint, what: "an answer under 4 MB" });
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|_| DownloadError::NotAHub { file: what.into(), endpoint, what: "the JSON a hub answers" })
}

/// Searches the hub for GGUF models whose name holds `query`, most downloaded first.
pub async fn search(req: &DownloadRequest, query: &str) -> Result<Vec<HubRepo>, DownloadError> {
    #[derive(Deserialize)]
    struct Found {
        id: String,
        #[serde(default)]
        downloads: u64,
        #[serde(default)]
        likes: u64,
    }
    let endpoint = req.endpoint_or_env();
    let q: String = query.trim().chars().take(100).collect();
    let url = search_url(&endpoint, &q).map_err(|reason| DownloadError::Unreachable { endpoint: endpoint.clone(), reason })?;
    // Read as loose values, each then taken only if it is what it should be: one odd entry
    // does not lose the rest.
    let found: Vec<serde_json::Value> = get_json(req, &url, "the model search").await?;
    Ok(found
        .into_iter()
        .take(MAX_REPOS)
        .filter_map(|v| serde_json::from_value::<Found>(v).ok())
        .filter(|f| !f.id.is_empty() && f.id.len() <= 200)
        .map(|f| HubRepo { repo: f.id, downloads: f.downloads, likes: f.likes })
        .collect())
}

/// A repository's GGUF files and their sizes, in the order the hub lists them.
pub async fn gguf_files(req: &DownloadRequest) -> Result<Vec<HubFile>, DownloadError> {
    #[derive(Deserialize)]
    struct Entry {
        #[serde(rename = "type", default)]
        kind: String,
        path: String,
        #[serde(default)]
        size: u64,
        #[serde(default)]
        lfs: Option<Lfs>,
    }
    #[derive(Deserialize)]
    struct Lfs {
        #[serde(default)]
        size: u64,
    }
    let endpoint = req.endpoint_or_env();
    // A revision's slashes escaped as the downloader escapes them.
    let url = format!("{endpoint}/api/models/{}/tree/{}?recursive=true", req.repo, req.revision.replace('/', "%2F"));
    let tree: Vec<serde_json::Value> = get_json(req, &url, "the repository's files").await?;
    Ok(tree
        .into_iter()
        .take(MAX_FILES * 4)
        .filter_map(|v| serde_json::from_value::<Entry>(v).ok())
        .filter(|e| e.kind != "directory" && e.path.to_ascii_lowercase().ends_with(".gguf") && is_repo_path(&e.path))
        // No model file is a terabyte: a size past that is no size.
        .filter(|e| e.lfs.as_ref().map_or(e.size, |l| l.size.max(e.size)) < 1 << 40)
        .take(MAX_FILES)
        .map(|e| HubFile { size: e.lfs.map_or(e.size, |l| l.size.max(e.size)), file: e.path })
        .collect())
}

/// A file's path inside a repository as a hub may name it: relative, `/`-separated parts, none
/// empty, `.` or `..`, no backslash — it is joined onto the cache's folder and into the URL.
pub fn is_repo_path(path: &str) -> bool {
    !path.is_empty() && path.len() <= 1000 && !path.contains(['\\', '\0', ':']) && path.split('/').all(|p| !p.is_empty() && p != "." && p != "..")
}

/// The hub's search for GGUF repositories whose name holds `query`, most downloaded first.
fn search_url(endpoint: &str, query: &str) -> Result<String, String> {
    let mut url = reqwest::Url::parse(&format!("{endpoint}/api/models")).map_err(|e| e.to_string())?;
    url.query_pairs_mut()
        .append_pair("search", query)
        .append_pair("filter", "gguf")
        .append_pair("sort", "downloads")
        .append_pair("direction", "-1")
        .append_pair("limit", &MAX_REPOS.to_string());
    Ok(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hubs_file_names_stay_inside_the_repository() {
        assert!(is_repo_path("Fin-R1.Q4_K_M.gguf") && is_repo_path("q4/Fin-R1.gguf"));
        for bad in ["../../x.gguf", "/etc/x.gguf", "a//b.gguf", "a\\..\\b.gguf", "./x.gguf", "", "C:x.gguf"] {
            assert!(!is_repo_path(bad), "{bad}");
        }
    }

    #[test]
    fn a_query_is_encoded_for_its_url() {
        let url = |q: &str| search_url("http://127.0.0.1:1", q).expect("url");
        assert!(url("Fin-R1 gguf").starts_with("http://127.0.0.1:1/api/models?search=Fin-R1+gguf&filter=gguf"), "{}", url("Fin-R1 gguf"));
        assert!(url("a&b=c/d").contains("search=a%26b%3Dc%2Fd&"), "{}", url("a&b=c/d"));
        assert!(url("金融").contains("search=%E9%87%91%E8%9E%8D&"), "{}", url("金融"));
    }
}
