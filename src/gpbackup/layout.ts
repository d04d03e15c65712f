// Where gpbackup's files and data streams live in a bucket: gpbackup_s3_plugin's
// layout, kept exactly so that either plugin restores what the other backed up.
//
//   <folder>/backups/<YYYYMMDD>/<YYYYMMDDHHMMSS>/<file name>
//
// gpbackup hands the plugin a local path (…/backups/<date>/<timestamp>/<file>);
// only its last four segments name the object, whatever the segment's data
// directory was: the same file name from every host lands under one prefix.

export class LayoutError extends Error {}

/** The last four segments of a local backup path: `backups/<date>/<timestamp>/<file>`. */
export function relativeKey(localPath: string): string {
  const parts = localPath.split("/");
  if (parts.length < 4 || parts.slice(-4).some((p) => p === "")) {
    throw new LayoutError(`"${localPath}" is not a gpbackup path (…/backups/<YYYYMMDD>/<YYYYMMDDHHMMSS>/<file>)`);
  }
  return parts.slice(-4).join("/");
}

/** The object key of a local backup path under a folder, as gpbackup_s3_plugin computes it. */
export function objectKey(folder: string, localPath: string): string {
  return `${folder}/${relativeKey(localPath)}`;
}

const TIMESTAMP = /^[0-9]{14}$/;

export function isTimestamp(ts: string): boolean {
  return TIMESTAMP.test(ts);
}

/** The timestamp a backup path belongs to: its parent directory's name, when it is one. */
export function timestampOf(localPath: string): string | undefined {
  const parts = relativeKey(localPath).split("/");
  return isTimestamp(parts[2]!) ? parts[2] : undefined;
}

/**
 * The prefix of every object of one backup: `<folder>/backups/<date>/<timestamp>`.
 * Cleaned as Go's filepath.Join cleans it (the s3 plugin's delete_backup uses it),
 * so a folder written with a trailing or doubled slash deletes the same objects.
 */
export function backupPrefix(folder: string, timestamp: string): string {
  if (!isTimestamp(timestamp)) throw new LayoutError(`delete requires a <timestamp> with format YYYYMMDDHHMMSS, but received: ${timestamp}`);
  return cleanPath([folder, "backups", timestamp.slice(0, 8), timestamp].join("/"));
}

/** Go's path.Clean, for the prefixes gpbackup_s3_plugin builds with filepath.Join. */
export function cleanPath(p: string): string {
  const rooted = p.startsWith("/");
  const out: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") { if (out.length && out[out.length - 1] !== "..") out.pop(); else if (!rooted) out.push(".."); continue; }
    out.push(seg);
  }
  const joined = out.join("/");
  return rooted ? `/${joined}` : joined || ".";
}
