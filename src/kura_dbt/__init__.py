"""Kura for the warehouse: the Python library behind the `kura` dbt package."""

__version__ = "0.1.0"
