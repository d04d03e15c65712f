/** Epoch seconds as "YYYY-MM-DD HH:MM:SS" (UTC), the form of the API and the task logs. */
export function formatUtc(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 19).replace("T", " ");
}
