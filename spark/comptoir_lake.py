"""Reads a Comptoir lake dataset in Spark exactly as its _schema.json describes it.

    from comptoir_lake import read_dataset
    df = read_dataset(spark, "hdfs://namenode:8020/user/sqoop/sales")   # or file:///srv/lake/...

Text parts (RFC 4180) are read with Spark's CSV source and the dataset's own column types;
Avro parts with spark-avro (--packages org.apache.spark:spark-avro_2.13:<spark version>).
Names starting with `_` or `.` (`_SUCCESS`, `_schema.json`, `_rejects/`, `_temporary/`)
are skipped by Spark's file listing, as by every lake reader. docs/lake.md explains each
option.
"""
import json
import sys

from pyspark.sql import types as T


def result_line(counts):
    """Prints `COMPTOIR_VIEW {json}`, the line `comptoir` reads the job's counts from, in one
    write: the JVM's log lines share the stream and must not land inside it."""
    sys.stdout.write("COMPTOIR_VIEW " + json.dumps(counts) + "\n")
    sys.stdout.flush()


def read_schema(spark, path):
    """The dataset's _schema.json (parsed), read through Hadoop's FileSystem API, which
    reads explicitly named hidden files (Spark's sources would filter the name out)."""
    jvm = spark.sparkContext._jvm
    p = jvm.org.apache.hadoop.fs.Path(path.rstrip("/") + "/_schema.json")
    fs = p.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    stream = fs.open(p)
    try:
        return json.loads(jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8"))
    finally:
        stream.close()


def spark_type(column):
    """The Spark SQL type of one _schema.json column."""
    t = column["type"]
    if t == "integer":
        return T.LongType()
    if t == "decimal":
        return T.DecimalType(column.get("precision") or 38, column.get("scale", 0))
    if t == "float":
        return T.DoubleType()
    if t == "boolean":
        return T.BooleanType()
    if t == "date":
        return T.DateType()
    if t == "datetime":
        return T.TimestampNTZType()  # a wall-clock reading: the same in every session time zone
    if t == "timestamptz":
        return T.TimestampType()     # an instant
    return T.StringType()            # string, time, json, binary (base64)


def text_options(schema):
    """The CSV options that read the dataset's text parts as Comptoir wrote them."""
    text = schema.get("text", {})
    if text.get("style", "rfc4180") != "rfc4180":
        raise ValueError("only RFC 4180 text datasets are read here (this one uses Sqoop's delimiter flags)")
    return {
        "sep": text.get("fields_terminated_by", ","),
        "quote": '"',
        "escape": '"',                  # RFC 4180: "" inside a quoted field
        "header": "false",
        "multiLine": "true",            # quoted fields may hold line breaks
        "nullValue": text.get("null_string", "\\N"),
        "emptyValue": "",               # "" is the empty string, not NULL
        "mode": "FAILFAST",             # a malformed record is an error, never a guess
        "timestampNTZFormat": "yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]",
        "timestampFormat": "yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]XXX",
        "dateFormat": "yyyy-MM-dd",
        "encoding": "UTF-8",
    }


def read_dataset(spark, path):
    """A DataFrame of the dataset at `path` (a directory URI Spark can read)."""
    schema = read_schema(spark, path)
    if schema.get("format") == "avro":
        return spark.read.format("avro").load(path)
    struct = T.StructType([T.StructField(c["name"], spark_type(c), c.get("nullable", True)) for c in schema["columns"]])
    return spark.read.options(**text_options(schema)).schema(struct).csv(path)
