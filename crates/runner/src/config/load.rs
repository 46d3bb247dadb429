//! Reading a `config.yml` into a YAML value tree: syntax errors carry the file, line and column;
//! structural errors carry the YAML path of the offending node (`jobs.deploy.steps[2]`).

use std::path::{Path, PathBuf};

use keyless_claims::yaml_depth::{MAX_FLOW_DEPTH, too_deep_flow};
use serde_norway::{Mapping, Value};

/// Why a configuration cannot be used. Every variant says where the problem is.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The configuration file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_CONFIG_BYTES`].
    #[error("{path}: the configuration is larger than {MAX_CONFIG_BYTES} bytes")]
    TooLarge {
        /// The configuration file.
        path: PathBuf,
    },
    /// The file is not UTF-8 text.
    #[error(
        "{path}:{line}:{column}: invalid UTF-8 (byte 0x{byte:02x}); a config.yml is UTF-8 text"
    )]
    Encoding {
        /// The configuration file.
        path: PathBuf,
        /// 1-based line of the first invalid byte.
        line: usize,
        /// 1-based column (in characters) of the first invalid byte.
        column: usize,
        /// The first invalid byte.
        byte: u8,
    },
    /// The file is not valid YAML.
    #[error("{path}:{line}:{column}: invalid YAML: {message}")]
    Yaml {
        /// The configuration file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The parser's explanation.
        message: String,
    },
    /// The YAML is valid but does not describe a usable CircleCI configuration.
    #[error("{path}: {at}: {message}")]
    Invalid {
        /// The configuration file.
        path: PathBuf,
        /// The YAML path of the offending node, e.g. `jobs.deploy.steps[2]`.
        at: String,
        /// What is wrong.
        message: String,
    },
}

/// The largest configuration read, in bytes. CircleCI refuses processed configurations of a
/// few megabytes; a bigger file here is a mistake (or an attack on the parser), refused before
/// it is parsed.
pub const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// A loaded configuration: the top-level mapping, validated just enough to expand jobs.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) path: PathBuf,
    pub(crate) root: Mapping,
    /// The `version` key as written (`2.1`, `2`, …).
    pub version: String,
    /// Top-level features keyless-runner does not simulate (orbs, setup workflows, …).
    pub notices: Vec<String>,
}

/// Top-level keys of a CircleCI configuration that are understood.
const KNOWN_TOP_LEVEL_KEYS: [&str; 6] = [
    "version",
    "jobs",
    "workflows",
    "commands",
    "executors",
    "parameters",
];

impl Config {
    /// Reads and checks `path`: at most [`MAX_CONFIG_BYTES`], UTF-8 (the first invalid byte
    /// is reported with its line and column), then [`Config::parse`].
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        use std::io::Read as _;
        let read_error = |source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_error)?;
        let mut bytes = Vec::new();
        // Reading one byte past the limit tells a file at the limit from a larger one, even
        // when the file grows while it is read.
        file.take(MAX_CONFIG_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        if bytes.len() as u64 > MAX_CONFIG_BYTES {
            return Err(ConfigError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        let text = String::from_utf8(bytes).map_err(|error| {
            let bytes = error.as_bytes();
            let valid = &bytes[..error.utf8_error().valid_up_to()];
            let line_start = valid
                .iter()
                .rposition(|byte| *byte == b'\n')
                .map_or(0, |at| at + 1);
            // `valid` is valid UTF-8 by definition of `valid_up_to`.
            let column = std::str::from_utf8(&valid[line_start..])
                .map_or(1, |text| text.chars().count() + 1);
            ConfigError::Encoding {
                path: path.to_path_buf(),
                line: valid.iter().filter(|byte| **byte == b'\n').count() + 1,
                column,
                byte: bytes.get(valid.len()).copied().unwrap_or_default(),
            }
        })?;
        Self::parse(path, &text)
    }

    /// Parses configuration text; `path` is only used in error messages.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let yaml_error = |error: serde_norway::Error| {
            let (line, column) = error
                .location()
                .map(|location| (location.line(), location.column()))
                .unwrap_or((1, 1));
            ConfigError::Yaml {
                path: path.to_path_buf(),
                line,
                column,
                message: error.to_string(),
            }
        };
        if let Some((line, column)) = too_deep_flow(text) {
            return Err(ConfigError::Yaml {
                path: path.to_path_buf(),
                line,
                column,
                message: format!("collections nest deeper than {MAX_FLOW_DEPTH} levels"),
            });
        }
        let mut value: Value = serde_norway::from_str(text).map_err(yaml_error)?;
        value.apply_merge().map_err(yaml_error)?;
        let invalid = |at: &str, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            at: at.to_string(),
            message,
        };
        let Value::Mapping(root) = value else {
            return Err(invalid(
                "(top level)",
                "a CircleCI configuration must be a mapping with `version` and `jobs`".into(),
            ));
        };
        let version = match root.get("version") {
            Some(Value::Number(number)) => number.to_string(),
            Some(Value::String(text)) => text.clone(),
            Some(_) => return Err(invalid("version", "`version` must be 2 or 2.1".into())),
            None => return Err(invalid("version", "missing `version` (use 2.1)".into())),
        };
        if !matches!(version.as_str(), "2" | "2.0" | "2.1") {
            return Err(invalid(
                "version",
                format!("unsupported version {version}: keyless-runner reads version 2.1"),
            ));
        }
        for key in ["jobs", "commands", "executors", "workflows", "parameters"] {
            match root.get(key) {
                None | Some(Value::Mapping(_)) => {}
                Some(_) => return Err(invalid(key, format!("`{key}` must be a mapping"))),
            }
        }
        if root.get("jobs").is_none() {
            return Err(invalid("jobs", "missing `jobs`".into()));
        }
        let mut notices = Vec::new();
        for (key, value) in &root {
            let key = key.as_str().unwrap_or("");
            if KNOWN_TOP_LEVEL_KEYS.contains(&key) {
                continue;
            }
            match key {
                "orbs" => {
                    let orbs = value
                        .as_mapping()
                        .map(|orbs| {
                            orbs.iter()
                                .map(|(name, reference)| {
                                    format!(
                                        "{} ({})",
                                        name.as_str().unwrap_or("?"),
                                        reference.as_str().unwrap_or("inline")
                                    )
                                })
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_default();
                    notices.push(format!(
                        "orbs are not simulated: {orbs}; their jobs and commands are reported and skipped"
                    ));
                }
                "setup" => notices.push(
                    "`setup: true` (dynamic configuration) is not simulated: the file runs as a normal configuration".into(),
                ),
                other => notices.push(format!("top-level key `{other}` is not simulated")),
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            root,
            version,
            notices,
        })
    }

    /// The file this configuration was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The names of the jobs defined in `jobs`, in file order.
    pub fn job_names(&self) -> Vec<String> {
        self.section("jobs")
            .map(|jobs| {
                jobs.keys()
                    .filter_map(|key| key.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The names of the workflows, in file order (the legacy `version` key excluded).
    pub fn workflow_names(&self) -> Vec<String> {
        self.section("workflows")
            .map(|workflows| {
                workflows
                    .iter()
                    .filter(|(_, body)| body.is_mapping())
                    .filter_map(|(key, _)| key.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A top-level mapping such as `jobs` or `commands`.
    pub(crate) fn section(&self, key: &str) -> Option<&Mapping> {
        self.root.get(key).and_then(Value::as_mapping)
    }

    /// Builds an [`ConfigError::Invalid`] for this file.
    pub(crate) fn invalid(&self, at: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone(),
            at: at.to_string(),
            message: message.into(),
        }
    }
}
