//! Error type of the crate.

/// Every error the recommendation engine reports.
#[derive(Debug, thiserror::Error)]
pub enum RecsError {
    /// A ratings file could not be parsed.
    #[error("ratings line {line}: {reason}")]
    Parse {
        /// 1-based line number in the input text.
        line: usize,
        /// What was wrong with it.
        reason: String,
    },
    /// Input data that cannot be used (empty, out of range, inconsistent shapes).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A hyper-parameter outside its valid range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// A numerical factorisation failed (e.g. a Gram matrix that is not positive definite).
    #[error("numerical failure: {0}")]
    Numerical(String),
    /// The bytes are not a Marquee model file.
    #[error("not a marquee-recs model file (bad magic bytes)")]
    BadMagic,
    /// The model file was written by an incompatible format version.
    #[error("model file format version {found} is not supported (this build reads version {expected})")]
    UnsupportedVersion {
        /// Version found in the file.
        found: u32,
        /// Version this build reads and writes.
        expected: u32,
    },
    /// The checksum stored in the model file does not match its contents.
    #[error("model file is corrupt: checksum mismatch (stored {stored}, computed {computed})")]
    ChecksumMismatch {
        /// Hex sha256 stored in the file.
        stored: String,
        /// Hex sha256 of the bytes read.
        computed: String,
    },
    /// The model file ended early.
    #[error("model file is truncated: {0}")]
    Truncated(String),
    /// The model file is well-formed on the outside but its payload is inconsistent.
    #[error("model file payload is malformed: {0}")]
    Malformed(String),
    /// The model file holds a different kind of object than was asked for.
    #[error("model file holds a {found}, expected a {expected}")]
    KindMismatch {
        /// Kind found in the file.
        found: String,
        /// Kind the caller asked for.
        expected: String,
    },
    /// Writing the model to the sink failed.
    #[error("writing model: {0}")]
    Write(#[from] std::io::Error),
}

/// Result alias used throughout the crate.
pub type Result<T, E = RecsError> = std::result::Result<T, E>;
