"""The HTML report: one self-contained file (inline CSS, JS and data-URI images, no network).

An overview table (verdict, effect [CI] vs bound, adjusted p, family and correction, flips)
with a verdict filter, then one section per claim: the evidence in words, the per-document
strip plot, null distributions with the observed statistic marked (for ablation claims the
claimed neuron against matched random neurons), the verdict history from the ledger, and
token heatmaps of the neuron's top contexts in its own corpora and in others.
"""

from __future__ import annotations

import base64
import html

from polytests.claims.results import ClaimResult
from polytests.reports.format import claim_effect, effect_of, fmt_claim_p, fmt_p, not_judged, reference_words
from polytests.reports.terminal import Explanation, explain, needs_explaining, outcome

# No network: images must be data URIs; scripts and styles only inline.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
VERDICTS = ("confirmed", "refuted", "inconclusive")

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:1.5em auto;max-width:78em;padding:0 1em;
color:#1f2328}
h1{margin-bottom:.2em} .meta{color:#57606a;font-size:.9em}
table{border-collapse:collapse;font-size:.9em} td,th{border:1px solid #d0d7de;padding:3px 7px;vertical-align:top}
th{background:#f6f8fa;text-align:left} td.num{text-align:right;font-variant-numeric:tabular-nums}
.v-confirmed{color:#1a7f37;font-weight:600}.v-refuted{color:#cf222e;font-weight:600}
.v-inconclusive{color:#9a6700;font-weight:600} .flip{color:#bc4c00;font-weight:600}
.FAILED{color:#cf222e;font-weight:600}
pre{background:#f6f8fa;padding:.8em;white-space:pre-wrap;font-size:.85em}
section.claim{border-top:2px solid #d0d7de;margin-top:2em;padding-top:.5em}
.filters label{margin-right:1em} .hidden{display:none}
.why{background:#fff8c5;border:1px solid #d4a72c;padding:.5em .8em;font-size:.9em}
.ctx{font-family:ui-monospace,Menlo,monospace;font-size:.85em;line-height:1.9;margin:.3em 0 .8em;
white-space:pre-wrap;word-break:break-all}
.ctx span{border-radius:2px} .ctxhead{font-size:.8em;color:#57606a}
.peak{outline:1px solid #000}
figure{margin:.6em 0} figcaption{font-size:.8em;color:#57606a}
"""

SCRIPT = """
(function(){
  function apply(){
    var on = {};
    document.querySelectorAll('.filters input[data-verdict]').forEach(function(box){
      on[box.dataset.verdict] = box.checked;});
    var flipsOnly = document.getElementById('flips-only').checked;
    document.querySelectorAll('[data-claim-verdict]').forEach(function(el){
      var show = on[el.dataset.claimVerdict] && (!flipsOnly || el.dataset.flipped === 'yes');
      el.classList.toggle('hidden', !show);});
    var shown = document.querySelectorAll('tr[data-claim-verdict]:not(.hidden)').length;
    document.getElementById('shown').textContent = shown;
  }
  document.querySelectorAll('.filters input').forEach(function(box){box.addEventListener('change', apply);});
  apply();
})();
"""


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _figure(png: bytes | None, alt: str, caption: str) -> str:
    if not png:
        return ""
    return (f"<figure><img src='{data_uri(png)}' alt='{_e(alt)}'>"
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _token_colour(act: float, scale: float) -> str:
    if scale <= 0:
        return "transparent"
    share = max(-1.0, min(1.0, act / scale))
    if share >= 0:
        return f"rgba(214,39,40,{share:.3f})"
    return f"rgba(31,119,180,{-share:.3f})"


def _shown_token(token: str) -> str:
    return token.replace("\n", "↵\n").replace("\t", "⇥")


def heatmaps(r: ClaimResult) -> str:
    """Token heatmaps of the top contexts: each token shaded by the neuron's activation."""
    contexts = r.contexts
    if not contexts:
        return ""
    scale = max((abs(a) for c in contexts for a in c["acts"]), default=0.0)
    parts = ["<h3>Top contexts (confirm split)</h3>"
             f"<p class='meta'>Each token shaded by the activation of {_e(r.neuron)} at {_e(r.site)} "
             f"(red positive, blue negative, full colour = {scale:.3g}); the outlined token is the peak. "
             "Hover a token for its value.</p>"]
    for group, title in ((True, "in the claimed corpora"), (False, "in the other corpora")):
        members = [c for c in contexts if bool(c.get("claimed")) == group]
        if not members:
            continue
        parts.append(f"<h4>{title}</h4>")
        for c in members:
            spans = "".join(
                f"<span class='{'peak' if i == c['peak'] else ''}' style='background:{_token_colour(a, scale)}' "
                f"title='{_e(repr(t))}: {a:.4g}'>{_e(_shown_token(t))}</span>"
                for i, (t, a) in enumerate(zip(c["tokens"], c["acts"], strict=True)))
            peak = c["acts"][c["peak"]] if c["acts"] else float("nan")
            parts.append(f"<div class='ctxhead'>{_e(c['corpus'])} · {_e(c['doc_id'])} · peak {peak:.4g}</div>"
                         f"<div class='ctx' data-corpus='{_e(c['corpus'])}'>{spans}</div>")
    return "".join(parts)


def _flip_text(flip: dict | None) -> str:
    if not flip:
        return ""
    return f"{flip['before']} → {flip['after']} ({flip['explanation']})"


def _predicate_rows(r: ClaimResult) -> str:
    rows = []
    for p in r.predicates:
        effect = effect_of(p)
        rows.append(f"<tr><td>{_e(p.kind)}</td><td class='num'>{fmt_p(p.pvalue)}</td>"
                    f"<td>{_e(effect.text() if effect else '')}{_e(' (' + effect.label + ')') if effect and effect.label else ''}</td>"
                    f"<td>{_e(p.summary)}</td></tr>")
    return ("<table><tr><th>predicate</th><th>p</th><th>estimate [95% CI] vs bound</th><th>evidence</th></tr>"
            + "".join(rows) + "</table>")


def render_html(results: list[ClaimResult], stamp: str, flips: list[dict], figures: dict[str, dict[str, bytes | None]],
                warnings: list[str] = ()) -> str:
    flip_of = {f["claim_id"]: f for f in flips}
    counts = {v: sum(r.verdict == v for r in results) for v in VERDICTS}
    r0 = results[0] if results else {}
    prov = r0.provenance
    head = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
            f"<meta name='viewport' content='width=device-width'><title>polytests report</title>"
            f"<style>{STYLE}</style></head><body>")
    missing = not_judged(results)
    judged = f"{len(results)} claims judged" + (f", <a href='#not-judged'>{len(missing)} not judged</a>" if missing else "")
    intro = (f"<h1>polytests report</h1><p class='meta'>Generated {_e(stamp)} · {judged} · "
             f"model {_e(prov.get('model'))} ({_e(str(prov.get('model_digest', ''))[:12])}) · corpus hash "
             f"{_e(str(prov.get('corpus_hash', ''))[:12])} · {_e(reference_words(prov).replace('`', ''))} · split {_e(prov.get('split'))} · seed {_e(prov.get('seed'))}"
             f" · {_e(prov.get('resamples'))} resamples</p>")
    if flips:
        intro += ("<p class='why'><b>Verdicts flipped since the previous run:</b> "
                  + "; ".join(f"<a href='#claim-{_e(f['claim_id'])}'>{_e(f['claim_id'])}</a> {_e(_flip_text(f))}"
                              for f in flips) + "</p>")
    for w in warnings:
        intro += f"<p class='why'>{_e(w)}</p>"
    filters = ("<p class='filters'>Show: " + "".join(
        f"<label><input type='checkbox' data-verdict='{v}' checked> <span class='v-{v}'>{v}</span> ({counts[v]})</label>"
        for v in VERDICTS) + "<label><input type='checkbox' id='flips-only'> flipped only</label>"
        "<span class='meta'><span id='shown'>" + str(len(results)) + "</span> shown</span></p>")
    rows = []
    for r in results:
        effect = claim_effect(r)
        flip = flip_of.get(r.claim_id)
        rows.append(
            f"<tr data-claim-verdict='{r.verdict}' data-flipped='{'yes' if flip else 'no'}'>"
            f"<td><a href='#claim-{_e(r.claim_id)}'>{_e(r.claim_id)}</a></td><td>{_e(r.neuron)}</td>"
            f"<td class='v-{r.verdict}'>{r.verdict}</td><td>{_e(r.expect)}</td>"
            f"<td class='{outcome(r)}'>{outcome(r)}</td>"
            f"<td>{_e(effect.text() if effect else '—')}</td>"
            f"<td class='num'>{_e(fmt_claim_p(r))}</td><td class='num'>{fmt_p(r.pvalue_adjusted)}</td>"
            f"<td>{r.family_size} · {_e(r.correction)}</td>"
            f"<td class='flip'>{_e(_flip_text(flip))}</td></tr>")
    overview = ("<table id='overview'><tr><th>claim</th><th>neuron</th><th>verdict</th><th>expected</th>"
                "<th>test</th><th>effect [95% CI] vs bound</th><th>p</th><th>p adj</th><th>family · correction</th>"
                "<th>flip</th></tr>" + "".join(rows) + "</table>")
    sections = []
    for r in results:
        figs = figures.get(r.claim_id, {})
        flip = flip_of.get(r.claim_id)
        why = ""
        if needs_explaining(r):
            why = "<div class='why'>" + "<br>".join(_e(line) for line in Explanation(r).lines()) + "</div>"
        is_ablation = any(p.kind.startswith("ablation_") for p in r.predicates)
        sections.append(
            f"<section class='claim' id='claim-{_e(r.claim_id)}' data-claim-id='{_e(r.claim_id)}' "
            f"data-claim-verdict='{r.verdict}' data-flipped='{'yes' if flip else 'no'}'>"
            f"<h2>{_e(r.claim_id)} <span class='v-{r.verdict}'>{r.verdict}</span>"
            + (f" <span class='flip'>flipped: {_e(_flip_text(flip))}</span>" if flip else "") + "</h2>"
            f"<p>{_e(r.statement)}</p>{why}{_predicate_rows(r)}"
            + _figure(figs.get("strip"), f"{r.claim_id}: per-document activations by corpus",
                      "Mean activation per document, by corpus (claimed corpora in red; bar = corpus mean).")
            + _figure(figs.get("null"), f"{r.claim_id}: null distributions",
                      "Null distributions with the observed statistic marked"
                      + ("; for ablation, the claimed neuron's loss change against matched random neurons."
                         if is_ablation else "."))
            + _figure(figs.get("history"), f"{r.claim_id}: history", "Effect over the runs in the ledger.")
            + heatmaps(r)
            + f"<details><summary>full evidence</summary><pre>{_e(explain(r))}</pre></details></section>")
    if missing:
        sections.append("<section id='not-judged'><h2>Not judged</h2><table><tr><th>claim</th><th>why</th></tr>"
                        + "".join(f"<tr><td>{_e(cid)}</td><td>{_e(why)}</td></tr>" for cid, why in missing.items())
                        + "</table></section>")
    return (head + intro + filters + overview + "".join(sections)
            + f"<script>{SCRIPT}</script></body></html>\n")
