// The errors the core raises on purpose. The API turns each into its HTTP status
// and a `{"error": ...}` body; anything else is a bug and becomes a logged 500.

export class ShieldError extends Error {
  constructor(readonly status: 400 | 401 | 403 | 404 | 409 | 429 | 503, message: string, readonly fields?: Record<string, string>) {
    super(message);
  }
}

/** Bad input: `fields` maps each offending field to what is wrong with it. */
export class InvalidInput extends ShieldError {
  constructor(message: string, fields?: Record<string, string>) { super(400, message, fields); }
}

export class Unauthenticated extends ShieldError {
  constructor(message = "authentication required: use HTTP Basic (user and password) or Authorization: Bearer <token>") { super(401, message); }
}

export class Forbidden extends ShieldError {
  constructor(message: string) { super(403, message); }
}

export class NotFound extends ShieldError {
  constructor(kind: string, id: string, by: "uuid" | "name" = "uuid") {
    super(404, by === "name" ? `no ${kind} named "${id}"` : `no ${kind} with uuid ${id}`);
  }
}

export class Conflict extends ShieldError {
  constructor(message: string) { super(409, message); }
}

/** Too many failed sign-ins: the API answers 429 with Retry-After. */
export class TooManyAttempts extends ShieldError {
  constructor(readonly retryAfterS: number) {
    super(429, `too many failed sign-ins from this address; try again in ${retryAfterS} s`);
  }
}

/** Something the answer depends on cannot be asked now (an auth provider's server): 503, try again later. */
export class Unavailable extends ShieldError {
  constructor(message: string) { super(503, message); }
}
