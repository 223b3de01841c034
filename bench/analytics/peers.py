#!/usr/bin/env python3
"""The sales summary on the peers of the analytics engine, same data, same semantics.

    peers.py duckdb    LAKE_DATASET_DIR COMPTOIR_SUMMARY_JSON [--reps N] [--filters N]
    peers.py pandas    LAKE_DATASET_DIR COMPTOIR_SUMMARY_JSON [--reps N] [--filters N] [--category]
    peers.py sqlite    SQLITE_DB        COMPTOIR_SUMMARY_JSON [--reps N] [--filters N]
    peers.py reference MYSQL_URI        COMPTOIR_SUMMARY_JSON [--reps N]
    peers.py report    RESULTS_DIR

Each engine run prints one JSON object (times in seconds for loads, milliseconds
for queries). The summary is the one of `GET /api/v1/sales/summary` without a
filter: rows, distinct orders, distinct customers, quantity, sales in exact
cents, and by product line, status, deal size, country, territory, year, month
and the top 10 customers: sales (cents), rows and distinct orders of each group.
Every peer's summary is checked against comptoir's (engine_bench's
SUMMARY_JSON): totals and every group. A mismatch is printed loudly and the
run exits with status 3.

- duckdb: cold = CREATE TABLE AS SELECT ... FROM read_csv(the part files, the
  schema's column types) into an in-memory database (the 13 columns the engine
  keeps); warm = the queries, best of two forms (one query per group, or one
  GROUPING SETS query).
- pandas: cold = read_csv (the same 13 columns plus nothing else, ISO dates
  parsed, `\\N` as NULL); prep = the derived columns a dashboard computes once
  (cents, year, month); warm = the group-bys of the reference dashboard
  (revenue by product line, deal size, status, country, territory, month, year,
  top 10 customers, KPIs), with distinct orders per group. Strings stay Python
  objects as read_csv returns them (--category: converted to categoricals in
  prep, a tuned variant).
- sqlite: the seed's SQLite file; cold = the first summary after opening the
  file, warm = the same again (one query per group).
- reference: the reference stack's refresh, end to end: `SELECT *` from MariaDB
  through pymysql into pandas (read_sql), then the same prep and group-bys as
  pandas; every refresh does it all again.
"""
import datetime
import json
import os
import random
import resource
import statistics
import sys
import time

DIMS = [("by_productline", "PRODUCTLINE"), ("by_status", "STATUS"), ("by_dealsize", "DEALSIZE"),
        ("by_country", "COUNTRY"), ("by_territory", "TERRITORY")]
# The columns the engine keeps (src/analytics/sales.cc, kColNames).
KEEP = ["ORDERNUMBER", "ORDERLINENUMBER", "ORDERDATE", "QUANTITYORDERED", "PRICEEACH", "SALES", "PRODUCTLINE",
        "COUNTRY", "STATUS", "DEALSIZE", "TERRITORY", "CUSTOMERNAME", "PRODUCTCODE"]
START = datetime.date(1970, 1, 1)


def now():
    return time.perf_counter()


def stats(ms):
    if not ms:
        return {"n": 0}
    s = sorted(ms)
    return {"n": len(ms), "median": statistics.median(ms), "min": s[0], "max": s[-1]}


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def dataset_files(ds_dir):
    with open(os.path.join(ds_dir, "_schema.json")) as f:
        schema = json.load(f)
    parts = sorted(os.path.join(ds_dir, n) for n in os.listdir(ds_dir) if not n.startswith(("_", ".")))
    return schema, parts


def group_rows(rows, top=0, time_key=False):
    """[(key, cents, rows, orders)] -> the engine's order: time keys by key, else sales desc, key asc."""
    out = [{"key": str(k), "sales_cents": int(c), "rows": int(r), "orders": int(o)} for k, c, r, o in rows]
    if time_key:
        out.sort(key=lambda g: g["key"])
    else:
        out.sort(key=lambda g: (-g["sales_cents"], g["key"]))
    return out[:top] if top else out


