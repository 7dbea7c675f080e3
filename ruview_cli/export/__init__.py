"""Vitals over time as rows (one per vitals packet), and the CSV / Parquet files that hold them."""
