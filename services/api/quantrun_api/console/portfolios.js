// QuantRun console, paper portfolios (CONTRACT 6.1): #/portfolios lists them with a form
// that makes one from a backtest strategy; #/portfolios/<id> shows the book (positions,
// equity chart, orders, trades) and steps it on demand. Uses app.js's helpers (h, call,
// table, show, chartOf); loaded before it, so its functions exist when app.js routes.
"use strict";

async function everyPage(path, most = 1000) {
  const items = [];
  let cursor = null;
  do {
    const page = await call("GET", `${path}?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < most);
  return items;
}

async function portfoliosPage() {
  const [portfolios, strategies] = await Promise.all([call("GET", "/v1/portfolios"), call("GET", "/v1/strategies")]);
  const names = new Map(strategies.map((s) => [s.id, s.name]));
  const backtests = strategies.filter((s) => s.model === "backtest");
  const field = (id, text, input) => h("div", { class: "field" }, h("label", { for: id }, text), input);
  const strategy = h("select", { id: "portfolio-strategy", required: true },
    backtests.map((s) => h("option", { value: s.id }, s.name)));
  const name = h("input", { id: "portfolio-name", required: true, maxlength: 200, size: 32 });
  const cash = h("input", { id: "portfolio-cash", type: "number", min: 1, step: "any", value: 1000000 });
  const start = h("input", { id: "portfolio-start", type: "date", required: true });
  const drawdown = h("input", { id: "portfolio-drawdown", type: "number", min: 0, max: 0.99, step: "any", placeholder: "0.1" });
  const error = h("div", { role: "alert", id: "portfolio-error" });
  const form = h("form", { id: "portfolio-form", onsubmit: async (event) => {
    event.preventDefault();
    const body = { strategy_id: strategy.value, name: name.value.trim(), cash: Number(cash.value), start: start.value };
    if (drawdown.value) body.alerts = { max_drawdown: Number(drawdown.value) };
    try {
      const made = await call("POST", "/v1/portfolios", body);
      location.hash = `#/portfolios/${made.id}`;
    } catch (e) { error.replaceChildren(failure(e)); }
  } },
  field("portfolio-strategy", "Strategy (one-set backtest)", strategy), field("portfolio-name", "Name", name),
  field("portfolio-cash", "Starting cash", cash), field("portfolio-start", "Start", start),
  field("portfolio-drawdown", "Alert when the drawdown passes (fraction, optional)", drawdown),
  error, h("button", { class: "primary", type: "submit", disabled: !backtests.length }, "Create portfolio"));
  const rows = portfolios.map((p) => [
    h("a", { href: `#/portfolios/${p.id}` }, p.name), names.get(p.strategy_id) || p.strategy_id, p.as_of,
    p.equity, p.cash, p.realized_pnl, p.max_drawdown, p.positions.length]);
  show("Paper portfolios",
    portfolios.length ? table(["name", "strategy", "as of", "equity", "cash", "realized pnl", "max drawdown", "positions"], rows)
      : h("p", { class: "notice" }, "No portfolios yet: make one from a backtest strategy below."),
    h("h2", {}, "New portfolio"),
    backtests.length ? form : h("p", { class: "notice" }, "Save a backtest strategy with one parameter set first (Strategies)."));
}

async function portfolioPage(id) {
  const p = await call("GET", `/v1/portfolios/${id}`);
  const [equity, orders, trades] = await Promise.all(["equity", "orders", "trades"].map((what) => everyPage(`/v1/portfolios/${id}/${what}`)));
  const status = h("p", { id: "step-status", class: "meta", "aria-live": "polite" });
  const step = h("button", { type: "button", id: "step", onclick: async () => {
    step.disabled = true;
    let said;
    try {
      const done = await call("POST", `/v1/portfolios/${id}/step`);
      said = done.booked ? `${done.booked} days booked` : "nothing new to book";
    } catch (e) { status.replaceChildren(failure(e)); step.disabled = false; return; }
    // drawn again whatever this step booked: another step (the scheduler's) may have
    // booked the days this one found taken; not over a page the user has moved to since
    if (location.hash !== `#/portfolios/${id}`) return;
    try { await portfolioPage(id); } catch (e) { show("Something went wrong", failure(e)); return; }
    const shown = document.getElementById("step-status");
    if (shown) shown.textContent = said;
  } }, "Step to the latest day");
  const charts = h("div", { id: "portfolio-chart" });
  show(p.name,
    h("div", { class: "row" }, step, status),
    h("dl", { class: "facts", id: "portfolio-facts" },
      h("dt", {}, "as of"), h("dd", {}, p.as_of || "not stepped yet"),
      h("dt", {}, "equity"), h("dd", {}, fmt(p.equity)),
      h("dt", {}, "cash"), h("dd", {}, fmt(p.cash)),
      h("dt", {}, "realized pnl"), h("dd", {}, fmt(p.realized_pnl)),
      h("dt", {}, "max drawdown"), h("dd", {}, fmt(p.max_drawdown)),
      h("dt", {}, "started"), h("dd", {}, `${p.start} with ${fmt(p.initial_cash)}`),
      p.carried.length ? [h("dt", {}, "carried"), h("dd", {}, `no price on ${p.as_of} for ${p.carried.join(", ")}: last close used`)] : null),
    h("h2", {}, "Positions"),
    h("div", { id: "positions" }, p.positions.length
      ? table(["symbol", "quantity", "avg price", "last price", "market value", "unrealized pnl", "entry date"],
        p.positions.map((x) => [x.symbol, x.quantity, x.avg_price, x.last_price, x.market_value, x.unrealized_pnl, x.entry_date]))
      : h("p", { class: "meta" }, "Flat: no positions.")),
    h("h2", {}, "Equity"), charts,
    h("h2", {}, "Orders"),
    h("div", { id: "orders" }, h("p", { class: "meta" }, `${orders.length} filled orders, newest first`),
      table(["date", "symbol", "side", "quantity", "price", "notional", "cost", "reason"],
        orders.slice().reverse().map((o) => [o.date, o.symbol, o.side, o.quantity, o.price, o.notional, o.cost, o.reason]), "", 200)),
    h("h2", {}, "Trades"),
    h("div", { id: "portfolio-trades" }, h("p", { class: "meta" }, `${trades.length} round trips`),
      table(["symbol", "entry date", "entry price", "exit date", "exit price", "quantity", "pnl", "return", "days held", "exit reason"],
        trades.map((t) => [t.symbol, t.entry_date, t.entry_price, t.exit_date, t.exit_price, t.quantity, t.pnl, t.return, t.days_held, t.exit_reason]), "", 200)));
  charts.replaceChildren(equity.length
    ? chartOf("Equity after each close", [{ name: p.name, x: equity.map((e) => e.date), y: equity.map((e) => e.value) }], charts.clientWidth || 900)
    : h("p", { class: "meta" }, "No day booked yet."));
}