def check(engine, got, want):
    """Compares a peer's summary with comptoir's; exits 3 on any difference."""
    bad = []
    for k in ("rows", "sales_cents", "orders", "customers", "quantity"):
        if int(got[k]) != int(want[k]):
            bad.append(f"{k}: {engine} {got[k]} != comptoir {want[k]}")
    for g in [d for d, _ in DIMS] + ["by_year", "by_month", "top_customers"]:
        a = [(x["key"], x["sales_cents"], x["rows"], x["orders"]) for x in got[g]]
        b = [(x["key"], x["sales_cents"], x["rows"], x["orders"]) for x in want[g]]
        if a != b:
            diff = [(x, y) for x, y in zip(a, b) if x != y][:3]
            bad.append(f"{g}: {engine} has {len(a)} groups, comptoir {len(b)}; first differences "
                       f"({engine}, comptoir): {diff}")
    if bad:
        print(f"\n!!!!! MISMATCH: {engine} and comptoir disagree on the summary !!!!!", file=sys.stderr)
        for b in bad:
            print(f"!!!!! {b}", file=sys.stderr)
        sys.exit(3)
    print(f"peers: {engine}: summary equal to comptoir's (rows {got['rows']}, "
          f"sales {got['sales_cents']} cents, every group)", file=sys.stderr)


def random_filters(n, lines, min_day, max_day, countries, deals, seed=7):
    """Different random filters: a product line and a date range (+ country, deal size)."""
    rng = random.Random(seed)
    seen, out = set(), []
    i = 0
    while len(out) < n and i < n * 100:
        f = {"productline": rng.choice(lines)}
        a = min_day + rng.randrange(max_day - min_day + 1)
        f["from"], f["to"] = a, min(max_day, a + 30 + rng.randrange(335))
        if i % 3 == 2:
            f["country"] = rng.choice(countries)
        if i % 5 == 4:
            f["dealsize"] = rng.choice(deals)
        i += 1
        k = json.dumps(f, sort_keys=True)
        if k not in seen:
            seen.add(k)
            out.append(f)
    return out


def day(n):
    return START + datetime.timedelta(days=n)


def timed_reps(fn, reps):
    ms = []
    for _ in range(reps):
        t = now()
        fn()
        ms.append((now() - t) * 1000)
    return ms


# --- DuckDB -----------------------------------------------------------------------------------

DUCK_TYPES = {"integer": "BIGINT", "datetime": "TIMESTAMP", "date": "DATE", "string": "VARCHAR",
              "double": "DOUBLE", "boolean": "BOOLEAN"}


def duck_type(c):
    if c["type"] == "decimal":
        return f"DECIMAL({c.get('precision', 18)},{c.get('scale', 2)})"
    return DUCK_TYPES.get(c["type"], "VARCHAR")


