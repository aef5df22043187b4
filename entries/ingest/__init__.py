"""ES-003 ingestion (issue #21 item 4): a report file in, entries and tariff lines out.

One module per job, each usable on its own:

* ``intake``: a file in: checked, stored, its processing queued (the web page, the API, the command line).
* ``importers``: which importers of record the organisation may load rows for.
* ``source``: opening the file (CSV or XLSX), its limits, the header row and the layout of its columns.
* ``repairs``: the public kernel of cell repairs (entry numbers, money, dates, HTS, IR numbers, codes); both
  the row path and the fast path call these, so the two never disagree.
* ``parser``: the row path (``Es003Parser``): rows in, entries, lines, errors and warnings out.
* ``fast``: the vectorised CSV path, whole columns at a time (pyarrow), falling back to the row path.
* ``staging``: the staging tables and the set-based merge into the shared entries (SQL).
* ``service``: an upload from its claim to its summary (claim, load, merge, record).
* ``summary``: what the upload's page says about the load (its warnings and summary).
* ``cli``: files from the server's disk, synchronously (``ingest_es003``, ``classify_es003``, the demo).
"""
