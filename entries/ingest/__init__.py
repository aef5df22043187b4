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
* ``progress``: the rows read, written where the upload page can poll them while the file loads.
* ``summary``: what the upload's page says about the load (its warnings and summary).
* ``cli``: files from the server's disk, synchronously (``ingest_es003``, ``classify_es003``, the demo).

The flow: ``upload_create`` stores the file and enqueues ``entries.tasks.process_upload`` on commit; the
task calls ``service.upload_process``, which claims the row (conditional UPDATE pending→running) and ingests it:

* PostgreSQL: ONE transaction for the whole file. Every entry not yet stored gets its row id from the
  ``entries_entry`` id sequence as soon as the parser meets it (``staging.EntryIds``), and its lines are COPYed
  straight into ``entries_tariffline`` (the one write of a new line; there is no FK constraint there, see the
  model); lines of entries already stored are COPYed into a staging table. Then the entries are staged and,
  under the organisation's merge lock (one merge per organisation at a time), new ones inserted with
  their reserved ids, the rest merged with INSERT … ON CONFLICT, lines of held-back
  entries deleted, cached duty sums recomputed. Progress (and id reservation, which is not
  transactional anyway) goes through a second connection, so the page can poll while the file loads.
* SQLite: the lines are staged with executemany in short transactions that record progress, then
  merged in one transaction with the same set-based SQL.

Either way an entry's row and all its lines become visible together, at commit, and an entry with any
bad row is never stored at all.

CSV files are read by the vectorised path (``fast``, whole columns at a time) when they fit it (``fast_csv``,
the default), and row by row (``Es003Parser.feed``) otherwise; a file found not to fit while it is read is rolled
back and read again row by row. Both give the same entries, lines, errors, warnings and summary.
"""
