"""The tariffs shipped with the service: one JSON file per département and year
(``49-2027.json``), and ``reference.json``, the national default for the others."""