def run_duckdb(ds_dir, want, reps, nfilters):
    import duckdb
    schema, parts = dataset_files(ds_dir)
    cols = ", ".join(f"'{c['name']}': '{duck_type(c)}'" for c in schema["columns"])
    text = schema.get("text", {})
    files = "[" + ", ".join(f"'{p}'" for p in parts) + "]"
    t = now()
    con = duckdb.connect(":memory:")
    con.execute(f"""CREATE TABLE sales AS SELECT ORDERNUMBER, ORDERLINENUMBER, CAST(ORDERDATE AS DATE) AS ORDERDATE,
        QUANTITYORDERED, PRICEEACH, SALES, PRODUCTLINE, COUNTRY, STATUS, DEALSIZE, coalesce(TERRITORY, '') AS TERRITORY,
        CUSTOMERNAME, PRODUCTCODE
      FROM read_csv({files}, header = false, auto_detect = false, columns = {{{cols}}},
                    delim = '{text.get("fields_terminated_by", ",")}', quote = '"', escape = '"',
                    nullstr = '\\N')""")
    cold = now() - t
    rows = con.execute("SELECT count(*) FROM sales").fetchone()[0]

    def where(f):
        if not f:
            return "", []
        w, p = ["PRODUCTLINE = ?", "ORDERDATE BETWEEN ? AND ?"], [f["productline"], day(f["from"]), day(f["to"])]
        for k, col in (("country", "COUNTRY"), ("dealsize", "DEALSIZE")):
            if k in f:
                w.append(f"{col} = ?")
                p.append(f[k])
        return " WHERE " + " AND ".join(w), p

    cents = "CAST(sum(SALES) * 100 AS HUGEINT)"

    def per_group(f=None):  # one query per group
        w, p = where(f)
        r, o, cu, q, s = con.execute(f"SELECT count(*), count(DISTINCT ORDERNUMBER), count(DISTINCT CUSTOMERNAME), "
                                     f"coalesce(sum(QUANTITYORDERED), 0), coalesce({cents}, 0) FROM sales{w}", p).fetchone()
        out = {"rows": r, "orders": o, "customers": cu, "quantity": q, "sales_cents": s}
        keyed = [(n, c) for n, c in DIMS] + [("by_year", "year(ORDERDATE)"),
                                              ("by_month", "strftime(date_trunc('month', ORDERDATE), '%Y-%m')"),
                                              ("top_customers", "CUSTOMERNAME")]
        for name, expr in keyed:
            if name == "by_month":  # format the few keys, not every row
                sql = (f"SELECT strftime(m, '%Y-%m'), s, r, o FROM (SELECT date_trunc('month', ORDERDATE) m, {cents} s, "
                       f"count(*) r, count(DISTINCT ORDERNUMBER) o FROM sales{w} GROUP BY 1)")
            elif name == "top_customers":
                sql = (f"SELECT {expr}, {cents}, count(*), count(DISTINCT ORDERNUMBER) FROM sales{w} GROUP BY 1 "
                       f"ORDER BY 2 DESC, 1 LIMIT 10")
            else:
                sql = f"SELECT {expr}, {cents}, count(*), count(DISTINCT ORDERNUMBER) FROM sales{w} GROUP BY 1"
            out[name] = group_rows(con.execute(sql, p).fetchall(), top=10 if name == "top_customers" else 0,
                                   time_key=name in ("by_year", "by_month"))
        return out

    def grouping_sets(f=None):  # one query for every group
        w, p = where(f)
        sql = f"""SELECT PRODUCTLINE, STATUS, DEALSIZE, COUNTRY, TERRITORY, CUSTOMERNAME, y, m,
                    GROUPING(PRODUCTLINE, STATUS, DEALSIZE, COUNTRY, TERRITORY, CUSTOMERNAME, y, m) AS g,
                    {cents}, count(*), count(DISTINCT ORDERNUMBER), count(DISTINCT CUSTOMERNAME), sum(QUANTITYORDERED)
                  FROM (SELECT *, year(ORDERDATE) AS y, date_trunc('month', ORDERDATE) AS m FROM sales{w})
                  GROUP BY GROUPING SETS ((PRODUCTLINE), (STATUS), (DEALSIZE), (COUNTRY), (TERRITORY), (CUSTOMERNAME),
                                          (y), (m), ())"""
        res = con.execute(sql, p).fetchall()
        names = ["by_productline", "by_status", "by_dealsize", "by_country", "by_territory", "top_customers",
                 "by_year", "by_month"]
        groups = {n: [] for n in names}
        out = {"rows": 0, "orders": 0, "customers": 0, "quantity": 0, "sales_cents": 0}
        for row in res:
            g = row[8]
            s, r, o = row[9], row[10], row[11]
            if g == 0xFF:  # the grand total
                out.update(rows=r, orders=o, customers=row[12], quantity=row[13] or 0, sales_cents=s or 0)
                continue
            i = [b for b in range(8) if not (g >> (7 - b)) & 1][0]
            key = row[i]
            if names[i] == "by_month":
                key = key.strftime("%Y-%m")
            groups[names[i]].append((key, s, r, o))
        for n in names:
            out[n] = group_rows(groups[n], top=10 if n == "top_customers" else 0, time_key=n in ("by_year", "by_month"))
        return out

    first_a = per_group()
    check("duckdb (one query per group)", first_a, want)
    first_b = grouping_sets()
    check("duckdb (GROUPING SETS)", first_b, want)
    warm_a = timed_reps(per_group, reps)
    warm_b = timed_reps(grouping_sets, reps)
    best, form = (warm_a, "one query per group") if statistics.median(warm_a) <= statistics.median(warm_b) \
        else (warm_b, "GROUPING SETS")
    dims = {c: [r[0] for r in con.execute(f"SELECT DISTINCT {c} FROM sales ORDER BY 1").fetchall()]
            for c in ("PRODUCTLINE", "COUNTRY", "DEALSIZE")}
    lo, hi = con.execute("SELECT min(ORDERDATE), max(ORDERDATE) FROM sales").fetchone()
    fl = random_filters(nfilters, dims["PRODUCTLINE"], (lo - START).days, (hi - START).days, dims["COUNTRY"],
                        dims["DEALSIZE"])
    fn = per_group if form == "one query per group" else grouping_sets
    fms = []
    for f in fl:
        t = now()
        fn(f)
        fms.append((now() - t) * 1000)
    return {"engine": "duckdb", "version": duckdb.__version__, "rows": rows, "cold_s": cold,
            "warm_ms": stats(best), "warm_form": form, "warm_ms_per_group": stats(warm_a),
            "warm_ms_grouping_sets": stats(warm_b), "filter_ms": stats(fms),
            "threads": con.execute("SELECT current_setting('threads')").fetchone()[0],
            "peak_rss_mb": peak_rss_mb(), "sales_cents": first_a["sales_cents"]}


