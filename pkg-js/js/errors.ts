// Errors of the facade: the same classes and names as @pinecone-database/pinecone 9 (the entry
// points export them flat and as the SDK's `Errors` namespace), each with a
// stable `code` (Pinecone's error code, e.g. "NOT_FOUND", "INVALID_ARGUMENT", "ALREADY_EXISTS")
// and the HTTP `status` the engine answered with. The engine decides status and message; this
// file only maps a status to a class, as the SDK does.

/** The base of every error Larch throws for a Pinecone API call. */
export class BasePineconeError extends Error {
  /** Pinecone's error code, e.g. `NOT_FOUND`. */
  readonly code: string;
  /** The HTTP status of the engine's response (0 for errors raised before a request). */
  readonly status: number;
  /** The parsed error body, as the REST API would have sent it. */
  readonly body: unknown;

  constructor(message: string, code: string, status = 0, body?: unknown) {
    super(message);
    this.name = "BasePineconeError";
    this.code = code;
    this.status = status;
    this.body = body;
  }
}

/** Wrong arguments to a facade call (nothing was sent to the engine). */
export class PineconeArgumentError extends BasePineconeError {
  override name = "PineconeArgumentError";
  constructor(message: string) {
    super(message, "INVALID_ARGUMENT");
  }
}
export class PineconeBadRequestError extends BasePineconeError {
  override name = "PineconeBadRequestError";
}
export class PineconeAuthorizationError extends BasePineconeError {
  override name = "PineconeAuthorizationError";
}
export class PineconeNotFoundError extends BasePineconeError {
  override name = "PineconeNotFoundError";
}
export class PineconeMethodNotAllowedError extends BasePineconeError {
  override name = "PineconeMethodNotAllowedError";
}
export class PineconeConflictError extends BasePineconeError {
  override name = "PineconeConflictError";
}
export class PineconeUnprocessableEntityError extends BasePineconeError {
  override name = "PineconeUnprocessableEntityError";
}
export class PineconeInternalServerError extends BasePineconeError {
  override name = "PineconeInternalServerError";
}
export class PineconeNotImplementedError extends BasePineconeError {
  override name = "PineconeNotImplementedError";
}
export class PineconeUnavailableError extends BasePineconeError {
  override name = "PineconeUnavailableError";
}
export class PineconeUnmappedHttpError extends BasePineconeError {
  override name = "PineconeUnmappedHttpError";
}
export class PineconePaymentRequiredError extends BasePineconeError {
  override name = "PineconePaymentRequiredError";
}
export class PineconeFailedPreconditionError extends BasePineconeError {
  override name = "PineconeFailedPreconditionError";
}
// The SDK's other classes, so `instanceof` checks and `catch` clauses written for it compile. Larch
// has no network, retries, configuration or batch-upsert helper, so it throws none of these.
export class PineconeConfigurationError extends BasePineconeError {
  override name = "PineconeConfigurationError";
}
export class PineconeUnexpectedResponseError extends BasePineconeError {
  override name = "PineconeUnexpectedResponseError";
}
export class PineconeEnvironmentVarsNotSupportedError extends BasePineconeError {
  override name = "PineconeEnvironmentVarsNotSupportedError";
}
export class PineconeUnableToResolveHostError extends BasePineconeError {
  override name = "PineconeUnableToResolveHostError";
}
export class PineconeMaxRetriesExceededError extends BasePineconeError {
  override name = "PineconeMaxRetriesExceededError";
}
export class PineconeTimeoutError extends BasePineconeError {
  override name = "PineconeTimeoutError";
}
export class PineconeIndexInitializationFailedError extends BasePineconeError {
  override name = "PineconeIndexInitializationFailedError";
}
export class PineconeIndexTerminatedError extends BasePineconeError {
  override name = "PineconeIndexTerminatedError";
}
export class PineconeConnectionError extends BasePineconeError {
  override name = "PineconeConnectionError";
}
export class PineconeRequestError extends BasePineconeError {
  override name = "PineconeRequestError";
}
export class PineconeBatchUpsertError extends BasePineconeError {
  override name = "PineconeBatchUpsertError";
}
export class PineconeBatchUpsertUnsentError extends BasePineconeError {
  override name = "PineconeBatchUpsertUnsentError";
}
export class PineconeIndexPropertyError extends BasePineconeError {
  override name = "PineconeIndexPropertyError";
}

// gRPC status numbers (the data plane's `code`) and their names.
const GRPC_NAMES: Record<number, string> = {
  1: "CANCELLED",
  2: "UNKNOWN",
  3: "INVALID_ARGUMENT",
  4: "DEADLINE_EXCEEDED",
  5: "NOT_FOUND",
  6: "ALREADY_EXISTS",
  7: "PERMISSION_DENIED",
  8: "RESOURCE_EXHAUSTED",
  9: "FAILED_PRECONDITION",
  10: "ABORTED",
  11: "OUT_OF_RANGE",
  12: "UNIMPLEMENTED",
  13: "INTERNAL",
  14: "UNAVAILABLE",
  15: "DATA_LOSS",
  16: "UNAUTHENTICATED",
};

const BY_STATUS: Record<number, new (m: string, c: string, s: number, b?: unknown) => BasePineconeError> = {
  400: PineconeBadRequestError,
  401: PineconeAuthorizationError,
  402: PineconePaymentRequiredError,
  403: PineconeBadRequestError, // as SDK 9's mapHttpStatusError
  404: PineconeNotFoundError,
  405: PineconeMethodNotAllowedError,
  409: PineconeConflictError,
  412: PineconeFailedPreconditionError,
  422: PineconeUnprocessableEntityError,
  500: PineconeInternalServerError,
  501: PineconeNotImplementedError,
  503: PineconeUnavailableError,
};

/** Turns an engine error response (either of Pinecone's body shapes) into an error. */
export function errorFromResponse(status: number, body: unknown, text: string): BasePineconeError {
  let message = text || `HTTP status ${status}`;
  let code = `HTTP_${status}`;
  if (body && typeof body === "object") {
    const b = body as { error?: { code?: unknown; message?: unknown }; code?: unknown; message?: unknown };
    if (b.error && typeof b.error === "object") {
      // Control plane: {"error": {"code": "NOT_FOUND", "message": ...}, "status": 404}
      if (typeof b.error.message === "string") message = b.error.message;
      if (typeof b.error.code === "string") code = b.error.code;
    } else {
      // Data plane: {"code": 5, "message": ..., "details": []}
      if (typeof b.message === "string") message = b.message;
      if (typeof b.code === "number") code = GRPC_NAMES[b.code] ?? String(b.code);
      else if (typeof b.code === "string") code = b.code;
    }
  }
  const Cls = BY_STATUS[status] ?? PineconeUnmappedHttpError;
  return new Cls(message, code, status, body);
}
