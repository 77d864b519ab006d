"""The web dashboard: server-rendered pages to list, preview, download and delete recordings."""
