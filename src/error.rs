//! The engine's one error type.
//!
//! Every failure the engine can report is a variant of [`Error`]. Each variant has a stable
//! [`ErrorCode`]; `src/api/error.rs` is the only place that turns codes into Pinecone's HTTP
//! statuses and error bodies. Messages name the offending value and follow Pinecone's wording
//! where Pinecone's is known.

/// Result alias used throughout the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in Larch.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A dense vector's length differs from the index dimension.
    #[error("Vector dimension {got} does not match the dimension of the index {expected}")]
    DimensionMismatch { expected: u32, got: usize },

    /// A vector holds a NaN or an infinity, or is otherwise unusable.
    #[error("Invalid vector for id '{id}': {reason}")]
    InvalidVector { id: String, reason: String },

    /// A record id is empty, too long or holds forbidden characters.
    #[error("Invalid id {id:?}: {reason}")]
    InvalidId { id: String, reason: String },

    /// Metadata of an unsupported shape or type.
    #[error("Invalid metadata at '{path}': {reason}")]
    InvalidMetadata { path: String, reason: String },

    /// Metadata larger than the per-record limit.
    #[error("Metadata size is {size} bytes, which exceeds the limit of {limit} bytes per vector")]
    MetadataTooLarge { size: usize, limit: usize },

    /// A malformed metadata filter.
    #[error("Invalid filter at '{path}': {reason}")]
    InvalidFilter { path: String, reason: String },

    /// A request argument is out of range or inconsistent with another.
    #[error("{message}")]
    InvalidArgument { message: String },

    /// A namespace name Pinecone refuses, or one no route could address again (`.` and `..`
    /// are removed from URL paths by clients and runtimes).
    #[error("Invalid namespace name '{name}': {reason}")]
    InvalidNamespace { name: String, reason: String },

    /// A path segment or query string whose `%` escapes are malformed or do not decode to
    /// UTF-8.
    #[error(
        "Invalid percent-encoding in {what} '{raw}': each '%' must start an escape of two hex \
         digits, and the escapes must decode to UTF-8"
    )]
    InvalidPercentEncoding { what: &'static str, raw: String },

    /// A query parameter that takes one value was given more than once.
    #[error("Query parameter '{name}' was given {count} times; it takes a single value")]
    RepeatedQueryParameter { name: String, count: usize },

    /// A request body larger than its route accepts (see `api::limits`).
    #[error("Request size {size} bytes exceeds the maximum supported size of {limit} bytes")]
    RequestTooLarge { size: usize, limit: usize },

    /// `describe_index_stats` with a metadata filter: serverless indexes do not support it.
    #[error(
        "Serverless and Starter indexes do not support describing index stats with metadata \
         filtering."
    )]
    StatsFilterUnsupported,

    /// A request body that cannot be decoded into the expected shape.
    #[error("Failed to deserialize the JSON body into the target type: {reason}")]
    Malformed { reason: String },

    /// The named index does not exist.
    #[error("Index {name} not found.")]
    IndexNotFound { name: String },

    /// The cloud of a create request is not one Larch knows (Pinecone answers 404).
    #[error("Resource cloud: {cloud} region: {region} not found.")]
    CloudRegionNotFound { cloud: String, region: String },

    /// The named namespace does not exist.
    #[error("Namespace {name} not found")]
    NamespaceNotFound { name: String },

    /// An index with this name already exists.
    #[error("Resource already exists.")]
    IndexAlreadyExists { name: String },

    /// A namespace with this name already exists.
    #[error("Namespace {name} already exists")]
    NamespaceAlreadyExists { name: String },

    /// Deleting an index whose deletion protection is enabled.
    #[error(
        "Deletion protection is enabled for this index. Disable deletion protection before retrying."
    )]
    DeletionProtected { name: String },

    /// The request hit a limit of the deployment (namespace size, memory, quota).
    #[error("{message}")]
    LimitExceeded { message: String },

    /// A missing or wrong API key.
    #[error("Invalid API key.")]
    Unauthenticated,

    /// The index's read capacity has 0 replicas: Pinecone's pause, which refuses every read
    /// and write of the data plane until replicas are configured again.
    #[error(
        "Index '{name}' is paused: its read capacity has 0 replicas. Configure at least one \
         replica (configure_index with read_capacity) to resume reads and writes."
    )]
    IndexPaused { name: String },

    /// The route or feature is not implemented by Larch.
    #[error("{what} is not supported by Larch")]
    Unimplemented { what: String },

    /// No route matches the request.
    #[error("Not found: {method} {path}")]
    RouteNotFound { method: String, path: String },

    /// Stored bytes failed validation.
    #[error("Corrupt data in {what}: {reason}")]
    Corrupt { what: String, reason: String },

    /// An operation needs blobs the host has not provided yet. Hosts catch this, fetch the
    /// keys, provide them and retry; it never reaches a client.
    #[error("Storage blobs not loaded: {keys:?}")]
    NotLoaded { keys: Vec<String> },

    /// A model Larch does not run (Pinecone's hosted models among them).
    #[error("Model '{model}' not found. Available models: {available}")]
    ModelNotFound { model: String, available: String },

    /// A record of an integrated index lacks the field its model embeds.
    #[error("Missing field '{field}' in record '{id}': the index embeds it with {model}")]
    MissingTextField {
        id: String,
        field: String,
        model: String,
    },

    /// A text longer than the model reads, with `truncate: NONE`.
    #[error(
        "Input text at index {input} has {tokens} tokens, which exceeds the maximum of {limit} \
         tokens for model {model}; set truncate to END to truncate it"
    )]
    TextTooLong {
        input: usize,
        tokens: usize,
        limit: usize,
        model: String,
    },

    /// An operation needs texts embedded by a model the engine does not run itself. Hosts
    /// catch this, run the model on the texts, hand the vectors over with
    /// `Api::provide_embeddings` and retry; it never reaches a client (see `api::embed`).
    #[error("Embeddings needed from {model} for {} texts", texts.len())]
    NeedsEmbeddings {
        model: String,
        input_type: crate::api::InputType,
        texts: Vec<String>,
    },

    /// The request needs code this build of the engine leaves out (a cargo feature that is
    /// off: the npm package's search module leaves out `integrated` and `legacy-formats`). Hosts
    /// that carry the full build load it and retry (`api::Step::Module`); others answer 501.
    #[error("{what} needs the engine's full module (feature `{feature}`)")]
    ModuleRequired {
        feature: &'static str,
        what: &'static str,
    },

    /// A bug: an invariant the engine relies on does not hold.
    #[error("Internal error: {message}")]
    Internal { message: String },

    /// The host failed outside the engine (a platform error); nothing more is said to clients.
    #[error("Internal server error")]
    HostFailure,
}

