// The plugin's YAML config and key layout, without any server: gpbackup_s3_plugin's
// options and defaults, Shield mode's, refusals by name, and its object keys.
import { describe, expect, test } from "bun:test";
import { ConfigError, DEFAULT_CHUNK, DEFAULT_CONCURRENCY, parseByteSize, parseConfig } from "../../src/gpbackup/config.ts";
import { backupPrefix, objectKey, relativeKey } from "../../src/gpbackup/layout.ts";

const yaml = (opts: string) => `executablepath: /usr/local/greenplum-db/bin/gpbackup_shield_plugin\noptions:\n${opts}`;

describe("S3 mode config", () => {
  test("gpbackup_s3_plugin's example file, as it is, with its defaults", () => {
    const c = parseConfig(yaml("  region: us-west-2\n  aws_access_key_id: test-s3-user\n  aws_secret_access_key: asdf1234asdf\n  bucket: gpdb-backup\n  folder: test/backup3\n"));
    expect(c).toMatchObject({ mode: "s3", region: "us-west-2", bucket: "gpdb-backup", folder: "test/backup3", tls: true, maxRetries: 10,
      backup: { chunkSize: DEFAULT_CHUNK, concurrency: DEFAULT_CONCURRENCY }, restore: { chunkSize: DEFAULT_CHUNK, concurrency: DEFAULT_CONCURRENCY } });
  });
  test("every option of gpbackup_s3_plugin, and gpbackup's own pgport and backup_plugin_version", () => {
    const c = parseConfig(yaml([
      "endpoint: minio.local:9000", "encryption: off", "http_proxy: http://proxy:3128", "aws_access_key_id: a", "aws_secret_access_key: b",
      "bucket: b", "folder: f", "backup_max_concurrent_requests: 3", "backup_multipart_chunksize: 10MB",
      "restore_max_concurrent_requests: 4", "restore_multipart_chunksize: 1GB", "max_request_retries: 2", "pgport: 5432", "backup_plugin_version: 1.3",
    ].map((l) => `  ${l}\n`).join("")));
    expect(c).toMatchObject({ mode: "s3", endpoint: "http://minio.local:9000", tls: false, httpProxy: "http://proxy:3128", maxRetries: 2,
      backup: { chunkSize: 10 * 1024 * 1024, concurrency: 3 }, restore: { chunkSize: 1024 ** 3, concurrency: 4 } });
  });
  test("unknown options refused by name; missing required ones named; bad values named", () => {
    expect(() => parseConfig(yaml("  bucket: b\n  folder: f\n  region: r\n  bukket: x\n"))).toThrow(`unknown option "bukket"`);
    expect(() => parseConfig(yaml("  folder: f\n  region: r\n"))).toThrow("bucket must exist");
    expect(() => parseConfig(yaml("  bucket: b\n  folder: f\n"))).toThrow("region or endpoint must exist");
    expect(() => parseConfig(yaml("  bucket: b\n  folder: f\n  region: r\n  aws_access_key_id: a\n"))).toThrow("aws_secret_access_key must exist");
    expect(() => parseConfig(yaml("  bucket: b\n  folder: f\n  region: r\n  encryption: maybe\n"))).toThrow("encryption must be on or off");
    expect(() => parseConfig(yaml("  bucket: b\n  folder: f\n  region: r\n  backup_multipart_chunksize: lots\n"))).toThrow("backup_multipart_chunksize");
    expect(() => parseConfig(yaml("  bucket: b\n  folder: f\n  region: r\n  backup_max_concurrent_requests: 0\n"))).toThrow("backup_max_concurrent_requests");
    expect(() => parseConfig("executablepath: /x\noptions:\n  bucket: b\nextra: 1\n")).toThrow(`unknown key "extra"`);
    expect(() => parseConfig("options:\n  bucket: b\n  folder: f\n  region: r\n")).toThrow("executablepath must exist");
    expect(() => parseConfig("executablepath: [unclosed\n")).toThrow(ConfigError);
  });
  test("sizes read as go-bytesize reads them (binary multiples)", () => {
    expect(parseByteSize("500MB")).toBe(500 * 1024 * 1024);
    expect(parseByteSize("5 mb")).toBe(5 * 1024 * 1024);
    expect(parseByteSize("1GB")).toBe(1024 ** 3);
    expect(parseByteSize("100")).toBe(100);
    expect(parseByteSize("1XB")).toBeUndefined();
  });
});

describe("Shield mode config", () => {
  test("its options; the S3 ones are refused there", () => {
    const c = parseConfig(yaml("  shield_core: https://shield.example:8888/\n  shield_token: tok\n  store: nightly-s3\n  retention: month\n  pgport: 6000\n"));
    expect(c).toMatchObject({ mode: "shield", core: "https://shield.example:8888", token: "tok", store: "nightly-s3", retention: "month", targetName: "greenplum" });
    expect(() => parseConfig(yaml("  shield_core: http://x\n  shield_token: t\n  store: s\n  retention: r\n  bucket: b\n"))).toThrow(`unknown option "bucket" in Shield mode`);
    expect(() => parseConfig(yaml("  shield_core: http://x\n  shield_token: t\n  store: s\n"))).toThrow("retention must exist");
    expect(() => parseConfig(yaml("  shield_core: http://x\n  store: s\n  retention: r\n"))).toThrow("shield_token (or shield_token_file) must exist");
    expect(() => parseConfig(yaml("  shield_core: ftp://x\n  shield_token: t\n  store: s\n  retention: r\n"))).toThrow("not an http(s) URL");
  });
});

describe("layout", () => {
  test("the last four segments of the local path under the folder, as gpbackup_s3_plugin keys them", () => {
    const p = "/data/gpseg0/backups/20240102/20240102030405/gpbackup_0_20240102030405";
    expect(relativeKey(p)).toBe("backups/20240102/20240102030405/gpbackup_0_20240102030405");
    expect(objectKey("test/backup3", p)).toBe("test/backup3/backups/20240102/20240102030405/gpbackup_0_20240102030405");
    expect(backupPrefix("test/backup3/", "20240102030405")).toBe("test/backup3/backups/20240102/20240102030405");
    expect(() => relativeKey("short/path")).toThrow("is not a gpbackup path");
    expect(() => backupPrefix("f", "2024")).toThrow("YYYYMMDDHHMMSS");
  });
});
