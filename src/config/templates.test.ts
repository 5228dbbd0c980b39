// Template rendering: the bounded Jinja renderer gives the library's own output, stops hostile renders at
// a named limit before they build anything large, and simple_replace sees the caller's own variables only.
import { Template } from "@huggingface/jinja";
import { describe, expect, it } from "vitest";
import { TEMPLATE_LIMITS } from "./template-budget";
import { renderTemplate, type PromptTemplate } from "./templates";

const jinja = (...contents: string[]): PromptTemplate => ({ name: "t", version: 1, engine: "jinja", messages: contents.map((content) => ({ role: "system", content })) });
const simple = (content: string): PromptTemplate => ({ name: "t", version: 1, engine: "simple_replace", messages: [{ role: "system", content }] });

function refusal(template: PromptTemplate, variables: Record<string, unknown> = {}) {
  const started = Date.now();
  const result = renderTemplate(template, variables);
  if (result.ok) throw new Error(`rendered ${result.value[0]!.content.length} characters`);
  return { ...result.failure, ms: Date.now() - started };
}

describe("bounded Jinja renders what the library renders", () => {
  const history = Array.from({ length: 120 }, (_, i) => ({ role: i % 2 ? "assistant" : "user", content: `turn ${i}\nline two` }));
  const cases: [string, Record<string, unknown>][] = [
    ["{% for m in history %}{{ loop.index }}. {{ m.role }}: {{ m.content }}\n{% endfor %}", { history }],
    ["{% for m in history if m.role == 'user' %}{{ m.content | upper }}{% else %}none{% endfor %}", { history }],
    ["{% for i in range(3, 40, 4) %}{{ i }}{{ ',' if not loop.last }}{% endfor %}", {}],
    ["{% set ns = namespace(total=0) %}{% for n in numbers %}{% set ns.total = ns.total + n %}{% endfor %}{{ ns.total }}", { numbers: [1, 2, 3, 4.5] }],
    ["{{ names | join(', ') }} / {{ people | map(attribute='name') | join }} / {{ names | sort | first }}", { names: ["b", "c", "a"], people: [{ name: "x" }, { name: "y" }] }],
    ["{{ text | indent(2) }}|{{ text | indent(width=3, first=true) }}", { text: "a\nb\n\nc" }],
    ["{{ data | tojson }} {{ data | tojson(indent=2) }}", { data: { a: [1, 2, { b: "x" }], c: null } }],
    ["{{ s.replace('a', 'bb') }} {{ s | replace('a', '') }} {{ s[1:4] }} {{ s.upper() }} {{ 'an' in s }}", { s: "banana" }],
    ["{% macro tag(x, y='d') %}<{{ x }}|{{ y }}>{% endmacro %}{{ tag(1) }}{{ tag(2, y='e') }}", {}],
    ["{% if user is defined and user.vip %}VIP {{ user.name | title }}{% elif user %}hi{% endif %}", { user: { name: "ada lovelace", vip: true } }],
    ["{% set greeting %}Hello {{ who }}{% endset %}{{ greeting | length }}:{{ greeting }}", { who: "world" }],
    ["{{ none }}{{ true }}{{ False }}{{ items | length }}{{ items[-1] }}", { items: [1, 2, 3] }],
  ];
  it.each(cases)("%s", (source, variables) => {
    const result = renderTemplate(jinja(source), variables);
    expect(result.ok && result.value[0]!.content).toBe(new Template(source).render(variables));
  });

  it("a template error is still template_error", () => {
    expect(refusal(jinja("{{ raise_exception('bad input') }}"))).toMatchObject({ kind: "template_error", param: "template" });
    expect(refusal(jinja("{{ range }}"), { range: 1 })).toMatchObject({ kind: "template_error" });
  });
});