# --- pandas -------------------------------------------------------------------------------------

def pandas_prep(df, category):
    import numpy as np
    df["CENTS"] = (df["SALES"].astype("float64") * 100).round().astype(np.int64)
    d = df["ORDERDATE"].dt
    df["YEAR"] = d.year
    df["MONTH"] = d.year * 100 + d.month
    if category:
        for c in ("PRODUCTLINE", "STATUS", "DEALSIZE", "COUNTRY", "TERRITORY", "CUSTOMERNAME"):
            df[c] = df[c].astype("category")
    return df


def pandas_summary(df):
    """The reference dashboard's group-bys, with the engine's exact semantics."""
    out = {"rows": int(len(df)), "orders": int(df["ORDERNUMBER"].nunique()),
           "customers": int(df["CUSTOMERNAME"].nunique()), "quantity": int(df["QUANTITYORDERED"].sum()),
           "sales_cents": int(df["CENTS"].sum())}

    def by(col):
        g = df.groupby(col, sort=False, observed=True).agg(s=("CENTS", "sum"), r=("CENTS", "size"),
                                                           o=("ORDERNUMBER", "nunique"))
        return [(k, s, r, o) for k, s, r, o in zip(g.index, g["s"], g["r"], g["o"])]

    for name, col in DIMS:
        out[name] = group_rows(by(col))
    out["by_year"] = group_rows(by("YEAR"), time_key=True)
    out["by_month"] = group_rows([(f"{k // 100}-{k % 100:02d}", s, r, o) for k, s, r, o in by("MONTH")],
                                 time_key=True)
    # Top 10 customers (nlargest on revenue, as the dashboard does), ties by name.
    out["top_customers"] = group_rows(by("CUSTOMERNAME"), top=10)
    return out


def pandas_filter(df, f):
    import pandas as pd
    m = (df["PRODUCTLINE"] == f["productline"]) & \
        df["ORDERDATE"].between(pd.Timestamp(day(f["from"])), pd.Timestamp(day(f["to"])))
    if "country" in f:
        m &= df["COUNTRY"] == f["country"]
    if "dealsize" in f:
        m &= df["DEALSIZE"] == f["dealsize"]
    return df[m]


def pandas_filters(df, n):
    lo, hi = df["ORDERDATE"].min().date(), df["ORDERDATE"].max().date()
    u = lambda c: sorted(str(x) for x in df[c].unique())
    return random_filters(n, u("PRODUCTLINE"), (lo - START).days, (hi - START).days, u("COUNTRY"), u("DEALSIZE"))


