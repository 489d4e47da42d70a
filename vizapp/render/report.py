"""One self-contained HTML page for an analysis: the block graph as inline SVG (wheel to zoom,
drag to pan, click a node for its details), the Shapes table with the worked arithmetic, the
totals. No network: no external scripts, styles or fonts. Also how an ``Analysis`` shows itself
in Jupyter (:func:`fragment`, registered with IPython by ``vizapp/__init__.py``)."""

from __future__ import annotations

import html
import uuid

from vizapp.analysis.records import Analysis
from vizapp.fmt import shape_text

CSS = """
.vzr{font-family:Helvetica,Arial,sans-serif;color:#111827;max-width:1200px}
.vzr .vzr-graph{border:1px solid #d1d5db;height:520px;overflow:hidden;cursor:grab;position:relative}
.vzr .vzr-graph svg{width:100%;height:100%}
.vzr .node{cursor:pointer}
.vzr pre.details{background:#f3f4f6;padding:8px;min-height:3em;white-space:pre-wrap}
.vzr table{border-collapse:collapse;font-size:13px}
.vzr td,.vzr th{border:1px solid #e5e7eb;padding:3px 6px;vertical-align:top;text-align:left}
.vzr td.num{text-align:right;font-variant-numeric:tabular-nums}
.vzr .fail{background:#fee2e2;padding:8px;border:1px solid #ef4444}
"""

JS = """
(function(){
const root=document.getElementById('%(id)s'); const box=root.querySelector('.vzr-graph');
const svg=box.querySelector('svg'); const out=root.querySelector('pre.details');
if(!svg) return;
let vb=svg.viewBox.baseVal; let v=[vb.x,vb.y,vb.width,vb.height];
svg.removeAttribute('width'); svg.removeAttribute('height');
function set(){svg.setAttribute('viewBox',v.join(' '));}
box.addEventListener('wheel',function(e){e.preventDefault();
  const r=svg.getBoundingClientRect(); const f=e.deltaY<0?0.85:1/0.85;
  const px=v[0]+(e.clientX-r.left)/r.width*v[2], py=v[1]+(e.clientY-r.top)/r.height*v[3];
  v=[px-(px-v[0])*f,py-(py-v[1])*f,v[2]*f,v[3]*f]; set();},{passive:false});
let drag=null;
box.addEventListener('mousedown',function(e){drag=[e.clientX,e.clientY,v[0],v[1]];});
window.addEventListener('mouseup',function(){drag=null;});
window.addEventListener('mousemove',function(e){if(!drag)return;
  const r=svg.getBoundingClientRect();
  v[0]=drag[2]-(e.clientX-drag[0])*v[2]/r.width; v[1]=drag[3]-(e.clientY-drag[1])*v[3]/r.height;
  set();});
svg.querySelectorAll('g.node').forEach(function(g){g.addEventListener('click',function(e){
  e.preventDefault(); e.stopPropagation();
  const a=g.querySelector('a'); const t=g.querySelector('title');
  const text=(a&&(a.getAttribute('xlink:title')||a.getAttribute('title')))||(t&&t.textContent)||g.id;
  out.textContent=text; root.querySelectorAll('tr.sel').forEach(function(r){r.classList.remove('sel');});
});});
})();
"""


def _svg(a: Analysis, depth: int) -> str:
    from .dot import to_dot
    from .layout import layout

    svg = layout(to_dot(a, depth=depth), "svg").decode("utf-8")
    return svg[svg.index("<svg"):]  # drop the XML prolog and DOCTYPE (inline in HTML)


def _rows(a: Analysis, depth: int) -> str:
    out = ["<tr><th>layer</th><th>type</th><th>output</th><th>params</th><th>MACs</th>"
           "<th>RF</th><th>arithmetic</th></tr>"]
    for r in a.rows(depth):
        shape = shape_text(r.output_shape, batch=True) if r.output_shape else "—"
        rf = str(r.receptive_field.size[0]) if r.receptive_field else ""
        name = "&nbsp;&nbsp;" * (r.depth - 1) + html.escape(r.name)
        out.append(f"<tr><td>{name}</td><td>{html.escape(r.type)}</td><td>{html.escape(shape)}"
                   f"</td><td class=num>{r.params:,}</td><td class=num>{r.macs:,}</td>"
                   f"<td class=num>{rf}</td><td><pre>{html.escape(r.explanation)}</pre></td></tr>")
    return "<table>" + "".join(out) + "</table>"


def fragment(a: Analysis, depth: int = 1, table_depth: int = 99) -> str:
    """The report as an HTML fragment (for notebooks); ids are unique per call."""
    rid = "vzr-" + uuid.uuid4().hex[:8]
    fail = ""
    if a.failure is not None:
        f = a.failure
        fail = (f"<p class=fail><b>Stops at {html.escape(f.module_path or f.node)} "
                f"({html.escape(f.op)})</b>: {html.escape(f.message)}<br>Fix: "
                f"{html.escape(f.fix)}</p>")
    totals = (f"input {html.escape(shape_text(a.input_shape, batch=True))} · "
              + (f"output {html.escape(shape_text(a.output_shape, batch=True))} · "
                 if a.output_shape else "")
              + f"{a.total_params:,} parameters · {a.total_macs:,} MACs")
    return (f"<div class=vzr id={rid}><style>{CSS}</style><h2>{html.escape(a.model)}</h2>"
            f"<p class=totals>{totals}</p>{fail}"
            f"<p>Wheel: zoom · drag: pan · click a node for its details.</p>"
            f"<div class=vzr-graph>{_svg(a, depth)}</div><pre class=details>Click a node.</pre>"
            f"<h3>Shapes</h3>{_rows(a, table_depth)}<script>{JS % {'id': rid}}</script></div>")


def report_html(a: Analysis, depth: int = 1) -> str:
    """A whole HTML document, openable from disk with no network."""
    return ("<!doctype html><html><head><meta charset=utf-8>"
            f"<title>{html.escape(a.model)} · vizapp report</title></head><body>"
            f"{fragment(a, depth)}</body></html>")