describe("hostile renders stop at a named limit, early", () => {
  const hostile: [string, string, Record<string, unknown>, keyof typeof TEMPLATE_LIMITS][] = [
    ["range(n) with a huge caller n", "{% for i in range(n) %}{{ i }}{% endfor %}", { n: 10 ** 9 }, "max_loop_iterations"],
    ["a loop longer than the limit", "{% for i in range(n) %}{{ i }}{% endfor %}", { n: 200_000 }, "max_loop_iterations"],
    ["nested loops", "{% for i in range(n) %}{% for j in range(n) %}{{ j }}{% endfor %}{% endfor %}", { n: 1_000 }, "max_loop_iterations"],
    ["a caller list walked in a loop", "{% for x in items %}{{ x }}{% endfor %}", { items: Array(50_000).fill(1) }, "max_loop_iterations"],
    ["a string doubled in place", "{% set ns = namespace(s='xy') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", {}, "max_work_units"],
    ["a list doubled in place", "{% set ns = namespace(a=[1]) %}{% for i in range(60) %}{% set ns.a = ns.a + ns.a %}{% endfor %}", {}, "max_work_units"],
    ["join with a huge separator", "{{ items | join(sep) }}", { items: Array(4_000).fill("a"), sep: "s".repeat(100_000) }, "max_output_chars"],
    ["indent by a huge width", "{{ text | indent(w) }}", { text: "a\n".repeat(1_000), w: 10 ** 8 }, "max_output_chars"],
    ["replace('' , big)", "{{ s.replace('', s) }}", { s: "y".repeat(5_000) }, "max_output_chars"],
    ["replace filter", "{{ s | replace('y', t) }}", { s: "y".repeat(5_000), t: "z".repeat(5_000) }, "max_output_chars"],
    ["tojson of a shared-reference tower", "{% set a = [s, s, s, s] %}{% set b = [a, a, a, a] %}{{ [b, b, b, b] | tojson }}", { s: "q".repeat(100_000) }, "max_output_chars"],
    ["tojson with a huge indent", "{{ d | tojson(indent=n) }}", { d: Array.from({ length: 100 }, () => [[1]]), n: 10 ** 6 }, "max_output_chars"],
    ["a namespace stuffed then printed", "{% set ns = namespace() %}{% set ns.a = s %}{% set ns.b = s %}{% set ns.c = s %}{{ ns }}", { s: "q".repeat(400_000) }, "max_output_chars"],
    ["searching a big string in a loop", "{% for i in range(4000) %}{{ 'zz' in s }}{% endfor %}", { s: "x".repeat(500_000) }, "max_work_units"],
    ["slicing a big string in a loop", "{% for i in range(4000) %}{{ s[0:2] }}{% endfor %}", { s: "x".repeat(500_000) }, "max_work_units"],
    ["one message too long", "{{ s }}{{ s }}", { s: "x".repeat(600_000) }, "max_output_chars"],
  ];
  it.each(hostile)("%s", (_what, source, variables, limit) => {
    const failure = refusal(jinja(source), variables);
    expect(failure).toMatchObject({ kind: "template_limit_exceeded", param: "template" });
    expect(failure.message).toContain(limit);
    // Generous: the unbounded renders ran for seconds (or ran the isolate out of memory).
    expect(failure.ms).toBeLessThan(3_000);
  });

  it("the limit is per render: output of several messages adds up", () => {
    const third = "x".repeat(Math.floor(TEMPLATE_LIMITS.max_output_chars / 3) + 10);
    expect(renderTemplate(jinja("{{ s }}", "{{ s }}"), { s: third }).ok).toBe(true);
    expect(refusal(jinja("{{ s }}", "{{ s }}", "{{ s }}"), { s: third }).kind).toBe("template_limit_exceeded");
  });

  it("a loop just under the limit renders", () => {
    const result = renderTemplate(jinja("{% for i in range(n) %}.{% endfor %}"), { n: TEMPLATE_LIMITS.max_loop_iterations - 1 });
    expect(result.ok && result.value[0]!.content.length).toBe(TEMPLATE_LIMITS.max_loop_iterations - 1);
  });
});

describe("simple_replace", () => {
  it.each(["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"])("{{%s}} is a missing variable, not the Object prototype's", (name) => {
    expect(refusal(simple(`x {{${name}}} y`), {})).toMatchObject({ kind: "template_error", param: `variables.${name}` });
  });

  it("own variables are filled, whatever their names", () => {
    const variables = JSON.parse('{"constructor": "c", "toString": 7, "__proto__": "p", "name": {"a": 1}}');
    const result = renderTemplate(simple("{{constructor}} {{ toString }} {{__proto__}} {{name}}"), variables);
    expect(result.ok && result.value[0]!.content).toBe('c 7 p {"a":1}');
  });

  it("stops at the output limit as it fills placeholders", () => {
    const failure = refusal(simple("{{v}}".repeat(20_000)), { v: "x".repeat(100_000) });
    expect(failure).toMatchObject({ kind: "template_limit_exceeded" });
    expect(failure.message).toContain("max_output_chars");
    expect(failure.ms).toBeLessThan(3_000);
  });
});