def run_pandas(ds_dir, want, reps, nfilters, category):
    import pandas as pd
    schema, parts = dataset_files(ds_dir)
    names = [c["name"] for c in schema["columns"]]
    dtypes = {"ORDERNUMBER": "int64", "ORDERLINENUMBER": "int64", "QUANTITYORDERED": "int64",
              "PRICEEACH": "float64", "SALES": "float64"}
    t = now()
    df = pd.concat([pd.read_csv(p, header=None, names=names, usecols=KEEP, dtype=dtypes, na_values=["\\N"],
                                keep_default_na=False, parse_dates=["ORDERDATE"], quotechar='"') for p in parts],
                   ignore_index=True)
    cold = now() - t
    df["TERRITORY"] = df["TERRITORY"].fillna("")
    t = now()
    df = pandas_prep(df, category)
    prep = now() - t
    engine = "pandas (category dtypes)" if category else "pandas"
    check(engine, pandas_summary(df), want)
    warm = timed_reps(lambda: pandas_summary(df), reps)
    fms = []
    for f in pandas_filters(df, nfilters):
        t = now()
        pandas_summary(pandas_filter(df, f))
        fms.append((now() - t) * 1000)
    return {"engine": engine, "version": pd.__version__, "rows": int(len(df)), "cold_s": cold, "prep_s": prep,
            "warm_ms": stats(warm), "filter_ms": stats(fms), "peak_rss_mb": peak_rss_mb(),
            "sales_cents": int(df["CENTS"].sum())}


# --- SQLite -------------------------------------------------------------------------------------

def run_sqlite(db, want, reps, nfilters):
    import sqlite3
    cents = "sum(CAST(round(SALES * 100) AS INTEGER))"

    def summary(con, f=None):
        w, p = "", []
        if f:
            w = " WHERE PRODUCTLINE = ? AND substr(ORDERDATE, 1, 10) BETWEEN ? AND ?"
            p = [f["productline"], day(f["from"]).isoformat(), day(f["to"]).isoformat()]
            for k, col in (("country", "COUNTRY"), ("dealsize", "DEALSIZE")):
                if k in f:
                    w += f" AND {col} = ?"
                    p.append(f[k])
        r, o, cu, q, s = con.execute(f"SELECT count(*), count(DISTINCT ORDERNUMBER), count(DISTINCT CUSTOMERNAME), "
                                     f"coalesce(sum(QUANTITYORDERED), 0), coalesce({cents}, 0) FROM sales{w}", p).fetchone()
        out = {"rows": r, "orders": o, "customers": cu, "quantity": q, "sales_cents": s}
        keyed = [(n, c) for n, c in DIMS] + [("by_year", "substr(ORDERDATE, 1, 4)"),
                                              ("by_month", "substr(ORDERDATE, 1, 7)"), ("top_customers", "CUSTOMERNAME")]
        for name, expr in keyed:
            if name == "by_territory":
                expr = "coalesce(TERRITORY, '')"
            sql = f"SELECT {expr}, {cents}, count(*), count(DISTINCT ORDERNUMBER) FROM sales{w} GROUP BY 1"
            if name == "top_customers":
                sql += " ORDER BY 2 DESC, 1 LIMIT 10"
            out[name] = group_rows(con.execute(sql, p).fetchall(), top=10 if name == "top_customers" else 0,
                                   time_key=name in ("by_year", "by_month"))
        return out

    t = now()
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    first = summary(con)
    cold = now() - t
    check("sqlite", first, want)
    warm = timed_reps(lambda: summary(con), reps)
    u = lambda c: [r[0] for r in con.execute(f"SELECT DISTINCT {c} FROM sales ORDER BY 1")]
    lo, hi = con.execute("SELECT min(substr(ORDERDATE, 1, 10)), max(substr(ORDERDATE, 1, 10)) FROM sales").fetchone()
    lo, hi = datetime.date.fromisoformat(lo), datetime.date.fromisoformat(hi)
    fms = []
    for f in random_filters(nfilters, u("PRODUCTLINE"), (lo - START).days, (hi - START).days, u("COUNTRY"),
                            u("DEALSIZE")):
        t = now()
        summary(con, f)
        fms.append((now() - t) * 1000)
    return {"engine": "sqlite", "version": sqlite3.sqlite_version, "rows": first["rows"], "cold_s": cold,
            "warm_ms": stats(warm), "filter_ms": stats(fms), "peak_rss_mb": peak_rss_mb(),
            "sales_cents": first["sales_cents"]}


