"""The collector console at /ui: server-rendered pages for stewards, auditors, ML engineers and
contributors, signed in with one-time links and answering through the same store methods and
role checks as the HTTP API."""
