// Compliance export of a tenant's audit records as NDJSON or CSV: keyset pages of EXPORT_CHUNK rows
// pulled into a ReadableStream as the client reads, so memory holds one page whatever the window.
import type { Kysely } from "kysely";
import type { Database } from "../db/schema";
import { adminAuditView, cursorOf, selectAudit, type AdminAuditView, type AuditCursor, type AuditFilters, type AuditRow } from "./audit-query";
import { csvRow } from "./csv";

export const EXPORT_CHUNK = 1_000;
export type ExportFormat = "ndjson" | "csv";

/** CSV column order; nested values (flags, step timings, meta) are JSON text in their cell. */
export const CSV_COLUMNS = [
  "request_id",
  "trace_id",
  "created_at",
  "tenant_id",
  "key_id",
  "channel",
  "route",
  "model",
  "upstream",
  "status",
  "error_code",
  "error_source",
  "upstream_status",
  "latency_ms",
  "input_tokens",
  "output_tokens",
  "usage_estimated",
  "cost_micros",
  "stream",
  "ending",
  "config_version",
  "flags",
  "step_timings",
  "meta",
] as const satisfies readonly (keyof AdminAuditView)[];

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  ndjson: "application/x-ndjson; charset=utf-8",
  csv: "text/csv; charset=utf-8; header=present",
};

function encodeRows(rows: AuditRow[], format: ExportFormat): string {
  let out = "";
  for (const row of rows) {
    const view = adminAuditView(row);
    out += format === "ndjson" ? `${JSON.stringify(view)}\n` : csvRow(CSV_COLUMNS.map((column) => view[column]));
  }
  return out;
}

export interface ExportOptions {
  db: Kysely<Database>;
  tenantId: string;
  filters: AuditFilters;
  format: ExportFormat;
  chunkRows?: number;
  /** Called once when the stream ends, fails or is cancelled, with the rows written (release the database here). */
  onEnd: (outcome: { rows: number; ending: "complete" | "failed" | "cancelled"; error?: unknown }) => void;
}

/**
 * Reads the first page before answering, so a database that is down is a 503 rather than an empty
 * 200. Later pages are read on demand; a failure then errors the stream, which aborts the response:
 * the client sees a broken transfer, never a short file that looks complete.
 */
export async function auditExportStream(opts: ExportOptions): Promise<ReadableStream<Uint8Array>> {
  const chunk = opts.chunkRows ?? EXPORT_CHUNK;
  const encoder = new TextEncoder();
  const page = (after: AuditCursor | undefined) => selectAudit(opts.db, { tenantId: opts.tenantId, filters: opts.filters, order: "asc", after, limit: chunk });
  let pending: AuditRow[] | null = await page(undefined);
  let written = 0;
  let ended = false;
  const end = (ending: "complete" | "failed" | "cancelled", error?: unknown) => {
    if (ended) return;
    ended = true;
    opts.onEnd({ rows: written, ending, error });
  };

  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        if (opts.format === "csv") controller.enqueue(encoder.encode(csvRow(CSV_COLUMNS)));
      },
      async pull(controller) {
        try {
          const rows: AuditRow[] = pending ?? [];
          pending = null;
          if (rows.length > 0) {
            controller.enqueue(encoder.encode(encodeRows(rows, opts.format)));
            written += rows.length;
          }
          if (rows.length < chunk) {
            controller.close();
            end("complete");
            return;
          }
          pending = await page(cursorOf(rows[rows.length - 1]!));
        } catch (error) {
          controller.error(error);
          end("failed", error);
        }
      },
      cancel(reason) {
        end("cancelled", reason);
      },
    },
    // One encoded page buffered ahead: the next query overlaps the network write, no more.
    { highWaterMark: 1 },
  );
}
