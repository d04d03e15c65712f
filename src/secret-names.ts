// Endpoint keys whose values are secrets, in any plugin's naming: what the task log
// masks and what the CLI's readable output hides. A plain constant with no imports,
// so the CLI (which may reach nothing of the daemon's) can share it.
// (The API's viewer redaction in src/api/redact.ts has its own, narrower rule: it
// must keep identifiers such as access_key_id readable.)
export const SECRET_KEY = /pass|secret|token|credential|private|(^|_)key$|access_key|auth/i;