# --- The reference stack: SELECT * through pymysql into pandas, per refresh -------------------------

def run_reference(uri, want, reps):
    import warnings
    from urllib.parse import urlparse
    import pandas as pd
    import pymysql
    warnings.filterwarnings("ignore", message=".*SQLAlchemy.*")  # read_sql on a DBAPI connection, as the reference does
    u = urlparse(uri)

    def refresh():
        t0 = now()
        con = pymysql.connect(host=u.hostname, port=u.port or 3306, user=u.username or "root",
                              password=u.password or "", database=u.path.lstrip("/"))
        df = pd.read_sql("SELECT * FROM sales", con)
        con.close()
        t1 = now()
        df["TERRITORY"] = df["TERRITORY"].fillna("")
        df["ORDERDATE"] = pd.to_datetime(df["ORDERDATE"])
        df = pandas_prep(df, False)
        s = pandas_summary(df)
        t2 = now()
        return s, (t1 - t0) * 1000, (t2 - t1) * 1000

    total, read, group = [], [], []
    for i in range(reps):
        t = now()
        s, r, g = refresh()
        total.append((now() - t) * 1000)
        read.append(r)
        group.append(g)
        if i == 0:
            check("reference (pymysql + pandas)", s, want)
        print(f"peers: reference refresh {i + 1}: {total[-1] / 1000:.2f} s (read_sql {r / 1000:.2f} s, "
              f"group-bys {g / 1000:.2f} s)", file=sys.stderr)
    return {"engine": "reference", "rows": s["rows"], "refresh_ms": stats(total), "read_sql_ms": stats(read),
            "groupby_ms": stats(group), "peak_rss_mb": peak_rss_mb(), "sales_cents": s["sales_cents"]}


# --- Report -------------------------------------------------------------------------------------

def load_results(d):
    """RESULTS_DIR/<rows>/*.json -> {rows: {engine: result}}"""
    out = {}
    for sub in sorted(os.listdir(d), key=lambda s: int(s) if s.isdigit() else 0):
        p = os.path.join(d, sub)
        if not (sub.isdigit() and os.path.isdir(p)):
            continue
        for f in sorted(os.listdir(p)):
            if f.endswith(".json") and f != "comptoir-summary.json":
                with open(os.path.join(p, f)) as fh:
                    r = json.load(fh)
                out.setdefault(int(sub), {})[r["engine"]] = r
    return out


def fmt_ms(x):
    return f"{x:,.1f}" if x < 100 else f"{x:,.0f}"