/// Stable, transport-independent error codes. These names are Pinecone's control-plane codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    InvalidArgument,
    UnprocessableEntity,
    NotFound,
    AlreadyExists,
    Forbidden,
    QuotaExceeded,
    Unauthenticated,
    Unimplemented,
    /// The request is valid but the resource's state refuses it (a paused index).
    FailedPrecondition,
    DataLoss,
    Unavailable,
    Internal,
}

impl ErrorCode {
    /// The code's name as Pinecone spells it in control-plane error bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::UnprocessableEntity => "UNPROCESSABLE_ENTITY",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::AlreadyExists => "ALREADY_EXISTS",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::QuotaExceeded => "QUOTA_EXCEEDED",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Unimplemented => "UNIMPLEMENTED",
            ErrorCode::FailedPrecondition => "FAILED_PRECONDITION",
            ErrorCode::DataLoss => "DATA_LOSS",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

impl Error {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::DimensionMismatch { .. }
            | Error::InvalidVector { .. }
            | Error::InvalidId { .. }
            | Error::InvalidMetadata { .. }
            | Error::MetadataTooLarge { .. }
            | Error::InvalidFilter { .. }
            | Error::InvalidNamespace { .. }
            | Error::InvalidPercentEncoding { .. }
            | Error::RepeatedQueryParameter { .. }
            | Error::RequestTooLarge { .. }
            | Error::StatsFilterUnsupported
            | Error::MissingTextField { .. }
            | Error::TextTooLong { .. }
            | Error::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            Error::Malformed { .. } => ErrorCode::UnprocessableEntity,
            Error::IndexNotFound { .. }
            | Error::CloudRegionNotFound { .. }
            | Error::NamespaceNotFound { .. }
            | Error::ModelNotFound { .. }
            | Error::RouteNotFound { .. } => ErrorCode::NotFound,
            Error::IndexAlreadyExists { .. } | Error::NamespaceAlreadyExists { .. } => {
                ErrorCode::AlreadyExists
            }
            Error::DeletionProtected { .. } => ErrorCode::Forbidden,
            Error::IndexPaused { .. } => ErrorCode::FailedPrecondition,
            Error::LimitExceeded { .. } => ErrorCode::QuotaExceeded,
            Error::Unauthenticated => ErrorCode::Unauthenticated,
            Error::Unimplemented { .. } | Error::ModuleRequired { .. } => ErrorCode::Unimplemented,
            Error::Corrupt { .. } => ErrorCode::DataLoss,
            Error::NotLoaded { .. } | Error::NeedsEmbeddings { .. } => ErrorCode::Unavailable,
            Error::Internal { .. } | Error::HostFailure => ErrorCode::Internal,
        }
    }

    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidArgument {
            message: message.into(),
        }
    }
}
