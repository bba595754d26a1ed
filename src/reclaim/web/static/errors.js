// The registry's errors in the person's language. Every error the registry
// sends has a stable `code` (reclaim/strict.py STATUS_CODES and
// reclaim/api/errors.py); the page shows its own translation of the code,
// never the server's English `error` text.
export const ERROR_KEYS = {
  case_not_found: "status.not_found",
  case_closed: "error.case_closed",
  rate_limited: "status.limited",
  invalid_request: "error.invalid_request",
  bad_request: "error.invalid_request",
  too_large: "error.too_large",
  unsupported_media_type: "error.invalid_request",
  forbidden: "error.forbidden",
  not_found: "error.invalid_request",
  method_not_allowed: "error.invalid_request",
  conflict: "error.invalid_request",
  unauthenticated: "error.forbidden",
  key_revoked: "error.forbidden",
  internal: "error.internal",
  unavailable: "error.unavailable",
  schema_outdated: "error.unavailable",
};

/** The message to show for a failed request, in the page's language. */
export function errorMessage(failure, t) {
  if (failure?.offline) return t("submit.offline");
  if (failure?.code === "rate_limited") {
    return t("status.limited", { minutes: Math.max(1, Math.ceil((failure.retryAfter || 60) / 60)) });
  }
  const key = ERROR_KEYS[failure?.code];
  return key ? t(key) : t("error.generic");
}