def report(d):
    res = load_results(d)
    print("| rows | engine | cold load (s) | warm summary median (ms) | warm min (ms) | filter change median (ms) "
          "| filter p95/max (ms) | peak RSS (MB) |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    order = ["comptoir", "duckdb", "pandas", "pandas (category dtypes)", "sqlite"]
    for n, engines in res.items():
        for e in order:
            r = engines.get(e)
            if not r:
                continue
            name = e
            if e == "duckdb":
                name = f"DuckDB {r.get('version', '')} ({r.get('warm_form', '')})"
            elif e.startswith("pandas"):
                name = f"{e} {r.get('version', '')}"
            elif e == "sqlite":
                name = f"SQLite {r.get('version', '')} (cold = first summary after open)"
            cold = f"{r['cold_s']:.2f}"
            if "prep_s" in r:
                cold += f" (+{r['prep_s']:.2f} prep)"
            fm = r.get("filter_ms", {})
            fcol = fmt_ms(fm["median"]) if fm.get("n") else "-"
            fmax = f"{fmt_ms(fm.get('p95', fm.get('max', 0)))} / {fmt_ms(fm['max'])}" if fm.get("n") else "-"
            print(f"| {n:,} | {name} | {cold} | {fmt_ms(r['warm_ms']['median'])} | {fmt_ms(r['warm_ms']['min'])} "
                  f"| {fcol} | {fmax} | {r['peak_rss_mb']:,.0f} |")
    print()
    print("Ratios (peer time / comptoir time; above 1 means comptoir is faster):")
    print()
    print("| rows | vs | warm summary | cold load | filter change |")
    print("|---:|---|---:|---:|---:|")
    for n, engines in res.items():
        c = engines.get("comptoir")
        if not c:
            continue
        for e in order[1:]:
            r = engines.get(e)
            if not r:
                continue
            w = r["warm_ms"]["median"] / c["warm_ms"]["median"]
            cl = r["cold_s"] / c["cold_s"]
            fr = (r["filter_ms"]["median"] / c["filter_ms"]["median"]) if r.get("filter_ms", {}).get("n") else None
            print(f"| {n:,} | {e} | {w:,.1f}x | {cl:,.1f}x | {'-' if fr is None else f'{fr:,.1f}x'} |")
    ref = None
    for n, engines in res.items():
        if "reference" in engines and "comptoir" in engines:
            ref = (n, engines["reference"], engines["comptoir"])
    if ref:
        n, r, c = ref
        print()
        print(f"Reference approach end to end at {n:,} rows (`SELECT *` through pymysql into pandas + the group-bys, "
              f"per refresh): median {r['refresh_ms']['median'] / 1000:.2f} s (read_sql "
              f"{r['read_sql_ms']['median'] / 1000:.2f} s, group-bys {r['groupby_ms']['median'] / 1000:.2f} s), "
              f"peak RSS {r['peak_rss_mb']:,.0f} MB; comptoir: warm summary {fmt_ms(c['warm_ms']['median'])} ms "
              f"({r['refresh_ms']['median'] / c['warm_ms']['median']:,.0f}x), a full reload from the lake + summary "
              f"{c['cold_s'] + c['warm_ms']['median'] / 1000:.2f} s "
              f"({r['refresh_ms']['median'] / 1000 / (c['cold_s'] + c['warm_ms']['median'] / 1000):,.1f}x).")
    # Targets, at the largest size measured.
    print()
    big = max(res) if res else 0
    e = res.get(big, {})
    c = e.get("comptoir")
    if not c:
        return
    print(f"Targets (at {big:,} rows):")

    def line(ok, text):
        print(f"- [{'met' if ok else 'NOT MET'}] {text}")

    if "duckdb" in e:
        r = c["warm_ms"]["median"] / e["duckdb"]["warm_ms"]["median"]
        line(r <= 1.0, f"warm summary no slower than DuckDB: comptoir/DuckDB = {r:.2f} (target <= 1.0)")
    if "pandas" in e:
        r = e["pandas"]["warm_ms"]["median"] / c["warm_ms"]["median"]
        line(r >= 50, f"warm summary >= 50x faster than pandas: {r:,.1f}x")
        r = e["pandas"]["cold_s"] / c["cold_s"]
        line(r >= 5, f"cold load >= 5x faster than pandas read_csv: {r:.1f}x")
    f = c["filter_ms"]["median"]
    line(f <= 50, f"filter change -> new numbers <= 50 ms: median {f:.1f} ms, p95 {c['filter_ms']['p95']:.1f} ms, "
                  f"max {c['filter_ms']['max']:.1f} ms over {c['filter_ms']['n']} different filters")


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    cmd = sys.argv[1]
    if cmd == "report":
        report(sys.argv[2])
        return
    args = sys.argv[4:]
    reps = int(args[args.index("--reps") + 1]) if "--reps" in args else 3
    nfilters = int(args[args.index("--filters") + 1]) if "--filters" in args else 5
    with open(sys.argv[3]) as f:
        want = json.load(f)
    if cmd == "duckdb":
        r = run_duckdb(sys.argv[2], want, reps, nfilters)
    elif cmd == "pandas":
        r = run_pandas(sys.argv[2], want, reps, nfilters, "--category" in args)
    elif cmd == "sqlite":
        r = run_sqlite(sys.argv[2], want, reps, nfilters)
    elif cmd == "reference":
        r = run_reference(sys.argv[2], want, reps)
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    print(json.dumps(r))


if __name__ == "__main__":
    main()
