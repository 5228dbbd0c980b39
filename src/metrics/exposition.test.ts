// The exposition format both ways: what the renderer writes is read back by the strict parser with
// the same values (escaped label values included), histograms are cumulative and end in +Inf = count,
// and the parser refuses lines that break the grammar.
import { describe, expect, it } from "vitest";
import { DURATION_BUCKETS, LIVE, STORED } from "./families";
import { encodeLabels, renderExposition } from "./exposition";
import { decodeLabels, parseExposition, sumSamples } from "./parse-exposition";
import { bucketIndex, MetricsRecorder } from "./recorder";
import { quantileFromBuckets } from "./tenant-stats";

function parsed(text: string) {
  const result = parseExposition(text);
  if (!result.ok) throw new Error(`line ${result.line}: ${result.reason}`);
  return result.families;
}

describe("rendering", () => {
  it("round-trips counters, gauges and histograms through the parser", () => {
    const r = new MetricsRecorder();
    r.count(STORED.requests, { channel: "external", route: "/external/v1/chat/completions", model: "gpt", status: "200", error_source: "none" }, 3);
    r.count(STORED.streamBroken, {});
    for (const s of [0.004, 0.3, 0.3, 7, 1_000]) r.observe(STORED.duration, { channel: "internal", stream: "true" }, s);
    const delta = r.take()!;
    const text = renderExposition({
      counters: delta.counters,
      histograms: delta.histograms,
      gauges: [{ family: LIVE.breakerState.name, labels: encodeLabels(LIVE.breakerState, { target: "a" }), value: 2 }],
    });
    const families = parsed(text);
    expect(families.get("gateway_requests_total")).toMatchObject({ type: "counter", samples: [{ value: 3, labels: { model: "gpt", status: "200" } }] });
    expect(families.get("gateway_stream_broken_total")!.samples).toEqual([{ name: "gateway_stream_broken_total", labels: {}, value: 1 }]);
    expect(families.get("gateway_breaker_state")).toMatchObject({ type: "gauge", samples: [{ labels: { target: "a" }, value: 2 }] });

    const h = families.get("gateway_request_duration_seconds")!;
    const buckets = h.samples.filter((s) => s.name.endsWith("_bucket"));
    expect(buckets).toHaveLength(DURATION_BUCKETS.length + 1);
    expect(buckets.map((b) => b.value)).toEqual([...buckets.map((b) => b.value)].sort((a, b) => a - b));
    expect(buckets.find((b) => b.labels.le === "0.005")!.value).toBe(1);
    expect(buckets.find((b) => b.labels.le === "0.5")!.value).toBe(3);
    expect(buckets.find((b) => b.labels.le === "300")!.value).toBe(4);
    expect(buckets.at(-1)).toMatchObject({ labels: { le: "+Inf" }, value: 5 });
    expect(sumSamples(h, {}, "gateway_request_duration_seconds_count")).toBe(5);
    expect(sumSamples(h, {}, "gateway_request_duration_seconds_sum")).toBeCloseTo(1_007.604);
  });

  it("escapes label values so quotes, backslashes and newlines survive", () => {
    const nasty = 'a"b\\c\nd';
    const labels = encodeLabels(STORED.cost, { tenant: nasty });
    expect(decodeLabels(labels)).toEqual({ tenant: nasty });
    const families = parsed(renderExposition({ counters: [{ family: STORED.cost.name, labels, value: 1 }], histograms: [], gauges: [] }));
    expect(families.get(STORED.cost.name)!.samples[0]!.labels.tenant).toBe(nasty);
  });

  it("writes nothing for families without series", () => {
    expect(renderExposition({ counters: [], histograms: [], gauges: [] })).toBe("");
  });
});

describe("the parser refuses broken lines", () => {
  const typed = "# TYPE x_total counter\n";
  for (const [what, text] of [
    ["a sample without a TYPE line", "y_total 1\n"],
    ["an unquoted label value", `${typed}x_total{a=b} 1\n`],
    ["a duplicate label", `${typed}x_total{a="1",a="2"} 1\n`],
    ["a non-numeric value", `${typed}x_total one\n`],
    ["a missing value", `${typed}x_total\n`],
    ["an unterminated label set", `${typed}x_total{a="1" 1\n`],
    ["a bad escape", `${typed}x_total{a="\\t"} 1\n`],
    ["an unknown type", "# TYPE x_total countr\n"],
    ["a repeated TYPE", `${typed}${typed}`],
  ] as const) {
    it(what, () => expect(parseExposition(text).ok).toBe(false));
  }

  it("accepts comments, timestamps and special values", () => {
    expect(parseExposition(`# a comment\n${typed}x_total{a="1"} +Inf 1700000000000\nx_total{a="2"} NaN\nx_total 1.5e-3\n`).ok).toBe(true);
  });
});

describe("buckets and quantiles", () => {
  it("puts a value on a bound into that bound's bucket", () => {
    expect(bucketIndex([0.1, 1], 0.1)).toBe(0);
    expect(bucketIndex([0.1, 1], 0.11)).toBe(1);
    expect(bucketIndex([0.1, 1], 5)).toBe(2);
  });

  it("interpolates inside the bucket like histogram_quantile", () => {
    // 100 values evenly in (0, 1]: the median is at 0.5.
    expect(quantileFromBuckets([1, 2], [100, 0, 0], 0.5)).toBeCloseTo(0.5);
    expect(quantileFromBuckets([1, 2], [50, 50, 0], 0.75)).toBeCloseTo(1.5);
    expect(quantileFromBuckets([1, 2], [0, 0, 10], 0.99)).toBe(2);
    expect(quantileFromBuckets([1, 2], [0, 0, 0], 0.5)).toBeNull();
  });
});
