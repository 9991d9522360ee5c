"""The Worker's core: plain, typed Python that runs on Pyodide (Workers) and CPython alike.

Nothing here imports `workers`, `js` or `pyodide`; the runtime adapters hand in a D1-shaped
database, a clock and an Ed25519 verifier.
"""
