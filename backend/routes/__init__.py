"""HTTP routes, one module per concern; `app.py` assembles them into one table."""
