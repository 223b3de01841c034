"""The sales view of a Comptoir sales dataset, built by Spark (`comptoir views build --engine spark`).

    spark-submit --py-files comptoir_lake.py sales_views.py SOURCE_URI OUTPUT_URI

Reads the dataset at SOURCE_URI (file:// or hdfs://, text or Avro parts, through its _schema.json)
and writes the view's records to OUTPUT_URI as headerless RFC 4180 CSV parts. `comptoir` moves the
parts into the view's publication and writes its _schema.json, _view.json and _SUCCESS. The last
line on stdout is `COMPTOIR_VIEW {json}` with the counts the manifest records.

The records are those of the embedded engine (src/analytics/sales_view.cc, docs/views.md), value for
value: cube records (lines, quantity and sales per date, status, customer, country, territory,
product line and deal size) and order-set records (how many orders have the same date, status,
customer, country, territory and set of (product line, deal size) cells, CELLS being the sorted
pairs as JSON). An order whose lines disagree on one of those columns gets order-set records of
its own, with its ORDERNUMBER. NULL strings count as "", NULL numbers as 0, as in the embedded engine.
"""
import json
import sys

from pyspark.sql import SparkSession
from pyspark.sql import Window
from pyspark.sql import functions as F

from comptoir_lake import read_dataset, result_line

ATTRS = ["ORDERDATE", "STATUS", "CUSTOMERNAME", "COUNTRY", "TERRITORY"]
CELL = ["PRODUCTLINE", "DEALSIZE"]


def main(source, output):
    spark = SparkSession.builder.appName("comptoir-views-sales").getOrCreate()
    raw = read_dataset(spark, source)
    missing = [c for c in ["ORDERNUMBER", "ORDERDATE", "SALES"] if c not in raw.columns]
    if missing:
        raise SystemExit(f"COMPTOIR_ERROR {source}: the dataset has no {', '.join(missing)} column")
    text = lambda c: F.coalesce(F.col(c).cast("string"), F.lit("")) if c in raw.columns else F.lit("")
    rows = raw.select(
        F.coalesce(F.col("ORDERNUMBER").cast("long"), F.lit(0)).alias("ORDERNUMBER"),
        F.to_date(F.col("ORDERDATE")).alias("ORDERDATE"),
        *[text(c).alias(c) for c in ATTRS[1:] + CELL],
        F.coalesce(F.col("QUANTITYORDERED").cast("long"), F.lit(0)).alias("QTY")
        if "QUANTITYORDERED" in raw.columns else F.lit(0).cast("long").alias("QTY"),
        F.coalesce(F.col("SALES").cast("decimal(38,2)"), F.lit(0).cast("decimal(38,2)")).alias("AMOUNT"),
    )
    # Order cells.
    cells = rows.groupBy("ORDERNUMBER", *ATTRS, *CELL).agg(
        F.count(F.lit(1)).alias("LINES"), F.sum("QTY").alias("QUANTITY"),
        F.sum("AMOUNT").cast("decimal(38,2)").alias("SALES")).cache()
    none = lambda t: F.lit(None).cast(t)
    cube = (cells.groupBy(*ATTRS, *CELL)
            .agg(F.sum("LINES").alias("LINES"), F.sum("QUANTITY").alias("QUANTITY"),
                 F.sum("SALES").cast("decimal(38,2)").alias("SALES"))
            .select(*ATTRS, *CELL, none("string").alias("CELLS"), none("long").alias("ORDERNUMBER"),
                    F.lit(0).cast("long").alias("ORDERS"), "LINES", "QUANTITY", "SALES"))
    # Each order's cells per set of order-level values; an order with more than one such set is kept apart.
    by_order = Window.partitionBy("ORDERNUMBER")
    orders = (cells.groupBy("ORDERNUMBER", *ATTRS)
              .agg(F.to_json(F.array_sort(F.collect_list(F.array(*CELL)))).alias("CELLS"))
              .withColumn("SETS", F.count(F.lit(1)).over(by_order))
              .cache())
    sets = (orders.withColumn("APART", F.when(F.col("SETS") > 1, F.col("ORDERNUMBER")))
            .groupBy(*ATTRS, "CELLS", "APART").agg(F.count(F.lit(1)).alias("ORDERS"))
            .select(*ATTRS, none("string").alias("PRODUCTLINE"), none("string").alias("DEALSIZE"), "CELLS",
                    F.col("APART").alias("ORDERNUMBER"), F.col("ORDERS").cast("long"),
                    F.lit(0).cast("long").alias("LINES"), F.lit(0).cast("long").alias("QUANTITY"),
                    F.lit(0).cast("decimal(38,2)").alias("SALES")))
    view = cube.unionByName(sets).cache()
    parts = max(1, spark.sparkContext.defaultParallelism)
    (view.repartition(parts)
         .sortWithinPartitions(*ATTRS, *CELL, "CELLS", "ORDERNUMBER")
         .write.mode("error")
         .options(sep=",", quote='"', escape='"', header="false", nullValue="\\N", emptyValue='""',
                  ignoreLeadingWhiteSpace="false", ignoreTrailingWhiteSpace="false", dateFormat="yyyy-MM-dd",
                  encoding="UTF-8", lineSep="\n")
         .csv(output))
    stats = view.agg(F.count(F.lit(1)).alias("records"), F.sum("LINES").alias("source_rows"),
                     F.count("CELLS").alias("groups")).collect()[0]
    counts = orders.agg(F.countDistinct("ORDERNUMBER").alias("orders"),
                        F.countDistinct(F.when(F.col("SETS") > 1, F.col("ORDERNUMBER"))).alias("split_orders")).collect()[0]
    out = {"records": stats["records"], "source_rows": int(stats["source_rows"] or 0), "orders": counts["orders"],
           "split_orders": counts["split_orders"], "groups": stats["groups"],
           "application": spark.sparkContext.applicationId}
    result_line(out)
    spark.stop()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: sales_views.py SOURCE_URI OUTPUT_URI")
    main(sys.argv[1], sys.argv[2])
